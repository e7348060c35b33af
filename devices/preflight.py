"""Before a recording starts: does each device's serial port exist, does its TCP host resolve
to an address of this computer, does the directory of its capture file exist?

A device that cannot exist at all (a mistyped port, a host name no resolver knows) would give
an empty session: ``katmonitor record`` asks :func:`check_devices_reachable` first and refuses
with one clear message. A port that exists but is busy or silent is the link loop's business
(it reports and reconnects); this check opens no device and takes no port.
"""

from __future__ import annotations

import errno
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
        capture = spec.options.get("capture")
        if capture:
            _check_capture_directory(spec.text, Path(capture).expanduser())
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


def _check_capture_directory(spec: str, path: Path) -> None:
    if not path.parent.is_dir():
        raise ConfigurationError(
            f"cannot capture to {path}: the directory {path.parent} does not exist "
            f"(device {spec!r})",
            "create it first, or choose another --capture FILE",
        )


def _check_host(spec: str, host: str) -> None:
    """The address an HL7 listener binds to: a name that resolves to an address of this
    computer (binding port 0 tries that without taking the real port)."""
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    hint = "give this workstation's IP address or a name it can resolve, e.g. hl7:0.0.0.0:2575"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            name, 0, type=socket.SOCK_STREAM
        )[0]
    except (OSError, UnicodeError):
        raise ConfigurationError(
            f"host {host!r} cannot be resolved (device {spec!r})", hint
        ) from None
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.bind(address)
    except OSError as error:
        if error.errno == errno.EADDRNOTAVAIL:
            raise ConfigurationError(
                f"host {host!r} is not an address of this computer (device {spec!r}), so "
                "nothing can be received on it",
                hint,
            ) from None
        # Anything else (permissions, a busy port) is the listener's to report and retry.
