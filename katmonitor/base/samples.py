"""What devices produce: numeric samples, waveform blocks and device status.

Times are UTC seconds since the Unix epoch (floats) everywhere in the core; they are turned
into ISO-8601 or local time only at the edges (CLI output, UI labels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

import numpy as np

from katmonitor.base.vitals import VitalKind, spec_of


@dataclass(frozen=True, slots=True)
class Sample:
    """One numeric reading from one device.

    ``value`` is None when the device reported the parameter but had no valid value; the
    reason is in ``status`` (e.g. ``"sensor_off"``, ``"invalid"``).
    """

    time: float
    source: str
    kind: VitalKind
    value: float | None
    status: frozenset[str] = frozenset()

    def to_json_dict(self) -> dict[str, object]:
        return {
            "time": iso_utc(self.time),
            "source": self.source,
            "kind": str(self.kind),
            "value": self.value,
            "unit": spec_of(self.kind).unit,
            "status": sorted(self.status),
        }


@dataclass(frozen=True, slots=True, eq=False)
class WaveformBlock:
    """Evenly spaced waveform points (e.g. 10 pleth points at 100 Hz)."""

    start_time: float
    sample_rate_hz: float
    source: str
    kind: VitalKind
    values: np.ndarray  # float32, one dimension
    status: frozenset[str] = frozenset()

    @property
    def count(self) -> int:
        return int(self.values.shape[0])

    @property
    def end_time(self) -> float:
        """Time just after the last point (start of the next contiguous block)."""
        return self.start_time + self.count / self.sample_rate_hz

    def times(self) -> np.ndarray:
        return self.start_time + np.arange(self.count, dtype=np.float64) / self.sample_rate_hz

    def to_samples(self) -> list[Sample]:
        return [
            Sample(float(t), self.source, self.kind, float(v), self.status)
            for t, v in zip(self.times(), self.values, strict=True)
        ]


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    NO_DATA = "no_data"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A change in a device's connection or sensor state (the source of technical alarms)."""

    time: float
    source: str
    state: ConnectionState
    conditions: frozenset[str] = frozenset()
    message: str = ""

    def to_json_dict(self) -> dict[str, object]:
        return {
            "time": iso_utc(self.time),
            "source": self.source,
            "kind": "status",
            "value": str(self.state),
            "unit": None,
            "status": sorted(self.conditions),
            "message": self.message,
        }


class SampleSink(Protocol):
    """Where a device delivers what it reads. Called from the device's own thread."""

    def on_sample(self, sample: Sample) -> None: ...

    def on_waveform(self, block: WaveformBlock) -> None: ...

    def on_status(self, status: DeviceStatus) -> None: ...


@dataclass(slots=True)
class CollectingSink:
    """A sink that keeps everything it is given (used by the CLI's record summary and tests)."""

    samples: list[Sample] = field(default_factory=list)
    blocks: list[WaveformBlock] = field(default_factory=list)
    statuses: list[DeviceStatus] = field(default_factory=list)

    def on_sample(self, sample: Sample) -> None:
        self.samples.append(sample)

    def on_waveform(self, block: WaveformBlock) -> None:
        self.blocks.append(block)

    def on_status(self, status: DeviceStatus) -> None:
        self.statuses.append(status)


def iso_utc(epoch_s: float) -> str:
    """ISO-8601 UTC with millisecond precision and a Z suffix."""
    text = datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_iso_utc(text: str) -> float:
    """Inverse of :func:`iso_utc`; naive times are taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
