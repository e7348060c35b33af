"""Byte transports: a serial port (or pseudo-terminal), a TCP peer, a capture file, or an
in-process emulated device. The driver loop (devices/stream_device.py) reads and writes through
one of these; protocol code never touches I/O.

Every transport reports failures as :class:`TransportError` with a ``reason`` a nurse or a
biomed engineer can act on: ``missing`` (no such port), ``busy`` (another program has it),
``permission`` (no access), ``unreachable`` (TCP), ``disconnected`` (it went away while open),
``ended`` (a capture file was played to its end).
"""

from __future__ import annotations

import contextlib
import errno
import math
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import serial

from katmonitor.base.clock import steady_time

try:
    import termios
except ImportError:  # Windows
    termios = None  # type: ignore[assignment]

from devices.codec import Emulator

READ_TIMEOUT_S = 0.02
# What a serial port raises when it goes away: termios.error (not an OSError) comes from
# reconfiguring a port whose device vanished.
_PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError)
if termios is not None:
    _PORT_ERRORS += (termios.error,)


class TransportError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Transport(ABC):
    description: str = ""

    @abstractmethod
    def open(self) -> None:
        """Open (or reopen) the link; TransportError when it cannot."""

    @abstractmethod
    def read(self, timeout_s: float) -> bytes:
        """Bytes available within ``timeout_s`` (b"" if none); TransportError when the link
        is gone."""

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class SerialTransport(Transport):
    """A serial port or pseudo-terminal, opened exclusively so a second program shows as busy."""

    def __init__(self, port: str, settings: dict[str, Any]) -> None:
        self.port = port
        self.settings = dict(settings)
        self.description = f"serial port {port}"
        self._serial: serial.Serial | None = None

    def open(self) -> None:
        self.close()
        try:
            self._serial = serial.Serial(
                port=self.port, timeout=READ_TIMEOUT_S, exclusive=True, **self.settings
            )
        except serial.SerialException as error:
            raise _serial_error(self.port, error) from None
        except (OSError, ValueError) as error:
            raise TransportError("missing", f"cannot open {self.port}: {error}") from None

    def read(self, timeout_s: float) -> bytes:
        port = self._require()
        try:
            if port.timeout != timeout_s:  # reconfiguring the port costs a tcsetattr
                port.timeout = timeout_s
            first = port.read(1)
            if not first:
                return b""
            waiting = port.in_waiting
            return first + (port.read(waiting) if waiting else b"")
        except _PORT_ERRORS:
            raise TransportError(
                "disconnected", f"serial port {self.port} was disconnected"
            ) from None

    def write(self, data: bytes) -> None:
        port = self._require()
        try:
            port.write(data)
        except _PORT_ERRORS:
            raise TransportError(
                "disconnected", f"serial port {self.port} was disconnected"
            ) from None

    def close(self) -> None:
        if self._serial is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._serial.close()
            self._serial = None

    def _require(self) -> serial.Serial:
        if self._serial is None:
            raise TransportError("disconnected", f"{self.port} is not open")
        return self._serial


def _serial_error(port: str, error: serial.SerialException) -> TransportError:
    code = getattr(error, "errno", None)
    text = str(error)
    if code == errno.ENOENT or "No such file" in text:
        return TransportError("missing", f"serial port {port} does not exist (unplugged?)")
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return TransportError(
            "permission", f"no permission to open {port} (on Linux: add the user to 'dialout')"
        )
    if code in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text:
        return TransportError("busy", f"{port} is in use by another program")
    return TransportError("missing", f"cannot open {port}: {text}")


class TcpClientTransport(Transport):
    """A TCP connection to a peer (e.g. a simulated gateway sending to a listener)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.description = f"TCP {host}:{port}"
        self._socket: socket.socket | None = None

    def open(self) -> None:
        self.close()
        try:
            self._socket = socket.create_connection((self.host, self.port), timeout=5.0)
        except OSError as error:
            raise TransportError(
                "unreachable", f"cannot connect to {self.description}: {error}"
            ) from None

    def read(self, timeout_s: float) -> bytes:
        sock = self._require()
        sock.settimeout(timeout_s)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return b""
        except OSError as error:
            raise TransportError("disconnected", f"{self.description} closed ({error})") from None
        if not data:
            raise TransportError("disconnected", f"{self.description} closed by the peer")
        return data

    def write(self, data: bytes) -> None:
        try:
            self._require().sendall(data)
        except OSError as error:
            raise TransportError("disconnected", f"{self.description} closed ({error})") from None

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None

    def _require(self) -> socket.socket:
        if self._socket is None:
            raise TransportError("disconnected", f"{self.description} is not connected")
        return self._socket


class AcceptedConnection(TcpClientTransport):
    """One peer accepted by a listener; it cannot be reopened once closed."""

    def __init__(self, sock: socket.socket, address: tuple[str, int]) -> None:
        super().__init__(address[0], address[1])
        self.description = f"TCP peer {address[0]}:{address[1]}"
        self._socket = sock

    def open(self) -> None:
        if self._socket is None:
            raise TransportError("disconnected", f"{self.description} has gone")


class FileReplayTransport(Transport):
    """Plays a raw capture file back as if it arrived at the wire rate (times ``speed``)."""

    def __init__(
        self,
        path: Path,
        bytes_per_s: float,
        speed: float = 1.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.timer = timer
        self.bytes_per_s = bytes_per_s * speed
        self.description = f"capture {path}"
        self._data = b""
        self._position = 0
        self._started = 0.0

    def open(self) -> None:
        if self._data and self._position >= len(self._data):
            raise TransportError("ended", f"{self.path} has been played to its end")
        try:
            self._data = self.path.read_bytes()
        except OSError as error:
            raise TransportError("missing", f"cannot read capture {self.path}: {error}") from None
        self._position = 0
        self._started = self.timer()

    def read(self, timeout_s: float) -> bytes:
        if self._position >= len(self._data):
            raise TransportError("ended", f"{self.path} has been played to its end")
        due = int((self.timer() - self._started) * self.bytes_per_s)
        if due <= self._position:
            time.sleep(min(timeout_s, 0.02))
            due = int((self.timer() - self._started) * self.bytes_per_s)
        chunk = self._data[self._position : max(self._position, due)]
        self._position += len(chunk)
        return chunk

    def write(self, data: bytes) -> None:
        pass  # a recording cannot answer

    def close(self) -> None:
        pass


class EmulatorTransport(Transport):
    """An in-process emulated device: the simulator's bytes without a port (training mode).

    The device's bytes go through the same decoder as hardware would; what the host writes
    reaches the emulator's ``receive``. ``clock`` is the emulator's time (UTC epoch seconds):
    with a manual clock, a test moves it and calls :meth:`step` to have the link loop read and
    handle everything the device sent up to then, without waiting for real seconds.
    """

    def __init__(self, emulator: Emulator, clock: Callable[[], float] = steady_time) -> None:
        self.emulator = emulator
        self.clock = clock
        self.description = f"simulated {emulator.protocol} device"
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._turn = threading.Condition()
        self._woken = False
        self._read_at = -math.inf  # clock time of the last read
        self._handled_at = -math.inf  # ... whose bytes the reader has since handled

    def open(self) -> None:
        pass

    def read(self, timeout_s: float) -> bytes:
        with self._turn:
            # Called again: whatever the previous read returned has been handled.
            self._handled_at = self._read_at
            self._turn.notify_all()
            if not self._woken:
                self._turn.wait(min(timeout_s, 0.01))
            self._woken = False
            with self._lock:
                now = self.clock()
                data = bytes(self._pending) + self.emulator.advance(now)
                self._pending.clear()
            self._read_at = now
        return data

    def write(self, data: bytes) -> None:
        with self._lock:
            self._pending += self.emulator.receive(data, self.clock())

    def close(self) -> None:
        pass

    def step(self, until: float, timeout_s: float = 10.0) -> bool:
        """From another thread: wake the reader and wait until it has read and handled the
        device's bytes up to clock time ``until``. False if that took longer than
        ``timeout_s`` (the device is not running)."""
        with self._turn:
            self._woken = True
            self._turn.notify_all()
            return self._turn.wait_for(lambda: self._handled_at >= until, timeout_s)
