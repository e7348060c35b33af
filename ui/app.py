"""Start the dosing-room window on a workstation and run until it is closed.

The sign-in dialog is the first thing shown, so only what it needs is imported here; the main
window (plots, dialogs, pyqtgraph) is imported and built once someone has signed in.

Who signed in decides the window (:func:`katmonitor.review.lands_in_review`): a therapist gets
the review window on the workstation's database, with no device started and no acquisition;
everyone else the monitoring window, which then offers any interrupted session for resuming or
closing (ui.interrupted_sessions).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from katmonitor.review import lands_in_review
from katmonitor.workstation import Workstation
from ui.sign_in import sign_in_at_start
from ui.theme import apply_theme

if TYPE_CHECKING:
    from ui.main_window import MainWindow
    from ui.review_window import ReviewWindow

SIGNAL_POLL_MS = 200


SignIn = Callable[[Workstation, QWidget | None], bool]
"""Who uses the workstation: True once someone is signed in, False to quit."""


class Closable(Protocol):
    def close_without_asking(self) -> None: ...


def run_app(workstation: Workstation, *, argv: list[str] | None = None,
            sign_in: SignIn = sign_in_at_start) -> int:
    """Ask who signs in (on a database with no accounts: create the administrator first),
    then show the window, run the Qt event loop, and shut the workstation down on the way out
    (devices stopped, recorder flushed, a running session left INTERRUPTED). Returns the exit
    code; cancelling the sign-in quits with 0 before the window shows.

    A therapist lands in review: the review window on the workstation's database, the
    workstation never started (no device, no acquisition, no recovery run by them). Anyone
    else gets the monitoring window, and the interrupted sessions are offered once it shows.

    ``sign_in`` runs the start dialogs (:func:`ui.sign_in.sign_in_at_start`); tests pass one
    that feeds them or signs a test account in."""
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("KAT Monitor")
    apply_theme(app)
    window: MainWindow | ReviewWindow | None = None
    restore = install_termination_handlers(app, lambda: window)
    try:
        # The dialogs close before the window shows; that must not end the app.
        quit_on_close = app.quitOnLastWindowClosed()
        app.setQuitOnLastWindowClosed(False)
        try:
            signed_in = sign_in(workstation, None)
        finally:
            app.setQuitOnLastWindowClosed(quit_on_close)
        if not signed_in:
            return 0
        if lands_in_review(workstation.operator):
            window = review_window(workstation)
            window.showMaximized()
            window.show_browser()
            return app.exec()
        from ui.interrupted_sessions import offer_interrupted_sessions
        from ui.main_window import MainWindow  # after the sign-in: it shows sooner

        monitor = window = MainWindow(workstation, confirm_close=True)
        monitor.accounts.require_operator = True
        workstation.start()
        monitor.refresh()  # shows who signed in from the first frame
        monitor.showMaximized()
        QTimer.singleShot(0, lambda: offer_interrupted_sessions(monitor, workstation))
        return app.exec()
    finally:
        restore()
        workstation.shutdown()  # safe if closeEvent already did it
        if window is not None:
            window.deleteLater()  # not left as the active window of a later loop (tests)


def review_window(workstation: Workstation) -> ReviewWindow:
    """The review window for whoever signed in (their name prefilled for a note)."""
    from ui.review_window import ReviewWindow

    window = ReviewWindow(workstation.database)
    operator = workstation.operator
    window.note_user = operator.name if operator is not None else ""
    return window


def install_termination_handlers(app: QApplication,
                                 window: Callable[[], Closable | None]) -> Callable[[], None]:
    """SIGTERM/SIGINT close the window (``window()``, None while signing in) cleanly, without
    asking. Returns a function that puts the previous handlers back."""

    def on_signal(_signum: int, _frame: object) -> None:
        shown = window()
        if shown is not None:
            shown.close_without_asking()
        # exit(), not quit(): it also leaves nested loops (an open dialog, the sign-in
        # dialog before the main loop runs), where quit() does nothing.
        app.exit(0)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    # Python runs signal handlers only when the interpreter gets control; inside Qt's event
    # loop that needs a timer that calls into Python now and then.
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(SIGNAL_POLL_MS)

    def restore() -> None:
        ticker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
