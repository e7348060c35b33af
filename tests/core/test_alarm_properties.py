"""Properties of the alarm engine over generated streams."""

from __future__ import annotations

import random

from alarm_helpers import T0, engine
from hypothesis import given, settings
from hypothesis import strategies as st

from katmonitor.alarms import AlarmEvent
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind

# Inside the default limits; systolic in a band narrower than the 25 mmHg trend rule.
INSIDE = {
    VitalKind.HR: (50.0, 120.0),
    VitalKind.PULSE_RATE: (50.0, 120.0),
    VitalKind.SPO2: (90.0, 100.0),
    VitalKind.NIBP_SYSTOLIC: (110.0, 134.0),
    VitalKind.NIBP_DIASTOLIC: (50.0, 100.0),
    VitalKind.NIBP_MEAN: (60.0, 120.0),
}
KINDS = list(INSIDE)


@st.composite
def inside_stream(draw: st.DrawFn) -> list[Sample]:
    n = draw(st.integers(1, 300))
    out, t = [], T0
    for _ in range(n):
        t += draw(st.sampled_from([0.0, 0.5, 1.0, 7.0, 60.0]))
        kind = draw(st.sampled_from(KINDS))
        low, high = INSIDE[kind]
        out.append(Sample(t, "m", kind, draw(st.floats(low, high))))
    return out


@st.composite
def any_stream(draw: st.DrawFn) -> list[Sample]:
    n = draw(st.integers(1, 300))
    out, t = [], T0
    for _ in range(n):
        t += draw(st.sampled_from([0.0, 0.0, 1.0, 3.0, 20.0, 300.0]))
        kind = draw(st.sampled_from(KINDS))
        value = draw(st.one_of(st.none(), st.floats(20.0, 220.0)))
        out.append(Sample(t, "m", kind, value))
    return out


def run(samples: list[Sample], profile: str = "default") -> list[AlarmEvent]:
    e = engine(profile)
    out: list[AlarmEvent] = []
    for sample in samples:
        out += e.process_sample(sample)
    out += e.advance(samples[-1].time + 3600)
    return out


def key(event: AlarmEvent) -> tuple[float, str, str]:
    return (event.time, event.alarm_id, event.event)


@settings(max_examples=60, deadline=None)
@given(inside_stream())
def test_a_stream_that_never_crosses_a_limit_raises_nothing(samples: list[Sample]) -> None:
    assert run(samples) == []


@settings(max_examples=60, deadline=None)
@given(any_stream(), st.integers(0, 2**32 - 1), st.sampled_from(["default", "iv-ketamine"]))
def test_reordering_identical_time_samples_changes_nothing(
    samples: list[Sample], seed: int, profile: str
) -> None:
    # Duplicate some samples, then shuffle within each group of equal timestamps.
    rng = random.Random(seed)
    doubled = [x for sample in samples for x in ([sample] * rng.randint(1, 2))]
    groups: dict[float, list[Sample]] = {}
    for sample in doubled:
        groups.setdefault(sample.time, []).append(sample)
    shuffled = []
    for time in sorted(groups):
        group = groups[time]
        # Samples of one kind at one time stay in their order (the last value counts).
        by_kind: dict[VitalKind, list[Sample]] = {}
        for sample in group:
            by_kind.setdefault(sample.kind, []).append(sample)
        kinds = list(by_kind)
        rng.shuffle(kinds)
        shuffled += [sample for kind in kinds for sample in by_kind[kind]]
    assert sorted(map(key, run(doubled, profile))) == sorted(map(key, run(shuffled, profile)))


@settings(max_examples=40, deadline=None)
@given(any_stream())
def test_same_input_same_events(samples: list[Sample]) -> None:
    assert run(samples) == run(samples)
