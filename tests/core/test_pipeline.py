import numpy as np

from katmonitor.base.samples import (
    CollectingSink,
    ConnectionState,
    DeviceStatus,
    Sample,
    WaveformBlock,
)
from katmonitor.base.vitals import VitalKind
from katmonitor.limits import Limit, LimitChecker
from katmonitor.pipeline import Pipeline
from katmonitor.readings import current_readings, format_age


class RecordingSink(CollectingSink):
    """Stands in for the recorder's queue, keyed by session."""

    def __init__(self) -> None:
        super().__init__()
        self.session_ids: set[int] = set()

    def submit_sample(self, session_id: int, sample: Sample) -> None:
        self.session_ids.add(session_id)
        self.on_sample(sample)

    def submit_waveform(self, session_id: int, block: WaveformBlock) -> None:
        self.session_ids.add(session_id)
        self.on_waveform(block)

    def submit_status(self, session_id: int, status: DeviceStatus) -> None:
        self.session_ids.add(session_id)
        self.on_status(status)


def hr(t: float, value: float | None) -> Sample:
    return Sample(t, "sim", VitalKind.HR, value)


def test_pre_session_minutes_become_the_baseline_and_older_data_is_not_kept() -> None:
    pipeline = Pipeline(baseline_window_s=600)
    for t in range(0, 1000, 10):
        pipeline.on_sample(hr(float(t), 70.0))
    pipeline.on_waveform(WaveformBlock(995.0, 100.0, "sim", VitalKind.PLETH, np.zeros(10, "f4")))
    recorder = RecordingSink()
    written = pipeline.start_recording(recorder, 7, baseline_since=1000.0 - 600)
    assert written == 61  # samples at 400..990 plus the pleth block
    assert [s.time for s in recorder.samples][:2] == [400.0, 410.0]
    pipeline.on_sample(hr(1000.0, 71.0))
    assert recorder.samples[-1].time == 1000.0
    assert recorder.session_ids == {7}
    pipeline.stop_recording()
    pipeline.on_sample(hr(1010.0, 72.0))
    assert recorder.samples[-1].time == 1000.0


def test_values_outside_limits_are_flagged_once_per_excursion() -> None:
    pipeline = Pipeline(limits=LimitChecker({VitalKind.HR: Limit(50, 100)}))
    for t, value in enumerate([80, 120, 125, 90, 130]):
        pipeline.on_sample(hr(float(t), float(value)))
    onsets = [(f.sample.value, f.direction) for f in pipeline.flag_log]
    assert onsets == [(120.0, "high"), (130.0, "high")]
    active = pipeline.active_flags()
    assert len(active) == 1 and active[0].text == "HR 130 bpm > 100"


def test_readings_mark_stale_values_and_never_flag_them_as_current() -> None:
    pipeline = Pipeline(limits=LimitChecker({VitalKind.HR: Limit(50, 100)}))
    pipeline.on_sample(hr(100.0, 130.0))
    fresh = current_readings(pipeline.buffers, pipeline.limits, now=105.0)[VitalKind.HR]
    assert not fresh.stale and fresh.alarming and fresh.value_text() == "130"
    old = current_readings(pipeline.buffers, pipeline.limits, now=125.0)[VitalKind.HR]
    assert old.stale and not old.alarming and old.age_s == 25.0
    assert format_age(old.age_s) == "25 s" and format_age(3900) == "1 h 05 min"


def test_a_missing_value_reads_as_dashes() -> None:
    pipeline = Pipeline()
    pipeline.on_sample(Sample(1.0, "sim", VitalKind.SPO2, None, frozenset({"sensor_off"})))
    reading = current_readings(pipeline.buffers, pipeline.limits, now=2.0)[VitalKind.SPO2]
    assert reading.value_text() == "---" and not reading.alarming


def test_a_device_that_falls_silent_is_reported_and_recorded_then_recovers() -> None:
    pipeline = Pipeline()
    recorder = RecordingSink()
    pipeline.start_recording(recorder, 1, baseline_since=0.0)
    pipeline.on_status(DeviceStatus(0.0, "sim", ConnectionState.CONNECTED))
    pipeline.on_sample(hr(1.0, 70.0))
    assert pipeline.check_silence(now=4.0) == []
    [silent] = pipeline.check_silence(now=7.0)
    assert silent.state is ConnectionState.NO_DATA
    assert pipeline.check_silence(now=8.0) == []  # reported once, not every second
    pipeline.on_sample(hr(9.0, 70.0))
    states = [s.state for s in recorder.statuses]
    assert states == [ConnectionState.CONNECTED, ConnectionState.NO_DATA, ConnectionState.CONNECTED]
    assert pipeline.statuses()[0].state is ConnectionState.CONNECTED


def test_with_two_devices_for_one_kind_the_primary_is_shown_and_both_are_recorded() -> None:
    pipeline = Pipeline()
    pipeline.primary_sources[VitalKind.SPO2] = "oximeter"
    recorder = RecordingSink()
    pipeline.start_recording(recorder, 1, baseline_since=0.0)

    def spo2(t: float, source: str, value: float) -> None:
        pipeline.on_sample(Sample(t, source, VitalKind.SPO2, value))

    spo2(1.0, "monitor", 95.0)  # nothing else yet: shown
    spo2(1.5, "oximeter", 98.0)  # the configured primary takes over
    spo2(2.0, "monitor", 94.0)
    assert pipeline.buffers.latest(VitalKind.SPO2).source == "oximeter"
    assert pipeline.shown_source(VitalKind.SPO2) == "oximeter"
    # The primary falls silent beyond the freshness limit: the other device is shown instead.
    spo2(13.0, "monitor", 93.0)
    assert pipeline.buffers.latest(VitalKind.SPO2).value == 93.0
    spo2(14.0, "oximeter", 97.0)  # and the primary wins again when it is back
    assert pipeline.buffers.latest(VitalKind.SPO2).source == "oximeter"
    assert [(s.source, s.value) for s in recorder.samples] == [
        ("monitor", 95.0),
        ("oximeter", 98.0),
        ("monitor", 94.0),
        ("monitor", 93.0),
        ("oximeter", 97.0),
    ]


def test_without_configuration_the_first_device_reporting_a_kind_is_shown() -> None:
    pipeline = Pipeline()
    pipeline.on_sample(Sample(1.0, "monitor", VitalKind.PULSE_RATE, 70.0))
    pipeline.on_sample(Sample(1.2, "oximeter", VitalKind.PULSE_RATE, 90.0))
    assert pipeline.buffers.latest(VitalKind.PULSE_RATE).value == 70.0
    times, _ = pipeline.buffers.trend(VitalKind.PULSE_RATE)
    assert times.tolist() == [1.0]


def test_red_values_follow_the_alarm_limits_including_a_nurses_adjustment() -> None:
    pipeline = Pipeline()
    pipeline.on_sample(hr(1.0, 125.0))
    assert pipeline.active_flags()[0].limit == 120  # the profile's HR high limit
    pipeline.alarm_action(
        lambda e: e.adjust_limit(
            VitalKind.HR, "high", 130.0, 2.0, "RN Lee", "client's usual HR is high"
        )
    )
    pipeline.on_sample(hr(3.0, 125.0))
    assert pipeline.active_flags() == []  # 125 is now within the adjusted limit
    reading = current_readings(pipeline.buffers, pipeline.limits, now=3.5)[VitalKind.HR]
    assert not reading.alarming
