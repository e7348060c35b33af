"""What one recorded session holds, at a glance: ``katmonitor sessions show`` prints it.

Composed from the store's public reads (no SQL here): the session, its sample counts per kind,
dose events, observations, device events, addenda, workflow steps and recording gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from katmonitor.addenda import Addendum, list_addenda
from katmonitor.base.samples import DeviceStatus
from katmonitor.recovery import RecordingGap, recording_gaps
from katmonitor.session import DoseEvent, Observation, Session, WorkflowEvent

if TYPE_CHECKING:
    from katmonitor.storage.store import SessionStore


@dataclass(frozen=True, slots=True)
class SessionSummary:
    session: Session
    sample_counts: dict[str, int]
    """Stored readings per kind; waveform kinds count points."""
    doses: list[DoseEvent]
    observations: list[Observation]
    device_events: list[DeviceStatus]
    addenda: list[Addendum]
    workflow_events: list[WorkflowEvent]
    gaps: list[RecordingGap]
    """Stretches not recorded (the app closed or killed during the session)."""

    def to_json_dict(self) -> dict[str, object]:
        """The session's own fields, then each list (``sessions show --json``)."""
        summary = self.session.to_json_dict()
        summary["sample_counts"] = dict(self.sample_counts)
        summary["dose_events"] = [d.to_json_dict() for d in self.doses]
        summary["observations"] = [o.to_json_dict() for o in self.observations]
        summary["device_events"] = [s.to_json_dict() for s in self.device_events]
        summary["addenda"] = [a.to_json_dict() for a in self.addenda]
        summary["workflow_events"] = [e.to_json_dict() for e in self.workflow_events]
        summary["gaps"] = [g.to_json_dict() for g in self.gaps]
        return summary


def summarize_session(store: SessionStore, session_id: int) -> SessionSummary:
    """Raises NotFoundError for a missing session."""
    session = store.get_session(session_id)
    return SessionSummary(
        session=session,
        sample_counts=store.sample_counts(session.id),
        doses=store.doses(session.id),
        observations=store.observations(session.id),
        device_events=store.device_events(session.id),
        addenda=list_addenda(store, session.id),
        workflow_events=store.workflow_events(session.id),
        gaps=recording_gaps(store, session.id),
    )
