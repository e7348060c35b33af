"""The way into review from the monitoring window: Review → Review sessions… (F9, Ctrl+Shift+R).

It opens :class:`ui.review_window.ReviewWindow` on the workstation's database as a window of its
own, beside the monitor: the monitoring window keeps acquiring, its alarm tick and sound go on,
and nothing in review writes to the session being recorded. The review window is a top-level
window with no parent (so it never stays stacked over the vitals), does not keep the app
running once the monitoring window is closed, and is closed when that window goes.

The monitor's alarms are not hidden by review: while the review window opened from the monitor
is active, a strip at its top shows the alarms that are on (as the alarm bar words them, in
their priority's colour), F2 / F3 acknowledge and pause the sound as in the monitor, and F9
(or the strip's button) brings the monitoring window to the front. When the monitoring window
locks (F12, idle: ui.lock_screen), the review window opened from it closes - the lock keeps the
records from whoever comes to the workstation next - and review does not open while locked.

The review module (and its plots) is imported the first time review is opened, not when the
monitoring window is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QToolBar, QWidget

from katmonitor.workstation import Workstation
from ui import theme
from ui.alarm_bar import PRIORITY_COLOURS, entry_text

if TYPE_CHECKING:
    from ui.review_window import ReviewWindow

REVIEW_SHORTCUTS = ("F9", "Ctrl+Shift+R")
MONITOR_SHORTCUT = "F9"
"""In the review window opened from the monitor: back to the monitoring window."""
ALARM_POLL_MS = 250


class MonitorAlarmStrip(QToolBar):
    """The monitor's alarms, at the top of the review window opened from it."""

    def __init__(self, workstation: Workstation, show_monitor: QAction,
                 alarm_actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__("Monitoring alarms", parent)
        self.workstation = workstation
        self.setMovable(False)
        self.setObjectName("monitor_alarms")
        self.label = QLabel("")
        self.label.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
        self.addWidget(self.label)
        for action in alarm_actions:
            self.addAction(action)
        self.addAction(show_monitor)
        self._shown: tuple[str, ...] = ()
        self.timer = QTimer(self)
        self.timer.setInterval(ALARM_POLL_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    def texts(self) -> list[str]:
        return list(self._shown)

    def refresh(self) -> None:
        alarms = self.workstation.active_alarms()  # most urgent first
        shown = tuple(entry_text(a) for a in alarms)
        if shown == self._shown:
            return
        self._shown = shown
        self.setVisible(bool(alarms))
        if alarms:
            colour = PRIORITY_COLOURS[alarms[0].priority]
            self.label.setText("Monitoring alarm:  " + "   ".join(shown))
            self.label.setStyleSheet(f"color: {colour}; padding: 2px 8px;")


class ReviewControls:
    """The window's Review menu: opens (or raises) the review window."""

    def __init__(self, window: QMainWindow, workstation: Workstation) -> None:
        self.window = window
        self.workstation = workstation
        self.review_window: ReviewWindow | None = None
        self.alarm_strip: MonitorAlarmStrip | None = None
        self.action = QAction("&Review sessions…", window)
        self.action.setShortcuts([QKeySequence(s) for s in REVIEW_SHORTCUTS])
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.setToolTip("Recorded sessions, their timelines and summaries, in a window "
                               f"of their own; monitoring goes on ({', '.join(REVIEW_SHORTCUTS)})")
        self.action.triggered.connect(lambda _=False: self.open_review())
        window.addAction(self.action)
        window.menuBar().addMenu("Re&view").addAction(self.action)
        window.destroyed.connect(lambda _=None: self._close_review())

    def open_review(self) -> ReviewWindow | None:
        """Show the review window (the session browser), or raise the one already open; None
        while the monitoring window is locked."""
        if self.workstation.locked:
            return None
        shown = self.review_window
        if shown is not None:
            if shown.isMinimized():
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
        self._link_to_monitor(review)
        review.resize(1600, 900)
        self.review_window = review
        review.show()
        review.show_browser()
        return review

    def _link_to_monitor(self, review: ReviewWindow) -> None:
        """The monitor's alarm strip and keys in the review window, and the way back."""
        show_monitor = QAction("Monitoring window", review)
        show_monitor.setShortcut(QKeySequence(MONITOR_SHORTCUT))
        show_monitor.setToolTip(f"Bring the monitoring window to the front ({MONITOR_SHORTCUT})")
        show_monitor.triggered.connect(lambda _=False: self.show_monitor())
        review.addAction(show_monitor)
        # F2 / F3 as in the monitor (only those: its Ctrl+K is the review's course view).
        alarm_actions = []
        for text, key, slot_name in (("Acknowledge", "F2", "acknowledge_alarms"),
                                     ("Audio pause", "F3", "pause_alarm_audio")):
            slot = getattr(self.window, slot_name, None)
            if callable(slot):
                action = QAction(text, review)
                action.setShortcut(QKeySequence(key))
                action.setToolTip(f"{text} in the monitoring window ({key})")
                action.triggered.connect(lambda _=False, slot=slot: slot())
                review.addAction(action)
                alarm_actions.append(action)
        strip = MonitorAlarmStrip(self.workstation, show_monitor, alarm_actions, review)
        strip.timer.timeout.connect(self._close_if_locked)
        review.addToolBar(Qt.ToolBarArea.TopToolBarArea, strip)
        review.insertToolBarBreak(strip)
        self.alarm_strip = strip

    def show_monitor(self) -> None:
        if self.window.isMinimized():
            self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def _close_if_locked(self) -> None:
        if self.workstation.locked:
            self._close_review()

    def _forget(self) -> None:
        self.review_window = None
        self.alarm_strip = None

    def _close_review(self) -> None:
        review, self.review_window = self.review_window, None
        if review is not None:
            review.close()
