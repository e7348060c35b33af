"""HL7 PCD-01 constants: MLLP bytes, IEEE 11073-10101 codes per vital kind, units, OBX-8
flags and HL7 table 0357 error codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from katmonitor.base.vitals import VitalKind

START_BLOCK = 0x0B
END_BLOCK = 0x1C
MLLP_TRAILER = b"\x1c\r"
MAX_FRAME_BYTES = 1 << 20
"""A PCD-01 message is a few kB; anything larger is a desynchronised stream."""

STANDARD_ENCODING = "^~\\&"
ACK_SENDER = "KATMONITOR"
ACK_VERSION = "2.6"
NO_VALUE = "-999"
NO_VALUE_SENTINELS = frozenset({-999.0, -100.0, -9999.0})
"""Numbers real senders put in OBX-5 for "no value" (-999 most; some monitors -100)."""
OBX_FIELDS = 20  # OBX-0 (the name) to OBX-19
NIBP_DATA_OLD_S = 60.0
KPA_TO_MMHG = 760.0 / 101.325

# --- IEEE 11073-10101 nomenclature --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Metric:
    kind: VitalKind
    ref_id: str
    pulse_rank: int = 0
    """For pulse-rate sources: lower is better (see the module docstring)."""


_METRICS: dict[int, _Metric] = {
    147842: _Metric(VitalKind.HR, "MDC_ECG_HEART_RATE"),
    149530: _Metric(VitalKind.PULSE_RATE, "MDC_PULS_OXIM_PULS_RATE", 1),
    149514: _Metric(VitalKind.PULSE_RATE, "MDC_PULS_RATE", 2),
    149522: _Metric(VitalKind.PULSE_RATE, "MDC_BLD_PULS_RATE_INV", 3),
    149546: _Metric(VitalKind.PULSE_RATE, "MDC_PULS_RATE_NON_INV", 4),
    150456: _Metric(VitalKind.SPO2, "MDC_PULS_OXIM_SAT_O2"),
    150488: _Metric(VitalKind.PERFUSION_INDEX, "MDC_PULS_OXIM_PERF_REL"),
    150301: _Metric(VitalKind.NIBP_SYSTOLIC, "MDC_PRESS_CUFF_SYS"),
    150302: _Metric(VitalKind.NIBP_DIASTOLIC, "MDC_PRESS_CUFF_DIA"),
    150303: _Metric(VitalKind.NIBP_MEAN, "MDC_PRESS_CUFF_MEAN"),
    150021: _Metric(VitalKind.NIBP_SYSTOLIC, "MDC_PRESS_BLD_NONINV_SYS"),
    150022: _Metric(VitalKind.NIBP_DIASTOLIC, "MDC_PRESS_BLD_NONINV_DIA"),
    150023: _Metric(VitalKind.NIBP_MEAN, "MDC_PRESS_BLD_NONINV_MEAN"),
    150452: _Metric(VitalKind.PLETH, "MDC_PULS_OXIM_PLETH"),
    # Philips IntelliVue's pleth pulse rate (its "0002-4822"): the oximeter's pulse.
    149538: _Metric(VitalKind.PULSE_RATE, "MDC_PULS_OXIM_PULS_RATE_PLETH", 1),
}
_REF_IDS: dict[str, int] = {m.ref_id: code for code, m in _METRICS.items()}
_REF_IDS["MDC_ECG_CARD_BEAT_RATE"] = 147842  # the newer reference id for the same code
_METRIC_BY_CODE_TEXT: dict[str, _Metric] = {str(code): m for code, m in _METRICS.items()}

# Codes the encoder uses per kind; NIBP per family.
_ENCODE_CODES: dict[VitalKind, int] = {
    VitalKind.HR: 147842,
    VitalKind.PULSE_RATE: 149530,
    VitalKind.SPO2: 150456,
    VitalKind.PERFUSION_INDEX: 150488,
}
NIBP_FAMILIES: dict[str, dict[VitalKind, int]] = {
    "cuff": {VitalKind.NIBP_SYSTOLIC: 150301, VitalKind.NIBP_DIASTOLIC: 150302,
             VitalKind.NIBP_MEAN: 150303},
    "noninv": {VitalKind.NIBP_SYSTOLIC: 150021, VitalKind.NIBP_DIASTOLIC: 150022,
               VitalKind.NIBP_MEAN: 150023},
}  # fmt: skip
# MDS.VMD.Channel prefix of OBX-4 per kind (ECG VMD 1, NIBP VMD 2, pulse oximeter VMD 3).
_VMD: dict[VitalKind, str] = {
    VitalKind.HR: "1.1.1",
    VitalKind.NIBP_SYSTOLIC: "1.2.1",
    VitalKind.NIBP_DIASTOLIC: "1.2.1",
    VitalKind.NIBP_MEAN: "1.2.1",
    VitalKind.PULSE_RATE: "1.3.1",
    VitalKind.SPO2: "1.3.1",
    VitalKind.PERFUSION_INDEX: "1.3.1",
}

# Units: MDC codes (partition 4) and the names senders use (MDC reference ids, UCUM, plain).
_UNIT_CODES: dict[int, str] = {264864: "bpm", 262688: "%", 266016: "mmHg", 265987: "kPa"}
_UNIT_BY_CODE_TEXT: dict[str, str] = {str(code): unit for code, unit in _UNIT_CODES.items()}
_UNIT_NAMES: dict[str, str] = {
    "mdc_dim_beat_per_min": "bpm", "bpm": "bpm", "/min": "bpm", "1/min": "bpm",
    "{beat}/min": "bpm", "{beats}/min": "bpm",
    "mdc_dim_percent": "%", "%": "%",
    "mdc_dim_mmhg": "mmHg", "mmhg": "mmHg", "mm[hg]": "mmHg",
    "mdc_dim_kilo_pascal": "kPa", "kpa": "kPa",
}  # fmt: skip
_ENCODE_UNITS: dict[str, str] = {
    "bpm": "264864^MDC_DIM_BEAT_PER_MIN^MDC",
    "%": "262688^MDC_DIM_PERCENT^MDC",
    "mmHg": "266016^MDC_DIM_MMHG^MDC",
}
_EXPECTED_UNIT: dict[VitalKind, str] = {
    VitalKind.HR: "bpm",
    VitalKind.PULSE_RATE: "bpm",
    VitalKind.SPO2: "%",
    VitalKind.PERFUSION_INDEX: "%",
    VitalKind.NIBP_SYSTOLIC: "mmHg",
    VitalKind.NIBP_DIASTOLIC: "mmHg",
    VitalKind.NIBP_MEAN: "mmHg",
}

# OBX-8: IHE PCD null flavours and IEEE 11073 measurement states (matched case-insensitively).
_FLAG_STATUS: dict[str, str] = {
    "ni": "no_value", "na": "no_value", "nav": "no_value", "off": "no_value",
    "msk": "no_value", "oth": "no_value", "nan": "no_value", "not-available": "no_value",
    "pinf": "over_range", "ninf": "under_range",
    "invalid": "invalid", "questionable": "questionable", "early-indication": "questionable",
    "test-data": "demo", "demo-data": "demo", "demo": "demo", "d": "demo",
    "calibration-ongoing": "not_calibrated", "msmt-ongoing": "measuring",
}  # fmt: skip
# OBX-11 result status and MSH-11 processing id values that mark test or demo data.
DEMO_RESULT_STATUS = frozenset({"T"})
DEMO_PROCESSING_IDS = frozenset({"T", "D"})  # training, debugging
_VALUELESS = frozenset({"no_value", "over_range", "under_range"})

# HL7 table 0357 (message error condition codes) used in ERR-3.
ERROR_TEXT: dict[int, str] = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
}
