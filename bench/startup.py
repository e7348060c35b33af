"""Start-up benchmark: time from process start to the first paint of the main window.

    .venv/bin/python -m bench.startup [--runs 5]

Each run is a fresh Python process (offscreen Qt) that imports the app, opens a new SQLite
database (schema upgrade included), builds the Workstation with the simulated monitor and the
MainWindow, starts the workstation, shows the window and stops at the window's first paint
event. Times are CLOCK_MONOTONIC (time.perf_counter on Linux), so the parent can measure from
just before it spawns the process: interpreter start-up is included. Prints the median of the
runs in seconds (goal <= 2 s) and where the time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from katmonitor.storage.database import open_database

CHILD = r"""
import time
t_start = time.perf_counter()
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from devices.registry import open_device
from katmonitor.storage.database import open_database
from katmonitor.workstation import Workstation
from ui.main_window import MainWindow
from ui.theme import apply_theme
t_imported = time.perf_counter()

app = QApplication(["katmonitor"])
apply_theme(app)
database = open_database("sqlite:///" + sys.argv[1])
t_database = time.perf_counter()
workstation = Workstation(database, [open_device("sim:normal")])
window = MainWindow(workstation, confirm_close=False)
t_window = time.perf_counter()


class FirstPaint(QObject):
    def __init__(self):
        super().__init__()
        self.at = None

    def eventFilter(self, obj, event):
        if self.at is None and event.type() == QEvent.Type.Paint:
            self.at = time.perf_counter()
            QTimer.singleShot(0, app.quit)
        return False


first = FirstPaint()
window.installEventFilter(first)
workstation.start()
window.resize(1600, 900)
window.show()
app.exec()
workstation.shutdown()
print(t_start, t_imported, t_database, t_window, first.at)
"""


def one_run(db_path: Path) -> dict[str, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    spawned = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", CHILD, str(db_path)], capture_output=True,
                            text=True, env=env, check=True, cwd=Path(__file__).resolve().parents[1])
    t_start, t_imported, t_database, t_window, t_paint = map(
        float, result.stdout.split()[-5:])
    return {
        "spawn to first paint": t_paint - spawned,
        "interpreter start": t_start - spawned,
        "imports": t_imported - t_start,
        "database open": t_database - t_imported,
        "window built": t_window - t_database,
        "to first paint": t_paint - t_window,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Every day at the workstation: the database exists already at the current schema.
        existing = Path(tmp) / "existing.sqlite3"
        open_database(f"sqlite:///{existing}").close()
        report("daily start (existing database)", [one_run(existing) for _ in range(args.runs)])
        # The very first start also creates the schema through Alembic.
        first = [one_run(Path(tmp) / f"first-{i}.sqlite3") for i in range(args.runs)]
        report("first start (new database)", first)


def report(title: str, runs: list[dict[str, float]]) -> None:
    print(f"-- {title}")
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(f"{name:<22} median {statistics.median(values):6.3f} s   "
              f"(min {min(values):.3f}, max {max(values):.3f})")
    total = statistics.median(run["spawn to first paint"] for run in runs)
    print(f"start-up to first paint: {total:.2f} s (median of {len(runs)}; goal <= 2 s)")


if __name__ == "__main__":
    main()
