"""``katmonitor simulate``: a device's real byte stream on a pseudo-terminal, a serial port, a
TCP connection or a file, from the emulators the decoders are tested against.

With ``--pty`` the path of the new pseudo-terminal is printed, so that
``katmonitor run --device ge-dri:/dev/pts/N`` talks to it exactly as to hardware.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import serial

from devices.codec import Emulator
from devices.protocols import ProtocolInfo
from katmonitor.base.errors import ConfigurationError

TICK_S = 0.01


@dataclass(frozen=True, slots=True)
class SimulationTarget:
    pty: bool = False
    port: str | None = None
    tcp: tuple[str, int] | None = None
    out: Path | None = None


class _Link:
    """Where the device's bytes go and the host's bytes come from."""

    def send(self, data: bytes) -> None: ...

    def receive(self) -> bytes:
        return b""

    def close(self) -> None: ...


class _PtyLink(_Link):
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        # Raw mode, so the line discipline neither echoes nor rewrites bytes (CR/LF, 0x7F...).
        tty.setraw(self.slave)
        tty.setraw(self.master)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)

    def send(self, data: bytes) -> None:
        # Nobody reading and the buffer full: the bytes are lost, as on a real serial line.
        with contextlib.suppress(BlockingIOError):
            os.write(self.master, data)

    def receive(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except BlockingIOError:
            return b""
        except OSError as error:
            if error.errno == errno.EIO:  # no reader has the port open right now
                return b""
            raise

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class _SerialLink(_Link):
    def __init__(self, port: str, settings: dict[str, object]) -> None:
        try:
            self.port = serial.Serial(port=port, timeout=0, write_timeout=1, **settings)
        except (serial.SerialException, OSError, ValueError) as error:
            raise ConfigurationError(f"cannot open {port}: {error}") from None

    def send(self, data: bytes) -> None:
        self.port.write(data)

    def receive(self) -> bytes:
        return self.port.read(4096)

    def close(self) -> None:
        self.port.close()


class _TcpLink(_Link):
    """A gateway connecting to a listener; reconnects when the listener goes away."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket | None:
        if self.sock is None:
            try:
                self.sock = socket.create_connection(self.address, timeout=2.0)
                self.sock.setblocking(False)
            except OSError:
                self.sock = None
        return self.sock

    def send(self, data: bytes) -> None:
        sock = self._connect()
        if sock is None:
            return
        try:
            sock.setblocking(True)
            sock.sendall(data)
            sock.setblocking(False)
        except OSError:
            self.close()

    def receive(self) -> bytes:
        if self.sock is None:
            return b""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return b""
        except OSError:
            self.close()
            return b""
        if not data:
            self.close()
        return data

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None


def write_capture(
    info: ProtocolInfo, emulator: Emulator, path: Path, duration_s: float, step_s: float = 0.05
) -> int:
    """Write ``duration_s`` of simulated device output to ``path`` at once; returns bytes."""
    start = emulator.start_time
    if emulator.needs_request:
        # The device only talks after the host asked: ask as KAT Monitor would.
        emulator.receive(info.make_decoder().requests_on_connect(), start)
    written = 0
    with path.open("wb") as out:
        steps = int(duration_s / step_s)
        for i in range(1, steps + 1):
            data = emulator.advance(start + i * step_s)
            out.write(data)
            written += len(data)
    return written


def run_simulation(
    info: ProtocolInfo,
    emulator: Emulator,
    target: SimulationTarget,
    *,
    speed: float = 1.0,
    duration_s: float | None = None,
    stop: Callable[[], bool] = lambda: False,
    announce: Callable[[str], None] = print,
) -> None:
    """Stream until ``duration_s`` of simulated time passed or ``stop()`` says so."""
    if target.out is not None:
        written = write_capture(info, emulator, target.out, duration_s or 60.0)
        announce(f"wrote {written} bytes ({duration_s or 60.0:g} s of {info.name}) to {target.out}")
        return
    link: _Link
    if target.pty:
        pty_link = _PtyLink()
        link = pty_link
        announce(pty_link.path)
    elif target.port is not None:
        link = _SerialLink(target.port, info.serial_settings())
        announce(f"sending {info.name} on {target.port}")
    elif target.tcp is not None:
        link = _TcpLink(*target.tcp)
        announce(f"sending {info.name} to {target.tcp[0]}:{target.tcp[1]}")
    else:
        raise ConfigurationError("say where to send the bytes: --pty, --port, --tcp or --out")
    start_wall = emulator.start_time
    started = time.monotonic()
    try:
        while not stop():
            elapsed = (time.monotonic() - started) * speed
            if duration_s is not None and elapsed >= duration_s:
                break
            now = start_wall + elapsed
            incoming = link.receive()
            if incoming:
                reply = emulator.receive(incoming, now)
                if reply:
                    link.send(reply)
            data = emulator.advance(now)
            if data:
                link.send(data)
            time.sleep(TICK_S)
    finally:
        link.close()
