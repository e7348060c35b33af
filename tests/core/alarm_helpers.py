"""Shared builders for the alarm tests."""

from __future__ import annotations

from dataclasses import replace

from katmonitor.alarms import AlarmEngine, AlarmEvent, AlarmProfile, load_profile
from katmonitor.alarms.profile import Latching
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind

T0 = 1_800_000_000.0


def engine(profile: str | AlarmProfile = "default", **changes: object) -> AlarmEngine:
    loaded = load_profile(profile) if isinstance(profile, str) else profile
    return AlarmEngine(replace(loaded, **changes) if changes else loaded)


def latching(mode: str) -> AlarmEngine:
    return engine(latching=Latching(mode))


def s(t: float, kind: VitalKind, value: float | None) -> Sample:
    return Sample(T0 + t, "mon", kind, value)


def feed(
    e: AlarmEngine, kind: VitalKind, values: list[tuple[float, float | None]]
) -> list[AlarmEvent]:
    out: list[AlarmEvent] = []
    for t, v in values:
        out += e.process_sample(s(t, kind, v))
    return out


def names(events: list[AlarmEvent]) -> list[tuple[str, str, str | None]]:
    return [(e.alarm_id, e.event, e.priority.label if e.priority else None) for e in events]
