import time

import numpy as np
import pytest

from devices.registry import open_device, parse_spec
from devices.simulated import SimulatedMonitor, VitalsModel
from katmonitor.errors import ConfigurationError
from katmonitor.samples import CollectingSink, ConnectionState
from katmonitor.vitals import VitalKind


def test_simulator_streams_numerics_every_second_nibp_on_its_cycle_and_100hz_pleth() -> None:
    device = open_device("sim:normal?nibp_interval=5")
    sink = CollectingSink()
    device.start(sink)
    time.sleep(2.55)
    device.stop()
    kinds = [s.kind for s in sink.samples]
    assert kinds.count(VitalKind.HR) == 3  # t = 0, 1, 2 s
    assert kinds.count(VitalKind.SPO2) == 3
    assert kinds.count(VitalKind.NIBP_SYSTOLIC) == 0  # first NIBP only after 3 s
    points = sum(b.count for b in sink.blocks)
    assert 240 <= points <= 270
    # Blocks are contiguous: each starts where the previous one ended.
    for before, after in zip(sink.blocks, sink.blocks[1:], strict=False):
        assert after.start_time == pytest.approx(before.end_time, abs=1e-6)
    assert sink.statuses[0].state is ConnectionState.CONNECTED
    assert sink.statuses[-1].state is ConnectionState.STOPPED
    assert device.simulated
    hr = [s.value for s in sink.samples if s.kind is VitalKind.HR]
    assert all(v is not None and 55 <= v <= 95 for v in hr)


def test_hypertensive_scenario_raises_blood_pressure_toward_40_minutes() -> None:
    model = VitalsModel("hypertensive", seed=3)
    before = model.nibp(60.0)[0]
    peak = model.nibp(40 * 60.0)[0]
    assert peak - before > 35
    assert peak > 160  # crosses the default systolic limit


def test_pleth_follows_the_pulse_and_is_continuous_between_blocks() -> None:
    model = VitalsModel("normal", seed=1)
    wave = np.concatenate([model.pleth(i * 0.1, 10, 100.0) for i in range(100)])  # 10 s
    # Count beats as upward crossings of the mid level: about HR/60 per second.
    mid = (wave.max() + wave.min()) / 2
    beats = int(np.sum((wave[1:] > mid) & (wave[:-1] <= mid)))
    assert 10 <= beats <= 14  # ~72 bpm over 10 s
    assert np.max(np.abs(np.diff(wave))) < 10  # no jumps at block joins


def test_silent_feed_option_stops_data_but_not_the_device() -> None:
    device = open_device("sim:normal?stop_after=0.5")
    sink = CollectingSink()
    device.start(sink)
    time.sleep(1.2)
    count = len(sink.samples) + len(sink.blocks)
    time.sleep(0.5)
    assert len(sink.samples) + len(sink.blocks) == count
    assert device.running
    device.stop()
    assert not device.running


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nonsense", "cannot understand device spec"),
        ("foo:bar", "unknown device type 'foo'"),
        ("sim:calm", "unknown simulator scenario"),
        ("sim:normal?nibp_interval=abc", "is not a number"),
        ("sim:normal?nibp_interval=1", "must be >= 5"),
        ("sim:normal?colour=blue", "unknown option(s) colour"),
    ],
)
def test_bad_device_specs_are_reported_clearly(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_device(spec)
    assert message in str(caught.value)


def test_spec_parsing() -> None:
    spec = parse_spec("GE-DRI:/dev/ttyUSB0?baud=115200")
    assert (spec.kind, spec.address, spec.options) == ("ge-dri", "/dev/ttyUSB0", {"baud": "115200"})
    assert isinstance(open_device("sim:desaturation"), SimulatedMonitor)
