"""The review window: the session browser, and one session's timeline with its summary.

Opened by ``katmonitor review [SESSION_ID]`` with no device and no acquisition: it only reads
the database (:mod:`katmonitor.review`). The one thing it adds is a therapist's note at the
crosshair, a signed addendum (:class:`ui.review_note_dialog.ReviewNoteDialog`). Loading a
session and verifying its signature run off the GUI thread (ui.background); the timeline shows
first and the signature's status when the check is done.

Keys: Ctrl+O (or Esc on the timeline) back to the sessions; Ctrl+K the course of the client
selected (or shown): all their sessions (ui.course_view); Ctrl+M add note at cursor; Ctrl+T
minutes since the first dose / clock time; the timeline's own keys (ui.review_timeline).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from katmonitor.base.errors import KatMonitorError
from katmonitor.record_signing import VerificationReport
from katmonitor.review import SessionReview, load_review, verify
from katmonitor.storage.database import Database
from katmonitor.storage.store import SessionStore
from ui import theme
from ui.background import run_in_background
from ui.course_view import CourseView
from ui.dialogs import show_error
from ui.review_exports import ReviewExports
from ui.review_note_dialog import ReviewNoteDialog
from ui.review_summary import ReviewSummaryPanel
from ui.review_timeline import ReviewTimeline
from ui.session_browser import SessionBrowser

HELP = ("A/Shift+A next/previous alarm · D dose · N note · ←/→ crosshair · Shift+←/→ pan · "
        "+/- zoom · 0 whole session · Ctrl+M note at cursor · Ctrl+T clock/minutes · "
        "Ctrl+K client's course · Esc sessions")


class ReviewWindow(QMainWindow):
    review_loaded = Signal(object)
    """A session's review is shown (the SessionReview)."""
    signature_checked = Signal(object)
    """The shown session's signature was checked (the VerificationReport)."""

    def __init__(self, database: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("KAT Monitor - Review")
        self.database = database
        self.store = SessionStore(database)
        self.review: SessionReview | None = None
        self.report: VerificationReport | None = None
        self.note_user = ""
        self.note_dialog: ReviewNoteDialog | None = None

        self.browser = SessionBrowser(database)
        self.timeline = ReviewTimeline()
        self.summary = ReviewSummaryPanel()
        self.exports = ReviewExports(self.store)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.summary, 1)
        side_layout.addWidget(self.exports)
        self.session_page = QSplitter(Qt.Orientation.Horizontal)
        self.session_page.addWidget(self.timeline)
        self.session_page.addWidget(side)
        self.session_page.setStretchFactor(0, 3)
        self.session_page.setStretchFactor(1, 1)
        self.session_page.setSizes([1160, 440])
        self.course = CourseView(self.store)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.browser)
        self.pages.addWidget(self.session_page)
        self.pages.addWidget(self.course)
        self.setCentralWidget(self.pages)
        self.status_label = QLabel(HELP)
        self.status_label.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.statusBar().addWidget(self.status_label, 1)

        self.browser.open_session.connect(self.open_session)
        self.course.open_session.connect(self.open_session)
        self.back_action = self._action("Sessions", "Ctrl+O", self.show_browser)
        self.note_action = self._action("Add note at cursor…", "Ctrl+M", self.add_note)
        self.course_action = self._action("Course of this client", "Ctrl+K", self.show_course)
        self.clock_action = self._action("Clock time axis", "Ctrl+T", self._toggle_clock)
        self.clock_action.setCheckable(True)
        self.note_action.setEnabled(False)
        escape = QAction(self)
        escape.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        escape.triggered.connect(self.show_browser)
        self.session_page.addAction(escape)
        toolbar = self.addToolBar("Review")
        toolbar.setMovable(False)
        for action in (self.back_action, self.course_action, self.note_action,
                       self.clock_action):
            toolbar.addAction(action)

    def close_without_asking(self) -> None:
        """Close now (SIGTERM/SIGINT): review holds nothing unsaved."""
        self.close()

    def _action(self, text: str, shortcut: str, slot: object) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # -- pages -----------------------------------------------------------------------------------

    def show_browser(self) -> None:
        self.pages.setCurrentWidget(self.browser)
        self.exports.set_session(None)
        self.note_action.setEnabled(False)
        self.browser.search.setFocus()
        self.browser.reload()

    def show_course(self) -> None:
        """All clinical sessions of the client selected in the browser (or shown now)."""
        client: str | None
        if self.pages.currentWidget() is self.session_page and self.review is not None:
            client = self.review.session.client_id
        else:
            client = self.browser.current_client()
        if client is None:
            return
        self.pages.setCurrentWidget(self.course)
        self.note_action.setEnabled(False)
        self.exports.set_session(None)
        self.course.show_client(client)

    def open_session(self, session_id: int) -> None:
        """Load the session off the GUI thread, show its timeline, then check its signature."""
        self.statusBar().showMessage(f"Opening session {session_id}…")
        store = self.store
        run_in_background(lambda: load_review(store, session_id), self._show_review,
                          self._failed)

    def _show_review(self, review: SessionReview) -> None:
        same = self.review is not None and self.review.session.id == review.session.id
        window = self.timeline.view_window() if same else None
        cursor = self.timeline.cursor_time
        self.review = review
        self.report = None if not same else self.report
        self.timeline.set_review(review)
        if window is not None:  # reloaded (a note was added): keep the view
            self.timeline.set_window(*window)
            self.timeline.set_cursor(cursor)
        self.summary.show_review(review, self.report)
        self.exports.set_session(review.session.id)
        self.pages.setCurrentWidget(self.session_page)
        self.note_action.setEnabled(True)
        self.timeline.setFocus()
        s = review.session
        self.setWindowTitle(f"KAT Monitor - Review - session {s.id}, client {s.client_id}"
                            + (" (TRAINING)" if s.training else ""))
        self.statusBar().clearMessage()
        self.review_loaded.emit(review)
        store, sid = self.store, s.id
        run_in_background(lambda: verify(store, sid), self._show_signature, self._failed)

    def _show_signature(self, report: VerificationReport) -> None:
        if self.review is None or report.session != f"session {self.review.session.id}":
            return
        self.report = report
        self.summary.show_signature(report)
        self.browser.set_signatures({self.review.session.id: report.status})
        self.signature_checked.emit(report)

    def _failed(self, error: Exception) -> None:
        self.statusBar().clearMessage()
        if isinstance(error, KatMonitorError):
            show_error(self, error, "Review")
        else:
            show_error(self, KatMonitorError(f"unexpected problem: {error}"), "Review")

    def _toggle_clock(self) -> None:
        self.timeline.set_clock_axis(self.clock_action.isChecked())

    # -- notes -----------------------------------------------------------------------------------

    def add_note(self) -> ReviewNoteDialog | None:
        review = self.review
        if review is None:
            return None
        at = self.timeline.cursor_time
        dialog = ReviewNoteDialog(self.store, review.session.id, at,
                                  review.minutes_after_dose(at), self.note_user, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._note_added(dialog))
        self.note_dialog = dialog
        dialog.open()
        return dialog

    def _note_added(self, dialog: ReviewNoteDialog) -> None:
        self.note_user = dialog.user.text().strip()
        if self.review is not None:
            self.open_session(self.review.session.id)  # reload: the note joins the timeline


def run_review(database: Database, session_id: int | None = None, *,
               argv: list[str] | None = None) -> int:
    """Show the review window (the browser, or this session straight away) until closed."""
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("KAT Monitor")
    theme.apply_theme(app)
    window = ReviewWindow(database)
    window.resize(1600, 900)
    window.show()
    if session_id is None:
        window.show_browser()
    else:
        window.open_session(session_id)
    try:
        return app.exec()
    finally:
        window.deleteLater()

