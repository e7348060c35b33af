"""The "Out of limits" list beside the tiles: what is beyond its limit now, and the recent alarm
onsets.

Both halves use the core's wording (``katmonitor.alarms.wording``) with the same numbers as the
other places: a line "now" is the current value against the engine's effective limit - the
number on the tile and in the alarm bar - and a recent onset is the engine's onset event, the
time, value and text that the alarm history shows. Colour is the alarm's priority colour (as in
the bar); a value beyond its limit with no alarm on (yet: the condition delay, or alarm off) is
plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from katmonitor.alarms.model import ONSET, ActiveAlarm, AlarmEvent
from katmonitor.limits import LimitFlag
from ui import theme
from ui.alarm_bar import PRIORITY_COLOURS

RECENT_ONSETS_SHOWN = 8
MIN_HEIGHT_PX = 40
NONE_NOW = "None now"
RECENT_HEADER = "Recent onsets"


def onset_line(event: AlarmEvent) -> str:
    """"10:02:15  SpO2 87 % < 90" - the onset's time (local) and its recorded text."""
    return f"{datetime.fromtimestamp(event.time).strftime('%H:%M:%S')}  {event.message}"


def recent_onsets(events: Sequence[AlarmEvent], count: int = RECENT_ONSETS_SHOWN
                  ) -> list[AlarmEvent]:
    """The latest physiological alarm onsets, newest first."""
    onsets = [e for e in events if e.event == ONSET and not e.technical]
    return onsets[-count:][::-1]


class OutOfLimitsList(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumHeight(MIN_HEIGHT_PX)  # it scrolls: the window must fit 800 px
        self._key: tuple[object, ...] = ()
        self._onsets: tuple[AlarmEvent | None, list[AlarmEvent]] = (None, [])

    def texts(self) -> list[str]:
        return [self.item(row).text() for row in range(self.count())]

    def show_state(self, active: Sequence[LimitFlag], alarms: Sequence[ActiveAlarm],
                   events: Sequence[AlarmEvent]) -> None:
        colours: dict[str, str] = {}
        for alarm in alarms:  # the most urgent alarm of a parameter gives its colour
            if not alarm.technical and alarm.kind not in colours:
                colours[alarm.kind] = PRIORITY_COLOURS[alarm.priority]
        last = events[-1] if events else None
        if last is not self._onsets[0]:  # the log changed: scan it again (not every frame)
            self._onsets = (last, recent_onsets(events))
        onsets = self._onsets[1]
        lines = [(f"{'▲' if f.direction == 'high' else '▼'} {f.text}",
                  colours.get(str(f.sample.kind), theme.TEXT)) for f in active]
        key = (tuple(lines), tuple((e.time, e.alarm_id) for e in onsets))
        if key == self._key:
            return
        self._key = key
        self.clear()
        for text, colour in lines:
            self._add(text, colour, theme.font(theme.TILE_LABEL_PX, bold=True))
        if not lines:
            self._add(NONE_NOW, theme.TEXT_DIM)
        if onsets:
            self._add(RECENT_HEADER, theme.TEXT_DIM, theme.font(theme.BASE_PX, bold=True))
        for event in onsets:  # past: dim, so they never look like an alarm on now
            self._add(onset_line(event), theme.TEXT_DIM)

    def _add(self, text: str, colour: str, font: object = None) -> None:
        item = QListWidgetItem(text)
        item.setForeground(theme.colour(colour))
        item.setToolTip(text)
        if font is not None:
            item.setFont(font)  # type: ignore[arg-type]
        self.addItem(item)
