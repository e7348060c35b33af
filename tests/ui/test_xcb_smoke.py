"""The real xcb platform under Xvfb: the window opens on an X server, as on the nurse's
workstation. Every other window test runs offscreen, which needs none of the xcb libraries;
this one fails when one of them (libxcb-cursor0, libxcb-icccm4, ...) is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SHOW_THE_WINDOW = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
assert app.platformName() == "xcb", app.platformName()
from katmonitor.storage.database import open_database
from katmonitor.workstation import Workstation
from ui.main_window import MainWindow
from ui.theme import apply_theme
apply_theme(app)
workstation = Workstation(open_database(sys.argv[1]), [])
window = MainWindow(workstation, confirm_close=False, audio=False)
window.resize(1600, 900)
window.show()
for _ in range(20):
    app.processEvents()
assert window.isVisible() and window.windowHandle() is not None
assert window.grab().width() > 0
window.close()
workstation.shutdown()
print("shown on", app.platformName())
"""


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A private Xvfb on a display number it picks itself (never one already in use)."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb xauth; .ci/run does)")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x900x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()  # written once the server is ready
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_window_shows_on_the_real_xcb_platform(xvfb_display: str, tmp_path: Path) -> None:
    env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb",
           "KATMONITOR_DATA_DIR": str(tmp_path / "data"),
           "KATMONITOR_CONFIG_DIR": str(tmp_path / "config"),
           "QT_LOGGING_RULES": "qt.multimedia.*=false"}
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "-c", SHOW_THE_WINDOW, f"sqlite:///{tmp_path / 'k.sqlite3'}"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "shown on xcb" in result.stdout
