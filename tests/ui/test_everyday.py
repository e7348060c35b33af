"""Everyday use of the session panel and the dose dialogs: the session's total dose in the
window, "Reopen session" only when there is something to reopen, and the lot offered again for
the next device of a pack. Real Workstation and SQLite; the test's ManualClock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dosing_helpers import MIN, complete_predose, feed_vitals, sign_in_nurse, start_session
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from katmonitor.base.clock import ManualClock
from katmonitor.cli import main
from katmonitor.session import SessionStatus
from katmonitor.storage.store import SessionStore
from ui.main_window import MainWindow

MakeWindow = Callable[..., MainWindow]


def dosed_window(make_window: MakeWindow, clock: ManualClock, lot: str = "LOT-1") -> MainWindow:
    """A signed-in nurse's session, pre-dose steps done, one 28 mg device given."""
    window = make_window([], clock=clock, audio=False)
    ws = window.workstation
    sign_in_nurse(ws)
    start_session(window)
    complete_predose(ws)
    feed_vitals(ws)
    ws.add_dose(28.0, 1, lot)
    window.refresh()
    return window


def test_the_session_panel_shows_the_total_dose(make_window: MakeWindow) -> None:
    clock = ManualClock()
    window = make_window([], clock=clock, audio=False)
    panel = window.session_panel
    sign_in_nurse(window.workstation)
    start_session(window)
    window.refresh()
    assert "Total" not in panel.header_text() and panel.dose_total_label.isHidden()

    ws = window.workstation
    complete_predose(ws)
    feed_vitals(ws)
    ws.add_dose(28.0, 1, "LOT-1")
    window.refresh()
    assert panel.dose_total_label.text() == "Total 28 mg: 1 × 28 mg spray device"
    assert panel.dose_total_label.isVisible()
    clock.advance(5 * MIN + 1)
    ws.add_dose(28.0, 1, "LOT-1")
    window.refresh()
    assert panel.dose_total_label.text() == "Total 56 mg: 2 × 28 mg spray devices"
    assert "Total 56 mg: 2 × 28 mg spray devices" in panel.header_text()


def test_reopen_is_offered_only_when_a_session_was_interrupted(
        make_window: MakeWindow, database: object) -> None:
    clock = ManualClock()
    first = make_window([], clock=clock, audio=False)
    panel = first.session_panel
    assert not panel.reopen_action.isEnabled(), "nothing interrupted: nothing to reopen"
    sign_in_nurse(first.workstation)
    start_session(first)
    first.refresh()
    assert not panel.reopen_action.isEnabled()
    session = first.workstation.session
    assert session is not None
    first.close()  # leaves the session interrupted
    assert SessionStore(database).get_session(session.id).status is SessionStatus.INTERRUPTED  # type: ignore[arg-type]

    second = make_window([], clock=clock, audio=False)
    assert second.session_panel.reopen_action.isEnabled()
    dialog = second.session_panel.reopen_session()
    dialog.select_session(session.id)
    dialog.accept()
    assert dialog.error() == ""
    second.refresh()
    assert not second.session_panel.reopen_action.isEnabled(), "reopened: recording again"


def test_the_next_device_is_offered_the_last_lot_of_this_session(
        make_window: MakeWindow) -> None:
    clock = ManualClock()
    window = dosed_window(make_window, clock, lot="LOT-A7")
    dialog = window.session_panel.add_dose()
    assert dialog.lot_edit.text() == "LOT-A7", "the second device of the pack"
    dialog.lot_edit.setText("LOT-B2")  # a device from another pack
    clock.advance(5 * MIN + 1)
    dialog.accept()
    assert dialog.error() == ""
    nxt = window.session_panel.add_dose()
    assert nxt.lot_edit.text() == "LOT-B2", "the lot last given, not the first"
    nxt.reject()

    window.workstation.end_session()
    start_session(window, client="C-2001")
    fresh = window.session_panel.add_dose()
    assert fresh.lot_edit.text() == "", "a new session starts with no lot"
    fresh.reject()


def test_run_with_a_bad_device_spec_says_so_in_a_window(
        qtbot: QtBot, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Started from a launcher, nobody reads the console: the error is shown in a message box
    (and still printed, with exit status 2)."""
    seen: list[tuple[str, str]] = []

    def close_the_box() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append((box.text(), box.informativeText()))
            box.button(QMessageBox.StandardButton.Ok).click()
        else:
            QTimer.singleShot(20, close_the_box)

    QTimer.singleShot(0, close_the_box)
    code = main(["run", "--device", "foo:bar", "--db", f"sqlite:///{tmp_path / 'k.sqlite3'}"])
    assert code == 2
    assert len(seen) == 1, "one message box, closed by the nurse"
    message, hint = seen[0]
    assert message == "unknown device type 'foo' in 'foo:bar'"
    assert "sim:SCENARIO" in hint, "the hint lists the device types"
    assert "foo" in capsys.readouterr().err, "also on the console"
