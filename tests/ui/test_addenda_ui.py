"""Signed addenda in the window: Record → Add signed addendum… (Ctrl+Shift+A) on a signed
session. A therapist adds a note, a nurse a correction, each shown with its author, role, kind,
UTC and local time; a wrong password stores nothing; a therapist is offered no correction and
the core refuses one; an unsigned session is refused with a message; the badge stays VERIFIED
after an addendum and names the addendum once its row is changed by hand. Real SQLite
database, offscreen."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import text
from test_signing_ui import PASSWORD, SHIFT_CTRL, MakeWindow, add_users, run_a_session

from katmonitor.addenda import AddendumKind, list_addenda
from katmonitor.record_signing import is_signed, verify_session
from katmonitor.storage.database import Database
from ui.addendum_dialog import AddendumDialog
from ui.main_window import MainWindow
from ui.signing_dialogs import SignSessionDialog


@pytest.fixture
def denver_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time that is not UTC, so the two times shown differ."""
    monkeypatch.setenv("TZ", "America/Denver")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def signed_session(qtbot: QtBot, window: MainWindow) -> int:
    """Run a session as the nurse and sign it in the Sign record dialog offered at its end."""
    window.workstation.sign_in("rn.lee", PASSWORD)
    sid = run_a_session(window)
    dialog = window.records.dialog
    assert isinstance(dialog, SignSessionDialog) and dialog.session_id == sid
    qtbot.waitUntil(lambda: dialog.ready, timeout=5_000)  # the record is read off the GUI thread
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert dialog.error() == "" and "Signed by: Lee Park, RN" in dialog.manifestation()
    dialog.accept()  # Close
    qtbot.waitUntil(lambda: window.record_badge.state == "verified", timeout=5_000)
    return sid


def switch_user(window: MainWindow, name: str) -> None:
    window.workstation.sign_out()
    window.workstation.sign_in(name, PASSWORD)
    window.refresh()


def press_add_addendum(qtbot: QtBot, window: MainWindow) -> AddendumDialog:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_A, SHIFT_CTRL)
    return opened_addendum_dialog(qtbot, window)


def opened_addendum_dialog(qtbot: QtBot, window: MainWindow) -> AddendumDialog:
    """The dialog Add signed addendum opens, once the session was checked and its record read
    on a worker thread."""
    qtbot.waitUntil(lambda: window.addenda.dialog is not None and window.addenda.dialog.ready,
                    timeout=5_000)
    dialog = window.addenda.dialog
    assert isinstance(dialog, AddendumDialog) and dialog.isVisible()
    return dialog


def message_box() -> QMessageBox:
    return next(w for w in QApplication.topLevelWidgets()
                if isinstance(w, QMessageBox) and w.isVisible())


def test_the_record_menu_offers_it_on_a_key_of_its_own(make_window: MakeWindow) -> None:
    window = make_window()
    action = window.addenda.action
    record_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Record")
    assert [a.text() for a in record_menu.actions()] == [
        "&Sign last session…", "Add signed &addendum…", "&Check record again"]
    assert action.shortcut().toString() == "Ctrl+Shift+A"
    taken = [a.text() for a in window.findChildren(QAction)
             if QKeySequence("Ctrl+Shift+A") in a.shortcuts()]
    assert taken == ["Add signed &addendum…"]


def test_a_therapist_adds_a_signed_note(qtbot: QtBot, make_window: MakeWindow,
                                        database: Database, denver_time: None) -> None:
    add_users(database)
    window = make_window()
    ws = window.workstation
    sid = signed_session(qtbot, window)
    switch_user(window, "theo")

    dialog = press_add_addendum(qtbot, window)
    assert dialog.session_id == sid and dialog.windowTitle() == "Add signed addendum"
    assert "C-1042" in dialog.summary_label.text() and "lot LOT-4711" in dialog.summary_label.text()
    assert dialog.addenda_shown() == "None yet."
    assert dialog.author_label.text() == "Theo Grant, PhD (therapist, user theo)"
    assert dialog.offered_kinds() == ["Note"]  # a correction is for nurses
    assert window.open_addendum_dialog(sid) is dialog  # not a second one

    dialog.text_edit.setPlainText("Calm at the follow-up call.")
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert dialog.error() == ""
    assert dialog.windowTitle() == "Addendum signed"
    [stored] = list_addenda(ws.store, sid)
    assert (stored.kind, stored.user, stored.text) == (AddendumKind.NOTE, "theo",
                                                      "Calm at the follow-up call.")
    shown = dialog.manifestation()
    assert shown.startswith(f"Note signed and added to session {sid}.\n\nAddendum 1 · note\n")
    assert "By: Theo Grant, PhD (therapist, user theo)" in shown
    assert "Text: Calm at the follow-up call." in shown
    utc = datetime.fromtimestamp(stored.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    local = datetime.fromtimestamp(stored.created_at).strftime("%Y-%m-%d %H:%M:%S")
    assert f"Date/time (UTC): {utc}" in shown
    assert re.search("Date/time \\(local\\): " + re.escape(local) + r" M[SD]T \(UTC-0[67]00\)",
                     shown)

    # The badge checks the record again: still VERIFIED, the addendum listed in its tooltip.
    badge = window.record_badge
    qtbot.waitUntil(lambda: badge.state == "verified" and badge.report is not None,
                    timeout=5_000)
    assert badge.text() == f"✔ VERIFIED #{sid} · signed by Lee Park, RN"
    assert "addendum 1: note by Theo Grant, PhD (theo, therapist)" in badge.toolTip()
    assert "Calm at the follow-up call." in badge.toolTip()
    dialog.accept()  # Close
    assert not dialog.isVisible()

    # The next one shows it among the session's addenda.
    assert window.open_addendum_dialog() is None  # checked off the GUI thread, then opened
    again = opened_addendum_dialog(qtbot, window)
    assert again is not dialog
    listed = again.addenda_shown()
    assert listed.startswith("Addendum 1 · note\nBy: Theo Grant, PhD (therapist, user theo)\n")
    assert f"Date/time (UTC): {utc}" in listed and f"Date/time (local): {local}" in listed
    assert listed.endswith("Text: Calm at the follow-up call.")
    again.reject()


def test_a_nurse_adds_a_correction(qtbot: QtBot, make_window: MakeWindow,
                                   database: Database) -> None:
    add_users(database)
    window = make_window()
    ws = window.workstation
    sid = signed_session(qtbot, window)
    window.open_addendum_dialog()
    dialog = opened_addendum_dialog(qtbot, window)
    assert dialog.session_id == sid
    assert dialog.author_label.text() == "Lee Park, RN (nurse, user rn.lee)"
    assert dialog.offered_kinds() == ["Note", "Correction"]
    dialog.set_kind(AddendumKind.CORRECTION)
    dialog.text_edit.setPlainText("The lot was LOT-4712, not LOT-4711.")
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert dialog.error() == ""
    shown = dialog.manifestation()
    assert shown.startswith(f"Correction signed and added to session {sid}.")
    assert "Addendum 1 · correction\nBy: Lee Park, RN (nurse, user rn.lee)" in shown
    [stored] = list_addenda(ws.store, sid)
    assert (stored.kind, stored.user, stored.role) == (AddendumKind.CORRECTION, "rn.lee", "nurse")
    qtbot.waitUntil(lambda: window.record_badge.report is not None, timeout=5_000)
    assert window.record_badge.state == "verified"
    assert "addendum 1: correction by Lee Park, RN" in window.record_badge.toolTip()
    assert verify_session(ws.store, sid).ok


def test_a_wrong_password_stores_nothing(qtbot: QtBot, make_window: MakeWindow,
                                         database: Database) -> None:
    add_users(database)
    window = make_window()
    sid = signed_session(qtbot, window)
    switch_user(window, "theo")
    dialog = press_add_addendum(qtbot, window)
    dialog.text_edit.setPlainText("Calm at the follow-up call.")
    dialog.password_edit.setText("not my password")
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert dialog.error() == "unknown user or wrong password"
    assert dialog.isVisible() and dialog.manifestation() == ""
    assert dialog.password_edit.text() == ""  # to be typed again
    assert dialog.text_edit.toPlainText() == "Calm at the follow-up call."  # kept
    assert list_addenda(window.workstation.store, sid) == []


def test_a_therapist_is_not_offered_and_is_refused_a_correction(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    add_users(database)
    window = make_window()
    sid = signed_session(qtbot, window)
    switch_user(window, "theo")
    dialog = press_add_addendum(qtbot, window)
    assert dialog.offered_kinds() == ["Note"]
    with pytest.raises(ValueError, match="correction is not offered"):
        dialog.set_kind(AddendumKind.CORRECTION)

    # Were one offered anyway, the core refuses it and says who may add one.
    dialog.kind_combo.addItem("Correction", AddendumKind.CORRECTION)
    dialog.set_kind(AddendumKind.CORRECTION)
    dialog.text_edit.setPlainText("The lot was LOT-4712.")
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert dialog.error() == "theo is a therapist: a correction may be added by: nurse"
    assert dialog.isVisible() and dialog.manifestation() == ""
    assert list_addenda(window.workstation.store, sid) == []


def test_an_unsigned_session_is_refused_with_a_message(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    add_users(database)
    window = make_window()
    ws = window.workstation
    ws.sign_in("rn.lee", PASSWORD)
    sid = run_a_session(window)
    window.records.dialog.reject()  # type: ignore[union-attr]  # not signed
    switch_user(window, "theo")

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_A, SHIFT_CTRL)
    # The session is checked on a worker thread; then the message shows, and no dialog.
    qtbot.waitUntil(lambda: any(isinstance(w, QMessageBox) and w.isVisible()
                                for w in QApplication.topLevelWidgets()), timeout=5_000)
    assert window.addenda.dialog is None
    box = message_box()
    assert box.windowTitle() == "Add signed addendum"
    assert box.text() == f"session {sid} is not signed yet: there is no signed record to amend"
    assert "Before signing, a note is an ordinary assessment or observation" in \
        box.informativeText()
    assert "Sign the record first (Record → Sign last session…, Ctrl+Shift+S)" in \
        box.informativeText()
    box.close()

    # The core is the authority too: a dialog opened on it anyway is refused inside.
    dialog = AddendumDialog(ws, sid, window)
    qtbot.waitUntil(lambda: dialog.ready, timeout=5_000)  # the record is read off the GUI thread
    dialog.text_edit.setPlainText("Calm.")
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert dialog.error().startswith(
        f"session {sid} is not signed: there is no signed record to amend")
    assert list_addenda(ws.store, sid) == [] and not is_signed(ws.store, sid)
    dialog.reject()


def test_nothing_ended_says_so(qtbot: QtBot, make_window: MakeWindow,
                               database: Database) -> None:
    add_users(database)
    window = make_window()
    window.workstation.sign_in("theo", PASSWORD)
    assert window.open_addendum_dialog() is None
    # The sessions are listed on a worker thread; then the message shows.
    qtbot.waitUntil(lambda: any(isinstance(w, QMessageBox) and w.isVisible()
                                for w in QApplication.topLevelWidgets()), timeout=5_000)
    box = message_box()
    assert box.text() == "there is no ended session to add to"
    box.close()


def test_an_addendum_changed_by_hand_is_named_by_the_badge(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    add_users(database)
    window = make_window()
    sid = signed_session(qtbot, window)
    switch_user(window, "theo")
    dialog = press_add_addendum(qtbot, window)
    dialog.text_edit.setPlainText("Calm.")
    dialog.password_edit.setText(PASSWORD)
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5_000)  # signed on a worker thread
    assert dialog.error() == ""
    dialog.accept()  # Close
    badge = window.record_badge
    qtbot.waitUntil(lambda: badge.state == "verified" and badge.report is not None,
                    timeout=5_000)

    with database.engine.begin() as conn:
        conn.execute(text("UPDATE addenda SET text = 'Agitated.' WHERE session_id = :sid"),
                     {"sid": sid})
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_V, SHIFT_CTRL)  # Check record again
    qtbot.waitUntil(lambda: badge.state == "invalid", timeout=5_000)
    assert badge.text().startswith(f"✖ INVALID #{sid}: ")
    assert "addenda row 1 changed: text 'Calm.' -> 'Agitated.'" in badge.text()
    assert "addenda row 1 changed" in badge.toolTip()
