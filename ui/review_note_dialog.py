"""Add note at cursor: a therapist's (or nurse's) time-linked note, signed as an addendum.

The note is about the crosshair's moment (or a span from it: "Lasting" minutes); the author
types their user name, the note and their password again. :func:`katmonitor.review.add_note_at`
signs and stores it on a worker thread ("Signing…" meanwhile); the core's refusal (wrong
password, a role that may not add notes, a session not signed yet) is shown in the dialog and
nothing is stored.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QLineEdit, QPlainTextEdit, QWidget

from katmonitor.addenda import Addendum
from katmonitor.base.errors import KatMonitorError
from katmonitor.review import add_note_at
from katmonitor.storage.store import SessionStore
from ui.background import run_in_background
from ui.dialogs import SubmitDialog

TITLE = "Add note at cursor"


class ReviewNoteDialog(SubmitDialog):
    def __init__(self, store: SessionStore, session_id: int, at: float, minutes: float | None,
                 user: str = "", parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.store = store
        self.session_id = session_id
        self.at = at
        self.added: Addendum | None = None
        when = datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
        if minutes is not None:
            when += f"  ({minutes:+.1f} min after the first dose)"
        self.user = QLineEdit(user)
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("client described floating, calm")
        self.span_min = QDoubleSpinBox()
        self.span_min.setRange(0, 24 * 60)
        self.span_min.setDecimals(1)
        self.span_min.setSuffix(" min")
        self.span_min.setSpecialValueText("a moment")
        self.span_min.setToolTip("For a span: how long after the cursor it lasts")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.form.addRow("At", QLabel(when))
        self.form.addRow("User", self.user)
        self.form.addRow("Lasting", self.span_min)
        self.form.addRow("Note", self.text)
        self.form.addRow("Password", self.password)
        self.form.addRow(QLabel("The note is signed as an addendum to the session's record "
                                "and shown on the timeline for the whole team."))
        (self.text if user else self.user).setFocus()

    def accept(self) -> None:
        """Sign off the GUI thread; close once stored, or show the refusal."""
        self.error_label.hide()
        self.buttons.setEnabled(False)
        self.setWindowTitle(f"{TITLE} - Signing…")
        store, sid, at = self.store, self.session_id, self.at
        user, password, text = (self.user.text().strip(), self.password.text(),
                                self.text.toPlainText())
        minutes = self.span_min.value()
        until = at + minutes * 60.0 if minutes > 0 else None
        run_in_background(lambda: add_note_at(store, sid, at, user, password, text, until=until),
                          self._added, self._refused)

    def _added(self, addendum: Addendum) -> None:
        self.added = addendum
        self.finish()

    def _refused(self, error: Exception) -> None:
        self.buttons.setEnabled(True)
        self.setWindowTitle(TITLE)
        self.password.clear()
        if isinstance(error, KatMonitorError):
            self.show_refusal(error)
        else:
            self.show_refusal(KatMonitorError(f"the note could not be added: {error}"))
