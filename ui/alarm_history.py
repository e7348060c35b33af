"""The session's alarm history: every onset, escalation, acknowledgement, pause, end and limit
change, read-only.

While a session records, the history is the stored record (``Workstation.alarm_history``
flushes the recorder so the last seconds are in, then reads the database - on a worker thread,
the dialog shows "Loading…" meanwhile); before a session, the in-memory alarm log.

Alarms are shown by their plain names ("SpO2 low", "No alarm sound") and events in words
("escalated", "audio paused") from ``katmonitor.alarms.wording``; the message is the engine's
text of that moment - the same text, value and time as the "Recent onsets" list shows.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from katmonitor.alarms.model import LIMIT_CHANGED, AlarmEvent
from katmonitor.alarms.wording import alarm_name, event_word, format_limit, format_value
from katmonitor.base.errors import KatMonitorError
from katmonitor.workstation import Workstation
from ui import theme
from ui.alarm_bar import PRIORITY_COLOURS
from ui.background import run_in_background
from ui.dialogs import table_rows

COLUMNS = ("Time", "Alarm", "Priority", "Event", "Value", "Limit", "Message", "User / reason")


def _value(event: AlarmEvent) -> str:
    """The value as the tiles write it; a limit change's value is the old limit."""
    if event.value is None:
        return ""
    if event.event == LIMIT_CHANGED:
        return format_limit(event.value)
    return format_value(event.kind, event.value)


def event_row(event: AlarmEvent) -> list[str]:
    """One table row as shown (local time)."""
    priority = (f"{event.priority.marker} {event.priority.label}"
                if event.priority is not None else "")
    who = " — ".join(part for part in (event.user, event.reason) if part)
    return [
        datetime.fromtimestamp(event.time).strftime("%H:%M:%S"),
        ("⚠ " if event.technical else "") + alarm_name(event.alarm_id),
        priority,
        event_word(event.event),
        _value(event),
        "" if event.limit is None else format_limit(event.limit),
        event.message,
        who,
    ]


class AlarmHistoryDialog(QDialog):
    loaded = Signal()
    """The table shows the history just read."""

    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workstation = workstation
        self.busy = False
        self.setWindowTitle("Alarm history")
        self.resize(1100, 520)
        self.source_label = QLabel()
        self.source_label.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.error_label = QLabel()
        self.error_label.setStyleSheet(f"color: {theme.ALARM}; font-weight: bold;")
        self.error_label.hide()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)  # read-only
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.refresh_button = buttons.addButton("&Refresh",
                                                QDialogButtonBox.ButtonRole.ActionRole)
        self.refresh_button.clicked.connect(self.reload)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.source_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.reload()

    def reload(self) -> None:
        """Read the history on a worker thread; the table fills when it arrives."""
        if self.busy:
            return
        self.busy = True
        self.refresh_button.setEnabled(False)
        self.source_label.setText("Loading the alarm history…")
        run_in_background(self.workstation.alarm_history, self._show, self._failed)

    def _failed(self, error: Exception) -> None:
        if not isinstance(error, KatMonitorError):  # a bug: not hidden behind a message
            self._done()
            raise error
        self.error_label.setText(error.message)  # e.g. the database is unreachable
        self.error_label.show()
        self._show(self.workstation.alarm_log())

    def _done(self) -> None:
        self.busy = False
        self.refresh_button.setEnabled(True)

    def _show(self, events: list[AlarmEvent]) -> None:
        self._done()
        session = self.workstation.session
        self.source_label.setText(
            f"Session {session.id} (stored record), newest first" if self.workstation.recording
            and session is not None else "No session recording: alarms since the app started")
        self.table.setRowCount(len(events))
        for row, event in enumerate(reversed(events)):
            colour = PRIORITY_COLOURS.get(event.priority) if event.priority else None
            for column, text in enumerate(event_row(event)):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                if column == 2 and colour is not None:
                    item.setForeground(theme.colour(colour))
                self.table.setItem(row, column, item)
        self.loaded.emit()

    def rows(self) -> list[list[str]]:
        """The table as shown, newest first (for tests)."""
        return table_rows(self.table)
