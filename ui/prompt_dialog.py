"""Mark a schedule prompt done without its measurement in the record (e.g. a blood pressure
taken with a manual cuff), with the reason, which is required. Readings and assessments
complete their prompts by themselves; a prompt marked by hand stays "without measurement"."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox, QLabel, QLineEdit, QWidget

from katmonitor.clinical_schedule import Prompt
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import SubmitDialog, local_time_text


class PromptDoneDialog(SubmitDialog):
    def __init__(self, workstation: Workstation, prompt: Prompt,
                 parent: QWidget | None = None) -> None:
        super().__init__("Mark prompt done", parent)
        self.workstation = workstation
        self.prompt = prompt
        label = QLabel(f"{prompt.label}, due {local_time_text(prompt.due_at, '%H:%M')} "
                       f"({prompt.state.value})")
        label.setWordWrap(True)
        label.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("e.g. manual cuff 138/86, monitor cuff failed")
        explain = QLabel("A reading or an assessment in the record completes this prompt by "
                         "itself. Marked here, it stays \"done without measurement\".")
        explain.setWordWrap(True)
        explain.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.form.addRow(label)
        self.form.addRow(explain)
        self.form.addRow("&Reason (required):", self.note_edit)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(
            "Mark done without measurement")

    def submit(self) -> None:
        self.workstation.workflow.complete_prompt(self.prompt.id, self.note_edit.text())
