"""Which numbers a vital sign can take: one range per kind, narrowed per device model.

A value outside its range is not a reading but a decoding accident (a flipped bit, a vendor's
"no value" code, a field shifted by a lost byte). It is never shown, alarmed on or recorded as a
number: it becomes value None with status ``invalid`` and is counted as a decode problem.

``GENERIC_RANGES`` hold what any monitor can report; the pipeline applies them to every source.
``MODEL_RANGES`` hold a model's documented measurement ranges (operator manuals and interface
specifications; docs/devices.md lists them); the protocol decoders apply those, keyed by their
protocol name. A model range must lie inside the generic one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind

INVALID = "invalid"
DEMO = "demo"
"""Status of a value the device marked as demo, simulated or test data: never clinical."""
DEMO_DATA = "demo_data"
"""The device condition (a technical alarm) while a device sends demo data."""


@dataclass(frozen=True, slots=True)
class Range:
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


K = VitalKind

GENERIC_RANGES: dict[VitalKind, Range] = {
    K.HR: Range(0, 350),
    K.PULSE_RATE: Range(0, 350),
    K.SPO2: Range(0, 100),
    K.NIBP_SYSTOLIC: Range(10, 300),
    K.NIBP_DIASTOLIC: Range(5, 250),
    K.NIBP_MEAN: Range(5, 270),
    K.PERFUSION_INDEX: Range(0, 100),
    # Pleth is a relative waveform (units differ per device): not range-checked.
}

_NONIN = {K.SPO2: Range(0, 100), K.PULSE_RATE: Range(18, 321)}  # 9560 spec: SpO2 0-100, 18-321

MODEL_RANGES: dict[str, dict[VitalKind, Range]] = {
    # Rad-8 / Radical-7 operator's manuals: SpO2 1-100 %, PR 25-240 bpm, PI 0.02-20 %.
    "masimo": {K.SPO2: Range(1, 100), K.PULSE_RATE: Range(25, 240),
               K.PERFUSION_INDEX: Range(0.02, 20)},
    "nonin-df2": _NONIN,
    "nonin-df7": _NONIN,
    "nonin-df8": _NONIN,
    # GE S/5 and CARESCAPE: ECG HR 15-300, SpO2 pulse 30-250 bpm, SpO2 0-100 %, adult NIBP
    # systolic 25-290, diastolic 10-250, mean 15-260 mmHg (display ranges in the user manuals).
    "ge-dri": {K.HR: Range(15, 300), K.PULSE_RATE: Range(30, 250), K.SPO2: Range(0, 100),
               K.NIBP_SYSTOLIC: Range(25, 290), K.NIBP_DIASTOLIC: Range(10, 250),
               K.NIBP_MEAN: Range(15, 260), K.PERFUSION_INDEX: Range(0, 100)},
}  # fmt: skip


_BOUNDS: dict[tuple[str | None, VitalKind], tuple[float, float]] = {
    (model, kind): (allowed.low, allowed.high)
    for model in (None, *MODEL_RANGES)
    for kind in GENERIC_RANGES
    if (allowed := (MODEL_RANGES.get(model or "", {}).get(kind) or GENERIC_RANGES[kind]))
}


def plausible_range(kind: VitalKind, model: str | None = None) -> Range | None:
    """The model's range for ``kind`` when it documents one, else the generic one (None for
    kinds that are not range-checked)."""
    if model is not None:
        found = MODEL_RANGES.get(model, {}).get(kind)
        if found is not None:
            return found
    return GENERIC_RANGES.get(kind)


def is_plausible(kind: VitalKind, value: float, model: str | None = None) -> bool:
    if not math.isfinite(value):
        return False
    allowed = plausible_range(kind, model)
    return allowed is None or value in allowed


def implausibility(kind: VitalKind, value: float | None, model: str | None = None) -> str | None:
    """Why ``value`` cannot be a reading of ``kind`` (a message for the decode problem), or
    None when it can (or is no value at all)."""
    if value is None:
        return None
    # Decoders call this for every value: a look-up (a model without a table: generic).
    bounds = _BOUNDS.get((model, kind)) or _BOUNDS.get((None, kind))
    if bounds is not None and bounds[0] <= value <= bounds[1]:  # NaN fails the test
        return None
    if is_plausible(kind, value, model):
        return None
    allowed = plausible_range(kind, model)
    where = f" {allowed.low:g}-{allowed.high:g}" if allowed is not None else ""
    return f"{kind} {value:g} outside the plausible range{where}" + (
        f" of {model}" if model else ""
    )


def screen(sample: Sample) -> Sample:
    """``sample`` itself when its value is plausible for its kind (or absent), else the same
    sample without a value and with status ``invalid``."""
    value = sample.value
    if value is None or is_plausible(sample.kind, value):
        return sample
    return replace(sample, value=None, status=sample.status | {INVALID})


def without_demo_value(sample: Sample) -> Sample:
    """A demo-marked sample without its value (what may be recorded and alarmed on)."""
    if sample.value is None or DEMO not in sample.status:
        return sample
    return replace(sample, value=None)
