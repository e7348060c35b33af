"""The real dosing-room window on a real Workstation, a temporary SQLite database and the
simulated monitor, offscreen."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
import pytest
from dosing_helpers import complete_predose, sign_in_nurse, start_session
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.database import Database
from katmonitor.storage.store import SessionStore
from ui.dialogs import StartSessionDialog
from ui.dose_dialogs import SprayDoseDialog
from ui.main_window import TRAINING_TEXT, MainWindow
from ui.pleth_view import SWEEP_S

MakeWindow = Callable[..., MainWindow]


def test_live_numerics_and_pleth_appear(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window()
    assert window.timer.isActive() and window.timer_interval_ms <= 40
    hr = window.tiles[VitalKind.HR]
    qtbot.waitUntil(lambda: hr.state == "current", timeout=5_000)
    assert hr.value_text().isdigit()
    assert window.tiles[VitalKind.SPO2].value_text().isdigit()
    qtbot.waitUntil(lambda: not window.pleth.stale, timeout=3_000)
    qtbot.waitUntil(lambda: window.pleth.curve.getData()[0] is not None
                    and len(window.pleth.curve.getData()[0]) > 50, timeout=3_000)
    x, _ = window.pleth.curve.getData()
    finite = x[np.isfinite(x)]
    assert finite.min() >= 0.0 and finite.max() <= SWEEP_S
    assert not window.pleth.no_signal.isVisible()
    # The first NIBP reading comes ~3 s after the monitor connects.
    qtbot.waitUntil(lambda: window.nibp_tile.state == "current", timeout=6_000)
    assert "sim: connected" in window.device_label.text()
    assert window.database_label.text().startswith("Database: sqlite:")


def test_training_banner_with_a_simulated_monitor(make_window: MakeWindow) -> None:
    window = make_window()
    assert window.workstation.training
    assert window.training_banner.isVisible()
    assert window.training_banner.text() == TRAINING_TEXT


def test_no_training_banner_without_simulated_devices(make_window: MakeWindow) -> None:
    window = make_window([])
    assert not window.training_banner.isVisible()


def wait_for_the_gate(qtbot: QtBot, window: MainWindow) -> None:
    """The simulated monitor's first blood pressure comes a few seconds after it connects."""
    qtbot.waitUntil(lambda: window.workstation.workflow.gate().passed, timeout=8_000)


def test_session_dose_and_assessment_are_recorded_and_marked_on_every_trend(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    window = make_window()
    panel = window.session_panel
    assert not panel.dose_action.isEnabled(), "no dose without a running session"
    assert panel.start_action.isEnabled()

    ws = window.workstation
    sign_in_nurse(ws)
    start_session(window)
    assert ws.recording
    assert panel.dose_action.isEnabled() and not panel.start_action.isEnabled()
    assert "Client C-1042" in panel.header_text() and "● REC" in panel.header_text()
    complete_predose(ws)
    wait_for_the_gate(qtbot, window)

    dose_dialog = panel.add_dose()
    assert isinstance(dose_dialog, SprayDoseDialog), "intranasal: one spray device per entry"
    dose_dialog.lot_edit.setText("LOT-7")
    dose_dialog.given_by_edit.setText("RN Ada")
    dose_dialog.accept()
    assert dose_dialog.error() == ""
    dose = dose_dialog.dose
    assert dose is not None

    obs_dialog = panel.add_observation()
    obs_dialog.text_edit.setPlainText("Relaxed, eyes closed.\nResponds to voice.")
    obs_dialog.set_moaas(5)
    obs_dialog.accept()
    assert obs_dialog.error() == ""
    observation = obs_dialog.observation
    assert observation is not None

    window.refresh()
    session = ws.session
    assert session is not None
    markers = window.trends.marker_lines()
    for plot in ("hr", "nibp", "spo2"):
        assert (plot, "Start", session.started_at) in markers
        assert (plot, "Dose 28 mg ×1", dose.time) in markers
        assert (plot, "Obs", observation.time) in markers
    assert "Since first dose" in panel.header_text()

    store = SessionStore(database)
    stored = store.get_session(session.id)
    assert (stored.client_id, stored.medicine, stored.route) == (
        "C-1042", "Esketamine", Route.INTRANASAL)
    assert stored.status is SessionStatus.ACTIVE and stored.training
    [stored_dose] = store.doses(session.id)
    assert (stored_dose.dose_mg, stored_dose.unit_count, stored_dose.lot,
            stored_dose.given_by) == (28.0, 1, "LOT-7", "RN Ada")
    assert abs(stored_dose.time - dose.time) < 0.002
    [stored_obs] = store.observations(session.id)
    assert stored_obs.text == "Relaxed, eyes closed.\nResponds to voice."
    assert stored_obs.assessment.moaas == 5 and stored_obs.author == "rn.lee (test)"

    # The next dose dialog remembers who gave the last one.
    again = panel.add_dose()
    assert again.given_by_edit.text() == "RN Ada"
    again.reject()


def test_dialog_shows_the_cores_refusal_and_records_nothing(
        make_window: MakeWindow, database: Database) -> None:
    window = make_window()
    panel = window.session_panel

    empty_client = panel.start_session()
    empty_client.accept()
    assert empty_client.isVisible(), "the dialog stays open to correct the entry"
    assert empty_client.error() == "a client identifier is required to start a session"
    assert window.workstation.session is None
    empty_client.reject()

    start_session(window)
    dialog = panel.add_dose()
    dialog.lot_edit.setText("LOT-7")
    dialog.accept()
    assert dialog.isVisible()
    assert dialog.error() == "sign in as a nurse to give a dose"
    sign_in_nurse(window.workstation)
    dialog.lot_edit.clear()
    dialog.accept()
    assert dialog.error() == "record the lot number"
    dialog.lot_edit.setText("LOT-7")
    dialog.accept()
    assert dialog.error().startswith("the dose cannot be given yet: check the client's identity")
    assert dialog.override_dialog is None, "missing pre-dose steps cannot be overridden"
    session = window.workstation.session
    assert session is not None
    assert SessionStore(database).doses(session.id) == []
    assert window.workstation.timeline() == []
    dialog.reject()


def test_keyboard_opens_dialogs_and_switches_trend_range(qtbot: QtBot,
                                                         make_window: MakeWindow) -> None:
    window = make_window([], clock=ManualClock())
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    now = window.workstation.clock.now()
    trends = window.trends

    for key, name, span in ((Qt.Key.Key_2, "2h", 7200.0), (Qt.Key.Key_3, "session", None),
                            (Qt.Key.Key_1, "30min", 1800.0)):
        qtbot.keyClick(window, key)
        assert trends.range_name == name
        assert trends.range_actions[name].isChecked()
        window.refresh()
        x0, x1 = trends.view_x_range()
        if span is not None:
            assert abs(x0 - (now - span)) < 1.0 and now <= x1 <= now + 0.02 * span

    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(StartSessionDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.reject()


def test_nibp_is_drawn_as_discrete_measurements(make_window: MakeWindow) -> None:
    clock = ManualClock()
    window = make_window([], clock=clock)
    pipeline = window.workstation.pipeline
    times = [clock.now() - 600.0 + 180.0 * i for i in range(4)]
    for i, t in enumerate(times):
        for kind, value in ((VitalKind.NIBP_SYSTOLIC, 120.0 + i),
                            (VitalKind.NIBP_DIASTOLIC, 80.0 - i), (VitalKind.NIBP_MEAN, 93.0)):
            pipeline.on_sample(Sample(t, "test", kind, value))
    window.trends.refresh(clock.now(), force=True)

    plot = window.trends.plots["nibp"]
    lines = [item for item in plot.items
             if isinstance(item, pg.PlotDataItem | pg.PlotCurveItem)]
    assert lines == [], "NIBP is never a connected line"
    scatter = [item for item in plot.items if isinstance(item, pg.ScatterPlotItem)]
    systolic = window.trends.nibp_systolic
    assert systolic in scatter and window.trends.nibp_diastolic in scatter
    x, y = systolic.getData()
    assert x.tolist() == times and y.tolist() == [120.0, 121.0, 122.0, 123.0]
    bars = window.trends.nibp_bars
    assert bars in plot.items and isinstance(bars, pg.ErrorBarItem)
    assert bars.opts["x"].tolist() == times
    assert (bars.opts["y"] + bars.opts["top"]).tolist() == [120.0, 121.0, 122.0, 123.0]


def test_pleth_goes_flat_with_no_pleth_when_the_feed_stops(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    clock = ManualClock(time.time())
    window = make_window(clock=clock)
    hr = window.tiles[VitalKind.HR]
    qtbot.waitUntil(lambda: hr.state == "current" and not window.pleth.stale, timeout=5_000)

    window.workstation.devices[0].stop()  # the cable is out
    clock.set(time.time() + 11.0)
    window.refresh()
    assert hr.state == "stale"
    assert hr.marker_text().startswith("STALE")
    assert window.pleth.stale
    assert window.pleth.no_signal.isVisible()
    x, _ = window.pleth.curve.getData()
    assert x is None or len(x) == 0, "the last trace is not shown as if live"


def test_closing_while_recording_leaves_the_session_interrupted_and_it_can_be_reopened(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    window = make_window()
    ws = window.workstation
    qtbot.waitUntil(lambda: window.tiles[VitalKind.HR].state == "current", timeout=5_000)
    sign_in_nurse(ws)
    start_session(window)
    complete_predose(ws)
    wait_for_the_gate(qtbot, window)
    ws.add_dose(28.0, 1, "LOT-7", "RN Ada")
    session = ws.session
    assert session is not None
    # The simulated GE monitor sends displayed values every 5 s: wait for a second reading.
    qtbot.waitUntil(lambda: ws.buffers.trend(VitalKind.HR)[0].shape[0] >= 2, timeout=8_000)

    window.close()
    store = SessionStore(database)
    assert store.get_session(session.id).status is SessionStatus.INTERRUPTED
    hr_times, _ = ws.buffers.trend(VitalKind.HR)
    counts = store.sample_counts(session.id)
    assert counts["hr"] == hr_times.shape[0] >= 2, "every HR reading shown was stored"
    assert counts["pleth"] > 100

    second = make_window()
    dialog = second.session_panel.reopen_session()
    dialog.select_session(session.id)
    dialog.accept()
    assert dialog.error() == ""
    ws2 = second.workstation
    assert ws2.recording and ws2.session is not None and ws2.session.id == session.id
    assert store.get_session(session.id).status is SessionStatus.ACTIVE
    second.refresh()
    assert ("hr", "Dose 28 mg ×1") in [(p, label) for p, label, _ in
                                       second.trends.marker_lines()]


def test_end_session_asks_first_then_ends_it(make_window: MakeWindow,
                                             database: Database) -> None:
    window = make_window()
    start_session(window)
    panel = window.session_panel
    session = window.workstation.session
    assert session is not None

    box = panel.end_session()
    box.button(QMessageBox.StandardButton.No).click()
    assert window.workstation.recording, "No keeps the session running"

    box = panel.end_session()
    box.button(QMessageBox.StandardButton.Yes).click()
    assert not window.workstation.recording
    assert SessionStore(database).get_session(session.id).status is SessionStatus.ENDED
    assert panel.start_action.isEnabled() and not panel.dose_action.isEnabled()
    assert "Session ended" in panel.header_text()
    assert "● REC" not in panel.header_text()


def test_reopen_with_nothing_to_reopen_says_so(make_window: MakeWindow) -> None:
    window = make_window([])
    dialog = window.session_panel.reopen_session()
    assert dialog.list.item(0).text() == "No interrupted sessions to reopen."
    dialog.accept()
    assert dialog.error() == "choose a session to reopen"
    dialog.reject()


def test_close_asks_before_leaving_a_recording_session(
        monkeypatch: pytest.MonkeyPatch, make_window: MakeWindow) -> None:
    window = make_window()
    window.confirm_close = True
    start_session(window)
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    asked: list[str] = []

    def question(_parent: object, _title: str, text: str, *_args: object) -> object:
        asked.append(text)
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "question", question)
    window.close()
    assert window.isVisible() and window.workstation.recording
    assert "can be reopened" in asked[0]
    window.close()
    assert not window.isVisible()
    assert not window.workstation.recording
