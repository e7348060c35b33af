"""Dialogs for the session: start and reopen, and what every session dialog shares.

Each dialog collects input and hands it to the workstation; the core validates. If the core
refuses (a :class:`KatMonitorError`), its message and hint are shown inside the dialog, which
stays open so the nurse can correct the entry - nothing is recorded and no traceback is shown.
Dialogs are opened window-modal with ``open()`` (not ``exec()``), so tests can fill and accept
them directly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QDateTime, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from katmonitor.base.clock import Clock
from katmonitor.base.errors import KatMonitorError
from katmonitor.session import Route, Session
from katmonitor.workstation import Workstation
from ui import theme
from ui.theme import apply_theme

MEDICINES = ("Esketamine", "Ketamine")


def error_text(error: KatMonitorError) -> str:
    return f"{error.message}\n{error.hint}" if error.hint else error.message


def show_error(parent: QWidget, error: KatMonitorError, title: str = "KAT Monitor") -> QMessageBox:
    """A non-blocking warning box with the core's message and hint (never a traceback)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, error.message,
                      QMessageBox.StandardButton.Ok, parent)
    if error.hint:
        box.setInformativeText(error.hint)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def show_startup_error(error: KatMonitorError, title: str = "KAT Monitor cannot start") -> None:
    """Why the window cannot open (a bad device spec, a database that cannot be opened), in a
    message box the nurse sees even when the app was started from a launcher with no console.
    Waits until it is closed; creates the QApplication when there is none yet."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    apply_theme(app)
    box = QMessageBox(QMessageBox.Icon.Critical, title, error.message,
                      QMessageBox.StandardButton.Ok)
    if error.hint:
        box.setInformativeText(error.hint)
    box.exec()


def operator_label(workstation: Workstation) -> str:
    """The signed-in user as shown in the dialogs ("" when nobody is signed in)."""
    user = workstation.operator
    return "" if user is None else (user.full_name or user.name)


def to_qdatetime(epoch_s: float) -> QDateTime:
    return QDateTime.fromMSecsSinceEpoch(round(epoch_s * 1000))


def from_qdatetime(value: QDateTime) -> float:
    return value.toMSecsSinceEpoch() / 1000.0


def local_time_text(epoch_s: float, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(epoch_s).strftime(fmt)


def time_edit(epoch_s: float) -> QDateTimeEdit:
    edit = QDateTimeEdit(to_qdatetime(epoch_s))
    edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
    edit.setCalendarPopup(True)
    return edit


class LiveTimeEdit(QDateTimeEdit):
    """A time that follows the clock until the nurse changes it: an entry made while waiting
    (e.g. for the rest between spray devices) is recorded at the moment OK is pressed."""

    TICK_MS = 1000

    def __init__(self, clock: Clock) -> None:
        super().__init__(to_qdatetime(clock.now()))
        self.clock = clock
        self.edited = False
        self._following = False
        self.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        self.setCalendarPopup(True)
        self.dateTimeChanged.connect(self._changed)
        self._timer = QTimer(self)
        self._timer.setInterval(self.TICK_MS)
        self._timer.timeout.connect(self.follow)
        self._timer.start()

    def _changed(self) -> None:
        if not self._following:
            self.edited = True
            self._timer.stop()

    def follow(self) -> None:
        if self.edited:
            return
        self._following = True
        self.setDateTime(to_qdatetime(self.clock.now()))
        self._following = False

    def time_value(self) -> float:
        """The clock's time now, or the time the nurse entered."""
        return from_qdatetime(self.dateTime()) if self.edited else self.clock.now()


class SubmitDialog(QDialog):
    """A form whose OK hands the entry to the core; a refusal is shown in the dialog."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.form = QFormLayout()
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {theme.ALARM}; font-weight: bold;")
        self.error_label.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.body = QVBoxLayout(self)
        """The dialog's layout: the form, the refusal line, the buttons."""
        self.body.addLayout(self.form)
        self.body.addWidget(self.error_label)
        self.body.addWidget(self.buttons)

    def error(self) -> str:
        """The refusal shown, or "" (for tests)."""
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def submit(self) -> None:
        """Hand the entry to the core; raise KatMonitorError to refuse it."""
        raise NotImplementedError

    def show_refusal(self, error: KatMonitorError) -> None:
        self.error_label.setText(error_text(error))
        self.error_label.show()
        self.adjustSize()  # room for the message; the entry stays as it was

    def refused(self, error: KatMonitorError) -> None:
        """Called after a refusal is shown (e.g. to offer an override)."""

    def accept(self) -> None:
        self.error_label.hide()  # error() tells about this attempt only
        try:
            self.submit()
        except KatMonitorError as error:
            self.show_refusal(error)
            self.refused(error)
            return
        self.finish()

    def finish(self) -> None:
        """Close as accepted without submitting again."""
        super().accept()


class StartSessionDialog(SubmitDialog):
    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__("Start session", parent)
        self.workstation = workstation
        self.session: Session | None = None
        self.client_edit = QLineEdit()
        self.client_edit.setPlaceholderText("client identifier (no names)")
        self.medicine_combo = QComboBox()
        self.medicine_combo.setEditable(True)
        self.medicine_combo.addItems(MEDICINES)
        self.route_combo = QComboBox()
        for route in Route:
            self.route_combo.addItem(route.label, route)
        self.form.addRow("&Client:", self.client_edit)
        self.form.addRow("Planned &medicine:", self.medicine_combo)
        self.form.addRow("&Route:", self.route_combo)
        if workstation.training:
            note = QLabel("Training session: the monitor is simulated; the data are not clinical.")
            note.setWordWrap(True)
            note.setStyleSheet(f"color: {theme.TRAINING_BANNER};")
            self.form.addRow(note)

    def set_route(self, route: Route) -> None:
        self.route_combo.setCurrentIndex(self.route_combo.findData(route))

    def route(self) -> Route:
        return Route(self.route_combo.currentData())

    def submit(self) -> None:
        self.session = self.workstation.start_session(
            self.client_edit.text(), self.medicine_combo.currentText(), self.route()
        )


def session_summary(session: Session) -> str:
    return (f"#{session.id}  {session.client_id} · {session.medicine} · {session.route.label} · "
            f"started {local_time_text(session.started_at)} · {session.status.value}"
            + (" · training" if session.training else ""))


class ReopenDialog(SubmitDialog):
    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__("Reopen session", parent)
        self.workstation = workstation
        self.session: Session | None = None
        self.setMinimumWidth(620)
        self.list = QListWidget()
        for session in workstation.reopenable_sessions():
            item = QListWidgetItem(session_summary(session))
            item.setData(Qt.ItemDataRole.UserRole, session.id)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self.list.addItem("No interrupted sessions to reopen.")
            self.list.setEnabled(False)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.form.addRow(QLabel("Sessions left open when the app closed:"))
        self.form.addRow(self.list)

    def select_session(self, session_id: int) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == session_id:
                self.list.setCurrentRow(row)
                return
        raise ValueError(f"session {session_id} is not listed")

    def submit(self) -> None:
        item = self.list.currentItem()
        session_id = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if session_id is None:
            raise KatMonitorError("choose a session to reopen")
        self.session = self.workstation.reopen_session(int(session_id))


def confirm(parent: QWidget, title: str, text: str, detail: str,
            on_yes: Callable[[], None]) -> QMessageBox:
    """A non-blocking Yes/No question; ``on_yes`` runs only if the nurse confirms."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setInformativeText(detail)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    yes = box.button(QMessageBox.StandardButton.Yes)
    box.buttonClicked.connect(lambda button: on_yes() if button is yes else None)
    box.open()
    return box


def table_rows(table: QTableWidget) -> list[list[str]]:
    """A table's cells as shown, row by row (empty cells as "")."""
    return [
        [(item.text() if (item := table.item(r, c)) is not None else "")
         for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]
