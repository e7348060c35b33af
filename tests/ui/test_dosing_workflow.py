"""The nurse's dosing workflow through the real window: a real Workstation and SQLite database,
readings fed as a monitor delivers them, and a ManualClock the test moves. Each test checks
what the nurse would see (text, colours, countdowns) and what ends up in the record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dosing_helpers import (
    MIN,
    complete_predose,
    dose_now,
    feed_vitals,
    sign_in_nurse,
    start_session,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from katmonitor.assessments import make_assessment
from katmonitor.base.clock import ManualClock
from katmonitor.base.errors import DatabaseError
from katmonitor.care_plan import load_care_plan
from katmonitor.session import Route, SessionStatus, WorkflowKind
from katmonitor.storage.database import Database
from katmonitor.storage.store import SessionStore
from ui import theme
from ui.assessment_dialog import AssessmentDialog
from ui.dialogs import local_time_text, to_qdatetime
from ui.discharge_dialog import DischargeDialog
from ui.dose_dialogs import (
    AmountDoseDialog,
    OralCompleteDialog,
    SprayDoseDialog,
    WeightDoseDialog,
)
from ui.main_window import MainWindow
from ui.predose_dialogs import EligibilityDialog, IdentityDialog
from ui.prompt_dialog import PromptDoneDialog

MakeWindow = Callable[..., MainWindow]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def window(make_window: MakeWindow, clock: ManualClock) -> MainWindow:
    """No devices (readings are fed by the test), no sound."""
    return make_window([], clock=clock, audio=False)


def events(database: Database, window: MainWindow, kind: WorkflowKind) -> list:
    session = window.workstation.session
    assert session is not None
    return [e for e in SessionStore(database).workflow_events(session.id) if e.kind is kind]


def row(window: MainWindow, prompt_id: str) -> str:
    panel = window.workflow_panel
    [text] = [t for p, t in zip(panel.prompts(), panel.prompt_rows(), strict=True)
              if p.id == prompt_id]
    return text


def tick(window: MainWindow, clock: ManualClock, seconds: float = 1.0) -> None:
    """Time passes and the window draws its next frame."""
    clock.advance(seconds)
    window.refresh()


def test_predose_checks_then_the_gate_blocks_the_dose_until_overridden_with_a_reason(
        qtbot: QtBot, window: MainWindow, clock: ManualClock, database: Database) -> None:
    ws = window.workstation
    panel = window.workflow_panel
    sign_in_nurse(ws)
    start_session(window)
    window.refresh()
    assert panel.stage_label.text() == "Before the first dose"
    assert panel.identity_label.text() == "✗ Identity not checked"
    assert panel.eligibility_label.text() == "✗ Eligibility checklist not done"
    assert panel.gate_label.text().startswith("✗ GATE NOT PASSED")
    assert "no pre-dose blood pressure" in panel.gate_label.text()
    assert panel.readiness_label.text().startswith("Dose blocked: check the client's identity")

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    identity = window.findChild(IdentityDialog)
    assert identity is not None and identity.isVisible()
    identity.accept()
    assert identity.error() == "say how the identity was checked"
    identity.method_combo.setCurrentIndex(0)
    identity.accept()
    assert identity.error() == ""
    window.refresh()
    checked_at = local_time_text(clock.now(), "%H:%M")
    assert panel.identity_label.text() == (
        f"✓ Identity checked {checked_at}: Name and date of birth checked against photo ID"
    )

    qtbot.keyClick(window, Qt.Key.Key_E,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    eligibility = window.findChild(EligibilityDialog)
    assert eligibility is not None and eligibility.isVisible()
    items = ws.workflow.plan.eligibility
    assert [eligibility.groups[i.id].checkedId() for i in items] == [-1] * len(items)
    for item in items:
        eligibility.answer(item.id, item.acceptable)
    assert eligibility.reason_edit.isHidden(), "no concern: no reason asked"
    eligibility.answer("benzodiazepines", True)
    assert eligibility.concern_labels["benzodiazepines"].text() == "⚠ concern"
    assert not eligibility.reason_edit.isHidden()
    eligibility.accept()  # recorded, but the concern still blocks the dose
    window.refresh()
    assert panel.eligibility_label.text() == \
        "✗ Eligibility concerns (benzodiazepines): no reason recorded"
    assert "eligibility concerns need a recorded reason" in panel.readiness_label.text()

    again = panel.check_eligibility()
    assert again.answers()["benzodiazepines"] is True, "the recorded answers come back"
    again.reason_edit.setPlainText("lorazepam 0.5 mg PRN; prescriber approved")
    again.accept()
    assert again.error() == ""

    feed_vitals(ws, systolic=152, diastolic=94, hr=104)
    window.refresh()
    assert panel.eligibility_label.text().startswith("⚠ Eligibility concerns")
    gate_text = panel.gate_label.text()
    assert "GATE NOT PASSED" in gate_text and "systolic 152 mmHg is above 140" in gate_text
    assert "heart rate 104/min is above 100" in gate_text
    assert panel.baseline_label.text() == \
        "Pre-dose vitals: BP 152/94 mmHg (0 s ago) · HR 104/min · SpO2 98 %"
    assert "needs an override reason" in panel.readiness_label.text()

    dialog = window.session_panel.add_dose()
    assert isinstance(dialog, SprayDoseDialog)
    assert dialog.device_label.text() == "Device 1: one device, 28 mg"
    assert dialog.status_label.text().startswith("Gate not passed: systolic 152")
    dialog.lot_edit.setText("LOT-1")
    dialog.accept()
    assert dialog.isVisible()
    assert "the dose cannot be given yet: systolic 152 mmHg is above 140" in dialog.error()
    override = dialog.override_dialog
    assert override is not None and override.isVisible()
    assert override.problems() == ["systolic 152 mmHg is above 140",
                                   "diastolic 94 mmHg is above 90",
                                   "heart rate 104/min is above 100"]
    override.accept()  # no reason: still refused
    assert "record a reason to override" in override.error()
    session = ws.session
    assert session is not None
    assert SessionStore(database).doses(session.id) == []

    override.reason_edit.setPlainText("prescriber reviewed; anxious client, repeat BP 30 min")
    override.accept()
    assert override.error() == ""
    assert not dialog.isVisible() and not override.isVisible()
    [dose] = SessionStore(database).doses(session.id)
    assert dose.lot == "LOT-1" and dose.dose_mg == 28 and dose.given_by == "rn.lee (test)"
    assert "override: prescriber reviewed" in dose.note
    [gate] = events(database, window, WorkflowKind.GATE)
    assert gate.data["override_reason"] == "prescriber reviewed; anxious client, repeat BP 30 min"
    assert not gate.data["passed"] and len(gate.data["overridden"]) == 3
    window.refresh()
    assert panel.stage_label.text().startswith("Dosed")
    assert panel.gate_record_label.text() == ("⚠ Gate overridden at the first dose: prescriber "
                                              "reviewed; anxious client, repeat BP 30 min")


def test_a_passed_gate_doses_without_asking(window: MainWindow, database: Database) -> None:
    ws = window.workstation
    sign_in_nurse(ws)
    start_session(window)
    complete_predose(ws)
    feed_vitals(ws)
    window.refresh()
    assert window.workflow_panel.gate_label.text() == "✓ GATE PASSED"
    assert window.workflow_panel.readiness_label.text() == \
        "Gate passed: ready for the first dose"
    dialog = window.session_panel.add_dose()
    dialog.lot_edit.setText("LOT-9")
    dialog.accept()
    assert dialog.error() == "" and dialog.override_dialog is None
    [gate] = events(database, window, WorkflowKind.GATE)
    assert gate.data["passed"] and gate.data["override_reason"] == ""


def test_the_spray_rest_is_counted_down_and_the_next_device_waits_for_it(
        window: MainWindow, clock: ManualClock, database: Database) -> None:
    panel = window.workflow_panel
    first = dose_now(window)
    assert panel.rest_label.text() == "5:00 left" and panel.rest_label.isVisible()
    assert panel.rest_label.font().pixelSize() >= 30, "readable from the chair"
    assert f"color: {theme.PROMPT_DUE}" in panel.rest_label.styleSheet()
    tick(window, clock, 2 * MIN)
    assert panel.rest_label.text() == "3:00 left"
    tick(window, clock, 1)
    assert panel.rest_label.text() == "2:59 left"

    dialog = window.session_panel.add_dose()
    assert isinstance(dialog, SprayDoseDialog)
    assert dialog.device_label.text() == "Device 2: one device, 28 mg"
    assert dialog.status_label.text().startswith("Rest between spray devices: 2:59 left")
    dialog.lot_edit.setText("LOT-2")
    dialog.accept()
    assert "of the 5 min rest between spray devices remain" in dialog.error()
    assert dialog.override_dialog is not None
    dialog.override_dialog.reject()  # the nurse waits, the dialog open
    session = window.workstation.session
    assert session is not None
    assert [d.lot for d in SessionStore(database).doses(session.id)] == ["LOT-1"]

    tick(window, clock, 3 * MIN)
    assert panel.rest_label.isHidden(), "the countdown goes when the rest is over"
    assert panel.readiness_label.text() == "Ready for the next dose"
    dialog.refresh_status()
    assert dialog.status_label.text() == "Ready for the next dose"
    dialog.accept()
    assert dialog.error() == ""
    doses = SessionStore(database).doses(session.id)
    assert [(d.lot, d.dose_mg, d.unit_count) for d in doses] == [("LOT-1", 28, 1),
                                                                 ("LOT-2", 28, 1)]
    assert doses[1].time == clock.now() == first.time + 5 * MIN + 1, \
        "given when OK was pressed, not when the dialog opened"
    window.refresh()
    assert panel.rest_label.text() == "5:00 left", "the rest restarts per device"
    assert "lot LOT-2" in panel.doses_label.text()


def test_the_40_minute_bp_recheck_turns_due_overdue_escalated_until_a_reading_comes(
        window: MainWindow, clock: ManualClock, database: Database) -> None:
    panel = window.workflow_panel
    dose = dose_now(window)
    assert "BP re-check 40 min after dose — upcoming" in row(window, "bp_recheck")
    assert panel.minimum_label.text() == "2:00:00 left"

    clock.set(dose.time + 36 * MIN)
    window.refresh()
    assert row(window, "bp_recheck").endswith("— DUE")
    assert panel.prompt_colours("bp_recheck") == (theme.PROMPT_DUE, None)
    clock.set(dose.time + 46 * MIN)
    window.refresh()
    assert row(window, "bp_recheck").endswith("— OVERDUE")
    assert panel.prompt_colours("bp_recheck") == (theme.PROMPT_OVERDUE,
                                                  theme.PROMPT_OVERDUE_BACKGROUND)
    clock.set(dose.time + 56 * MIN)
    window.refresh()
    assert row(window, "bp_recheck").endswith("— ESCALATED")
    assert panel.prompt_colours("bp_recheck") == (theme.PROMPT_ESCALATED.lower(),
                                                  theme.PROMPT_ESCALATED_BACKGROUND)
    assert panel.minimum_label.text() == "1:04:00 left"

    feed_vitals(window.workstation, systolic=138, diastolic=86)
    tick(window, clock)  # within a second the schedule sees the reading
    assert row(window, "bp_recheck").endswith("(NIBP reading)")
    assert "— done" in row(window, "bp_recheck")
    assert panel.prompt_colours("bp_recheck") == (theme.PROMPT_DONE, None)
    done = [e for e in events(database, window, WorkflowKind.PROMPT_DONE)
            if e.data["prompt_id"] == "bp_recheck"]
    assert len(done) == 1 and done[0].data["automatic"]


def test_the_nurse_marks_a_prompt_done_with_a_note_from_the_keyboard(
        qtbot: QtBot, window: MainWindow, clock: ManualClock, database: Database) -> None:
    panel = window.workflow_panel
    dose = dose_now(window)
    clock.set(dose.time + 39 * MIN)
    window.refresh()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)

    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    urgent = window.findChild(PromptDoneDialog)
    assert urgent is not None and urgent.isVisible()
    assert urgent.prompt.id == "nibp_30", "Ctrl+M takes the most urgent prompt (overdue)"
    urgent.reject()

    qtbot.keyClick(window, Qt.Key.Key_F6)
    assert panel.prompts_list.hasFocus()
    ids = [p.id for p in panel.prompts()]
    panel.prompts_list.setCurrentRow(ids.index("bp_recheck"))
    qtbot.keyClick(panel.prompts_list, Qt.Key.Key_Return)
    dialogs = [d for d in window.findChildren(PromptDoneDialog) if d.isVisible()]
    [dialog] = dialogs
    assert dialog.prompt.id == "bp_recheck"
    dialog.accept()  # no reason: refused, the dialog stays
    assert "needs a reason" in dialog.error()
    dialog.note_edit.setText("manual cuff 138/86")
    dialog.accept()
    assert dialog.error() == ""
    window.refresh()
    assert row(window, "bp_recheck").endswith("(rn.lee) — WITHOUT MEASUREMENT")
    [event] = [e for e in events(database, window, WorkflowKind.PROMPT_DONE)
               if e.data["prompt_id"] == "bp_recheck"]
    assert event.data["note"] == "manual cuff 138/86" and not event.data["automatic"]

    again = panel.mark_prompt_done("bp_recheck")
    assert again is not None
    again.accept()
    assert again.error() == "BP re-check 40 min after dose is already done"
    again.reject()


def test_the_assessment_dialog_stores_moaas_cadss_and_the_rest(
        window: MainWindow, clock: ManualClock, database: Database) -> None:
    dose = dose_now(window)
    clock.set(dose.time + 19 * MIN)
    window.refresh()
    assert row(window, "assessment_20").endswith("— DUE")

    dialog = window.session_panel.add_observation()
    assert isinstance(dialog, AssessmentDialog)
    moaas = [dialog.moaas_combo.itemText(i) for i in range(dialog.moaas_combo.count())]
    assert moaas[0] == "not assessed"
    assert moaas[1] == "5 — Responds readily to name spoken in normal tone"
    assert moaas[-1] == "0 — No response after painful trapezius squeeze"
    assert sorted(dialog.cadss_combos) == [1, 2, 6, 7, 15, 22]
    dialog.set_moaas(4)
    dialog.set_cadss(1, 2)
    dialog.set_cadss(2, 1)
    assert dialog.cadss_total_label.text() == "CADSS total 3 (2 of 6 items)"
    for combo, value in ((dialog.nausea_combo, "nausea"), (dialog.anxiety_combo, "mild"),
                         (dialog.respiratory_combo, "normal")):
        combo.setCurrentIndex(combo.findData(value))
    dialog.therapist_edit.setText("Dr Kim")
    dialog.text_edit.setPlainText("Eyes closed, calm.")
    dialog.accept()
    assert dialog.error() == ""

    session = window.workstation.session
    assert session is not None
    [obs] = SessionStore(database).observations(session.id)
    a = obs.assessment
    assert (a.moaas, a.cadss_form, a.cadss, a.cadss_total) == (4, "cadss6", {1: 2, 2: 1}, 3)
    assert (a.nausea, a.anxiety, a.respiratory, a.therapist_present) == \
        ("nausea", "mild", "normal", "Dr Kim")
    assert obs.text == "Eyes closed, calm." and obs.author == "rn.lee (test)"
    tick(window, clock)
    assert row(window, "assessment_20").endswith("(assessment)")

    second = window.session_panel.add_observation()
    assert second.therapist_edit.text() == "Dr Kim", "the therapist is carried over"
    second.therapist_edit.clear()
    second.accept()  # nothing entered
    assert second.error() == "record at least one finding or some text"
    second.reject()


def test_the_full_cadss_when_the_care_plan_asks_for_it(
        make_window: MakeWindow, clock: ManualClock, tmp_path: Path,
        database: Database) -> None:
    plan_file = tmp_path / "clinic.toml"
    plan_file.write_text('[assessments]\ncadss_form = "cadss23"\n', encoding="utf-8")
    window = make_window([], clock=clock, audio=False, care_plan=load_care_plan(plan_file))
    dose_now(window)
    dialog = window.session_panel.add_observation()
    assert sorted(dialog.cadss_combos) == list(range(1, 24))
    dialog.set_cadss(3, 4)
    dialog.set_cadss(23, 1)
    assert dialog.cadss_total_label.text() == "CADSS total 5 (2 of 23 items)"
    dialog.accept()
    assert dialog.error() == ""
    session = window.workstation.session
    assert session is not None
    [obs] = SessionStore(database).observations(session.id)
    assert obs.assessment.cadss_form == "cadss23" and obs.assessment.cadss == {3: 4, 23: 1}


def test_discharge_refuses_unmet_criteria_without_a_reason_and_ends_the_session_with_one(
        qtbot: QtBot, window: MainWindow, clock: ManualClock, database: Database) -> None:
    ws = window.workstation
    dose = dose_now(window)
    clock.set(dose.time + 50 * MIN)
    feed_vitals(ws)
    ws.workflow.add_assessment(make_assessment(moaas=5, cadss_form="cadss6", cadss={1: 0},
                                               respiratory="normal"))
    clock.set(dose.time + 60 * MIN)
    feed_vitals(ws)
    ws.recorder.flush()
    window.refresh()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)

    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(DischargeDialog)
    assert dialog is not None and dialog.isVisible(), "a dosed session ends with discharge"
    shown = dialog.criterion_texts()
    assert shown["observation_minimum"].startswith("✗ Observation minimum elapsed")
    assert shown["observation_minimum"].endswith("1 h 00 min to go")
    assert shown["vitals_within_limits"] == \
        "✓ Vital signs within limits — current vitals within limits"
    assert shown["moaas_5"] == "✓ Fully alert: MOAA/S 5 — last MOAA/S 5"
    assert shown["dissociation_resolved"] == \
        "[x] Dissociation resolved — last CADSS total 0", "suggested by the record"
    assert shown["respiratory_normal"].startswith("[x]")
    assert shown["escort_transport"] == "[ ] Escort or safe transport arranged (no driving today)"
    assert dialog.ready_edit.dateTime().toSecsSinceEpoch() == int(dose.time + 50 * MIN)
    assert "Observation minimum" in dialog.unmet_label.text()
    assert not dialog.reason_edit.isHidden()

    dialog.confirm("escort_transport")
    dialog.accept()
    assert dialog.isVisible()
    assert dialog.error().startswith("discharge criteria not met: Observation minimum")
    assert ws.recording

    dialog.reason_edit.setPlainText("client unwell: transferred to the emergency department")
    dialog.accept()
    assert dialog.error() == ""
    session = ws.session
    assert session is not None and session.status is SessionStatus.ENDED
    stored = SessionStore(database).get_session(session.id)
    assert stored.status is SessionStatus.ENDED
    [discharge] = [e for e in SessionStore(database).workflow_events(session.id)
                   if e.kind is WorkflowKind.DISCHARGE]
    assert discharge.data["exception_reason"] == \
        "client unwell: transferred to the emergency department"
    assert discharge.data["ready_to_leave_at"] == dose.time + 50 * MIN
    assert discharge.data["criteria"]["escort_transport"]["met"] is True
    window.refresh()
    assert window.workflow_panel.stage_label.text() == "Session ended"
    assert "Session ended" in window.session_panel.header_text()


def test_discharge_with_every_criterion_met_needs_no_reason(
        window: MainWindow, clock: ManualClock, database: Database) -> None:
    ws = window.workstation
    dose = dose_now(window)
    clock.set(dose.time + 90 * MIN)
    ws.workflow.add_assessment(make_assessment(moaas=5, cadss_form="cadss6", cadss={1: 0},
                                               respiratory="normal"))
    clock.set(dose.time + 121 * MIN)
    feed_vitals(ws)
    window.refresh()
    assert window.workflow_panel.minimum_label.text() == "Reached"
    dialog = window.session_panel.end_session()
    assert isinstance(dialog, DischargeDialog)
    dialog.confirm("escort_transport")
    assert dialog.unmet_label.text() == "All discharge criteria met"
    assert dialog.reason_edit.isHidden()
    dialog.accept()
    assert dialog.error() == ""
    assert not ws.recording


def test_a_tablet_is_recorded_swallowed_or_spat_with_its_time(
        qtbot: QtBot, window: MainWindow, clock: ManualClock, database: Database) -> None:
    ws = window.workstation
    panel = window.workflow_panel
    sign_in_nurse(ws)
    start_session(window, route=Route.SUBLINGUAL)
    complete_predose(ws)
    feed_vitals(ws)
    window.refresh()
    assert not panel.oral_action.isEnabled(), "nothing to swallow yet"

    dialog = window.session_panel.add_dose()
    assert isinstance(dialog, AmountDoseDialog)
    assert dialog.form.labelForField(dialog.count_spin).text() == \
        "&Number of tablets/lozenges:"
    dialog.dose_spin.setValue(200)
    dialog.count_spin.setValue(2)
    dialog.lot_edit.setText("RDT-9")
    dialog.accept()
    assert dialog.error() == ""
    dose = dialog.dose
    assert dose is not None
    window.refresh()
    assert panel.oral_action.isEnabled()
    assert panel.oral_label.text().endswith("(0 s): swallowed or spat?")
    tick(window, clock, 12 * MIN)
    assert "(12 min)" in panel.oral_label.text()

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    oral = window.findChild(OralCompleteDialog)
    assert oral is not None and oral.isVisible()
    oral.accept()
    assert oral.error() == "the tablet was either swallowed or spat"
    oral.choose("spat")
    oral.time_edit.setDateTime(to_qdatetime(clock.now() - 2 * MIN))  # spat 2 min ago
    clock.advance(30)
    oral.accept()
    assert oral.error() == ""
    [ended] = events(database, window, WorkflowKind.ORAL_COMPLETE)
    assert ended.data == {"dose_id": dose.id, "action": "spat"}
    assert ended.time == clock.now() - 30 - 2 * MIN, "the time the nurse entered"
    window.refresh()
    assert "spat out" in panel.doses_label.text()
    assert not panel.oral_action.isEnabled()
    assert panel.oral_label.isHidden()


def test_an_im_dose_by_mg_per_kg_or_by_mg(window: MainWindow, clock: ManualClock,
                                          database: Database) -> None:
    ws = window.workstation
    sign_in_nurse(ws)
    start_session(window, route=Route.IM)
    complete_predose(ws)
    feed_vitals(ws)

    dialog = window.session_panel.add_dose()
    assert isinstance(dialog, WeightDoseDialog)
    assert dialog.computed_label.text() == "Enter the client's weight"
    dialog.mg_radio.setChecked(True)
    dialog.dose_spin.setValue(35)
    dialog.lot_edit.setText("IM-3")
    dialog.accept()
    assert dialog.error() == "record the client's weight for mg/kg dosing"
    dialog.per_kg_radio.setChecked(True)
    dialog.weight_spin.setValue(70)
    dialog.per_kg_spin.setValue(0.5)
    assert dialog.dose_spin.value() == 35.0
    assert dialog.computed_label.text() == "35 mg = 0.50 mg/kg × 70 kg"
    dialog.accept()
    assert dialog.error() == ""

    clock.advance(20 * MIN)
    second = window.session_panel.add_dose()
    assert isinstance(second, WeightDoseDialog)
    assert second.weight_spin.value() == 70.0, "the weight is carried over"
    second.mg_radio.setChecked(True)
    second.dose_spin.setValue(14)
    assert second.per_kg_spin.value() == pytest.approx(0.2)
    assert second.computed_label.text() == "14 mg = 0.20 mg/kg × 70 kg"
    second.lot_edit.setText("IM-3")
    second.accept()
    assert second.error() == ""
    session = ws.session
    assert session is not None
    doses = SessionStore(database).doses(session.id)
    assert [(d.dose_mg, d.weight_kg, d.mg_per_kg) for d in doses] == [(35.0, 70.0, 0.5),
                                                                      (14.0, 70.0, 0.2)]
    window.refresh()
    assert "0.50 mg/kg (70 kg)" in window.workflow_panel.doses_label.text()


def test_the_schedule_refreshes_about_once_a_second_not_every_frame(
        window: MainWindow, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    dose_now(window)
    calls: list[float] = []
    workflow = window.workstation.workflow
    original = workflow.schedule

    def counted() -> list:
        calls.append(clock.now())
        return original()

    monkeypatch.setattr(workflow, "schedule", counted)
    for _ in range(25):  # one second of frames at 40 ms, with the clock standing still
        window.refresh()
    assert len(calls) <= 1
    tick(window, clock)
    assert len(calls) >= 1 and calls[-1] == clock.now()


def test_the_workflow_actions_have_shortcuts(window: MainWindow) -> None:
    panel = window.workflow_panel
    shortcuts = {
        a.text(): a.shortcut().toString()
        for a in (panel.identity_action, panel.eligibility_action, panel.oral_action,
                  panel.prompt_done_action, window.session_panel.dose_action,
                  window.session_panel.observation_action, window.session_panel.end_action)
    }
    assert shortcuts == {
        "Identity check…": "Ctrl+I",
        "Eligibility checklist…": "Ctrl+Shift+E",
        "Swallowed / spat…": "Ctrl+T",
        "Mark done…": "Ctrl+M",
        "Add &dose…": "Ctrl+D",
        "&Assessment…": "Ctrl+O",
        "&End session / discharge…": "Ctrl+E",
    }
    buttons = {b.text() for b in panel.findChildren(QPushButton)}
    assert {"Add dose…  (Ctrl+D)", "Identity check…  (Ctrl+I)", "Mark done…  (Ctrl+M)",
            "End session / discharge…  (Ctrl+E)"} <= buttons, "the panel's buttons say the keys"


def test_a_schedule_that_cannot_be_saved_is_said_not_raised(
        window: MainWindow, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    dose_now(window)
    before = window.workflow_panel.prompt_rows()

    def broken() -> list:
        raise DatabaseError("the database cannot be written: disk full")

    monkeypatch.setattr(window.workstation.workflow, "schedule", broken)
    tick(window, clock)
    panel = window.workflow_panel
    assert panel.problem_label.text() == \
        "⚠ The schedule cannot be updated: the database cannot be written: disk full"
    assert panel.prompt_rows() == before, "the last list stays"
    monkeypatch.undo()
    tick(window, clock)
    assert panel.problem_label.isHidden()


def test_discharge_suggests_no_time_when_a_criterion_was_never_recorded(
        qtbot: QtBot, window: MainWindow, clock: ManualClock, database: Database) -> None:
    ws = window.workstation
    dose = dose_now(window)
    clock.set(dose.time + 60 * MIN)
    feed_vitals(ws)
    ws.workflow.add_assessment(make_assessment(moaas=5))  # CADSS and breathing never assessed
    ws.recorder.flush()
    window.refresh()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)

    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(DischargeDialog)
    assert dialog is not None and dialog.isVisible()
    assert not dialog.ready_known.isChecked() and not dialog.ready_edit.isEnabled()
    assert dialog.ready_hint.text() == (
        "No time suggested: CADSS and breathing never assessed after the dose.")
    dialog.reject()
