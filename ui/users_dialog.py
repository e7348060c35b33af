"""Users… (administrators): the accounts, add one with a role, disable one.

Small on purpose; password resets and the rest stay in ``katmonitor users``. Each action checks
again that the signed-in user is an administrator, and refusals (the password policy, a name
taken, a disabled administrator disabling themselves) are shown inside the dialog.
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

from katmonitor.accounts import AccountStore, Role, User
from katmonitor.base.errors import ConfigurationError, KatMonitorError
from katmonitor.policy import require_user_manager
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import error_text, table_rows

COLUMNS = ("User name", "Printed name", "Role", "Status", "Created")


class UsersDialog(QDialog):
    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Users")
        self.setMinimumWidth(720)
        self.workstation = workstation
        self.accounts = AccountStore(workstation.database)
        self.users: list[User] = []

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.disable_button = QPushButton("&Disable selected user")
        self.disable_button.clicked.connect(lambda _=False: self._run(self.disable_selected))

        self.name_edit = QLineEdit()
        self.full_name_edit = QLineEdit()
        self.full_name_edit.setPlaceholderText("as printed with signatures, e.g. Lee Park, RN")
        self.role_combo = QComboBox()
        for role in (Role.NURSE, Role.THERAPIST, Role.TRAINEE, Role.ADMINISTRATOR):
            self.role_combo.addItem(role.value, role)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
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
        row.addStretch(1)
        row.addWidget(self.disable_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(add_box)
        layout.addWidget(self.message_label)
        layout.addWidget(close)
        self._run(self.reload)

    # -- what is shown -----------------------------------------------------------------------

    def reload(self) -> None:
        self.users = self.accounts.list_users()
        self.table.setRowCount(len(self.users))
        for row, user in enumerate(self.users):
            created = datetime.fromtimestamp(user.created_at).strftime("%Y-%m-%d")
            cells = (user.name, user.full_name, user.role.value,
                     "disabled" if user.disabled else "active", created)
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

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
        self._require_administrator()
        if not self.full_name_edit.text().strip():
            raise ConfigurationError("the printed full name is required",
                                     "it is printed with every signature")
        if self.password_edit.text() != self.repeat_edit.text():
            raise ConfigurationError("the two passwords differ", "type the same password twice")
        role = Role(self.role_combo.currentData())
        user = self.accounts.add_user(self.name_edit.text(), role, self.password_edit.text(),
                                      self.full_name_edit.text())
        for edit in (self.name_edit, self.full_name_edit, self.password_edit, self.repeat_edit):
            edit.clear()
        return f"Added {user.name} ({user.full_name}, {user.role.value})."

    def disable_selected(self) -> str:
        operator = self._require_administrator()
        row = self.table.currentRow()
        if row < 0 or row >= len(self.users):
            raise ConfigurationError("select the user to disable")
        user = self.users[row]
        if user.name == operator.name:
            raise ConfigurationError("you cannot disable your own account while signed in")
        if user.disabled:
            return f"{user.name} is already disabled."
        self.accounts.disable_user(user.name)
        return f"Disabled {user.name}: they can no longer sign in or sign records."

    def _require_administrator(self) -> User:
        return require_user_manager(self.workstation.operator)

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
