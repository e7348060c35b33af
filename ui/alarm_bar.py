"""The alarm bar at the top of the window: every active alarm, most urgent first.

What is on, its priority, its text, acknowledged or latched, whether audio is paused and which
parameters' alarms are off all come from the core (``Workstation.active_alarms()`` in
``katmonitor.alarms.wording``'s order, and ``audio_state()``); the bar only shows them the
IEC 60601-1-8 way:

- high: red, flashing ~2 Hz (50 % duty), marker ``***``;
- medium: yellow, flashing ~0.5 Hz (50 % duty), marker ``**``;
- low: cyan, steady, marker ``*``;
- an acknowledged alarm stops flashing and stays, outlined, while its condition lasts.

Physiological alarms have the left zone; technical ones (a device, the loudspeaker, the
recording) their own zone on the right, drawn with a dashed outline and "⚠", so a device
problem never pushes a patient alarm down. Every text is elided, never widening the window.

Markers and words ("ACK", "LATCHED", "AUDIO PAUSED 1:45", "ALARM OFF: HR") make sure colour
is never the only cue. The flash phase is a function of the UI timer's time (``flash_lit``),
so every flashing element blinks in step, at the same rate whatever the sample rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from katmonitor.alarms.model import ActiveAlarm, AudioState, Priority
from katmonitor.alarms.wording import kind_label
from ui import theme
from ui.elided_label import ElidedLabel

NO_ALARMS_TEXT = "No active alarms"
MAX_ROWS = 3  # per zone; more are summarised as "+N more" (the bar must not push the vitals)
NO_AUDIO_ID = "tech.audio.no_audio"
ENTRY_WIDTH_HINT_PX = 160

PRIORITY_COLOURS: dict[Priority, str] = {
    Priority.HIGH: theme.ALARM_HIGH,
    Priority.MEDIUM: theme.ALARM_MEDIUM,
    Priority.LOW: theme.ALARM_LOW,
}
FLASH_HZ: dict[Priority, float] = {Priority.HIGH: 2.0, Priority.MEDIUM: 0.5, Priority.LOW: 0.0}


def flash_lit(priority: Priority, t: float) -> bool:
    """Whether an element of this priority is lit at UI time ``t`` (50 % duty; low: steady)."""
    hz = FLASH_HZ[priority]
    return True if hz <= 0 else (t * hz) % 1.0 < 0.5


def alarm_lit(alarm: ActiveAlarm, t: float) -> bool:
    """Whether an alarm's bar entry and tile are in their filled phase: an acknowledged alarm
    no longer flashes (it stays shown, outlined, while its condition lasts)."""
    return not alarm.acknowledged and flash_lit(alarm.priority, t)


def entry_text(alarm: ActiveAlarm) -> str:
    """"*** SpO2 82 % < 90   ACK" - marker, the core's text (current value against the
    effective limit), state words; technical alarms are marked "⚠"."""
    words = []
    if alarm.latched:
        words.append("LATCHED")
    if alarm.acknowledged:
        words.append("ACK")
    text = f"{alarm.priority.marker} {'⚠ ' if alarm.technical else ''}{alarm.message}"
    return text + ("   " + " · ".join(words) if words else "")


def format_remaining(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.999))
    return f"{seconds // 60}:{seconds % 60:02d}"


class _EntryLabel(ElidedLabel):
    """One alarm line; remembers when it was first painted with its current alarm (latency
    benchmark: sample in -> pixels out)."""

    def __init__(self, on_painted: Callable[[str], None]) -> None:
        super().__init__()
        self.alarm_id = ""
        self._unpainted = False
        self._on_painted = on_painted

    def sizeHint(self) -> QSize:
        # Modest: the zones share the bar by their stretch, not by their texts' lengths.
        return QSize(ENTRY_WIDTH_HINT_PX, super().sizeHint().height())

    def show_alarm(self, alarm_id: str) -> None:
        if alarm_id != self.alarm_id:
            self.alarm_id = alarm_id
            self._unpainted = bool(alarm_id)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._unpainted:
            self._unpainted = False
            self._on_painted(self.alarm_id)


class AlarmBar(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alarm_bar")
        self.setStyleSheet(f"QFrame#alarm_bar {{ background: {theme.PANEL};"
                           f" border-bottom: 1px solid {theme.PANEL_BORDER}; }}")
        self.first_painted: dict[str, float] = {}
        """perf_counter of the first paint of each alarm id's entry (until it goes off)."""
        self.painted_hook: Callable[[str], None] | None = None
        """Called (UI thread) after an entry's first paint, e.g. by the latency benchmark."""
        self._alarms: list[ActiveAlarm] = []
        self._shown: list[tuple[_EntryLabel, ActiveAlarm]] = []
        self._shown_key: tuple[object, ...] = ()
        self._styles: dict[QLabel, str] = {}

        # The rows are always laid out (empty when unused): the bar keeps one height, so an
        # alarm coming on never re-lays out (and redraws) the plots below it.
        self.patient_rows = self._zone_rows()
        self.technical_rows = self._zone_rows()
        self.rows: list[_EntryLabel] = self.patient_rows + self.technical_rows
        patient, technical = QVBoxLayout(), QVBoxLayout()
        for zone, labels in ((patient, self.patient_rows), (technical, self.technical_rows)):
            zone.setContentsMargins(0, 0, 0, 0)
            zone.setSpacing(2)
            for label in labels:
                zone.addWidget(label)
        self.more_label = ElidedLabel(min_width=40)
        self.more_label.setStyleSheet(f"color: {theme.TEXT}; padding: 0 8px;")
        self.more_label.hide()
        self.audio_label = QLabel()
        self.audio_label.setFont(theme.font(theme.HEADER_PX, bold=True))
        self.audio_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.off_label = ElidedLabel()
        self.off_label.setFont(theme.font(theme.TILE_DETAIL_PX, bold=True))
        self.off_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.off_label.hide()
        self.ack_button = QToolButton()
        self.pause_button = QToolButton()
        self.history_button = QToolButton()
        for button in (self.ack_button, self.pause_button, self.history_button):
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setFont(theme.font(theme.BASE_PX, bold=True))

        # States and keys in narrow columns, so the alarm texts keep most of the width even
        # on a 1280 px screen: [patient alarms | technical alarms | sound, alarm off, more |
        # acknowledge, audio pause, history].
        states = QVBoxLayout()
        states.setSpacing(2)
        states.addWidget(self.audio_label)
        states.addWidget(self.off_label)
        states.addWidget(self.more_label)
        states.addStretch(1)
        keys = QVBoxLayout()
        keys.setSpacing(2)
        for button in (self.ack_button, self.pause_button, self.history_button):
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            keys.addWidget(button)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(10)
        layout.addLayout(patient, 3)
        layout.addLayout(technical, 2)
        layout.addLayout(states)
        layout.addLayout(keys)
        self._no_audio_colour = theme.ALARM_MEDIUM
        self._set_audio_text("AUDIO ON", theme.TEXT_DIM, lit=False)

    def _zone_rows(self) -> list[_EntryLabel]:
        labels = []
        for _ in range(MAX_ROWS):
            label = _EntryLabel(self._painted)
            label.setFont(theme.font(theme.HEADER_PX, bold=True))
            label.setFixedHeight(28)
            label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            labels.append(label)
        return labels

    # -- for the window and the tests ------------------------------------------------------------

    @property
    def alarms(self) -> list[ActiveAlarm]:
        return list(self._alarms)

    def entry_texts(self) -> list[str]:
        """The entries shown (whole texts): patient alarms, then technical ones."""
        return [label.text() for label, _ in self._shown]

    def entry_labels(self) -> list[_EntryLabel]:
        return [label for label, _ in self._shown]

    def entry_lit(self, row: int) -> bool:
        """Whether entry ``row`` is in its lit (filled) flash phase."""
        return "background" in self._styles.get(self._shown[row][0], "")

    def entry_colour(self, row: int) -> str:
        return PRIORITY_COLOURS[self._shown[row][1].priority]

    def entry_technical_style(self, row: int) -> bool:
        return "dashed" in self._styles.get(self._shown[row][0], "")

    def audio_text(self) -> str:
        return self.audio_label.text()

    def alarm_off_text(self) -> str:
        return "" if self.off_label.isHidden() else self.off_label.text()

    # -- the frame -----------------------------------------------------------------------------

    def show_state(self, alarms: Sequence[ActiveAlarm], audio: AudioState, now: float,
                   flash_t: float, audio_problem: str | None = None) -> None:
        """``now``: the workstation clock (pause countdown); ``flash_t``: the UI timer's time
        (flash phase)."""
        self._alarms = list(alarms)  # the core's order: patient alarms first, most urgent first
        patient = [a for a in alarms if not a.technical]
        technical = [a for a in alarms if a.technical]
        key = tuple((a.alarm_id, entry_text(a)) for a in alarms)
        if key != self._shown_key:
            self._shown_key = key
            ids = {a.alarm_id for a in alarms}
            for gone in [i for i in self.first_painted if i not in ids]:
                del self.first_painted[gone]
            self._shown = []
            for rows, zone in ((self.patient_rows, patient), (self.technical_rows, technical)):
                for row, label in enumerate(rows):
                    if row < len(zone):
                        label.setText(entry_text(zone[row]))
                        label.show_alarm(zone[row].alarm_id)
                        self._shown.append((label, zone[row]))
                    else:
                        label.setText(NO_ALARMS_TEXT if rows is self.patient_rows and row == 0
                                      and not alarms else "")
                        label.show_alarm("")
                        self._restyle(label, f"color: {theme.TEXT_DIM}; padding: 1px 10px;")
            extra = max(0, len(patient) - MAX_ROWS) + max(0, len(technical) - MAX_ROWS)
            self.more_label.setText(f"+{extra} more (F4: history)")
            self.more_label.setVisible(extra > 0)
        for label, alarm in self._shown:
            self._style(label, PRIORITY_COLOURS[alarm.priority], alarm_lit(alarm, flash_t),
                        technical=alarm.technical)
        no_audio = next((a for a in alarms if a.alarm_id == NO_AUDIO_ID), None)
        self._no_audio_colour = PRIORITY_COLOURS[no_audio.priority if no_audio is not None
                                                 else Priority.MEDIUM]
        self._show_audio(audio, now, flash_t, audio_problem)
        off = sorted(kind_label(kind) for kind in audio.alarms_off)
        text = f"ALARM OFF: {', '.join(off)}" if off else ""
        if text != self.off_label.text():
            self.off_label.setText(text)
            self._restyle(self.off_label, f"color: {theme.ALARM_MEDIUM}; padding: 2px 8px;"
                          f" border: 2px solid {theme.ALARM_MEDIUM}; border-radius: 3px;")
        self.off_label.setVisible(bool(off))

    def _show_audio(self, audio: AudioState, now: float, flash_t: float,
                    problem: str | None) -> None:
        if audio.paused_until is not None:
            remaining = format_remaining(audio.paused_until - now)
            self._set_audio_text(f"AUDIO PAUSED {remaining}", theme.AUDIO_PAUSED, lit=True)
        elif problem is not None:
            # The no-audio alarm's own priority colour, as in its bar entry.
            self._set_audio_text("NO ALARM SOUND", self._no_audio_colour, lit=True)
            self.audio_label.setToolTip(problem)
        else:
            self._set_audio_text("AUDIO ON", theme.TEXT_DIM, lit=False)

    def _set_audio_text(self, text: str, colour: str, *, lit: bool) -> None:
        if text != self.audio_label.text():
            self.audio_label.setText(text)
        if lit:
            style = (f"color: {theme.ALARM_LIT_TEXT}; background: {colour};"
                     " padding: 2px 8px; border-radius: 3px;")
        else:
            style = f"color: {colour}; padding: 2px 8px;"
        self._restyle(self.audio_label, style)

    def _style(self, label: QLabel, colour: str, lit: bool, *, technical: bool = False) -> None:
        # Technical alarms: a dashed outline, patient alarms a solid one - their own style,
        # in the priority's colour all the same.
        line = "dashed" if technical else "solid"
        if lit:
            style = (f"color: {theme.ALARM_LIT_TEXT}; background: {colour};"
                     f" border: 2px {line} {theme.ALARM_LIT_TEXT if technical else colour};"
                     " padding: 1px 8px; border-radius: 3px;")
        else:  # the dark phase keeps the text readable, in the alarm's colour
            style = (f"color: {colour}; border: 2px {line} {colour};"
                     " padding: 1px 8px; border-radius: 3px;")
        self._restyle(label, style)

    def _restyle(self, label: QLabel, style: str) -> None:
        # Restyling re-polishes the widget: only when the phase or the colour changed.
        if self._styles.get(label) != style:
            self._styles[label] = style
            label.setStyleSheet(style)

    def _painted(self, alarm_id: str) -> None:
        self.first_painted.setdefault(alarm_id, time.perf_counter())
        if self.painted_hook is not None:
            self.painted_hook(alarm_id)
