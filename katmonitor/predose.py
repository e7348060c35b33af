"""Before the first dose: the client's identity check, the eligibility checklist and the
pre-dose gate (BP, heart rate, SpO2 and no physiological alarm on). Pure rules;
katmonitor/workflow.py records what the nurse did."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.care_plan import CarePlan, EligibilityItem, PreDoseGate
from katmonitor.readings import format_age


@dataclass(frozen=True, slots=True)
class GateResult:
    """The gate evaluated on the latest readings: ``problems`` is empty when it passes."""

    problems: tuple[str, ...]
    systolic: float | None
    diastolic: float | None
    heart_rate: float | None
    nibp_time: float | None

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "problems": list(self.problems),
            "systolic": self.systolic,
            "diastolic": self.diastolic,
            "heart_rate": self.heart_rate,
            "nibp_time": self.nibp_time,
        }


def evaluate_gate(
    gate: PreDoseGate,
    latest: Mapping[VitalKind, Sample],
    now: float,
    active_alarms: Sequence[str] = (),
) -> GateResult:
    """Check the latest NIBP (recent enough), heart rate and SpO2 against the gate's limits;
    any physiological alarm that is on (``active_alarms``: their messages) also blocks."""
    systolic = latest.get(VitalKind.NIBP_SYSTOLIC)
    diastolic = latest.get(VitalKind.NIBP_DIASTOLIC)
    heart = latest.get(VitalKind.HR) or latest.get(VitalKind.PULSE_RATE)
    problems: list[str] = []
    sys_v = systolic.value if systolic is not None else None
    dia_v = diastolic.value if diastolic is not None else None
    nibp_time = systolic.time if systolic is not None else None
    checks_bp = gate.systolic_max is not None or gate.diastolic_max is not None
    if checks_bp:
        if sys_v is None or dia_v is None or nibp_time is None:
            problems.append("no pre-dose blood pressure: take an NIBP reading")
        elif now - nibp_time > gate.max_reading_age_s:
            problems.append(
                f"the last blood pressure is {format_age(now - nibp_time)} old: "
                f"take a new reading (at most {format_age(gate.max_reading_age_s)})"
            )
        else:
            if gate.systolic_max is not None and sys_v > gate.systolic_max:
                problems.append(f"systolic {sys_v:.0f} mmHg is above {gate.systolic_max:g}")
            if gate.diastolic_max is not None and dia_v > gate.diastolic_max:
                problems.append(f"diastolic {dia_v:.0f} mmHg is above {gate.diastolic_max:g}")
    hr_v = heart.value if heart is not None else None
    if gate.heart_rate_max is not None:
        if hr_v is None or heart is None or now - heart.time > 60:
            problems.append("no current heart rate")
        elif hr_v > gate.heart_rate_max:
            problems.append(f"heart rate {hr_v:.0f}/min is above {gate.heart_rate_max:g}")
    if gate.spo2_min is not None:
        spo2 = latest.get(VitalKind.SPO2)
        if spo2 is None or spo2.value is None or now - spo2.time > 60:
            problems.append("no current SpO2")
        elif spo2.value < gate.spo2_min:
            problems.append(f"SpO2 {spo2.value:.0f} % is below {gate.spo2_min:g} %")
    problems += [f"alarm on: {message}" for message in active_alarms]
    return GateResult(tuple(problems), sys_v, dia_v, hr_v, nibp_time)


def eligibility_concerns(
    plan: CarePlan, answers: Mapping[str, bool]
) -> list[EligibilityItem]:
    """The questions answered other than their acceptable answer. Every question must be
    answered; an unknown id is a mistake in the caller."""
    known = {item.id for item in plan.eligibility}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ConfigurationError(f"unknown eligibility question(s): {', '.join(unknown)}")
    missing = [item.question for item in plan.eligibility if item.id not in answers]
    if missing:
        raise ConfigurationError(
            f"{len(missing)} eligibility question(s) not answered", missing[0]
        )
    return [item for item in plan.eligibility if answers[item.id] != item.acceptable]
