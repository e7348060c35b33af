"""The nurse's dosing workflow beside the trends: what is still needed before the first dose
(identity, eligibility, the live pre-dose gate), the doses given, the rest between spray
devices, tablets waiting to be swallowed or spat, the observation minimum and the schedule's
prompts.

Everything shown is what the workflow says; the actions open dialogs that hand the entry to
it. The window calls :meth:`WorkflowPanel.refresh` every frame; the panel does its work only
when the clock passed a whole second, a blood pressure arrived or something was recorded, so
the schedule is evaluated about once a second, not 25 times.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from katmonitor.base.errors import KatMonitorError, SessionStateError
from katmonitor.base.vitals import VitalKind
from katmonitor.clinical_schedule import Prompt, PromptKind, PromptState
from katmonitor.policy import ORAL_ROUTES
from katmonitor.readings import format_age
from katmonitor.session import Route, SessionStatus, WorkflowEvent, WorkflowKind
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import local_time_text, show_error
from ui.dose_dialogs import (
    ORAL_ACTION_LABELS,
    OralCompleteDialog,
    dose_readiness,
    dose_text,
    format_countdown,
)
from ui.predose_dialogs import EligibilityDialog, IdentityDialog
from ui.prompt_dialog import PromptDoneDialog
from ui.session_panel import SessionPanel, format_elapsed

PANEL_WIDTH = 400
STATE_TEXT: dict[PromptState, str] = {
    PromptState.UPCOMING: "upcoming",
    PromptState.DUE: "DUE",
    PromptState.OVERDUE: "OVERDUE",
    PromptState.ESCALATED: "ESCALATED",
    PromptState.DONE: "done",
    PromptState.MISSED: "missed",
}
# Foreground, background (None: the list's own), bold.
STATE_STYLE: dict[PromptState, tuple[str, str | None, bool]] = {
    PromptState.UPCOMING: (theme.TEXT, None, False),
    PromptState.DUE: (theme.PROMPT_DUE, None, True),
    PromptState.OVERDUE: (theme.PROMPT_OVERDUE, theme.PROMPT_OVERDUE_BACKGROUND, True),
    PromptState.ESCALATED: (theme.PROMPT_ESCALATED, theme.PROMPT_ESCALATED_BACKGROUND, True),
    PromptState.DONE: (theme.PROMPT_DONE, None, False),
    PromptState.MISSED: (theme.PROMPT_MISSED, None, False),
}
URGENCY = (PromptState.ESCALATED, PromptState.OVERDUE, PromptState.DUE, PromptState.UPCOMING)
OK, NOT_OK, CONCERN = "✓", "✗", "⚠"


def prompt_text(prompt: Prompt) -> str:
    text = f"{local_time_text(prompt.due_at, '%H:%M')}  {prompt.label} — {STATE_TEXT[prompt.state]}"
    done = prompt.completion
    if prompt.state is PromptState.DONE and done is not None:
        text += f" {local_time_text(done.time, '%H:%M')} ({done.by})"
        if not done.measured:
            text += " — WITHOUT MEASUREMENT"
    return text


def section_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
    label.setStyleSheet(f"color: {theme.TEXT_DIM};")
    return label


def wrapped(pixel_size: int = theme.BASE_PX, *, bold: bool = False) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setFont(theme.font(pixel_size, bold=bold))
    return label


def action_button(action: QAction) -> QPushButton:
    """A large button for an action, its shortcut in the text; it follows the action's
    enabled state."""
    text = action.text().replace("&", "")
    shortcut = action.shortcut().toString()
    button = QPushButton(f"{text}  ({shortcut})" if shortcut else text)
    button.setFont(theme.font(theme.BASE_PX, bold=True))
    button.setMinimumHeight(34)
    button.setToolTip(action.toolTip())
    button.clicked.connect(lambda _=False: action.trigger())
    button.setEnabled(action.isEnabled())
    action.enabledChanged.connect(button.setEnabled)
    return button


def set_colour(label: QLabel, colour: str) -> None:
    label.setStyleSheet(f"color: {colour};")


class WorkflowPanel(QWidget):
    def __init__(self, workstation: Workstation, session_panel: SessionPanel,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workstation = workstation
        self.session_panel = session_panel
        self.setFixedWidth(PANEL_WIDTH)
        self._key: tuple[object, ...] | None = None
        self._prompts: list[Prompt] = []
        self._list_key: tuple[tuple[str, str], ...] = ()

        def action(text: str, shortcut: str, tip: str, slot: Callable[[], object]) -> QAction:
            act = QAction(text, self)
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setToolTip(f"{tip} ({shortcut})")
            act.triggered.connect(lambda _=False: slot())
            self.addAction(act)
            return act

        self.identity_action = action("Identity check…", "Ctrl+I",
                                      "Confirm the client's identity", self.check_identity)
        self.eligibility_action = action("Eligibility checklist…", "Ctrl+Shift+E",
                                         "Answer the care plan's eligibility questions",
                                         self.check_eligibility)
        self.oral_action = action("Swallowed / spat…", "Ctrl+T",
                                  "Record when the tablet or lozenge was swallowed or spat",
                                  self.record_oral_complete)
        self.prompt_done_action = action("Mark done…", "Ctrl+M",
                                         "Mark the selected (or most urgent) prompt done",
                                         self.mark_prompt_done)
        self.schedule_focus_action = action("Go to the schedule", "F6",
                                            "Move the keyboard to the schedule list",
                                            self.focus_schedule)

        self.stage_label = wrapped(theme.HEADER_PX, bold=True)
        self.problem_label = wrapped(bold=True)
        set_colour(self.problem_label, theme.TECHNICAL_ALARM)
        self.problem_label.hide()

        # Before the first dose.
        self.identity_label = wrapped(bold=True)
        self.eligibility_label = wrapped(bold=True)
        self.gate_title = section_title("Pre-dose gate")
        self.gate_limits_label = wrapped()
        set_colour(self.gate_limits_label, theme.TEXT_DIM)
        self.gate_label = wrapped(theme.TILE_LABEL_PX, bold=True)
        self.baseline_label = wrapped()
        predose = QVBoxLayout()
        predose.setContentsMargins(0, 0, 0, 0)
        predose.addWidget(self.identity_label)
        predose.addWidget(action_button(self.identity_action))
        predose.addWidget(self.eligibility_label)
        predose.addWidget(action_button(self.eligibility_action))
        predose.addWidget(self.gate_title)
        predose.addWidget(self.gate_limits_label)
        predose.addWidget(self.gate_label)
        predose.addWidget(self.baseline_label)
        self.predose_box = QWidget()
        self.predose_box.setLayout(predose)

        # Dosing.
        self.gate_record_label = wrapped()
        self.readiness_label = wrapped(bold=True)
        self.rest_title = section_title("Rest before the next spray device")
        self.rest_label = QLabel()
        self.rest_label.setFont(theme.numeric_font(theme.TIMER_PX))
        self.doses_label = wrapped()
        self.oral_label = wrapped(bold=True)
        self.oral_button = action_button(self.oral_action)
        dosing = QVBoxLayout()
        dosing.setContentsMargins(0, 0, 0, 0)
        dosing.addWidget(self.gate_record_label)
        dosing.addWidget(self.readiness_label)
        dosing.addWidget(action_button(session_panel.dose_action))
        dosing.addWidget(self.rest_title)
        dosing.addWidget(self.rest_label)
        dosing.addWidget(self.doses_label)
        dosing.addWidget(self.oral_label)
        dosing.addWidget(self.oral_button)
        self.dosing_box = QWidget()
        self.dosing_box.setLayout(dosing)

        # After the first dose.
        self.minimum_label = QLabel()
        self.minimum_label.setFont(theme.numeric_font(theme.TIMER_PX))
        self.prompts_list = QListWidget()
        self.prompts_list.setFont(theme.font(theme.BASE_PX + 1))
        self.prompts_list.setAccessibleName("Schedule prompts")
        self.prompts_list.setWordWrap(True)
        self.prompts_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.prompts_list.itemActivated.connect(
            lambda item: self.mark_prompt_done(item.data(Qt.ItemDataRole.UserRole))
        )
        buttons = QHBoxLayout()
        buttons.addWidget(action_button(self.prompt_done_action))
        buttons.addWidget(action_button(session_panel.observation_action))
        schedule = QVBoxLayout()
        schedule.setContentsMargins(0, 0, 0, 0)
        schedule.addWidget(section_title("Observation minimum"))
        schedule.addWidget(self.minimum_label)
        schedule.addWidget(section_title("Schedule (Enter: mark done)"))
        schedule.addWidget(self.prompts_list, 1)
        schedule.addLayout(buttons)
        schedule.addWidget(action_button(session_panel.end_action))
        self.schedule_box = QWidget()
        self.schedule_box.setLayout(schedule)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet(f"color: {theme.PANEL_BORDER};")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(6)
        layout.addWidget(self.stage_label)
        layout.addWidget(self.problem_label)
        layout.addWidget(line)
        layout.addWidget(self.predose_box)
        layout.addWidget(self.dosing_box)
        layout.addWidget(self.schedule_box, 1)
        layout.addStretch(0)
        self.refresh(force=True)

    # -- refresh -------------------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Cheap unless a second passed, a blood pressure came or something was recorded."""
        ws = self.workstation
        now = ws.clock.now()
        session = ws.session
        nibp = ws.buffers.latest(VitalKind.NIBP_SYSTOLIC)  # a new BP: the gate, the prompts
        key = (int(now), session.id if session else None, session.status if session else None,
               len(ws.workflow.events), len(ws.timeline()), ws.operator,
               nibp.time if nibp is not None else None)
        if key == self._key and not force:
            return
        self._key = key
        self._update(now)

    def _update(self, now: float) -> None:
        ws = self.workstation
        session = ws.session
        recording = ws.recording
        for act in (self.identity_action, self.eligibility_action, self.prompt_done_action):
            act.setEnabled(recording)
        if not recording or session is None:
            ended = session is not None and session.status is SessionStatus.ENDED
            self.stage_label.setText("Session ended" if ended else
                                     "No session running — Start session (Ctrl+N)")
            set_colour(self.stage_label, theme.TEXT_DIM)
            self.oral_action.setEnabled(False)
            for box in (self.predose_box, self.dosing_box, self.schedule_box):
                box.hide()
            self._prompts = []
            self._show_prompts([])
            return
        workflow = ws.workflow
        anchor = workflow.anchor
        self.dosing_box.show()
        if anchor is None:
            self.stage_label.setText("Before the first dose")
            set_colour(self.stage_label, theme.TEXT)
            self.predose_box.show()
            self.schedule_box.hide()
            self._show_predose(now)
            self.gate_record_label.hide()
        else:
            self.stage_label.setText(f"Dosed — {format_elapsed(now - anchor)} since the first "
                                     "dose")
            set_colour(self.stage_label, theme.TEXT)
            self.predose_box.hide()
            self.schedule_box.show()
            self._show_gate_record()
        readiness, colour = dose_readiness(ws)
        self.readiness_label.setText(readiness)
        set_colour(self.readiness_label, colour)
        self._show_doses(now, session.route)
        try:
            self._prompts = workflow.schedule() if anchor is not None else []
        except KatMonitorError as error:  # e.g. the database is gone: say so, keep the last list
            self.problem_label.setText(f"⚠ The schedule cannot be updated: {error.message}")
            self.problem_label.show()
        else:
            self.problem_label.hide()
        self._show_prompts(self._prompts)
        self._show_minimum(now)

    def _last(self, kind: WorkflowKind) -> WorkflowEvent | None:
        found = [e for e in self.workstation.workflow.events if e.kind is kind]
        return found[-1] if found else None

    def _show_predose(self, now: float) -> None:
        workflow = self.workstation.workflow
        identity = self._last(WorkflowKind.IDENTITY_CHECK)
        if identity is None:
            self.identity_label.setText(f"{NOT_OK} Identity not checked")
            set_colour(self.identity_label, theme.ALARM)
        else:
            self.identity_label.setText(
                f"{OK} Identity checked {local_time_text(identity.time, '%H:%M')}: "
                f"{identity.data['method']}"
            )
            set_colour(self.identity_label, theme.WORKFLOW_OK)
        eligibility = self._last(WorkflowKind.ELIGIBILITY)
        if eligibility is None:
            text, colour = f"{NOT_OK} Eligibility checklist not done", theme.ALARM
        else:
            concerns = eligibility.data["concerns"]
            reason = eligibility.data["override_reason"]
            if not concerns:
                text, colour = f"{OK} Eligibility: no concerns", theme.WORKFLOW_OK
            elif reason:
                text = f"{CONCERN} Eligibility concerns ({', '.join(concerns)}), reason: {reason}"
                colour = theme.PROMPT_DUE
            else:
                text = (f"{NOT_OK} Eligibility concerns ({', '.join(concerns)}): no reason "
                        "recorded")
                colour = theme.ALARM
        self.eligibility_label.setText(text)
        set_colour(self.eligibility_label, colour)
        self.gate_limits_label.setText(f"Limits: {workflow.plan.gate.describe()}")
        gate = workflow.gate()
        if gate.passed:
            self.gate_label.setText(f"{OK} GATE PASSED")
            set_colour(self.gate_label, theme.WORKFLOW_OK)
        else:
            self.gate_label.setText(f"{NOT_OK} GATE NOT PASSED\n"
                                    + "\n".join(f"•  {p}" for p in gate.problems))
            set_colour(self.gate_label, theme.PROMPT_DUE)
        parts = []
        if gate.systolic is not None and gate.diastolic is not None:
            age = "" if gate.nibp_time is None else f" ({format_age(now - gate.nibp_time)} ago)"
            parts.append(f"BP {gate.systolic:.0f}/{gate.diastolic:.0f} mmHg{age}")
        if gate.heart_rate is not None:
            parts.append(f"HR {gate.heart_rate:.0f}/min")
        spo2 = self.workstation.readings().get(VitalKind.SPO2)
        if spo2 is not None and not spo2.stale:
            parts.append(f"SpO2 {spo2.value_text()} %")
        self.baseline_label.setText("Pre-dose vitals: " + (" · ".join(parts) or
                                                          "no readings yet"))

    def _show_gate_record(self) -> None:
        gate = self._last(WorkflowKind.GATE)
        if gate is None:
            self.gate_record_label.hide()
            return
        if gate.data.get("override_reason"):
            self.gate_record_label.setText(
                f"{CONCERN} Gate overridden at the first dose: {gate.data['override_reason']}"
            )
            set_colour(self.gate_record_label, theme.PROMPT_DUE)
        else:
            self.gate_record_label.setText(f"{OK} Gate passed at the first dose")
            set_colour(self.gate_record_label, theme.WORKFLOW_OK)
        self.gate_record_label.show()

    def _show_doses(self, now: float, route: Route) -> None:
        workflow = self.workstation.workflow
        doses = workflow.doses()
        ended = {e.data["dose_id"]: e for e in workflow.events
                 if e.kind is WorkflowKind.ORAL_COMPLETE}
        lines = []
        for dose in doses:
            line = f"{local_time_text(dose.time, '%H:%M')}  {dose_text(dose)}"
            end = ended.get(dose.id)
            if end is not None:
                action = ORAL_ACTION_LABELS[end.data["action"]].replace("&", "").lower()
                line += f" · {action} {local_time_text(end.time, '%H:%M')}"
            lines.append(line)
        self.doses_label.setText("\n".join(lines) if lines else "No dose yet")
        set_colour(self.doses_label, theme.TEXT if lines else theme.TEXT_DIM)
        rest = workflow.spray_rest_remaining()
        resting = route is Route.INTRANASAL and rest > 0
        if resting:
            self.rest_label.setText(f"{format_countdown(rest)} left")
            set_colour(self.rest_label, theme.PROMPT_DUE)
        # When the rest is over the countdown goes; the readiness line turns green.
        self.rest_title.setVisible(resting)
        self.rest_label.setVisible(resting)
        pending = workflow.pending_oral_doses()
        self.oral_action.setEnabled(bool(pending))
        if pending:
            dose = pending[-1]
            self.oral_label.setText(
                f"Tablet in since {local_time_text(dose.time, '%H:%M')} "
                f"({format_age(now - dose.time)}): swallowed or spat?"
            )
            set_colour(self.oral_label, theme.PROMPT_DUE)
        self.oral_label.setVisible(bool(pending))
        self.oral_button.setVisible(route in ORAL_ROUTES and bool(doses))

    def _show_minimum(self, now: float) -> None:
        minimum = next((p for p in self._prompts
                        if p.kind is PromptKind.OBSERVATION_MINIMUM), None)
        if minimum is None:
            self.minimum_label.setText("")
        elif minimum.state is PromptState.DONE:
            self.minimum_label.setText("Reached")
            set_colour(self.minimum_label, theme.WORKFLOW_OK)
        else:
            self.minimum_label.setText(f"{format_countdown(minimum.due_at - now)} left")
            set_colour(self.minimum_label, theme.TEXT)

    def _show_prompts(self, prompts: list[Prompt]) -> None:
        key = tuple((p.id, prompt_text(p)) for p in prompts)
        if key == self._list_key:
            return
        self._list_key = key
        current = self.selected_prompt_id()
        self.prompts_list.clear()
        for prompt in prompts:
            item = QListWidgetItem(prompt_text(prompt))
            item.setData(Qt.ItemDataRole.UserRole, prompt.id)
            foreground, background, bold = STATE_STYLE[prompt.state]
            item.setForeground(theme.colour(foreground))
            if background is not None:
                item.setBackground(theme.colour(background))
            item.setFont(theme.font(theme.BASE_PX + 1, bold=bold))
            self.prompts_list.addItem(item)
            if prompt.id == current:
                self.prompts_list.setCurrentItem(item)
        # Keep what needs doing in view, not the missed and done ones at the top.
        first_open = next((row for row, p in enumerate(prompts)
                           if p.state not in (PromptState.DONE, PromptState.MISSED)), None)
        if current is None and first_open is not None:
            self.prompts_list.scrollToItem(self.prompts_list.item(first_open),
                                           QListWidget.ScrollHint.PositionAtTop)

    # -- what tests (and screen readers) read -------------------------------------------------

    def prompt_rows(self) -> list[str]:
        return [self.prompts_list.item(row).text() for row in range(self.prompts_list.count())]

    def prompt_colours(self, prompt_id: str) -> tuple[str, str | None]:
        """(text colour, fill colour or None) of a prompt's row."""
        for row in range(self.prompts_list.count()):
            item = self.prompts_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == prompt_id:
                fill = item.background()
                return (item.foreground().color().name(),
                        fill.color().name() if fill.style() != Qt.BrushStyle.NoBrush else None)
        raise KeyError(prompt_id)

    def prompts(self) -> list[Prompt]:
        return list(self._prompts)

    def selected_prompt_id(self) -> str | None:
        item = self.prompts_list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    # -- actions (each returns what it opened, so tests can drive it) --------------------------

    def check_identity(self) -> IdentityDialog:
        dialog = IdentityDialog(self.workstation, self.window())
        self.session_panel.open_dialog(dialog)
        return dialog

    def check_eligibility(self) -> EligibilityDialog:
        dialog = EligibilityDialog(self.workstation, self.window())
        self.session_panel.open_dialog(dialog)
        return dialog

    def record_oral_complete(self) -> OralCompleteDialog | None:
        pending = self.workstation.workflow.pending_oral_doses() \
            if self.workstation.recording else []
        if not pending:
            show_error(self.window(), SessionStateError("no tablet or lozenge is waiting to be "
                                                        "swallowed or spat"))
            return None
        dialog = OralCompleteDialog(self.workstation, pending[0], self.window())
        self.session_panel.open_dialog(dialog)
        return dialog

    def _prompt_to_mark(self, prompt_id: str | None) -> Prompt | None:
        if prompt_id is not None:  # the nurse chose it: the workflow says if it is done already
            return next((p for p in self._prompts if p.id == prompt_id), None)
        open_prompts = [p for p in self._prompts
                        if p.state not in (PromptState.DONE, PromptState.MISSED)]
        selected = self.selected_prompt_id()
        for prompt in open_prompts:
            if prompt.id == selected:
                return prompt
        for state in URGENCY:
            for prompt in open_prompts:
                if prompt.state is state:
                    return prompt
        return None

    def mark_prompt_done(self, prompt_id: str | None = None) -> PromptDoneDialog | None:
        """The given prompt, else the selected one, else the most urgent open prompt."""
        self.refresh(force=True)
        prompt = self._prompt_to_mark(prompt_id)
        if prompt is None:
            show_error(self.window(), SessionStateError(
                "no open prompt to mark done", "prompts appear after the first dose"))
            return None
        dialog = PromptDoneDialog(self.workstation, prompt, self.window())
        self.session_panel.open_dialog(dialog)
        return dialog

    def focus_schedule(self) -> None:
        self.prompts_list.setFocus(Qt.FocusReason.ShortcutFocusReason)
        prompt = self._prompt_to_mark(None)
        if prompt is not None and self.selected_prompt_id() is None:
            for row in range(self.prompts_list.count()):
                if self.prompts_list.item(row).data(Qt.ItemDataRole.UserRole) == prompt.id:
                    self.prompts_list.setCurrentRow(row)
