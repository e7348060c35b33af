"""The simulated monitor: plausible adult vitals for training, demos and tests.

Every second it reports HR, pulse rate, SpO2 and perfusion index; NIBP every ``nibp_interval``
seconds (the first reading a few seconds after connection, as a monitor's start-up measurement);
and a 100 Hz pleth waveform in 10-point blocks whose beat rate follows the pulse.

Scenarios (``sim:NAME``):
  normal        steady, healthy adult values
  hypertensive  blood pressure and heart rate rise after a few minutes, peaking near 40 min
                (the ketamine pattern) - crosses the default systolic limit
  desaturation  SpO2 dips to the high 80s for a minute every 5 minutes

Options: ``nibp_interval`` (s, default 180), ``seed`` (int), ``stop_after`` (s: the feed falls
silent, as an unplugged cable does, while the device stays "connected").
"""

from __future__ import annotations

import math
import time

import numpy as np

from devices.base import Device
from devices.registry import DeviceSpec
from katmonitor.clock import Clock, SystemClock
from katmonitor.errors import ConfigurationError
from katmonitor.samples import ConnectionState, DeviceStatus, Sample, SampleSink, WaveformBlock
from katmonitor.vitals import VitalKind

SCENARIOS = ("normal", "hypertensive", "desaturation")
PLETH_RATE_HZ = 100.0
BLOCK_POINTS = 10  # 10 points at 100 Hz: one block every 100 ms
FIRST_NIBP_AFTER_S = 3.0


class VitalsModel:
    """Deterministic physiology for one scenario, as a function of seconds since connection."""

    def __init__(self, scenario: str = "normal", seed: int = 1) -> None:
        if scenario not in SCENARIOS:
            raise ConfigurationError(
                f"unknown simulator scenario {scenario!r}", f"choose one of: {', '.join(SCENARIOS)}"
            )
        self.scenario = scenario
        self._rng = np.random.default_rng(seed)
        self._phase = 0.0  # pleth beat phase in [0, 1)

    def _ketamine_effect(self, elapsed_s: float) -> float:
        """0..1: rises from minute 5, peaks at 40 min, fades by 2 h."""
        if self.scenario != "hypertensive":
            return 0.0
        minutes = elapsed_s / 60.0
        if minutes < 5:
            return 0.0
        if minutes < 40:
            return math.sin((minutes - 5) / 35 * math.pi / 2)
        return max(0.0, 1.0 - (minutes - 40) / 80)

    def heart_rate(self, elapsed_s: float) -> float:
        drift = 3.0 * math.sin(elapsed_s / 97.0) + 1.5 * math.sin(elapsed_s / 23.0)
        return 72.0 + drift + 22.0 * self._ketamine_effect(elapsed_s)

    def numerics(self, elapsed_s: float) -> dict[VitalKind, float]:
        hr = self.heart_rate(elapsed_s) + float(self._rng.normal(0, 0.7))
        spo2 = 98.0 + 0.8 * math.sin(elapsed_s / 61.0) + float(self._rng.normal(0, 0.3))
        if self.scenario == "desaturation" and (elapsed_s % 300.0) > 240.0:
            spo2 -= 10.0 * math.sin((elapsed_s % 300.0 - 240.0) / 60.0 * math.pi)
        return {
            VitalKind.HR: float(round(hr)),
            VitalKind.PULSE_RATE: float(round(hr + float(self._rng.normal(0, 0.8)))),
            VitalKind.SPO2: float(min(100, round(spo2))),
            VitalKind.PERFUSION_INDEX: round(3.2 + 0.4 * math.sin(elapsed_s / 40.0), 2),
        }

    def nibp(self, elapsed_s: float) -> tuple[float, float, float]:
        effect = self._ketamine_effect(elapsed_s)
        systolic = 118.0 + 52.0 * effect + float(self._rng.normal(0, 3))
        diastolic = 76.0 + 24.0 * effect + float(self._rng.normal(0, 2))
        mean = diastolic + (systolic - diastolic) / 3.0
        return float(round(systolic)), float(round(diastolic)), float(round(mean))

    def pleth(self, elapsed_s: float, count: int, rate_hz: float) -> np.ndarray:
        """``count`` pleth points; the beat phase carries over between calls."""
        beats_per_point = self.heart_rate(elapsed_s) / 60.0 / rate_hz
        phases = (self._phase + beats_per_point * np.arange(1, count + 1)) % 1.0
        self._phase = float(phases[-1])
        wave = np.exp(-(((phases - 0.18) / 0.08) ** 2)) + 0.35 * np.exp(
            -(((phases - 0.5) / 0.12) ** 2)
        )
        return (wave * 50.0).astype(np.float32)


class SimulatedMonitor(Device):
    simulated = True

    def __init__(
        self,
        spec: str,
        scenario: str = "normal",
        *,
        nibp_interval_s: float = 180.0,
        seed: int = 1,
        stop_after_s: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(spec, source="sim")
        self.model = VitalsModel(scenario, seed)
        self.nibp_interval_s = nibp_interval_s
        self.stop_after_s = stop_after_s
        self.clock = clock or SystemClock()

    def _run(self, sink: SampleSink) -> None:
        start_wall = self.clock.now()
        start_mono = time.monotonic()
        sink.on_status(
            DeviceStatus(
                start_wall, self.source, ConnectionState.CONNECTED, message="simulated monitor"
            )
        )
        block_seconds = BLOCK_POINTS / PLETH_RATE_HZ
        block_index = 0
        next_numeric_s = 0.0
        next_nibp_s = FIRST_NIBP_AFTER_S
        while not self.stopping:
            elapsed = block_index * block_seconds
            if self.stop_after_s is not None and elapsed >= self.stop_after_s:
                self.wait(3600.0)  # silent until stopped, like a monitor whose cable is out
                break
            now = start_wall + elapsed
            sink.on_waveform(
                WaveformBlock(
                    now,
                    PLETH_RATE_HZ,
                    self.source,
                    VitalKind.PLETH,
                    self.model.pleth(elapsed, BLOCK_POINTS, PLETH_RATE_HZ),
                )
            )
            if elapsed >= next_numeric_s:
                for kind, value in self.model.numerics(elapsed).items():
                    sink.on_sample(Sample(now, self.source, kind, value))
                next_numeric_s += 1.0
            if elapsed >= next_nibp_s:
                systolic, diastolic, mean = self.model.nibp(elapsed)
                sink.on_sample(Sample(now, self.source, VitalKind.NIBP_SYSTOLIC, systolic))
                sink.on_sample(Sample(now, self.source, VitalKind.NIBP_DIASTOLIC, diastolic))
                sink.on_sample(Sample(now, self.source, VitalKind.NIBP_MEAN, mean))
                next_nibp_s += self.nibp_interval_s
            block_index += 1
            # Pace on the monotonic clock; if the machine stalled, catch up so the pleth stays
            # contiguous and every second keeps its numerics.
            delay = start_mono + block_index * block_seconds - time.monotonic()
            if delay > 0 and self.wait(delay):
                break
        sink.on_status(DeviceStatus(self.clock.now(), self.source, ConnectionState.STOPPED))


def create(spec: DeviceSpec) -> SimulatedMonitor:
    spec.check_options({"nibp_interval", "seed", "stop_after"})
    scenario = spec.address or "normal"
    stop_after = spec.options.get("stop_after")
    return SimulatedMonitor(
        spec.text,
        scenario,
        nibp_interval_s=spec.option_float("nibp_interval", 180.0, minimum=5.0),
        seed=spec.option_int("seed", 1),
        stop_after_s=spec.option_float("stop_after", 0.0, minimum=0.0) if stop_after else None,
    )
