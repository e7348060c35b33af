"""The device interface every driver implements.

A device reads from its transport on its own thread and hands what it decodes to a
:class:`~katmonitor.base.samples.SampleSink`. Drivers never block the caller: ``start`` returns at
once and ``stop`` joins the thread.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from katmonitor.base.samples import SampleSink
from katmonitor.base.vitals import VitalKind


class Device(ABC):
    """A source of vital-sign data, addressed by a spec string such as ``sim:normal``."""

    #: True for simulated feeds: sessions fed by them are training sessions.
    simulated: bool = False

    def __init__(self, spec: str, source: str) -> None:
        self.spec = spec
        self.source = source
        """Short name recorded with every sample from this device (e.g. ``sim``, ``ge-dri``)."""
        self.primary_kinds: frozenset[VitalKind] = frozenset()
        """Kinds this device is the configured primary for when several devices report them."""
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, sink: SampleSink) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.spec} is already started")
        self._stop_event.clear()
        self._thread = threading.Thread(
            target=self._run, args=(sink,), name=f"device:{self.spec}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop_event.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if asked to stop meanwhile."""
        return self._stop_event.wait(seconds)

    @abstractmethod
    def _run(self, sink: SampleSink) -> None:
        """Read and decode until :meth:`stopping`; report state changes via ``sink.on_status``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"
