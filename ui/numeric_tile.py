"""Numeric tiles: the big numbers the nurse reads from across the room.

A tile shows whatever :class:`~katmonitor.readings.Reading` the core hands it; whether a value
is stale or out of limits is decided by the core, the tile only shows it. Each state has a
text marker besides its colour, so colour is never the only cue:

- ``current``: value in the vital's colour;
- ``stale``: greyed, with "STALE" and the reading's age - it never looks current;
- ``alarm``: out of limits, with "▲ HIGH" / "▼ LOW" and the limit. While the engine has an
  alarm on for the parameter, the value, marker and frame take that alarm's priority colour
  (the same as its alarm bar entry) and the frame flashes at its rate (steady once
  acknowledged); out of limits with no alarm (yet: the condition delay; or alarm off), the
  value keeps its vital colour and only the marker says it;
- ``empty``: no reading yet (or no valid value): "---".

Each tile also shows the engine's effective alarm limits beside the value (upper over lower,
as monitors do), or "ALARM OFF".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from katmonitor.alarms.model import ActiveAlarm
from katmonitor.alarms.wording import format_limit
from katmonitor.base.vitals import VitalKind, spec_of
from katmonitor.limits import LimitFlag
from katmonitor.readings import Reading, format_age
from ui import theme
from ui.alarm_bar import PRIORITY_COLOURS, alarm_lit

NIBP_PARTS = ((VitalKind.NIBP_SYSTOLIC, "sys"), (VitalKind.NIBP_DIASTOLIC, "dia"),
              (VitalKind.NIBP_MEAN, "mean"))
Limits = Mapping[VitalKind, tuple[float | None, float | None]]

EMPTY_TEXT = "---"
TILE_STATES = ("current", "stale", "alarm", "empty")


def flag_marker(flag: LimitFlag, prefix: str = "") -> str:
    arrow, word = ("▲", "HIGH") if flag.direction == "high" else ("▼", "LOW")
    comparison = ">" if flag.direction == "high" else "<"
    return f"{arrow} {prefix}{word} {comparison} {flag.limit:g}"


def short_marker(flag: LimitFlag, prefix: str) -> str:
    """"▲ SYS > 160": one of several flagged pressures."""
    arrow, comparison = ("▲", ">") if flag.direction == "high" else ("▼", "<")
    return f"{arrow} {prefix}{comparison} {flag.limit:g}"


def limit_lines(low: float | None, high: float | None, off: bool) -> str:
    """Upper limit over lower, as a monitor shows them beside the value."""
    if off:
        return "ALARM\nOFF"
    return "\n".join(f"{arrow} {format_limit(limit)}" for arrow, limit in
                      (("▲", high), ("▼", low)) if limit is not None)


def status_marker(reading: Reading) -> str:
    """Why a reading has no value (e.g. "SENSOR OFF"), from the device's status words."""
    words = sorted(reading.sample.status)
    return ", ".join(w.replace("_", " ") for w in words).upper() or "NO VALUE"


def _set_colour(label: QLabel, colour: str) -> None:
    # A style sheet, not the palette: the tile's frame is styled with a style sheet, and
    # re-polishing then resets palette colours of its labels.
    style = f"color: {colour};"
    if label.styleSheet() != style:  # restyling re-polishes: only on change
        label.setStyleSheet(style)


class _Tile(QFrame):
    """Frame, header (label + unit) and a marker line shared by both tile kinds."""

    def __init__(self, title: str, unit: str, colour: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tile")
        self._colour = colour
        self._state = "empty"
        self._marker = ""
        self._frame_style = ""
        self._frame_kind = "normal"
        self._flash: tuple[str | None, bool] = (None, False)

        self.title_label = QLabel(title)
        self.title_label.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
        _set_colour(self.title_label, colour)
        self.unit_label = QLabel(unit)
        self.unit_label.setFont(theme.font(theme.TILE_LABEL_PX))
        _set_colour(self.unit_label, theme.TEXT_DIM)
        self.unit_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.marker_label = QLabel(" ")
        self.marker_label.setFont(theme.font(theme.TILE_DETAIL_PX, bold=True))
        self.marker_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.limits_label = QLabel(" ")
        self.limits_label.setFont(theme.font(theme.MARKER_LABEL_PX, bold=True))
        _set_colour(self.limits_label, theme.TEXT_DIM)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._apply_frame("normal")

    @property
    def state(self) -> str:
        """One of ``TILE_STATES`` (read-only; for tests and for the window)."""
        return self._state

    def marker_text(self) -> str:
        return self._marker

    def limits_text(self) -> str:
        return self.limits_label.text()

    def _set_limits(self, text: str) -> None:
        if text != self.limits_label.text():
            self.limits_label.setText(text or " ")

    def _alarm_colour(self, fallback: str) -> str:
        """The engine alarm's priority colour while one is on, else ``fallback``."""
        colour = self._flash[0]
        return colour if colour is not None else fallback

    def _recolour(self) -> None:
        """Re-apply the value and marker colours (the engine alarm's colour changed)."""

    def _set_marker(self, text: str, colour: str) -> None:
        if text != self._marker:
            self._marker = text
            self.marker_label.setText(text or " ")  # keep the line's height when empty
        _set_colour(self.marker_label, colour)

    @property
    def flash(self) -> tuple[str | None, bool]:
        """(alarm colour or None, lit now): the engine alarm shown on this tile (for tests)."""
        return self._flash

    def set_alarm_flash(self, colour: str | None, lit: bool) -> None:
        """Flash the frame in an alarm's priority colour. The window drives ``lit`` from its
        UI timer (the flash rate belongs to the alarm's priority, not to sample arrival)."""
        flash = (colour, lit and colour is not None)
        if flash != self._flash:
            recolour = flash[0] != self._flash[0]
            self._flash = flash
            self._apply_frame(self._frame_kind)
            if recolour:
                self._recolour()

    def _apply_frame(self, kind: str) -> None:
        # Out of limits without an engine alarm: a plain frame (red belongs to high alarms).
        self._frame_kind = kind
        border = theme.TEXT_DIM if kind == "alarm" else theme.PANEL_BORDER
        background = theme.PANEL
        width = 2
        colour, lit = self._flash
        if colour is not None:  # an engine alarm: thick border in its colour, filled when lit
            border, width = colour, 4
            background = theme.FLASH_BACKGROUND.get(colour, theme.ALARM_BACKGROUND) if lit \
                else theme.PANEL
        style = (f"QFrame#tile {{ background: {background}; border: {width}px solid {border};"
                 " border-radius: 4px; }")
        if style != self._frame_style:  # restyling re-polishes the widget: only on change
            self._frame_style = style
            self.setStyleSheet(style)


class NumericTile(_Tile):
    """HR, SpO2, PR or PI: label, unit, one big value and a marker line."""

    def __init__(self, kind: VitalKind, value_px: int, parent: QWidget | None = None) -> None:
        spec = spec_of(kind)
        super().__init__(spec.label, spec.unit, theme.VITAL_COLOURS[kind], parent)
        self.kind = kind
        self.value_label = QLabel(EMPTY_TEXT)
        self.value_label.setFont(theme.numeric_font(value_px))
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        _set_colour(self.value_label, theme.STALE)

        grid = QGridLayout(self)
        grid.setContentsMargins(10, 6, 10, 6)
        grid.setVerticalSpacing(0)
        grid.addWidget(self.title_label, 0, 0)
        grid.addWidget(self.unit_label, 0, 1)
        grid.addWidget(self.limits_label, 1, 0,
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.value_label, 1, 1)
        grid.addWidget(self.marker_label, 2, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        self._shown: tuple[str, str, str] | None = None

    def show_limits(self, limits: Limits, alarms_off: frozenset[str]) -> None:
        """The engine's effective limits of this parameter, or that its alarms are off."""
        low, high = limits.get(self.kind, (None, None))
        self._set_limits(limit_lines(low, high, str(self.kind) in alarms_off))

    def value_text(self) -> str:
        return self.value_label.text()

    def show_reading(self, reading: Reading | None) -> None:
        if reading is None:
            self._show("empty", EMPTY_TEXT, "")
        elif reading.value is None:
            self._show("empty", EMPTY_TEXT, status_marker(reading))
        elif reading.stale:
            self._show("stale", reading.value_text(), f"STALE · {format_age(reading.age_s)} ago")
        elif reading.alarming and reading.flag is not None:
            self._show("alarm", reading.value_text(), flag_marker(reading.flag))
        else:
            self._show("current", reading.value_text(), "")

    def _show(self, state: str, value: str, marker: str) -> None:
        if self._shown == (state, value, marker):
            return  # most ticks change nothing: do no widget work
        self._shown = (state, value, marker)
        self._state = state
        self.value_label.setText(value)
        self._set_marker(marker, theme.TEXT_DIM)
        self._recolour()
        self._apply_frame("alarm" if state == "alarm" else "normal")

    def _recolour(self) -> None:
        state = self._state
        alarm = self._alarm_colour(self._colour) if state == "alarm" else None
        value_colour = alarm or (self._colour if state == "current" else theme.STALE)
        _set_colour(self.value_label, value_colour)
        _set_colour(self.marker_label, self._alarm_colour(theme.TEXT) if state == "alarm"
                    else theme.TEXT_DIM)


class NibpTile(_Tile):
    """Non-invasive blood pressure: "sys/dia", "(mean)", when it was taken and how long ago.

    NIBP is intermittent: the tile always says when the value was measured, so a reading from
    minutes ago is never mistaken for the pressure now.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        spec = spec_of(VitalKind.NIBP_SYSTOLIC)
        super().__init__("NIBP", spec.unit, theme.NIBP, parent)
        self.value_label = QLabel(f"{EMPTY_TEXT}/{EMPTY_TEXT}")
        self.value_label.setFont(theme.numeric_font(theme.NIBP_NUMERIC_PX))
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.mean_label = QLabel("(---)")
        self.mean_label.setFont(theme.numeric_font(theme.SMALL_NUMERIC_PX - 8))
        self.mean_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.taken_label = QLabel(" ")
        self.taken_label.setFont(theme.font(theme.TILE_DETAIL_PX))
        self.taken_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        _set_colour(self.taken_label, theme.TEXT_DIM)
        for label in (self.value_label, self.mean_label):
            _set_colour(label, theme.STALE)

        header = QGridLayout()
        header.addWidget(self.title_label, 0, 0)
        header.addWidget(self.unit_label, 0, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 6, 10, 6)
        box.setSpacing(0)
        box.addLayout(header)
        box.addWidget(self.value_label)
        # The limits share the mean's line: the tile must fit a 1280x800 screen.
        mean_line = QHBoxLayout()
        mean_line.addWidget(self.limits_label, 0, Qt.AlignmentFlag.AlignVCenter)
        mean_line.addStretch(1)
        mean_line.addWidget(self.mean_label)
        box.addLayout(mean_line)
        box.addWidget(self.taken_label)
        box.addWidget(self.marker_label)
        self._shown: tuple[str, ...] | None = None

    def show_limits(self, limits: Limits, alarms_off: frozenset[str]) -> None:
        """"limits sys 90-160 · dia 50-100 · mean OFF": the engine's effective limits."""
        parts = []
        for kind, name in NIBP_PARTS:
            low, high = limits.get(kind, (None, None))
            if str(kind) in alarms_off:
                parts.append(f"{name} ALARM OFF")
            elif low is not None or high is not None:
                parts.append(f"{name} {format_limit(low) if low is not None else ''}-"
                             f"{format_limit(high) if high is not None else ''}")
        self._set_limits(" · ".join(parts))

    def value_text(self) -> str:
        """"sys/dia (mean)" as shown."""
        return f"{self.value_label.text()} {self.mean_label.text()}"

    def taken_text(self) -> str:
        return self.taken_label.text()

    def show_readings(self, systolic: Reading | None, diastolic: Reading | None,
                      mean: Reading | None) -> None:
        if systolic is None:
            self._show("empty", f"{EMPTY_TEXT}/{EMPTY_TEXT}", "(---)", " ", "")
            return
        value = (f"{systolic.value_text()}/"
                 f"{diastolic.value_text() if diastolic else EMPTY_TEXT}")
        mean_text = f"({mean.value_text() if mean else EMPTY_TEXT})"
        taken_at = datetime.fromtimestamp(systolic.time).strftime("%H:%M")
        taken = f"at {taken_at} · {format_age(systolic.age_s)} ago"
        parts = [(systolic, "SYS "), (diastolic, "DIA "), (mean, "MEAN ")]
        if systolic.value is None:
            self._show("empty", value, mean_text, taken, status_marker(systolic))
        elif systolic.stale:
            self._show("stale", value, mean_text, taken, "STALE")
        elif any(r is not None and r.alarming for r, _ in parts):
            flags = [(r.flag, prefix) for r, prefix in parts
                     if r is not None and r.alarming and r.flag is not None]
            # One line, so the tile keeps its height: several flags in the short form.
            marker = (flag_marker(*flags[0]) if len(flags) == 1 else
                      "  ".join(short_marker(flag, prefix) for flag, prefix in flags))
            self._show("alarm", value, mean_text, taken, marker)
        else:
            self._show("current", value, mean_text, taken, "")

    def _show(self, state: str, value: str, mean: str, taken: str, marker: str) -> None:
        if self._shown == (state, value, mean, taken, marker):
            return
        self._shown = (state, value, mean, taken, marker)
        self._state = state
        self.value_label.setText(value)
        self.mean_label.setText(mean)
        self.taken_label.setText(taken)
        self._set_marker(marker, theme.TEXT_DIM)
        self._recolour()
        self._apply_frame("alarm" if state == "alarm" else "normal")

    def _recolour(self) -> None:
        state = self._state
        alarm = self._alarm_colour(theme.NIBP) if state == "alarm" else None
        value_colour = alarm or (theme.NIBP if state == "current" else theme.STALE)
        for label in (self.value_label, self.mean_label):
            _set_colour(label, value_colour)
        _set_colour(self.marker_label, self._alarm_colour(theme.TEXT) if state == "alarm"
                    else theme.TEXT_DIM)


def annunciate_tiles(tiles: Mapping[VitalKind, NumericTile], nibp_tile: NibpTile,
                     alarms: Sequence[ActiveAlarm], limits: Limits,
                     alarms_off: frozenset[str], flash_t: float) -> None:
    """Each tile: the limits beside its value and the most urgent engine alarm of its
    parameter(s) - colour and flash as that alarm's bar entry (steady once acknowledged)."""
    urgent: dict[str, ActiveAlarm] = {}
    for alarm in alarms:  # a parameter's no-data alarm too ("SpO2: no current value")
        current = urgent.get(alarm.kind)
        if current is None or alarm.priority > current.priority:
            urgent[alarm.kind] = alarm
    for kind, tile in tiles.items():
        tile.show_limits(limits, alarms_off)
        _flash(tile, urgent.get(str(kind)), flash_t)
    nibp_tile.show_limits(limits, alarms_off)
    nibp = [urgent[str(k)] for k, _ in NIBP_PARTS if str(k) in urgent]
    _flash(nibp_tile, max(nibp, key=lambda a: a.priority, default=None), flash_t)


def _flash(tile: _Tile, alarm: ActiveAlarm | None, flash_t: float) -> None:
    if alarm is None:
        tile.set_alarm_flash(None, False)
    else:
        tile.set_alarm_flash(PRIORITY_COLOURS[alarm.priority], alarm_lit(alarm, flash_t))
