"""Numeric tiles: the big numbers the nurse reads from across the room.

A tile shows whatever :class:`~katmonitor.readings.Reading` the core hands it; whether a value
is stale or out of limits is decided by the core, the tile only shows it. Each state has a
text marker besides its colour, so colour is never the only cue:

- ``current``: value in the vital's colour;
- ``stale``: greyed, with "STALE" and the reading's age - it never looks current;
- ``alarm``: red value and border, with "▲ HIGH" / "▼ LOW" and the limit;
- ``empty``: no reading yet (or no valid value): "---".
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from katmonitor.base.vitals import VitalKind, spec_of
from katmonitor.limits import LimitFlag
from katmonitor.readings import Reading, format_age
from ui import theme

EMPTY_TEXT = "---"
TILE_STATES = ("current", "stale", "alarm", "empty")


def flag_marker(flag: LimitFlag, prefix: str = "") -> str:
    arrow, word = ("▲", "HIGH") if flag.direction == "high" else ("▼", "LOW")
    comparison = ">" if flag.direction == "high" else "<"
    return f"{arrow} {prefix}{word} {comparison} {flag.limit:g}"


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
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._apply_frame("normal")

    @property
    def state(self) -> str:
        """One of ``TILE_STATES`` (read-only; for tests and for the window)."""
        return self._state

    def marker_text(self) -> str:
        return self._marker

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
            self._flash = flash
            self._apply_frame(self._frame_kind)

    def _apply_frame(self, kind: str) -> None:
        self._frame_kind = kind
        border = theme.ALARM if kind == "alarm" else theme.PANEL_BORDER
        background = theme.ALARM_BACKGROUND if kind == "alarm" else theme.PANEL
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
        grid.addWidget(self.value_label, 1, 0, 1, 2)
        grid.addWidget(self.marker_label, 2, 0, 1, 2)
        self._shown: tuple[str, str, str] | None = None

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
        value_colour = {"current": self._colour, "alarm": theme.ALARM}.get(state, theme.STALE)
        _set_colour(self.value_label, value_colour)
        self._set_marker(marker, theme.ALARM if state == "alarm" else theme.TEXT_DIM)
        self._apply_frame("alarm" if state == "alarm" else "normal")


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
        box.addWidget(self.mean_label)
        box.addWidget(self.taken_label)
        box.addWidget(self.marker_label)
        self._shown: tuple[str, ...] | None = None

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
            markers = [flag_marker(r.flag, prefix) for r, prefix in parts
                       if r is not None and r.alarming and r.flag is not None]
            # One line per flagged pressure: three on one line would not fit the tile.
            self._show("alarm", value, mean_text, taken, "\n".join(markers))
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
        value_colour = {"current": theme.NIBP, "alarm": theme.ALARM}.get(state, theme.STALE)
        for label in (self.value_label, self.mean_label):
            _set_colour(label, value_colour)
        self._set_marker(marker, theme.ALARM if state == "alarm" else theme.TEXT_DIM)
        self._apply_frame("alarm" if state == "alarm" else "normal")
