"""The vital signs KAT Monitor knows: names, units and standard codes.

Each kind carries its LOINC code (for exports and FHIR) and its IEEE 11073-10101 (MDC) code (what
HL7 PCD-01 gateways send), its display unit with the MDC unit code, and how long a reading stays
current on screen (its freshness limit) before it must be shown as stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class VitalKind(StrEnum):
    HR = "hr"
    PULSE_RATE = "pulse_rate"
    SPO2 = "spo2"
    NIBP_SYSTOLIC = "nibp_systolic"
    NIBP_DIASTOLIC = "nibp_diastolic"
    NIBP_MEAN = "nibp_mean"
    PLETH = "pleth"
    PERFUSION_INDEX = "perfusion_index"


# MDC unit codes (IEEE 11073-10101 partition 4, dimensions).
MDC_DIM_BEAT_PER_MIN = 264864
MDC_DIM_PERCENT = 262688
MDC_DIM_MMHG = 266016
MDC_DIM_DIMLESS = 262656


@dataclass(frozen=True, slots=True)
class VitalSpec:
    kind: VitalKind
    label: str
    unit: str
    unit_mdc_code: int
    mdc_code: int
    mdc_name: str
    loinc: str | None
    freshness_s: float
    """A reading older than this is stale: greyed and marked, never shown as current."""
    decimals: int = 0
    waveform: bool = False
    intermittent: bool = False
    """Measured on demand or on a cycle (NIBP), drawn as discrete points, never as a line."""


# NIBP is measured on a cycle of typically 3-15 min; a reading older than 15 min is no longer
# "the current blood pressure". Continuous parameters update every second; 10 s of silence
# means the value on screen no longer describes the client.
VITALS: dict[VitalKind, VitalSpec] = {
    spec.kind: spec
    for spec in (
        VitalSpec(
            VitalKind.HR,
            "HR",
            "bpm",
            MDC_DIM_BEAT_PER_MIN,
            147842,
            "MDC_ECG_HEART_RATE",
            "8867-4",
            freshness_s=10.0,
        ),
        VitalSpec(
            VitalKind.PULSE_RATE,
            "PR",
            "bpm",
            MDC_DIM_BEAT_PER_MIN,
            149530,
            "MDC_PULS_OXIM_PULS_RATE",
            "8889-8",
            freshness_s=10.0,
        ),
        VitalSpec(
            VitalKind.SPO2,
            "SpO2",
            "%",
            MDC_DIM_PERCENT,
            150456,
            "MDC_PULS_OXIM_SAT_O2",
            "59408-5",
            freshness_s=10.0,
        ),
        VitalSpec(
            VitalKind.NIBP_SYSTOLIC,
            "NIBP sys",
            "mmHg",
            MDC_DIM_MMHG,
            150301,
            "MDC_PRESS_CUFF_SYS",
            "8480-6",
            freshness_s=15 * 60.0,
            intermittent=True,
        ),
        VitalSpec(
            VitalKind.NIBP_DIASTOLIC,
            "NIBP dia",
            "mmHg",
            MDC_DIM_MMHG,
            150302,
            "MDC_PRESS_CUFF_DIA",
            "8462-4",
            freshness_s=15 * 60.0,
            intermittent=True,
        ),
        VitalSpec(
            VitalKind.NIBP_MEAN,
            "NIBP mean",
            "mmHg",
            MDC_DIM_MMHG,
            150303,
            "MDC_PRESS_CUFF_MEAN",
            "8478-0",
            freshness_s=15 * 60.0,
            intermittent=True,
        ),
        VitalSpec(
            VitalKind.PLETH,
            "Pleth",
            "1",
            MDC_DIM_DIMLESS,
            150452,
            "MDC_PULS_OXIM_PLETH",
            None,
            freshness_s=2.0,
            waveform=True,
        ),
        VitalSpec(
            VitalKind.PERFUSION_INDEX,
            "PI",
            "%",
            MDC_DIM_PERCENT,
            150488,
            "MDC_PULS_OXIM_PERF_REL",
            "61006-3",
            freshness_s=10.0,
            decimals=2,
        ),
    )
}

NIBP_KINDS: tuple[VitalKind, ...] = (
    VitalKind.NIBP_SYSTOLIC,
    VitalKind.NIBP_DIASTOLIC,
    VitalKind.NIBP_MEAN,
)

NUMERIC_KINDS: tuple[VitalKind, ...] = tuple(k for k, s in VITALS.items() if not s.waveform)


def spec_of(kind: VitalKind | str) -> VitalSpec:
    return VITALS[VitalKind(kind)]


def is_stale(kind: VitalKind, sample_time: float, now: float) -> bool:
    """True when a reading taken at ``sample_time`` may no longer be shown as current."""
    return now - sample_time > VITALS[kind].freshness_s
