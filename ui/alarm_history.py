"""The session's alarm history: every onset, escalation, acknowledgement, pause, end and limit
change, read-only.

While a session records, the history is the stored record (``SessionStore.alarm_events``,
after a flush of the recorder so the last seconds are in); before a session, the pipeline's
in-memory ``alarm_log``.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
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

from katmonitor.alarms.model import AlarmEvent
from katmonitor.base.errors import KatMonitorError
from katmonitor.workstation import Workstation
from ui import theme
from ui.alarm_bar import PRIORITY_COLOURS

COLUMNS = ("Time", "Alarm", "Priority", "Event", "Value", "Limit", "Message", "User / reason")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def event_row(event: AlarmEvent) -> list[str]:
    """One table row as shown (local time)."""
    priority = (f"{event.priority.marker} {event.priority.label}"
                if event.priority is not None else "")
    who = " — ".join(part for part in (event.user, event.reason) if part)
    return [
        datetime.fromtimestamp(event.time).strftime("%H:%M:%S"),
        event.alarm_id,
        priority,
        event.event.replace("_", " "),
        _number(event.value),
        _number(event.limit),
        event.message,
        who,
    ]


def session_alarm_events(workstation: Workstation) -> list[AlarmEvent]:
    session_id = workstation.pipeline.recording_session_id
    if session_id is None:
        return list(workstation.pipeline.alarm_log)
    workstation.recorder.flush()  # the last quarter second of events is still queued
    return workstation.store.alarm_events(session_id)


class AlarmHistoryDialog(QDialog):
    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workstation = workstation
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
        refresh = buttons.addButton("&Refresh", QDialogButtonBox.ButtonRole.ActionRole)
        refresh.clicked.connect(self.reload)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.source_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.reload()

    def reload(self) -> None:
        try:
            events = session_alarm_events(self.workstation)
        except KatMonitorError as error:  # e.g. the database is unreachable
            self.error_label.setText(error.message)
            self.error_label.show()
            events = list(self.workstation.pipeline.alarm_log)
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

    def rows(self) -> list[list[str]]:
        """The table as shown, newest first (for tests)."""
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]
