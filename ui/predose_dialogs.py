"""Before the first dose: the client's identity check, the eligibility checklist, and the
override of a refused dose (the pre-dose gate, or the rest between spray devices).

The questions come from the care plan and every answer goes to the workflow, which records it
and decides what blocks the dose; these dialogs only collect and show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from katmonitor.care_plan import EligibilityItem
from katmonitor.session import WorkflowKind
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import SubmitDialog

IDENTITY_METHODS = (
    "Name and date of birth checked against photo ID",
    "Name and date of birth checked against the record; client known to staff",
    "Wristband checked against the record",
)
CONCERN_TEXT = "⚠ concern"


def reason_edit(placeholder: str) -> QPlainTextEdit:
    edit = QPlainTextEdit()
    edit.setTabChangesFocus(True)
    edit.setPlaceholderText(placeholder)
    edit.setFixedHeight(80)
    return edit


class IdentityDialog(SubmitDialog):
    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__("Client identity check", parent)
        self.workstation = workstation
        session = workstation.session
        client = QLabel(f"Client {session.client_id}" if session is not None else "")
        client.setFont(theme.font(theme.HEADER_PX, bold=True))
        self.method_combo = QComboBox()
        self.method_combo.setEditable(True)
        self.method_combo.addItems(IDENTITY_METHODS)
        self.method_combo.setCurrentIndex(-1)  # a conscious choice, not a default to click past
        method_edit = self.method_combo.lineEdit()
        assert method_edit is not None  # an editable combo has one
        method_edit.setPlaceholderText("how the identity was checked")
        self.note_edit = QLineEdit()
        self.form.addRow(client)
        self.form.addRow(QLabel("Confirm who the client is before any dose."))
        self.form.addRow("&Checked by:", self.method_combo)
        self.form.addRow("N&ote:", self.note_edit)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Identity confirmed")

    def submit(self) -> None:
        self.workstation.workflow.record_identity_check(
            self.method_combo.currentText(), self.note_edit.text()
        )


# Fusion draws a radio button's ring in the palette's dark panel colours: on the dark theme it
# all but vanishes. A light ring and a filled dot keep Yes/No visible from the chair.
RADIO_STYLE = f"""
QRadioButton {{ color: {theme.TEXT}; spacing: 6px; }}
QRadioButton::indicator {{ width: 14px; height: 14px; border-radius: 9px;
                          border: 2px solid {theme.TEXT}; background: {theme.PANEL}; }}
QRadioButton::indicator:checked {{ background: {theme.SPO2}; border: 2px solid {theme.TEXT}; }}
QRadioButton::indicator:focus {{ border: 2px solid {theme.SPO2}; }}
"""


def unanswered_text(count: int) -> str:
    if count == 0:
        return "All questions answered"
    return f"{count} question{'s' if count != 1 else ''} not answered"


class EligibilityDialog(SubmitDialog):
    """Yes/No for each of the care plan's questions; an answer that is a concern is marked and
    a reason field appears (without a reason the concern blocks the dose)."""

    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__("Eligibility checklist", parent)
        self.setMinimumWidth(680)
        self.workstation = workstation
        workflow = workstation.workflow
        self.items: tuple[EligibilityItem, ...] = workflow.plan.eligibility
        self.groups: dict[str, QButtonGroup] = {}
        self.concern_labels: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        for row, item in enumerate(self.items):
            question = QLabel(item.question)
            question.setWordWrap(True)
            yes, no = QRadioButton("Yes"), QRadioButton("No")
            group = QButtonGroup(self)
            group.addButton(yes, 1)
            group.addButton(no, 0)
            group.idToggled.connect(lambda _id, _on: self._update_concerns())
            concern = QLabel()
            concern.setStyleSheet(f"color: {theme.PROMPT_DUE}; font-weight: bold;")
            # Room for the mark from the start: the columns do not shift when it appears.
            concern.setMinimumWidth(concern.fontMetrics().horizontalAdvance(CONCERN_TEXT) + 24)
            question.setBuddy(yes)
            grid.addWidget(question, row, 0)
            grid.addWidget(yes, row, 1)
            grid.addWidget(no, row, 2)
            grid.addWidget(concern, row, 3)
            self.groups[item.id] = group
            self.concern_labels[item.id] = concern
        grid.setColumnStretch(0, 1)
        box = QWidget()
        box.setStyleSheet(RADIO_STYLE)
        box.setLayout(grid)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(box)
        scroll.setMinimumHeight(min(520, 46 * len(self.items) + 20))
        self.reason_label = QLabel(
            "Reason for going ahead despite the concern(s) - recorded; without one the dose "
            "stays blocked:"
        )
        self.reason_label.setWordWrap(True)
        self.reason_edit = reason_edit("e.g. prescriber reviewed and approved")
        self.unanswered_label = QLabel()
        self.unanswered_label.setFont(theme.font(theme.BASE_PX, bold=True))
        self.form.addRow(QLabel(f"Care plan: {workflow.plan.name}. Answer every question."))
        self.form.addRow(scroll)
        self.form.addRow(self.unanswered_label)
        # The reason's room is kept while it is hidden, so the dialog does not grow, shrink or
        # move under the nurse's pointer when a concern comes or goes.
        reason_box = QWidget()
        reason_layout = QVBoxLayout(reason_box)
        reason_layout.setContentsMargins(0, 0, 0, 0)
        reason_layout.addWidget(self.reason_label)
        reason_layout.addWidget(self.reason_edit)
        reason_box.setMinimumHeight(reason_box.sizeHint().height()
                                    + self.reason_label.fontMetrics().height())
        self.form.addRow(reason_box)
        last = next((e for e in reversed(workflow.events)
                     if e.kind is WorkflowKind.ELIGIBILITY), None)
        if last is not None:  # a second pass starts from the recorded answers
            for item_id, answer in last.data["answers"].items():
                if item_id in self.groups:
                    self.answer(item_id, answer)
            self.reason_edit.setPlainText(last.data.get("override_reason", ""))
        self._update_concerns()

    def answer(self, item_id: str, yes: bool) -> None:
        self.groups[item_id].button(1 if yes else 0).setChecked(True)

    def answers(self) -> dict[str, bool]:
        """The questions answered so far (the workflow refuses a checklist with gaps)."""
        return {item_id: group.checkedId() == 1 for item_id, group in self.groups.items()
                if group.checkedId() != -1}

    def concerns(self) -> list[str]:
        """Ids of the answers shown as concerns."""
        answers = self.answers()
        return [item.id for item in self.items
                if item.id in answers and answers[item.id] != item.acceptable]

    def _update_concerns(self) -> None:
        missing = len(self.items) - len(self.answers())
        self.unanswered_label.setText(unanswered_text(missing))
        self.unanswered_label.setStyleSheet(
            f"color: {theme.PROMPT_DUE if missing else theme.WORKFLOW_OK};")
        concerns = set(self.concerns())
        for item_id, label in self.concern_labels.items():
            label.setText(CONCERN_TEXT if item_id in concerns else "")
        self.reason_label.setVisible(bool(concerns))
        self.reason_edit.setVisible(bool(concerns))

    def submit(self) -> None:
        reason = self.reason_edit.toPlainText() if self.concerns() else ""
        self.workstation.workflow.record_eligibility(self.answers(), reason)


class OverrideDialog(SubmitDialog):
    """The dose was refused for something that may be overridden: say why it is given anyway.
    ``give`` gives the dose with the reason (raising KatMonitorError if refused again)."""

    def __init__(self, problems: Sequence[str], give: Callable[[str], object],
                 parent: QWidget | None = None) -> None:
        super().__init__("Give the dose anyway?", parent)
        self.setMinimumWidth(560)
        self._give = give
        heading = QLabel("The dose is blocked:")
        heading.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
        self.problems_label = QLabel("\n".join(f"•  {p}" for p in problems))
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet(f"color: {theme.PROMPT_DUE}; font-weight: bold;")
        self.reason_edit = reason_edit("why the dose is given now (recorded with the dose)")
        self.form.addRow(heading)
        self.form.addRow(self.problems_label)
        reason_label = QLabel("&Reason for overriding:")
        reason_label.setBuddy(self.reason_edit)
        self.form.addRow(reason_label)
        self.form.addRow(self.reason_edit)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Give dose with override")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Do not give")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        self.reason_edit.setFocus()

    def problems(self) -> list[str]:
        return [line.removeprefix("•  ") for line in self.problems_label.text().splitlines()]

    def submit(self) -> None:
        self._give(self.reason_edit.toPlainText())
