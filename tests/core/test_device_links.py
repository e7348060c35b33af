"""Devices end to end: the simulator's real bytes through a real pseudo-terminal or TCP socket,
the real driver (transport, link loop, decoder) and the pipeline. Unplug and replug included."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
from waiting_sink import WaitingSink

from devices.base import Device
from devices.registry import open_device
from katmonitor.base.samples import ConnectionState
from katmonitor.base.vitals import VitalKind


class Simulator:
    """``katmonitor simulate`` in its own process: a device at the other end of the cable."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "katmonitor", "simulate", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.first_line = self.process.stdout.readline().strip()

    def unplug(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def simulators() -> Iterator[Callable[..., Simulator]]:
    started: list[Simulator] = []

    def start(*args: str) -> Simulator:
        simulator = Simulator(*args)
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        if simulator.process.poll() is None:
            simulator.unplug()


@pytest.fixture
def running() -> Iterator[Callable[[Device], WaitingSink]]:
    devices: list[Device] = []

    def start(device: Device) -> WaitingSink:
        sink = WaitingSink()
        device.start(sink)
        devices.append(device)
        return sink

    yield start
    for device in devices:
        device.stop()


def kinds(sink: WaitingSink) -> set[VitalKind]:
    return {s.kind for s in sink.samples if s.value is not None}


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        ("masimo", {VitalKind.SPO2, VitalKind.PULSE_RATE, VitalKind.PERFUSION_INDEX}),
        ("nonin-df7", {VitalKind.SPO2, VitalKind.PULSE_RATE}),
        ("nonin-df8", {VitalKind.SPO2, VitalKind.PULSE_RATE}),
        ("ge-dri", {VitalKind.HR, VitalKind.SPO2, VitalKind.PULSE_RATE}),
    ],
)
def test_serial_protocols_through_a_pseudo_terminal(
    protocol: str, expected: set[VitalKind], simulators, running
) -> None:
    simulator = simulators("--protocol", protocol, "--pty")
    assert simulator.first_line.startswith("/dev/pts/")
    device = open_device(f"{protocol}:{simulator.first_line}")
    sink = running(device)
    sink.wait_for(lambda: expected <= kinds(sink))
    assert {s.source for s in sink.samples} == {protocol}
    assert sink.statuses[0].state is ConnectionState.CONNECTED
    if protocol in ("nonin-df7", "ge-dri"):
        sink.wait_for(lambda: sum(b.count for b in sink.blocks) > 50)
        rates = {b.sample_rate_hz for b in sink.blocks}
        assert rates == ({75.0} if protocol == "nonin-df7" else {100.0})


def test_unplug_and_replug_reconnects_without_a_restart(
    tmp_path: Path, simulators, running
) -> None:
    link = tmp_path / "ttyKAT0"  # a stable name, as udev gives a USB serial adapter
    first = simulators("--protocol", "masimo", "--pty")
    link.symlink_to(first.first_line)
    sink = running(open_device(f"masimo:{link}"))
    sink.wait_for(lambda: len(sink.samples) >= 3)

    first.unplug()
    sink.wait_for(lambda: sink.statuses[-1].state is ConnectionState.DISCONNECTED)
    count_while_unplugged = len(sink.samples)

    second = simulators("--protocol", "masimo", "--pty")
    link.unlink()
    link.symlink_to(second.first_line)
    sink.wait_for(lambda: len(sink.samples) > count_while_unplugged + 2)
    states = [s.state for s in sink.statuses]
    assert states[0] is ConnectionState.CONNECTED
    assert ConnectionState.DISCONNECTED in states
    assert states[-1] is ConnectionState.CONNECTED


def test_missing_and_busy_ports_are_reported_as_technical_conditions(running) -> None:
    sink = running(open_device("masimo:/dev/ttyKATMISSING0"))
    sink.wait_for(lambda: bool(sink.statuses))
    status = sink.statuses[0]
    assert status.state is ConnectionState.DISCONNECTED and "missing" in status.conditions
    assert "does not exist" in status.message

    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    holder = serial.Serial(path, 9600, exclusive=True)  # another program has the port
    try:
        busy = running(open_device(f"nonin-df8:{path}"))
        busy.wait_for(lambda: bool(busy.statuses))
        assert "busy" in busy.statuses[0].conditions
        assert "in use" in busy.statuses[0].message
    finally:
        holder.close()
        os.close(master)
        os.close(slave)


def test_sensor_off_and_corrupted_bytes_become_device_conditions(simulators, running) -> None:
    simulator = simulators("--protocol", "masimo", "--pty", "--sensor-off-at", "2")
    sink = running(open_device(f"masimo:{simulator.first_line}"))
    sink.wait_for(lambda: any("sensor_off" in s.conditions for s in sink.statuses))

    noisy = simulators("--protocol", "nonin-df2", "--pty", "--bit-errors", "0.02")
    noisy_sink = running(open_device(f"nonin-df2:{noisy.first_line}"))
    noisy_sink.wait_for(lambda: any("checksum_errors" in s.conditions for s in noisy_sink.statuses))


def test_a_device_clock_far_from_the_workstation_is_flagged(simulators, running) -> None:
    # At 200x speed the device's clock runs minutes ahead within a second.
    simulator = simulators("--protocol", "masimo", "--pty", "--speed", "200")
    sink = running(open_device(f"masimo:{simulator.first_line}"))
    sink.wait_for(lambda: any("clock_drift" in s.conditions for s in sink.statuses))
    # Samples are placed on the workstation's clock, never in the future.
    assert max(s.time for s in sink.samples) <= time.time() + 0.1


def test_hl7_gateway_over_tcp_is_acknowledged_and_decoded(simulators, running) -> None:
    device = open_device("hl7:127.0.0.1:0")
    sink = running(device)
    sink.wait_for(lambda: device.bound_port is not None)  # type: ignore[attr-defined]
    port = device.bound_port  # type: ignore[attr-defined]
    simulators("--protocol", "hl7", "--tcp", f"127.0.0.1:{port}")
    sink.wait_for(lambda: {VitalKind.HR, VitalKind.SPO2} <= kinds(sink))
    assert {s.source for s in sink.samples} == {"hl7"}

    # A raw client: one ORU in, one MLLP-framed ACK out, naming our control id.
    message = (
        "MSH|^~\\&|GW|ICU|KAT|KAT|20261126073000||ORU^R01^ORU_R01|CTRL-42|P|2.6\r"
        "PID|||TEST-1\r"
        "OBR|1|||182777000^monitoring of patient^SNOMED-CT|||20261126073000\r"
        "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.3.1.147842|77|264864^MDC_DIM_BEAT_PER_MIN^MDC"
        "|||||R|||20261126073000\r"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"\x0b" + message.encode() + b"\x1c\x0d")
        reply = b""
        while not reply.endswith(b"\x1c\x0d"):
            reply += client.recv(4096)
    ack = reply.strip(b"\x0b\x1c\r").decode()
    segments = {line.split("|")[0]: line.split("|") for line in ack.split("\r") if line}
    assert segments["MSA"][1] == "AA" and segments["MSA"][2] == "CTRL-42"
    assert segments["MSH"][8].startswith("ACK")
    sink.wait_for(lambda: any(s.value == 77.0 for s in sink.samples if s.kind is VitalKind.HR))


def test_a_listener_port_in_use_is_reported(running) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        sink = running(open_device(f"hl7:127.0.0.1:{port}"))
        sink.wait_for(lambda: bool(sink.statuses))
        assert "busy" in sink.statuses[0].conditions
