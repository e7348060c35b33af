"""Alarm annunciation in the real window: a real Workstation on a temporary SQLite database,
no device, a ManualClock; samples go through the pipeline with times from that clock (the
alarm engine is clocked by sample time). Flashing is driven by a fake UI flash clock."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog
from pytestqt.qtbot import QtBot
from vitals_feed import feed

from katmonitor.alarms.model import Priority
from katmonitor.base.clock import ManualClock
from katmonitor.base.vitals import VitalKind
from katmonitor.storage.database import Database
from katmonitor.storage.store import SessionStore
from katmonitor.workstation import Workstation
from ui import theme
from ui.alarm_audio import AlarmAudio
from ui.alarm_bar import flash_lit
from ui.main_window import MainWindow

MakeWindow = Callable[..., MainWindow]


def start_session(window: MainWindow) -> None:
    dialog = window.session_panel.start_session()
    dialog.client_edit.setText("C-1042")
    dialog.medicine_combo.setCurrentText("Esketamine")
    dialog.accept()
    assert dialog.error() == ""


class FlashClock:
    def __init__(self) -> None:
        self.t = 0.1

    def __call__(self) -> float:
        return self.t


def spo2_window(make_window: MakeWindow, **options: Any) -> tuple[MainWindow, FlashClock]:
    flash = FlashClock()
    window = make_window([], clock=ManualClock(), flash_clock=flash, **options)
    return window, flash


def test_flash_rates() -> None:
    high = [flash_lit(Priority.HIGH, i * 0.05) for i in range(20)]  # 1 s
    assert sum(high) == 10 and high[:5] == [True] * 5 and high[5:10] == [False] * 5
    medium = [flash_lit(Priority.MEDIUM, i * 0.1) for i in range(20)]  # 2 s
    assert sum(medium) == 10 and medium[0] and not medium[10]
    assert all(flash_lit(Priority.LOW, i * 0.37) for i in range(20))


def test_spo2_drop_shows_a_flashing_medium_alarm_and_flashing_tile(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window, flash = spo2_window(make_window, audio=False)
    bar = window.alarm_bar
    feed(window, VitalKind.SPO2, [97.0, 88.0])
    feed(window, VitalKind.SPO2, [88.0] * 5)
    window.refresh()
    assert bar.entry_texts() == [], "not before the 10 s condition delay"
    feed(window, VitalKind.SPO2, [88.0] * 6)
    qtbot.waitUntil(lambda: bar.entry_texts() != [], timeout=2_000)
    assert bar.entry_texts() == ["** SpO2 88 % < 90"]
    assert bar.entry_colour(0) == theme.ALARM_MEDIUM
    tile = window.tiles[VitalKind.SPO2]
    # Medium flashes at 0.5 Hz: lit for 1 s, dark for 1 s - follows the UI timer's clock.
    qtbot.waitUntil(lambda: bar.entry_lit(0), timeout=1_000)
    assert tile.flash == (theme.ALARM_MEDIUM, True)
    flash.t = 1.1
    qtbot.waitUntil(lambda: not bar.entry_lit(0), timeout=1_000)  # the next timer tick
    assert tile.flash == (theme.ALARM_MEDIUM, False)
    flash.t = 2.05
    qtbot.waitUntil(lambda: bar.entry_lit(0), timeout=1_000)
    assert window.tiles[VitalKind.HR].flash == (None, False)
    assert bar.audio_text() == "AUDIO ON"


def test_deep_desaturation_is_high_priority_red_2_hz(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window, flash = spo2_window(make_window, audio=False)
    bar = window.alarm_bar
    feed(window, VitalKind.SPO2, [97.0] + [82.0] * 12)
    feed(window, VitalKind.HR, [130.0] * 8)  # a medium HR alarm too, below the SpO2 one
    qtbot.waitUntil(lambda: len(bar.entry_texts()) == 2, timeout=2_000)
    texts = bar.entry_texts()
    assert texts[0].startswith("*** SpO2 82"), texts
    assert texts[1].startswith("** HR 130"), texts
    assert bar.entry_colour(0) == theme.ALARM_HIGH
    flash.t = 0.1
    qtbot.waitUntil(lambda: bar.entry_lit(0), timeout=1_000)
    flash.t = 0.35  # high: dark after 250 ms; the medium HR entry is still lit
    qtbot.waitUntil(lambda: not bar.entry_lit(0), timeout=1_000)
    assert bar.entry_lit(1)
    assert window.tiles[VitalKind.SPO2].flash == (theme.ALARM_HIGH, False)
    assert window.tiles[VitalKind.HR].flash == (theme.ALARM_MEDIUM, True)
    window.grab().save("/tmp/alarm.png")


def test_acknowledge_and_audio_pause_by_keyboard_are_recorded(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    window, _ = spo2_window(make_window, audio=False)
    start_session(window)
    ws = window.workstation
    feed(window, VitalKind.SPO2, [97.0] + [88.0] * 12)
    qtbot.waitUntil(lambda: window.alarm_bar.entry_texts() != [], timeout=2_000)
    assert ws.audio_state().sounding is Priority.MEDIUM

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_F2)
    assert window.alarm_bar.entry_texts() == ["** SpO2 88 % < 90   ACK"]
    assert ws.audio_state().sounding is None
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert window.alarm_bar.audio_text() == "AUDIO PAUSED 2:00"
    ws.clock.advance(30.5)  # type: ignore[attr-defined]
    window.refresh()
    assert window.alarm_bar.audio_text() == "AUDIO PAUSED 1:30"

    assert ws.session is not None
    ws.recorder.flush()
    events = SessionStore(database).alarm_events(ws.session.id)
    words = [(e.alarm_id, e.event) for e in events]
    assert ("spo2.low", "onset") in words
    assert ("spo2.low", "acknowledge") in words and ("audio", "audio_paused") in words
    ack = next(e for e in events if e.event == "acknowledge")
    assert ack.user == window.user and ack.user

    history = window.open_alarm_history()
    # Read on a worker thread (recorder flush + database): "Loading…" until it arrives.
    assert history.busy and history.source_label.text() == "Loading the alarm history…"
    qtbot.waitUntil(lambda: not history.busy, timeout=5_000)
    assert history.source_label.text().endswith("(stored record), newest first")
    rows = history.rows()
    events_shown = [(r[1], r[3]) for r in rows]
    assert ("SpO2 low", "onset") in events_shown and ("SpO2 low", "acknowledged") in events_shown
    onset = next(r for r in rows if r[3] == "onset")
    assert onset[2] == "** medium" and onset[4] == "88"
    assert rows[0][3] == "audio paused", "newest first"
    history.reject()


def test_no_audio_device_is_a_technical_alarm_and_the_visual_alarm_goes_on(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window, _ = spo2_window(make_window)  # real audio output: this machine has no device
    audio = window.alarm_audio
    assert audio is not None and not audio.available
    ws = window.workstation
    ids = [a.alarm_id for a in ws.active_alarms()]
    assert "tech.audio.no_audio" in ids
    feed(window, VitalKind.SPO2, [97.0] + [82.0] * 12)
    qtbot.waitUntil(lambda: any(t.startswith("*** SpO2") for t in window.alarm_bar.entry_texts()),
                    timeout=2_000)
    texts = window.alarm_bar.entry_texts()
    # The patient alarm first; the loudspeaker problem in the technical zone, by its name.
    assert texts[0].startswith("*** SpO2 82 % < 90"), texts
    assert texts[1].startswith("** ⚠ No alarm sound"), texts
    assert window.alarm_bar.audio_text() == "NO ALARM SOUND"
    assert audio.playing is None
    qtbot.wait(200)  # ticks keep running: the app is alive
    assert window.timer.isActive() and window.isVisible()


def test_qtmultimedia_missing_is_reported_not_raised(
        qtbot: QtBot, database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_multimedia(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("PySide6.QtMultimedia"):
            raise ImportError("libpulse.so.0: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_multimedia)
    ws = Workstation(database, [], clock=ManualClock())
    audio = AlarmAudio(ws)
    assert not audio.available and "QtMultimedia" in (audio.problem or "")
    assert [a.alarm_id for a in ws.active_alarms()] == ["tech.audio.no_audio"]
    audio.follow(ws.audio_state())  # nothing to play with: no error either
    ws.report_audio_available()
    assert ws.active_alarms() == []


def test_audio_problem_survives_the_session_profile_switch(
        make_window: MakeWindow) -> None:
    window, _ = spo2_window(make_window)
    start_session(window)  # a new engine for the route's profile
    ids = [a.alarm_id for a in window.workstation.active_alarms()]
    assert "tech.audio.no_audio" in ids


def test_limits_dialog_shows_refusals_and_records_changes(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window, _ = spo2_window(make_window, audio=False)
    ws = window.workstation
    dialog = window.open_alarm_limits()
    # Every parameter's limits at once, not one at a time.
    overview = dialog.overview_label.text().split("\n")
    assert "SpO2  low 90 %" in overview and "HR  50-120 bpm" in overview, overview
    dialog.select(VitalKind.SPO2, "low")
    assert "allowed 85-95" in dialog.current_label.text()
    assert not dialog.off_check.isEnabled(), "SpO2 alarms may never be switched off"
    dialog.change_check.setChecked(True)
    dialog.value_spin.setValue(88)
    dialog.accept()
    assert "why" in dialog.error()  # no reason given: the core refuses
    dialog.reason_edit.setText("chronic lung disease, SpO2 usually 89-91")
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert ws.alarm_engine.limits()[VitalKind.SPO2][0] == 88
    changed = [e for e in ws.pipeline.alarm_log if e.event == "limit_changed"]
    assert changed and changed[-1].user == window.user

    dialog = window.open_alarm_limits()
    dialog.select(VitalKind.HR, "high")
    assert dialog.off_check.isEnabled()
    dialog.off_check.setChecked(True)
    assert "SpO2  low 88 %" in dialog.overview_label.text().split("\n")
    dialog.accept()
    window.refresh()
    assert window.alarm_bar.alarm_off_text() == "ALARM OFF: HR"
    assert window.tiles[VitalKind.HR].limits_text() == "ALARM\nOFF"
    assert window.tiles[VitalKind.SPO2].limits_text() == "▼ 88"


def test_alarm_volume_steps_but_never_below_its_floor(make_window: MakeWindow) -> None:
    window = make_window()  # with the real audio player (no device here: it still keeps a volume)
    assert window.alarm_audio is not None
    for _ in range(12):
        window.volume_down_action.trigger()
    assert window.alarm_audio.volume == pytest.approx(0.3)
    assert "Alarm volume 30%" in window.statusBar().currentMessage()
    window.volume_up_action.trigger()
    assert window.alarm_audio.volume == pytest.approx(0.4)
