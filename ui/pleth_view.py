"""The pleth waveform, sweeping left to right like a bedside monitor.

A fixed window (SWEEP_S) is overwritten from the left; just ahead of the newest point an erase
gap separates the new trace from the previous sweep. Points are shown a little after they
arrive (DISPLAY_LAG_S) and the write position advances on the monotonic clock, so the sweep
moves smoothly although the device delivers blocks ten times a second.

When the waveform is stale (the core's freshness rule) the trace is removed and a flat line
with "NO PLETH" is shown: an old trace must never look live.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from katmonitor.base.vitals import VitalKind, is_stale
from katmonitor.workstation import Workstation
from ui import theme
from ui.decimate import break_gaps

SWEEP_S = 7.0
ERASE_GAP_S = 0.3
DISPLAY_LAG_S = 0.25  # a bit more than one device block, so the sweep never waits for data
RESYNC_S = 0.5  # jump rather than drift when the display is this far off (start, pauses)
MAX_POINT_GAP_S = 0.05  # a hole in the waveform longer than this is drawn as a hole


class PlethView(QWidget):
    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workstation = workstation
        self.stale = True
        self._display_time: float | None = None
        self._display_mono = 0.0
        self._y_range = (0.0, 1.0)

        self.plot_widget = pg.PlotWidget(background=theme.BACKGROUND)
        plot = self.plot_widget.getPlotItem()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.setXRange(0.0, SWEEP_S, padding=0)
        plot.setYRange(*self._y_range, padding=0.05)
        self.plot = plot
        self.curve = pg.PlotCurveItem(pen=pg.mkPen(theme.PLETH, width=1), connect="finite")
        plot.addItem(self.curve)

        title = pg.TextItem("Pleth", color=theme.TEXT_DIM, anchor=(0, 0))
        title.setParentItem(plot.vb)
        title.setPos(4, 0)
        self.flat_line = pg.InfiniteLine(pos=0.5, angle=0, movable=False,
                                         pen=pg.mkPen(theme.STALE, width=1,
                                                      style=Qt.PenStyle.DashLine))
        self.no_signal = pg.TextItem("NO PLETH", color=theme.STALE, anchor=(0.5, 1.2))
        self.no_signal.setFont(theme.font(theme.HEADER_PX, bold=True))
        plot.addItem(self.flat_line)
        plot.addItem(self.no_signal)
        # Placed now too: until a first pleth point arrives the view starts out stale.
        self.no_signal.setPos(SWEEP_S / 2, sum(self._y_range) / 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self._show_stale(True)

    def refresh(self, now: float) -> None:
        buffers = self.workstation.buffers
        latest = buffers.latest_waveform_time(VitalKind.PLETH)
        stale = latest is None or is_stale(VitalKind.PLETH, latest, now)
        self._show_stale(stale)
        if stale or latest is None:
            self._display_time = None
            return
        shown_until = self._advance(latest)
        times, values = buffers.waveform(VitalKind.PLETH,
                                         since=shown_until - SWEEP_S + ERASE_GAP_S)
        count = int(np.searchsorted(times, shown_until, side="right"))
        times, values = break_gaps(times[:count], values[:count], MAX_POINT_GAP_S)
        x = np.mod(times, SWEEP_S)
        # Where the sweep wraps to the left edge, break the line (no stroke across the screen).
        wraps = np.flatnonzero(np.diff(x) < 0) + 1
        if wraps.shape[0]:
            x = np.insert(x, wraps, np.nan)
            values = np.insert(values, wraps, np.nan)
        self.curve.setData(x, values)
        self._fit_y(values)

    def _advance(self, latest: float) -> float:
        """The time of the newest point to draw: moves with the monotonic clock, trailing the
        newest data by DISPLAY_LAG_S, never ahead of it."""
        mono = time.monotonic()
        target = latest - DISPLAY_LAG_S
        if self._display_time is None:
            shown = target
        else:
            shown = self._display_time + (mono - self._display_mono)
            if abs(shown - target) > RESYNC_S:
                shown = target
            else:
                shown += 0.05 * (target - shown)  # follow the device's pace without jumps
        shown = min(shown, latest)
        self._display_time, self._display_mono = shown, mono
        return shown

    def _fit_y(self, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)]
        if finite.shape[0] < 2:
            return
        low, high = float(finite.min()), float(finite.max())
        span = max(high - low, 1e-6)
        current_low, current_high = self._y_range
        current_span = current_high - current_low
        # Rescale only when the trace leaves the range or shrinks a lot: a steady picture.
        if low < current_low or high > current_high or span < 0.5 * current_span:
            self._y_range = (low - 0.1 * span, high + 0.1 * span)
            self.plot.setYRange(*self._y_range, padding=0)

    def _show_stale(self, stale: bool) -> None:
        if stale == self.stale and self.flat_line.isVisible() == stale:
            return
        self.stale = stale
        self.flat_line.setVisible(stale)
        self.no_signal.setVisible(stale)
        if stale:
            self.curve.setData(np.empty(0), np.empty(0))
            middle = sum(self._y_range) / 2
            self.flat_line.setValue(middle)
            self.no_signal.setPos(SWEEP_S / 2, middle)
