import threading

import numpy as np

from katmonitor.base.samples import Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.live_buffers import LiveBuffers, RingBuffer


def test_ring_buffer_keeps_the_newest_points_in_time_order() -> None:
    ring = RingBuffer(5)
    for i in range(8):
        ring.append(float(i), float(i * 10))
    times, values = ring.snapshot()
    assert times.tolist() == [3, 4, 5, 6, 7]
    assert values.tolist() == [30, 40, 50, 60, 70]
    assert ring.snapshot(since=5.0)[0].tolist() == [5, 6, 7]


def test_ring_buffer_extend_wraps_and_truncates() -> None:
    ring = RingBuffer(4)
    ring.extend(np.arange(3.0), np.arange(3.0))
    ring.extend(np.arange(3.0, 6.0), np.arange(3.0, 6.0))
    assert ring.snapshot()[0].tolist() == [2, 3, 4, 5]
    ring.extend(np.arange(10.0, 20.0), np.arange(10.0, 20.0))
    assert ring.snapshot()[1].tolist() == [16, 17, 18, 19]


def test_missing_values_are_kept_as_gaps_not_dropped() -> None:
    buffers = LiveBuffers(trend_seconds=60)
    buffers.add_sample(Sample(1.0, "sim", VitalKind.SPO2, 97.0))
    buffers.add_sample(Sample(2.0, "sim", VitalKind.SPO2, None, frozenset({"sensor_off"})))
    times, values = buffers.trend(VitalKind.SPO2)
    assert times.tolist() == [1.0, 2.0]
    assert values[0] == 97.0 and np.isnan(values[1])
    latest = buffers.latest(VitalKind.SPO2)
    assert latest is not None and latest.value is None and "sensor_off" in latest.status


def test_waveform_blocks_are_laid_out_on_their_sample_times() -> None:
    buffers = LiveBuffers(waveform_seconds=1, waveform_rate_hz=100)
    values = np.arange(10, dtype=np.float32)
    buffers.add_waveform(WaveformBlock(50.0, 100.0, "sim", VitalKind.PLETH, values))
    times, got = buffers.waveform()
    assert np.allclose(times, 50.0 + np.arange(10) / 100.0)
    assert got.tolist() == values.tolist()
    assert buffers.latest_waveform_time() == 50.1


def test_concurrent_writers_and_a_reader_see_consistent_snapshots() -> None:
    buffers = LiveBuffers(trend_seconds=10_000)

    def write(offset: float) -> None:
        for i in range(2000):
            buffers.add_sample(Sample(offset + i, "sim", VitalKind.HR, 60.0))

    threads = [threading.Thread(target=write, args=(k * 10_000.0,)) for k in range(3)]
    for t in threads:
        t.start()
    for _ in range(50):
        times, values = buffers.trend(VitalKind.HR)
        assert times.shape == values.shape
    for t in threads:
        t.join()
    assert len(buffers.trend(VitalKind.HR)[0]) == 6000
    assert buffers.trend_version == 6000
