"""Start the dosing-room window on a workstation and run until it is closed."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from katmonitor.workstation import Workstation
from ui.main_window import MainWindow
from ui.theme import apply_theme

SIGNAL_POLL_MS = 200


def run_app(workstation: Workstation, *, argv: list[str] | None = None) -> int:
    """Show the window, run the Qt event loop, and shut the workstation down on the way out
    (devices stopped, recorder flushed, a running session left INTERRUPTED). Returns the
    exit code."""
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("KAT Monitor")
    apply_theme(app)
    window = MainWindow(workstation, confirm_close=True)
    restore = install_termination_handlers(app, window)
    try:
        workstation.start()
        window.showMaximized()
        return app.exec()
    finally:
        restore()
        workstation.shutdown()  # safe if closeEvent already did it


def install_termination_handlers(app: QApplication, window: MainWindow) -> Callable[[], None]:
    """SIGTERM/SIGINT close the window cleanly, without asking. Returns a function that puts
    the previous handlers back."""

    def on_signal(_signum: int, _frame: object) -> None:
        window.close_without_asking()
        app.quit()  # also leaves any nested loop (an open dialog)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    # Python runs signal handlers only when the interpreter gets control; inside Qt's event
    # loop that needs a timer that calls into Python now and then.
    ticker = QTimer(window)
    ticker.timeout.connect(lambda: None)
    ticker.start(SIGNAL_POLL_MS)

    def restore() -> None:
        ticker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
