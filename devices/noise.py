"""Fault injection for simulated byte streams: bit errors, dropped bytes, silence and sensor-off
periods - what a loose connector, a noisy cable or a finger slipping out of the probe does.

Deterministic for a given seed, so a test or a training scenario behaves the same every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from devices.codec import Emulator


@dataclass(frozen=True, slots=True)
class NoiseSettings:
    bit_error_rate: float = 0.0
    """Probability that any one byte has one bit flipped."""
    drop_rate: float = 0.0
    """Probability that any one byte is lost."""
    silence_at_s: float | None = None
    """Seconds after start when the device falls silent ..."""
    silence_for_s: float = 0.0
    """... for this long (0: for good)."""
    sensor_off_at_s: float | None = None
    sensor_off_for_s: float = 0.0
    seed: int = 7

    @property
    def active(self) -> bool:
        return bool(
            self.bit_error_rate
            or self.drop_rate
            or self.silence_at_s is not None
            or self.sensor_off_at_s is not None
        )


def _within(elapsed: float, at: float | None, length: float) -> bool:
    return at is not None and elapsed >= at and (length <= 0 or elapsed < at + length)


class NoisyStream(Emulator):
    """Wraps an emulator: ``advance(now)`` returns its bytes with the configured faults."""

    def __init__(self, emulator: Emulator, settings: NoiseSettings) -> None:
        super().__init__(emulator.model, emulator.start_time)
        self.emulator = emulator
        self.settings = settings
        self.protocol = emulator.protocol
        self.needs_request = emulator.needs_request
        self.state = emulator.state
        self._rng = np.random.default_rng(settings.seed)

    def advance(self, now: float) -> bytes:
        elapsed = now - self.emulator.start_time
        s = self.settings
        self.emulator.state.sensor_off = _within(elapsed, s.sensor_off_at_s, s.sensor_off_for_s)
        data = self.emulator.advance(now)
        if _within(elapsed, s.silence_at_s, s.silence_for_s):
            return b""
        return self.corrupt(data)

    def receive(self, data: bytes, now: float) -> bytes:
        return self.emulator.receive(data, now)

    def corrupt(self, data: bytes) -> bytes:
        s = self.settings
        if not data or not (s.bit_error_rate or s.drop_rate):
            return data
        raw = np.frombuffer(data, dtype=np.uint8).copy()
        if s.bit_error_rate:
            hits = self._rng.random(raw.shape[0]) < s.bit_error_rate
            bits = self._rng.integers(0, 8, size=int(np.count_nonzero(hits)))
            raw[hits] ^= (1 << bits).astype(np.uint8)
        if s.drop_rate:
            raw = raw[self._rng.random(raw.shape[0]) >= s.drop_rate]
        return raw.tobytes()
