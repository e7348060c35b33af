"""The review window offscreen, on sessions recorded through the real write path: the dosing
workflow on a Workstation (tests/core/dosed_session.py) and the Recorder fed as a device
delivers (bench/recording.py) for the pleth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from account_helpers import add_account
from core.dosed_session import NURSE, DosedSession, record_dosed_session
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from workflow_helpers import NURSE_PASSWORD

from bench.recording import Plan, feed, new_session, quarters
from katmonitor.accounts import AccountStore
from katmonitor.base.vitals import VitalKind
from katmonitor.record_signing import sign_session
from katmonitor.recorder import Recorder
from katmonitor.session import Route, SessionStatus
from katmonitor.storage import SessionStore
from katmonitor.storage.database import Database, open_database
from ui import review_timeline
from ui.review_window import ReviewWindow

THERAPIST, THERAPIST_PASSWORD = "theo", "integration-session"


@pytest.fixture
def dosed(tmp_path: Path) -> DosedSession:
    return record_dosed_session(f"sqlite:///{tmp_path / 'review.sqlite3'}")


@pytest.fixture
def db(dosed: DosedSession) -> Iterator[Database]:
    database = open_database(dosed.url)
    yield database
    database.close()


@pytest.fixture
def window(qtbot: QtBot, db: Database) -> ReviewWindow:
    shown = ReviewWindow(db)
    qtbot.addWidget(shown)
    shown.resize(1400, 800)
    shown.show()
    qtbot.waitExposed(shown)
    return shown


def open_session(qtbot: QtBot, window: ReviewWindow, session_id: int) -> None:
    with qtbot.waitSignal(window.review_loaded, timeout=5000):
        window.open_session(session_id)


def test_crosshair_reads_the_stored_values_and_keys_zoom(
    qtbot: QtBot, window: ReviewWindow, dosed: DosedSession, db: Database
) -> None:
    open_session(qtbot, window, dosed.session_id)
    timeline = window.timeline
    hr = SessionStore(db).readings(dosed.session_id, [VitalKind.HR])
    spo2 = SessionStore(db).readings(dosed.session_id, [VitalKind.SPO2])
    t = hr[300].time + 3.0  # between samples: the one before, as stored
    timeline.set_cursor(t)
    values = timeline.cursor_values()
    assert values[VitalKind.HR] == (hr[300].time, hr[300].value)
    assert values[VitalKind.SPO2] == (spo2[300].time, spo2[300].value)
    assert f"HR {hr[300].value:.0f}" in timeline.readout.text()

    t0, t1 = timeline.view_window()
    drawn = timeline.redraw_count
    qtbot.keyClick(timeline, Qt.Key.Key_Plus)
    z0, z1 = timeline.view_window()
    assert z1 - z0 == pytest.approx((t1 - t0) / 2)
    assert z0 <= t <= z1 and timeline.redraw_count > drawn
    qtbot.keyClick(timeline, Qt.Key.Key_0)
    assert timeline.view_window() == pytest.approx((t0, t1))


def test_next_alarm_lands_on_the_stored_onset(
    qtbot: QtBot, window: ReviewWindow, dosed: DosedSession, db: Database
) -> None:
    open_session(qtbot, window, dosed.session_id)
    onset = next(e.time for e in SessionStore(db).alarm_events(dosed.session_id)
                 if e.event == "onset")
    timeline = window.timeline
    timeline.set_cursor(timeline.review.start)  # type: ignore[union-attr]
    qtbot.keyClick(timeline, Qt.Key.Key_A)
    assert timeline.cursor_time == onset
    qtbot.keyClick(timeline, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
    assert timeline.cursor_time == dosed.first_dose_at + 5 * 60  # the second spray


def test_a_therapist_note_at_the_cursor_appears_on_the_timeline_and_verifies(
    qtbot: QtBot, window: ReviewWindow, dosed: DosedSession, db: Database
) -> None:
    store = SessionStore(db)
    sign_session(store, dosed.session_id, NURSE, NURSE_PASSWORD)
    add_account(AccountStore(db), THERAPIST, "therapist", THERAPIST_PASSWORD)
    open_session(qtbot, window, dosed.session_id)
    at = dosed.first_dose_at + 33 * 60
    window.timeline.set_cursor(at)
    dialog = window.add_note()
    assert dialog is not None
    dialog.user.setText(THERAPIST)
    dialog.text.setPlainText("client described floating, calm")
    dialog.password.setText("wrong")
    dialog.accept()
    qtbot.waitUntil(lambda: dialog.error() != "", timeout=5000)
    assert not [n for n in window.review.notes if n.addendum_id]  # type: ignore[union-attr]

    dialog.password.setText(THERAPIST_PASSWORD)
    dialog.span_min.setValue(10)  # about the ten minutes from the cursor
    with qtbot.waitSignal(window.signature_checked, timeout=10000) as checked:
        dialog.accept()
    assert checked.args[0].status == "verified"
    assert at in window.timeline.note_times
    note = next(n for n in window.review.notes if n.addendum_id)  # type: ignore[union-attr]
    assert (note.time, note.until, note.text) == (at, at + 600, "client described floating, calm")
    assert "client described floating" in window.summary.toPlainText()


def test_browser_filters_and_training_sessions_apart(
    qtbot: QtBot, window: ReviewWindow, dosed: DosedSession, db: Database
) -> None:
    store = SessionStore(db)
    other = store.create_session(client_id="C-311", medicine="ketamine", route=Route.IM,
                                 started_at=dosed.first_dose_at + 86400, training=False,
                                 devices=[], workstation="room 2").id
    training = store.create_session(client_id="C-200", medicine="esketamine",
                                    route=Route.INTRANASAL, started_at=dosed.first_dose_at,
                                    training=True, devices=["sim:normal"], workstation="w").id
    browser = window.browser
    with qtbot.waitSignal(browser.loaded, timeout=5000):
        window.show_browser()
    assert browser.shown_ids() == [other, dosed.session_id]
    qtbot.keyClicks(browser.search, "c-2")
    assert browser.shown_ids() == [dosed.session_id]
    assert "152" in browser.model.rows[0].cells and "86" in browser.model.rows[0].cells
    qtbot.keyClick(browser.search, Qt.Key.Key_Backspace)  # "c-": both clinical sessions again
    assert browser.shown_ids() == [other, dosed.session_id]
    browser.search.clear()
    browser.route.setCurrentText("im")
    assert browser.shown_ids() == [other]
    browser.route.setCurrentText("any")
    browser.status.setCurrentText("recording")
    assert browser.shown_ids() == [other]
    browser.status.setCurrentText("any")
    with qtbot.waitSignal(browser.loaded, timeout=5000):
        browser.training.setChecked(True)
    assert browser.shown_ids() == [training] and browser.banner.isVisibleTo(window)

    with qtbot.waitSignal(browser.loaded, timeout=5000):
        browser.training.setChecked(False)
    browser.search.setText("C-200")
    with qtbot.waitSignal(window.review_loaded, timeout=5000):
        qtbot.keyClick(browser.table, Qt.Key.Key_Return)
    assert window.review is not None and window.review.session.id == dosed.session_id


def test_the_pleth_is_drawn_when_zoomed_in(qtbot: QtBot, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(review_timeline, "PLETH_MAX_SPAN_S", 20.0)  # a short recording
    database = open_database(f"sqlite:///{tmp_path / 'pleth.sqlite3'}")
    try:
        store = SessionStore(database)
        sid = new_session(store, training=True)
        recorder = Recorder(store)
        try:
            feed(recorder, sid, quarters(Plan(seconds=40, dosed=False)))
        finally:
            recorder.stop()
        window = ReviewWindow(database)
        qtbot.addWidget(window)
        window.resize(1400, 800)
        window.show()
        open_session(qtbot, window, sid)
        timeline = window.timeline
        qtbot.wait(200)
        assert timeline.pleth_points == 0  # the whole 40 s: too long
        start = timeline.review.start  # type: ignore[union-attr]
        timeline.set_window(start + 10, start + 20)
        qtbot.waitUntil(lambda: timeline.pleth_points > 0, timeout=5000)
        assert timeline.pleth_points == len(store.waveform(sid, t0=start + 10, t1=start + 20))
    finally:
        database.close()


def test_export_buttons_write_the_session_or_say_why_not(
    qtbot: QtBot, window: ReviewWindow, dosed: DosedSession, tmp_path: Path
) -> None:
    open_session(qtbot, window, dosed.session_id)
    exports = window.exports
    out = tmp_path / "session.csv"
    with qtbot.waitSignal(exports.exported, timeout=10000) as written:
        exports.export("csv", out)
    assert out in written.args[0] and "C-200" in out.read_text()
    assert not exports.progress.isVisible() and exports.buttons["pdf"].isEnabled()
    with qtbot.waitSignal(exports.failed, timeout=10000) as refused:
        exports.export("csv", tmp_path / "missing" / "x.csv")
    assert "does not exist" in refused.args[0] and "Traceback" not in refused.args[0]


def test_the_course_view_shows_a_clients_sessions_and_opens_one(
    qtbot: QtBot, window: ReviewWindow, dosed: DosedSession
) -> None:
    second = record_dosed_session(dosed.url)
    with qtbot.waitSignal(window.browser.loaded, timeout=5000):
        window.show_browser()
    with qtbot.waitSignal(window.course.loaded, timeout=5000):
        window.course_action.trigger()  # Ctrl+K on the selected row's client
    table = window.course.table
    assert table.rowCount() == 2
    assert [table.item(r, 3).text() for r in range(2)] == ["150", "150"]  # peak systolic
    assert table.item(0, 6).text() == "4" and table.item(0, 7).text() == "3"  # MOAA/S, CADSS
    with qtbot.waitSignal(window.review_loaded, timeout=5000) as opened:
        table.cellClicked.emit(1, 0)
    assert opened.args[0].session.id == second.session_id


def test_a_recording_gap_is_a_band_on_the_timeline_and_in_the_summary(
        qtbot: QtBot, tmp_path: Path) -> None:
    from core.interrupted_session import record_twice_interrupted

    database = open_database(f"sqlite:///{tmp_path / 'gaps.sqlite3'}")
    try:
        gapped = record_twice_interrupted(SessionStore(database))
        shown = ReviewWindow(database)
        qtbot.addWidget(shown)
        shown.resize(1400, 800)
        shown.show()
        open_session(qtbot, shown, gapped.session_id)
        timeline = shown.timeline
        review = timeline.review
        assert review is not None
        first, second = timeline.gap_bands
        assert first[0] == gapped.first_last_data and first[1] >= gapped.reopened_after
        assert second[0] == gapped.second_last_data
        assert second[1] == gapped.second_last_data + review_timeline.GAP_MIN_WIDTH_S
        bands = [item for item in timeline.plots["hr"].items
                 if isinstance(item, review_timeline.pg.LinearRegionItem)]
        assert [tuple(b.getRegion()) for b in bands] == [
            pytest.approx((timeline.x_of(a), timeline.x_of(b))) for a, b in (first, second)]

        timeline.set_cursor(gapped.first_last_data + 30)
        assert "not recorded from" in timeline.readout.text()
        assert "has ended" in timeline.readout.text()
        timeline.set_cursor(gapped.first_last_data - 30)
        assert "not recorded" not in timeline.readout.text()
        summary = shown.summary.toPlainText()
        assert summary.count("Recording gap:") == 2 and "closed: power lost" in summary
    finally:
        database.close()


def test_the_browser_shows_a_signed_session_whose_record_no_longer_verifies(
    qtbot: QtBot, window: ReviewWindow, dosed: DosedSession, db: Database
) -> None:
    store = SessionStore(db)
    sign_session(store, dosed.session_id, NURSE, NURSE_PASSWORD)
    intact = store.create_session(client_id="C-312", medicine="esketamine",
                                  route=Route.INTRANASAL, started_at=dosed.first_dose_at + 86400,
                                  training=False, devices=[], workstation="room 2").id
    store.set_status(intact, SessionStatus.ENDED, dosed.first_dose_at + 86400 + 3600)
    sign_session(store, intact, NURSE, NURSE_PASSWORD)
    with db.engine.begin() as conn:  # the record changed after signing
        conn.exec_driver_sql(f"UPDATE dose_events SET dose_mg = 84 WHERE session_id = "
                                f"{dosed.session_id}")

    browser = window.browser
    with qtbot.waitSignal(browser.signatures_checked, timeout=15000):
        window.show_browser()
    assert browser.status_of(dosed.session_id) == "signature invalid"
    assert browser.status_of(intact) == "signed"
    row = browser.shown_ids().index(dosed.session_id)
    assert browser.model.data(browser.model.index(row, 5)) == "signature invalid"
    browser.status.setCurrentText("signature invalid")
    assert browser.shown_ids() == [dosed.session_id]
    browser.status.setCurrentText("any")
    qtbot.keyClicks(browser.search, "invalid")  # search as you type finds the status too
    assert browser.shown_ids() == [dosed.session_id]

    # Opening it checks it again and says why in the summary.
    with qtbot.waitSignal(window.signature_checked, timeout=10000) as checked:
        window.open_session(dosed.session_id)
    assert checked.args[0].status == "invalid"
    assert "INVALID" in window.summary.toPlainText()
