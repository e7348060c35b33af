"""Everything the PDF report and the REMS form need from one recorded session, read once.

:func:`load_report` reads the session, its doses, observations, workflow steps, alarm and
device events, the numerics to plot (never the pleth waveform) and the signature's status at
export time (:func:`katmonitor.record_signing.verify_session`). The schedule's compliance is
reconstructed with the same pure function the live window uses
(:func:`katmonitor.clinical_schedule.build_schedule`) from what is stored: the NIBP reading
times, the assessment times, the recorded prompt completions and the end of the session, with
the schedule values the gate recorded at the first dose.

Nothing here invents data: a value that was not recorded is None, and the writers say so.
"""

from __future__ import annotations

import dataclasses
import time as _time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from katmonitor.alarms.model import AlarmEvent
from katmonitor.base.errors import DatabaseError
from katmonitor.base.samples import DeviceStatus, parse_iso_utc
from katmonitor.base.vitals import VitalKind
from katmonitor.care_plan import CarePlan, RoutePlan, load_care_plan
from katmonitor.clinical_schedule import Completion, Prompt, PromptState, build_schedule
from katmonitor.record_signing import VerificationReport, is_signed, verify_session
from katmonitor.recovery import RecordingGap, recording_gaps
from katmonitor.session import (
    DoseEvent,
    Observation,
    Session,
    WorkflowEvent,
    WorkflowKind,
)
from katmonitor.storage.store import SessionStore

PLOTTED_KINDS: tuple[VitalKind, ...] = (
    VitalKind.HR,
    VitalKind.PULSE_RATE,
    VitalKind.SPO2,
    VitalKind.NIBP_SYSTOLIC,
    VitalKind.NIBP_DIASTOLIC,
    VitalKind.NIBP_MEAN,
)
NIBP_PAIRING_S = 5.0
"""Diastolic and mean values belong to the systolic reading at most this far away in time."""


@dataclass(frozen=True, slots=True)
class Series:
    """The valid values of one numeric kind, in time order (all sources together)."""

    kind: VitalKind
    times: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.times.size)


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
class Signature:
    """The signature's status at export time and, when signed, its manifestation."""

    status: str
    """``verified``, ``unsigned`` or ``invalid`` (as :class:`VerificationReport`)."""
    problems: tuple[str, ...] = ()
    printed_name: str = ""
    user: str = ""
    role: str = ""
    meaning: str = ""
    signed_at: float | None = None
    key_id: Any = None
    key_fingerprint: str = ""

    @property
    def label(self) -> str:
        return {
            "verified": "VERIFIED",
            "unsigned": "UNSIGNED — not a signed record",
            "invalid": "INVALID — the record does not match its signature",
        }.get(self.status, self.status.upper())

    @classmethod
    def from_report(cls, report: VerificationReport) -> Signature:
        s = report.signer or {}
        signed_at = s.get("signed_at_utc")
        return cls(
            status=report.status,
            problems=tuple(report.problems),
            printed_name=str(s.get("printed_name") or ""),
            user=str(s.get("user") or ""),
            role=str(s.get("role") or ""),
            meaning=str(s.get("meaning") or ""),
            signed_at=parse_iso_utc(signed_at) if signed_at else None,
            key_id=s.get("key_id"),
            key_fingerprint=str(s.get("key_fingerprint") or ""),
        )


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """One prompt of the schedule as it stood at the end of the session."""

    prompt: Prompt
    late: bool
    """Completed after it became overdue (the care plan's ``overdue_after_min``)."""
    note: str = ""

    @property
    def status(self) -> str:
        p = self.prompt
        if p.state is PromptState.DONE:
            if self.late and p.completion is not None:
                return f"LATE ({(p.completion.time - p.due_at) / 60:.0f} min after due)"
            return "done"
        if p.state is PromptState.MISSED:
            return "MISSED"
        return p.state.value


@dataclass
class ReportData:
    session: Session
    doses: list[DoseEvent]
    observations: list[Observation]
    workflow: list[WorkflowEvent]
    alarms: list[AlarmEvent]
    device_events: list[DeviceStatus]
    numerics: dict[VitalKind, Series]
    nibp: list[NibpReading]
    signature: Signature
    plan: CarePlan
    exported_at: float
    full_names: dict[str, str] = field(default_factory=dict)
    """Account name -> printed name, for the users named in the record."""
    gaps: list[RecordingGap] = field(default_factory=list)
    """Stretches not recorded (the app closed or killed during the session)."""

    # -- the record's parts --------------------------------------------------------------------

    def events(self, kind: WorkflowKind) -> list[WorkflowEvent]:
        return [e for e in self.workflow if e.kind is kind]

    def last_event(self, kind: WorkflowKind, before: float | None = None) -> WorkflowEvent | None:
        found = [e for e in self.events(kind) if before is None or e.time <= before]
        return found[-1] if found else None

    @property
    def first_dose_at(self) -> float | None:
        return self.doses[0].time if self.doses else None

    @property
    def gate(self) -> WorkflowEvent | None:
        return self.last_event(WorkflowKind.GATE)

    @property
    def eligibility(self) -> WorkflowEvent | None:
        """The checklist in force at the first dose (the last one recorded before it)."""
        anchor = self.first_dose_at
        return self.last_event(WorkflowKind.ELIGIBILITY, anchor) or self.last_event(
            WorkflowKind.ELIGIBILITY
        )

    @property
    def discharge(self) -> WorkflowEvent | None:
        return self.last_event(WorkflowKind.DISCHARGE)

    @property
    def end_time(self) -> float | None:
        """The end of monitoring: the session's end (the discharge ends it)."""
        if self.session.ended_at is not None:
            return self.session.ended_at
        discharge = self.discharge
        return discharge.time if discharge is not None else None

    def oral_completion(self, dose: DoseEvent) -> WorkflowEvent | None:
        found = [
            e for e in self.events(WorkflowKind.ORAL_COMPLETE) if e.data.get("dose_id") == dose.id
        ]
        return found[-1] if found else None

    def full_name(self, user: str) -> str:
        return self.full_names.get(user) or user

    @property
    def assessments(self) -> list[Observation]:
        return [o for o in self.observations if not o.assessment.is_empty]

    # -- the schedule --------------------------------------------------------------------------

    def route_plan(self) -> tuple[RoutePlan, bool]:
        """The schedule values: the ones the gate recorded at the first dose (True), or the
        care plan's when the record has none (False)."""
        shipped = self.plan.for_route(self.session.route)
        gate = self.gate
        recorded = gate.data.get("route_plan") if gate is not None else None
        if not isinstance(recorded, dict):
            return shipped, False
        fields = {f.name for f in dataclasses.fields(RoutePlan)}
        values = {k: v for k, v in recorded.items() if k in fields}
        return dataclasses.replace(shipped, **values), True

    def schedule(self) -> list[ScheduleRow]:
        anchor = self.first_dose_at
        if anchor is None:
            return []
        route, _ = self.route_plan()
        done = self.events(WorkflowKind.PROMPT_DONE)
        recorded = {e.data["prompt_id"]: Completion(e.time, e.data.get("by") or e.user)
                    for e in done if "prompt_id" in e.data}
        notes = {e.data["prompt_id"]: str(e.data.get("note") or "")
                 for e in done if "prompt_id" in e.data}
        ended = self.end_time
        prompts = build_schedule(
            self.plan,
            route,
            anchor,
            now=ended if ended is not None else self.exported_at,
            nibp_times=[r.time for r in self.nibp],
            assessment_times=[
                o.time for o in self.observations
                if o.assessment.moaas is not None or o.assessment.cadss_total is not None
            ],
            recorded=recorded,
            ended_at=ended,
        )
        overdue = self.plan.overdue_after_s
        return [
            ScheduleRow(
                p,
                p.completion is not None and p.completion.time - p.due_at > overdue,
                notes.get(p.id, ""),
            )
            for p in prompts
        ]

    # -- readings ----------------------------------------------------------------------------

    def nibp_before(self, t: float) -> NibpReading | None:
        found = [r for r in self.nibp if r.time <= t]
        return found[-1] if found else None

    def nibp_nearest(self, t: float, window_s: float) -> NibpReading | None:
        near = [r for r in self.nibp if abs(r.time - t) <= window_s]
        return min(near, key=lambda r: (abs(r.time - t), r.time)) if near else None


def load_report(
    store: SessionStore,
    session_id: int,
    *,
    care_plan: str | Path | None = None,
    now: float | None = None,
) -> ReportData:
    session = store.get_session(session_id)
    workflow = store.workflow_events(session_id)
    numerics = read_numerics(store, session_id)
    return ReportData(
        session=session,
        doses=store.doses(session_id),
        observations=store.observations(session_id),
        workflow=workflow,
        alarms=store.alarm_events(session_id),
        device_events=store.device_events(session_id),
        numerics=numerics,
        nibp=pair_nibp(store, session_id),
        signature=signature_status(store, session_id),
        plan=load_care_plan(care_plan),
        exported_at=_time.time() if now is None else now,
        full_names=_full_names(store),
        gaps=recording_gaps(store, session_id),
    )


def signature_status(store: SessionStore, session_id: int) -> Signature:
    """The signature as verified now; an unsigned session is not read twice to say so."""
    if not is_signed(store, session_id):
        return Signature("unsigned", ("the session has no signature",))
    return Signature.from_report(verify_session(store, session_id))


def read_numerics(store: SessionStore, session_id: int) -> dict[VitalKind, Series]:
    """The valid values of each plotted kind, read along the (session, kind, time) index."""
    return {
        kind: Series(kind, series.times, series.values)
        for kind, series in store.numerics(session_id, PLOTTED_KINDS).items()
    }


def pair_nibp(store: SessionStore, session_id: int) -> list[NibpReading]:
    """Each valid systolic reading with the diastolic and mean from the same source taken at
    (about) the same time."""
    kinds = (VitalKind.NIBP_SYSTOLIC, VitalKind.NIBP_DIASTOLIC, VitalKind.NIBP_MEAN)
    readings = store.readings(session_id, kinds)
    others: dict[tuple[VitalKind, str], list[tuple[float, float]]] = {}
    for r in readings:
        if r.kind is not VitalKind.NIBP_SYSTOLIC and r.value is not None:
            others.setdefault((r.kind, r.source), []).append((r.time, r.value))

    def partner(kind: VitalKind, source: str, time: float) -> float | None:
        near = [
            (abs(t_ - time), v) for t_, v in others.get((kind, source), [])
            if abs(t_ - time) <= NIBP_PAIRING_S
        ]
        return min(near)[1] if near else None

    return [
        NibpReading(
            r.time, r.value,
            partner(VitalKind.NIBP_DIASTOLIC, r.source, r.time),
            partner(VitalKind.NIBP_MEAN, r.source, r.time),
            r.source,
        )
        for r in readings
        if r.kind is VitalKind.NIBP_SYSTOLIC and r.value is not None
    ]


def _full_names(store: SessionStore) -> dict[str, str]:
    from katmonitor.accounts import AccountStore

    try:
        return {u.name: u.full_name for u in AccountStore(store.database).list_users()}
    except DatabaseError:  # the accounts cannot be read: names stay as recorded
        return {}


# -- time formatting ---------------------------------------------------------------------------


def local(t: float) -> datetime:
    """The moment in this computer's time zone (the clinic's)."""
    return datetime.fromtimestamp(t, UTC).astimezone()


def utc_offset(t: float) -> str:
    """``UTC-04:00`` for the local zone at ``t``."""
    offset = local(t).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def local_text(t: float | None, *, seconds: bool = True) -> str:
    """``2025-10-09 10:13:20 (UTC-04:00)``; ``-`` for no time."""
    if t is None:
        return "-"
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return f"{local(t).strftime(fmt)} ({utc_offset(t)})"


def local_clock(t: float | None) -> str:
    """``10:13:20`` local; ``-`` for no time."""
    return "-" if t is None else local(t).strftime("%H:%M:%S")


def utc_text(t: float | None) -> str:
    """``2025-10-09 14:13:20 UTC``; ``-`` for no time."""
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def local_iso(t: float | None) -> str | None:
    """ISO-8601 local time with its offset (``2025-10-09T10:13:20-04:00``), or None."""
    return None if t is None else local(t).isoformat(timespec="seconds")
