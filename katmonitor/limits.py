"""Threshold checks of numeric vitals against configured limits.

This is the seed of the alarm engine (a later, fuller module): the check is pure and lives in
the core so that the same rule flags a value on screen, in the CLI and in replays.
"""

from __future__ import annotations

from dataclasses import dataclass

from katmonitor.alarms.wording import limit_text
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind


@dataclass(frozen=True, slots=True)
class Limit:
    low: float | None = None
    high: float | None = None

    def violation(self, value: float) -> str | None:
        """ "low", "high" or None."""
        if self.low is not None and value < self.low:
            return "low"
        if self.high is not None and value > self.high:
            return "high"
        return None


# Adult defaults in line with common monitor defaults (e.g. systolic 80-200, pulse 50-150,
# SpO2 low 90); a clinic's profile overrides them (see docs/configuration.md).
DEFAULT_LIMITS: dict[VitalKind, Limit] = {
    VitalKind.HR: Limit(50, 120),
    VitalKind.PULSE_RATE: Limit(50, 120),
    VitalKind.SPO2: Limit(90, None),
    VitalKind.NIBP_SYSTOLIC: Limit(90, 160),
    VitalKind.NIBP_DIASTOLIC: Limit(50, 100),
    VitalKind.NIBP_MEAN: Limit(60, 120),
}


@dataclass(frozen=True, slots=True)
class LimitFlag:
    """A reading outside its limits."""

    sample: Sample
    direction: str  # "low" | "high"
    limit: float

    @property
    def text(self) -> str:
        """"SpO2 88 % < 90", in the alarms' wording (one text per fact on every screen)."""
        return limit_text(self.sample.kind, self.direction, self.sample.value, self.limit)


class LimitChecker:
    def __init__(self, limits: dict[VitalKind, Limit] | None = None) -> None:
        self.limits: dict[VitalKind, Limit] = dict(DEFAULT_LIMITS if limits is None else limits)
        self.follows_alarms = limits is None
        """Built without limits of its own: a pipeline replaces the defaults by its alarm
        engine's effective limits (the workstation builds it so), so a tile never shows a
        limit other than the alarm's."""

    def check(self, sample: Sample) -> LimitFlag | None:
        limit = self.limits.get(sample.kind)
        if limit is None or sample.value is None:
            return None
        direction = limit.violation(sample.value)
        if direction is None:
            return None
        bound = limit.low if direction == "low" else limit.high
        assert bound is not None
        return LimitFlag(sample, direction, bound)
