"""Readings into a window's workstation the way a device delivers them, on its manual clock."""

from __future__ import annotations

from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from ui.main_window import MainWindow


def feed(window: MainWindow, kind: VitalKind, values: list[float], step: float = 1.0) -> None:
    """One sample per value, ``step`` seconds apart (the alarm engine runs on sample time)."""
    ws = window.workstation
    clock = ws.clock
    assert isinstance(clock, ManualClock)
    for value in values:
        ws.pipeline.on_sample(Sample(clock.now(), "test", kind, value))
        clock.advance(step)
