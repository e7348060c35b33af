"""Repaint benchmark: how long one frame of the dosing-room window takes with a long session.

    python -m bench.repaint [--quick]        (300 frames per variant; 100 with --quick)

Builds the real MainWindow offscreen on a temporary SQLite database with 4 h of trend data
(HR, PR, SpO2, PI at 1 Hz, NIBP every 3 min) and 30 s of 100 Hz pleth in the live buffers, a
running session with three doses and an observation, and a ManualClock that ends now. Then
times N frames; each frame appends what 40 ms of a monitor brings (4 pleth points; numerics
every 25 frames, through the pipeline, so the recorder thread writes them meanwhile), calls
``window.refresh()`` and paints. Two ways of painting are timed:

- "dirty": process events so Qt repaints what changed (what the running app does);
- "full": ``window.grab()``, the whole window rendered (an upper bound).

Each is run with the trends on "Last 30 min" and on "Whole session" (4 h decimated per pixel
on each trend redraw), where the trends redraw when the window moved by a pixel column (what
the app does), and once more on "Whole session" with a trend redraw forced every 25 frames
(each new second: the worst case). Goals, for the "dirty" frames: median <= 8 ms,
p99 <= 16 ms; the full-window grab is shown without a goal.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KATMONITOR_NO_CONFIRM", "1")

import numpy as np
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from bench import harness
from bench.harness import Figure, Options
from bench.recording import add_nurse
from devices.simulated import VitalsModel
from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.session import Route
from katmonitor.storage.database import open_database
from katmonitor.workstation import Workstation
from ui.main_window import MainWindow
from ui.theme import apply_theme

PLETH_HZ = 100.0
NIBP_EVERY_S = 180.0
FRAME_S = 0.040
HOURS = 4.0
SOURCE = "bench"


class Feed:
    """Plausible data (the simulator's physiology) at any time since ``start``."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.model = VitalsModel("hypertensive", seed=7)

    def numerics(self, time_s: float) -> list[Sample]:
        elapsed = time_s - self.start
        samples = [Sample(time_s, SOURCE, kind, value)
                   for kind, value in self.model.numerics(elapsed).items()]
        if elapsed % NIBP_EVERY_S < 1.0:
            systolic, diastolic, mean = self.model.nibp(elapsed)
            samples += [Sample(time_s, SOURCE, VitalKind.NIBP_SYSTOLIC, systolic),
                        Sample(time_s, SOURCE, VitalKind.NIBP_DIASTOLIC, diastolic),
                        Sample(time_s, SOURCE, VitalKind.NIBP_MEAN, mean)]
        return samples

    def pleth(self, time_s: float, count: int) -> WaveformBlock:
        values = self.model.pleth(time_s - self.start, count, PLETH_HZ)
        return WaveformBlock(time_s, PLETH_HZ, SOURCE, VitalKind.PLETH, values)


def build(hours: float, db_path: Path) -> tuple[MainWindow, Workstation, ManualClock, Feed]:
    """A window on a workstation whose buffers hold ``hours`` of history ending now."""
    end = time.time()
    start = end - hours * 3600.0
    clock = ManualClock(start)
    workstation = Workstation(open_database(f"sqlite:///{db_path}"), [], clock=clock)
    add_nurse(workstation.database, "rn.bench", "bench-password-1")
    workstation.sign_in("rn.bench", "bench-password-1")
    feed = Feed(start)
    buffers = workstation.buffers
    # History goes straight into the live buffers: it is what the window reads; recording it
    # too would only time the database.
    session_at = start + 600.0
    for second in np.arange(start, end, 1.0):
        for sample in feed.numerics(float(second)):
            buffers.add_sample(sample)
        if float(second) >= session_at and workstation.session is None:
            clock.set(float(second))
            workstation.start_session("BENCH-01", "Esketamine", Route.INTRANASAL)
    workstation.workflow.record_identity_check("bench")
    workstation.workflow.record_eligibility(
        {item.id: item.acceptable for item in workstation.workflow.plan.eligibility}
    )
    for offset, dose in ((900.0, 56.0), (1200.0, 28.0), (2 * 3600.0, 28.0)):
        clock.set(session_at + offset)
        workstation.add_dose(dose, int(dose // 28), "LOT-B1", "RN Bench",
                             override_reason="benchmark: the simulated client is hypertensive")
    clock.set(session_at + 3000.0)
    workstation.add_observation("Client calm, eyes closed, responds to voice", "RN Bench")
    pleth_start = end - 30.0
    for block_start in np.arange(pleth_start, end, 0.1):
        buffers.add_waveform(feed.pleth(float(block_start), 10))
    clock.set(end)
    window = MainWindow(workstation, confirm_close=False)
    window.timer.stop()  # the benchmark drives the frames
    return window, workstation, clock, feed


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def time_frames(window: MainWindow, workstation: Workstation, clock: ManualClock, feed: Feed,
                frames: int, paint: Callable[[], object],
                force_trends: bool = False) -> tuple[list[float], int]:
    """Time ``frames`` frames; with ``force_trends`` the trends are redrawn with every new
    second of numerics (the worst case) instead of when the window moved by a pixel."""
    pipeline = workstation.pipeline
    redraws_before = window.trends.redraw_count
    times_ms = []
    for frame in range(frames):
        started = time.perf_counter()
        now = clock.now()
        pipeline.on_waveform(feed.pleth(now, 4))
        if frame % 25 == 0:
            for sample in feed.numerics(now):
                pipeline.on_sample(sample)
            if force_trends:
                window.trends.refresh(now, force=True)
        window.refresh()
        paint()
        times_ms.append((time.perf_counter() - started) * 1000.0)
        clock.advance(FRAME_S)
    return times_ms, window.trends.redraw_count - redraws_before


def summary(name: str, times_ms: list[float], redraws: int) -> str:
    ordered = sorted(times_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (f"{name:<34} median {statistics.median(ordered):6.2f} ms   p99 {p99:6.2f} ms   "
            f"max {ordered[-1]:6.2f} ms   ({len(ordered)} frames, {redraws} trend redraws)")


def collect(options: Options) -> list[Figure]:
    frames = 100 if options.quick else 300  # one run per variant; each frame is a sample
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    apply_theme(app)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        window, workstation, clock, feed = build(HOURS, Path(tmp) / "bench.sqlite3")
        workstation.start()
        window.resize(1600, 900)
        window.show()
        app.processEvents()
        counter = PaintCounter()
        app.installEventFilter(counter)
        print(f"setup: {HOURS:g} h of trends, window {window.width()}x{window.height()}, "
              f"{time.perf_counter() - t0:.1f} s", flush=True)

        def dirty() -> None:
            app.processEvents()

        def full() -> None:
            window.grab()

        variants = [("30min", "dirty", False), ("30min", "full", False),
                    ("session", "dirty", False), ("session", "full", False),
                    ("session", "dirty", True), ("session", "full", True)]
        for range_name, paint_name, force in variants:
            window.trends.set_range(range_name)
            window.refresh()
            app.processEvents()
            counter.count = 0
            times_ms, redraws = time_frames(window, workstation, clock, feed, frames,
                                            dirty if paint_name == "dirty" else full, force)
            label = (f"frame, {'last 30 min' if range_name == '30min' else 'whole session'}"
                     + (", trends 1 Hz" if force else ""))
            print(summary(label + f" / {paint_name}", times_ms, redraws)
                  + f"  paint events {counter.count}", flush=True)
            if paint_name == "dirty":
                figures.append(Figure(label, "ms", 8.0, "at most", times_ms))
                figures.append(Figure(label, "ms", 16.0, "at most", times_ms,
                                      statistic="p99"))
            else:
                figures.append(Figure(label + ", full-window grab (upper bound)", "ms", None,
                                      "at most", times_ms))

        # The cost of one trend redraw alone (4 h decimated to the plot's width).
        window.trends.set_range("session")
        redraw_ms = []
        for _ in range(20):
            started = time.perf_counter()
            window.trends.refresh(clock.now(), force=True)
            redraw_ms.append((time.perf_counter() - started) * 1000.0)
        figures.append(Figure("trend redraw alone, whole session", "ms", None, "at most",
                              redraw_ms))
        app.removeEventFilter(counter)
        window.close()
    return figures


if __name__ == "__main__":
    harness.main(collect, __doc__)
