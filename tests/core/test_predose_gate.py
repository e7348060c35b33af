"""The pre-dose gate: one verdict from BP, heart rate, SpO2 and the alarm state, so a client
at SpO2 88 % or with an alarm on is never shown as ready for the dose."""

from __future__ import annotations

from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.care_plan import load_care_plan
from katmonitor.predose import evaluate_gate

NOW = 1_760_000_000.0


def _latest(spo2: float | None = 97.0, systolic: float = 128.0) -> dict[VitalKind, Sample]:
    latest = {
        VitalKind.NIBP_SYSTOLIC: Sample(NOW - 120, "m", VitalKind.NIBP_SYSTOLIC, systolic),
        VitalKind.NIBP_DIASTOLIC: Sample(NOW - 120, "m", VitalKind.NIBP_DIASTOLIC, 82.0),
        VitalKind.HR: Sample(NOW - 1, "m", VitalKind.HR, 76.0),
    }
    if spo2 is not None:
        latest[VitalKind.SPO2] = Sample(NOW - 1, "m", VitalKind.SPO2, spo2)
    return latest


def test_normal_values_pass() -> None:
    result = evaluate_gate(load_care_plan().gate, _latest(), NOW)
    assert result.passed, result.problems


def test_a_low_spo2_blocks_the_dose() -> None:
    result = evaluate_gate(load_care_plan().gate, _latest(spo2=88.0), NOW)
    assert not result.passed
    assert result.problems == ("SpO2 88 % is below 94 %",)


def test_no_oximeter_reading_blocks_the_dose() -> None:
    result = evaluate_gate(load_care_plan().gate, _latest(spo2=None), NOW)
    assert result.problems == ("no current SpO2",)


def test_an_alarm_that_is_on_blocks_the_dose() -> None:
    result = evaluate_gate(load_care_plan().gate, _latest(), NOW, ["HR 131/min > 130"])
    assert result.problems == ("alarm on: HR 131/min > 130",)


def test_the_gate_describes_its_spo2_limit() -> None:
    assert "SpO2 at least 94 %" in load_care_plan().gate.describe()
