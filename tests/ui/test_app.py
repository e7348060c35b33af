"""ui.app.run_app end to end, in a child process: SIGTERM closes the window cleanly and the
session that was recording is left INTERRUPTED with its data stored."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from katmonitor.session import SessionStatus
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore

CHILD = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from devices.registry import open_device
from katmonitor.accounts import AccountStore
from katmonitor.session import Route
from katmonitor.storage.database import open_database
from katmonitor.workstation import Workstation
from ui.app import run_app

workstation = Workstation(open_database(sys.argv[1]), [open_device("sim:normal")])
accounts = AccountStore(workstation.database)
accounts.add_user("admin", "administrator", "admin-pass-1")
accounts.add_user("rn.lee", "nurse", "dosing-room-7", full_name="Lee Park, RN", admin="admin",
                  admin_password="admin-pass-1")
session = workstation.start_session("C-9", "Ketamine", Route.SUBLINGUAL)
app = QApplication(["katmonitor"])
# Runs once the event loop is up, i.e. after run_app installed its signal handlers.
QTimer.singleShot(0, lambda: print("running", session.id, flush=True))
# The nurse signs in with her password (the dialogs are tested in test_sign_in.py).
sys.exit(run_app(workstation, sign_in=lambda ws, _parent: bool(ws.sign_in("rn.lee",
                                                                           "dosing-room-7"))))
"""


def test_sigterm_closes_the_window_and_leaves_the_session_interrupted(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "app.sqlite3")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "KATMONITOR_DATA_DIR": str(tmp_path / "data")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("running "), child.stderr.read() if child.stderr else line
        session_id = int(line.split()[1])
        time.sleep(2.0)  # let the monitor send a couple of seconds of data
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    assert "Traceback" not in stderr

    store = SessionStore(open_database(url))
    assert store.get_session(session_id).status is SessionStatus.INTERRUPTED
    counts = store.sample_counts(session_id)
    assert counts.get("hr", 0) >= 1 and counts.get("pleth", 0) > 100


def test_the_sign_in_shows_before_the_window_and_its_plots_are_imported() -> None:
    """Start-up: importing ui.app (what `katmonitor run` does first) loads only what the
    sign-in dialog needs; the main window, its dialogs and pyqtgraph come after sign-in."""
    probe = ("import sys, ui.app; print(sorted(m for m in ('ui.main_window', 'pyqtgraph', "
             "'ui.trend_plots', 'ui.addendum_dialog', 'ui.alarm_history') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=60, check=True,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.stdout.strip() == "[]", done.stderr
