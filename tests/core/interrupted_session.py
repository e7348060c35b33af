"""A session recorded with two interruptions, through the store's write path and the recovery
code: recorded, its recorder killed (found at the next start), reopened, recorded again, killed
again, then closed with a reason. The status changes are stamped with the wall clock (as the
store does), so the session's times are around now."""

from __future__ import annotations

import time
from dataclasses import dataclass

from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.recovery import (
    RecordingLease,
    close_interrupted_session,
    recover_interrupted_sessions,
)
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.store import SessionStore


@dataclass(frozen=True)
class TwiceInterrupted:
    session_id: int
    first_last_data: float
    reopened_after: float
    """The wall clock just before the reopening (the first gap ends at or after it)."""
    second_last_data: float


def _dead(_pid: int) -> bool:
    return False


def _record(store: SessionStore, session_id: int, start: float, seconds: int) -> float:
    samples = [(session_id, Sample(start + i, "sim", kind, value))
               for i in range(seconds)
               for kind, value in ((VitalKind.HR, 70.0 + i % 5), (VitalKind.SPO2, 97.0))]
    store.write_batch(samples, [], [], [])
    return start + seconds - 1


def record_twice_interrupted(store: SessionStore, *, closed_reason: str = "power lost"
                             ) -> TwiceInterrupted:
    t0 = time.time() - 600.0
    session = store.create_session(
        client_id="C-12", medicine="esketamine", route=Route.INTRANASAL, started_at=t0,
        training=False, devices=("sim:normal",), workstation="room 1",
    )
    first_last = _record(store, session.id, t0, 120)
    RecordingLease(store, host="room-1").hold(session.id, first_last)
    recover_interrupted_sessions(store, first_last + 5, host="room-1", alive=_dead)
    reopened_after = time.time()
    store.set_status(session.id, SessionStatus.ACTIVE)  # reopened
    second_last = _record(store, session.id, reopened_after + 1, 60)
    RecordingLease(store, host="room-1").hold(session.id, second_last)
    recover_interrupted_sessions(store, second_last + 5, host="room-1", alive=_dead)
    close_interrupted_session(store, session.id, closed_reason, second_last + 10)
    return TwiceInterrupted(session.id, first_last, reopened_after, second_last)
