"""Thread-safe ring buffers of recent data for the live view.

Device threads append; the UI copies snapshots on its own timer (never per sample). Trends keep
full-resolution data for a whole day; decimation for display happens at draw time so that no
detail is thrown away before it is needed.
"""

from __future__ import annotations

import threading

import numpy as np

from katmonitor.base.samples import Sample, WaveformBlock
from katmonitor.base.vitals import VITALS, VitalKind


class RingBuffer:
    """Fixed-capacity (time, value) pairs; oldest dropped first. Not thread-safe by itself."""

    def __init__(self, capacity: int) -> None:
        self._times = np.zeros(capacity, dtype=np.float64)
        self._values = np.zeros(capacity, dtype=np.float64)
        self._next = 0
        self._count = 0

    @property
    def capacity(self) -> int:
        return int(self._times.shape[0])

    def __len__(self) -> int:
        return self._count

    def append(self, time: float, value: float) -> None:
        self._times[self._next] = time
        self._values[self._next] = value
        self._next = (self._next + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    def extend(self, times: np.ndarray, values: np.ndarray) -> None:
        n = int(times.shape[0])
        if n >= self.capacity:
            times, values, n = times[-self.capacity :], values[-self.capacity :], self.capacity
        first = min(n, self.capacity - self._next)
        self._times[self._next : self._next + first] = times[:first]
        self._values[self._next : self._next + first] = values[:first]
        rest = n - first
        if rest:
            self._times[:rest] = times[first:]
            self._values[:rest] = values[first:]
        self._next = (self._next + n) % self.capacity
        self._count = min(self._count + n, self.capacity)

    def snapshot(self, since: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies in time order (oldest first), optionally only points at or after ``since``."""
        if self._count < self.capacity:
            times, values = self._times[: self._count].copy(), self._values[: self._count].copy()
        else:
            times = np.concatenate((self._times[self._next :], self._times[: self._next]))
            values = np.concatenate((self._values[self._next :], self._values[: self._next]))
        if since is not None:
            start = int(np.searchsorted(times, since, side="left"))
            times, values = times[start:], values[start:]
        return times, values


class LiveBuffers:
    """Recent numerics (trends) and waveforms per vital kind, safe to share across threads."""

    def __init__(
        self,
        trend_seconds: float = 24 * 3600.0,
        waveform_seconds: float = 30.0,
        waveform_rate_hz: float = 100.0,
    ) -> None:
        self._lock = threading.Lock()
        # Numerics arrive about once a second; allow headroom for faster devices.
        self._trends = {
            kind: RingBuffer(int(trend_seconds * 2))
            for kind, spec in VITALS.items()
            if not spec.waveform
        }
        self._waveforms = {
            kind: RingBuffer(int(waveform_seconds * waveform_rate_hz))
            for kind, spec in VITALS.items()
            if spec.waveform
        }
        self._latest: dict[VitalKind, Sample] = {}
        self._latest_waveform: dict[VitalKind, float] = {}
        self.trend_version = 0
        """Increases whenever a numeric is added: the UI redraws trends only when it changed."""

    def add_sample(self, sample: Sample) -> None:
        value = np.nan if sample.value is None else sample.value
        with self._lock:
            self._trends[sample.kind].append(sample.time, value)
            self._latest[sample.kind] = sample
            self.trend_version += 1

    def add_waveform(self, block: WaveformBlock) -> None:
        with self._lock:
            self._waveforms[block.kind].extend(block.times(), block.values.astype(np.float64))
            self._latest_waveform[block.kind] = block.end_time

    def latest(self, kind: VitalKind) -> Sample | None:
        with self._lock:
            return self._latest.get(kind)

    def latest_waveform_time(self, kind: VitalKind = VitalKind.PLETH) -> float | None:
        with self._lock:
            return self._latest_waveform.get(kind)

    def trend(self, kind: VitalKind, since: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(times, values) in time order; NaN where the device had no valid value."""
        with self._lock:
            return self._trends[kind].snapshot(since)

    def waveform(
        self, kind: VitalKind = VitalKind.PLETH, since: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            return self._waveforms[kind].snapshot(since)
