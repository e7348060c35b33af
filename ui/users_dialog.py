"""Users… (administrators): the accounts; add one with a role; disable, enable or unlock one.

Small on purpose; password resets and role changes stay in ``katmonitor users``. Every change
needs the administrator's own password again, typed for that change and cleared after it (a
window left signed in as an administrator does not let a passer-by add a "nurse"); the core
checks it (:class:`katmonitor.accounts.AccountStore`), counts a wrong one towards the lockout
and logs the change. Refusals (the password policy, a name taken, a printed name already used,
the last administrator) are shown inside the dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from katmonitor.accounts import MIN_PASSWORD_LENGTH, Role, User
from katmonitor.base.errors import ConfigurationError, KatMonitorError
from katmonitor.policy import require_user_manager
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import error_text, table_rows

COLUMNS = ("User name", "Printed name", "Role", "Status", "Created")
PASSWORD_RULE = f"at least {MIN_PASSWORD_LENGTH} characters"


class UsersDialog(QDialog):
    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Users")
        self.setMinimumWidth(720)
        self.workstation = workstation
        self.accounts = workstation.accounts()
        self.users: list[User] = []

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.disable_button = QPushButton("&Disable")
        self.disable_button.clicked.connect(lambda _=False: self._run(self.disable_selected))
        self.enable_button = QPushButton("E&nable")
        self.enable_button.clicked.connect(lambda _=False: self._run(self.enable_selected))
        self.unlock_button = QPushButton("Un&lock")
        self.unlock_button.setToolTip("Lift a lockout after too many wrong passwords")
        self.unlock_button.clicked.connect(lambda _=False: self._run(self.unlock_selected))
        self.admin_password_edit = QLineEdit()
        self.admin_password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.admin_password_edit.setPlaceholderText("asked again for every change")

        self.name_edit = QLineEdit()
        self.full_name_edit = QLineEdit()
        self.full_name_edit.setPlaceholderText("as printed with signatures, e.g. Lee Park, RN")
        self.role_combo = QComboBox()
        for role in (Role.NURSE, Role.THERAPIST, Role.TRAINEE, Role.ADMINISTRATOR):
            self.role_combo.addItem(role.value, role)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText(PASSWORD_RULE)
        self.repeat_edit = QLineEdit()
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.add_button = QPushButton("&Add user")
        self.add_button.clicked.connect(lambda _=False: self._run(self.add_user))
        form = QFormLayout()
        form.addRow("User &name:", self.name_edit)
        form.addRow("&Printed full name:", self.full_name_edit)
        form.addRow("&Role:", self.role_combo)
        form.addRow("Pass&word:", self.password_edit)
        form.addRow("R&epeat password:", self.repeat_edit)
        form.addRow(self.add_button)
        add_box = QGroupBox("Add a user")
        add_box.setLayout(form)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.hide()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(QLabel("Selected user:"))
        row.addWidget(self.disable_button)
        row.addWidget(self.enable_button)
        row.addWidget(self.unlock_button)
        row.addStretch(1)
        admin_form = QFormLayout()
        admin_form.addRow("Your administrator pass&word:", self.admin_password_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(add_box)
        layout.addLayout(admin_form)
        layout.addWidget(self.message_label)
        layout.addWidget(close)
        self._run(self.reload)

    # -- what is shown -----------------------------------------------------------------------

    def reload(self) -> None:
        self.users = self.accounts.list_users()
        self.table.setRowCount(len(self.users))
        for row, user in enumerate(self.users):
            created = datetime.fromtimestamp(user.created_at).strftime("%Y-%m-%d")
            cells = (user.name, user.full_name, user.role.value, self._status(user), created)
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _status(self, user: User) -> str:
        if user.disabled:
            return "disabled"
        until = user.locked_until
        if until is not None and until > self.accounts.clock():
            return f"locked until {datetime.fromtimestamp(until).strftime('%H:%M')}"
        return "active"

    def rows(self) -> list[tuple[str, ...]]:
        """The table as shown (for tests)."""
        return [tuple(row) for row in table_rows(self.table)]

    def message(self) -> str:
        return self.message_label.text() if not self.message_label.isHidden() else ""

    def select_user(self, name: str) -> None:
        for row, user in enumerate(self.users):
            if user.name == name:
                self.table.selectRow(row)
                return
        raise ValueError(f"user {name!r} is not listed")

    # -- actions -----------------------------------------------------------------------------

    def add_user(self) -> str:
        operator = self._require_administrator()
        if not self.full_name_edit.text().strip():
            raise ConfigurationError("the printed full name is required",
                                     "it is printed with every signature")
        if self.password_edit.text() != self.repeat_edit.text():
            raise ConfigurationError("the two passwords differ", "type the same password twice")
        role = Role(self.role_combo.currentData())
        user = self.accounts.add_user(self.name_edit.text(), role, self.password_edit.text(),
                                      self.full_name_edit.text(), **self._as(operator))
        for edit in (self.name_edit, self.full_name_edit, self.password_edit, self.repeat_edit):
            edit.clear()
        return f"Added {user.name} ({user.full_name}, {user.role.value})."

    def disable_selected(self) -> str:
        operator = self._require_administrator()
        user = self._selected("disable")
        if user.name == operator.name:
            raise ConfigurationError("you cannot disable your own account while signed in")
        if user.disabled:
            return f"{user.name} is already disabled."
        self.accounts.disable_user(user.name, **self._as(operator))
        return f"Disabled {user.name}: they can no longer sign in or sign records."

    def enable_selected(self) -> str:
        operator = self._require_administrator()
        user = self._selected("enable")
        if not user.disabled:
            return f"{user.name} is already enabled."
        self.accounts.enable_user(user.name, **self._as(operator))
        return f"Enabled {user.name}."

    def unlock_selected(self) -> str:
        operator = self._require_administrator()
        user = self._selected("unlock")
        self.accounts.unlock_user(user.name, **self._as(operator))
        return f"Unlocked {user.name}: they can sign in again."

    def _selected(self, what: str) -> User:
        row = self.table.currentRow()
        if row < 0 or row >= len(self.users):
            raise ConfigurationError(f"select the user to {what}")
        return self.users[row]

    def _as(self, operator: User) -> dict[str, str]:
        """The administrator's credentials for one change; the password field is emptied so
        the next change asks again."""
        password = self.admin_password_edit.text()
        self.admin_password_edit.clear()
        if not password:
            self.admin_password_edit.setFocus()
            raise ConfigurationError("type your administrator password for this change",
                                     "it is asked again for every change to an account")
        return {"admin": operator.name, "admin_password": password}

    def _require_administrator(self) -> User:
        return require_user_manager(self.workstation.acting_operator())

    def _run(self, action: Callable[[], object]) -> None:
        try:
            done = action()
            if action is not self.reload:
                self.reload()
        except KatMonitorError as error:
            self._show(error_text(error), theme.ALARM)
            return
        if isinstance(done, str):
            self._show(done, theme.TEXT)

    def _show(self, text: str, colour: str) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet(f"color: {colour}; font-weight: bold;")
        self.message_label.show()
