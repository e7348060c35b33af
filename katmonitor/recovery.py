"""Crash recovery: sessions whose recording process is gone are found and marked interrupted,
and an interrupted session can be closed with a reason so that it can be signed.

A process that records a session holds a *recording lease* on it (host, process id, heartbeat
every :data:`HEARTBEAT_S`; ``katmonitor/storage/leases.py``). Any later start on the database
(the window or ``katmonitor record``) and ``katmonitor sessions close`` look at every session
stored as active; its recorder is gone when

- the lease names this host and a process that no longer exists (a kill -9 or power loss on
  this workstation: found at once on restart), or
- the lease's heartbeat is older than :data:`STALE_AFTER_S` (another workstation on a shared
  PostgreSQL database that died; long enough to outlast a database restart), or
- no lease was ever taken and the session is older than :data:`STALE_AFTER_S` (a session
  recorded before leases existed).

Such a session becomes ``interrupted``; the chain's status entry records why and the time of
its last stored data, so the gap is on record. The nurse can reopen it (monitoring continues,
alarms at once) or close it with a reason.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from katmonitor.base.errors import ConfigurationError, KatMonitorError, SessionStateError
from katmonitor.records.entries import STATUS_KIND, entry_body
from katmonitor.session import Session, SessionStatus
from katmonitor.storage.leases import ActiveSession, LeaseRepository
from katmonitor.storage.store import SessionStore

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
"""How often a recording process renews its lease."""
STALE_AFTER_S = 120.0
"""A lease not renewed for this long belongs to a process that is gone."""
MAX_REASON_LENGTH = 500


@dataclass(frozen=True, slots=True)
class RecoveredSession:
    session_id: int
    why: str
    last_data_at: float | None


def process_alive(pid: int) -> bool:
    """True if a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return False
    return True


def recorder_gone(
    active: ActiveSession, now: float, host: str, alive: Callable[[int], bool] = process_alive
) -> str | None:
    """Why the session's recorder is gone, or None while it may still be recording."""
    lease = active.lease
    if lease is None:
        if now - active.started_at < STALE_AFTER_S:
            return None  # the recorder is about to take its lease
        return "no recording process holds it"
    if lease.host == host and not alive(lease.pid):
        return f"its recording process ({lease.pid}) on this workstation has ended"
    silent = now - lease.heartbeat_at
    if silent > STALE_AFTER_S:
        return f"its recorder on {lease.host} has not reported for {silent / 60:.0f} min"
    return None


class RecordingLease:
    """The lease this process holds on the session it records."""

    def __init__(self, store: SessionStore, host: str | None = None) -> None:
        self._leases = LeaseRepository(store.database)
        self.host = host or socket.gethostname()
        self.pid = os.getpid()

    def hold(self, session_id: int, now: float) -> None:
        self._leases.hold(session_id, self.host, self.pid, now)

    def renew(self, session_id: int, now: float) -> None:
        """Renew the lease; take it again if it was lost (e.g. the session was marked
        interrupted by another start while this process could not reach the database)."""
        if not self._leases.beat(session_id, self.host, self.pid, now):
            self.hold(session_id, now)


def recover_interrupted_sessions(
    store: SessionStore,
    now: float,
    *,
    host: str | None = None,
    alive: Callable[[int], bool] = process_alive,
) -> list[RecoveredSession]:
    """Mark every active session whose recorder is gone as interrupted; returns them."""
    host = host or socket.gethostname()
    leases = LeaseRepository(store.database)
    recovered = []
    for active in leases.active_sessions():
        why = recorder_gone(active, now, host, alive)
        if why is None:
            continue
        last = leases.last_data_time(active.session_id)
        store.set_status(
            active.session_id, SessionStatus.INTERRUPTED, recovered=why, last_data_at=last
        )
        log.warning("session %d was left recording: %s", active.session_id, why)
        recovered.append(RecoveredSession(active.session_id, why, last))
    return recovered


def recover_quietly(store: SessionStore, now: float) -> list[RecoveredSession]:
    """Recovery at start-up: a database that cannot be read now must not stop monitoring."""
    try:
        return recover_interrupted_sessions(store, now)
    except KatMonitorError as error:
        log.warning("cannot look for interrupted sessions now: %s", error)
        return []


def close_interrupted_session(
    store: SessionStore, session_id: int, reason: str, now: float, *, closed_by: str = ""
) -> Session:
    """End an interrupted session without reopening it, so it can be signed. The reason, who
    closed it (``closed_by``: the signed-in user in the window; none from the CLI) and the
    time of its last stored data go into the chain; ``ended_at`` is that last data time (or
    the start, for a session that stored nothing)."""
    reason = " ".join(reason.split())
    if not reason:
        raise ConfigurationError(
            "closing an interrupted session needs a reason",
            'say why it was not ended, e.g. "power lost"',
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise ConfigurationError(f"the reason must be at most {MAX_REASON_LENGTH} characters")
    session = store.get_session(session_id)
    if session.status is SessionStatus.ACTIVE:
        recover_interrupted_sessions(store, now)
        session = store.get_session(session_id)
    if session.status is SessionStatus.ACTIVE:
        raise SessionStateError(
            f"session {session_id} is still being recorded",
            "end it where it is recorded; a session whose recorder stopped reporting is "
            f"closable {STALE_AFTER_S / 60:.0f} min after its last report",
        )
    if session.status is SessionStatus.ENDED:
        raise SessionStateError(f"session {session_id} has already ended")
    last = LeaseRepository(store.database).last_data_time(session_id)
    ended_at = last if last is not None else session.started_at
    return store.set_status(
        session_id, SessionStatus.ENDED, ended_at, closed_after_interruption=reason,
        closed_by=closed_by.strip() or None,
    )


@dataclass(frozen=True, slots=True)
class RecordingGap:
    """A stretch of a session with no recording: from its last data before an interruption
    to its reopening (``end`` None: it was never reopened)."""

    start: float
    end: float | None
    why: str
    """Why it stopped: the recorder gone (found at a later start), or the app closed."""
    closed_reason: str = ""
    """The reason given when the interrupted session was closed instead of reopened."""

    def to_json_dict(self) -> dict[str, object]:
        from katmonitor.base.samples import iso_utc

        return {
            "start": iso_utc(self.start),
            "end": iso_utc(self.end) if self.end is not None else None,
            "why": self.why,
            "closed_reason": self.closed_reason,
        }

    def text(self, time_text: Callable[[float], str]) -> str:
        end = time_text(self.end) if self.end is not None else "the end of the session"
        closed = f"; closed: {self.closed_reason}" if self.closed_reason else ""
        return f"not recorded from {time_text(self.start)} to {end} ({self.why}{closed})"


def recording_gaps(store: SessionStore, session_id: int) -> list[RecordingGap]:
    """The session's interruptions, from the status changes in its chain."""
    with store.reading("read the session's status changes") as tx:
        changes = [entry_body(r["entry"]) for r in tx.chain.entries(session_id)
                   if r["kind"] == STATUS_KIND]
    gaps: list[RecordingGap] = []
    open_gap: RecordingGap | None = None
    for change in changes:
        status = change.get("status")
        if status == str(SessionStatus.INTERRUPTED) and open_gap is None:
            last = change.get("last_data_at")
            start = float(last) if last is not None else float(change["at"])
            why = str(change.get("recovered") or "the app was closed during the session")
            open_gap = RecordingGap(start, None, why)
        elif open_gap is not None and status == str(SessionStatus.ACTIVE):
            gaps.append(RecordingGap(open_gap.start, float(change["at"]), open_gap.why))
            open_gap = None
        elif open_gap is not None and status == str(SessionStatus.ENDED):
            reason = str(change.get("closed_after_interruption") or "")
            gaps.append(RecordingGap(open_gap.start, None, open_gap.why, reason))
            open_gap = None
    if open_gap is not None:
        gaps.append(open_gap)
    return gaps


@dataclass(frozen=True, slots=True)
class InterruptedSession:
    """An interrupted session the window offers at start, to resume or to close."""

    session: Session
    why: str
    last_data_at: float | None
    """The time of its last stored data (None: it stored none)."""
    here: bool
    """Recorded on this workstation. Only such a session is resumed here: another room's
    session continued with this room's devices would record another client's vitals."""


def sessions_to_offer(
    store: SessionStore, workstation: str, recovered: Sequence[RecoveredSession] = ()
) -> list[InterruptedSession]:
    """What the window offers after a start: every interrupted session recorded on this
    workstation (killed, power lost, or the app closed during it), and every session this start
    found left recording elsewhere (``recovered``; a shared database), oldest first."""
    found = {r.session_id: r for r in recovered}
    offered = []
    for session in store.open_sessions():
        if session.status is not SessionStatus.INTERRUPTED:
            continue
        here = session.workstation == workstation
        if not here and session.id not in found:
            continue
        recovered_now = found.get(session.id)
        if recovered_now is not None:
            why, last = recovered_now.why, recovered_now.last_data_at
        else:
            gaps = recording_gaps(store, session.id)
            why = gaps[-1].why if gaps else "the app was closed during the session"
            last = LeaseRepository(store.database).last_data_time(session.id)
        offered.append(InterruptedSession(session, why, last, here))
    return sorted(offered, key=lambda o: (o.session.started_at, o.session.id))
