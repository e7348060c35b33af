"""The nurse's dosing workflow for the running session, from check-in to discharge.

Before the first dose: identity check, eligibility checklist, the pre-dose BP/HR gate (passed,
or overridden with a recorded reason). Dosing by route: intranasal spray devices with a lot
each and the rest between devices; tablets/lozenges with their swallow/spit time; IM/IV with
the client's weight (mg/kg). The first dose anchors the schedule (BP re-check, NIBP cycle,
assessments, observation minimum) and every completed prompt is recorded. Structured
assessments go on the timeline. Discharge records the checklist, the time the client would
have been ready to leave, and ends the session.

Every step is a row in ``workflow_events`` (or a dose/observation row): the record is what
happened, in order, with who did it. The rules live in predose.py, clinical_schedule.py and
discharge.py; this class applies them to the workstation's session;
who may act is :mod:`katmonitor.policy`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from katmonitor import policy
from katmonitor.accounts import User
from katmonitor.alarms.model import ActiveAlarm, active_alarms_at
from katmonitor.assessments import Assessment
from katmonitor.base.clock import Clock
from katmonitor.base.errors import ConfigurationError, SessionStateError
from katmonitor.base.vitals import NUMERIC_KINDS, VitalKind
from katmonitor.care_plan import CarePlan, RoutePlan
from katmonitor.clinical_schedule import Completion, Prompt, PromptState, build_schedule
from katmonitor.discharge import (
    CONFIRMED_BY_NURSE,
    Criterion,
    ReadyToLeave,
    VitalsCheck,
    evaluate_discharge,
    suggest_ready_to_leave,
)
from katmonitor.live_buffers import LiveBuffers
from katmonitor.policy import ORAL_ROUTES, WEIGHT_ROUTES
from katmonitor.predose import GateResult, eligibility_concerns, evaluate_gate
from katmonitor.readings import Reading, format_age
from katmonitor.session import (
    DoseEvent,
    Observation,
    Route,
    Session,
    SessionStatus,
    WorkflowEvent,
    WorkflowKind,
    validate_weight,
)
from katmonitor.storage.store import SessionStore

__all__ = ["ORAL_ACTIONS", "ORAL_ROUTES", "WEIGHT_ROUTES", "DoseBlockedError", "DosingWorkflow"]

ORAL_ACTIONS = ("swallowed", "spat")
MAX_REASON = 500

TimelineEvent = DoseEvent | Observation


class DoseBlockedError(SessionStateError):
    """The dose cannot be given yet: pre-dose steps missing, the gate not passed, or the rest
    between spray devices not over. ``blockers`` says what; some can be overridden."""

    def __init__(self, blockers: list[str], *, overridable: bool) -> None:
        hint = (
            "record a reason to override, or wait"
            if overridable
            else "complete the pre-dose steps first"
        )
        super().__init__("the dose cannot be given yet: " + "; ".join(blockers), hint)
        self.blockers = blockers
        self.overridable = overridable


class DosingWorkflow:
    """Applies the care plan to the running session. Everything it needs is handed in (the
    workstation builds it): it reads the session, operator and timeline through the
    callables, and ends the session or reports escalated prompts through them."""

    def __init__(
        self,
        plan: CarePlan,
        *,
        store: SessionStore,
        clock: Clock,
        buffers: LiveBuffers,
        session: Callable[[], Session | None],
        operator: Callable[[], User | None],
        timeline: Callable[[], list[TimelineEvent]],
        readings: Callable[[], dict[VitalKind, Reading]],
        active_alarms: Callable[[], list[ActiveAlarm]],
        report_escalated_prompts: Callable[[list[str]], object],
        add_observation: Callable[..., Observation],
        end_session: Callable[[], Session],
    ) -> None:
        """``session``: the workstation's session (running or ended) or None; ``timeline``:
        its doses and observations in time order; ``report_escalated_prompts``: raises or ends
        the schedule's technical alarm; ``add_observation(text, author, time=, assessment=)``
        stores an observation on the running session."""
        self.plan = plan
        self.store = store
        self.clock = clock
        self.buffers = buffers
        self._current_session = session
        self._operator = operator
        self._timeline = timeline
        self._readings = readings
        self._active_alarms = active_alarms
        self._report_escalated_prompts = report_escalated_prompts
        self._add_observation = add_observation
        self._end_session = end_session
        self._events: list[WorkflowEvent] = []

    # -- state ----------------------------------------------------------------------------

    def load(self, session: Session | None) -> None:
        """Read the recorded steps of the session now running (start or reopen)."""
        self._events = [] if session is None else self.store.workflow_events(session.id)

    @property
    def events(self) -> list[WorkflowEvent]:
        return list(self._events)

    def _session(self) -> Session:
        """The running session; refused when none is."""
        session = self._current_session()
        if session is None or session.status is not SessionStatus.ACTIVE:
            raise SessionStateError("no session is running", "start a session first")
        return session

    @property
    def route_plan(self) -> RoutePlan:
        return self.plan.for_route(self._session().route)

    def _last(self, kind: WorkflowKind) -> WorkflowEvent | None:
        found = [e for e in self._events if e.kind is kind]
        return found[-1] if found else None

    def doses(self) -> list[DoseEvent]:
        return [e for e in self._timeline() if isinstance(e, DoseEvent)]

    @property
    def anchor(self) -> float | None:
        """The first dose's time: it anchors the schedule."""
        doses = self.doses()
        return doses[0].time if doses else None

    def assessments(self) -> list[tuple[float, Assessment]]:
        return [
            (e.time, e.assessment)
            for e in self._timeline()
            if isinstance(e, Observation) and not e.assessment.is_empty
        ]

    # -- who may act ------------------------------------------------------------------------

    def require_clinician(self, action: str) -> User:
        """Only a signed-in nurse runs a dosing session; a trainee may in training mode."""
        session = self._current_session()
        return policy.require_clinician(self._operator(), bool(session and session.training),
                                        action)

    def _record(self, kind: WorkflowKind, user: User, data: dict[str, Any],
                time: float | None = None) -> WorkflowEvent:
        session = self._session()
        now = self.clock.now()
        event = self.store.add_workflow_event(
            session.id, time=now if time is None else time, kind=kind, user=user.name,
            data=data, recorded_at=now,
        )
        self._events.append(event)
        return event

    def record_handover(self, previous: str | None, user: User, note: str = "") -> WorkflowEvent:
        """From now on ``user`` is responsible for the running session (a shift change): the
        chain says who was responsible from when."""
        return self._record(
            WorkflowKind.HANDOVER, user,
            {"from": previous or "", "to": user.name, "to_printed": user.full_name,
             "note": note.strip()},
        )

    # -- before the first dose -----------------------------------------------------------------

    def record_identity_check(self, method: str, note: str = "") -> WorkflowEvent:
        """The nurse confirmed who the client is (e.g. name and date of birth against ID)."""
        user = self.require_clinician("check the client's identity")
        if not method.strip():
            raise ConfigurationError("say how the identity was checked")
        return self._record(
            WorkflowKind.IDENTITY_CHECK, user,
            {"client_id": self._session().client_id, "method": method.strip(),
             "note": note.strip()},
        )

    def record_eligibility(
        self, answers: Mapping[str, bool], override_reason: str = ""
    ) -> WorkflowEvent:
        """The checklist's answers. Concerns block the dose unless a reason is recorded."""
        user = self.require_clinician("record the eligibility checklist")
        concerns = eligibility_concerns(self.plan, answers)
        reason = _reason(override_reason)
        return self._record(
            WorkflowKind.ELIGIBILITY, user,
            {
                "answers": {item.id: bool(answers[item.id]) for item in self.plan.eligibility},
                "questions": {item.id: item.question for item in self.plan.eligibility},
                "concerns": [item.id for item in concerns],
                "override_reason": reason if concerns else "",
                "care_plan": self.plan.name,
            },
        )

    def gate(self) -> GateResult:
        """The pre-dose gate on the latest readings, now."""
        buffers = self.buffers
        latest = {kind: s for kind in NUMERIC_KINDS if (s := buffers.latest(kind)) is not None}
        alarms = [a.message for a in self._active_alarms() if not a.technical and not a.latched]
        return evaluate_gate(self.plan.gate, latest, self.clock.now(), alarms)

    def predose_blockers(self) -> list[str]:
        """What must be done before the first dose (the gate is separate: see ``gate``)."""
        blockers = []
        if self._last(WorkflowKind.IDENTITY_CHECK) is None:
            blockers.append("check the client's identity")
        eligibility = self._last(WorkflowKind.ELIGIBILITY)
        if eligibility is None:
            blockers.append("complete the eligibility checklist")
        elif eligibility.data["concerns"] and not eligibility.data["override_reason"]:
            blockers.append(
                "eligibility concerns need a recorded reason: "
                + ", ".join(eligibility.data["concerns"])
            )
        return blockers

    # -- dosing ----------------------------------------------------------------------------------

    def spray_rest_remaining(self) -> float:
        """Seconds until the next spray device may be used (0 when free or not intranasal)."""
        rest = self.route_plan.spray_rest_s
        doses = self.doses()
        if not rest or not doses or self._session().route is not Route.INTRANASAL:
            return 0.0
        return max(0.0, doses[-1].time + rest - self.clock.now())

    def check_dose(
        self, dose_mg: float, unit_count: int, lot: str, weight_kg: float | None,
        override_reason: str,
    ) -> list[str]:
        """Refuse a dose that breaks the workflow; returns the overridden problems to record."""
        self.require_clinician("give a dose")
        session = self._session()
        route = self.route_plan
        device_mg = route.spray_device_mg if session.route is Route.INTRANASAL else None
        if device_mg and abs(dose_mg - unit_count * device_mg) > 1e-6:
            raise ConfigurationError(
                f"{unit_count} spray device(s) of {device_mg:g} mg give "
                f"{unit_count * device_mg:g} mg, not {dose_mg:g} mg"
            )
        if session.route is not Route.IV and not lot.strip():
            raise ConfigurationError("record the lot number")
        if session.route in WEIGHT_ROUTES and weight_kg is None:
            raise ConfigurationError("record the client's weight for mg/kg dosing")
        validate_weight(weight_kg)
        reason = _reason(override_reason)
        overridden: list[str] = []
        if self.anchor is None:
            blockers = self.predose_blockers()
            if blockers:
                raise DoseBlockedError(blockers, overridable=False)
            gate = self.gate()
            if not gate.passed:
                if not reason:
                    raise DoseBlockedError(list(gate.problems), overridable=True)
                overridden.extend(gate.problems)
        else:
            wait = self.spray_rest_remaining()
            if wait > 0:
                problem = (
                    f"{format_age(wait)} of the {format_age(route.spray_rest_s or 0)} rest "
                    "between spray devices remain"
                )
                if not reason:
                    raise DoseBlockedError([problem], overridable=True)
                overridden.append(problem)
        return overridden

    def record_gate(self, user: User, override_reason: str) -> None:
        """At the first dose: the gate's readings and result, and the schedule it anchors."""
        route = self.route_plan
        gate = self.gate()
        self._record(
            WorkflowKind.GATE, user,
            {
                **gate.to_dict(),
                "limits": self.plan.gate.describe(),
                "overridden": list(gate.problems),
                "override_reason": _reason(override_reason) if gate.problems else "",
                "care_plan": self.plan.name,
                "route_plan": {
                    "observation_minimum_s": route.observation_minimum_s,
                    "bp_recheck_s": route.bp_recheck_s,
                    "nibp_cycle_s": route.nibp_cycle_s,
                    "assessment_every_s": route.assessment_every_s,
                },
            },
        )

    def record_oral_complete(self, dose: DoseEvent, action: str, *, time: float | None = None
                             ) -> WorkflowEvent:
        """A tablet/lozenge was swallowed or spat out (sublingual/oral routes)."""
        user = self.require_clinician("record the tablet's end")
        if dose.route not in ORAL_ROUTES:
            raise SessionStateError("swallow/spit applies to tablets and lozenges only")
        if action not in ORAL_ACTIONS:
            raise ConfigurationError("the tablet was either swallowed or spat")
        when = self.clock.now() if time is None else time
        if when < dose.time:
            raise ConfigurationError("the tablet cannot end before it was given")
        return self._record(
            WorkflowKind.ORAL_COMPLETE, user, {"dose_id": dose.id, "action": action}, when
        )

    def pending_oral_doses(self) -> list[DoseEvent]:
        """Tablets/lozenges given whose swallow or spit is not recorded yet."""
        return policy.pending_oral_doses(self.doses(), self._events)

    # -- the schedule ----------------------------------------------------------------------------

    def schedule(self) -> list[Prompt]:
        """The prompts now; completions found in the data are written to the record once."""
        session = self._current_session()
        if session is None:
            return []
        recorded = {
            e.data["prompt_id"]: Completion(e.time, e.data.get("by") or e.user,
                                            measured=not e.data.get("without_measurement"))
            for e in self._events
            if e.kind is WorkflowKind.PROMPT_DONE
        }
        anchor = self.anchor
        since = anchor - self.plan.due_lead_s if anchor is not None else 0.0
        nibp_times, _ = self.buffers.trend(VitalKind.NIBP_SYSTOLIC, since=since)
        prompts = build_schedule(
            self.plan, self.plan.for_route(session.route), anchor,
            now=self.clock.now(),
            nibp_times=[float(t) for t in nibp_times],
            # An assessment prompt asks for both scales: one alone does not complete it.
            assessment_times=[t for t, a in self.assessments()
                              if a.moaas is not None and a.cadss_total is not None],
            recorded=recorded,
            ended_at=session.ended_at,
        )
        if session.status is SessionStatus.ACTIVE:
            for prompt in prompts:
                done = prompt.completion
                if done is not None and not done.recorded:
                    self._record_prompt(prompt, done.by, "", done.time, system=True)
            # An escalated prompt is also a low-priority alarm: heard, not only seen.
            self._report_escalated_prompts(
                [p.label for p in prompts if p.state is PromptState.ESCALATED]
            )
        return prompts

    def complete_prompt(self, prompt_id: str, reason: str) -> WorkflowEvent:
        """The nurse marks a prompt done without the observation it asks for in the record
        (e.g. a manual cuff BP she wrote down): the reason is required, and the prompt stays
        marked "done without measurement". A reading or an assessment completes it by itself.
        """
        user = self.require_clinician("complete a schedule prompt")
        prompt = next((p for p in self.schedule() if p.id == prompt_id), None)
        if prompt is None:
            raise SessionStateError(f"no prompt {prompt_id!r} in this session's schedule")
        if prompt.state is PromptState.DONE:
            raise SessionStateError(f"{prompt.label} is already done")
        if not reason.strip():
            raise ConfigurationError(
                "marking a prompt done without its measurement needs a reason",
                "e.g. \"manual cuff 138/86, monitor cuff failed\"; or record the reading or "
                "assessment itself, which completes the prompt",
            )
        return self._record_prompt(prompt, user.name, reason, self.clock.now(),
                                   user=user, measured=False)

    def _record_prompt(self, prompt: Prompt, by: str, note: str, time: float, *,
                       system: bool = False, user: User | None = None,
                       measured: bool = True) -> WorkflowEvent:
        session = self._session()
        now = self.clock.now()
        operator = self._operator()
        name = user.name if user else (operator.name if operator else "system")
        event = self.store.add_workflow_event(
            session.id, time=time, kind=WorkflowKind.PROMPT_DONE, user=name,
            data={"prompt_id": prompt.id, "label": prompt.label, "due_at": prompt.due_at,
                  "by": by, "automatic": system, "note": note.strip(),
                  "without_measurement": not measured},
            recorded_at=now,
        )
        self._events.append(event)
        return event

    # -- assessments ---------------------------------------------------------------------------

    def add_assessment(self, assessment: Assessment, text: str = "", *,
                       time: float | None = None) -> Observation:
        """Scores and findings (a nurse's, or a trainee's in training mode) or, with no
        findings, a note (a therapist may add these too)."""
        if assessment.is_empty:
            session = self._current_session()
            user = policy.require_note_author(self._operator(),
                                              bool(session and session.training))
        else:
            user = self.require_clinician("record an assessment")
        if assessment.is_empty and not text.strip():
            raise ConfigurationError("record at least one finding or some text")
        return self._add_observation(
            text, user.full_name or user.name, time=time, assessment=assessment
        )

    # -- discharge -------------------------------------------------------------------------------

    def vitals_check(self) -> VitalsCheck:
        readings = self._readings()
        problems = [
            f"{r.kind.value} {r.value_text()} out of limits" for r in readings.values()
            if r.alarming
        ]
        physiological = [a for a in self._active_alarms() if not a.technical]
        problems += [a.message for a in physiological if not a.latched]
        nibp = readings.get(VitalKind.NIBP_SYSTOLIC)
        if nibp is None or nibp.age_s > self.plan.gate.max_reading_age_s:
            problems.append("no recent blood pressure: take one before discharge")
        return VitalsCheck(not problems, "; ".join(problems) or "current vitals within limits")

    def discharge_criteria(self) -> list[Criterion]:
        return evaluate_discharge(
            anchor=self.anchor,
            observation_minimum_s=self.route_plan.observation_minimum_s,
            now=self.clock.now(),
            vitals=self.vitals_check(),
            assessments=self.assessments(),
        )

    def suggested_ready_to_leave(self) -> ReadyToLeave:
        """From the recorded assessments, NIBP and alarms (see ``suggest_ready_to_leave``)."""
        session = self._session()
        alarms = self.store.alarm_events(session.id)
        max_age = self.plan.gate.max_reading_age_s

        def vitals_problem_at(t: float) -> str | None:
            nibp = self.store.numerics(session.id, [VitalKind.NIBP_SYSTOLIC], t - max_age, t)
            if VitalKind.NIBP_SYSTOLIC not in nibp:
                return f"no blood pressure in the {max_age / 60:.0f} min before"
            on = active_alarms_at(alarms, t)
            return "; ".join(on) if on else None

        return suggest_ready_to_leave(self.anchor, self.assessments(), vitals_problem_at)

    def discharge(
        self, confirmed: Iterable[str], ready_to_leave_at: float | None,
        exception_reason: str = "",
    ) -> Session:
        """Record the discharge checklist and end the session. Unmet criteria need a reason
        (e.g. transferred to the emergency department)."""
        user = self.require_clinician("discharge the client")
        confirmed = set(confirmed)
        unknown = confirmed - set(CONFIRMED_BY_NURSE)
        if unknown:
            raise ConfigurationError(f"unknown discharge criteria: {', '.join(sorted(unknown))}")
        now = self.clock.now()
        anchor = self.anchor
        if (ready_to_leave_at is not None and anchor is not None
                and not anchor <= ready_to_leave_at <= now + 1):
            raise ConfigurationError(
                "the ready-to-leave time must be between the first dose and now"
            )
        criteria = self.discharge_criteria()
        unmet = [
            c.label for c in criteria
            if (c.met is False) or (c.met is None and c.id not in confirmed)
        ]
        reason = _reason(exception_reason)
        if unmet and not reason:
            raise SessionStateError(
                "discharge criteria not met: " + "; ".join(unmet),
                "wait until they are met, or record the reason for discharging now",
            )
        self.schedule()  # record the last automatic completions before the session ends
        self._record(
            WorkflowKind.DISCHARGE, user,
            {
                "criteria": {
                    c.id: {"label": c.label, "met": c.met if c.met is not None
                           else c.id in confirmed, "confirmed_by_nurse": c.met is None,
                           "detail": c.detail}
                    for c in criteria
                },
                "unmet": unmet,
                "exception_reason": reason if unmet else "",
                "ready_to_leave_at": ready_to_leave_at,
                "first_dose_at": anchor,
                "minutes_first_dose_to_end": None if anchor is None
                else round((now - anchor) / 60, 1),
            },
            now,
        )
        return self._end_session()


def _reason(text: str) -> str:
    reason = text.strip()
    if len(reason) > MAX_REASON:
        raise ConfigurationError(f"the reason is longer than {MAX_REASON} characters")
    return reason
