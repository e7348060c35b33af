"""Signing a session in the window and the record badge: offered when the session ends, a wrong
password signs nothing, the right one stores the signature and shows its manifestation, and the
badge goes UNSIGNED -> VERIFIED -> INVALID (after a raw SQL change). Real database, offscreen."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from account_helpers import add_account
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from katmonitor.accounts import AccountStore
from katmonitor.record_signing import is_signed, verify_session
from katmonitor.session import Route
from katmonitor.storage.database import Database
from ui.main_window import MainWindow
from ui.signing_dialogs import SignSessionDialog

PASSWORD = "dosing-room-7"
MakeWindow = Callable[..., MainWindow]
SHIFT_CTRL = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def add_users(database: Database) -> None:
    accounts = AccountStore(database)
    add_account(accounts, "rn.lee", "nurse", PASSWORD, full_name="Lee Park, RN")
    add_account(accounts, "theo", "therapist", PASSWORD, full_name="Theo Grant, PhD")


def run_a_session(window: MainWindow, lot: str = "LOT-4711") -> int:
    """Start a session, give one dose (stored as the dose dialog stores it), end it."""
    ws = window.workstation
    session = ws.start_session("C-1042", "Esketamine", Route.INTRANASAL)
    window.refresh()  # the window sees it recording
    now = ws.clock.now()
    ws.store.add_dose(session.id, time=now, medicine="Esketamine", route=Route.INTRANASAL,
                      dose_mg=28.0, unit_count=1, lot=lot, given_by="Lee Park, RN",
                      recorded_at=now)
    ws.add_observation("calm, talking", "rn.lee")
    ws.end_session()
    window.refresh()  # ... and ended: the badge is checked and signing offered
    return session.id


@pytest.fixture
def denver_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time that is not UTC, so the two times shown differ."""
    monkeypatch.setenv("TZ", "America/Denver")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_sign_after_the_session_ends_and_the_badge_follows(
        qtbot: QtBot, make_window: MakeWindow, database: Database, denver_time: None) -> None:
    add_users(database)
    window = make_window()
    ws = window.workstation
    ws.sign_in("rn.lee", PASSWORD)
    badge = window.record_badge
    assert badge.text() == "Record: no ended session"

    sid = run_a_session(window)
    qtbot.waitUntil(lambda: badge.state == "unsigned", timeout=5_000)
    assert badge.text() == f"UNSIGNED #{sid}"

    # Offered right after the session ended, for the signed-in nurse.
    dialog = window.records.dialog
    assert isinstance(dialog, SignSessionDialog) and dialog.isVisible()
    assert dialog.session_id == sid
    assert "C-1042" in dialog.summary_label.text() and "lot LOT-4711" in dialog.summary_label.text()
    assert dialog.signer_label.text() == "Lee Park, RN (nurse, user rn.lee)"
    assert dialog.meaning_edit.text() == "Monitored and reviewed"
    assert window.open_sign_dialog(sid) is dialog  # not a second one

    dialog.password_edit.setText("not my password")
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert dialog.error() == "unknown user or wrong password"
    assert dialog.isVisible() and dialog.manifestation() == ""
    assert not is_signed(ws.store, sid)

    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    # Signing runs on a worker thread: the dialog is busy (Sign greyed out) until it is done.
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.busy and not ok.isEnabled() and ok.text() == "Signing…"
    dialog.accept()  # a second press while busy signs nothing twice
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)
    assert dialog.error() == ""
    assert dialog.isVisible()  # now showing the signature
    signature = dialog.signature
    assert signature is not None
    shown = dialog.manifestation()
    assert "Signed by: Lee Park, RN\nRole: nurse (user rn.lee)\n" in shown
    assert "Meaning: Monitored and reviewed" in shown
    utc = datetime.fromtimestamp(signature["signed_at"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    local = datetime.fromtimestamp(signature["signed_at"]).strftime("%Y-%m-%d %H:%M:%S")
    assert f"Date/time (UTC): {utc}" in shown
    assert re.search("Date/time \\(local\\): " + re.escape(local) + r" M[SD]T \(UTC-0[67]00\)",
                     shown)
    assert local[11:13] != utc[11:13]  # Denver is 6 or 7 hours behind
    report = verify_session(ws.store, sid)
    assert report.ok and report.signer is not None
    assert report.signer["printed_name"] == "Lee Park, RN"

    qtbot.waitUntil(lambda: badge.state == "verified", timeout=5_000)
    assert badge.text() == f"✔ VERIFIED #{sid} · signed by Lee Park, RN"
    dialog.accept()  # Close
    assert not dialog.isVisible()

    # Someone changes the stored dose behind the app's back.
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE dose_events SET lot = 'LOT-0000' WHERE session_id = :sid"),
                     {"sid": sid})
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_V, SHIFT_CTRL)  # Check record again
    qtbot.waitUntil(lambda: badge.state == "invalid", timeout=5_000)
    assert badge.text().startswith(f"✖ INVALID #{sid}: ")
    assert "dose_events row" in badge.text() and "lot 'LOT-4711' -> 'LOT-0000'" in badge.text()
    assert "INVALID" in badge.toolTip() and "lot 'LOT-4711' -> 'LOT-0000'" in badge.toolTip()


def test_the_meaning_can_be_edited_and_the_signature_is_the_nurses(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    add_users(database)
    window = make_window()
    ws = window.workstation
    ws.sign_in("rn.lee", PASSWORD)
    sid = run_a_session(window)
    offered = window.records.dialog
    assert offered is not None
    offered.reject()  # later, from the Record menu
    assert not is_signed(ws.store, sid)

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_S, SHIFT_CTRL)  # Sign last session
    dialog = window.records.dialog
    assert isinstance(dialog, SignSessionDialog) and dialog.session_id == sid
    qtbot.waitUntil(lambda: dialog.ready, timeout=5_000)  # the record is read off the GUI thread
    dialog.meaning_edit.setText("Monitored, reviewed and discharged")
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert "Meaning: Monitored, reviewed and discharged" in dialog.manifestation()
    report = verify_session(ws.store, sid)
    assert report.ok and report.signer is not None
    assert report.signer["meaning"] == "Monitored, reviewed and discharged"
    qtbot.waitUntil(lambda: window.record_badge.state == "verified", timeout=5_000)


def test_only_a_nurse_signs(qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    add_users(database)
    window = make_window()
    ws = window.workstation
    ws.sign_in("rn.lee", PASSWORD)
    sid = run_a_session(window)
    window.records.dialog.reject()  # type: ignore[union-attr]
    ws.sign_out()
    ws.sign_in("theo", PASSWORD)
    window.refresh()
    dialog = window.open_sign_dialog()
    assert dialog is not None and dialog.session_id == sid
    qtbot.waitUntil(lambda: dialog.ready, timeout=5_000)  # the record is read off the GUI thread
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert dialog.error() == "theo is a therapist: only nurses may sign dosing sessions"
    assert not is_signed(ws.store, sid)
    dialog.reject()

    ws.sign_out()
    dialog = window.open_sign_dialog(sid)
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.ready, timeout=5_000)  # the record is read off the GUI thread
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert dialog.error() == "sign in as a nurse to sign the record"
    assert not is_signed(ws.store, sid)


def test_sign_last_session_with_none_ended_says_so(qtbot: QtBot, make_window: MakeWindow,
                                                   database: Database) -> None:
    add_users(database)
    window = make_window()
    window.workstation.sign_in("rn.lee", PASSWORD)
    assert window.open_sign_dialog() is None
    # The sessions are listed on a worker thread; then the message shows.
    def boxes() -> list[QMessageBox]:
        return [w for w in QApplication.topLevelWidgets()
                if isinstance(w, QMessageBox) and w.isVisible()
                and w.text() == "there is no ended session to sign"]

    qtbot.waitUntil(lambda: bool(boxes()), timeout=10_000)
    for box in boxes():
        box.close()


def test_the_badge_shows_the_last_ended_session_when_the_window_opens(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    add_users(database)
    first = make_window()
    first.workstation.sign_in("rn.lee", PASSWORD)
    sid = run_a_session(first)
    first.records.dialog.reject()  # type: ignore[union-attr]
    first.close()

    window = make_window()  # the app started again on the same workstation
    qtbot.waitUntil(lambda: window.record_badge.state == "unsigned", timeout=5_000)
    assert window.record_badge.text() == f"UNSIGNED #{sid}"
    assert "not signed yet" in window.record_badge.toolTip()
