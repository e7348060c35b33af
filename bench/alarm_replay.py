"""Alarm replay throughput on one core.

    python -m bench.alarm_replay [--quick] [--runs N]

Generates a stream like a session's (HR, pulse rate, SpO2 at 1 Hz each; NIBP every 3 min) with
excursions beyond the limits now and then, builds 2 M Sample objects first (0.5 M with
--quick), then times only ``AlarmEngine.process_sample`` over them (the replay's own work;
JSON parsing is reported separately as it is not the engine's). Goal: >= 1,000,000 samples/s
with the default profile; iv-ketamine (a latched, never acknowledged SpO2 alarm keeps that
parameter on the slow path) is shown without a goal.
"""

from __future__ import annotations

import io
import json
import random
import time

from bench import harness
from bench.harness import Figure, Options
from katmonitor.alarms import AlarmEngine, load_profile
from katmonitor.alarms.replay import read_json_lines
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind

START = 1_800_000_000.0


def generate(count: int, seed: int = 7) -> list[Sample]:
    rng = random.Random(seed)
    out: list[Sample] = []
    t = START
    hr = spo2 = 0.0
    while len(out) < count:
        t += 1.0
        second = int(t - START)
        # Every 20 min a 45 s excursion (desaturation and tachycardia).
        excursion = second % 1200 < 45
        hr = (128.0 if excursion else 72.0) + rng.uniform(-3, 3)
        spo2 = (87.0 if excursion else 97.0) + rng.uniform(-1, 1)
        out.append(Sample(t, "mon", VitalKind.HR, round(hr)))
        out.append(Sample(t, "ox", VitalKind.PULSE_RATE, round(hr)))
        out.append(Sample(t, "ox", VitalKind.SPO2, round(spo2)))
        if second % 180 == 0:
            systolic = 125.0 + 30.0 * (second % 3600 > 2400) + rng.uniform(-5, 5)
            out.append(Sample(t, "mon", VitalKind.NIBP_SYSTOLIC, round(systolic)))
            out.append(Sample(t, "mon", VitalKind.NIBP_DIASTOLIC, round(systolic * 0.62)))
            out.append(Sample(t, "mon", VitalKind.NIBP_MEAN, round(systolic * 0.75)))
    return out[:count]


def time_engine(samples: list[Sample], profile: str) -> tuple[float, int]:
    engine = AlarmEngine(load_profile(profile))
    process = engine.process_sample
    events = 0
    started = time.perf_counter()
    for sample in samples:
        result = process(sample)
        if result:
            events += len(result)
    elapsed = time.perf_counter() - started
    return len(samples) / elapsed, events


def time_json(samples: list[Sample]) -> float:
    stream = io.StringIO("".join(json.dumps(s.to_json_dict()) + "\n" for s in samples))
    started = time.perf_counter()
    count = sum(1 for _ in read_json_lines(stream))
    return count / (time.perf_counter() - started)


def collect(options: Options) -> list[Figure]:
    runs = options.count(full=5, quick=3)
    samples = generate(500_000 if options.quick else 2_000_000)
    hours = (samples[-1].time - samples[0].time) / 3600
    print(f"{len(samples):,} samples ({hours:.0f} h of a session's numerics)", flush=True)
    figures = []
    for profile, goal in (("default", 1_000_000.0), ("iv-ketamine", None)):
        rates = []
        for _ in range(runs):
            rate, events = time_engine(samples, profile)
            rates.append(rate)
        print(f"{profile}: {events} alarm events per pass", flush=True)
        figures.append(Figure(f"alarm replay, {profile} profile", "samples/s", goal,
                              "at least", rates))
    figures.append(Figure("JSON-lines parsing (replay CLI input)", "lines/s", None, "at least",
                          [time_json(samples[:200_000]) for _ in range(min(runs, 3))]))
    return figures


if __name__ == "__main__":
    harness.main(collect, __doc__)
