"""Adding a signed addendum (a correction or a note) to a signed session record.

After signing, the record is read-only; corrections and therapist notes are signed addenda
that reference the original (:mod:`katmonitor.addenda`). The Add signed addendum dialog shows
the session's summary and its addenda so far (author, role, kind, date and time in UTC and in
local time, text), lets the signed-in user choose the kind - only the kinds their role may add
are offered: a note for a nurse, therapist or administrator, a correction for a nurse - type the
text and re-enter their password; ``add_addendum`` signs and stores it (on a worker thread: the
dialog shows "Signing…" meanwhile). The core stays the
authority: its refusal (wrong password, role, an unsigned session) is shown inside the dialog
and nothing is stored. Once added, the dialog shows the addendum as signed.

A session that is not signed yet has nothing to amend: the dialog is not opened and a message
says so (before signing, a note is an ordinary assessment or observation).

:class:`AddendumControls` adds Record → Add signed addendum… (Ctrl+Shift+A) to the window and
has the record badge check the record again after an addendum is added.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QWidget,
)

from katmonitor.addenda import Addendum, AddendumKind
from katmonitor.base.errors import KatMonitorError, PermissionDeniedError, SessionStateError
from katmonitor.policy import addendum_kinds
from katmonitor.session import Session
from katmonitor.workstation import Workstation
from ui import theme
from ui.background import run_in_background
from ui.dialogs import SubmitDialog, show_error
from ui.signing_dialogs import (
    READING,
    SIGN_SHORTCUT,
    PasswordSigningDialog,
    RecordControls,
    local_text,
    manifestation_label,
    record_summary,
    utc_text,
)

ADDENDUM_SHORTCUT = "Ctrl+Shift+A"
TITLE = "Add signed addendum"
KIND_LABELS = {AddendumKind.NOTE: "Note", AddendumKind.CORRECTION: "Correction"}
KIND_TIPS = {
    AddendumKind.NOTE: "Adds to the signed record (nurse, therapist, administrator)",
    AddendumKind.CORRECTION: "Corrects the signed record (nurses only)",
}


def addendum_lines(addendum: Addendum) -> list[str]:
    """What an addendum shows: its number and kind, author and role, UTC and local time, text."""
    text = addendum.text.replace("\n", "\n      ")
    return [
        f"Addendum {addendum.id} · {addendum.kind.value}",
        f"By: {addendum.printed_name or addendum.user} "
        f"({addendum.role}, user {addendum.user})",
        f"Date/time (UTC): {utc_text(addendum.created_at)}",
        f"Date/time (local): {local_text(addendum.created_at)}",
        f"Text: {text}",
    ]


def addenda_text(addenda: list[Addendum]) -> str:
    if not addenda:
        return "None yet."
    return "\n\n".join("\n".join(addendum_lines(a)) for a in addenda)


def not_signed_error(session_id: int) -> SessionStateError:
    return SessionStateError(
        f"session {session_id} is not signed yet: there is no signed record to amend",
        "Before signing, a note is an ordinary assessment or observation of the session. Sign "
        f"the record first (Record → Sign last session…, {SIGN_SHORTCUT}); after that, "
        "corrections and notes are added as signed addenda.",
    )


class AddendumDialog(PasswordSigningDialog):
    """Add signed addendum: the signed-in user chooses the kind, types the text and re-enters
    their password to sign it."""

    ok_text = "Sign addendum"
    added = Signal(object)
    """The :class:`Addendum`, once stored."""

    def __init__(self, workstation: Workstation, session_id: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.setMinimumWidth(620)
        self.workstation = workstation
        self.session_id = session_id
        self.addendum: Addendum | None = None
        self.summary_label = QLabel(READING)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.addenda: list[Addendum] = []
        self.addenda_view = QPlainTextEdit(READING)
        self.addenda_view.setReadOnly(True)
        self.addenda_view.setTabChangesFocus(True)
        self.addenda_view.setMaximumHeight(40)
        operator = workstation.operator
        self.author_label = QLabel(
            f"{operator.full_name or operator.name} ({operator.role.value}, user {operator.name})"
            if operator is not None else "nobody is signed in"
        )
        self.author_label.setFont(theme.font(theme.BASE_PX, bold=True))
        self.kind_combo = QComboBox()
        for kind in addendum_kinds(operator.role if operator is not None else None):
            self.kind_combo.addItem(KIND_LABELS[kind], kind)
            self.kind_combo.setItemData(self.kind_combo.count() - 1, KIND_TIPS[kind],
                                        Qt.ItemDataRole.ToolTipRole)
        if self.kind_combo.count() == 0:
            self.kind_combo.setPlaceholderText(
                "sign in to add an addendum" if operator is None
                else f"none: a {operator.role.value} adds no addendum"
            )
            self.kind_combo.setEnabled(False)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setTabChangesFocus(True)
        self.text_edit.setPlaceholderText("the correction or note, as it should be read")
        self.text_edit.setMinimumHeight(90)
        note = QLabel("The signed record is not changed: the addendum is signed with your key "
                      "and kept with it, referencing its signature.")
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.form.addRow("Record:", self.summary_label)
        self.form.addRow("Addenda:", self.addenda_view)
        self.form.addRow("Added by:", self.author_label)
        self.form.addRow("&Kind:", self.kind_combo)
        self.form.addRow("&Text:", self.text_edit)
        self.form.addRow("&Password:", self.password_edit)
        self.form.addRow(note)
        self.manifestation_label = manifestation_label()
        self.body.insertWidget(1, self.manifestation_label)
        self.text_edit.setFocus()
        self.read_record(
            lambda: (record_summary(workstation, workstation.get_session(session_id)),
                     workstation.list_addenda(session_id)),
            self._show_record,
        )

    def _show_record(self, record: tuple[str, list[Addendum]]) -> None:
        summary, self.addenda = record
        self.summary_label.setText(summary)
        self.addenda_view.setPlainText(addenda_text(self.addenda))
        self.addenda_view.setMaximumHeight(180 if self.addenda else 40)

    # -- for tests and callers -----------------------------------------------------------------

    def offered_kinds(self) -> list[str]:
        """The kinds offered, as shown."""
        return [self.kind_combo.itemText(i) for i in range(self.kind_combo.count())]

    def set_kind(self, kind: AddendumKind) -> None:
        index = self.kind_combo.findData(kind)
        if index < 0:
            raise ValueError(f"{kind.value} is not offered")
        self.kind_combo.setCurrentIndex(index)

    def addenda_shown(self) -> str:
        return self.addenda_view.toPlainText()

    def manifestation(self) -> str:
        """The addendum as shown after signing, or "" (for tests)."""
        return self.manifestation_label.text() if self.addendum is not None else ""

    # -- signing -------------------------------------------------------------------------------

    def kind(self) -> AddendumKind:
        data = self.kind_combo.currentData()
        # None offered (a trainee): ask for a note, so the core says who may add one.
        return AddendumKind(data) if data is not None else AddendumKind.NOTE

    def accept(self) -> None:
        """Sign and store on a worker thread; the addendum (or the core's refusal) is shown
        when it arrives. Meanwhile the dialog is busy and a second press does nothing."""
        if self.addendum is not None:  # the signed addendum was shown: Close
            super(SubmitDialog, self).accept()
            return
        if self.busy or not self.ready:
            return
        self.error_label.hide()
        operator = self.workstation.operator
        if operator is None:
            self._refused(PermissionDeniedError("sign in to add a signed addendum"))
            return
        ws, session_id = self.workstation, self.session_id
        user, password, kind, text = (operator.name, self.password_edit.text(),
                                      self.kind().value, self.text_edit.toPlainText())
        self._set_busy(True)
        run_in_background(lambda: ws.add_addendum(session_id, user, password, kind, text),
                          self._show_addendum, self._failed)

    def _show_addendum(self, addendum: Addendum) -> None:
        self._set_busy(False)
        self.addendum = addendum
        self.password_edit.clear()
        for row in range(self.form.rowCount()):
            self.form.setRowVisible(row, False)
        self.manifestation_label.setText(
            f"{KIND_LABELS[addendum.kind]} signed and added to session {self.session_id}.\n\n"
            + "\n".join(addendum_lines(addendum))
        )
        self.manifestation_label.show()
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Close")
        self.setWindowTitle("Addendum signed")
        self.added.emit(addendum)


class AddendumControls(QObject):
    """Record → Add signed addendum… and the dialog it opens."""

    def __init__(self, window: QMainWindow, workstation: Workstation,
                 records: RecordControls) -> None:
        super().__init__(window)
        self.window = window
        self.workstation = workstation
        self.records = records
        self.dialog: AddendumDialog | None = None
        self.action = QAction("Add signed &addendum…", window)
        self.action.setShortcut(QKeySequence(ADDENDUM_SHORTCUT))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.setToolTip(
            f"A signed correction or note on the last ended session's signed record "
            f"({ADDENDUM_SHORTCUT})"
        )
        self.action.triggered.connect(lambda _=False: self.open_dialog())
        window.addAction(self.action)
        menu = self._record_menu()
        if menu is not None:
            menu.insertAction(records.check_action, self.action)

    def _record_menu(self) -> QMenu | None:
        for entry in self.window.menuBar().actions():
            menu = entry.menu()
            if isinstance(menu, QMenu) and self.records.sign_action in menu.actions():
                return menu
        return None

    def open_dialog(self, session_id: int | None = None) -> AddendumDialog | None:
        """Open Add signed addendum for ``session_id`` (default: the last ended session). An open
        one for the same session is raised (and returned) instead of opening a second. Otherwise
        the session is checked on a worker thread and the dialog opens when the answer arrives
        (None is returned); an unsigned session is refused with a message."""
        open_dialog = self.dialog
        if open_dialog is not None and open_dialog.isVisible() and (
                session_id is None or open_dialog.session_id == session_id):
            open_dialog.raise_()
            open_dialog.activateWindow()
            return open_dialog
        if session_id is None:
            last = self.records.ended_session_now()
            if last is None:  # list the sessions off the GUI thread, then open
                self.records.find_last_ended(self._open_for_last)
                return None
            session_id = last.id
        ws = self.workstation

        def check_signed(session_id: int = session_id) -> int:
            ws.get_session(session_id)  # NotFoundError
            if not ws.is_signed(session_id):
                raise not_signed_error(session_id)
            return session_id

        # Read off the GUI thread; the dialog (or the refusal) shows when the answer arrives.
        run_in_background(check_signed, self._open_checked, self._refused)
        return None

    def _open_checked(self, session_id: int) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            return  # opened meanwhile (a second key press)
        dialog = AddendumDialog(self.workstation, session_id, self.window)
        self.dialog = dialog
        dialog.added.connect(lambda _addendum, sid=session_id: self._added(sid))
        dialog.finished.connect(lambda _result, d=dialog: self._closed(d))
        dialog.open()  # window-modal, non-blocking

    def _refused(self, error: Exception) -> None:
        if not isinstance(error, KatMonitorError):
            raise error
        show_error(self.window, error, TITLE)

    def _open_for_last(self, last: Session | None) -> None:
        if last is None:
            show_error(self.window, KatMonitorError("there is no ended session to add to",
                                                    "end and sign the session first"), TITLE)
        else:
            self.open_dialog(last.id)

    def _added(self, session_id: int) -> None:
        badge = self.records.badge
        if badge.session_id == session_id or badge.state != "recording":
            badge.check(session_id)  # VERIFIED still, its tooltip listing the addenda

    def _closed(self, dialog: AddendumDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()
