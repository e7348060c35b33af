"""The session header and its actions: start, dose, assessment, end (discharge), reopen.

The header says what is being recorded (client, medicine, route), how long since the session
started and since the first dose, and whether it is recording ("● REC"). The actions carry
mnemonics and shortcuts and are enabled by the session's state; every entry goes through the
workstation, which validates it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QWidget

from katmonitor.base.errors import KatMonitorError
from katmonitor.dose_totals import dose_total_text
from katmonitor.session import DoseEvent, SessionStatus
from katmonitor.workstation import Workstation
from ui import theme
from ui.assessment_dialog import AssessmentDialog
from ui.dialogs import (
    ReopenDialog,
    StartSessionDialog,
    SubmitDialog,
    confirm,
    local_time_text,
    show_error,
)
from ui.discharge_dialog import DischargeDialog
from ui.dose_dialogs import DoseDialog, dose_dialog_for


def format_elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class SessionPanel(QWidget):
    def __init__(self, workstation: Workstation, on_change: Callable[[], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workstation = workstation
        self._on_change = on_change
        self._given_by = ""
        self._shown: tuple[str, ...] = ()
        self._reopen_key: tuple[object, ...] | None = None
        self._reopenable = False

        def action(text: str, shortcut: str, tip: str, slot: Callable[[], object]) -> QAction:
            act = QAction(text, self)
            act.setShortcut(QKeySequence(shortcut))
            act.setToolTip(f"{tip} ({QKeySequence(shortcut).toString()})")
            act.triggered.connect(lambda _=False: slot())
            return act

        self.start_action = action("&Start session…", "Ctrl+N", "Start a dosing session",
                                   self.start_session)
        self.dose_action = action("Add &dose…", "Ctrl+D", "Record a dose", self.add_dose)
        self.observation_action = action("&Assessment…", "Ctrl+O",
                                         "Record an assessment or observation (MOAA/S, CADSS, "
                                         "notes)", self.add_observation)
        self.end_action = action("&End session / discharge…", "Ctrl+E",
                                 "Discharge the client and end the session", self.end_session)
        self.reopen_action = action("&Reopen session…", "Ctrl+R",
                                    "Continue an interrupted session", self.reopen_session)
        self.actions_in_order = [self.start_action, self.dose_action, self.observation_action,
                                 self.end_action, self.reopen_action]

        self.info_label = QLabel()
        self.info_label.setFont(theme.font(theme.HEADER_PX))
        self.elapsed_label = QLabel()
        self.elapsed_label.setFont(theme.font(theme.HEADER_PX, bold=True))
        self.dose_elapsed_label = QLabel()
        self.dose_elapsed_label.setFont(theme.font(theme.HEADER_PX, bold=True))
        self.dose_total_label = QLabel()
        self.dose_total_label.setFont(theme.font(theme.HEADER_PX, bold=True))
        self.dose_total_label.setStyleSheet(f"color: {theme.MARKER_DOSE};")
        self.dose_total_label.setToolTip("Total dose given in this session")
        self.rec_label = QLabel()
        self.rec_label.setFont(theme.font(theme.HEADER_PX, bold=True))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.setSpacing(24)
        layout.addWidget(self.info_label, 1)
        layout.addWidget(self.elapsed_label)
        layout.addWidget(self.dose_elapsed_label)
        layout.addWidget(self.dose_total_label)
        layout.addWidget(self.rec_label)
        self.refresh()

    # -- state ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Update the header text and which actions are enabled (cheap when nothing changed)."""
        ws = self.workstation
        recording = ws.recording
        self.start_action.setEnabled(not recording)
        self.reopen_action.setEnabled(not recording and self._has_reopenable())
        for act in (self.dose_action, self.observation_action, self.end_action):
            act.setEnabled(recording)

        session = ws.session
        now = ws.clock.now()
        if session is None:
            shown = ("No session running  —  Start session (Ctrl+N)", "", "", "", "")
        else:
            started = local_time_text(session.started_at, "%H:%M")
            info = (f"Client {session.client_id}  ·  {session.medicine}  ·  "
                    f"{session.route.label}  ·  started {started}")
            doses = [e for e in ws.timeline() if isinstance(e, DoseEvent)]
            total = f"Total {dose_total_text(doses)}" if doses else ""
            if session.status is SessionStatus.ACTIVE:
                elapsed = f"Session {format_elapsed(now - session.started_at)}"
                since_dose = (f"Since first dose {format_elapsed(now - min(d.time for d in doses))}"
                              if doses else "No dose yet")
            else:
                ended = session.ended_at
                elapsed = (f"Session {session.status.value}"
                           + (f" {local_time_text(ended, '%H:%M')}" if ended else ""))
                since_dose = ""
            shown = (info, elapsed, since_dose, total, "● REC" if recording else "")
        if shown == self._shown:
            return
        self._shown = shown
        info, elapsed, since_dose, total, rec = shown
        self.info_label.setText(info)
        self.elapsed_label.setText(elapsed)
        self.dose_elapsed_label.setText(since_dose)
        self.dose_total_label.setText(total)
        self.dose_total_label.setVisible(bool(total))
        self.rec_label.setText(rec or "○ not recording")
        self.rec_label.setStyleSheet(f"color: {theme.RECORDING if rec else theme.TEXT_DIM};")

    def _has_reopenable(self) -> bool:
        """Whether an interrupted session is there to reopen. The database is asked again only
        when this workstation's session changed (sessions become interrupted when an app stops
        recording them, and that shows at the next start), not on every frame."""
        session = self.workstation.session
        key = (None,) if session is None else (session.id, session.status)
        if key != self._reopen_key:
            self._reopen_key = key
            try:
                self._reopenable = bool(self.workstation.reopenable_sessions())
            except KatMonitorError:
                self._reopenable = True  # let the dialog say what is wrong
        return self._reopenable

    def header_text(self) -> str:
        return "  ".join(part for part in self._shown if part)

    def _changed(self) -> None:
        self.refresh()
        if self._on_change is not None:
            self._on_change()

    def open_dialog(self, dialog: SubmitDialog) -> SubmitDialog:
        dialog.accepted.connect(self._changed)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # window-modal, non-blocking
        return dialog

    # -- actions (each returns what it opened, so tests can drive it) --------------------------

    def start_session(self) -> StartSessionDialog:
        dialog = StartSessionDialog(self.workstation, self.window())
        self.open_dialog(dialog)
        return dialog

    def add_dose(self) -> DoseDialog:
        """The dose dialog for the session's route."""
        dialog = dose_dialog_for(self.workstation, given_by=self._given_by, parent=self.window())

        def remember() -> None:
            self._given_by = dialog.given_by_edit.text().strip()

        dialog.accepted.connect(remember)
        self.open_dialog(dialog)
        return dialog

    def add_observation(self) -> AssessmentDialog:
        dialog = AssessmentDialog(self.workstation, parent=self.window())
        self.open_dialog(dialog)
        return dialog

    def reopen_session(self) -> ReopenDialog:
        dialog = ReopenDialog(self.workstation, self.window())
        self.open_dialog(dialog)
        return dialog

    def end_session(self) -> QMessageBox | DischargeDialog:
        """A dosed session ends with the discharge checklist; one with no dose may just end."""
        if self.workstation.recording and self.workstation.workflow.anchor is not None:
            dialog = DischargeDialog(self.workstation, self.window())
            self.open_dialog(dialog)
            return dialog
        session = self.workstation.session
        client = session.client_id if session is not None else ""
        return confirm(
            self.window(), "End session", f"End the session for client {client}?",
            "No dose was given. Recording stops and the session is closed; it cannot be "
            "reopened afterwards.",
            self._end_confirmed,
        )

    def _end_confirmed(self) -> None:
        try:
            self.workstation.end_session()
        except KatMonitorError as error:
            show_error(self.window(), error)
        self._changed()
