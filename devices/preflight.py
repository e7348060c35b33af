"""Before a recording starts: does each device's serial port exist, does its TCP host resolve?

A device that cannot exist at all (a mistyped port, a host name no resolver knows) would give
an empty session: ``katmonitor record`` asks :func:`check_devices_reachable` first and refuses
with one clear message. A port that exists but is busy or silent is the link loop's business
(it reports and reconnects); this check does not open anything.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path

from devices.protocols import PROTOCOLS
from devices.registry import parse_spec
from katmonitor.base.errors import ConfigurationError


def check_devices_reachable(specs: Sequence[str]) -> None:
    """ConfigurationError for the first spec whose serial port or TCP host does not exist."""
    for text in specs:
        spec = parse_spec(text)
        info = PROTOCOLS.get(spec.kind)
        if info is None or not spec.address:
            continue  # simulators, replays and malformed specs: open_device judges those
        if info.transport == "serial":
            _check_serial_port(spec.text, spec.address)
        elif info.transport == "tcp-listen":
            host = spec.address.rpartition(":")[0]
            if host:
                _check_host(spec.text, host)


def _check_serial_port(spec: str, port: str) -> None:
    if os.name == "posix":
        exists = Path(port).exists()
    else:  # COM3 has no path: ask the system's list of ports
        from serial.tools import list_ports

        exists = port.upper() in {p.device.upper() for p in list_ports.comports()}
    if not exists:
        raise ConfigurationError(
            f"serial port {port} does not exist (device {spec!r})",
            "check the cable and the port name; `katmonitor devices` lists the serial ports",
        )


def _check_host(spec: str, host: str) -> None:
    try:
        socket.getaddrinfo(host.strip("[]"), None)
    except (OSError, UnicodeError):
        raise ConfigurationError(
            f"host {host!r} cannot be resolved (device {spec!r})",
            "give this workstation's IP address or a name it can resolve, e.g. hl7:0.0.0.0:2575",
        ) from None
