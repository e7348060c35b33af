"""The simulator's physiology: plausible adult vitals for training, demos and tests.

The emulator of each protocol package (``devices/ge_dri/emulator.py``, ``masimo/``, ...) turns
this model into the bytes a real device sends; ``sim:`` devices and ``katmonitor simulate`` run the
real decoders on those bytes (see ``devices/drivers.py``), so training exercises the same code
path as hardware.

Scenarios (``sim:NAME``):
  normal        steady, healthy adult values
  hypertensive  blood pressure and heart rate rise after a few minutes, peaking near 40 min
                (the ketamine pattern) - crosses the default systolic limit
  desaturation  SpO2 dips to the high 80s for a minute every 5 minutes

"""

from __future__ import annotations

import math

import numpy as np

from katmonitor.base.errors import ConfigurationError
from katmonitor.base.vitals import VitalKind

SCENARIOS = ("normal", "hypertensive", "desaturation")


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
