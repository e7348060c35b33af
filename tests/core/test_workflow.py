"""The nurse's dosing workflow through the real Workstation and database, with a clock the
test moves: pre-dose steps and gate, dosing by route, the schedule, assessments, discharge."""

from __future__ import annotations

import pytest
from account_helpers import add_account
from workflow_helpers import NURSE_PASSWORD, complete_predose, feed_vitals, sign_in_nurse

from katmonitor.accounts import AccountStore, User
from katmonitor.assessments import make_assessment
from katmonitor.base.clock import ManualClock
from katmonitor.base.errors import ConfigurationError, PermissionDeniedError, SessionStateError
from katmonitor.care_plan import load_care_plan
from katmonitor.clinical_schedule import PromptState
from katmonitor.live_buffers import LiveBuffers
from katmonitor.session import Route, Session, SessionStatus, WorkflowKind
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore
from katmonitor.workflow import DoseBlockedError, DosingWorkflow
from katmonitor.workstation import Workstation

MIN = 60.0


def kinds(ws: Workstation) -> list[WorkflowKind]:
    assert ws.session is not None
    return [e.kind for e in SessionStore(ws.database).workflow_events(ws.session.id)]


def test_a_dose_waits_for_identity_eligibility_and_a_recent_blood_pressure(ws) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-100", "esketamine", Route.INTRANASAL)
    with pytest.raises(DoseBlockedError, match="identity") as blocked:
        ws.add_dose(28, 1, "LOT-1")
    assert not blocked.value.overridable
    complete_predose(ws)
    with pytest.raises(DoseBlockedError, match="no pre-dose blood pressure"):
        ws.add_dose(28, 1, "LOT-1")
    feed_vitals(ws)
    ws.clock.advance(16 * MIN)  # the reading is now too old for the gate
    feed_vitals(ws, at=ws.clock.now() - 16 * MIN)
    with pytest.raises(DoseBlockedError, match="old: take a new reading"):
        ws.add_dose(28, 1, "LOT-1")
    feed_vitals(ws)
    dose = ws.add_dose(28, 1, "LOT-1")
    assert dose.given_by == "rn.lee (test)"
    assert kinds(ws) == [WorkflowKind.IDENTITY_CHECK, WorkflowKind.ELIGIBILITY, WorkflowKind.GATE]
    gate = SessionStore(ws.database).workflow_events(ws.session.id)[-1]
    assert gate.data["passed"] and gate.data["systolic"] == 124
    assert gate.data["route_plan"]["bp_recheck_s"] == 40 * MIN


def test_a_high_blood_pressure_blocks_the_dose_until_overridden_with_a_reason(ws) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-101", "esketamine", Route.INTRANASAL)
    complete_predose(ws)
    feed_vitals(ws, systolic=152, diastolic=94, hr=104)
    gate = ws.workflow.gate()
    assert not gate.passed
    assert gate.problems == (
        "systolic 152 mmHg is above 140",
        "diastolic 94 mmHg is above 90",
        "heart rate 104/min is above 100",
    )
    with pytest.raises(DoseBlockedError, match="systolic 152") as blocked:
        ws.add_dose(28, 1, "LOT-1")
    assert blocked.value.overridable
    assert SessionStore(ws.database).doses(ws.session.id) == []
    dose = ws.add_dose(28, 1, "LOT-1", override_reason="prescriber reviewed, anxious client")
    assert "override: prescriber reviewed" in dose.note
    gate_event = SessionStore(ws.database).workflow_events(ws.session.id)[-1]
    assert gate_event.kind is WorkflowKind.GATE
    assert not gate_event.data["passed"]
    assert gate_event.data["override_reason"] == "prescriber reviewed, anxious client"
    assert len(gate_event.data["overridden"]) == 3


def test_eligibility_concerns_block_until_a_reason_is_recorded(ws) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-102", "esketamine", Route.INTRANASAL)
    ws.workflow.record_identity_check("wristband")
    answers = {item.id: item.acceptable for item in ws.workflow.plan.eligibility}
    answers["benzodiazepines"] = True
    ws.workflow.record_eligibility(answers)
    feed_vitals(ws)
    with pytest.raises(DoseBlockedError, match="eligibility concerns need a recorded reason"):
        ws.add_dose(28, 1, "LOT-1")
    ws.workflow.record_eligibility(answers, override_reason="lorazepam 0.5 mg PRN, prescriber ok")
    ws.add_dose(28, 1, "LOT-1")
    with pytest.raises(ConfigurationError, match="not answered"):
        ws.workflow.record_eligibility({"pregnancy": False})


def test_spray_devices_need_the_rest_between_them_and_a_lot_each(ws) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-103", "esketamine", Route.INTRANASAL)
    complete_predose(ws)
    feed_vitals(ws)
    with pytest.raises(ConfigurationError, match="give 28 mg, not 56 mg"):
        ws.add_dose(56, 1, "LOT-1")
    with pytest.raises(ConfigurationError, match="lot"):
        ws.add_dose(28, 1, " ")
    ws.add_dose(28, 1, "LOT-1")
    ws.clock.advance(2 * MIN)
    assert ws.workflow.spray_rest_remaining() == pytest.approx(3 * MIN)
    with pytest.raises(DoseBlockedError, match="3 min of the 5 min rest"):
        ws.add_dose(28, 1, "LOT-2")
    ws.clock.advance(3 * MIN)
    assert ws.workflow.spray_rest_remaining() == 0
    second = ws.add_dose(28, 1, "LOT-2")
    lots = [d.lot for d in SessionStore(ws.database).doses(ws.session.id)]
    assert lots == ["LOT-1", "LOT-2"] and second.unit_count == 1
    assert kinds(ws).count(WorkflowKind.GATE) == 1  # the gate is for the first dose only


def test_tablet_swallow_or_spit_and_mg_per_kg_for_injections(ws) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-104", "ketamine", Route.SUBLINGUAL)
    complete_predose(ws)
    feed_vitals(ws)
    dose = ws.add_dose(200, 2, "RDT-9")
    ws.clock.advance(12 * MIN)
    event = ws.workflow.record_oral_complete(dose, "spat")
    assert event.data == {"dose_id": dose.id, "action": "spat"}
    assert event.time == ws.clock.now()
    with pytest.raises(ConfigurationError, match="swallowed or spat"):
        ws.workflow.record_oral_complete(dose, "chewed")
    ws.end_session()

    ws.start_session("C-105", "ketamine", Route.IM)
    complete_predose(ws)
    feed_vitals(ws)
    with pytest.raises(ConfigurationError, match="weight"):
        ws.add_dose(35, 1, "IM-3")
    with pytest.raises(ConfigurationError, match="between 2 and 400 kg"):
        ws.add_dose(35, 1, "IM-3", weight_kg=0.5)
    im = ws.add_dose(35, 1, "IM-3", weight_kg=70)
    assert im.mg_per_kg == pytest.approx(0.5)
    assert SessionStore(ws.database).doses(ws.session.id)[0].weight_kg == 70


def test_only_a_signed_in_nurse_doses_and_discharges(ws) -> None:
    ws.start_session("C-106", "esketamine", Route.INTRANASAL)  # headless: no operator
    with pytest.raises(PermissionDeniedError, match="sign in as a nurse"):
        ws.add_dose(28, 1, "LOT-1")
    ws.end_session()
    sign_in_nurse(ws, "therapist.kim", role="therapist")
    with pytest.raises(PermissionDeniedError, match="only nurses run dosing sessions"):
        ws.start_session("C-107", "esketamine", Route.INTRANASAL)
    sign_in_nurse(ws, "trainee.sam", role="trainee")  # a clinical session: not for trainees
    with pytest.raises(PermissionDeniedError, match="trainees in training mode"):
        ws.start_session("C-107", "esketamine", Route.INTRANASAL)


def test_the_schedule_is_anchored_to_the_first_dose_and_escalates_until_done(ws) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-108", "esketamine", Route.INTRANASAL)
    assert ws.workflow.schedule() == []  # nothing before the dose
    complete_predose(ws)
    feed_vitals(ws)
    dose = ws.add_dose(28, 1, "LOT-1")
    prompts = {p.id: p for p in ws.workflow.schedule()}
    recheck = prompts["bp_recheck"]
    assert recheck.due_at == dose.time + 40 * MIN
    assert recheck.state is PromptState.UPCOMING
    assert prompts["observation_minimum"].due_at == dose.time + 120 * MIN

    def state(prompt_id: str) -> PromptState:
        return {p.id: p for p in ws.workflow.schedule()}[prompt_id].state

    ws.clock.set(dose.time + 36 * MIN)
    assert state("bp_recheck") is PromptState.DUE
    ws.clock.set(dose.time + 46 * MIN)
    assert state("bp_recheck") is PromptState.OVERDUE
    ws.clock.set(dose.time + 56 * MIN)
    assert state("bp_recheck") is PromptState.ESCALATED
    [reminder] = [a for a in ws.active_alarms() if a.alarm_id == "tech.schedule.prompt_escalated"]
    assert reminder.priority.label == "low" and "BP re-check 40 min" in reminder.message
    feed_vitals(ws, systolic=150, diastolic=92)  # the late re-check reading completes it
    done = {p.id: p for p in ws.workflow.schedule()}["bp_recheck"]
    assert done.state is PromptState.DONE and done.completion.by == "NIBP reading"
    assert not [a for a in ws.active_alarms() if a.alarm_id == "tech.schedule.prompt_escalated"]
    recorded = [e for e in SessionStore(ws.database).workflow_events(ws.session.id)
                if e.kind is WorkflowKind.PROMPT_DONE and e.data["prompt_id"] == "bp_recheck"]
    assert len(recorded) == 1 and recorded[0].data["automatic"]
    ws.workflow.schedule()  # recorded once only
    assert kinds(ws).count(WorkflowKind.PROMPT_DONE) == len(
        [p for p in ws.workflow.schedule() if p.state is PromptState.DONE]
    )


def test_a_prompt_can_be_marked_done_by_the_nurse_and_assessments_complete_theirs(ws) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-109", "esketamine", Route.INTRANASAL)
    complete_predose(ws)
    feed_vitals(ws)
    dose = ws.add_dose(28, 1, "LOT-1")
    ws.clock.set(dose.time + 20 * MIN)
    ws.workflow.add_assessment(
        make_assessment(moaas=4, cadss_form="cadss6", cadss={1: 2, 2: 1},
                        respiratory="normal", therapist_present="Dr Kim")
    )
    ws.clock.set(dose.time + 39 * MIN)
    with pytest.raises(ConfigurationError, match="needs a reason"):
        ws.workflow.complete_prompt("bp_recheck", "  ")
    event = ws.workflow.complete_prompt("bp_recheck", "manual cuff, 138/86")
    assert event.data["note"] == "manual cuff, 138/86" and not event.data["automatic"]
    assert event.data["without_measurement"]
    prompts = {p.id: p for p in ws.workflow.schedule()}
    assert prompts["bp_recheck"].completion.by == "rn.lee"
    assert not prompts["bp_recheck"].completion.measured  # stays visibly different
    assert prompts["assessment_20"].state is PromptState.DONE
    assert prompts["assessment_20"].completion.measured
    with pytest.raises(SessionStateError, match="already done"):
        ws.workflow.complete_prompt("bp_recheck", "again")
    [obs] = SessionStore(ws.database).observations(ws.session.id)
    assert obs.assessment.moaas == 4 and obs.assessment.cadss_total == 3
    assert "MOAA/S 4" in obs.summary() and "therapist present: Dr Kim" in obs.summary()


def test_assessment_entries_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="0 to 5"):
        make_assessment(moaas=6)
    with pytest.raises(ConfigurationError, match="not part of cadss6"):
        make_assessment(cadss_form="cadss6", cadss={3: 1})
    with pytest.raises(ConfigurationError, match="0-4"):
        make_assessment(cadss_form="cadss23", cadss={3: 5})
    assert make_assessment(cadss_form="cadss23", cadss={3: 4}).cadss_total == 4


def test_discharge_needs_the_criteria_or_a_reason_and_records_ready_to_leave(ws) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-110", "esketamine", Route.INTRANASAL)
    complete_predose(ws)
    feed_vitals(ws)
    dose = ws.add_dose(28, 1, "LOT-1")
    ws.clock.set(dose.time + 50 * MIN)
    ws.workflow.add_assessment(make_assessment(moaas=3, cadss_form="cadss6", cadss={1: 2}))
    ws.clock.set(dose.time + 80 * MIN)
    feed_vitals(ws)  # an NIBP with the recovered assessment: the vitals are known then
    ws.workflow.add_assessment(make_assessment(moaas=5, cadss_form="cadss6", cadss={1: 0},
                                               respiratory="normal"))
    ws.clock.set(dose.time + 100 * MIN)
    feed_vitals(ws)
    ws.recorder.flush()
    criteria = {c.id: c for c in ws.workflow.discharge_criteria()}
    assert criteria["observation_minimum"].met is False
    assert criteria["moaas_5"].met is True and criteria["vitals_within_limits"].met is True
    assert criteria["dissociation_resolved"].met is None
    assert criteria["dissociation_resolved"].suggested
    assert ws.workflow.suggested_ready_to_leave().time == dose.time + 80 * MIN
    confirmed = {"dissociation_resolved", "respiratory_normal", "escort_transport"}
    with pytest.raises(SessionStateError, match="Observation minimum"):
        ws.workflow.discharge(confirmed, dose.time + 80 * MIN)
    ws.clock.set(dose.time + 121 * MIN)
    feed_vitals(ws)
    with pytest.raises(SessionStateError, match="Escort"):
        ws.workflow.discharge(confirmed - {"escort_transport"}, dose.time + 80 * MIN)
    session = ws.workflow.discharge(confirmed, dose.time + 80 * MIN)
    assert session.status is SessionStatus.ENDED
    [discharge] = [e for e in SessionStore(ws.database).workflow_events(session.id)
                   if e.kind is WorkflowKind.DISCHARGE]
    assert discharge.data["ready_to_leave_at"] == dose.time + 80 * MIN
    assert discharge.data["minutes_first_dose_to_end"] == 121.0
    assert all(c["met"] for c in discharge.data["criteria"].values())


def test_an_early_discharge_is_recorded_with_its_reason(ws) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-111", "esketamine", Route.INTRANASAL)
    complete_predose(ws)
    feed_vitals(ws)
    dose = ws.add_dose(28, 1, "LOT-1")
    ws.clock.set(dose.time + 30 * MIN)
    session = ws.workflow.discharge((), dose.time + 30 * MIN,
                                    exception_reason="transferred to emergency department")
    [discharge] = [e for e in SessionStore(ws.database).workflow_events(session.id)
                   if e.kind is WorkflowKind.DISCHARGE]
    assert discharge.data["exception_reason"] == "transferred to emergency department"
    assert "Fully alert: MOAA/S 5" in discharge.data["unmet"]


def test_a_reopened_session_keeps_its_workflow_steps(sqlite_url: str) -> None:
    clock = ManualClock()
    database = open_database(sqlite_url)
    first = Workstation(database, [], clock=clock)
    first.start()
    sign_in_nurse(first)
    session = first.start_session("C-112", "esketamine", Route.INTRANASAL)
    complete_predose(first)
    feed_vitals(first)
    first.add_dose(28, 1, "LOT-1")
    first.shutdown()
    second = Workstation(database, [], clock=clock)
    second.start()
    sign_in_nurse(second)
    second.reopen_session(session.id)
    assert second.workflow.predose_blockers() == []
    clock.advance(5 * MIN)
    second.add_dose(28, 1, "LOT-2")  # no new gate: the session was already dosed
    assert [e.kind for e in SessionStore(database).workflow_events(session.id)].count(
        WorkflowKind.GATE
    ) == 1
    second.shutdown()
    database.close()


def test_the_csv_export_carries_the_workflow_steps_and_assessments(ws, tmp_path) -> None:
    import csv

    from katmonitor.exports.csv_export import events_path, write_csv

    sign_in_nurse(ws)
    session = ws.start_session("C-113", "ketamine", Route.IV)
    complete_predose(ws)
    feed_vitals(ws, systolic=150)
    ws.add_dose(35, 1, "", weight_kg=70, override_reason="anaesthetist present")
    ws.workflow.add_assessment(make_assessment(moaas=4, respiratory="normal"), "drowsy")
    ws.end_session()
    write_csv(SessionStore(ws.database), session.id, tmp_path / "s.csv")
    with events_path(tmp_path / "s.csv").open() as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    by_type = {(r["type"], r["event"]): r for r in rows}
    assert "weight 70 kg (0.5 mg/kg)" in by_type[("dose", "iv")]["text"]
    assert by_type[("observation", "assessment")]["text"].startswith("MOAA/S 4;")
    assert '"override_reason": "anaesthetist present"' in by_type[("workflow", "gate")]["text"]
    assert by_type[("workflow", "identity_check")]["by"] == "rn.lee"


def test_the_fhir_export_carries_assessments_as_components(ws) -> None:
    from katmonitor.exports.fhir_export import build_bundle

    sign_in_nurse(ws)
    session = ws.start_session("C-114", "esketamine", Route.INTRANASAL)
    ws.workflow.add_assessment(
        make_assessment(moaas=3, cadss_form="cadss6", cadss={1: 2, 6: 1}, nausea="nausea",
                        therapist_present="Dr Kim")
    )
    ws.end_session()
    bundle = build_bundle(SessionStore(ws.database), session.id)  # validated by fhir.resources
    [obs] = [e["resource"] for e in bundle["entry"] if "component" in e["resource"]]
    values = {c["code"]["text"]: c.get("valueInteger", c.get("valueString"))
              for c in obs["component"]}
    assert values == {"MOAA/S": 3, "CADSS-6 total": 3, "Nausea/vomiting": "nausea",
                      "Therapist present": "Dr Kim"}


def test_the_workflow_works_with_what_it_is_given_no_workstation_needed(sqlite_url: str) -> None:
    """Its dependencies are explicit: a store, a clock, the live buffers and callables for the
    session, the operator and what it reports."""
    database = open_database(sqlite_url)
    store = SessionStore(database)
    clock = ManualClock()
    session = store.create_session(client_id="C-7", medicine="esketamine",
                                   route=Route.INTRANASAL, started_at=clock.now(),
                                   training=False, devices=[], workstation="ws")
    nurse = add_account(AccountStore(database), "rn.lee", "nurse", NURSE_PASSWORD, "Lee Park")
    operator: list[User | None] = [None]
    escalated: list[list[str]] = []

    def not_used(*_args: object, **_kwargs: object) -> Session:
        raise AssertionError("not called in this test")

    workflow = DosingWorkflow(
        load_care_plan(), store=store, clock=clock, buffers=LiveBuffers(),
        session=lambda: session, operator=lambda: operator[0], timeline=list, readings=dict,
        active_alarms=list, report_escalated_prompts=escalated.append,
        add_observation=not_used, end_session=not_used,
    )
    workflow.load(session)
    with pytest.raises(PermissionDeniedError, match="sign in as a nurse"):
        workflow.record_identity_check("photo ID")
    operator[0] = nurse
    event = workflow.record_identity_check("photo ID")
    assert event.user == "rn.lee" and store.workflow_events(session.id) == [event]
    assert workflow.predose_blockers() == ["complete the eligibility checklist"]
    workflow.schedule()
    assert escalated == [[]]  # nothing escalated before the first dose
    database.close()


def test_no_ready_to_leave_time_is_suggested_unless_every_criterion_was_recorded_met(
    ws,
) -> None:
    """Alert but CADSS never recorded and breathing never assessed: no time, and why."""
    sign_in_nurse(ws)
    ws.start_session("C-112", "esketamine", Route.INTRANASAL)
    complete_predose(ws)
    feed_vitals(ws)
    dose = ws.add_dose(28, 1, "LOT-1")
    ws.clock.set(dose.time + 60 * MIN)
    feed_vitals(ws)
    ws.workflow.add_assessment(make_assessment(moaas=5))
    ws.recorder.flush()
    suggestion = ws.workflow.suggested_ready_to_leave()
    assert suggestion.time is None
    assert suggestion.reason == "CADSS and breathing never assessed after the dose"

    ws.clock.set(dose.time + 80 * MIN)  # recovered by the scales, but no NIBP for 20 min
    ws.workflow.add_assessment(make_assessment(moaas=5, cadss_form="cadss6", cadss={1: 0},
                                               respiratory="normal"))
    suggestion = ws.workflow.suggested_ready_to_leave()
    assert suggestion.time is None and "no blood pressure" in suggestion.reason

    session = ws.workflow.discharge((), None, exception_reason="left against advice")
    [discharge] = [e for e in SessionStore(ws.database).workflow_events(session.id)
                   if e.kind is WorkflowKind.DISCHARGE]
    assert discharge.data["ready_to_leave_at"] is None


def test_an_assessment_without_cadss_does_not_complete_the_assessment_prompt(ws) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-113", "esketamine", Route.INTRANASAL)
    complete_predose(ws)
    feed_vitals(ws)
    dose = ws.add_dose(28, 1, "LOT-1")
    ws.clock.set(dose.time + 20 * MIN)
    ws.workflow.add_assessment(make_assessment(moaas=5))  # CADSS not assessed
    prompts = {p.id: p for p in ws.workflow.schedule()}
    assert prompts["assessment_20"].state is not PromptState.DONE
