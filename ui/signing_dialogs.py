"""Signing an ended session's record, and the window's Record menu and badge.

The signed-in nurse signs with their own credentials: the Sign record dialog shows what is
signed, the meaning (default "Monitored and reviewed", editable) and asks for their password
again; ``Workstation.sign_record`` (``record_signing.sign_session``) does the rest (only
nurses, only ended sessions, once) on a worker thread - about 200 ms, the dialog shows
"Signing…" meanwhile. A wrong password is refused inside the dialog and nothing is signed.
Once signed, the dialog shows the signature's manifestation: printed name, role, meaning, date
and time in UTC and in local time.

:class:`RecordControls` puts the record badge in the status bar, follows the window's session
(verifying only when it ends, after signing, or when asked), offers the Sign record dialog to
a signed-in nurse right after the session ends, and adds the Record menu: Sign last session…
(Ctrl+Shift+S) and Check record again (Ctrl+Shift+V).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QWidget,
)

from katmonitor.base.errors import KatMonitorError, PermissionDeniedError
from katmonitor.policy import may_sign
from katmonitor.record_signing import DEFAULT_MEANING
from katmonitor.session import Session, SessionStatus
from katmonitor.workstation import Workstation
from ui import theme
from ui.background import run_in_background
from ui.dialogs import SubmitDialog, error_text, local_time_text, session_summary, show_error
from ui.record_badge import VERIFIED_COLOUR, RecordBadge

SIGN_SHORTCUT = "Ctrl+Shift+S"
CHECK_SHORTCUT = "Ctrl+Shift+V"


def utc_text(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def local_text(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z (UTC%z)")


T = TypeVar("T")
READING = "Reading the record…"
"""Shown where the record goes while it is read off the GUI thread."""


def manifestation_lines(signature: Mapping[str, Any]) -> list[str]:
    """What a signature shows: printed name and role, meaning, date/time in UTC and local."""
    signed_at = float(signature["signed_at"])
    return [
        f"Signed by: {signature['printed_name']}",
        f"Role: {signature['role']} (user {signature['user']})",
        f"Meaning: {signature['meaning']}",
        f"Date/time (UTC): {utc_text(signed_at)}",
        f"Date/time (local): {local_text(signed_at)}",
    ]


def record_summary(workstation: Workstation, session: Session) -> str:
    doses = workstation.doses(session.id)
    observations = workstation.observations(session.id)
    lines = [session_summary(session)]
    if session.ended_at is not None:
        lines.append(f"ended {local_time_text(session.ended_at)}")
    if doses:
        lines.extend(
            f"dose {local_time_text(d.time, '%H:%M')}: {d.dose_mg:g} mg × {d.unit_count} "
            f"(lot {d.lot}, given by {d.given_by})"
            for d in doses
        )
    else:
        lines.append("no dose recorded")
    lines.append(f"{len(observations)} observation(s)")
    return "\n".join(lines)



def password_again_field() -> QLineEdit:
    """Signing re-enters the signer's password (the signature's second factor of intent)."""
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setPlaceholderText("your password, again")
    return edit


def manifestation_label() -> QLabel:
    """Where a signature's manifestation is shown once signed (hidden until then)."""
    label = QLabel()
    label.setFont(theme.font(theme.HEADER_PX))
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet(f"color: {VERIFIED_COLOUR};")
    label.hide()
    return label

class PasswordSigningDialog(SubmitDialog):
    """A dialog that signs with the user's password typed again, off the GUI thread: busy
    (OK disabled, wait cursor) while the core signs; a refusal is shown in the dialog and the
    password cleared. Subclasses name their OK button (``ok_text``)."""

    ok_text = "Sign"

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.busy = False
        self.ready = True
        """False while the record the dialog shows is read (OK waits for it)."""
        self.password_edit = password_again_field()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.ok_text)

    def read_record(self, read: Callable[[], T], show: Callable[[T], None]) -> None:
        """Read what the dialog shows on a worker thread, then ``show`` it; signing waits
        until it is there. A failure (e.g. no such session) is shown in the dialog."""
        self.ready = False
        self._set_busy(self.busy)
        self._show_record_read: Callable[[Any], None] = show
        # Bound methods: a result arriving after the dialog was deleted is dropped.
        run_in_background(read, self._record_read, self._record_failed)

    def _record_read(self, result: Any) -> None:
        self._show_record_read(result)
        self.ready = True
        self._set_busy(self.busy)

    def _record_failed(self, error: Exception) -> None:
        if not isinstance(error, KatMonitorError):
            raise error
        self.error_label.setText(error_text(error))
        self.error_label.show()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not busy and self.ready)
        ok.setText("Signing…" if busy else self.ok_text)
        if busy:
            self.setCursor(Qt.CursorShape.WaitCursor)
        else:
            self.unsetCursor()

    def _failed(self, error: Exception) -> None:
        self._set_busy(False)
        if not isinstance(error, KatMonitorError):
            raise error
        self._refused(error)

    def _refused(self, error: KatMonitorError) -> None:
        self.error_label.setText(error_text(error))
        self.error_label.show()
        self.password_edit.clear()
        self.password_edit.setFocus()


class SignSessionDialog(PasswordSigningDialog):
    """Sign record: the signed-in nurse re-enters their password to sign an ended session."""

    signed = Signal(dict)
    """The signature's facts, once stored."""

    def __init__(self, workstation: Workstation, session_id: int,
                 parent: QWidget | None = None) -> None:
        super().__init__("Sign record", parent)
        self.setMinimumWidth(560)
        self.workstation = workstation
        self.session_id = session_id
        self.signature: dict[str, Any] | None = None
        self.summary_label = QLabel(READING)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        operator = workstation.operator
        self.signer_label = QLabel(
            f"{operator.full_name} ({operator.role.value}, user {operator.name})"
            if operator is not None else "nobody is signed in"
        )
        self.signer_label.setFont(theme.font(theme.BASE_PX, bold=True))
        self.meaning_edit = QLineEdit(DEFAULT_MEANING)
        note = QLabel("Signing seals the record: it cannot be changed afterwards.")
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.form.addRow("Record:", self.summary_label)
        self.form.addRow("Signed by:", self.signer_label)
        self.form.addRow("&Meaning:", self.meaning_edit)
        self.form.addRow("&Password:", self.password_edit)
        self.form.addRow(note)
        self.manifestation_label = manifestation_label()
        self.body.insertWidget(1, self.manifestation_label)
        self.password_edit.setFocus()
        self.read_record(lambda: record_summary(workstation, workstation.get_session(session_id)),
                         self.summary_label.setText)

    def manifestation(self) -> str:
        """The signature as shown after signing, or "" (for tests)."""
        return self.manifestation_label.text() if self.signature is not None else ""

    def accept(self) -> None:
        """Sign on a worker thread; the result (or the core's refusal) is shown when it
        arrives. Meanwhile the dialog is busy and a second press does nothing."""
        if self.signature is not None:  # the manifestation was shown: Close
            super(SubmitDialog, self).accept()
            return
        if self.busy or not self.ready:
            return
        operator = self.workstation.operator
        if operator is None:
            self._refused(PermissionDeniedError("sign in as a nurse to sign the record"))
            return
        ws, session_id = self.workstation, self.session_id
        user, password, meaning = (operator.name, self.password_edit.text(),
                                   self.meaning_edit.text())
        self._set_busy(True)
        run_in_background(lambda: ws.sign_record(session_id, user, password, meaning),
                          self._show_signature, self._failed)

    def _show_signature(self, signature: dict[str, Any]) -> None:
        self._set_busy(False)
        self.signature = signature
        self.error_label.hide()
        self.password_edit.clear()
        for row in range(self.form.rowCount()):
            self.form.setRowVisible(row, False)
        self.manifestation_label.setText(
            f"Session {self.session_id} signed.\n\n"
            + "\n".join(manifestation_lines(self.signature))
        )
        self.manifestation_label.show()
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Close")
        self.setWindowTitle("Record signed")
        self.signed.emit(self.signature)


class RecordControls(QObject):
    """The window's record badge and Record menu; follows the session cheaply every frame."""

    def __init__(self, window: QMainWindow, workstation: Workstation) -> None:
        super().__init__(window)
        self.window = window
        self.workstation = workstation
        self.badge = RecordBadge(workstation.verify_record, window)
        window.statusBar().addPermanentWidget(self.badge)
        self.dialog: SignSessionDialog | None = None
        self._followed: tuple[int, SessionStatus] | bool | None = False  # False: not yet

        self.sign_action = QAction("&Sign last session…", window)
        self.sign_action.setShortcut(QKeySequence(SIGN_SHORTCUT))
        self.sign_action.setToolTip(f"Sign the last ended session's record ({SIGN_SHORTCUT})")
        self.sign_action.triggered.connect(lambda _=False: self.open_sign_dialog())
        self.check_action = QAction("&Check record again", window)
        self.check_action.setShortcut(QKeySequence(CHECK_SHORTCUT))
        self.check_action.setToolTip(
            f"Verify the record shown in the status bar ({CHECK_SHORTCUT})"
        )
        self.check_action.triggered.connect(lambda _=False: self.badge.check_again())
        menu = window.menuBar().addMenu("&Record")
        for action in (self.sign_action, self.check_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            window.addAction(action)
            menu.addAction(action)

    # -- following the session -----------------------------------------------------------------

    def refresh(self) -> None:
        """Called every frame; verifies only when the session's state changed."""
        session = self.workstation.session
        key = (session.id, session.status) if session is not None else None
        if key == self._followed:
            return
        before, self._followed = self._followed, key
        if session is None:
            self.badge.check_last(self.workstation.last_ended_session)
        elif session.status is SessionStatus.ENDED:
            self.badge.check(session.id)
            if before == (session.id, SessionStatus.ACTIVE):
                self._offer_signing(session.id)
        else:
            self.badge.show_recording(session.id)

    def _offer_signing(self, session_id: int) -> None:
        if may_sign(self.workstation.operator):
            self.open_sign_dialog(session_id)

    def ended_session_now(self) -> Session | None:
        """The workstation's own session if it has ended (known without reading the database)."""
        session = self.workstation.session
        return session if session is not None and session.status is SessionStatus.ENDED \
            else None

    def find_last_ended(self, then: Callable[[Session | None], None]) -> None:
        """``then(session)`` with the last ended session (None: there is none): at once when
        it is the workstation's own, else after listing the sessions on a worker thread."""
        session = self.ended_session_now()
        if session is not None:
            then(session)
            return
        run_in_background(self.workstation.last_ended_session, then, self._listing_failed)

    def _listing_failed(self, error: Exception) -> None:
        if not isinstance(error, KatMonitorError):
            raise error
        show_error(self.window, error, "Sign record")

    # -- signing -------------------------------------------------------------------------------

    def open_sign_dialog(self, session_id: int | None = None) -> SignSessionDialog | None:
        """Open Sign record for ``session_id`` (default: the last ended session). An open one
        for the same session is raised instead of opening a second."""
        open_dialog = self.dialog
        if open_dialog is not None and open_dialog.isVisible() and (
                session_id is None or open_dialog.session_id == session_id):
            open_dialog.raise_()
            open_dialog.activateWindow()
            return open_dialog
        if session_id is None:
            last = self.ended_session_now()
            if last is None:  # list the sessions off the GUI thread, then open
                self.find_last_ended(self._sign_last)
                return None
            session_id = last.id
        try:
            dialog = SignSessionDialog(self.workstation, session_id, self.window)
        except KatMonitorError as error:
            show_error(self.window, error, "Sign record")
            return None
        self.dialog = dialog
        dialog.signed.connect(lambda _sig, sid=session_id: self._signed(sid))
        dialog.finished.connect(lambda _result, d=dialog: self._closed(d))
        dialog.open()  # window-modal, non-blocking
        return dialog

    def _sign_last(self, last: Session | None) -> None:
        if last is None:
            show_error(self.window, KatMonitorError("there is no ended session to sign",
                                                    "end the session first"), "Sign record")
        else:
            self.open_sign_dialog(last.id)

    def _signed(self, session_id: int) -> None:
        self.badge.check(session_id)  # the record just signed is the one shown

    def _closed(self, dialog: SignSessionDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

