"""Dose entry by route, and the end of a tablet or lozenge.

- Intranasal spray: one entry per spray device, with its own lot; the rest between devices is
  counted down in the dialog and the workflow refuses the next device until it is over.
- Sublingual/oral tablet or lozenge: mg, count, lot; later "swallowed" or "spat" with its time.
- IM/IV: the client's weight, and either mg/kg (the mg are computed) or mg (the mg/kg shown).

The workflow decides whether the dose may be given. A refusal that may be overridden (the
pre-dose gate, the spray rest) opens the override dialog, which asks for the recorded reason.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from katmonitor.base.errors import KatMonitorError
from katmonitor.dose_totals import unit_count_text
from katmonitor.policy import (
    MAX_DOSE_MG,
    MAX_MG_PER_KG,
    MAX_WEIGHT_KG,
    WEIGHT_ROUTES,
    dose_mg_for_weight,
)
from katmonitor.session import DoseEvent, Route
from katmonitor.workflow import DoseBlockedError
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import LiveTimeEdit, SubmitDialog, local_time_text, operator_label
from ui.predose_dialogs import OverrideDialog

STATUS_REFRESH_MS = 1000
ORAL_ACTION_LABELS = {"swallowed": "&Swallowed", "spat": "S&pat out"}


def format_countdown(seconds: float) -> str:
    """ "4:59", "1:05:00": whole seconds, rounded up so 0:00 means it is over."""
    s = max(0, math.ceil(seconds - 1e-9))
    hours, minutes, secs = s // 3600, s // 60 % 60, s % 60
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def dose_readiness(workstation: Workstation) -> tuple[str, str]:
    """What the workflow says about giving a dose now, and the colour to show it in."""
    if not workstation.recording:
        return "", theme.TEXT_DIM
    workflow = workstation.workflow
    if workflow.anchor is None:
        blockers = workflow.predose_blockers()
        if blockers:
            return "Dose blocked: " + "; ".join(blockers), theme.ALARM
        gate = workflow.gate()
        if not gate.passed:
            return ("Gate not passed: " + "; ".join(gate.problems)
                    + ". Dosing now needs an override reason."), theme.PROMPT_DUE
        return "Gate passed: ready for the first dose", theme.WORKFLOW_OK
    rest = workflow.spray_rest_remaining()
    if rest > 0:
        return (f"Rest between spray devices: {format_countdown(rest)} left. The next device "
                "needs an override reason until then."), theme.PROMPT_DUE
    return "Ready for the next dose", theme.WORKFLOW_OK


def dose_text(dose: DoseEvent) -> str:
    parts = [f"{dose.dose_mg:g} mg, {unit_count_text(dose.route, dose.unit_count)}"]
    if dose.mg_per_kg is not None:
        parts.append(f"{dose.mg_per_kg:.2f} mg/kg ({dose.weight_kg:g} kg)")
    if dose.lot:
        parts.append(f"lot {dose.lot}")
    return " · ".join(parts)


class DoseDialog(SubmitDialog):
    """What every route records (time, lot, who gave it, a note) around the route's own
    fields; subclasses add those fields and say what the entry is (``dose_entry``)."""

    title = "Add dose"

    def __init__(self, workstation: Workstation, *, given_by: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(self.title, parent)
        self.workstation = workstation
        self.dose: DoseEvent | None = None
        self.override_dialog: OverrideDialog | None = None
        session = workstation.session
        self.route = session.route if session is not None else Route.INTRANASAL
        self.setMinimumWidth(560)
        heading = QLabel("" if session is None else
                         f"{session.medicine} · {self.route.label} · client {session.client_id}")
        heading.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setFont(theme.font(theme.BASE_PX, bold=True))
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        # Above the form: a wrapped label in a form row does not get the height it needs.
        layout.insertWidget(0, heading)
        layout.insertWidget(1, self.status_label)
        self.time_edit = LiveTimeEdit(workstation.clock)
        self.form.addRow("&Time:", self.time_edit)
        self.add_route_fields()
        self.lot_edit = QLineEdit(self.previous_lot())
        self.lot_edit.setPlaceholderText("from the pack" + (" (if any)" if self.route is Route.IV
                                                           else ""))
        self.given_by_edit = QLineEdit(given_by)
        self.given_by_edit.setPlaceholderText(operator_label(workstation) or "who gave it")
        self.note_edit = QLineEdit()
        self.form.addRow("&Lot:", self.lot_edit)
        self.form.addRow("&Given by:", self.given_by_edit)
        self.form.addRow("N&ote:", self.note_edit)
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(STATUS_REFRESH_MS)
        self.status_timer.timeout.connect(self.refresh_status)
        self.status_timer.start()
        self.refresh_status()

    def previous_lot(self) -> str:
        """The lot of this session's last dose of the same medicine by the same route: the
        second device of a pack usually comes from the same lot, so it is offered again (the
        nurse checks it against the device and changes it if it differs)."""
        session = self.workstation.session
        if session is None or not self.workstation.recording:
            return ""
        same = [d for d in self.workstation.workflow.doses()
                if d.medicine == session.medicine and d.route is session.route and d.lot]
        return max(same, key=lambda d: (d.time, d.id)).lot if same else ""

    def add_route_fields(self) -> None:
        raise NotImplementedError

    def dose_entry(self) -> tuple[float, int, float | None]:
        """(mg, number of devices/tablets/injections, weight kg or None)."""
        raise NotImplementedError

    def refresh_status(self) -> None:
        text, colour = dose_readiness(self.workstation)
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {colour};")
        self.status_label.setVisible(bool(text))

    def submit(self) -> None:
        self.give("")

    def give(self, override_reason: str) -> DoseEvent:
        dose_mg, count, weight = self.dose_entry()
        self.dose = self.workstation.add_dose(
            dose_mg, count, self.lot_edit.text(), self.given_by_edit.text(),
            time=self.time_edit.time_value(), note=self.note_edit.text().strip(),
            weight_kg=weight, override_reason=override_reason,
        )
        return self.dose

    def refused(self, error: KatMonitorError) -> None:
        if isinstance(error, DoseBlockedError) and error.overridable:
            self.override_dialog = OverrideDialog(error.blockers, self.give, self)
            self.override_dialog.accepted.connect(self.finish)
            self.override_dialog.open()


class SprayDoseDialog(DoseDialog):
    """One spray device per entry: the care plan's mg per device, the device's own lot."""

    title = "Give a spray device"

    def add_route_fields(self) -> None:
        workflow = self.workstation.workflow
        self.device_mg = workflow.route_plan.spray_device_mg or 0.0
        given = sum(d.unit_count for d in workflow.doses())
        self.device_label = QLabel(f"Device {given + 1}: one device, {self.device_mg:g} mg")
        self.device_label.setFont(theme.font(theme.BASE_PX, bold=True))
        self.form.addRow("Device:", self.device_label)

    def dose_entry(self) -> tuple[float, int, float | None]:
        return self.device_mg, 1, None


class AmountDoseDialog(DoseDialog):
    """mg and how many tablets/lozenges (or devices, when the plan sets no mg per device)."""

    title = "Add dose"

    def add_route_fields(self) -> None:
        self.dose_spin = QDoubleSpinBox()
        self.dose_spin.setRange(0.0, MAX_DOSE_MG)  # the core decides what is plausible
        self.dose_spin.setDecimals(1)
        self.dose_spin.setSuffix(" mg")
        self.count_spin = QSpinBox()
        self.count_spin.setRange(0, 99)
        self.count_spin.setValue(1)
        self.form.addRow("&Dose:", self.dose_spin)
        self.form.addRow(f"&Number of {self.route.unit_name}:", self.count_spin)

    def dose_entry(self) -> tuple[float, int, float | None]:
        return self.dose_spin.value(), self.count_spin.value(), None


class WeightDoseDialog(DoseDialog):
    """IM/IV: the weight, then mg/kg (mg computed) or mg (mg/kg shown)."""

    title = "Add dose"

    def add_route_fields(self) -> None:
        last = [d.weight_kg for d in self.workstation.workflow.doses() if d.weight_kg]
        self.weight_spin = QDoubleSpinBox()
        self.weight_spin.setRange(0.0, MAX_WEIGHT_KG)
        self.weight_spin.setDecimals(1)
        self.weight_spin.setSuffix(" kg")
        self.weight_spin.setSpecialValueText("not entered")
        self.weight_spin.setValue(last[-1] if last else 0.0)
        self.per_kg_radio = QRadioButton("mg/&kg")
        self.mg_radio = QRadioButton("m&g")
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.per_kg_radio)
        self.mode_group.addButton(self.mg_radio)
        self.per_kg_radio.setChecked(True)
        modes = QHBoxLayout()
        modes.addWidget(self.per_kg_radio)
        modes.addWidget(self.mg_radio)
        modes.addStretch(1)
        self.per_kg_spin = QDoubleSpinBox()
        self.per_kg_spin.setRange(0.0, MAX_MG_PER_KG)
        self.per_kg_spin.setDecimals(2)
        self.per_kg_spin.setSingleStep(0.05)
        self.per_kg_spin.setSuffix(" mg/kg")
        self.dose_spin = QDoubleSpinBox()
        self.dose_spin.setRange(0.0, MAX_DOSE_MG)
        self.dose_spin.setDecimals(1)
        self.dose_spin.setSuffix(" mg")
        self.computed_label = QLabel()
        self.computed_label.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
        self.count_spin = QSpinBox()
        self.count_spin.setRange(0, 99)
        self.count_spin.setValue(1)
        self.form.addRow("&Weight:", self.weight_spin)
        self.form.addRow("Enter the dose in:", modes)
        self.form.addRow("Dose per kg:", self.per_kg_spin)
        self.form.addRow("&Dose:", self.dose_spin)
        self.form.addRow("", self.computed_label)
        self.form.addRow(f"&Number of {self.route.unit_name}:", self.count_spin)
        for spin in (self.weight_spin, self.per_kg_spin, self.dose_spin):
            spin.valueChanged.connect(lambda _v: self._recompute())
        self.per_kg_radio.toggled.connect(lambda _on: self._recompute())
        self._recompute()

    def by_weight(self) -> bool:
        return self.per_kg_radio.isChecked()

    def _recompute(self) -> None:
        by_weight = self.by_weight()
        self.per_kg_spin.setReadOnly(not by_weight)
        self.dose_spin.setReadOnly(by_weight)
        weight = self.weight_spin.value()
        if by_weight:
            mg = dose_mg_for_weight(self.per_kg_spin.value(), weight)
            self.dose_spin.blockSignals(True)
            self.dose_spin.setValue(mg)
            self.dose_spin.blockSignals(False)
        elif weight > 0:
            self.per_kg_spin.blockSignals(True)
            self.per_kg_spin.setValue(self.dose_spin.value() / weight)
            self.per_kg_spin.blockSignals(False)
        if weight <= 0:
            self.computed_label.setText("Enter the client's weight")
        else:
            mg = self.dose_spin.value()
            self.computed_label.setText(
                f"{mg:g} mg = {mg / weight:.2f} mg/kg × {weight:g} kg"
            )

    def dose_entry(self) -> tuple[float, int, float | None]:
        weight = self.weight_spin.value()
        return self.dose_spin.value(), self.count_spin.value(), weight if weight > 0 else None


def dose_dialog_for(workstation: Workstation, *, given_by: str = "",
                    parent: QWidget | None = None) -> DoseDialog:
    """The dose dialog for the running session's route."""
    session = workstation.session
    route = session.route if session is not None else None
    if route is Route.INTRANASAL and workstation.workflow.route_plan.spray_device_mg:
        return SprayDoseDialog(workstation, given_by=given_by, parent=parent)
    if route in WEIGHT_ROUTES:
        return WeightDoseDialog(workstation, given_by=given_by, parent=parent)
    return AmountDoseDialog(workstation, given_by=given_by, parent=parent)


class OralCompleteDialog(SubmitDialog):
    """A tablet or lozenge was swallowed or spat out, and when."""

    def __init__(self, workstation: Workstation, dose: DoseEvent,
                 parent: QWidget | None = None) -> None:
        super().__init__("Tablet/lozenge swallowed or spat", parent)
        self.workstation = workstation
        self.dose = dose
        given = QLabel(f"{dose_text(dose)}, given {local_time_text(dose.time, '%H:%M')}")
        given.setWordWrap(True)
        given.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
        self.action_group = QButtonGroup(self)
        self.action_radios: dict[str, QRadioButton] = {}
        actions = QHBoxLayout()
        for action, label in ORAL_ACTION_LABELS.items():
            radio = QRadioButton(label)
            self.action_group.addButton(radio)
            self.action_radios[action] = radio
            actions.addWidget(radio)
        actions.addStretch(1)
        self.time_edit = LiveTimeEdit(workstation.clock)
        self.form.addRow(given)
        self.form.addRow("The tablet was:", actions)
        self.form.addRow("&Time:", self.time_edit)

    def choose(self, action: str) -> None:
        self.action_radios[action].setChecked(True)

    def action(self) -> str:
        return next((a for a, radio in self.action_radios.items() if radio.isChecked()), "")

    def submit(self) -> None:
        self.workstation.workflow.record_oral_complete(
            self.dose, self.action(), time=self.time_edit.time_value()
        )
