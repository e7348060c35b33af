"""A structured observation at the bedside: MOAA/S, CADSS (the care plan's form), nausea and
vomiting, anxiety, respiratory status, who from the therapy team is present, and free text.

Every field may be left "not assessed"; the workflow validates the entry and stores it on the
session's timeline. An assessment with MOAA/S or CADSS completes the schedule's assessment
prompt by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QWidget,
)

from katmonitor.assessments import (
    ANXIETY_CHOICES,
    CADSS_ITEM_HINTS,
    CADSS_SCORES,
    MOAAS_LEVELS,
    NAUSEA_CHOICES,
    RESPIRATORY_CHOICES,
    RESPIRATORY_LABELS,
    cadss_items,
    make_assessment,
)
from katmonitor.session import Observation
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import SubmitDialog, from_qdatetime, time_edit

NOT_ASSESSED = "not assessed"
NAUSEA_LABELS = {"none": "None", "nausea": "Nausea", "vomiting": "Vomiting"}
CADSS_FORM_NAMES = {"cadss6": "CADSS-6", "cadss23": "CADSS (23 items)"}


def choice_combo(choices: Mapping[Any, str]) -> QComboBox:
    """A combo whose first entry is "not assessed" (data None)."""
    combo = QComboBox()
    combo.addItem(NOT_ASSESSED, None)
    for value, label in choices.items():
        combo.addItem(label, value)
    return combo


def select(combo: QComboBox, value: object) -> None:
    index = combo.findData(value)
    if index < 0:
        raise ValueError(f"{value!r} is not a choice")
    combo.setCurrentIndex(index)


class AssessmentDialog(SubmitDialog):
    def __init__(self, workstation: Workstation, parent: QWidget | None = None) -> None:
        super().__init__("Assessment", parent)
        self.setMinimumWidth(640)
        self.workstation = workstation
        self.observation: Observation | None = None
        workflow = workstation.workflow
        self.cadss_form = workflow.plan.cadss_form
        self.time_edit = time_edit(workstation.clock.now())
        self.moaas_combo = choice_combo(
            {level: f"{level} — {text}" for level, text in MOAAS_LEVELS.items()}
        )
        scores = {score: f"{score}  {label}" for score, label in CADSS_SCORES.items()}
        self.cadss_combos: dict[int, QComboBox] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        for row, item in enumerate(cadss_items(self.cadss_form)):
            hint = CADSS_ITEM_HINTS.get(item, "")
            label = QLabel(f"Item {item}" + (f": {hint}" if hint else ""))
            label.setWordWrap(True)
            combo = choice_combo(scores)
            combo.currentIndexChanged.connect(lambda _i: self._update_total())
            label.setBuddy(combo)
            grid.addWidget(label, row, 0)
            grid.addWidget(combo, row, 1)
            self.cadss_combos[item] = combo
        grid.setColumnStretch(0, 1)
        cadss_box = QWidget()
        cadss_box.setLayout(grid)
        self.cadss_total_label = QLabel()
        self.cadss_total_label.setFont(theme.font(theme.BASE_PX, bold=True))
        self.nausea_combo = choice_combo({c: NAUSEA_LABELS[c] for c in NAUSEA_CHOICES})
        self.anxiety_combo = choice_combo({c: c.capitalize() for c in ANXIETY_CHOICES})
        self.respiratory_combo = choice_combo(
            {c: RESPIRATORY_LABELS[c] for c in RESPIRATORY_CHOICES}
        )
        earlier = [a.therapist_present for _t, a in workflow.assessments()
                   if a.therapist_present]
        self.therapist_edit = QLineEdit(earlier[-1] if earlier else "")
        self.therapist_edit.setPlaceholderText("name of the therapist in the room, if any")
        self.text_edit = QPlainTextEdit()
        self.text_edit.setTabChangesFocus(True)
        self.text_edit.setFixedHeight(90)

        self.form.addRow("&Time:", self.time_edit)
        self.form.addRow("&MOAA/S:", self.moaas_combo)
        cadss_title = QLabel(f"{CADSS_FORM_NAMES.get(self.cadss_form, self.cadss_form)} — each "
                             "item 0 (not at all) to 4 (extremely), from your CADSS form")
        cadss_title.setWordWrap(True)
        cadss_title.setFont(theme.font(theme.BASE_PX, bold=True))
        self.form.addRow(cadss_title)
        if len(self.cadss_combos) > 8:  # the full scale scrolls; CADSS-6 fits
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(cadss_box)
            scroll.setMinimumHeight(300)
            self.form.addRow(scroll)
        else:
            self.form.addRow(cadss_box)
        self.form.addRow(self.cadss_total_label)
        self.form.addRow("&Nausea/vomiting:", self.nausea_combo)
        self.form.addRow("An&xiety:", self.anxiety_combo)
        self.form.addRow("&Respiratory:", self.respiratory_combo)
        self.form.addRow("T&herapist present:", self.therapist_edit)
        self.form.addRow("N&otes:", self.text_edit)
        self._update_total()

    # -- entry (tests fill the dialog through these, as a nurse would with the mouse) ----------

    def set_moaas(self, level: int | None) -> None:
        select(self.moaas_combo, level)

    def set_cadss(self, item: int, score: int | None) -> None:
        select(self.cadss_combos[item], score)

    def cadss_scores(self) -> dict[int, int]:
        return {item: combo.currentData() for item, combo in self.cadss_combos.items()
                if combo.currentData() is not None}

    def _update_total(self) -> None:
        scores = self.cadss_scores()
        if not scores:
            self.cadss_total_label.setText("CADSS: not assessed")
            return
        self.cadss_total_label.setText(
            f"CADSS total {sum(scores.values())} ({len(scores)} of {len(self.cadss_combos)} "
            "items)"
        )

    def submit(self) -> None:
        scores = self.cadss_scores()
        assessment = make_assessment(
            moaas=self.moaas_combo.currentData(),
            cadss_form=self.cadss_form if scores else None,
            cadss=scores,
            nausea=self.nausea_combo.currentData(),
            anxiety=self.anxiety_combo.currentData(),
            respiratory=self.respiratory_combo.currentData(),
            therapist_present=self.therapist_edit.text(),
        )
        self.observation = self.workstation.workflow.add_assessment(
            assessment, self.text_edit.toPlainText(),
            time=from_qdatetime(self.time_edit.dateTime()),
        )
