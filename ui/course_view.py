"""The course view: all clinical sessions of one client, as a small chart and a table.

Per session (oldest first): date, dose, peak systolic and diastolic after the first dose,
lowest SpO2, deepest MOAA/S, highest CADSS, alarms. The chart puts them side by side by
session number: blood pressure and SpO2 above, MOAA/S and CADSS below. Clicking a row (or
Enter) opens that session's timeline. Everything comes from :func:`katmonitor.review.course`,
read off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from katmonitor.review import CourseSession, course
from katmonitor.storage.store import SessionStore
from ui import theme
from ui.background import run_in_background

COLUMNS = ("#", "Date", "Dose mg", "Peak sys", "Peak dia", "Low SpO2", "Deepest MOAA/S",
           "Highest CADSS", "Alarms H/M/L+T")


def _text(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


class CourseView(QWidget):
    open_session = Signal(int)
    loaded = Signal()

    def __init__(self, store: SessionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.client_id = ""
        self.rows: list[CourseSession] = []
        self.title = QLabel()
        self.title.setStyleSheet(f"color: {theme.TEXT}; font-weight: bold; padding: 4px;")
        self.chart = pg.GraphicsLayoutWidget()
        self.chart.setBackground(theme.BACKGROUND)
        self.vitals = self.chart.addPlot(row=0, col=0)
        self.scores = self.chart.addPlot(row=1, col=0)
        self.scores.setXLink(self.vitals)
        for plot, label in ((self.vitals, "mmHg / %"), (self.scores, "MOAA/S · CADSS")):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setLabel("left", label, color=theme.TEXT_DIM)
            plot.addLegend(offset=(-10, 5))
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.cellClicked.connect(lambda row, _col: self._open(row))
        self.table.cellActivated.connect(lambda row, _col: self._open(row))
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.table, 1)

    def show_client(self, client_id: str) -> None:
        """Read the client's course off the GUI thread, then show it."""
        self.client_id = client_id
        self.title.setText(f"Course of client {client_id}: loading…")
        store = self.store
        run_in_background(lambda: course(store, client_id), self.set_rows, self._failed)

    def set_rows(self, rows: list[CourseSession]) -> None:
        self.rows = rows
        self.title.setText(f"Course of client {self.client_id}: {len(rows)} sessions "
                           "(click one to open its timeline)")
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            alarms = "/".join(str(r.alarms.get(p, 0)) for p in ("high", "medium", "low"))
            cells = (str(i + 1), datetime.fromtimestamp(r.session.started_at)
                     .strftime("%Y-%m-%d %H:%M"), _text(r.total_mg), _text(r.peak_systolic),
                     _text(r.peak_diastolic), _text(r.lowest_spo2), _text(r.deepest_moaas),
                     _text(r.highest_cadss), f"{alarms}+{r.technical_alarms}")
            for col, text in enumerate(cells):
                self.table.setItem(i, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._draw()
        self.loaded.emit()

    def _draw(self) -> None:
        for plot in (self.vitals, self.scores):
            plot.clear()
        x = np.arange(1, len(self.rows) + 1, dtype=float)
        ticks = [[(float(i), f"#{i}") for i in range(1, len(self.rows) + 1)]]
        for plot in (self.vitals, self.scores):
            plot.getAxis("bottom").setTicks(ticks)  # one tick per session

        def series(values: Sequence[float | None]) -> np.ndarray:
            return np.array([np.nan if v is None else float(v) for v in values])

        for plot, name, values, colour in (
            (self.vitals, "peak sys", [r.peak_systolic for r in self.rows], theme.NIBP),
            (self.vitals, "peak dia", [r.peak_diastolic for r in self.rows], theme.NIBP_BAR),
            (self.vitals, "low SpO2", [r.lowest_spo2 for r in self.rows], theme.SPO2),
            (self.scores, "MOAA/S", [r.deepest_moaas for r in self.rows],
             theme.MARKER_OBSERVATION),
            (self.scores, "CADSS", [r.highest_cadss for r in self.rows], theme.MARKER_DOSE),
        ):
            plot.plot(x, series(values), pen=pg.mkPen(colour), symbol="o", symbolSize=6,
                      symbolBrush=colour, symbolPen=None, name=name, connect="finite")

    def _failed(self, error: Exception) -> None:
        self.title.setText(f"Cannot read the course: {getattr(error, 'message', error)}")

    def _open(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.open_session.emit(self.rows[row].session.id)
