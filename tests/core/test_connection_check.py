"""Test connection: a device spec tried for a few seconds, summed up in one sentence.

Simulated devices may be served by the in-process model or by an emulator's byte stream
through the real decoder; these tests hold for both (no exact update rates: HR may take up to
about 6 s to arrive on the byte path).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from devices.base import Device
from devices.connection_check import ConnectionReport, check_connection, same_resource
from devices.registry import open_device
from devices.virtual_time import VirtualTime
from katmonitor.base.clock import ManualClock
from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import (
    ConnectionState,
    DeviceStatus,
    Sample,
    SampleSink,
    WaveformBlock,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")


class _Tee:
    """Passes what a device delivers on, and signals its first status."""

    def __init__(self, sink: SampleSink, said: threading.Event) -> None:
        self.sink, self.said = sink, said

    def on_sample(self, sample: Sample) -> None:
        self.sink.on_sample(sample)

    def on_waveform(self, block: WaveformBlock) -> None:
        self.sink.on_waveform(block)

    def on_status(self, status: DeviceStatus) -> None:
        self.sink.on_status(status)
        self.said.set()


class ObservedPort:
    """A real port's device for check_connection, with a manual timer: each of the check's
    sleeps first waits (on an event, generous timeout) until the device has said something,
    then moves the timer. The grace periods and time limits pass in manual seconds."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.said = threading.Event()

    def open(self, spec: str) -> Device:
        device = open_device(spec)
        start = device.start
        device.start = lambda sink: start(_Tee(sink, self.said))  # type: ignore[method-assign]
        return device

    def sleep(self, seconds: float) -> None:
        assert self.said.wait(30.0), "the device never reported"
        self.clock.advance(seconds)

    def check(self, spec: str, seconds: float, **options: Any) -> ConnectionReport:
        return check_connection(
            spec, seconds, timer=self.clock.now, sleep=self.sleep, opener=self.open, **options
        )


@pytest.fixture
def silent_pty() -> Iterator[str]:
    """A serial port that opens fine but on which nothing is ever sent."""
    import tty

    controller, port = os.openpty()
    tty.setraw(port)
    yield os.ttyname(port)
    os.close(port)
    os.close(controller)


def test_simulated_monitor_is_received() -> None:
    # The simulated GE monitor on a manual clock: its 5-second cycle passes in milliseconds.
    virtual = VirtualTime()
    started = virtual.now()
    report = check_connection(
        "sim:normal", seconds=10.0, timer=virtual.now, sleep=virtual.sleep, opener=virtual.open
    )
    assert report.ok, report.summary
    assert report.summary.startswith("Receiving:") and "HR" in report.summary
    hr = report.kinds.get("hr")
    assert hr is not None and 30 < hr < 200
    assert any(s.state is ConnectionState.CONNECTED for s in report.statuses)
    assert virtual.now() - started < 9.0, "returns once data arrived"
    assert not virtual.devices[0].running, "and stops the device"


def test_missing_serial_port_is_reported_quickly() -> None:
    port = ObservedPort()
    started = port.clock.now()
    report = port.check("ge-dri:/dev/ttyKATMISSING", seconds=10.0)
    assert not report.ok
    assert "does not exist" in report.summary
    assert report.kinds == {} and report.pleth_points == 0
    assert port.clock.now() - started < 3.0


@posix_only
def test_open_but_silent_port_says_no_data_and_what_to_check(silent_pty: str) -> None:
    report = ObservedPort().check("masimo:" + silent_pty, seconds=2.0)
    assert not report.ok
    assert "no data" in report.summary
    assert "9600 8N1" in report.summary  # the settings the monitor must be set to
    assert any(s.state is ConnectionState.CONNECTED for s in report.statuses)


@posix_only
def test_port_held_by_another_program_is_busy(silent_pty: str) -> None:
    with serial.Serial(silent_pty, exclusive=True):
        report = ObservedPort().check("masimo:" + silent_pty, seconds=10.0)
    assert not report.ok
    assert "in use" in report.summary


@posix_only
def test_a_test_can_be_cancelled(silent_pty: str) -> None:
    port = ObservedPort()
    started = port.clock.now()
    report = port.check(
        "masimo:" + silent_pty, seconds=30.0, stop=lambda: port.clock.now() - started > 0.3
    )
    assert not report.ok and "cancelled" in report.summary
    assert port.clock.now() - started < 3.0


def test_a_malformed_spec_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        check_connection("masimo", seconds=1.0)


def test_which_specs_share_a_port() -> None:
    assert same_resource("ge-dri:/dev/ttyUSB0", "masimo:/dev/ttyUSB0?primary=spo2")
    assert not same_resource("ge-dri:/dev/ttyUSB0", "ge-dri:/dev/ttyUSB1")
    assert same_resource("hl7:0.0.0.0:2575", "hl7:127.0.0.1:2575")
    assert not same_resource("sim:normal", "sim:normal")  # in-process: any number at once
