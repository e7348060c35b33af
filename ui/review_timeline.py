"""The review timeline: one recorded session on one shared time axis.

Rows, top to bottom: HR and pulse rate (lines), SpO2 (line), NIBP (systolic/diastolic bars and
symbols, mean as a dot: discrete readings, never a line), the pleth (drawn once the view is
short enough, min/max per pixel column from the full-resolution blocks), and an events strip:
alarm spans coloured by priority (physiological on the upper lane, technical apart below),
MOAA/S and CADSS values, notes and addenda. Doses and the other workflow steps are vertical
lines through every row; a recording gap (the recording stopped: app killed, power lost, app
closed during the session) is a grey hatched band through every row, from the last data before
it to the reopening (or to the end of the record), and the crosshair's readout says so inside
it.

The x axis is minutes since the first dose (the session's start when undosed); a toggle shows
clock time instead. Mouse: drag to pan, wheel to zoom (time only). Keys: Left/Right move the
crosshair, Shift+Left/Right pan, +/- zoom around the crosshair, 0 shows the whole session,
A/Shift+A next/previous alarm, D/Shift+D dose, N/Shift+N note. The crosshair reads the exact
stored values at or before its time (:meth:`katmonitor.review.SessionReview.value_at`).

Lines are reduced to min/max per pixel column at draw time (ui.decimate); the pleth window is
read from the store off the GUI thread when the view settles (ui.background).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent
from PySide6.QtWidgets import QGraphicsItem, QLabel, QVBoxLayout, QWidget

from katmonitor.alarms.model import Priority
from katmonitor.base.vitals import VitalKind, spec_of
from katmonitor.review import Category, SessionReview
from katmonitor.storage.series import TimeSeries
from ui import theme
from ui.background import run_in_background
from ui.decimate import break_gaps, minmax_decimate

PLETH_MAX_SPAN_S = 300.0
"""The pleth is drawn when the view spans at most this long (5 min: 30,000 points)."""
PLETH_SETTLE_MS = 60
LINE_GAP_S = 30.0
CURSOR_STEP_PX = 4
MIN_SPAN_S = 5.0
MARKER_REACH = 1e4
"""Event lines run from -MARKER_REACH to +MARKER_REACH: beyond every row's y range."""
PRIORITY_COLOURS = {
    Priority.HIGH: theme.ALARM_HIGH,
    Priority.MEDIUM: theme.ALARM_MEDIUM,
    Priority.LOW: theme.ALARM_LOW,
}
GAP_COLOUR = theme.TEXT_DIM
GAP_MIN_WIDTH_S = 3.0
"""A gap the record ends with (closed with a reason at its last data) is drawn this wide."""
LANE_ALARM, LANE_TECHNICAL, LANE_ASSESSMENT, LANE_NOTE = 3.0, 2.0, 1.0, 0.0
ROWS = ("hr", "spo2", "nibp", "pleth", "events")
ROW_TITLES = {"hr": "HR / PR bpm", "spo2": "SpO2 %", "nibp": "NIBP mmHg", "pleth": "Pleth",
              "events": ""}


class ReviewAxis(pg.AxisItem):
    """Minutes since the first dose, or the local clock time of those minutes."""

    def __init__(self) -> None:
        super().__init__(orientation="bottom")
        self.anchor = 0.0
        self.clock = False

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if not self.clock:
            return [f"{v:+.0f}" if spacing >= 1 else f"{v:+.1f}" for v in values]
        fmt = "%H:%M" if spacing >= 1 else "%H:%M:%S"
        return [datetime.fromtimestamp(self.anchor + v * 60.0).strftime(fmt) for v in values]


class ReviewTimeline(QWidget):
    cursor_moved = Signal(float)
    """The crosshair's time (epoch seconds)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.review: SessionReview | None = None
        self.cursor_time = 0.0
        self.redraw_count = 0
        self.pleth_points = 0
        """Points of the pleth drawn now (0: zoomed out too far, or none recorded)."""
        self._pleth_request = 0

        self.readout = QLabel(" ")
        self.readout.setStyleSheet(f"color: {theme.TEXT}; padding: 2px 6px;")
        self.readout.setTextFormat(Qt.TextFormat.PlainText)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(theme.BACKGROUND)
        self.graphics.ci.setSpacing(4)
        self.axis = ReviewAxis()
        self.plots: dict[str, pg.PlotItem] = {}
        for row, name in enumerate(ROWS):
            axes = {"bottom": self.axis} if name == "events" else {}
            plot = self.graphics.addPlot(row=row, col=0, axisItems=axes)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(x=True, y=False)
            plot.disableAutoRange()  # fixed y ranges: no data bounds computed on each pan
            # No grid: its alpha-blended lines over five plots were half of each pan's repaint.
            left = plot.getAxis("left")
            left.setWidth(56)
            # Panning never changes a left axis: paint it from a cached pixmap.
            left.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            for axis_name in ("left", "bottom"):
                plot.getAxis(axis_name).enableAutoSIPrefix(False)
            if ROW_TITLES[name]:
                plot.setLabel("left", ROW_TITLES[name], color=theme.TEXT_DIM)
            if name != "events":
                plot.hideAxis("bottom")
            self.plots[name] = plot
        for name in ROWS[:-1]:
            self.plots[name].setXLink(self.plots["events"])
        self.graphics.ci.layout.setRowStretchFactor(4, 1)
        for row, stretch in zip(range(4), (3, 2, 3, 2), strict=True):
            self.graphics.ci.layout.setRowStretchFactor(row, stretch)
        self.plots["events"].setYRange(-0.6, 3.6, padding=0)
        self.plots["events"].getAxis("left").setTicks([[
            (LANE_ALARM, "alarm"), (LANE_TECHNICAL, "tech"), (LANE_ASSESSMENT, "MOAA/S"),
            (LANE_NOTE, "notes")]])
        self.plots["nibp"].setYRange(40, 200, padding=0)
        self.plots["spo2"].setYRange(80, 101, padding=0)
        self.plots["hr"].setYRange(40, 140, padding=0)
        self.plots["pleth"].setYRange(0, 1, padding=0)
        self.plots["pleth"].getAxis("left").setStyle(showValues=False)  # no unit: the shape

        def curve(colour: str) -> pg.PlotCurveItem:
            return pg.PlotCurveItem(pen=pg.mkPen(colour, width=1), connect="finite")

        self.curves = {
            VitalKind.HR: curve(theme.HR),
            VitalKind.PULSE_RATE: curve(theme.PR),
            VitalKind.SPO2: curve(theme.SPO2),
        }
        self.plots["hr"].addItem(self.curves[VitalKind.PULSE_RATE])
        self.plots["hr"].addItem(self.curves[VitalKind.HR])
        self.plots["spo2"].addItem(self.curves[VitalKind.SPO2])
        self.pleth_curve = curve(theme.PLETH)
        self.plots["pleth"].addItem(self.pleth_curve)
        self.pleth_hint = pg.TextItem("zoom in to 5 min or less to see the pleth",
                                      color=theme.TEXT_DIM, anchor=(0.5, 0.5))
        self.plots["pleth"].addItem(self.pleth_hint, ignoreBounds=True)
        nibp_pen = pg.mkPen(theme.NIBP)
        self.nibp_bars = pg.ErrorBarItem(x=np.empty(0), y=np.empty(0), beam=0,
                                         pen=pg.mkPen(theme.NIBP_BAR, width=1))
        self.nibp_systolic = pg.ScatterPlotItem(symbol="t", size=9, pen=nibp_pen,
                                                brush=pg.mkBrush(theme.NIBP))
        self.nibp_diastolic = pg.ScatterPlotItem(symbol="t1", size=9, pen=nibp_pen,
                                                 brush=pg.mkBrush(theme.NIBP))
        self.nibp_mean = pg.ScatterPlotItem(symbol="o", size=4, pen=None,
                                            brush=pg.mkBrush(theme.NIBP_BAR))
        for item in (self.nibp_bars, self.nibp_systolic, self.nibp_diastolic, self.nibp_mean):
            self.plots["nibp"].addItem(item)
        self._event_items: list[tuple[pg.PlotItem, pg.GraphicsObject]] = []
        self.gap_bands: list[tuple[float, float]] = []
        """The recording gaps drawn, as (start, end) epoch seconds."""
        self.note_times: list[float] = []
        """Where note markers are drawn (epoch seconds): observations and addenda."""
        self.cursor_lines = [pg.InfiniteLine(angle=90, movable=False,
                                             pen=pg.mkPen(theme.TEXT, width=1))
                             for _ in ROWS]
        for line, name in zip(self.cursor_lines, ROWS, strict=True):
            self.plots[name].addItem(line, ignoreBounds=True)

        self.plots["events"].sigXRangeChanged.connect(self._range_changed)
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        self._pleth_timer = QTimer(self)
        self._pleth_timer.setSingleShot(True)
        self._pleth_timer.setInterval(PLETH_SETTLE_MS)
        self._pleth_timer.timeout.connect(self._load_pleth)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.readout)
        layout.addWidget(self.graphics, 1)

    # -- data ----------------------------------------------------------------------------------

    def set_review(self, review: SessionReview) -> None:
        """Show this session: the whole of it, the crosshair at the first dose."""
        self.review = review
        self.axis.anchor = review.anchor
        self.pleth_curve.setData([], [])
        self.pleth_points = 0
        self._draw_nibp()
        self._draw_events()
        self._fit_y(review)
        self.cursor_time = review.anchor
        self.show_all()
        self.set_cursor(review.anchor)

    def _fit_y(self, review: SessionReview) -> None:
        """Each row's y range once per session, from all of its values (a spike included)."""
        for name, kinds, (low, high) in (
            ("hr", (VitalKind.HR, VitalKind.PULSE_RATE), (40.0, 140.0)),
            ("spo2", (VitalKind.SPO2,), (80.0, 101.0)),
            ("nibp", (VitalKind.NIBP_SYSTOLIC, VitalKind.NIBP_DIASTOLIC), (40.0, 200.0)),
        ):
            for kind in kinds:
                series = review.numerics.get(kind)
                if series is not None and len(series):
                    low = min(low, float(series.values.min()) - 5)
                    high = max(high, float(series.values.max()) + 5)
            self.plots[name].setYRange(low, high, padding=0)

    def set_clock_axis(self, clock: bool) -> None:
        self.axis.clock = clock
        self.axis.picture = None
        self.axis.update()

    def x_of(self, t: float) -> float:
        return (t - (self.review.anchor if self.review else 0.0)) / 60.0

    def time_of(self, x: float) -> float:
        return (self.review.anchor if self.review else 0.0) + x * 60.0

    # -- view ----------------------------------------------------------------------------------

    def view_window(self) -> tuple[float, float]:
        """The visible time span (epoch seconds)."""
        x0, x1 = self.plots["events"].viewRange()[0]
        return self.time_of(x0), self.time_of(x1)

    def set_window(self, t0: float, t1: float) -> None:
        if t1 - t0 < MIN_SPAN_S:
            middle = (t0 + t1) / 2
            t0, t1 = middle - MIN_SPAN_S / 2, middle + MIN_SPAN_S / 2
        self.plots["events"].setXRange(self.x_of(t0), self.x_of(t1), padding=0)

    def show_all(self) -> None:
        if self.review is not None:
            margin = (self.review.end - self.review.start) * 0.01
            self.set_window(self.review.start - margin, self.review.end + margin)

    def zoom(self, factor: float) -> None:
        """Zoom around the crosshair (factor < 1 zooms in)."""
        t0, t1 = self.view_window()
        c = self.cursor_time if t0 <= self.cursor_time <= t1 else (t0 + t1) / 2
        self.set_window(c - (c - t0) * factor, c + (t1 - c) * factor)

    def pan(self, fraction: float) -> None:
        t0, t1 = self.view_window()
        shift = (t1 - t0) * fraction
        self.set_window(t0 + shift, t1 + shift)

    def _range_changed(self, *_args: object) -> None:
        self._draw_lines()
        self._pleth_timer.start()

    def _pixels(self) -> int:
        return max(100, int(self.plots["events"].vb.width()))

    def _draw_lines(self) -> None:
        review = self.review
        if review is None:
            return
        t0, t1 = self.view_window()
        pixels = self._pixels()
        anchor = review.anchor
        for kind, item in self.curves.items():
            series = review.numerics.get(kind)
            if series is None:
                item.setData([], [])
                continue
            # The visible part plus one point either side, so lines reach the edges.
            a = max(0, int(np.searchsorted(series.times, t0)) - 1)
            b = min(len(series), int(np.searchsorted(series.times, t1, side="right")) + 1)
            times, values = minmax_decimate(series.times[a:b], series.values[a:b], t0, t1,
                                            pixels)
            times, values = break_gaps(times, values, LINE_GAP_S)
            item.setData((times - anchor) / 60.0, values)
        self.redraw_count += 1

    def _draw_nibp(self) -> None:
        review = self.review
        assert review is not None
        readings = review.nibp
        x = np.array([self.x_of(r.time) for r in readings], dtype=float)
        sys_ = np.array([r.systolic for r in readings], dtype=float)
        dia = np.array([np.nan if r.diastolic is None else r.diastolic for r in readings])
        mean = np.array([np.nan if r.mean is None else r.mean for r in readings])
        has_dia = ~np.isnan(dia)
        self.nibp_systolic.setData(x=x, y=sys_)
        self.nibp_diastolic.setData(x=x[has_dia], y=dia[has_dia])
        self.nibp_mean.setData(x=x[~np.isnan(mean)], y=mean[~np.isnan(mean)])
        mid = (sys_[has_dia] + dia[has_dia]) / 2
        self.nibp_bars.setData(x=x[has_dia], y=mid, height=sys_[has_dia] - dia[has_dia])

    def _draw_events(self) -> None:
        review = self.review
        assert review is not None
        for plot, item in self._event_items:
            plot.removeItem(item)
        self._event_items = []
        events = self.plots["events"]

        def add(plot: pg.PlotItem, item: pg.GraphicsObject, **kw: object) -> None:
            plot.addItem(item, **kw)
            self._event_items.append((plot, item))

        for technical, lane in ((False, LANE_ALARM), (True, LANE_TECHNICAL)):
            spans = [s for s in review.alarm_spans if s.technical is technical]
            if spans:
                x0 = np.array([self.x_of(s.onset) for s in spans])
                width = np.array([max((s.end - s.onset) / 60.0, 0.05) for s in spans])
                brushes = [pg.mkBrush(PRIORITY_COLOURS[s.priority]) for s in spans]
                add(events, pg.BarGraphItem(x0=x0, width=width, y=np.full(len(spans), lane),
                                            height=0.6, brushes=brushes, pens=[None] * len(spans)))
        for a in review.assessments:
            parts = []
            if a.moaas is not None:
                parts.append(f"M{a.moaas}")
            if a.cadss_total is not None:
                parts.append(f"C{a.cadss_total}")
            text = pg.TextItem(" ".join(parts) or "·", color=theme.MARKER_OBSERVATION,
                               anchor=(0.5, 0.5))
            text.setPos(self.x_of(a.time), LANE_ASSESSMENT)
            add(events, text)
        self.note_times = [n.time for n in review.notes]
        noted = [(n.time, n.until) for n in review.notes if n.until is not None]
        if noted:  # a note about a span: a thin bar from its start to its end
            add(events, pg.BarGraphItem(
                x0=np.array([self.x_of(a) for a, _ in noted]),
                width=np.array([(b - a) / 60.0 for a, b in noted]),
                y=np.full(len(noted), LANE_NOTE), height=0.25,
                brush=pg.mkBrush(theme.WORKFLOW_OK), pen=None))
        if review.notes:
            add(events, pg.ScatterPlotItem(
                x=[self.x_of(n.time) for n in review.notes], y=[LANE_NOTE] * len(review.notes),
                symbol="d", size=10, pen=None,
                brush=[pg.mkBrush(theme.MARKER_OBSERVATION if n.addendum_id is None
                                  else theme.WORKFLOW_OK) for n in review.notes]))
        self._draw_gaps(add)
        # Doses (solid) and workflow steps (dotted) as vertical lines through every row: one
        # item per kind and row (segments of a curve), not one per event.
        for category, colour, style in (
            (Category.DOSE, theme.MARKER_DOSE, Qt.PenStyle.SolidLine),
            (Category.WORKFLOW, theme.MARKER_SESSION, Qt.PenStyle.DotLine),
        ):
            xs = np.repeat([self.x_of(e.time) for e in review.events
                            if e.category is category], 2)
            if not xs.size:
                continue
            ys = np.tile([-MARKER_REACH, MARKER_REACH], xs.size // 2)
            for name in ROWS:
                add(self.plots[name], pg.PlotCurveItem(
                    xs, ys, connect="pairs", pen=pg.mkPen(colour, width=1, style=style)),
                    ignoreBounds=True)

    def _draw_gaps(self, add: Callable[..., None]) -> None:
        """Each recording gap as a hatched band through every row, and its words in the events
        row: nothing was recorded there, which an empty stretch of line alone does not say."""
        review = self.review
        assert review is not None
        self.gap_bands = []
        colour = QColor(GAP_COLOUR)
        for gap in review.gaps:
            end = max(review.gap_end(gap), gap.start + GAP_MIN_WIDTH_S)
            self.gap_bands.append((gap.start, end))
            x0, x1 = self.x_of(gap.start), self.x_of(end)
            for name in ROWS:
                band = pg.LinearRegionItem((x0, x1), movable=False,
                                           brush=QBrush(colour, Qt.BrushStyle.BDiagPattern),
                                           pen=pg.mkPen(colour, width=1,
                                                        style=Qt.PenStyle.DashLine))
                band.setZValue(-10)  # under the curves
                add(self.plots[name], band, ignoreBounds=True)
            label = pg.TextItem("not recorded", color=GAP_COLOUR, anchor=(0, 0.5))
            label.setPos(x0, (LANE_ASSESSMENT + LANE_NOTE) / 2)
            add(self.plots["events"], label, ignoreBounds=True)

    # -- pleth ---------------------------------------------------------------------------------

    def _load_pleth(self) -> None:
        review = self.review
        if review is None:
            return
        t0, t1 = self.view_window()
        self._pleth_request += 1
        if t1 - t0 > PLETH_MAX_SPAN_S:
            self._show_pleth(None)
            return
        request, pixels = self._pleth_request, self._pixels()
        run_in_background(lambda: (request, review.pleth(t0, t1, pixels)),
                          self._pleth_loaded, self._pleth_failed)

    def _pleth_loaded(self, result: tuple[int, TimeSeries]) -> None:
        request, series = result
        if request == self._pleth_request:  # a newer view asked since: ignore this one
            self._show_pleth(series)

    def _pleth_failed(self, _error: Exception) -> None:
        self._show_pleth(None)  # the timeline stays usable; the pleth row says zoom in

    def _show_pleth(self, series: TimeSeries | None) -> None:
        review = self.review
        if series is None or review is None or len(series) == 0:
            self.pleth_curve.setData([], [])
            self.pleth_points = 0
            self.pleth_hint.setVisible(True)
            t0, t1 = self.view_window()
            self.pleth_hint.setPos(self.x_of((t0 + t1) / 2), 0.5)
            self.plots["pleth"].setYRange(0, 1, padding=0)
            return
        self.pleth_hint.setVisible(False)
        self.pleth_curve.setData((series.times - review.anchor) / 60.0, series.values)
        self.pleth_points = len(series)
        low, high = float(series.values.min()), float(series.values.max())
        self.plots["pleth"].setYRange(low, high if high > low else low + 1, padding=0.05)

    # -- crosshair -------------------------------------------------------------------------------

    def set_cursor(self, t: float) -> None:
        self.cursor_time = t
        x = self.x_of(t)
        for line in self.cursor_lines:
            line.setValue(x)
        self.readout.setText(self.readout_text())
        self.cursor_moved.emit(t)

    def cursor_values(self) -> dict[VitalKind, tuple[float, float]]:
        """The stored values the crosshair reads (time, value) per kind."""
        return {} if self.review is None else self.review.values_at(self.cursor_time)

    def readout_text(self) -> str:
        review = self.review
        if review is None:
            return ""
        t = self.cursor_time
        clock = datetime.fromtimestamp(t).strftime("%H:%M:%S")
        minutes = review.minutes_after_dose(t)
        parts = [clock if minutes is None else f"{minutes:+.1f} min ({clock})"]
        values = self.cursor_values()
        for kind in (VitalKind.HR, VitalKind.PULSE_RATE, VitalKind.SPO2):
            if kind in values:
                spec = spec_of(kind)
                parts.append(f"{spec.label} {values[kind][1]:.{spec.decimals}f}")
        nibp = review.nibp_at(t)
        if nibp is not None:
            age = (t - nibp.time) / 60.0
            parts.append(f"NIBP {nibp.text()} ({age:.0f} min before)")
        gap = review.gap_at(t)
        if gap is not None:
            parts.append(gap.text(lambda at: datetime.fromtimestamp(at).strftime("%H:%M:%S")))
        return "   ".join(parts)

    def _clicked(self, event: object) -> None:
        pos = event.scenePos()  # type: ignore[attr-defined]
        vb = self.plots["events"].vb
        if self.review is not None:
            x = vb.mapSceneToView(QPointF(pos)).x()
            self.set_cursor(self.time_of(x))
            self.setFocus()

    # -- keys ------------------------------------------------------------------------------------

    def jump(self, category: Category, forward: bool = True) -> bool:
        """Move the crosshair to the next (or previous) event of ``category``; False if none."""
        review = self.review
        if review is None:
            return False
        event = (review.next_event(self.cursor_time, category) if forward
                 else review.previous_event(self.cursor_time, category))
        if event is None:
            return False
        t0, t1 = self.view_window()
        if not t0 <= event.time <= t1:
            half = (t1 - t0) / 2
            self.set_window(event.time - half, event.time + half)
        self.set_cursor(event.time)
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        jumps = {Qt.Key.Key_A: Category.ALARM, Qt.Key.Key_D: Category.DOSE,
                 Qt.Key.Key_N: Category.NOTE}
        t0, t1 = self.view_window()
        step = (t1 - t0) / self._pixels() * CURSOR_STEP_PX
        if key in jumps:
            self.jump(jumps[Qt.Key(key)], forward=not shift)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            sign = 1 if key == Qt.Key.Key_Right else -1
            if shift:
                self.pan(0.25 * sign)
            else:
                self.set_cursor(self.cursor_time + sign * step)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(0.5)
        elif key == Qt.Key.Key_Minus:
            self.zoom(2.0)
        elif key == Qt.Key.Key_0:
            self.show_all()
        else:
            super().keyPressEvent(event)
