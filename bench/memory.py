"""Memory over a long session: resident memory (RSS) of an 8-hour session recorded faster than
real time through the whole core (goals: at most 300 MB, growth at most 5 MB per hour).

    python -m bench.memory [--quick]      (--quick: a 2-hour session)

A device-less Workstation on a manual clock records a session into a new SQLite file while
what the simulated monitor delivers (numerics at 1 Hz, an NIBP triple every 5 min, 100 Hz
pleth in 10-point blocks; bench/recording.py) goes through the real pipeline: limit checks,
the alarm engine, the live buffers, the recorder (one writer turn per 0.25 s of session time,
as the writer thread commits), the watchdog's tick every second, the audit chain's sealing
and compaction. RSS is read from /proc every 15 simulated minutes. Growth is the slope of a
least-squares line through the readings after the first hour (buffers fill in the first
minutes; what keeps growing after that is what would exhaust a workstation in a long day).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import harness
from bench.harness import Figure, Options
from bench.recording import Plan, quarters
from katmonitor.alarms.model import AlarmEvent
from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import WaveformBlock
from katmonitor.session import Route
from katmonitor.storage import open_database
from katmonitor.workstation import Workstation

HOURS = 8.0
QUICK_HOURS = 2.0
READ_EVERY_S = 900
T0 = 1_760_000_000.0


def rss_mb() -> float:
    """Resident memory now (Linux /proc), else the peak so far (other systems)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(hours: float, directory: Path) -> tuple[list[tuple[float, float]], float]:
    """[(session hours, RSS MB)] and the wall time of recording ``hours``."""
    os.environ["KATMONITOR_DATA_DIR"] = str(directory / "data")
    database = open_database(f"sqlite:///{directory / 'memory.sqlite3'}")
    clock = ManualClock(T0)
    station = Workstation(database, [], clock=clock)
    station.start_session("BENCH", "esketamine", Route.INTRANASAL)
    pipeline, recorder = station.pipeline, station.recorder
    readings = [(0.0, rss_mb())]
    started = time.perf_counter()
    seconds = int(hours * 3600)
    for index, items in enumerate(quarters(Plan(seconds, dosed=False), T0)):
        now = T0 + index * 0.25
        clock.set(now)
        for item in items:
            if isinstance(item, WaveformBlock):
                pipeline.on_waveform(item)
            elif not isinstance(item, AlarmEvent):  # the engine makes its own alarms
                pipeline.on_sample(item)
        if index % 4 == 0:
            station._tick(now)  # the watchdog's second
        if not recorder.write_queued():
            raise RuntimeError(f"the recorder could not write: {recorder.last_error}")
        elapsed = (index + 1) * 0.25
        if elapsed % READ_EVERY_S == 0:
            readings.append((elapsed / 3600, rss_mb()))
    wall = time.perf_counter() - started
    station.end_session()
    database.close()
    return readings, wall


def growth_mb_per_hour(readings: list[tuple[float, float]]) -> float:
    later = [(h, mb) for h, mb in readings if h >= 1.0]
    if len(later) < 2:
        return float("nan")
    hours, mbs = np.array(later).T
    return float(np.polyfit(hours, mbs, 1)[0])


def collect(options: Options) -> list[Figure]:
    hours = QUICK_HOURS if options.quick else HOURS
    with tempfile.TemporaryDirectory(prefix="katmonitor-bench-") as tmp:
        readings, wall = record(hours, Path(tmp))
    peak = max(mb for _, mb in readings)
    growth = growth_mb_per_hour(readings)
    print("memory: " + ", ".join(f"{h:.2f} h {mb:.0f} MB" for h, mb in readings[::4]),
          flush=True)
    print(f"memory: {hours:g} h recorded in {wall:.0f} s ({hours * 3600 / wall:.0f}x real "
          f"time); peak RSS {peak:.0f} MB, growth {growth:.2f} MB/h after the first hour",
          flush=True)
    extra = {"hours": hours, "wall s": wall, "start MB": readings[0][1]}
    return [
        Figure(f"RSS of a {hours:g} h session (peak)", "MB", 300.0, "at most", [peak],
               extra=extra),
        Figure(f"RSS growth after the first hour ({hours:g} h session)", "MB/h", 5.0,
               "at most", [growth]),
    ]


if __name__ == "__main__":
    harness.main(collect, __doc__)
