"""What the numeric tiles show: the latest value of each vital, its age, and whether it is
stale or out of limits. The rules live here, not in the UI."""

from __future__ import annotations

from dataclasses import dataclass

from katmonitor.base.samples import Sample
from katmonitor.base.vitals import NUMERIC_KINDS, VitalKind, is_stale, spec_of
from katmonitor.limits import LimitChecker, LimitFlag
from katmonitor.live_buffers import LiveBuffers


@dataclass(frozen=True, slots=True)
class Reading:
    kind: VitalKind
    sample: Sample
    age_s: float
    stale: bool
    flag: LimitFlag | None

    @property
    def value(self) -> float | None:
        return self.sample.value

    @property
    def time(self) -> float:
        return self.sample.time

    @property
    def alarming(self) -> bool:
        """Out of limits and current: a stale value is never presented as the current state."""
        return self.flag is not None and not self.stale

    def value_text(self) -> str:
        if self.sample.value is None:
            return "---"
        return f"{self.sample.value:.{spec_of(self.kind).decimals}f}"


def current_readings(
    buffers: LiveBuffers, limits: LimitChecker, now: float
) -> dict[VitalKind, Reading]:
    readings = {}
    for kind in NUMERIC_KINDS:
        sample = buffers.latest(kind)
        if sample is None:
            continue
        readings[kind] = Reading(
            kind=kind,
            sample=sample,
            age_s=max(0.0, now - sample.time),
            stale=is_stale(kind, sample.time, now),
            flag=limits.check(sample),
        )
    return readings


def format_age(age_s: float) -> str:
    """ "12 s", "4 min", "1 h 05 min" - for labels such as the NIBP reading's age."""
    if age_s < 60:
        return f"{age_s:.0f} s"
    minutes = int(age_s // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
