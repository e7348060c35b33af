"""Test connection: a device spec tried for a few seconds, summed up in one sentence.

Simulated devices may be served by the in-process model or by an emulator's byte stream
through the real decoder; these tests hold for both (no exact update rates: HR may take up to
about 6 s to arrive on the byte path).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator

import pytest
import serial

from devices.connection_check import check_connection, same_resource
from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import ConnectionState

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")


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
    started = time.monotonic()
    report = check_connection("sim:normal", seconds=10.0)
    assert report.ok, report.summary
    assert report.summary.startswith("Receiving:") and "HR" in report.summary
    assert report.kinds.get("hr") is not None and 30 < report.kinds["hr"] < 200
    assert any(s.state is ConnectionState.CONNECTED for s in report.statuses)
    assert time.monotonic() - started < 9.0, "returns once data arrived"


def test_missing_serial_port_is_reported_quickly() -> None:
    started = time.monotonic()
    report = check_connection("ge-dri:/dev/ttyKATMISSING", seconds=10.0)
    assert not report.ok
    assert "does not exist" in report.summary
    assert report.kinds == {} and report.pleth_points == 0
    assert time.monotonic() - started < 3.0


@posix_only
def test_open_but_silent_port_says_no_data_and_what_to_check(silent_pty: str) -> None:
    report = check_connection("masimo:" + silent_pty, seconds=2.0)
    assert not report.ok
    assert "no data" in report.summary
    assert "9600 8N1" in report.summary  # the settings the monitor must be set to
    assert any(s.state is ConnectionState.CONNECTED for s in report.statuses)


@posix_only
def test_port_held_by_another_program_is_busy(silent_pty: str) -> None:
    with serial.Serial(silent_pty, exclusive=True):
        report = check_connection("masimo:" + silent_pty, seconds=10.0)
    assert not report.ok
    assert "in use" in report.summary


@posix_only
def test_a_test_can_be_cancelled(silent_pty: str) -> None:
    started = time.monotonic()
    report = check_connection(
        "masimo:" + silent_pty, seconds=30.0, stop=lambda: time.monotonic() - started > 0.3
    )
    assert not report.ok and "cancelled" in report.summary
    assert time.monotonic() - started < 3.0


def test_a_malformed_spec_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        check_connection("masimo", seconds=1.0)


def test_which_specs_share_a_port() -> None:
    assert same_resource("ge-dri:/dev/ttyUSB0", "masimo:/dev/ttyUSB0?primary=spo2")
    assert not same_resource("ge-dri:/dev/ttyUSB0", "ge-dri:/dev/ttyUSB1")
    assert same_resource("hl7:0.0.0.0:2575", "hl7:127.0.0.1:2575")
    assert not same_resource("sim:normal", "sim:normal")  # in-process: any number at once
