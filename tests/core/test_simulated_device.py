"""The simulated monitor (training mode): the simulator's physiology, turned into a real
device's bytes by its emulator and decoded by the real decoder - no shortcut path.

The devices run on a manual clock (devices/virtual_time.py): seconds of device time pass in
milliseconds, each step handled before the next."""


import numpy as np
import pytest

from devices.base import Device
from devices.ge_dri import PH_DISPLAYED, phdb_request
from devices.ge_dri.constants import INTERVAL_STOP
from devices.registry import open_device, parse_spec
from devices.simulated import VitalsModel
from devices.stream_device import StreamDevice
from devices.transport import EmulatorTransport
from devices.virtual_time import VirtualTime
from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import CollectingSink, ConnectionState
from katmonitor.base.vitals import VitalKind


def started(time: VirtualTime, spec: str) -> tuple[Device, CollectingSink]:
    device = time.open(spec)
    sink = CollectingSink()
    device.start(sink)
    time.settle()  # connected, and what the device sent at once handled
    return device, sink


def test_simulated_monitor_speaks_ge_dri_bytes_through_the_real_decoder(
    virtual: VirtualTime,
) -> None:
    device, sink = started(virtual, "sim:normal?nibp_interval=60")
    assert isinstance(device, StreamDevice) and isinstance(device.transport, EmulatorTransport)
    assert device.transport.emulator.protocol == "ge-dri"
    virtual.sleep(5.6)
    device.stop()
    kinds = [s.kind for s in sink.samples]
    # DRI displayed values come every 5 s (the protocol's minimum): at connection and at +5 s.
    assert kinds.count(VitalKind.HR) == 2
    assert {VitalKind.SPO2, VitalKind.PULSE_RATE, VitalKind.PERFUSION_INDEX} <= set(kinds)
    # Before its first measurement the monitor reports NIBP as invalid; then the reading taken
    # at +3 s arrives with the values at +5 s.
    nibp_readings = [s for s in sink.samples if s.kind is VitalKind.NIBP_SYSTOLIC]
    assert [s.value is None for s in nibp_readings] == [True, False]
    nibp = nibp_readings[-1]
    assert nibp.time < sink.samples[-1].time  # keeps its measurement time
    points = sum(b.count for b in sink.blocks)
    assert 500 <= points <= 575  # 100 Hz pleth
    for before, after in zip(sink.blocks, sink.blocks[1:], strict=False):
        assert after.start_time == pytest.approx(before.end_time, abs=1e-6)  # contiguous
    assert sink.statuses[0].state is ConnectionState.CONNECTED
    assert sink.statuses[-1].state is ConnectionState.STOPPED
    assert device.simulated and {s.source for s in sink.samples} == {"sim"}


def test_a_monitor_that_forgot_the_request_is_asked_again_within_a_minute(
    virtual: VirtualTime,
) -> None:
    device, sink = started(virtual, "sim:normal")
    assert isinstance(device, StreamDevice) and isinstance(device.transport, EmulatorTransport)
    # The monitor stops sending displayed values, as after a restart that forgot the request.
    device.transport.write(phdb_request(PH_DISPLAYED, INTERVAL_STOP))
    virtual.sleep(1.0)
    silent_from = len([s for s in sink.samples if s.kind is VitalKind.HR])
    virtual.sleep(55.0)
    assert len([s for s in sink.samples if s.kind is VitalKind.HR]) == silent_from
    virtual.sleep(10.0)  # the link loop re-asks every 60 s
    assert len([s for s in sink.samples if s.kind is VitalKind.HR]) > silent_from
    device.stop()


@pytest.mark.parametrize(
    ("protocol", "kind"),
    [("masimo", VitalKind.SPO2), ("nonin-df7", VitalKind.SPO2), ("hl7", VitalKind.HR)],
)
def test_simulator_can_speak_any_protocol(
    protocol: str, kind: VitalKind, virtual: VirtualTime
) -> None:
    device, sink = started(virtual, f"sim:normal?protocol={protocol}")
    deadline = virtual.now() + 5
    while kind not in {s.kind for s in sink.samples} and virtual.now() < deadline:
        virtual.sleep(0.05)
    device.stop()
    assert kind in {s.kind for s in sink.samples}


def test_sensor_off_period_shows_as_a_device_condition_and_no_values(
    virtual: VirtualTime,
) -> None:
    device, sink = started(
        virtual, "sim:normal?protocol=masimo&sensor_off_at=1.5&sensor_off_for=10"
    )
    virtual.sleep(3.2)
    device.stop()
    assert any("sensor_off" in s.conditions for s in sink.statuses)
    late = [s for s in sink.samples if s.kind is VitalKind.SPO2][-1]
    assert late.value is None


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


def test_silent_feed_option_stops_data_but_not_the_device(virtual: VirtualTime) -> None:
    device, sink = started(virtual, "sim:normal?protocol=masimo&stop_after=1.5")
    virtual.sleep(2.0)
    count = len(sink.samples) + len(sink.blocks)
    assert count >= 3
    virtual.sleep(1.2)
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
        ("sim:normal?protocol=philips", "unknown protocol 'philips'"),
        ("sim:normal?primary=temperature", "unknown kind in primary"),
        ("ge-dri:", "names no serial port"),
        ("hl7:2575", "needs HOST:PORT"),
        ("replay:/nonexistent.bin?protocol=masimo", "does not exist"),
        ("replay:/nonexistent.bin", "say which protocol"),
    ],
)
def test_bad_device_specs_are_reported_clearly(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_device(spec)
    assert message in str(caught.value)


def test_spec_parsing() -> None:
    spec = parse_spec("GE-DRI:/dev/ttyUSB0?baud=115200")
    assert (spec.kind, spec.address, spec.options) == ("ge-dri", "/dev/ttyUSB0", {"baud": "115200"})
    device = open_device("masimo:/dev/ttyUSB1?primary=spo2,pulse_rate&name=oximeter")
    assert device.source == "oximeter"
    assert device.primary_kinds == {VitalKind.SPO2, VitalKind.PULSE_RATE}
