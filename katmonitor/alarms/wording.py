"""What an alarm is called, the order alarms are shown in, and how a value and its limit are
written: one wording for the alarm bar, the numeric tiles, the out-of-limits list, the alarm
history and the exports.

Why one module: the same desaturation was once written four ways (the bar kept the onset's
text, the list the first out-of-limits sample, a tile a limit from before the baseline moved
it). Every place now calls these functions with the engine's own numbers - its effective limit
and the value - so two places cannot show two numbers for one fact. Users see plain clinical
words here, never alarm ids such as ``spo2.low`` or ``tech.audio.no_audio``.
"""

from __future__ import annotations

from collections.abc import Iterable

from katmonitor.alarms.model import (
    ACKNOWLEDGE,
    DEESCALATE,
    END,
    ESCALATE,
    ActiveAlarm,
)
from katmonitor.base.vitals import VitalKind, spec_of

EMPTY_VALUE = "---"

# Technical conditions of the workstation itself: named for what the nurse must know.
SYSTEM_CONDITION_NAMES: dict[str, str] = {
    "no_audio": "No alarm sound",
    "prompt_escalated": "Schedule prompt overdue",
    "storage_failed": "Recording not saved",
}

EVENT_WORDS_SHOWN: dict[str, str] = {
    ESCALATE: "escalated",
    DEESCALATE: "de-escalated",
    END: "ended",
    ACKNOWLEDGE: "acknowledged",
}

SIDE_WORDS = {"low": "low", "high": "high", "trend": "rising"}


def vital_kind(text: str) -> VitalKind | None:
    try:
        return VitalKind(text)
    except ValueError:
        return None


def kind_label(kind: str) -> str:
    """"SpO2" for "spo2"; anything that is not a vital is returned in plain words."""
    vital = vital_kind(kind)
    return spec_of(vital).label if vital is not None else kind.replace("_", " ")


def format_value(kind: VitalKind | str, value: float | None) -> str:
    """A value as the tiles show it (the vital's decimals): "88", "1.25"."""
    if value is None or value != value:
        return EMPTY_VALUE
    vital = vital_kind(str(kind))
    return f"{value:.{spec_of(vital).decimals}f}" if vital is not None else f"{value:g}"


def format_limit(limit: float | None) -> str:
    return "-" if limit is None else f"{limit:g}"


def limit_text(kind: VitalKind | str, direction: str, value: float | None,
               limit: float | None) -> str:
    """"SpO2 87 % < 90": the value beyond its limit, as a monitor writes it.

    ``direction`` is "low" or "high"; ``limit`` is the engine's effective limit."""
    vital = vital_kind(str(kind))
    unit = spec_of(vital).unit if vital is not None else ""
    comparison = "<" if direction == "low" else ">"
    return (f"{kind_label(str(kind))} {format_value(kind, value)} {unit} {comparison} "
            f"{format_limit(limit)}").replace("  ", " ")


def back_inside_text(kind: VitalKind | str, value: float | None, limit: float | None) -> str:
    """"SpO2 back to 93 %, limit 90": the value that ended an alarm."""
    vital = vital_kind(str(kind))
    unit = spec_of(vital).unit if vital is not None else ""
    return (f"{kind_label(str(kind))} back to {format_value(kind, value)} {unit}, "
            f"limit {format_limit(limit)}")


def trend_text(kind: VitalKind | str, rise: float, window_s: float, lowest: float,
               value: float) -> str:
    """"NIBP sys rose 25 mmHg in 15 min, 119 to 144 mmHg"."""
    vital = vital_kind(str(kind))
    unit = spec_of(vital).unit if vital is not None else ""
    return (f"{kind_label(str(kind))} rose {rise:g} {unit} in {window_s / 60:g} min, "
            f"{format_value(kind, lowest)} to {format_value(kind, value)} {unit}")


def limits_text(kind: VitalKind | str, low: float | None, high: float | None) -> str:
    """A parameter's alarm limits in one line: "90-160", "< 90", "> 120" style bounds."""
    if low is not None and high is not None:
        return f"{format_limit(low)}-{format_limit(high)}"
    if low is not None:
        return f"low {format_limit(low)}"
    if high is not None:
        return f"high {format_limit(high)}"
    return "no limits"


def alarm_name(alarm_id: str) -> str:
    """The plain name of an alarm id: "spo2.low" -> "SpO2 low", "tech.audio.no_audio" ->
    "No alarm sound", "tech.ge-dri.sensor_off" -> "ge-dri: sensor off"."""
    if alarm_id == "audio":
        return "Alarm sound"
    parts = alarm_id.split(".")
    if parts[0] == "tech" and len(parts) >= 3:
        source, word = ".".join(parts[1:-1]), parts[-1]
        if word in SYSTEM_CONDITION_NAMES:
            return SYSTEM_CONDITION_NAMES[word]
        if vital_kind(source) is not None and word == "no_data":
            return f"{kind_label(source)}: no current value"
        return f"{source}: {word.replace('_', ' ')}"
    if len(parts) == 2 and vital_kind(parts[0]) is not None and parts[1] in SIDE_WORDS:
        return f"{kind_label(parts[0])} {SIDE_WORDS[parts[1]]}"
    if vital_kind(alarm_id) is not None:
        return kind_label(alarm_id)
    return alarm_id.replace("_", " ").replace(".", " ")


def event_word(event: str) -> str:
    """The event as the history shows it: "escalated", "audio paused"."""
    return EVENT_WORDS_SHOWN.get(event, event.replace("_", " "))


def annunciation_key(alarm: ActiveAlarm) -> tuple[bool, int, float, str]:
    """Physiological alarms before technical ones, then the highest priority, then the
    oldest: a patient alarm is never pushed down by a device or system problem."""
    return (alarm.technical, -int(alarm.priority), alarm.onset, alarm.alarm_id)


def in_annunciation_order(alarms: Iterable[ActiveAlarm]) -> list[ActiveAlarm]:
    return sorted(alarms, key=annunciation_key)
