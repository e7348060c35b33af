"""Waiting for what devices deliver from their own threads: on an event, never a fixed sleep."""

from __future__ import annotations

import threading
from collections.abc import Callable

from katmonitor.base.samples import CollectingSink, DeviceStatus, Sample, WaveformBlock

TIMEOUT_S = 30.0  # generous: a loaded machine is slower, the outcome is the same


class WaitingSink(CollectingSink):
    """A CollectingSink whose every delivery wakes :meth:`wait_for`."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def on_sample(self, sample: Sample) -> None:
        with self.changed:
            super().on_sample(sample)
            self.changed.notify_all()

    def on_waveform(self, block: WaveformBlock) -> None:
        with self.changed:
            super().on_waveform(block)
            self.changed.notify_all()

    def on_status(self, status: DeviceStatus) -> None:
        with self.changed:
            super().on_status(status)
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, timeout), "condition not met in time"


def notify_deliveries(sink: object, changed: threading.Condition) -> None:
    """Make ``sink`` (e.g. a Pipeline) wake ``changed`` after each delivery, so a test can
    wait on what it shows."""
    for name in ("on_sample", "on_waveform", "on_status"):
        deliver = getattr(sink, name)

        def notifying(item: object, deliver: Callable[[object], None] = deliver) -> None:
            deliver(item)
            with changed:
                changed.notify_all()

        setattr(sink, name, notifying)
