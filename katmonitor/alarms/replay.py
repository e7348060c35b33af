"""Run an alarm profile over recorded samples: what would it have raised?

Input: JSON lines as printed by ``katmonitor decode`` and ``katmonitor sessions show ID
--samples`` (samples, ``"kind": "status"`` lines; pleth and waveform summary lines are skipped),
or a stored session (:func:`replay_stored_session`, which sets the pre-dose baseline as the
live monitor does). Output: the alarm events, and a summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Protocol

from katmonitor.alarms.baseline import compute_baseline
from katmonitor.alarms.engine import AlarmEngine
from katmonitor.alarms.model import END, ONSET, AlarmEvent, Priority
from katmonitor.alarms.profile import load_profile, profile_for_route
from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import (
    ConnectionState,
    DeviceStatus,
    Sample,
    WaveformBlock,
    parse_iso_utc,
)
from katmonitor.base.vitals import VitalKind, spec_of
from katmonitor.session import DoseEvent, Session

Item = Sample | DeviceStatus


def read_json_lines(stream: IO[str], name: str = "-") -> Iterator[Item]:
    """Samples and statuses from JSON lines; a line without a time takes the previous one."""
    last_time: float | None = None
    for number, line in enumerate(stream, 1):
        line = line.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
            kind = data["kind"]
            text_time = data.get("time")
            if text_time is None:
                if last_time is None:
                    continue  # no clock yet (a device without time stamps): nothing to place
                when = last_time
            else:
                when = parse_iso_utc(text_time)
            last_time = when
            source = str(data.get("source") or "replay")
            words = frozenset(data.get("status") or ())
            if kind == "status":
                state = data.get("value") or "connected"
                yield DeviceStatus(
                    when, source, ConnectionState(state), words, str(data.get("message") or "")
                )
                continue
            vital = VitalKind(kind)
            if spec_of(vital).waveform or "summary" in words:
                continue
            value = data.get("value")
            yield Sample(when, source, vital, None if value is None else float(value), words)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigurationError(
                f"{name}: line {number}: not a sample line ({error})",
                "give the JSON lines of `katmonitor decode` or `katmonitor sessions show ID "
                "--samples`",
            ) from None


@dataclass
class ReplaySummary:
    first_time: float | None = None
    last_time: float | None = None
    samples: int = 0
    onsets: dict[str, int] = field(default_factory=lambda: {p.label: 0 for p in Priority})
    technical_onsets: int = 0
    alarm_seconds: float = 0.0
    """Total time with at least one physiological alarm on."""

    @property
    def hours(self) -> float:
        if self.first_time is None or self.last_time is None:
            return 0.0
        return (self.last_time - self.first_time) / 3600.0

    def to_json_dict(self) -> dict[str, object]:
        hours = self.hours
        return {
            "summary": True,
            "samples": self.samples,
            "hours": round(hours, 4),
            "onsets": dict(self.onsets),
            "technical_onsets": self.technical_onsets,
            "alarms_per_hour": {
                k: (round(v / hours, 3) if hours > 0 else None) for k, v in self.onsets.items()
            },
            "seconds_in_alarm": round(self.alarm_seconds, 3),
        }


def replay(
    engine: AlarmEngine, items: Iterable[Item], summary: ReplaySummary
) -> Iterator[AlarmEvent]:
    """Feed the engine in order; yields its events and fills ``summary``."""
    physiological_on: set[str] = set()
    since = 0.0
    process_sample = engine.process_sample
    for item in items:
        if isinstance(item, Sample):
            summary.samples += 1
            events = process_sample(item)
        else:
            events = engine.process_status(item)
        if summary.first_time is None:
            summary.first_time = item.time
        summary.last_time = item.time
        for event in events:
            if event.event == ONSET and event.priority is not None:
                if event.technical:
                    summary.technical_onsets += 1
                else:
                    summary.onsets[event.priority.label] += 1
            if not event.technical and event.event in (ONSET, END):
                before = bool(physiological_on)
                if event.event == ONSET:
                    physiological_on.add(event.alarm_id)
                else:
                    physiological_on.discard(event.alarm_id)
                if not before and physiological_on:
                    since = event.time
                elif before and not physiological_on:
                    summary.alarm_seconds += event.time - since
            yield event
    if physiological_on and summary.last_time is not None:
        summary.alarm_seconds += summary.last_time - since


class StoredSessions(Protocol):
    """The reads of a stored session the replay needs (SessionStore has them)."""

    def get_session(self, session_id: int) -> Session: ...

    def doses(self, session_id: int) -> list[DoseEvent]: ...

    def iter_samples(self, session_id: int) -> Iterator[Sample | WaveformBlock]: ...

    def device_events(self, session_id: int) -> list[DeviceStatus]: ...


ROUTE_PROFILE = "route"
"""The profile name meaning: the shipped profile for the session's route."""


def replay_stored_session(
    store: StoredSessions, session_id: int, profile: str, summary: ReplaySummary
) -> Iterator[AlarmEvent]:
    """Replay a stored session as it was monitored live: the samples and device events up to
    the first dose (or the session start), then the pre-dose baseline set at that moment, then
    the rest. Yields the alarm events (the baseline's limit changes included) and fills
    ``summary``; ``profile`` is a profile name or path, or ``"route"``."""
    session = store.get_session(session_id)
    name = profile_for_route(session.route) if profile == ROUTE_PROFILE else profile
    engine = AlarmEngine(load_profile(name))
    doses = store.doses(session.id)
    anchor = doses[0].time if doses else session.started_at
    items = _stored_items(store, session.id)
    before = [i for i in items if i.time <= anchor]
    after = [i for i in items if i.time > anchor]
    yield from replay(engine, before, summary)
    samples = [i for i in before if isinstance(i, Sample)]
    yield from engine.set_baseline(compute_baseline(samples, anchor), anchor)
    yield from replay(engine, after, summary)


def _stored_items(store: StoredSessions, session_id: int) -> list[Item]:
    samples = [i for i in store.iter_samples(session_id) if isinstance(i, Sample)]
    return sorted([*samples, *store.device_events(session_id)], key=_item_time)


def _item_time(item: Item) -> float:
    return item.time
