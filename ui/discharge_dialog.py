"""Discharge: the checklist, the time the client would have been ready to leave, and - when
something is not met - the reason for discharging anyway. Submitting ends the session.

The workflow says which criteria it can judge from the record (ticked or not, with what it
found) and which the nurse confirms (checkboxes, pre-ticked when the record suggests them); it
refuses a discharge with unmet criteria and no reason.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QWidget,
)

from katmonitor.discharge import Criterion
from katmonitor.session import Session
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import SubmitDialog, from_qdatetime, local_time_text, time_edit
from ui.predose_dialogs import reason_edit

REFRESH_MS = 1000
MET, UNMET = "✓", "✗"


class DischargeDialog(SubmitDialog):
    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__("Discharge", parent)
        self.setMinimumWidth(680)
        self.workstation = workstation
        self.session: Session | None = None
        workflow = workstation.workflow
        current = workstation.session
        heading = QLabel(f"Discharge client {current.client_id}" if current else "Discharge")
        heading.setFont(theme.font(theme.HEADER_PX, bold=True))
        self.marks: dict[str, QLabel] = {}
        self.details: dict[str, QLabel] = {}
        self.checks: dict[str, QCheckBox] = {}
        self._criteria: list[Criterion] = []
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        for row, criterion in enumerate(workflow.discharge_criteria()):
            detail = QLabel()
            detail.setWordWrap(True)
            self.details[criterion.id] = detail
            if criterion.met is None:
                box = QCheckBox(criterion.label)
                box.setChecked(criterion.suggested)
                box.toggled.connect(lambda _on: self._update_unmet())
                self.checks[criterion.id] = box
                grid.addWidget(box, row, 0, 1, 2)
            else:
                mark = QLabel()
                mark.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
                self.marks[criterion.id] = mark
                grid.addWidget(mark, row, 0)
                grid.addWidget(QLabel(criterion.label), row, 1)
            grid.addWidget(detail, row, 2)
        grid.setColumnStretch(2, 1)
        criteria_box = QWidget()
        criteria_box.setLayout(grid)
        suggested = workflow.suggested_ready_to_leave()
        now = workstation.clock.now()
        # No time is suggested unless the record shows every criterion met at that time; the
        # nurse may still record one she observed (tick the box).
        self.ready_known = QCheckBox("&Record when the client would have been ready to leave")
        self.ready_known.setChecked(suggested.time is not None)
        self.ready_edit = time_edit(suggested.time if suggested.time is not None else now)
        self.ready_edit.setEnabled(suggested.time is not None)
        self.ready_known.toggled.connect(self.ready_edit.setEnabled)
        self.ready_hint = QLabel(
            f"Suggested {local_time_text(suggested.time, '%H:%M')}: the first assessment that "
            "found the client alert, not dissociated and breathing normally, with acceptable "
            "vital signs, and still so after"
            if suggested.time is not None else
            f"No time suggested: {suggested.reason}."
        )
        self.ready_hint.setWordWrap(True)
        self.ready_hint.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.unmet_label = QLabel()
        self.unmet_label.setWordWrap(True)
        self.unmet_label.setStyleSheet(f"color: {theme.PROMPT_DUE}; font-weight: bold;")
        self.reason_label = QLabel("&Reason for discharging with criteria not met (required, "
                                   "recorded):")
        self.reason_edit = reason_edit("e.g. transferred to the emergency department")
        self.reason_label.setBuddy(self.reason_edit)

        self.form.addRow(heading)
        self.form.addRow(criteria_box)
        self.form.addRow(self.ready_known)
        self.form.addRow("Ready to leave at:", self.ready_edit)
        self.form.addRow(self.ready_hint)
        self.form.addRow(self.unmet_label)
        self.form.addRow(self.reason_label)
        self.form.addRow(self.reason_edit)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(
            "Discharge and end session"
        )
        self.refresh_criteria()
        # The minimum elapses and vitals change while the dialog is open.
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh_criteria)
        self.timer.start()

    def refresh_criteria(self) -> None:
        if not self.workstation.recording:
            return
        self._criteria = self.workstation.workflow.discharge_criteria()
        for criterion in self._criteria:
            detail = self.details.get(criterion.id)
            if detail is not None:
                detail.setText(criterion.detail)
            mark = self.marks.get(criterion.id)
            if mark is not None and detail is not None and criterion.met is not None:
                mark.setText(MET if criterion.met else UNMET)
                colour = theme.WORKFLOW_OK if criterion.met else theme.ALARM
                mark.setStyleSheet(f"color: {colour};")
                detail.setStyleSheet(f"color: {colour if not criterion.met else theme.TEXT};")
        self._update_unmet()

    def unmet(self) -> list[str]:
        """The criteria shown as not met: judged unmet, or not confirmed by the nurse."""
        return [c.label for c in self._criteria
                if c.met is False or (c.met is None and not self.checks[c.id].isChecked())]

    def criterion_texts(self) -> dict[str, str]:
        """What each row shows: "✓ ...", "✗ ..." or "[x] ..." / "[ ] ..." (for tests)."""
        shown = {}
        for c in self._criteria:
            if c.id in self.checks:
                tick = "[x]" if self.checks[c.id].isChecked() else "[ ]"
            else:
                tick = self.marks[c.id].text()
            shown[c.id] = f"{tick} {c.label} — {self.details[c.id].text()}".rstrip(" —")
        return shown

    def _update_unmet(self) -> None:
        unmet = self.unmet()
        self.unmet_label.setText("Not met: " + "; ".join(unmet) if unmet else
                                 "All discharge criteria met")
        self.unmet_label.setStyleSheet(
            f"color: {theme.PROMPT_DUE if unmet else theme.WORKFLOW_OK}; font-weight: bold;"
        )
        self.reason_label.setVisible(bool(unmet))
        self.reason_edit.setVisible(bool(unmet))

    def confirm(self, criterion_id: str, confirmed: bool = True) -> None:
        self.checks[criterion_id].setChecked(confirmed)

    def submit(self) -> None:
        confirmed = {cid for cid, box in self.checks.items() if box.isChecked()}
        # The workflow judges again now and keeps the reason only if something is unmet.
        self.session = self.workstation.workflow.discharge(
            confirmed,
            from_qdatetime(self.ready_edit.dateTime()) if self.ready_known.isChecked() else None,
            self.reason_edit.toPlainText()
        )
