"""The way into review from the monitoring window: Review → Review sessions… (F9, Ctrl+Shift+R).

It opens :class:`ui.review_window.ReviewWindow` on the workstation's database as a window of its
own, beside the monitor: the monitoring window keeps acquiring, its alarm tick and sound go on,
and nothing in review writes to the session being recorded. The review window is a top-level
window with no parent (so it never stays stacked over the vitals), does not keep the app
running once the monitoring window is closed, and is closed when that window goes.

The review module (and its plots) is imported the first time review is opened, not when the
monitoring window is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from katmonitor.workstation import Workstation

if TYPE_CHECKING:
    from ui.review_window import ReviewWindow

REVIEW_SHORTCUTS = ("F9", "Ctrl+Shift+R")


class ReviewControls:
    """The window's Review menu: opens (or raises) the review window."""

    def __init__(self, window: QMainWindow, workstation: Workstation) -> None:
        self.window = window
        self.workstation = workstation
        self.review_window: ReviewWindow | None = None
        self.action = QAction("&Review sessions…", window)
        self.action.setShortcuts([QKeySequence(s) for s in REVIEW_SHORTCUTS])
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.setToolTip("Recorded sessions, their timelines and summaries, in a window "
                               f"of their own; monitoring goes on ({', '.join(REVIEW_SHORTCUTS)})")
        self.action.triggered.connect(lambda _=False: self.open_review())
        window.addAction(self.action)
        window.menuBar().addMenu("Re&view").addAction(self.action)
        window.destroyed.connect(lambda _=None: self._close_review())

    def open_review(self) -> ReviewWindow:
        """Show the review window (the session browser), or raise the one already open."""
        shown = self.review_window
        if shown is not None:
            shown.showNormal()
            shown.raise_()
            shown.activateWindow()
            return shown
        from ui.review_window import ReviewWindow  # its plots load on first use

        review = ReviewWindow(self.workstation.database)
        review.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # Closing the monitoring window ends the app even with review still open.
        review.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)
        operator = self.workstation.operator
        review.note_user = operator.name if operator is not None else ""
        review.destroyed.connect(lambda _=None: self._forget())
        review.resize(1600, 900)
        self.review_window = review
        review.show()
        review.show_browser()
        return review

    def _forget(self) -> None:
        self.review_window = None

    def _close_review(self) -> None:
        review, self.review_window = self.review_window, None
        if review is not None:
            review.close()
