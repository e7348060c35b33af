"""Alarm limits for this session: adjust a limit within the profile's bounds (with a reason),
switch a parameter's alarms off or on where the profile allows it.

The dialog offers what the profile lists; the core decides (``Workstation.adjust_limit`` and
``set_alarm_off``) and its refusals are shown in the dialog. Its top lists every parameter's
effective limits at once (the tiles show them too), so changing one is done knowing the others.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QLineEdit, QWidget

from katmonitor.alarms.wording import kind_label, limits_text
from katmonitor.base.vitals import VitalKind, spec_of
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import SubmitDialog


class AlarmLimitsDialog(SubmitDialog):
    def __init__(self, workstation: Workstation, user: str,
                 parent: QWidget | None = None) -> None:
        super().__init__("Alarm limits for this session", parent)
        self.workstation = workstation
        self.user = user
        self.changed = False
        engine = workstation.alarm_engine
        self._rules = engine.profile.parameters
        self.parameter_combo = QComboBox()
        for kind in self._rules:
            self.parameter_combo.addItem(spec_of(kind).label, kind)
        self.bound_combo = QComboBox()
        self.bound_combo.addItem("Low limit", "low")
        self.bound_combo.addItem("High limit", "high")
        self.value_spin = QDoubleSpinBox()
        self.value_spin.setDecimals(0)
        self.value_spin.setRange(0, 400)
        self.current_label = QLabel()
        self.current_label.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.change_check = QCheckBox("Change this limit")
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("why (recorded)")
        self.off_check = QCheckBox("Alarms of this parameter OFF")
        self.overview_label = QLabel(self.overview_text())
        self.overview_label.setStyleSheet(f"color: {theme.TEXT};")
        self.form.addRow("All limits now:", self.overview_label)
        self.form.addRow("&Parameter:", self.parameter_combo)
        self.form.addRow("&Limit:", self.bound_combo)
        self.form.addRow("", self.current_label)
        self.form.addRow("", self.change_check)
        self.form.addRow("&New value:", self.value_spin)
        self.form.addRow("&Reason:", self.reason_edit)
        self.form.addRow("", self.off_check)
        self.parameter_combo.currentIndexChanged.connect(self._update)
        self.bound_combo.currentIndexChanged.connect(self._update)
        self._update()

    def overview_text(self) -> str:
        """One line per parameter: "SpO2  low 90 %", "HR  50-120 bpm", "PR  alarms OFF"."""
        engine = self.workstation.alarm_engine
        off = engine.alarms_off()
        lines = []
        for kind, (low, high) in engine.limits().items():
            text = ("alarms OFF" if str(kind) in off
                    else f"{limits_text(kind, low, high)} {spec_of(kind).unit}")
            lines.append(f"{kind_label(kind)}  {text}")
        return "\n".join(lines)

    def kind(self) -> VitalKind:
        return self.parameter_combo.currentData()

    def bound(self) -> str:
        return self.bound_combo.currentData()

    def select(self, kind: VitalKind, bound: str) -> None:
        self.parameter_combo.setCurrentIndex(self.parameter_combo.findData(kind))
        self.bound_combo.setCurrentIndex(self.bound_combo.findData(bound))

    def _update(self) -> None:
        kind, bound = self.kind(), self.bound()
        rule = self._rules[kind]
        limits = self.workstation.alarm_engine.limits().get(kind, (None, None))
        current = limits[0 if bound == "low" else 1]
        allowed = rule.adjust_low if bound == "low" else rule.adjust_high
        unit = spec_of(kind).unit
        text = f"Now: {'none' if current is None else f'{current:g} {unit}'}"
        text += (f"; allowed {allowed[0]:g}-{allowed[1]:g} {unit}" if allowed
                 else "; not adjustable in this profile")
        self.current_label.setText(text)
        if current is not None:
            self.value_spin.setValue(current)
        self.change_check.setEnabled(allowed is not None)
        self.off_check.setEnabled(rule.may_switch_off)
        self.off_check.setChecked(str(kind) in self.workstation.alarm_engine.alarms_off())
        self.off_check.setToolTip("" if rule.may_switch_off
                                  else "the alarm profile does not allow it")

    def submit(self) -> None:
        kind = self.kind()
        if self.change_check.isChecked():
            self.workstation.adjust_limit(kind, self.bound(), self.value_spin.value(), self.user,
                                          self.reason_edit.text())
            self.changed = True
        off = self.off_check.isChecked()
        if self.off_check.isEnabled() and off != (
                str(kind) in self.workstation.alarm_engine.alarms_off()):
            self.workstation.set_alarm_off(kind, off, self.user)
            self.changed = True

