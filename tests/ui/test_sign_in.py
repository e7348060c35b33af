"""Sign-in at the workstation: the first start creates the administrator, the sign-in dialog
refuses wrong passwords and disabled accounts with the core's message, the window shows who is
signed in, sign out / switch user, and the administrator's Users dialog. Real database, real
dialogs, offscreen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from account_helpers import AS_ADMIN, add_account
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QMainWindow
from pytestqt.qtbot import QtBot

from devices.registry import open_device
from katmonitor.accounts import AccountStore, Role
from katmonitor.base.errors import AuthenticationError
from katmonitor.storage.database import Database, open_database
from katmonitor.workstation import Workstation
from ui.app import run_app
from ui.main_window import MainWindow
from ui.sign_in import FirstStartDialog, SignInDialog, sign_in_at_start
from ui.users_dialog import UsersDialog

PASSWORD = "dosing-room-7"
FAST_SIM = "sim:normal?nibp_interval=5"
MakeWindow = Callable[..., MainWindow]


def add_user(database: Database, name: str, role: str, full_name: str) -> None:
    add_account(AccountStore(database), name, role, PASSWORD, full_name=full_name)


class DialogFeeder:
    """Answers the modal dialogs that ``exec()`` shows, one step per dialog, in order."""

    def __init__(self, steps: list[tuple[type[QDialog], Callable[[QDialog], None]]]) -> None:
        self.steps = list(steps)
        self.seen: list[str] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._poll)
        self.timer.start()

    def _poll(self) -> None:
        dialog = QApplication.activeModalWidget()
        if not self.steps or dialog is None or not dialog.isVisible():
            return
        kind, step = self.steps[0]
        if isinstance(dialog, kind):
            self.steps.pop(0)
            self.seen.append(type(dialog).__name__)
            step(dialog)
        if not self.steps:
            self.timer.stop()


def test_first_start_creates_the_administrator_and_signs_them_in(
        qtbot: QtBot, database: Database) -> None:
    workstation = Workstation(database, [open_device(FAST_SIM)])
    errors: list[str] = []

    def fill(dialog: QDialog) -> None:
        assert isinstance(dialog, FirstStartDialog)
        assert any("no accounts" in label.text() for label in dialog.findChildren(QLabel))
        dialog.name_edit.setText("admin")
        dialog.full_name_edit.setText("Ada Admin")
        dialog.password_edit.setText("short")
        dialog.repeat_edit.setText("short")
        dialog.accept()  # the password policy, shown in the dialog
        errors.append(dialog.error())
        dialog.password_edit.setText("long enough 1")
        dialog.repeat_edit.setText("long enough 2")
        dialog.accept()
        errors.append(dialog.error())
        assert dialog.isVisible() and workstation.operator is None
        dialog.repeat_edit.setText("long enough 1")
        dialog.accept()

    feeder = DialogFeeder([(FirstStartDialog, fill)])
    assert sign_in_at_start(workstation) is True
    assert feeder.seen == ["FirstStartDialog"]
    assert errors == ["the password must have at least 8 characters",
                      "the two passwords differ\ntype the same password twice"]
    assert workstation.operator is not None
    assert (workstation.operator.name, workstation.operator.full_name,
            workstation.operator.role) == ("admin", "Ada Admin", Role.ADMINISTRATOR)
    assert [u.name for u in AccountStore(database).list_users()] == ["admin"]


def test_sign_in_refuses_a_wrong_password_and_a_disabled_account(
        qtbot: QtBot, database: Database) -> None:
    add_user(database, "rn.lee", "nurse", "Lee Park, RN")
    add_user(database, "rn.old", "nurse", "Old Nurse, RN")
    AccountStore(database).disable_user("rn.old", **AS_ADMIN)
    workstation = Workstation(database, [open_device(FAST_SIM)])
    dialog = SignInDialog(workstation, at_start=True)
    qtbot.addWidget(dialog)
    dialog.show()

    for name in ("rn.lee", "nobody"):  # a wrong password and an unknown user: one message
        dialog.fill(name, "not my password")
        dialog.accept()
        assert dialog.error() == "unknown user or wrong password"
        assert dialog.isVisible() and workstation.operator is None
        assert dialog.password_edit.text() == ""  # typed again, not kept

    dialog.fill("rn.old", PASSWORD)
    dialog.accept()
    assert dialog.error() == "user 'rn.old' is disabled\nan administrator can enable a new account"
    assert workstation.operator is None

    dialog.fill("rn.lee", PASSWORD)
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert workstation.operator is not None and workstation.operator.full_name == "Lee Park, RN"


def test_cancel_at_sign_in_quits_cleanly_before_the_window_shows(
        qtbot: QtBot, database: Database) -> None:
    add_user(database, "rn.lee", "nurse", "Lee Park, RN")
    workstation = Workstation(database, [open_device(FAST_SIM)])
    try:
        feeder = DialogFeeder([(SignInDialog, lambda dialog: dialog.reject())])
        assert run_app(workstation) == 0
        assert feeder.seen == ["SignInDialog"]
        assert workstation.operator is None
        assert not any(isinstance(w, QMainWindow) and w.isVisible()
                       for w in QApplication.topLevelWidgets())
        assert workstation.device_statuses() == []  # the devices were never started
    finally:
        workstation.shutdown()


def test_run_app_signs_in_then_shows_who_is_signed_in(qtbot: QtBot, database: Database) -> None:
    add_user(database, "rn.lee", "nurse", "Lee Park, RN")
    workstation = Workstation(database, [open_device(FAST_SIM)])
    shown: list[str] = []

    def sign_in(dialog: QDialog) -> None:
        assert isinstance(dialog, SignInDialog)
        dialog.fill("rn.lee", PASSWORD)
        dialog.accept()

    def look_and_close() -> None:
        windows = [w for w in QApplication.topLevelWidgets()
                   if isinstance(w, MainWindow) and w.isVisible()]
        if not windows:
            return
        looking.stop()
        shown.append(windows[0].accounts.label.text())
        # Closing the last window ends app.exec() (calling exit() here would leave a Quit
        # event behind that ends every later test's event loop at once).
        windows[0].close_without_asking()

    looking = QTimer()
    looking.timeout.connect(look_and_close)
    looking.start(20)
    give_up = QTimer()  # never hang the test run
    give_up.setSingleShot(True)
    give_up.timeout.connect(lambda: QApplication.exit(3))
    give_up.start(15_000)
    try:
        feeder = DialogFeeder([(SignInDialog, sign_in)])
        assert run_app(workstation) == 0
    finally:
        give_up.stop()
        looking.stop()
        workstation.shutdown()
        # run_app deletes its window later: now, so it stays no later test's active window.
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert feeder.seen == ["SignInDialog"]
    assert shown == ["Signed in: Lee Park, RN (nurse)"]


CHILD = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from devices.registry import open_device
from katmonitor.storage.database import open_database
from katmonitor.workstation import Workstation
from ui.app import run_app

workstation = Workstation(open_database(sys.argv[1]), [open_device("sim:normal")])
app = QApplication(["katmonitor"])

def report():
    dialog = QApplication.activeModalWidget()
    if dialog is None:
        QTimer.singleShot(20, report)
    else:
        print("showing", type(dialog).__name__, flush=True)

QTimer.singleShot(0, report)
code = run_app(workstation)
print("exit", code, "operator", workstation.operator, flush=True)
sys.exit(code)
"""


def test_fresh_database_asks_for_the_administrator_and_sigterm_quits_cleanly(
        tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "fresh.sqlite3")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "KATMONITOR_DATA_DIR": str(tmp_path / "data")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == "showing FirstStartDialog\n", child.stderr.read() if child.stderr else line
        child.send_signal(signal.SIGTERM)
        stdout, stderr = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert stdout == "exit 0 operator None\n"
    assert not AccountStore(open_database(url)).has_users()


def test_sign_out_and_switch_user(qtbot: QtBot, make_window: MakeWindow,
                                  database: Database) -> None:
    add_user(database, "rn.lee", "nurse", "Lee Park, RN")
    add_user(database, "theo", "therapist", "Theo Grant, PhD")
    window = make_window()
    window.accounts.require_operator = True  # as run_app sets it
    workstation = window.workstation
    workstation.sign_in("rn.lee", PASSWORD)
    window.refresh()
    panel = window.session_panel
    assert window.accounts.label.text() == "Signed in: Lee Park, RN (nurse)"
    assert window.user == "rn.lee"
    assert panel.start_action.isEnabled()
    assert not window.accounts.users_action.isEnabled()  # not an administrator

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_L,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = window.findChild(SignInDialog)
    assert dialog is not None and dialog.isVisible()
    assert workstation.operator is None
    window.refresh()
    assert window.accounts.label.text().startswith("Not signed in")
    assert not panel.start_action.isEnabled()

    dialog.fill("theo", "wrong password")
    dialog.accept()
    assert dialog.error() == "unknown user or wrong password"
    dialog.fill("theo", PASSWORD)
    dialog.accept()
    assert not dialog.isVisible()
    assert window.accounts.label.text() == "Signed in: Theo Grant, PhD (therapist)"
    assert window.user == "theo"
    assert not panel.start_action.isEnabled()  # greyed out; the core is the authority:
    start = panel.start_session()
    start.client_edit.setText("C-77")
    start.accept()
    assert "theo is a therapist: only nurses run dosing sessions" in start.error()
    assert workstation.session is None
    start.reject()

    # Cancel leaves nobody signed in; the monitor keeps running.
    window.accounts.switch_user().reject()
    assert workstation.operator is None
    assert window.accounts.label.text().startswith("Not signed in")
    assert window.accounts.switch_action.text() == "Sign &in…"
    assert window.timer.isActive()


def test_administrator_adds_disables_enables_and_unlocks_users_with_her_password_each_time(
        qtbot: QtBot, make_window: MakeWindow, database: Database) -> None:
    add_user(database, "admin", "administrator", "Ada Admin")
    window = make_window()
    workstation = window.workstation
    assert window.accounts.open_users() is None  # nobody signed in: refused
    workstation.sign_in("admin", PASSWORD)
    window.refresh()
    assert window.accounts.users_action.isEnabled()
    assert not window.session_panel.start_action.isEnabled()  # administrators do not dose
    dialog = window.accounts.open_users()
    assert isinstance(dialog, UsersDialog) and dialog.isVisible()
    assert [row[:3] for row in dialog.rows()] == [
        ("admin", "Ada Admin", "administrator"), ("test.admin", "Test Admin", "administrator")]
    assert dialog.password_edit.placeholderText() == "at least 8 characters"  # rule shown first

    dialog.name_edit.setText("rn.lee")
    dialog.full_name_edit.setText("Lee Park, RN")
    dialog.role_combo.setCurrentIndex(dialog.role_combo.findData(Role.NURSE))
    dialog.password_edit.setText(PASSWORD)
    dialog.repeat_edit.setText(PASSWORD)
    dialog.add_button.click()  # no administrator password typed
    assert dialog.message().startswith("type your administrator password for this change")
    dialog.admin_password_edit.setText("not my password")
    dialog.add_button.click()
    assert dialog.message() == "unknown user or wrong password"
    assert len(dialog.rows()) == 2
    dialog.password_edit.setText("short")
    dialog.repeat_edit.setText("short")
    dialog.admin_password_edit.setText(PASSWORD)
    dialog.add_button.click()
    assert dialog.message() == "the password must have at least 8 characters"
    dialog.password_edit.setText(PASSWORD)
    dialog.repeat_edit.setText(PASSWORD)
    dialog.add_button.click()  # the administrator password was used up by the last attempt
    assert dialog.message().startswith("type your administrator password")
    dialog.admin_password_edit.setText(PASSWORD)
    dialog.add_button.click()
    assert dialog.message() == "Added rn.lee (Lee Park, RN, nurse)."
    assert dialog.admin_password_edit.text() == ""  # asked again for the next change
    assert ("rn.lee", "Lee Park, RN", "nurse", "active") in [r[:4] for r in dialog.rows()]

    dialog.select_user("admin")
    dialog.admin_password_edit.setText(PASSWORD)
    dialog.disable_button.click()
    assert dialog.message() == "you cannot disable your own account while signed in"
    dialog.select_user("rn.lee")
    dialog.admin_password_edit.setText(PASSWORD)
    dialog.disable_button.click()
    assert dialog.message().startswith("Disabled rn.lee")
    assert ("rn.lee", "Lee Park, RN", "nurse", "disabled") in [r[:4] for r in dialog.rows()]

    # Five wrong passwords lock the account; the dialog shows it and unlocks it.
    dialog.select_user("rn.lee")
    dialog.admin_password_edit.setText(PASSWORD)
    dialog.enable_button.click()
    assert dialog.message() == "Enabled rn.lee."
    accounts = workstation.accounts()
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            accounts.authenticate("rn.lee", "wrong password")
    dialog.reload()
    [status] = [r[3] for r in dialog.rows() if r[0] == "rn.lee"]
    assert status.startswith("locked until ")
    dialog.select_user("rn.lee")
    dialog.admin_password_edit.setText(PASSWORD)
    dialog.unlock_button.click()
    assert dialog.message() == "Unlocked rn.lee: they can sign in again."
    assert accounts.authenticate("rn.lee", PASSWORD).name == "rn.lee"
    actions = [(e.user, e.action, e.target, e.outcome) for e in accounts.access_log.entries()]
    assert ("admin", "account_add", "rn.lee", "failed") in actions  # wrong admin password
    assert ("admin", "account_add", "rn.lee", "ok") in actions
    assert ("admin", "account_unlock", "rn.lee", "ok") in actions
    dialog.select_user("rn.lee")
    dialog.admin_password_edit.setText(PASSWORD)
    dialog.disable_button.click()
    dialog.reject()

    switch = window.accounts.switch_user()
    switch.fill("rn.lee", PASSWORD)
    switch.accept()
    assert switch.error().startswith("user 'rn.lee' is disabled")
    assert workstation.operator is None
