"""Plausibility: impossible numbers never reach a tile, an alarm or the record as values, and
demo data is shown as demo but never recorded or alarmed on as a value."""

from __future__ import annotations

import math

from devices.codec import DecodedEvent, DecodedSample, DecodeProblem, append_plausible
from katmonitor.base.plausibility import (
    GENERIC_RANGES,
    MODEL_RANGES,
    is_plausible,
    plausible_range,
    screen,
)
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.pipeline import Pipeline
from tests.core.test_pipeline import RecordingSink


def test_model_ranges_are_the_documented_ones_and_inside_the_generic_ranges() -> None:
    masimo = MODEL_RANGES["masimo"]
    assert (masimo[VitalKind.SPO2].low, masimo[VitalKind.SPO2].high) == (1, 100)
    assert (masimo[VitalKind.PULSE_RATE].low, masimo[VitalKind.PULSE_RATE].high) == (25, 240)
    for model, ranges in MODEL_RANGES.items():
        for kind, allowed in ranges.items():
            generic = GENERIC_RANGES[kind]
            assert generic.low <= allowed.low <= allowed.high <= generic.high, (model, kind)


def test_values_outside_the_models_range_are_rejected() -> None:
    assert is_plausible(VitalKind.PULSE_RATE, 240, "masimo")
    assert not is_plausible(VitalKind.PULSE_RATE, 241, "masimo")
    assert is_plausible(VitalKind.PULSE_RATE, 300, "nonin-df8")  # Nonin: 18-321 bpm
    assert is_plausible(VitalKind.PULSE_RATE, 300, "hl7")  # unknown model: generic range
    assert plausible_range(VitalKind.PULSE_RATE, "hl7") == GENERIC_RANGES[VitalKind.PULSE_RATE]
    assert not is_plausible(VitalKind.SPO2, -100)
    assert not is_plausible(VitalKind.SPO2, math.nan)
    assert not is_plausible(VitalKind.NIBP_DIASTOLIC, 20260101120000)


def test_a_decoder_sends_an_impossible_value_as_invalid_after_a_problem() -> None:
    events: list[DecodedEvent] = []
    append_plausible(events, DecodedSample(VitalKind.PULSE_RATE, 873.0, offset=5), "masimo")
    problem, sample = events
    assert isinstance(problem, DecodeProblem) and problem.offset == 5
    assert sample == DecodedSample(VitalKind.PULSE_RATE, None, frozenset({"invalid"}), offset=5)


def test_the_pipeline_never_shows_alarms_on_or_records_an_impossible_value() -> None:
    pipeline = Pipeline()
    recorder = RecordingSink()
    pipeline.start_recording(recorder, 1, baseline_since=0.0)
    pipeline.on_sample(Sample(10.0, "gateway", VitalKind.SPO2, -100.0))
    shown = pipeline.buffers.latest(VitalKind.SPO2)
    assert shown is not None and shown.value is None and shown.status == {"invalid"}
    assert recorder.samples[-1].value is None and recorder.samples[-1].status == {"invalid"}
    assert pipeline.implausible == {"gateway": 1}
    assert not pipeline.active_alarms()
    assert screen(Sample(11.0, "x", VitalKind.SPO2, 97.0)).value == 97.0


def test_demo_values_are_shown_as_demo_but_recorded_and_alarmed_on_without_value() -> None:
    pipeline = Pipeline()
    recorder = RecordingSink()
    pipeline.start_recording(recorder, 1, baseline_since=0.0)
    for t in range(0, 60):
        pipeline.on_sample(Sample(float(t), "mon", VitalKind.SPO2, 70.0, frozenset({"demo"})))
    shown = pipeline.buffers.latest(VitalKind.SPO2)
    assert shown is not None and shown.value == 70.0 and shown.status == {"demo"}
    assert all(s.value is None and s.status == {"demo"} for s in recorder.samples)
    assert not [a for a in pipeline.active_alarms() if "spo2" in a.alarm_id]


def test_a_device_sending_demo_data_raises_a_technical_alarm() -> None:
    pipeline = Pipeline()
    connected = ConnectionState.CONNECTED
    pipeline.on_status(DeviceStatus(5.0, "gw", connected, frozenset({"demo_data"})))
    assert [a.alarm_id for a in pipeline.active_alarms()] == ["tech.gw.demo_data"]
    pipeline.on_status(DeviceStatus(9.0, "gw", connected, frozenset()))
    assert pipeline.active_alarms() == []
