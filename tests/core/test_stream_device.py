"""The link loop's conversion of decoded events: device clocks, waveform continuity, repeated
readings, link-health conditions."""

import numpy as np

from devices.codec import DecodedSample, DecodedWaveform, DecodeProblem
from devices.ge_dri import GeDriDecoder
from devices.stream_device import EventConverter
from katmonitor.base.samples import CollectingSink
from katmonitor.base.vitals import VitalKind


def test_device_times_are_mapped_onto_the_workstation_clock() -> None:
    sink = CollectingSink()
    converter = EventConverter("mon", sink)
    decoder = GeDriDecoder()
    # The device clock is 2 h behind; an NIBP measured 3 min before the latest HR.
    for t in range(10):
        converter.handle(
            [DecodedSample(VitalKind.HR, 70.0, device_time=1000.0 + t)], decoder, 8200.0 + t
        )
    converter.handle(
        [DecodedSample(VitalKind.NIBP_SYSTOLIC, 120.0, device_time=829.0)], decoder, 8209.0
    )
    nibp = sink.samples[-1]
    assert nibp.time == 829.0 + 7200.0  # its real measurement time on our clock
    assert any("clock_drift" in s.conditions for s in sink.statuses)


def test_a_repeated_nibp_reading_is_recorded_once() -> None:
    sink = CollectingSink()
    converter = EventConverter("gw", sink)
    decoder = GeDriDecoder()
    reading = DecodedSample(VitalKind.NIBP_SYSTOLIC, 131.0, device_time=5000.0)
    for now in (5010.0, 5011.0, 5012.0):
        converter.handle([reading], decoder, now)
    newer = DecodedSample(VitalKind.NIBP_SYSTOLIC, 131.0, device_time=5180.0)
    converter.handle([newer], decoder, 5181.0)
    assert len([s for s in sink.samples if s.kind is VitalKind.NIBP_SYSTOLIC]) == 2


def test_waveform_blocks_are_chained_until_the_device_falls_silent() -> None:
    sink = CollectingSink()
    converter = EventConverter("ox", sink)
    decoder = GeDriDecoder()
    block = DecodedWaveform(VitalKind.PLETH, 100.0, np.zeros(25, np.float32))
    for now in (10.25, 10.55, 10.74, 11.0):  # jittery arrival
        converter.handle([block], decoder, now)
    starts = [b.start_time for b in sink.blocks]
    assert starts == [10.0, 10.25, 10.5, 10.75]  # contiguous despite the jitter
    converter.handle([block], decoder, 20.0)  # after a silence: a new run
    assert sink.blocks[-1].start_time == 19.75


def test_a_high_rate_of_corrupted_frames_is_a_condition_until_it_clears() -> None:
    sink = CollectingSink()
    converter = EventConverter("ox", sink)
    decoder = GeDriDecoder()
    decoder.counters.good = 20
    converter.handle([DecodeProblem(i, "bad checksum") for i in range(5)], decoder, 1.0)
    assert "checksum_errors" in sink.statuses[-1].conditions
    decoder.counters.good += 400
    converter.handle([], decoder, 2.0)
    assert "checksum_errors" not in sink.statuses[-1].conditions


def test_a_reading_sent_measuring_then_final_reaches_the_record_twice() -> None:
    sink = CollectingSink()
    converter = EventConverter("mon", sink)
    decoder = GeDriDecoder()
    measuring = DecodedSample(
        VitalKind.NIBP_SYSTOLIC, 131.0, frozenset({"measuring"}), device_time=5000.0
    )
    final = DecodedSample(VitalKind.NIBP_SYSTOLIC, 131.0, device_time=5000.0)
    for now, reading in ((5001.0, measuring), (5003.0, final), (5008.0, final)):
        converter.handle([reading], decoder, now)
    assert [s.status for s in sink.samples] == [frozenset({"measuring"}), frozenset()]


def test_demo_data_is_a_device_condition_while_it_lasts() -> None:
    sink = CollectingSink()
    converter = EventConverter("gw", sink)
    decoder = GeDriDecoder()
    demo = DecodedSample(VitalKind.SPO2, 97.0, frozenset({"demo"}))
    converter.handle([demo, demo], decoder, 10.0)
    converter.handle([DecodedSample(VitalKind.SPO2, 96.0)], decoder, 11.0)
    assert [s.conditions for s in sink.statuses] == [{"demo_data"}, frozenset()]


def test_a_second_channel_is_recorded_as_its_own_source() -> None:
    sink = CollectingSink()
    converter = EventConverter("gw", sink)
    converter.handle(
        [DecodedSample(VitalKind.SPO2, 97.0), DecodedSample(VitalKind.SPO2, 91.0, channel="1.3.2")],
        GeDriDecoder(),
        10.0,
    )
    assert [(s.source, s.value) for s in sink.samples] == [("gw", 97.0), ("gw/1.3.2", 91.0)]
