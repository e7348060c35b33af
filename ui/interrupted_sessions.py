"""After the window opens: the interrupted sessions, each to resume or to close with a reason.

A session is interrupted when its recording stopped before it was ended: the app was killed,
the power failed, or the window was closed during it. The start finds them
(:func:`katmonitor.recovery.sessions_to_offer`: this workstation's, and any this start found
left recording elsewhere) and this dialog lists each with its client, start, last stored data
and why it stopped. **Resume** continues it here (``Workstation.reopen_session``: monitoring
and alarms at once); **Close with reason** ends it at its last data so it can be signed
(:func:`katmonitor.recovery.close_interrupted_session`, the same as ``katmonitor sessions close
ID --reason``; the reason is required and chained with who closed it); **Later** leaves them
as they are (Session → Reopen, or the CLI, still reach them).

Keyboard: the list has the focus (Up/Down choose), Alt+R resume, Alt+E reason, Enter in the
reason closes, Alt+C close, Esc later. The core decides and refuses; its message shows in the
dialog, which stays open.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from katmonitor.base.errors import KatMonitorError
from katmonitor.recovery import InterruptedSession, close_interrupted_session, sessions_to_offer
from katmonitor.workstation import Workstation
from ui import theme
from ui.background import run_in_background
from ui.dialogs import error_text, local_time_text

COLUMNS = ("Client", "Started", "Last data", "Workstation", "Why it stopped")
INTRO = ("These sessions stopped recording before they were ended. Resume one to continue "
         "monitoring it here, or close it with a reason so that it can be signed. "
         "Later leaves them as they are (Session → Reopen session… reaches them).")


RESUME_TIP = "Continue recording this session here: monitoring and alarms go on at once"
RESUME_ELSEWHERE_TIP = ("Recorded on another workstation: resume it there, or close it with a "
                        "reason")


def when_text(epoch_s: float | None) -> str:
    return "no data stored" if epoch_s is None else local_time_text(epoch_s, "%Y-%m-%d %H:%M:%S")


class InterruptedSessionsDialog(QDialog):
    handled = Signal(int, str)
    """A session was resumed ("resumed") or closed ("closed"): its id and what was done."""

    def __init__(self, workstation: Workstation, offered: list[InterruptedSession],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Interrupted sessions")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.workstation = workstation
        self.offered = list(offered)

        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAccessibleName("Interrupted sessions")
        self.table.currentCellChanged.connect(lambda *_: self._follow_selection())

        self.reason = QLineEdit()
        self.reason.setPlaceholderText('Why it was not ended, e.g. "power lost in room 1"')
        self.reason.setMaxLength(500)
        self.reason.returnPressed.connect(self.close_selected)
        reason_label = QLabel("R&eason for closing:")
        reason_label.setBuddy(self.reason)

        self.resume_button = QPushButton("&Resume")
        self.close_button = QPushButton("&Close with reason")
        self.close_button.setToolTip("End it at its last stored data, with the reason, so it "
                                     "can be signed")
        self.later_button = QPushButton("&Later")
        for button in (self.resume_button, self.close_button, self.later_button):
            button.setAutoDefault(False)  # Enter never resumes or closes by accident
        self.resume_button.clicked.connect(self.resume_selected)
        self.close_button.clicked.connect(self.close_selected)
        self.later_button.clicked.connect(self.reject)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {theme.ALARM};")

        reason_row = QHBoxLayout()
        reason_row.addWidget(reason_label)
        reason_row.addWidget(self.reason, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.close_button)
        buttons.addStretch(1)
        buttons.addWidget(self.later_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(reason_row)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(900, 360)
        self._fill()
        self.table.setFocus()

    # -- the list ----------------------------------------------------------------------------

    def _fill(self) -> None:
        self.table.setRowCount(len(self.offered))
        for row, item in enumerate(self.offered):
            s = item.session
            cells = (s.client_id + (" (training)" if s.training else ""),
                     when_text(s.started_at), when_text(item.last_data_at),
                     s.workstation + ("" if item.here else " (another workstation)"), item.why)
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        if self.offered:
            self.table.selectRow(0)
            self.table.setCurrentCell(0, 0)
        self._follow_selection()

    def rows(self) -> list[tuple[str, ...]]:
        """The cells as shown (for tests)."""
        def text(row: int, column: int) -> str:
            item = self.table.item(row, column)
            return item.text() if item is not None else ""

        return [tuple(text(r, c) for c in range(len(COLUMNS)))
                for r in range(self.table.rowCount())]

    def selected(self) -> InterruptedSession | None:
        row = self.table.currentRow()
        return self.offered[row] if 0 <= row < len(self.offered) else None

    def select_session(self, session_id: int) -> None:
        for row, item in enumerate(self.offered):
            if item.session.id == session_id:
                self.table.setCurrentCell(row, 0)

    def _follow_selection(self) -> None:
        item = self.selected()
        self.resume_button.setEnabled(item is not None and item.here
                                      and not self.workstation.recording)
        self.resume_button.setToolTip(
            RESUME_ELSEWHERE_TIP if item is not None and not item.here else RESUME_TIP)
        self.close_button.setEnabled(item is not None)

    # -- actions -----------------------------------------------------------------------------

    def error(self) -> str:
        return self.message.text()

    def resume_selected(self) -> bool:
        item = self.selected()
        if item is None or not item.here:
            return False
        try:
            self.workstation.reopen_session(item.session.id)
        except KatMonitorError as error:
            self.message.setText(error_text(error))
            return False
        self._done(item, "resumed")
        return True

    def close_selected(self) -> bool:
        item = self.selected()
        if item is None:
            return False
        operator = self.workstation.operator
        try:
            close_interrupted_session(
                self.workstation.store, item.session.id, self.reason.text(),
                self.workstation.clock.now(),
                closed_by=operator.name if operator is not None else "",
            )
        except KatMonitorError as error:
            self.message.setText(error_text(error))
            self.reason.setFocus()
            return False
        self._done(item, "closed")
        return True

    def _done(self, item: InterruptedSession, what: str) -> None:
        self.message.setText("")
        self.reason.clear()
        self.offered.remove(item)
        self.handled.emit(item.session.id, what)
        if not self.offered:
            self.accept()
            return
        self._fill()
        self.table.setFocus()


class InterruptedSessionsOffer(QObject):
    """Looks for interrupted sessions off the GUI thread and, if there are any, opens the
    dialog over the window (window-modal: the monitor keeps running behind it). A child of the
    window, so a result that arrives after the window is gone is dropped."""

    shown = Signal(object)
    """The dialog was opened (the InterruptedSessionsDialog)."""

    def __init__(self, window: QWidget, workstation: Workstation) -> None:
        super().__init__(window)
        self.window = window
        self.workstation = workstation
        self.dialog: InterruptedSessionsDialog | None = None

    def look(self) -> None:
        ws = self.workstation
        store, name, recovered = ws.store, ws.name, list(ws.recovered)
        run_in_background(lambda: sessions_to_offer(store, name, recovered), self._found,
                          self._failed)

    def _found(self, offered: list[InterruptedSession]) -> None:
        if not offered:
            return
        dialog = InterruptedSessionsDialog(self.workstation, offered, self.window)
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        self.shown.emit(dialog)

    def _failed(self, _error: Exception) -> None:
        """The database cannot be read now: the recorder's technical alarm says so, and
        Session → Reopen session… still reaches the sessions later."""


def offer_interrupted_sessions(window: QWidget, workstation: Workstation
                               ) -> InterruptedSessionsOffer:
    """After the window opens: offer each interrupted session for resuming or closing."""
    offer = InterruptedSessionsOffer(window, workstation)
    offer.look()
    return offer
