"""The locked window, as the nurse meets it: F12 or the clinic's idle time locks it, the alarm
bar and the numerics go on and the alarm keys still work, every other action is greyed out,
and the banner's sign-in unlocks it - for the same nurse, or for the next one, who takes the
running session over. Real database, real window, offscreen, manual clock."""

from __future__ import annotations

from collections.abc import Callable

from account_helpers import add_account
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from vitals_feed import feed
from workflow_helpers import NURSE, NURSE_PASSWORD, sign_in_nurse

from katmonitor.accounts import AccountStore
from katmonitor.alarms.model import Priority
from katmonitor.base.clock import ManualClock
from katmonitor.base.vitals import VitalKind
from katmonitor.security_policy import SecurityPolicy
from katmonitor.session import WorkflowKind
from ui.main_window import MainWindow

MakeWindow = Callable[..., MainWindow]


def signed_in_window(make_window: MakeWindow) -> MainWindow:
    window = make_window([], clock=ManualClock(), audio=False, security=SecurityPolicy())
    sign_in_nurse(window.workstation)
    window.refresh()
    return window


def start_session(window: MainWindow) -> None:
    dialog = window.session_panel.start_session()
    dialog.client_edit.setText("C-1042")
    dialog.accept()
    assert dialog.error() == ""
    window.refresh()


def test_f12_locks_yet_alarms_are_shown_sounded_and_answered_behind_the_lock(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window = signed_in_window(make_window)
    start_session(window)
    assert window.session_panel.end_action.isEnabled()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_F12)
    window.refresh()
    ws = window.workstation
    assert ws.locked and window.lock.banner.isVisible()
    assert "Window locked" in window.lock.banner.title.text()
    assert window.lock.banner.name_edit.text() == NURSE
    # Nothing but the alarm keys: no ending the session, no limits, no devices, no sign-out.
    for action in (window.session_panel.end_action, window.limits_action,
                   window.devices_action, window.accounts.switch_action,
                   window.lock.lock_action):
        assert not action.isEnabled(), action.text()
    for action in (window.acknowledge_action, window.pause_action, window.history_action):
        assert action.isEnabled(), action.text()
    assert not window.session_panel.isEnabled() and window.alarm_bar.isEnabled()

    feed(window, VitalKind.SPO2, [86.0] * 15)
    window.refresh()
    assert any("SpO2 86" in text for text in window.alarm_bar.entry_texts())
    assert window.tiles[VitalKind.SPO2].isVisible()
    assert ws.audio_state().sounding is Priority.MEDIUM  # the tone plays behind the lock
    qtbot.keyClick(window, Qt.Key.Key_F2)  # F2 works for whoever is at the bedside
    [ack] = [e for e in ws.alarm_log() if e.event == "acknowledge"]
    assert ack.user == f"at the locked window (signed in: {NURSE})"
    assert ws.recording


def test_the_idle_time_locks_and_the_same_nurse_unlocks(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window = signed_in_window(make_window)
    ws = window.workstation
    assert isinstance(ws.clock, ManualClock)
    ws.clock.advance(9 * 60)
    window.refresh()
    assert not ws.locked
    qtbot.keyClick(window, Qt.Key.Key_Shift)  # activity postpones the lock
    ws.clock.advance(9 * 60)
    window.refresh()
    assert not ws.locked
    ws.clock.advance(61)
    window.refresh()
    assert ws.locked and window.lock.banner.isVisible()
    assert not window.session_panel.start_action.isEnabled()

    banner = window.lock.banner
    banner.password_edit.setText("wrong password")
    banner.unlock_button.click()
    assert banner.error() == "unknown user or wrong password"
    assert ws.locked and banner.password_edit.text() == ""
    qtbot.keyClicks(banner.password_edit, NURSE_PASSWORD)
    qtbot.keyClick(banner.password_edit, Qt.Key.Key_Return)
    assert not ws.locked and banner.isHidden()
    window.refresh()
    assert window.session_panel.start_action.isEnabled()
    assert window.session_panel.isEnabled()


def test_hand_over_lets_the_next_nurse_take_the_session_with_a_note(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window = signed_in_window(make_window)
    ws = window.workstation
    add_account(AccountStore(ws.database), "rn.kim", "nurse", NURSE_PASSWORD,
                full_name="Kim Roe, RN")
    start_session(window)
    assert window.lock.handover_action.isEnabled()
    window.lock.handover_action.trigger()
    banner = window.lock.banner
    assert ws.locked and banner.name_edit.text() == ""
    banner.name_edit.setText("rn.kim")
    banner.password_edit.setText(NURSE_PASSWORD)
    banner.note_edit.setText("client resting, discharge check at 13:40")
    banner.unlock_button.click()
    assert banner.error() == ""
    assert ws.operator is not None and ws.operator.name == "rn.kim"
    assert ws.responsible == "rn.kim"
    assert window.accounts.label.text() == "Signed in: Kim Roe, RN (nurse)"
    [handover] = [e for e in ws.workflow.events if e.kind is WorkflowKind.HANDOVER]
    assert handover.data["from"] == NURSE
    assert handover.data["note"] == "client resting, discharge check at 13:40"
