"""The locked window: F12 (or the clinic's idle time) locks it; monitoring goes on behind it.

While locked, the alarm bar, the numerics, the trends and the alarm tones stay exactly as they
are, and the alarm keys (acknowledge, audio pause, volume, history) keep working: whoever is at
the bedside must be able to answer an alarm. Every other action is greyed out, dialogs that
were open are closed, and the core refuses actions anyway
(:meth:`katmonitor.workstation.Workstation.acting_operator`). A banner under the alarm bar asks
for a user name and password: the same nurse carries on, another nurse takes the running
session over (a handover, with an optional note, recorded in the session's chain), anyone else
becomes the signed-in user without taking the session. "Hand over session…" locks the window
with the name field empty for the next nurse.

When the window locks is the core's rule (:meth:`Workstation.lock_if_idle`, the clinic's
``security.json``); the window only reports activity (keys, clicks, the wheel) and asks each
frame.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from katmonitor.base.errors import KatMonitorError
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import error_text

LOCK_SHORTCUT = "F12"
ACTIVITY_EVENTS = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
})


class LockBanner(QFrame):
    """What the locked window shows under the alarm bar: who is signed in, and the sign-in."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lock_banner")
        self.setStyleSheet(
            f"#lock_banner {{ background: {theme.PANEL}; border: 2px solid "
            f"{theme.TECHNICAL_ALARM}; }}"
        )
        self.title = QLabel()
        self.title.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
        self.title.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("user name")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("password")
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("handover note (a nurse taking the session over)")
        self.unlock_button = QPushButton("&Unlock")
        self.unlock_button.setDefault(True)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {theme.ALARM}; font-weight: bold;")
        self.error_label.hide()
        for edit in (self.name_edit, self.password_edit, self.note_edit):
            edit.returnPressed.connect(self.unlock_button.click)
        row = QHBoxLayout()
        for text, edit in (("&Name:", self.name_edit), ("&Password:", self.password_edit)):
            label = QLabel(text)
            label.setBuddy(edit)  # Alt+N / Alt+P reach the fields
            row.addWidget(label)
            row.addWidget(edit, 1)
        row.addWidget(self.note_edit, 2)
        row.addWidget(self.unlock_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.error_label)

    def error(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""


class LockControls(QObject):
    """Lock (F12), Hand over session…, the idle lock and the banner, for one window."""

    def __init__(self, window: QMainWindow, workstation: Workstation, banner_host: QVBoxLayout,
                 *, keep_enabled: list[QAction]) -> None:
        """``banner_host``: the layout the banner goes in (under the alarm bar);
        ``keep_enabled``: the actions that work behind the lock (the alarm keys)."""
        super().__init__(window)
        self.window = window
        self.workstation = workstation
        self.keep_enabled = set(keep_enabled)
        self._disabled: dict[QAction, bool] = {}
        self._shown_locked = False
        self.banner = LockBanner()
        self.banner.hide()
        self.banner.unlock_button.clicked.connect(lambda _=False: self.unlock())
        banner_host.insertWidget(1, self.banner)

        self.lock_action = QAction("&Lock window", window)
        self.lock_action.setShortcut(QKeySequence(LOCK_SHORTCUT))
        self.lock_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.lock_action.setToolTip(f"Lock the window; monitoring and alarms go on "
                                    f"({LOCK_SHORTCUT})")
        self.lock_action.triggered.connect(lambda _=False: self.lock("on request"))
        self.handover_action = QAction("&Hand over session…", window)
        self.handover_action.setToolTip("Lock the window for the next nurse to sign in and "
                                        "take the running session over")
        self.handover_action.triggered.connect(lambda _=False: self.hand_over())
        for action in (self.lock_action, self.handover_action):
            window.addAction(action)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def add_to_menu(self, menu: object) -> None:
        add = getattr(menu, "addAction", None)
        if callable(add):
            add(self.lock_action)
            add(self.handover_action)

    # -- locking -------------------------------------------------------------------------------

    def lock(self, reason: str) -> bool:
        locked = self.workstation.lock(reason)
        self.refresh()
        return locked

    def hand_over(self) -> None:
        """Lock for the next nurse: the name field starts empty."""
        self.lock("handover")
        if self.workstation.locked:
            self.banner.name_edit.clear()
            self.banner.name_edit.setFocus()

    def unlock(self) -> bool:
        banner = self.banner
        banner.error_label.hide()
        try:
            self.workstation.unlock(banner.name_edit.text().strip(),
                                    banner.password_edit.text(),
                                    handover_note=banner.note_edit.text())
        except KatMonitorError as error:
            banner.password_edit.clear()
            banner.password_edit.setFocus()
            banner.error_label.setText(error_text(error))
            banner.error_label.show()
            return False
        banner.password_edit.clear()
        banner.note_edit.clear()
        self.refresh()
        changed = getattr(self.window, "refresh", None)
        if callable(changed):
            changed()
        return True

    # -- every frame ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Called every frame: lock when idle; keep everything but the alarm keys greyed out
        while locked (panels re-enable their actions by the session's state each frame)."""
        ws = self.workstation
        ws.lock_if_idle()
        self.lock_action.setEnabled(ws.operator is not None and not ws.locked)
        self.handover_action.setEnabled(ws.recording and ws.operator is not None
                                        and not ws.locked)
        if ws.locked:
            if not self._shown_locked:
                self._show_locked()
            for action in self._actions_to_grey():
                if action.isEnabled():
                    self._disabled.setdefault(action, True)
                    action.setEnabled(False)
        elif self._shown_locked:
            self._show_unlocked()

    def _actions_to_grey(self) -> list[QAction]:
        return [a for a in self.window.findChildren(QAction)
                if a not in self.keep_enabled and not a.isSeparator() and a.menu() is None
                and a is not self.lock_action]

    def _show_locked(self) -> None:
        self._shown_locked = True
        for dialog in self.window.findChildren(QDialog):
            if dialog.isVisible():
                dialog.reject()  # half-filled forms are not left for the next person
        for name in ("session_panel", "workflow_panel"):
            panel = getattr(self.window, name, None)
            if isinstance(panel, QWidget):
                panel.setEnabled(False)
        self._disabled = {a: a.isEnabled() for a in self._actions_to_grey()}
        for action in self._disabled:
            action.setEnabled(False)
        user = self.workstation.operator
        who = f"{user.full_name or user.name} ({user.name})" if user is not None else "nobody"
        self.banner.title.setText(
            f"🔒 Window locked — monitoring, recording and alarms go on. Signed in: {who}. "
            "Sign in to act; another nurse signing in takes the session over."
        )
        self.banner.name_edit.setText(user.name if user is not None else "")
        self.banner.error_label.hide()
        self.banner.show()
        self.banner.password_edit.setFocus()

    def _show_unlocked(self) -> None:
        self._shown_locked = False
        self.banner.hide()
        for name in ("session_panel", "workflow_panel"):
            panel = getattr(self.window, name, None)
            if isinstance(panel, QWidget):
                panel.setEnabled(True)
        for action, enabled in self._disabled.items():
            action.setEnabled(enabled)
        self._disabled = {}

    # -- activity --------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in ACTIVITY_EVENTS:
            self.workstation.note_activity()
        return False
