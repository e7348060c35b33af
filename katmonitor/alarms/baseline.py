"""The client's pre-dose baseline: the anchor of baseline-relative limits.

Per kind, the median of the valid values in the last ``window_s`` before the anchor (first dose,
or session start); NIBP, measured every few minutes, uses the median of its readings over the
longer ``nibp_window_s``. The median resists a single motion artefact or a cuff reading taken
while the client was talking.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from katmonitor.base.samples import Sample
from katmonitor.base.vitals import NIBP_KINDS, VitalKind, spec_of

DEFAULT_WINDOW_S = 300.0
DEFAULT_NIBP_WINDOW_S = 1800.0


def compute_baseline(
    samples: Iterable[Sample],
    until: float,
    *,
    window_s: float = DEFAULT_WINDOW_S,
    nibp_window_s: float = DEFAULT_NIBP_WINDOW_S,
) -> dict[VitalKind, float]:
    values: dict[VitalKind, list[float]] = {}
    for sample in samples:
        if sample.value is None or sample.value != sample.value or spec_of(sample.kind).waveform:
            continue
        span = nibp_window_s if sample.kind in NIBP_KINDS else window_s
        if until - span <= sample.time <= until:
            values.setdefault(sample.kind, []).append(sample.value)
    return {kind: float(statistics.median(v)) for kind, v in values.items()}
