"""Start-up: from process spawn to the first paint of the sign-in dialog (goal <= 1.2 s).

    python -m bench.startup [--quick] [--runs N]

Each run is a fresh Python process (offscreen Qt) that runs ``katmonitor run --db URL
--device sim:normal`` through the real command line (``katmonitor.cli.main``), with an
application-wide event filter that notes the first paint of a dialog window - the sign-in
dialog on a database with accounts, the create-the-administrator dialog on a new one - and
then cancels it, so the app quits as when a nurse cancels the sign-in. Times are
CLOCK_MONOTONIC (time.perf_counter on Linux), so the parent measures from just before it
spawns the process: interpreter start-up and imports are included. The modules are
byte-compiled first and one unmeasured run warms the file cache, as on a workstation used
every day. The first start (a new database: Alembic creates the schema) is shown without a
goal.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import harness
from bench.harness import ROOT, Figure, Options
from bench.recording import NURSE, NURSE_NAME, PASSWORD, add_nurse
from katmonitor.storage import open_database

SIGN_IN = "SignInDialog"  # class names in ui/sign_in.py
FIRST_START = "FirstStartDialog"

CHILD = r"""
import time
t_start = time.perf_counter()
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QWidget

app = QApplication(["katmonitor"])


class FirstDialogPaint(QObject):
    at = None
    dialog = "None"

    def eventFilter(self, obj, event):
        if (self.at is None and event.type() == QEvent.Type.Paint and isinstance(obj, QWidget)
                and isinstance(obj.window(), QDialog)):
            self.at = time.perf_counter()
            self.dialog = type(obj.window()).__name__
            QTimer.singleShot(0, obj.window().reject)  # the nurse cancels: the app quits
        return False


first = FirstDialogPaint()
app.installEventFilter(first)
from katmonitor.cli import main

code = main(["run", "--db", sys.argv[1], "--device", "sim:normal"])
print(t_start, first.at, first.dialog, code)
"""


def one_run(url: str, config: Path, dialog: str) -> tuple[float, float]:
    """(spawn to ``dialog`` painted, spawn to the child's first line) in seconds."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "XDG_CONFIG_HOME": str(config), "XDG_DATA_HOME": str(config)}
    spawned = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", CHILD, url], capture_output=True, text=True,
                            env=env, check=True, cwd=ROOT)
    t_start, t_paint, painted, code = result.stdout.split()[-4:]
    if painted != dialog or code != "0":
        raise RuntimeError(f"{painted} painted, not {dialog} (exit {code}): "
                           f"{result.stderr[-2000:]}")
    return float(t_paint) - spawned, float(t_start) - spawned


def collect(options: Options) -> list[Figure]:
    runs = options.count(full=7, quick=3)
    for package in ("katmonitor", "devices", "ui", "migrations"):
        compileall.compile_dir(ROOT / package, quiet=1)
    with tempfile.TemporaryDirectory(prefix="katmonitor-bench-") as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "config"
        config.mkdir()
        # Every day at the workstation: the database exists, with accounts.
        existing = f"sqlite:///{tmp / 'existing.sqlite3'}"
        database = open_database(existing)
        add_nurse(database, NURSE, PASSWORD, NURSE_NAME)
        database.close()
        one_run(existing, config, SIGN_IN)  # warm-up, not counted
        daily = [one_run(existing, config, SIGN_IN) for _ in range(runs)]
        first = [one_run(f"sqlite:///{tmp / f'first-{i}.sqlite3'}", config, FIRST_START)
                 for i in range(max(2, runs // 2))]
    interpreter = sorted(run[1] for run in daily)[len(daily) // 2]
    print(f"interpreter start (spawn to the child's first line): median {interpreter:.3f} s",
          flush=True)
    return [
        Figure("start-up to sign-in dialog painted, existing database", "s", 1.2, "at most",
               [run[0] for run in daily], note="byte-compiled"),
        Figure("first start to first-start dialog painted, new database", "s", None,
               "at most", [run[0] for run in first]),
    ]


if __name__ == "__main__":
    harness.main(collect, __doc__)
