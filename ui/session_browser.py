"""The session browser: every recorded session, searchable as you type, one Enter to open.

Columns: date, client, nurse (who gave the first dose), route, dose, status, peak systolic,
lowest SpO2, alarms by priority (high/medium/low, technical after a "+"). The list is read once
(:func:`katmonitor.storage.review_queries.session_overviews`, off the GUI thread); searching
and the filters (date range, client, nurse, route, status) then work on the rows in memory, so
typing never waits on the database. Training sessions are never among the clinical ones: the
"Training sessions" switch shows them instead, under a marked banner.

Status: recording, interrupted, ended, signed, "signature invalid" (signed, but the record no
longer matches its signature) or "signature not trusted" (intact, signed with a key this clinic
does not trust). The list shows "signed" at once; checking a signature reads the whole record,
so after each load the signed sessions are verified a few at a time off the GUI thread
(:func:`katmonitor.review.signature_statuses`), newest first, and their rows change when the
answer comes; opening a session checks it again and tells the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from katmonitor.review import signature_statuses
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.database import Database
from katmonitor.storage.review_queries import SessionOverview, session_overviews
from katmonitor.storage.store import SessionStore
from ui import theme
from ui.background import run_in_background

COLUMNS = ("Date", "Client", "Nurse", "Route", "Dose", "Status", "Peak sys", "Low SpO2",
           "Alarms H/M/L+T")
STATUS_LABELS = ("recording", "interrupted", "ended", "signed", "signature invalid",
                 "signature not trusted")
SIGNATURE_LABELS = {"invalid": "signature invalid", "untrusted": "signature not trusted"}
"""A signed session's status by its signature's check; verified (or not checked yet): signed."""
VERIFY_BATCH = 8
"""Signed sessions verified per background task (each reads its whole record)."""
STATUS_COLUMN = 5
ANY = "any"
NO_DATE = QDate(2000, 1, 1)
ROOT = QModelIndex()
DISPLAY = 0  # Qt.ItemDataRole.DisplayRole as the plain int Qt passes


def status_label(row: SessionOverview, signature: str = "") -> str:
    """``signature``: the signature's checked status ("" while not checked)."""
    if row.signed:
        return SIGNATURE_LABELS.get(signature, "signed")
    return {SessionStatus.ACTIVE: "recording", SessionStatus.INTERRUPTED: "interrupted",
            SessionStatus.ENDED: "ended"}[row.session.status]


@dataclass(frozen=True, slots=True)
class BrowserRow:
    overview: SessionOverview
    cells: tuple[str, ...]
    day: date
    route: str
    status: str
    haystack: str
    """Every cell in lower case: what search-as-you-type looks in."""

    @classmethod
    def of(cls, o: SessionOverview, signature: str = "") -> BrowserRow:
        s = o.session
        started = datetime.fromtimestamp(s.started_at)
        dose = "-" if not o.dose_count else f"{o.total_mg or 0:g} mg ({o.dose_count})"
        alarms = "/".join(str(o.alarms[p]) for p in ("high", "medium", "low"))
        cells = (
            started.strftime("%Y-%m-%d %H:%M"), s.client_id, o.nurse, s.route.value, dose,
            status_label(o, signature),
            "-" if o.peak_systolic is None else f"{o.peak_systolic:.0f}",
            "-" if o.lowest_spo2 is None else f"{o.lowest_spo2:.0f}",
            f"{alarms}+{o.technical_alarms}",
        )
        return cls(o, cells, started.date(), s.route.value, status_label(o, signature),
                   " ".join(cells).lower())


class SessionTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[BrowserRow] = []

    def set_rows(self, rows: list[BrowserRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def replace_rows(self, changed: dict[int, BrowserRow]) -> None:
        """Put changed rows (by session id) in place, without resetting the view."""
        for i, row in enumerate(self.rows):
            new = changed.get(row.overview.session.id)
            if new is not None:
                self.rows[i] = new
                cell = self.index(i, STATUS_COLUMN)
                self.dataChanged.emit(cell, cell)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> object:
        # Called for every role of every visible cell: the cheapest test first.
        if role != DISPLAY:
            return None
        return self.rows[index.row()].cells[index.column()]

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


class SessionTable(QTableView):
    activated_row = Signal(int)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.activated_row.emit(self.currentIndex().row())
            return
        super().keyPressEvent(event)


class SessionBrowser(QWidget):
    open_session = Signal(int)
    """A session was chosen (Enter or double-click): its id."""
    loaded = Signal()
    signatures_checked = Signal()
    """Every signed session of the list has been verified."""

    def __init__(self, database: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.database = database
        self.all_rows: list[BrowserRow] = []
        self.signatures: dict[int, str] = {}
        """Signature statuses checked so far (session id -> verified/invalid/untrusted)."""
        self._to_verify: list[int] = []
        self._generation = 0
        """Counts loads: a verification batch of an older list is dropped."""
        self.error = ""
        self._filtered_by: tuple[str, tuple[object, ...]] | None = None
        """The search text and filters of the rows shown."""

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search client, nurse, route, status, date…")
        self.search.setClearButtonEnabled(True)
        self.date_from = self._date_edit()
        self.date_to = self._date_edit()
        self.route = QComboBox()
        self.route.addItems([ANY, *(r.value for r in Route)])
        self.status = QComboBox()
        self.status.addItems([ANY, *STATUS_LABELS])
        self.training = QCheckBox("Training sessions")
        self.training.setToolTip("Show the training (simulated) sessions instead of the "
                                 "clinical ones")
        self.banner = QLabel("TRAINING SESSIONS - simulated devices, not clinical records")
        self.banner.setStyleSheet(f"background: {theme.TRAINING_BANNER}; "
                                  f"color: {theme.TRAINING_TEXT}; padding: 3px; font-weight: bold;")
        self.banner.setVisible(False)
        self.count = QLabel("Loading sessions…")
        self.count.setStyleSheet(f"color: {theme.TEXT_DIM};")

        self.model = SessionTableModel()
        self.table = SessionTable()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        rows = self.table.verticalHeader()
        rows.setVisible(False)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # 10,000 rows: no per-row sizing
        rows.setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setDefaultSectionSize(120)
        self.table.setColumnWidth(0, self.fontMetrics().horizontalAdvance("2026-12-31 23:59") + 16)
        self.table.doubleClicked.connect(lambda index: self._open_row(index.row()))
        self.table.activated_row.connect(self._open_row)

        filters = QHBoxLayout()
        for label, widget in (("From", self.date_from), ("to", self.date_to),
                              ("Route", self.route), ("Status", self.status)):
            filters.addWidget(QLabel(label))
            filters.addWidget(widget)
        filters.addWidget(self.training)
        filters.addStretch(1)
        filters.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.search)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)

        self.search.textChanged.connect(self.apply_filters)
        self.search.returnPressed.connect(self._open_first)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(self.apply_filters)
        self.route.currentIndexChanged.connect(self.apply_filters)
        self.status.currentIndexChanged.connect(self.apply_filters)
        self.training.toggled.connect(self._training_toggled)

    @staticmethod
    def _date_edit() -> QDateEdit:
        edit = QDateEdit()
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setMinimumDate(NO_DATE)
        edit.setSpecialValueText(ANY)  # shown at the minimum date: no bound
        edit.setDate(NO_DATE)
        return edit

    # -- loading ---------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the list again (off the GUI thread)."""
        training = self.training.isChecked()
        self.count.setText("Loading sessions…")
        database = self.database
        run_in_background(lambda: session_overviews(database, training=training),
                          self._loaded, self._failed)

    def set_overviews(self, overviews: list[SessionOverview]) -> None:
        self.all_rows = [BrowserRow.of(o, self.signatures.get(o.session.id, ""))
                         for o in overviews]
        self.apply_filters()

    def _loaded(self, overviews: list[SessionOverview]) -> None:
        self.set_overviews(overviews)
        self.loaded.emit()
        self._generation += 1
        self._to_verify = [o.session.id for o in overviews if o.signed]
        self._verify_next()

    # -- signatures ------------------------------------------------------------------------------

    def _verify_next(self) -> None:
        """Verify the next few signed sessions off the GUI thread; one batch at a time, so a
        session being opened is not kept waiting behind all of them."""
        if not self._to_verify:
            self.signatures_checked.emit()
            return
        batch, self._to_verify = self._to_verify[:VERIFY_BATCH], self._to_verify[VERIFY_BATCH:]
        store, generation = SessionStore(self.database), self._generation
        run_in_background(lambda: (generation, signature_statuses(store, batch)),
                          self._verified, self._verify_failed)

    def _verified(self, result: tuple[int, dict[int, str]]) -> None:
        generation, statuses = result
        if generation != self._generation:
            return  # the list was read again since: its own checks are under way
        self.set_signatures(statuses)
        self._verify_next()

    def _verify_failed(self, _error: Exception) -> None:
        """The database went away: the rows keep "signed"; opening a session checks it."""
        self._to_verify = []

    def set_signatures(self, statuses: dict[int, str]) -> None:
        """Show these signature statuses (session id -> verify status) in their rows."""
        self.signatures.update(statuses)
        changed: dict[int, BrowserRow] = {}
        for i, row in enumerate(self.all_rows):
            sid = row.overview.session.id
            if sid in statuses:
                new = BrowserRow.of(row.overview, statuses[sid])
                if new.status != row.status:
                    self.all_rows[i] = changed[sid] = new
        if not changed:
            return
        if self.status.currentText() != ANY:
            self._filtered_by = None
            self.apply_filters()  # a row may enter or leave the status filter
        else:
            self.model.replace_rows(changed)

    def status_of(self, session_id: int) -> str | None:
        """The status shown for a session (None: not in the list)."""
        return next((r.status for r in self.all_rows if r.overview.session.id == session_id),
                    None)

    def _failed(self, error: Exception) -> None:
        self.error = str(getattr(error, "message", error))
        self.count.setText(f"Cannot read the sessions: {self.error}")

    def _training_toggled(self, on: bool) -> None:
        self.banner.setVisible(on)
        self.reload()

    # -- filtering -------------------------------------------------------------------------------

    def apply_filters(self) -> None:
        text = self.search.text().lower()
        start = self._date(self.date_from)
        end = self._date(self.date_to)
        route = self.route.currentText()
        status = self.status.currentText()
        others = (start, end, route, status, len(self.all_rows))
        # Typing on narrows what is shown already: look only there (the common keystroke).
        narrowing = (self._filtered_by is not None and self._filtered_by[1] == others
                     and text.startswith(self._filtered_by[0]))
        rows = self.model.rows if narrowing else self.all_rows
        for word in text.split():
            rows = [r for r in rows if word in r.haystack]
        if start is not None or end is not None:
            low, high = start or date.min, end or date.max
            rows = [r for r in rows if low <= r.day <= high]
        if route != ANY:
            rows = [r for r in rows if r.route == route]
        if status != ANY:
            rows = [r for r in rows if r.status == status]
        self._filtered_by = (text, others)
        self.model.set_rows(rows)
        if rows:
            self.table.selectRow(0)
        self.count.setText(f"{len(rows)} of {len(self.all_rows)} sessions")

    @staticmethod
    def _date(edit: QDateEdit) -> date | None:
        value = edit.date()
        return None if value == NO_DATE else date(value.year(), value.month(), value.day())

    def shown_ids(self) -> list[int]:
        return [r.overview.session.id for r in self.model.rows]

    # -- opening ---------------------------------------------------------------------------------

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self.model.rows):
            self.open_session.emit(self.model.rows[row].overview.session.id)

    def current_client(self) -> str | None:
        """The client of the selected row (for the course view)."""
        index = self.table.currentIndex()
        if not index.isValid() or index.row() >= len(self.model.rows):
            return None
        return self.model.rows[index.row()].overview.session.client_id

    def _open_first(self) -> None:
        current = self.table.currentIndex()
        self._open_row(current.row() if current.isValid() else 0)
