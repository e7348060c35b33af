"""Who uses the workstation: the first-start administrator, sign-in, sign-out / switch user.

At start (:func:`sign_in_at_start`, called by ``ui.app.run_app`` before the window shows) a
database with no accounts asks for the administrator's account and signs them in; otherwise the
sign-in dialog asks for a user name and password. Every refusal is the core's message (one
"unknown user or wrong password" for both cases; a disabled account says so), shown inside the
dialog. Cancelling at start quits the app.

In the window, :class:`AccountControls` shows the signed-in user's printed name and role in the
status bar and adds the User menu: Sign out / switch user (Ctrl+Shift+L) and, for an
administrator, Users… (Ctrl+Shift+U). The role rules stay the core's: what the operator's role
may not do is refused there with a :class:`PermissionDeniedError` whose message is shown; the
window only greys out Start / Reopen session for a signed-in user who cannot run sessions.
"""

from __future__ import annotations

import getpass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QWidget,
)

from katmonitor.accounts import AccountStore, Role, User
from katmonitor.base.errors import ConfigurationError, KatMonitorError, PermissionDeniedError
from katmonitor.policy import may_manage_users, may_run_sessions, require_user_manager
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import SubmitDialog, show_error

SWITCH_USER_SHORTCUT = "Ctrl+Shift+L"
USERS_SHORTCUT = "Ctrl+Shift+U"
SIGNED_OUT_TEXT = f"Not signed in — Sign in ({SWITCH_USER_SHORTCUT})"


def password_edit() -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


def user_text(user: User) -> str:
    """How the window names a user: printed name and role."""
    return f"{user.full_name} ({user.role.value})"


def os_user_name() -> str:
    """Who acknowledges alarms while nobody is signed in: the OS user, else "nurse"."""
    try:
        return getpass.getuser() or "nurse"
    except (KeyError, OSError):
        return "nurse"


class FirstStartDialog(SubmitDialog):
    """No accounts yet: create the administrator, who is then signed in."""

    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__("KAT Monitor — first start", parent)
        self.workstation = workstation
        self.user: User | None = None
        intro = QLabel(
            "This database has no accounts yet. Create the administrator account; the "
            "administrator then adds the nurses and therapists (User → Users…)."
        )
        intro.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("one word, e.g. admin")
        self.full_name_edit = QLineEdit()
        self.full_name_edit.setPlaceholderText("as printed with signatures")
        self.password_edit = password_edit()
        self.repeat_edit = password_edit()
        self.body.insertWidget(0, intro)
        self.form.addRow("&User name:", self.name_edit)
        self.form.addRow("&Printed full name:", self.full_name_edit)
        self.form.addRow("Pass&word:", self.password_edit)
        self.form.addRow("&Repeat password:", self.repeat_edit)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Create administrator")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Quit")

    def submit(self) -> None:
        accounts = AccountStore(self.workstation.database)
        if accounts.has_users():  # e.g. made meanwhile on another workstation
            raise ConfigurationError("accounts exist already",
                                     "quit and start KAT Monitor again to sign in")
        if not self.full_name_edit.text().strip():
            raise ConfigurationError("the printed full name is required",
                                     "it is printed with every signature")
        password = self.password_edit.text()
        if password != self.repeat_edit.text():
            self.repeat_edit.clear()
            self.repeat_edit.setFocus()
            raise ConfigurationError("the two passwords differ", "type the same password twice")
        self.user = accounts.add_user(self.name_edit.text(), Role.ADMINISTRATOR, password,
                                      self.full_name_edit.text())
        self.workstation.sign_in(self.user.name, password)


class SignInDialog(SubmitDialog):
    """User name and password; the workstation's sign-in decides."""

    def __init__(self, workstation: Workstation, parent: QWidget | None = None, *,
                 at_start: bool = False) -> None:
        super().__init__("Sign in — KAT Monitor", parent)
        self.workstation = workstation
        self.user: User | None = None
        where = QLabel(f"Workstation {workstation.name}")
        where.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.name_edit = QLineEdit()
        self.password_edit = password_edit()
        self.form.addRow(where)
        self.form.addRow("&User name:", self.name_edit)
        self.form.addRow("Pass&word:", self.password_edit)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Sign in")
        if at_start:
            self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Quit")

    def fill(self, name: str, password: str) -> None:
        self.name_edit.setText(name)
        self.password_edit.setText(password)

    def submit(self) -> None:
        try:
            self.user = self.workstation.sign_in(self.name_edit.text().strip(),
                                                 self.password_edit.text())
        except KatMonitorError:
            self.password_edit.clear()
            self.password_edit.setFocus()
            raise


def sign_in_at_start(workstation: Workstation, parent: QWidget | None = None) -> bool:
    """Run before the window shows: the first-start dialog if there are no accounts, else the
    sign-in dialog. True once someone is signed in; False if the user cancelled (quit)."""
    dialog: SubmitDialog
    if not AccountStore(workstation.database).has_users():
        dialog = FirstStartDialog(workstation, parent)
    else:
        dialog = SignInDialog(workstation, parent, at_start=True)
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    dialog.deleteLater()
    return accepted and workstation.operator is not None


class AccountControls:
    """The window's account parts: status-bar label, User menu, sign out / switch user."""

    def __init__(self, window: QMainWindow, workstation: Workstation) -> None:
        self.window = window
        self.workstation = workstation
        self.require_operator = False
        """Set by run_app: with nobody signed in, Start / Reopen session are greyed out."""
        self._shown: object = ()
        self.label = QLabel()
        self.label.setFont(theme.font(theme.BASE_PX, bold=True))
        window.statusBar().addPermanentWidget(self.label)

        self.switch_action = QAction("Sign &out / switch user…", window)
        self.switch_action.setShortcut(QKeySequence(SWITCH_USER_SHORTCUT))
        self.switch_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.switch_action.triggered.connect(lambda _=False: self.switch_user())
        self.users_action = QAction("&Users…", window)
        self.users_action.setShortcut(QKeySequence(USERS_SHORTCUT))
        self.users_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.users_action.setToolTip(f"Add and disable accounts (administrators, {USERS_SHORTCUT})")
        self.users_action.triggered.connect(lambda _=False: self.open_users())
        window.addAction(self.switch_action)
        window.addAction(self.users_action)
        self.menu = window.menuBar().addMenu("&User")
        self.menu.addAction(self.switch_action)
        self.menu.addAction(self.users_action)
        self.menu.addSeparator()
        self.refresh()

    @property
    def operator(self) -> User | None:
        return self.workstation.operator

    def refresh(self) -> None:
        """Cheap when nothing changed: called every frame by the window."""
        ws = self.workstation
        user = ws.operator
        training = ws.training
        self._grey_out_session_actions(user, training)
        key = (user, training, ws.locked)
        if key == self._shown:
            return
        self._shown = key
        if user is None:
            self.label.setText(SIGNED_OUT_TEXT)
            self.label.setStyleSheet(f"color: {theme.TECHNICAL_ALARM};")
            self.switch_action.setText("Sign &in…")
            self.switch_action.setToolTip(f"Sign in ({SWITCH_USER_SHORTCUT})")
        else:
            self.label.setText(f"Signed in: {user_text(user)}")
            self.label.setStyleSheet(f"color: {theme.TEXT};")
            self.switch_action.setText("Sign &out / switch user…")
            self.switch_action.setToolTip(
                f"Sign {user.name} out and let someone else sign in ({SWITCH_USER_SHORTCUT})"
            )
        self.users_action.setEnabled(may_manage_users(user))
        # Alarm acknowledgements and limit changes name the signed-in user; behind the lock
        # whoever answers an alarm is not known.
        self.window.user = (  # type: ignore[attr-defined]
            os_user_name() if user is None
            else f"at the locked window (signed in: {user.name})" if ws.locked else user.name
        )

    def _grey_out_session_actions(self, user: User | None, training: bool) -> None:
        blocked = self.require_operator if user is None else not may_run_sessions(user, training)
        if not blocked:
            return  # the session panel enables them by the session's state
        panel = getattr(self.window, "session_panel", None)
        for name in ("start_action", "reopen_action"):
            action = getattr(panel, name, None)
            if isinstance(action, QAction):
                action.setEnabled(False)

    def switch_user(self) -> SignInDialog:
        """Sign the operator out and ask who signs in (Cancel leaves nobody signed in; the
        monitor keeps running)."""
        self.workstation.sign_out()
        self.refresh()
        dialog = SignInDialog(self.workstation, self.window)
        dialog.finished.connect(lambda _result: self._changed())
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # window-modal, non-blocking
        return dialog

    def open_users(self) -> QDialog | None:
        from ui.users_dialog import UsersDialog

        try:
            require_user_manager(self.workstation.operator)
        except PermissionDeniedError as error:
            show_error(self.window, error)
            return None
        dialog = UsersDialog(self.workstation, self.window)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _changed(self) -> None:
        refresh = getattr(self.window, "refresh", None)
        if callable(refresh):
            refresh()
        else:
            self.refresh()
