"""The therapist review of one recorded session: what its timeline and summary panel show.

:func:`load_review` reads a session once through the store's windowed columnar reads
(``numerics``, ``readings``, ``waveform``; never the whole-session sample iterator) and the
session's event lists, and builds a :class:`SessionReview`: numerics as numpy arrays per kind,
paired NIBP readings, doses, alarm spans by priority (technical ones apart) rebuilt from the
stored alarm record, workflow steps, the schedule's compliance, MOAA/S and CADSS assessments,
observations and signed addenda as notes, the recording gaps (an interruption: from the last
data to the reopening, ``katmonitor.recovery.recording_gaps``), and a :class:`ReviewSummary`.
The pleth waveform is read per window, reduced to min/max per pixel column
(:meth:`SessionReview.pleth`).

Read-only by construction: nothing here writes. A therapist's note is a signed addendum
(:func:`katmonitor.addenda.add_addendum`, through :func:`add_note_at`); the addendum has no
field for the moment it is about, so that moment leads its text in a fixed machine-readable
prefix (:data:`NOTE_AT_PREFIX`, ``[at 2026-01-02T10:11:12.345Z] ...``, or for a span
``[at 2026-01-02T10:11:12.345Z to 2026-01-02T10:21:12.345Z] ...``) which this module reads
back to place the note on the timeline.

The signature is checked separately (:func:`verify`: it reads the whole chain), so a window
can show the timeline first and the signature's status when it is known.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from katmonitor.addenda import Addendum, add_addendum, list_addenda
from katmonitor.alarms.baseline import DEFAULT_NIBP_WINDOW_S, DEFAULT_WINDOW_S, compute_baseline
from katmonitor.alarms.model import ACKNOWLEDGE, DEESCALATE, END, ESCALATE, ONSET, AlarmEvent
from katmonitor.alarms.model import Priority as Priority
from katmonitor.base.errors import ConfigurationError, NotFoundError
from katmonitor.base.samples import Sample, iso_utc, parse_iso_utc
from katmonitor.base.vitals import NIBP_KINDS, VitalKind
from katmonitor.care_plan import CarePlan, RoutePlan, load_care_plan
from katmonitor.clinical_schedule import Completion, Prompt, PromptState, build_schedule
from katmonitor.dose_totals import unit_count_text
from katmonitor.record_signing import VerificationReport, verify_session
from katmonitor.recovery import RecordingGap, recording_gaps
from katmonitor.session import DoseEvent, Observation, Session, WorkflowEvent, WorkflowKind
from katmonitor.storage.review_queries import numerics_columns, session_overviews
from katmonitor.storage.series import TimeSeries
from katmonitor.users import Role, User

if TYPE_CHECKING:
    from katmonitor.storage.store import SessionStore

LINE_KINDS: tuple[VitalKind, ...] = (VitalKind.HR, VitalKind.PULSE_RATE, VitalKind.SPO2)
"""Continuous numerics, drawn as lines."""
NUMERIC_KINDS: tuple[VitalKind, ...] = (*LINE_KINDS, *NIBP_KINDS)
SUMMARY_KINDS: tuple[VitalKind, ...] = (
    VitalKind.HR,
    VitalKind.PULSE_RATE,
    VitalKind.SPO2,
    VitalKind.NIBP_SYSTOLIC,
    VitalKind.NIBP_DIASTOLIC,
    VitalKind.NIBP_MEAN,
)
NIBP_PAIRING_S = 5.0
"""Diastolic and mean belong to the systolic reading at most this far away (same source)."""
NOTE_AT_PREFIX = "[at "
_ISO = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"
_NOTE_AT = re.compile(rf"^\[at {_ISO}(?: to {_ISO})?\] ?")


class Category(StrEnum):
    """What the next/previous keys jump between."""

    DOSE = "dose"
    ALARM = "alarm"
    NOTE = "note"
    ASSESSMENT = "assessment"
    WORKFLOW = "workflow"


# -- what the timeline shows -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NibpReading:
    time: float
    systolic: float
    diastolic: float | None
    mean: float | None
    source: str

    def text(self) -> str:
        dia = "-" if self.diastolic is None else f"{self.diastolic:.0f}"
        mean = "" if self.mean is None else f" ({self.mean:.0f})"
        return f"{self.systolic:.0f}/{dia}{mean} mmHg"


@dataclass(frozen=True, slots=True)
class AlarmSpan:
    """One alarm from its onset to its end, at the highest priority it reached."""

    alarm_id: str
    kind: str
    priority: Priority
    technical: bool
    onset: float
    end: float
    """Its end; the end of the record for an alarm still on when the record stops."""
    ended: bool
    """False: still on when the record stops."""
    acknowledged_at: float | None
    message: str

    @property
    def outside_limits(self) -> bool:
        """A limit alarm (low or high), not a trend, no-data or technical alarm."""
        return not self.technical and self.alarm_id.endswith((".low", ".high"))


@dataclass(frozen=True, slots=True)
class AssessmentPoint:
    time: float
    moaas: int | None
    cadss_total: int | None
    summary: str
    author: str


@dataclass(frozen=True, slots=True)
class Note:
    """A note placed on the timeline: an observation, or a signed addendum."""

    time: float
    text: str
    author: str
    addendum_id: int | None = None
    """Set for a signed addendum; None for an observation recorded during the session."""
    written_at: float | None = None
    until: float | None = None
    """The end of the span the note is about; None: a moment."""


@dataclass(frozen=True, slots=True)
class ScheduleCheck:
    label: str
    due_at: float
    state: PromptState
    done_at: float | None
    done_by: str
    late: bool
    """Done, but after it became overdue."""

    @property
    def status(self) -> str:
        if self.state is PromptState.DONE:
            return "late" if self.late else "done"
        return self.state.value


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """A point of interest for next/previous navigation and the marker lines."""

    time: float
    category: Category
    label: str


# -- the summary -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Extreme:
    value: float
    time: float
    minutes_after_dose: float | None


@dataclass(frozen=True, slots=True)
class ParameterSummary:
    kind: VitalKind
    baseline: float | None
    """The pre-dose baseline the alarm engine used (the median before the first dose)."""
    peak: Extreme | None
    lowest: Extreme | None
    seconds_outside_limits: float
    """Time with a low or high limit alarm of this parameter on."""


@dataclass(frozen=True, slots=True)
class ReviewSummary:
    first_dose_at: float | None
    total_mg: float
    parameters: dict[VitalKind, ParameterSummary]
    alarms: dict[str, int]
    """Physiological alarm onsets per priority label (high, medium, low)."""
    technical_alarms: int
    mean_seconds_to_acknowledge: float | None
    schedule_done: int
    schedule_late: int
    schedule_missed: int


# -- the review --------------------------------------------------------------------------------


@dataclass
class SessionReview:
    """One session as the review shows it. Reads only (the pleth window, the signature)."""

    session: Session
    start: float
    end: float
    doses: list[DoseEvent]
    numerics: dict[VitalKind, TimeSeries]
    nibp: list[NibpReading]
    alarm_events: list[AlarmEvent]
    alarm_spans: list[AlarmSpan]
    workflow: list[WorkflowEvent]
    schedule: list[ScheduleCheck]
    assessments: list[AssessmentPoint]
    notes: list[Note]
    baseline: dict[VitalKind, float]
    summary: ReviewSummary
    events: list[TimelineEvent]
    store: SessionStore = field(repr=False)
    gaps: list[RecordingGap] = field(default_factory=list)
    """Stretches not recorded: from the last data before an interruption to the reopening
    (``end`` None: never reopened; the record stops there)."""

    @property
    def first_dose_at(self) -> float | None:
        return self.doses[0].time if self.doses else None

    @property
    def anchor(self) -> float:
        """Time zero of the "minutes since the first dose" axis (the start when undosed)."""
        return self.doses[0].time if self.doses else self.start

    def minutes_after_dose(self, t: float) -> float | None:
        anchor = self.first_dose_at
        return None if anchor is None else (t - anchor) / 60.0

    # -- reading at the cursor ---------------------------------------------------------------

    def value_at(self, kind: VitalKind, t: float) -> tuple[float, float] | None:
        """The stored sample of ``kind`` at or before ``t`` as (time, value): exactly what was
        recorded, never interpolated. None before its first sample."""
        series = self.numerics.get(kind)
        if series is None:
            return None
        i = int(np.searchsorted(series.times, t, side="right")) - 1
        if i < 0:
            return None
        return float(series.times[i]), float(series.values[i])

    def values_at(self, t: float) -> dict[VitalKind, tuple[float, float]]:
        found = {}
        for kind in self.numerics:
            value = self.value_at(kind, t)
            if value is not None:
                found[kind] = value
        return found

    def gap_end(self, gap: RecordingGap) -> float:
        """Where a gap ends on the timeline: its reopening, else the end of the record."""
        return gap.end if gap.end is not None else max(self.end, gap.start)

    def gap_at(self, t: float) -> RecordingGap | None:
        """The recording gap ``t`` falls in, if any."""
        return next((g for g in self.gaps if g.start <= t <= self.gap_end(g)), None)

    def nibp_at(self, t: float) -> NibpReading | None:
        """The last NIBP reading at or before ``t``."""
        i = bisect.bisect_right([r.time for r in self.nibp], t) - 1
        return self.nibp[i] if i >= 0 else None

    # -- navigation --------------------------------------------------------------------------

    def next_event(self, t: float, category: Category | None = None) -> TimelineEvent | None:
        """The first event strictly after ``t`` (of ``category``, or any)."""
        return next((e for e in self.events
                     if e.time > t and (category is None or e.category is category)), None)

    def previous_event(self, t: float, category: Category | None = None) -> TimelineEvent | None:
        """The last event strictly before ``t`` (of ``category``, or any)."""
        return next((e for e in reversed(self.events)
                     if e.time < t and (category is None or e.category is category)), None)

    # -- the waveform ------------------------------------------------------------------------

    def pleth(self, t0: float, t1: float, pixels: int | None = None) -> TimeSeries:
        """The pleth in [t0, t1]: every stored point, or at most two per pixel column (its
        minimum and maximum, so no spike is lost) when ``pixels`` is given."""
        return self.store.waveform(
            self.session.id, VitalKind.PLETH, t0, t1,
            max_points=None if pixels is None else max(2, 2 * pixels),
        )


def load_review(store: SessionStore, session_id: int, *, care_plan: CarePlan | None = None
                ) -> SessionReview:
    """Read a session for review (NotFoundError for a missing one)."""
    session = store.get_session(session_id)
    doses = store.doses(session_id)
    numerics = numerics_columns(store.database, session_id, NUMERIC_KINDS)
    nibp = pair_nibp(store.readings(session_id, NIBP_KINDS))
    alarm_events = store.alarm_events(session_id)
    workflow = store.workflow_events(session_id)
    observations = store.observations(session_id)
    addenda = list_addenda(store, session_id)
    start, end = _extent(session, numerics, doses, workflow, observations, alarm_events)
    spans = alarm_spans(alarm_events, end)
    anchor = doses[0].time if doses else None
    baseline = _baseline(numerics, anchor if anchor is not None else session.started_at)
    plan = care_plan or load_care_plan()
    schedule = _schedule(plan, session, anchor, nibp, observations, workflow, end)
    assessments = [
        AssessmentPoint(o.time, o.assessment.moaas, o.assessment.cadss_total,
                        o.assessment.summary(), o.author)
        for o in observations if not o.assessment.is_empty
    ]
    notes = sorted(
        [Note(o.time, o.text, o.author) for o in observations if o.text.strip()]
        + [addendum_note(a) for a in addenda],
        key=lambda n: n.time,
    )
    summary = _summary(numerics, doses, spans, schedule, baseline, anchor)
    events = _events(doses, spans, notes, assessments, workflow)
    return SessionReview(session, start, end, doses, numerics, nibp, alarm_events, spans,
                         workflow, schedule, assessments, notes, baseline, summary, events, store,
                         recording_gaps(store, session_id))


def lands_in_review(user: User | None) -> bool:
    """A therapist who signs in at a workstation gets the review window, not the monitor: they
    prepare the integration session from recorded sessions and never run one (no device is
    started for them)."""
    return user is not None and user.role is Role.THERAPIST


def verify(store: SessionStore, session_id: int) -> VerificationReport:
    """The signature's status now: verified, unsigned or invalid (reads the whole chain)."""
    return verify_session(store, session_id)


def signature_statuses(store: SessionStore, session_ids: Iterable[int]) -> dict[int, str]:
    """Each session's signature status now (:func:`verify`: verified, unsigned, invalid or
    untrusted), for the browser, which checks its signed sessions a few at a time in the
    background. A session that is gone by now is left out."""
    statuses = {}
    for session_id in session_ids:
        try:
            statuses[session_id] = verify_session(store, session_id).status
        except NotFoundError:
            continue
    return statuses


# -- therapist notes ---------------------------------------------------------------------------


def note_text(at: float, text: str, until: float | None = None) -> str:
    """An addendum's text for a note about the moment ``at`` (or the span to ``until``): the
    machine-readable prefix, then the note."""
    span = "" if until is None else f" to {iso_utc(until)}"
    return f"{NOTE_AT_PREFIX}{iso_utc(at)}{span}] {text.strip()}"


def addendum_note(addendum: Addendum) -> Note:
    """A signed addendum as a timeline note: at the moment its prefix names, else when it
    was written."""
    match = _NOTE_AT.match(addendum.text)
    when, until = addendum.created_at, None
    text = addendum.text
    if match is not None:
        try:
            when = parse_iso_utc(match.group(1))
            until = parse_iso_utc(match.group(2)) if match.group(2) else None
            text = addendum.text[match.end():]
        except ValueError:
            until = None
    who = addendum.printed_name or addendum.user
    return Note(when, text, who, addendum.id, addendum.created_at, until)


def add_note_at(store: SessionStore, session_id: int, at: float, user: str, password: str,
                text: str, *, until: float | None = None) -> Addendum:
    """Add a therapist's (or any allowed user's) note about the moment ``at`` (or the span to
    ``until``) as a signed addendum (their password again). The core refuses what it must: a
    wrong password, a role that may not add notes, a session not signed yet
    (SessionStateError)."""
    if not text.strip():
        raise ConfigurationError("a note needs some text")
    if until is not None and until <= at:
        raise ConfigurationError("a span must end after it starts")
    return add_addendum(store, session_id, user, password, "note", note_text(at, text, until))


# -- building blocks ---------------------------------------------------------------------------


def pair_nibp(readings: Iterable[Sample]) -> list[NibpReading]:
    """Each valid systolic reading with the diastolic and mean from the same source taken at
    (about) the same time."""
    readings = list(readings)
    others: dict[tuple[VitalKind, str], list[tuple[float, float]]] = {}
    for r in readings:
        if r.kind is not VitalKind.NIBP_SYSTOLIC and r.value is not None:
            others.setdefault((r.kind, r.source), []).append((r.time, r.value))

    def partner(kind: VitalKind, source: str, time: float) -> float | None:
        near = [(abs(t - time), v) for t, v in others.get((kind, source), [])
                if abs(t - time) <= NIBP_PAIRING_S]
        return min(near)[1] if near else None

    return [
        NibpReading(r.time, r.value, partner(VitalKind.NIBP_DIASTOLIC, r.source, r.time),
                    partner(VitalKind.NIBP_MEAN, r.source, r.time), r.source)
        for r in readings
        if r.kind is VitalKind.NIBP_SYSTOLIC and r.value is not None and r.value == r.value
    ]


@dataclass
class _OpenAlarm:
    onset: AlarmEvent
    priority: Priority
    acknowledged_at: float | None = None


def alarm_spans(events: Sequence[AlarmEvent], record_end: float) -> list[AlarmSpan]:
    """Each alarm's span from the stored record: onset to end, at its highest priority, with
    its first acknowledgement. An alarm still on when the record stops ends at ``record_end``."""
    on: dict[str, _OpenAlarm] = {}
    spans: list[AlarmSpan] = []

    def close(alarm_id: str, at: float, ended: bool) -> None:
        alarm = on.pop(alarm_id)
        e = alarm.onset
        spans.append(AlarmSpan(e.alarm_id, e.kind, alarm.priority, e.technical, e.time,
                               max(at, e.time), ended, alarm.acknowledged_at, e.message))

    for e in events:
        if e.event == ONSET and e.priority is not None:
            if e.alarm_id in on:
                close(e.alarm_id, e.time, True)
            on[e.alarm_id] = _OpenAlarm(e, e.priority)
        elif e.alarm_id in on:
            alarm = on[e.alarm_id]
            if e.event in (ESCALATE, DEESCALATE) and e.priority is not None:
                alarm.priority = max(alarm.priority, e.priority)
            elif e.event == ACKNOWLEDGE and alarm.acknowledged_at is None:
                alarm.acknowledged_at = e.time
            elif e.event == END:
                close(e.alarm_id, e.time, True)
    for alarm_id in list(on):
        close(alarm_id, record_end, False)
    return sorted(spans, key=lambda s: (s.onset, s.alarm_id))


def _extent(session: Session, numerics: dict[VitalKind, TimeSeries], doses: list[DoseEvent],
            workflow: list[WorkflowEvent], observations: list[Observation],
            alarms: list[AlarmEvent]) -> tuple[float, float]:
    """From the first to the last thing recorded (the baseline before the start included)."""
    times = [session.started_at]
    if session.ended_at is not None:
        times.append(session.ended_at)
    for series in numerics.values():
        times += [float(series.times[0]), float(series.times[-1])]
    for events in (doses, workflow, observations, alarms):
        times += [x.time for x in events]
    start, end = min(times), max(times)
    return start, max(end, start + 1.0)


def _baseline(numerics: dict[VitalKind, TimeSeries], anchor: float) -> dict[VitalKind, float]:
    """The alarm engine's rule (alarms/baseline.py) over the stored values before ``anchor``."""
    samples = []
    for kind, series in numerics.items():
        span = DEFAULT_NIBP_WINDOW_S if kind in NIBP_KINDS else DEFAULT_WINDOW_S
        a = int(np.searchsorted(series.times, anchor - span, side="left"))
        b = int(np.searchsorted(series.times, anchor, side="right"))
        samples += [Sample(float(t), "", kind, float(v))
                    for t, v in zip(series.times[a:b], series.values[a:b], strict=True)]
    return compute_baseline(samples, anchor)


def _route_plan(plan: CarePlan, session: Session, workflow: list[WorkflowEvent]) -> RoutePlan:
    """The schedule values the gate recorded at the first dose, else the care plan's."""
    shipped = plan.for_route(session.route)
    gates = [e for e in workflow if e.kind is WorkflowKind.GATE]
    recorded = gates[-1].data.get("route_plan") if gates else None
    if not isinstance(recorded, dict):
        return shipped
    names = {f.name for f in dataclasses.fields(RoutePlan)}
    return dataclasses.replace(shipped, **{k: v for k, v in recorded.items() if k in names})


def _schedule(plan: CarePlan, session: Session, anchor: float | None, nibp: list[NibpReading],
              observations: list[Observation], workflow: list[WorkflowEvent], end: float
              ) -> list[ScheduleCheck]:
    """The schedule as it stood at the end, rebuilt with the live window's pure function."""
    if anchor is None:
        return []
    done = [e for e in workflow if e.kind is WorkflowKind.PROMPT_DONE and "prompt_id" in e.data]
    recorded = {e.data["prompt_id"]: Completion(e.time, e.data.get("by") or e.user) for e in done}
    ended = session.ended_at if session.ended_at is not None else end
    prompts: list[Prompt] = build_schedule(
        plan, _route_plan(plan, session, workflow), anchor, now=ended,
        nibp_times=[r.time for r in nibp],
        assessment_times=[o.time for o in observations if o.assessment.moaas is not None
                          or o.assessment.cadss_total is not None],
        recorded=recorded,
        ended_at=session.ended_at,
    )
    return [
        ScheduleCheck(
            p.label, p.due_at, p.state,
            p.completion.time if p.completion else None,
            p.completion.by if p.completion else "",
            p.completion is not None and p.completion.time - p.due_at > plan.overdue_after_s,
        )
        for p in prompts
    ]


def _extreme(series: TimeSeries, pick: str, anchor: float | None) -> Extreme | None:
    times, values = series.times, series.values
    if anchor is not None:  # after the first dose: what the dose did
        a = int(np.searchsorted(times, anchor, side="right"))
        times, values = times[a:], values[a:]
    if values.size == 0:
        return None
    i = int(np.argmax(values) if pick == "max" else np.argmin(values))
    t = float(times[i])
    return Extreme(float(values[i]), t, None if anchor is None else (t - anchor) / 60.0)


def _summary(numerics: dict[VitalKind, TimeSeries], doses: list[DoseEvent],
             spans: list[AlarmSpan], schedule: list[ScheduleCheck],
             baseline: dict[VitalKind, float], anchor: float | None) -> ReviewSummary:
    parameters = {}
    for kind in SUMMARY_KINDS:
        series = numerics.get(kind)
        outside = _union_seconds([(s.onset, s.end) for s in spans
                                  if s.outside_limits and s.kind == kind.value])
        parameters[kind] = ParameterSummary(
            kind, baseline.get(kind),
            _extreme(series, "max", anchor) if series is not None else None,
            _extreme(series, "min", anchor) if series is not None else None,
            outside,
        )
    physiological = [s for s in spans if not s.technical]
    acks = [s.acknowledged_at - s.onset for s in physiological if s.acknowledged_at is not None]
    return ReviewSummary(
        first_dose_at=anchor,
        total_mg=float(sum(d.dose_mg for d in doses)),
        parameters=parameters,
        alarms={p.label: sum(1 for s in physiological if s.priority is p)
                for p in sorted(Priority, reverse=True)},
        technical_alarms=sum(1 for s in spans if s.technical),
        mean_seconds_to_acknowledge=sum(acks) / len(acks) if acks else None,
        schedule_done=sum(1 for c in schedule if c.state is PromptState.DONE and not c.late),
        schedule_late=sum(1 for c in schedule if c.late),
        schedule_missed=sum(1 for c in schedule if c.state is PromptState.MISSED),
    )


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, -np.inf
    for a, b in sorted(intervals):
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return float(total)


def _events(doses: list[DoseEvent], spans: list[AlarmSpan], notes: list[Note],
            assessments: list[AssessmentPoint], workflow: list[WorkflowEvent]
            ) -> list[TimelineEvent]:
    events = [TimelineEvent(d.time, Category.DOSE, dose_label(d)) for d in doses]
    events += [TimelineEvent(s.onset, Category.ALARM,
                             f"{s.priority.label}{' technical' if s.technical else ''}: "
                             f"{s.message or s.alarm_id}") for s in spans]
    events += [TimelineEvent(n.time, Category.NOTE, n.text) for n in notes]
    events += [TimelineEvent(a.time, Category.ASSESSMENT, a.summary) for a in assessments]
    events += [TimelineEvent(e.time, Category.WORKFLOW, workflow_label(e)) for e in workflow
               if e.kind is not WorkflowKind.PROMPT_DONE]
    return sorted(events, key=lambda e: e.time)


def dose_label(dose: DoseEvent) -> str:
    lot = f", lot {dose.lot}" if dose.lot else ""
    return (f"{dose.medicine} {dose.dose_mg:g} mg {dose.route.value}, "
            f"{unit_count_text(dose.route, dose.unit_count)}{lot}")


def workflow_label(event: WorkflowEvent) -> str:
    data = event.data
    if event.kind is WorkflowKind.GATE:
        if data.get("override_reason"):
            return f"pre-dose gate overridden: {data['override_reason']}"
        return "pre-dose gate passed" if data.get("passed") else "pre-dose gate"
    if event.kind is WorkflowKind.DISCHARGE:
        return "discharge"
    if event.kind is WorkflowKind.HANDOVER:
        note = f" ({data['note']})" if data.get("note") else ""
        return (f"handover: {data.get('from') or 'nobody'} → "
                f"{data.get('to_printed') or data.get('to')}{note}")
    return event.kind.value.replace("_", " ")


# -- the course of treatment -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CourseSession:
    """One session of a client's course, as the course view's table and chart show it."""

    session: Session
    total_mg: float
    peak_systolic: float | None
    peak_diastolic: float | None
    """Peaks after the first dose (the whole session when undosed)."""
    lowest_spo2: float | None
    deepest_moaas: int | None
    """The lowest MOAA/S recorded (deepest sedation)."""
    highest_cadss: int | None
    alarms: dict[str, int]
    technical_alarms: int


def course(store: SessionStore, client_id: str) -> list[CourseSession]:
    """All clinical sessions of one client, oldest first (training sessions never)."""
    rows = []
    for o in reversed(session_overviews(store.database, training=False, client_id=client_id)):
        sid = o.session.id
        doses = store.doses(sid)
        after = doses[0].time if doses else None
        nibp = pair_nibp(store.readings(sid, NIBP_KINDS))
        nibp = [r for r in nibp if after is None or r.time > after]
        assessments = [x.assessment for x in store.observations(sid)]
        moaas = [a.moaas for a in assessments if a.moaas is not None]
        cadss = [a.cadss_total for a in assessments if a.cadss_total is not None]
        diastolic = [r.diastolic for r in nibp if r.diastolic is not None]
        rows.append(CourseSession(
            o.session, o.total_mg or 0.0,
            max((r.systolic for r in nibp), default=None),
            max(diastolic, default=None),
            o.lowest_spo2,
            min(moaas, default=None), max(cadss, default=None),
            dict(o.alarms), o.technical_alarms,
        ))
    return rows
