"""Reaching review, and the interrupted sessions at start, through the real windows on a real
SQLite database: a nurse opens review from the monitoring window (F9) while monitoring and
alarms go on; a therapist who signs in lands in review with no device started; after a start
the interrupted sessions are offered to resume or to close with a reason."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
from pytestqt.qtbot import QtBot
from workflow_helpers import NURSE, NURSE_PASSWORD, sign_in_nurse

from devices.registry import open_device
from katmonitor.accounts import AccountStore
from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.records.entries import STATUS_KIND, entry_body
from katmonitor.recovery import sessions_to_offer
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.database import Database
from katmonitor.storage.store import SessionStore
from katmonitor.workstation import Workstation
from ui.app import run_app
from ui.dialogs import local_time_text
from ui.interrupted_sessions import InterruptedSessionsDialog
from ui.main_window import MainWindow
from ui.review_window import ReviewWindow

MakeWindow = Callable[..., MainWindow]
FAST_SIM = "sim:normal?nibp_interval=5"
THERAPIST, THERAPIST_PASSWORD = "theo", "integration-session"


def feed(ws: Workstation, kind: VitalKind, values: list[float]) -> None:
    clock = ws.clock
    assert isinstance(clock, ManualClock)
    for value in values:
        ws.pipeline.on_sample(Sample(clock.now(), "test", kind, value))
        clock.advance(1.0)


def left_interrupted(database: Database, clock: ManualClock, client: str = "C-77") -> int:
    """A session whose recording process died: started on this workstation, a minute of data
    stored, never ended; its lease names a process that no longer exists."""
    first = Workstation(database, [], clock=clock)
    first.start()
    session = first.start_session(client, "Esketamine", Route.INTRANASAL)
    feed(first, VitalKind.HR, [72.0] * 60)
    first.recorder.flush()
    with database.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE recording_leases SET pid = 999999999")
    # The process "dies": its devices and recorder stop, nothing marks the session.
    first._watchdog_stop.set()
    first.recorder.stop()
    clock.advance(60)
    return session.id


def status_entries(store: SessionStore, session_id: int) -> list[dict[str, object]]:
    with store.reading("read the chain") as tx:
        return [entry_body(r["entry"]) for r in tx.chain.entries(session_id)
                if r["kind"] == STATUS_KIND]


# -- review from the monitoring window ---------------------------------------------------------


def test_f9_opens_review_in_its_own_window_while_monitoring_and_alarms_go_on(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window([], clock=ManualClock(), audio=False)
    sign_in_nurse(window.workstation)
    assert window.review.action.shortcuts()[0].toString() == "F9"
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_F9)
    review = window.review.review_window
    assert isinstance(review, ReviewWindow)
    qtbot.waitExposed(review)
    assert review.isWindow() and review.parent() is None  # never stacked over the vitals
    assert review.database is window.workstation.database
    assert review.note_user == NURSE
    qtbot.waitUntil(lambda: review.browser.count.text().endswith(" sessions"), timeout=5000)

    # Monitoring goes on behind it: readings reach the window and alarms are evaluated.
    assert window.timer.isActive()
    feed(window.workstation, VitalKind.SPO2, [97.0] + [86.0] * 14)
    qtbot.waitUntil(lambda: window.alarm_bar.entry_texts() != [], timeout=3000)
    assert window.alarm_bar.entry_texts()[0].startswith("** SpO2 86")
    assert review.isVisible()

    # Review hides no alarm: the strip shows it, F2 acknowledges from there, F9 goes back.
    strip = window.review.alarm_strip
    assert strip is not None
    qtbot.waitUntil(lambda: strip.texts() == [window.alarm_bar.entry_texts()[0]], timeout=2000)
    assert strip.isVisible()
    review.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is review, timeout=2000)
    qtbot.keyClick(review, Qt.Key.Key_F2)
    assert window.workstation.audio_state().sounding is None
    qtbot.waitUntil(lambda: strip.texts()[0].endswith("ACK"), timeout=2000)
    qtbot.keyClick(review, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)

    # The same key raises the open review window rather than opening another.
    assert window.review.open_review() is review
    review.close()
    qtbot.waitUntil(lambda: window.review.review_window is None, timeout=2000)


def test_locking_the_monitor_closes_review_and_keeps_it_shut(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window([], clock=ManualClock(), audio=False)
    sign_in_nurse(window.workstation)
    review = window.review.open_review()
    assert review is not None
    qtbot.waitExposed(review)
    closed: list[bool] = []
    review.destroyed.connect(lambda _=None: closed.append(True))
    assert window.lock.lock("on request")
    qtbot.waitUntil(lambda: closed == [True], timeout=2000)  # deleted on close
    assert not window.review.action.isEnabled()
    assert window.review.open_review() is None


def test_the_review_window_goes_with_the_monitor(qtbot: QtBot, database: Database) -> None:
    workstation = Workstation(database, [], clock=ManualClock())
    window = MainWindow(workstation, confirm_close=False, audio=False)  # deleted below
    try:
        window.show()
        review = window.review.open_review()
        assert review is not None
        qtbot.waitExposed(review)
        # Closing the monitor ends the app even with review open (run_app's window).
        assert not review.testAttribute(Qt.WidgetAttribute.WA_QuitOnClose)
        closed: list[bool] = []
        review.destroyed.connect(lambda _=None: closed.append(True))
        window.close()
        window.deleteLater()
        qtbot.waitUntil(lambda: closed == [True], timeout=2000)
    finally:
        workstation.shutdown()


# -- who lands where at sign-in ----------------------------------------------------------------


def run_until_shown(workstation: Workstation, kind: type[QMainWindow],
                    look: Callable[[QMainWindow], None], user: str, password: str) -> int:
    """run_app with ``user`` signed in; once a visible ``kind`` window shows, ``look`` at it
    and close it (which ends the event loop)."""
    seen: list[QMainWindow] = []

    def poll() -> None:
        shown = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QMainWindow) and w.isVisible()]
        target = [w for w in shown if isinstance(w, kind)]
        if not target or seen:
            return
        seen.append(target[0])
        looking.stop()
        look(target[0])

    looking = QTimer()
    looking.timeout.connect(poll)
    looking.start(20)
    give_up = QTimer()  # never hang the test run
    give_up.setSingleShot(True)
    give_up.timeout.connect(lambda: QApplication.exit(3))
    give_up.start(15_000)
    try:
        return run_app(workstation,
                       sign_in=lambda ws, _parent: bool(ws.sign_in(user, password)))
    finally:
        give_up.stop()
        looking.stop()
        workstation.shutdown()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_a_therapist_who_signs_in_lands_in_review_with_no_device_started(
        qtbot: QtBot, database: Database) -> None:
    from account_helpers import add_account

    add_account(AccountStore(database), THERAPIST, "therapist", THERAPIST_PASSWORD)
    clock = ManualClock()
    interrupted = left_interrupted(database, clock)
    workstation = Workstation(database, [open_device(FAST_SIM)], clock=clock)
    found: dict[str, object] = {}

    def look(shown: QMainWindow) -> None:
        assert isinstance(shown, ReviewWindow)
        found["note_user"] = shown.note_user
        found["monitors"] = [w for w in QApplication.topLevelWidgets()
                             if isinstance(w, MainWindow) and w.isVisible()]
        found["statuses"] = workstation.device_statuses()
        found["started"] = workstation._started  # devices, recorder and watchdog
        shown.close()

    assert run_until_shown(workstation, ReviewWindow, look, THERAPIST, THERAPIST_PASSWORD) == 0
    assert found == {"note_user": THERAPIST, "monitors": [], "statuses": [], "started": False}
    # Nothing was started for her: no recovery ran, the killed session is as it was left.
    assert workstation.recovered == []
    assert SessionStore(database).get_session(interrupted).status is SessionStatus.ACTIVE


def test_a_nurse_gets_the_monitor_and_the_interrupted_session_is_offered(
        qtbot: QtBot, database: Database) -> None:
    clock = ManualClock()
    interrupted = left_interrupted(database, clock, client="C-91")
    workstation = Workstation(database, [open_device(FAST_SIM)], clock=clock)
    sign_in_nurse(workstation)
    workstation.sign_out()
    offered: list[list[tuple[str, ...]]] = []

    def look(shown: QMainWindow) -> None:
        assert isinstance(shown, MainWindow)

        def answered() -> None:
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, InterruptedSessionsDialog):
                QTimer.singleShot(20, answered)
                return
            offered.append(dialog.rows())
            qtbot.keyClick(dialog.table, Qt.Key.Key_Escape)  # Later
            shown.close_without_asking()

        answered()

    assert run_until_shown(workstation, MainWindow, look, NURSE, NURSE_PASSWORD) == 0
    assert [r.session_id for r in workstation.recovered] == [interrupted]
    ((client, _start, _last, where, why),) = offered[0]
    assert client == "C-91" and where == "test-room" and "has ended" in why
    # Later leaves it interrupted, to reopen or close another time.
    assert SessionStore(database).get_session(interrupted).status is SessionStatus.INTERRUPTED


# -- the interrupted-sessions dialog -----------------------------------------------------------


def offered_dialog(qtbot: QtBot, window: MainWindow) -> InterruptedSessionsDialog:
    ws = window.workstation
    offered = sessions_to_offer(ws.store, ws.name, ws.recovered)
    dialog = InterruptedSessionsDialog(ws, offered, window)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()  # its Alt+letter keys act in the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=2000)
    return dialog


def test_resume_continues_the_session_here_with_alarms_at_once(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    clock = ManualClock()
    sid = left_interrupted(database, clock)
    window = make_window([], clock=clock, audio=False)
    assert [r.session_id for r in window.workstation.recovered] == [sid]
    sign_in_nurse(window.workstation)
    dialog = offered_dialog(qtbot, window)
    ((client, _start, last, where, why),) = dialog.rows()
    store = SessionStore(database)
    last_data = store.readings(sid, [VitalKind.HR])[-1].time
    assert client == "C-77" and where == "test-room" and "has ended" in why
    assert last == local_time_text(last_data, "%Y-%m-%d %H:%M:%S")
    assert dialog.table.hasFocus() or dialog.focusWidget() is dialog.table

    with qtbot.waitSignal(dialog.handled) as handled:
        qtbot.keyClick(dialog, Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier)  # &Resume
    assert handled.args == [sid, "resumed"]
    assert not dialog.isVisible()
    assert window.workstation.recording and window.workstation.session.id == sid  # type: ignore[union-attr]
    assert store.get_session(sid).status is SessionStatus.ACTIVE
    feed(window.workstation, VitalKind.SPO2, [97.0] + [86.0] * 14)
    qtbot.waitUntil(lambda: window.alarm_bar.entry_texts() != [], timeout=3000)
    window.workstation.recorder.flush()
    assert any(e.event == "onset" for e in store.alarm_events(sid))


def test_close_with_a_reason_needs_the_reason_and_ends_the_session(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    clock = ManualClock()
    sid = left_interrupted(database, clock)
    window = make_window([], clock=clock, audio=False)
    sign_in_nurse(window.workstation)
    dialog = offered_dialog(qtbot, window)
    store = SessionStore(database)

    qtbot.keyClick(dialog, Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)  # no reason yet
    qtbot.waitUntil(lambda: dialog.error() != "", timeout=2000)  # a mnemonic clicks animated
    assert dialog.error() == 'closing an interrupted session needs a reason\n' \
        'say why it was not ended, e.g. "power lost"'
    assert dialog.isVisible() and store.get_session(sid).status is SessionStatus.INTERRUPTED

    qtbot.keyClick(dialog, Qt.Key.Key_E, Qt.KeyboardModifier.AltModifier)  # R&eason
    assert dialog.reason.hasFocus()
    qtbot.keyClicks(dialog.reason, "power lost in room 1")
    with qtbot.waitSignal(dialog.handled) as handled:
        qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
    assert handled.args == [sid, "closed"]
    closed = store.get_session(sid)
    last_data = store.readings(sid, [VitalKind.HR])[-1].time
    assert closed.status is SessionStatus.ENDED and closed.ended_at == last_data
    last = status_entries(store, sid)[-1]
    assert last["closed_after_interruption"] == "power lost in room 1"
    assert last["closed_by"] == NURSE
    assert not window.workstation.recording  # closing does not start monitoring it


def test_another_workstations_session_is_closable_but_not_resumed_here(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    clock = ManualClock()
    first = Workstation(database, [], clock=clock, name="room-2")
    first.start()
    session = first.start_session("C-5", "Esketamine", Route.INTRANASAL)
    first.shutdown()  # the app closed during the session: interrupted, in room 2
    window = make_window([], clock=clock, audio=False)
    ws = window.workstation
    assert sessions_to_offer(ws.store, ws.name, ws.recovered) == []  # not this room's
    offered = sessions_to_offer(ws.store, "room-2")
    assert [o.session.id for o in offered] == [session.id] and offered[0].here
    assert offered[0].why == "the app was closed during the session"
    elsewhere = [o.__class__(o.session, o.why, o.last_data_at, False) for o in offered]
    dialog = InterruptedSessionsDialog(ws, elsewhere, window)
    qtbot.addWidget(dialog)
    assert not dialog.resume_button.isEnabled() and dialog.close_button.isEnabled()
    assert not dialog.resume_selected()
    assert SessionStore(database).get_session(session.id).status is SessionStatus.INTERRUPTED
