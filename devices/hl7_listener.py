"""HL7 PCD-01 listener: accepts monitor gateways over TCP (MLLP) and ACKs every message.

Each accepted connection gets its own decoder and is served on its own thread through the same
link loop as serial devices; the listener reports itself connected while at least one gateway
is connected.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from devices.base import Device
from devices.codec import Decoder
from devices.stream_device import run_link
from devices.transport import AcceptedConnection, TransportError
from katmonitor.base.clock import steady_time
from katmonitor.base.samples import ConnectionState, DeviceStatus, SampleSink

RETRY_BIND_S = 2.0


class Hl7ListenerDevice(Device):
    def __init__(
        self,
        spec: str,
        source: str,
        host: str,
        port: int,
        decoder_factory: Callable[[], Decoder],
        *,
        clock: Callable[[], float] = steady_time,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(spec, source)
        self.host, self.port = host, port
        self.decoder_factory = decoder_factory
        self.clock = clock
        self.timer = timer
        self.bound_port: int | None = None
        """The port actually listened on (useful with port 0 in tests)."""
        self._peers: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def _run(self, sink: SampleSink) -> None:
        server = self._bind(sink)
        if server is None:
            sink.on_status(DeviceStatus(self.clock(), self.source, ConnectionState.STOPPED))
            return
        with server:
            self._status(sink, ConnectionState.DISCONNECTED, "listening; no gateway connected")
            while not self.stopping:
                try:
                    conn, address = server.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                thread = threading.Thread(
                    target=self._serve,
                    args=(conn, address, sink),
                    daemon=True,
                    name=f"hl7-peer:{address[0]}:{address[1]}",
                )
                with self._lock:
                    self._peers.add(thread)
                thread.start()
        for thread in list(self._peers):
            thread.join(2.0)
        sink.on_status(DeviceStatus(self.clock(), self.source, ConnectionState.STOPPED))

    def _bind(self, sink: SampleSink) -> socket.socket | None:
        while not self.stopping:
            try:
                server = socket.create_server((self.host, self.port), reuse_port=False)
                server.settimeout(0.2)
                self.bound_port = server.getsockname()[1]
                return server
            except PermissionError as error:
                reason, text = "permission", f"no permission to listen on {self.port}: {error}"
            except OSError as error:
                reason, text = "busy", f"cannot listen on {self.host}:{self.port}: {error}"
            sink.on_status(
                DeviceStatus(
                    self.clock(),
                    self.source,
                    ConnectionState.DISCONNECTED,
                    frozenset({reason}),
                    text,
                )
            )
            self.wait(RETRY_BIND_S)
        return None

    def _serve(self, conn: socket.socket, address: tuple[str, int], sink: SampleSink) -> None:
        link = AcceptedConnection(conn, address)
        try:
            run_link(
                link,
                self.decoder_factory(),
                sink,
                self.source,
                lambda: self.stopping,
                clock=self.clock,
                timer=self.timer,
            )
        except TransportError:
            pass  # the gateway hung up; it reconnects by itself
        finally:
            link.close()
            with self._lock:
                self._peers.discard(threading.current_thread())
                others = len(self._peers)
            if not others and not self.stopping:
                self._status(
                    sink,
                    ConnectionState.DISCONNECTED,
                    f"gateway {address[0]} disconnected; listening",
                )

    def _status(self, sink: SampleSink, state: ConnectionState, message: str) -> None:
        where = f"{self.host}:{self.bound_port or self.port}"
        sink.on_status(
            DeviceStatus(self.clock(), self.source, state, frozenset(), f"{message} ({where})")
        )
