"""Sample-to-annunciation latency in the running app, beyond the configured condition delay.

    python -m bench.alarm_latency [--quick]        (150 onsets; 50 with --quick)

The real MainWindow (offscreen, its own UI timer, the alarm sound attempted as in the app) on a
real Workstation with a temporary SQLite database and no device. A worker thread plays the
device: per trial it sends SpO2 samples at 1 s of sample time apart that fall below the low
limit and stay there until the profile's condition delay is met. The sample that completes
the delay is the timed one: perf_counter just before ``pipeline.on_sample``, to the first
paint of the alarm bar's entry for ``spo2.low`` (recorded by the bar's entry label in its
paintEvent). The value then returns to normal, the alarm ends, and the next trial starts
after a random wait so the samples fall anywhere in the UI timer's period.

Goal: p99 <= 50 ms.
"""

from __future__ import annotations

import os
import random
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KATMONITOR_NO_CONFIRM", "1")
os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.*=false")

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from bench import harness
from bench.harness import Figure, Options
from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.storage.database import open_database
from katmonitor.workstation import Workstation
from ui.main_window import MainWindow
from ui.theme import apply_theme

ALARM_ID = "spo2.low"


class _Done(QObject):
    finished = Signal()


def _wait(predicate: object, timeout_s: float = 2.0) -> bool:
    # Slow polling: a busy loop here would hold the GIL the UI thread needs.
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.005)
    return False


def run(trials: int) -> tuple[list[float], int, float]:
    app = QApplication.instance() or QApplication([])
    apply_theme(app)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        database = open_database("sqlite:///" + str(Path(tmp) / "bench.sqlite3"))
        clock = ManualClock(time.time())
        workstation = Workstation(database, [], clock=clock)
        window = MainWindow(workstation, confirm_close=False)
        workstation.start()
        window.show()
        bar = window.alarm_bar
        rule = workstation.alarm_engine.profile.parameters[VitalKind.SPO2]
        assert rule.low is not None
        delay = rule.delay_s
        low_value = rule.low.limit - 2.0
        normal = rule.low.limit + 5.0
        latencies: list[float] = []
        missed = 0
        done = _Done()
        painted = threading.Event()
        bar.painted_hook = lambda alarm_id: painted.set() if alarm_id == ALARM_ID else None
        done.finished.connect(app.quit)

        def inject(t: float, value: float) -> float:
            clock.set(t)
            before = time.perf_counter()
            workstation.pipeline.on_sample(Sample(t, "bench", VitalKind.SPO2, value))
            return before

        def device() -> None:
            nonlocal missed
            rng = random.Random(7)
            t = clock.now()
            try:
                time.sleep(0.5)  # the window is up and ticking
                for _ in range(trials):
                    t += 1.0
                    inject(t, normal)
                    start = t + 1.0
                    step = 0
                    while step < delay:  # the condition, short of the delay
                        inject(start + step, low_value)
                        step += 1
                    if any(a.alarm_id == ALARM_ID for a in workstation.active_alarms()):
                        raise RuntimeError("the alarm came on before its delay")
                    time.sleep(rng.uniform(0.0, 0.05))  # any phase of the UI timer
                    t = start + max(delay, 1.0)
                    painted.clear()
                    sent = inject(t, low_value)  # completes the condition delay: onset
                    if painted.wait(2.0):
                        latencies.append((bar.first_painted[ALARM_ID] - sent) * 1000.0)
                    else:
                        missed += 1
                    t += 1.0
                    inject(t, normal)  # back inside: the (unlatched) medium alarm ends
                    _wait(lambda: ALARM_ID not in bar.first_painted)
                    t += 30.0
            finally:
                done.finished.emit()

        thread = threading.Thread(target=device, name="bench-device", daemon=True)
        thread.start()
        app.exec()
        thread.join()
        interval = window.timer_interval_ms
        window.close()
        database.close()
    return latencies, missed, interval


def collect(options: Options) -> list[Figure]:
    trials = 50 if options.quick else 150  # one run; each onset is a sample
    latencies, missed, interval = run(trials)
    print(f"{len(latencies)} onsets, {missed} missed, UI timer {interval} ms", flush=True)
    # A missed onset (not drawn within 2 s) counts as 2 s, so it can never hide.
    samples = latencies + [2000.0] * missed
    return [Figure("sample -> alarm bar painted", "ms", 50.0, "at most", samples,
                   statistic="p99", note=f"UI timer {interval} ms")]


if __name__ == "__main__":
    harness.main(collect, __doc__)
