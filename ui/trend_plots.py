"""Trend plots: HR + PR, NIBP and SpO2 stacked on one shared, linked time axis (local time).

Redrawn only when something changed - new numerics, a new dose or observation, another range,
or the moving window's end advanced - and at most about once a second otherwise. Long ranges
are reduced to min/max per pixel column at draw time (ui.decimate), so hours of data draw fast.
NIBP is intermittent and drawn as discrete measurements (a bar from diastolic to systolic with
symbols, mean as a dot), never as a line that would invent values between cuff cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QAction, QActionGroup, QColor, QKeySequence, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from katmonitor.base.vitals import NIBP_KINDS, VitalKind, spec_of
from katmonitor.session import DoseEvent, WorkflowKind
from katmonitor.workstation import TimelineEvent, Workstation
from ui import theme
from ui.decimate import break_gaps, minmax_decimate


@dataclass(frozen=True, slots=True)
class TrendRange:
    name: str
    label: str
    shortcut: str
    span_s: float | None  # None: the whole session


RANGES: tuple[TrendRange, ...] = (
    TrendRange("30min", "Last 30 min", "1", 30 * 60.0),
    TrendRange("2h", "Last 2 h", "2", 2 * 3600.0),
    TrendRange("session", "Whole session", "3", None),
)
RANGE_BY_NAME = {r.name: r for r in RANGES}

# Redraw the moving window at most once a second (of the workstation clock), and on long
# ranges only when it has moved by a pixel column: more often would change nothing visible.
MIN_REDRAW_INTERVAL_S = 1.0
WINDOW_STEPS = 30
SESSION_WINDOW_STEPS_S = (60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
# Fixed y ranges keep the picture calm; they only widen when data fall outside.
DEFAULT_Y = {"hr": (40.0, 140.0), "nibp": (40.0, 200.0), "spo2": (85.0, 101.0)}
# Horizontal grid lines at fixed values: pyqtgraph's own y grid costs ~8 ms a plot to paint.
GRID_Y = {"hr": (60.0, 80.0, 100.0, 120.0), "nibp": (50.0, 100.0, 150.0),
          "spo2": (90.0, 95.0, 100.0)}
PLOT_TITLES = {"hr": "HR · PR  bpm", "nibp": "NIBP  mmHg", "spo2": "SpO2  %"}
LEFT_AXIS_WIDTH = 44
Y_PADDING = 0.06


def marker_label(event: TimelineEvent) -> str:
    if isinstance(event, DoseEvent):
        return f"Dose {event.dose_mg:g} mg ×{event.unit_count}"
    return "Obs"


@dataclass(frozen=True, slots=True)
class Marker:
    key: str  # "start", "dose:ID", "obs:ID"
    time: float
    label: str
    colour: str


class PlotOverlay(pg.GraphicsObject):
    """What a trend plot draws besides its data, painted in one go in screen pixels: its
    title, horizontal grid lines, and the timeline's vertical marker lines with labels.

    The title and the marker labels sit in a band above the data (``BAND_ROWS`` text rows that
    the plot's y range keeps free, see :func:`band_height_px`): a label moves down a row rather
    than overwrite another one, and when no row has room it is left out (its line stays), so
    labels never cover each other, the title or the curves.

    One item per plot instead of an InfiniteLine + label per marker: those each recompute
    their geometry on every view change, which made a trend redraw cost tens of ms.
    """

    BAND_ROWS = 2

    def __init__(self, title: str, grid_values: tuple[float, ...]) -> None:
        super().__init__()
        self.title = title
        self.grid_values = grid_values
        self.markers: list[Marker] = []
        self.data_top = math.inf
        """The highest value the data may reach (the band starts above it)."""
        self.title_rect = QRectF()
        self.label_rects: list[tuple[str, QRectF]] = []
        """Where the last paint put each marker label, in pixels (tests read them)."""
        self.data_top_px = math.inf
        self._rect = QRectF()
        self._grid_pen = pg.mkPen(theme.GRID, width=1)
        self._title_font = theme.font(theme.MARKER_LABEL_PX)
        self._font = theme.font(theme.MARKER_LABEL_PX, bold=True)
        self.setZValue(-10)  # behind the data

    def set_markers(self, markers: list[Marker]) -> None:
        self.markers = sorted(markers, key=lambda m: m.time)
        self.update()

    def viewTransformChanged(self) -> None:
        super().viewTransformChanged()
        self.prepareGeometryChange()
        view = self.viewRect()
        self._rect = QRectF(view) if view is not None else QRectF()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, *_args: object) -> None:
        view = self.viewRect()
        if view is None:
            return
        to_screen = painter.transform()
        corner_a, corner_b = to_screen.map(view.topLeft()), to_screen.map(view.bottomRight())
        left, right = sorted((corner_a.x(), corner_b.x()))
        top, bottom = sorted((corner_a.y(), corner_b.y()))
        painter.save()
        painter.resetTransform()  # draw in pixels: crisp lines, unscaled text
        painter.setPen(self._grid_pen)
        for value in self.grid_values:
            y = to_screen.map(QPointF(view.left(), value)).y()
            if top <= y <= bottom:
                painter.drawLine(QPointF(left, y), QPointF(right, y))
        line_height = theme.MARKER_LABEL_PX + 3
        self.data_top_px = (to_screen.map(QPointF(view.left(), self.data_top)).y()
                            if math.isfinite(self.data_top) else bottom)
        painter.setFont(self._title_font)
        title_width = painter.fontMetrics().horizontalAdvance(self.title)
        painter.setPen(QColor(theme.TEXT_DIM))
        painter.drawText(QPointF(left + 4, top + line_height - 3), self.title)
        self.title_rect = QRectF(left + 4, top, title_width, line_height)
        # Each row is filled left to right; the title takes the start of the first row.
        row_ends = [left + 4 + title_width] + [left] * (self.BAND_ROWS - 1)
        painter.setFont(self._font)
        metrics = painter.fontMetrics()
        self.label_rects = []
        for marker in self.markers:
            x = to_screen.map(QPointF(marker.time, view.top())).x()
            if not left <= x <= right:
                continue
            colour = QColor(marker.colour)
            painter.setPen(pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x, top + line_height * self.BAND_ROWS), QPointF(x, bottom))
            width = metrics.horizontalAdvance(marker.label)
            # Right of the line, or left of it near the right edge.
            text_x = x + 3 if x + 3 + width <= right else x - 3 - width
            row = next((i for i, end in enumerate(row_ends) if text_x > end + 6), None)
            if row is None or text_x < left:
                continue  # no room left in the band: the line alone marks it
            row_ends[row] = text_x + width
            rect = QRectF(text_x, top + line_height * row, width, line_height)
            painter.setPen(colour)
            painter.drawText(QPointF(text_x, rect.bottom() - 3), marker.label)
            self.label_rects.append((marker.label, rect))
        painter.restore()


def band_height_px() -> float:
    """The height of the title and label band above a trend's data."""
    return (theme.MARKER_LABEL_PX + 3) * PlotOverlay.BAND_ROWS + 2


class TrendPlots(QWidget):
    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workstation = workstation
        self.range_name = "30min"
        self.redraw_count = 0
        """How many times the trends were redrawn (tests and benchmarks read it)."""
        self.markers: list[Marker] = []
        """The timeline markers drawn on every plot (session start, doses, observations)."""
        self.overlays: dict[str, PlotOverlay] = {}
        self._marker_key: tuple[object, ...] = ()
        self._drawn_version = -1
        self._drawn_at: float | None = None
        self._drawn_window: tuple[float, float] | None = None
        self._nibp_drawn_key: tuple[float | None, float, float] | None = None
        self._dirty = True
        self._seconds_per_column = 0.0
        self._y_ranges: dict[str, tuple[float, float, float]] = {}

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(theme.BACKGROUND)
        self.graphics.ci.setSpacing(6)
        self.graphics.ci.setContentsMargins(2, 2, 8, 2)
        self.plots: dict[str, pg.PlotItem] = {}
        for row, name in enumerate(("hr", "nibp", "spo2")):
            axis = {"bottom": pg.DateAxisItem(orientation="bottom")} if name == "spo2" else {}
            plot = self.graphics.addPlot(row=row, col=0, axisItems=axis)
            self.plots[name] = plot
            self._style_plot(plot, name, show_time_axis=name == "spo2")
        for name in ("hr", "nibp"):
            self.plots[name].setXLink(self.plots["spo2"])

        def curve(colour: str) -> pg.PlotCurveItem:
            # Width-1 pen without antialiasing is pyqtgraph's fast path.
            return pg.PlotCurveItem(pen=pg.mkPen(colour, width=1), connect="finite")

        self.curves: dict[VitalKind, pg.PlotCurveItem] = {
            VitalKind.HR: curve(theme.HR),
            VitalKind.PULSE_RATE: curve(theme.PR),
            VitalKind.SPO2: curve(theme.SPO2),
        }
        self.plots["hr"].addItem(self.curves[VitalKind.PULSE_RATE])
        self.plots["hr"].addItem(self.curves[VitalKind.HR])
        self.plots["spo2"].addItem(self.curves[VitalKind.SPO2])

        nibp_pen = pg.mkPen(theme.NIBP)
        # Width 1: a wider pen made each trend repaint several ms slower.
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

        self.range_actions: dict[str, QAction] = {}
        buttons = QHBoxLayout()
        buttons.setContentsMargins(4, 2, 4, 0)
        caption = QLabel("Trends:")
        caption.setStyleSheet(f"color: {theme.TEXT_DIM};")
        buttons.addWidget(caption)
        group = QActionGroup(self)
        group.setExclusive(True)
        for trend_range in RANGES:
            action = QAction(f"{trend_range.label}  [{trend_range.shortcut}]", self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(trend_range.shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setChecked(trend_range.name == self.range_name)
            action.triggered.connect(lambda _=False, n=trend_range.name: self.set_range(n))
            group.addAction(action)
            self.addAction(action)  # so the shortcut works anywhere in the window
            button = QToolButton()
            button.setDefaultAction(action)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(button)
            self.range_actions[trend_range.name] = action
        buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(buttons)
        layout.addWidget(self.graphics, 1)

    def _style_plot(self, plot: pg.PlotItem, name: str, *, show_time_axis: bool) -> None:
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)  # a monitor view: the range buttons choose
        plot.hideButtons()
        plot.showGrid(x=True, y=False, alpha=theme.GRID_ALPHA)
        overlay = PlotOverlay(PLOT_TITLES[name], GRID_Y[name])
        plot.addItem(overlay, ignoreBounds=True)
        self.overlays[name] = overlay
        plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        for axis_name in ("left", "bottom"):
            axis = plot.getAxis(axis_name)
            axis.setPen(pg.mkPen(theme.PANEL_BORDER))
            axis.setTextPen(pg.mkPen(theme.TEXT_DIM))
        if not show_time_axis:
            plot.hideAxis("bottom")
        self._set_y(name, *DEFAULT_Y[name])

    # -- range ---------------------------------------------------------------------------------

    def set_range(self, name: str) -> None:
        if name not in RANGE_BY_NAME:
            raise ValueError(f"unknown trend range {name!r}")
        self.range_actions[name].setChecked(True)
        if name != self.range_name:
            self.range_name = name
            self._dirty = True

    def visible_window(self, now: float) -> tuple[float, float]:
        """The (start, end) times the plots show for the current range."""
        trend_range = RANGE_BY_NAME[self.range_name]
        if trend_range.span_s is not None:
            # The window advances in steps of 1/30 of its span (1 min on "30 min"), like a
            # monitor's trend page: between steps only the curves change, not the axes, which
            # keeps a frame cheap. The newest point is always within the last step.
            step = trend_range.span_s / WINDOW_STEPS
            end = math.ceil(now / step) * step
            return end - trend_range.span_s, end
        session = self.workstation.session
        if session is not None and session.ended_at is not None:
            now = min(now, session.ended_at)  # the whole session ends at its end
        # The session holds the pre-dose baseline recorded before "Start session"; with no
        # session, everything the live buffers hold is shown.
        since = (session.started_at - self.workstation.baseline_window_s
                 if session is not None else None)
        times, _ = self.workstation.buffers.trend(VitalKind.HR, since=since)
        start = float(times[0]) if times.shape[0] else (since or now - 60.0)
        # Grow the window in whole steps from a fixed ladder so its end stays put between steps.
        wanted = (now - start) / WINDOW_STEPS
        step = next((s for s in SESSION_WINDOW_STEPS_S if s >= wanted), SESSION_WINDOW_STEPS_S[-1])
        return start, start + math.ceil(max(now - start, 1.0) / step) * step

    def view_x_range(self) -> tuple[float, float]:
        (x0, x1), _ = self.plots["spo2"].vb.viewRange()
        return float(x0), float(x1)

    # -- drawing -------------------------------------------------------------------------------

    def refresh(self, now: float, *, force: bool = False) -> bool:
        """Redraw if anything changed; returns True if it redrew."""
        self._update_markers()
        version = self.workstation.buffers.trend_version
        # The window's end moves with the clock: redraw at most once a second (or a pixel
        # column) for that or for new numerics. A clock set back also counts as due.
        interval = max(MIN_REDRAW_INTERVAL_S, self._seconds_per_column)
        due = (self._drawn_at is None or now < self._drawn_at
               or now - self._drawn_at >= interval)
        if not (force or self._dirty or (due and (version != self._drawn_version
                                                  or self.visible_window(now)
                                                  != self._drawn_window))):
            return False
        self._drawn_version = version
        self._drawn_at = now
        self._dirty = False
        self._redraw(now)
        return True

    def _redraw(self, now: float) -> None:
        start, end = self._drawn_window = self.visible_window(now)
        columns = max(100, int(self.plots["spo2"].vb.width()))
        self._seconds_per_column = (end - start) / columns
        buffers = self.workstation.buffers
        # One earlier point so lines enter from the left edge.
        since = start - 5.0
        session = self.workstation.session
        ended = session.ended_at if session is not None else None
        # The whole-session view stops at the session's end (the monitor may still be on).
        until = ended if ended is not None and self.range_name == "session" else math.inf
        for kind, curve in self.curves.items():
            times, values = buffers.trend(kind, since=since)
            if until < math.inf:
                keep = times <= until
                times, values = times[keep], values[keep]
            times, values = break_gaps(times, values, spec_of(kind).freshness_s)
            times, values = minmax_decimate(times, values, start, end, columns)
            curve.setData(times, values)
        # NIBP changes every few minutes: rebuild its scatter items only when it did.
        latest_nibp = buffers.latest(VitalKind.NIBP_SYSTOLIC)
        nibp_key = (latest_nibp.time if latest_nibp else None, start, end)
        if nibp_key != self._nibp_drawn_key:
            self._nibp_drawn_key = nibp_key
            self._draw_nibp(since)
        pad = (end - start) * 0.01
        self.plots["spo2"].setXRange(start, end + pad, padding=0)
        self._fit_y("hr", [self.curves[VitalKind.HR], self.curves[VitalKind.PULSE_RATE]])
        self._fit_y("spo2", [self.curves[VitalKind.SPO2]])
        if "nibp" in self._y_ranges:  # the plot's height may have changed: keep its band
            self._set_y("nibp", *self._y_ranges["nibp"][:2])
        for plot in self.plots.values():
            # pyqtgraph applies a new range lazily at paint time, and the geometry changes
            # that follow would make Qt paint the plots a second time: apply it now.
            plot.vb.prepareForPaint()
        self.redraw_count += 1

    def _draw_nibp(self, since: float) -> None:
        buffers = self.workstation.buffers
        (t_sys, sys_), (t_dia, dia), (t_mean, mean) = (buffers.trend(k, since=since)
                                                       for k in NIBP_KINDS)
        # A measurement is a (sys, dia) pair taken at the same time; failed cycles (NaN) are
        # left out rather than drawn as zero.
        times, i_sys, i_dia = np.intersect1d(t_sys, t_dia, return_indices=True)
        top, bottom = sys_[i_sys], dia[i_dia]
        ok = np.isfinite(top) & np.isfinite(bottom)
        times, top, bottom = times[ok], top[ok], bottom[ok]
        self.nibp_bars.setData(x=times, y=bottom, top=top - bottom, bottom=np.zeros_like(top))
        self.nibp_systolic.setData(x=times, y=top)
        self.nibp_diastolic.setData(x=times, y=bottom)
        mean_ok = np.isfinite(mean)
        self.nibp_mean.setData(x=t_mean[mean_ok], y=mean[mean_ok])
        low, high = DEFAULT_Y["nibp"]
        if times.shape[0]:
            low, high = min(low, float(bottom.min()) - 10), max(high, float(top.max()) + 10)
        self._set_y("nibp", low, high)

    def _fit_y(self, name: str, curves: list[pg.PlotCurveItem]) -> None:
        low, high = DEFAULT_Y[name]
        for curve in curves:
            _, values = curve.getData()
            if values is not None and values.shape[0] and np.isfinite(values).any():
                low = min(low, float(np.nanmin(values)) - 5)
                high = max(high, float(np.nanmax(values)) + 5)
        self._set_y(name, low, high)

    def _set_y(self, name: str, low: float, high: float) -> None:
        # The top of the range is raised so the band for the title and the marker labels
        # (band_height_px) stays above the data, whatever the plot's height.
        plot_px = max(float(self.plots[name].vb.height()), 4 * band_height_px())
        span = (high - low) * (1 + 2 * Y_PADDING)
        band = span * band_height_px() / (plot_px - band_height_px())
        key = (low, high, round(band, 6))
        if self._y_ranges.get(name) != key:
            self._y_ranges[name] = key
            self.overlays[name].data_top = high + (high - low) * Y_PADDING
            # A little padding keeps the end tick labels inside the plot, clear of the
            # neighbouring plot's labels.
            pad = (high - low) * Y_PADDING
            self.plots[name].setYRange(low - pad, high + pad + band, padding=0)

    # -- timeline markers ----------------------------------------------------------------------

    def _update_markers(self) -> None:
        """Rebuild the marker list when the session or its timeline changed."""
        session = self.workstation.session
        events = self.workstation.timeline()
        key = (
            (session.id, session.started_at, session.ended_at) if session is not None else None,
            *((type(e).__name__, e.id, e.time) for e in events),
        )
        if key == self._marker_key:
            return
        self._marker_key = key
        markers = []
        if session is not None:
            markers.append(Marker("start", session.started_at, "Start", theme.MARKER_SESSION))
            if session.ended_at is not None:
                discharged = any(e.kind is WorkflowKind.DISCHARGE
                                 for e in self.workstation.workflow.events)
                markers.append(Marker("end", session.ended_at,
                                      "Discharge" if discharged else "End",
                                      theme.MARKER_SESSION))
        for event in events:
            if isinstance(event, DoseEvent):
                markers.append(Marker(f"dose:{event.id}", event.time, marker_label(event),
                                      theme.MARKER_DOSE))
            else:
                markers.append(Marker(f"obs:{event.id}", event.time, marker_label(event),
                                      theme.MARKER_OBSERVATION))
        self.markers = markers
        for overlay in self.overlays.values():
            overlay.set_markers(markers)
        self._dirty = True

    def marker_lines(self) -> list[tuple[str, str, float]]:
        """(plot name, label, time) of every marker drawn, for tests."""
        return [(name, marker.label, marker.time)
                for name, overlay in self.overlays.items()
                if overlay in self.plots[name].items
                for marker in overlay.markers]
