"""Alarm priorities, the events the engine emits, and read-only views of active alarms."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from katmonitor.base.errors import KatMonitorError
from katmonitor.base.samples import iso_utc


class Priority(IntEnum):
    """IEC 60601-1-8 priorities; ordered so that ``max()`` gives the most urgent."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def marker(self) -> str:
        """On-screen marker so that colour is not the only cue."""
        return "*" * int(self)

    @classmethod
    def parse(cls, text: str) -> Priority:
        return cls[text.strip().upper()]


# Event words (AlarmEvent.event).
ONSET = "onset"
ESCALATE = "escalate"
DEESCALATE = "deescalate"
END = "end"
ACKNOWLEDGE = "acknowledge"
AUDIO_PAUSED = "audio_paused"
AUDIO_RESUMED = "audio_resumed"
REMINDER = "reminder"
ALARM_OFF = "alarm_off"
ALARM_ON = "alarm_on"
LIMIT_CHANGED = "limit_changed"
EVENT_WORDS = (
    ONSET,
    ESCALATE,
    DEESCALATE,
    END,
    ACKNOWLEDGE,
    AUDIO_PAUSED,
    AUDIO_RESUMED,
    REMINDER,
    ALARM_OFF,
    ALARM_ON,
    LIMIT_CHANGED,
)

DEVICE_KIND = "device"
"""``AlarmEvent.kind`` of technical alarms raised from a device's status."""
SYSTEM_KIND = "system"
"""``AlarmEvent.kind`` of events about the alarm system itself (audio pause)."""


class AlarmSettingError(KatMonitorError):
    """An alarm setting the profile does not allow (switching an alarm off, a limit out of
    bounds, no reason given)."""


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One entry of the alarm record: what happened to which alarm, when, and why."""

    time: float
    alarm_id: str  # "spo2.low", "nibp_systolic.trend", "tech.<source>.sensor_off", "audio"
    kind: str  # a VitalKind value, "device" or "system"
    priority: Priority | None
    event: str  # one of EVENT_WORDS
    value: float | None = None
    limit: float | None = None
    message: str = ""
    technical: bool = False
    user: str = ""
    reason: str = ""

    def to_json_dict(self) -> dict[str, object]:
        line: dict[str, object] = {
            "time": iso_utc(self.time),
            "alarm": self.alarm_id,
            "kind": self.kind,
            "priority": self.priority.label if self.priority is not None else None,
            "event": self.event,
            "value": self.value,
            "limit": self.limit,
            "message": self.message,
        }
        if self.technical:
            line["technical"] = True
        if self.user:
            line["user"] = self.user
        if self.reason:
            line["reason"] = self.reason
        return line


@dataclass(frozen=True, slots=True)
class ActiveAlarm:
    """A snapshot of one alarm that is on (for the alarm bar)."""

    alarm_id: str
    kind: str
    priority: Priority
    technical: bool
    onset: float
    message: str
    """What it is now, in the shared wording ("SpO2 88 % < 90"): the current value against
    the effective limit (a latched alarm: the value that triggered it)."""
    value: float | None
    """The parameter's current value (technical alarms: None)."""
    limit: float | None
    """The engine's effective limit now (a trend alarm: the value that makes the rise)."""
    acknowledged: bool
    latched: bool
    """The condition has ended but the alarm is held until acknowledged (latching)."""
    name: str = ""
    """Its plain name ("SpO2 low"), from ``wording.alarm_name``."""
    trigger_value: float | None = None
    """The value that started it (or raised its priority last)."""


@dataclass(frozen=True, slots=True)
class AudioState:
    """What the loudspeaker should do now."""

    sounding: Priority | None
    """The priority whose tone should play now; None: silent."""
    paused_until: float | None
    """Audio pause in force until this time; None: not paused."""
    alarms_off: frozenset[str]
    """Parameters whose alarms are switched off (shown on screen)."""


def active_alarms_at(events: Iterable[AlarmEvent], t: float) -> list[str]:
    """The messages of the physiological alarms that were on at ``t`` according to a recorded
    alarm history (an onset at or before ``t`` and no end up to it)."""
    on: dict[str, str] = {}
    for event in sorted(events, key=lambda e: e.time):
        if event.time > t:
            break
        if event.technical:
            continue
        if event.event == ONSET:
            on[event.alarm_id] = event.message
        elif event.event == END:
            on.pop(event.alarm_id, None)
    return list(on.values())
