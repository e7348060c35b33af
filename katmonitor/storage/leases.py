"""Recording leases: a row per session being recorded, naming the process and its last
heartbeat (the rule for when a recorder is gone is :mod:`katmonitor.recovery`). Changing a
session's status away from active removes its lease (``SessionStore.set_status``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update

from katmonitor.session import SessionStatus
from katmonitor.storage.database import Database
from katmonitor.storage.models import BLOCKS, RECORDING_LEASES, SAMPLES, SESSIONS
from katmonitor.storage.transaction import reading, writing


@dataclass(frozen=True, slots=True)
class Lease:
    session_id: int
    host: str
    pid: int
    started_at: float
    heartbeat_at: float


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A session stored as active, with its lease (None: no recorder ever held one)."""

    session_id: int
    started_at: float
    lease: Lease | None


class LeaseRepository:
    def __init__(self, database: Database) -> None:
        self.database = database

    def hold(self, session_id: int, host: str, pid: int, now: float) -> None:
        """This process records the session from now on (replacing any older lease)."""
        with writing(self.database, "mark the session as being recorded", session_id) as conn:
            leases = RECORDING_LEASES
            conn.execute(delete(leases).where(leases.c.session_id == session_id))
            conn.execute(
                insert(RECORDING_LEASES).values(
                    session_id=session_id, host=host, pid=pid, started_at=now, heartbeat_at=now
                )
            )

    def beat(self, session_id: int, host: str, pid: int, now: float) -> bool:
        """Renew this process's lease; False when it holds none any more."""
        lease = RECORDING_LEASES.c
        with writing(self.database, "renew the recording lease", session_id, hint=False) as conn:
            changed = conn.execute(
                update(RECORDING_LEASES)
                .where(lease.session_id == session_id, lease.host == host, lease.pid == pid)
                .values(heartbeat_at=now)
            ).rowcount
        return bool(changed)

    def active_sessions(self) -> list[ActiveSession]:
        """Every session stored as active, with its lease if it has one."""
        query = (
            select(
                SESSIONS.c.id,
                SESSIONS.c.started_at,
                RECORDING_LEASES.c.host,
                RECORDING_LEASES.c.pid,
                RECORDING_LEASES.c.started_at.label("lease_started_at"),
                RECORDING_LEASES.c.heartbeat_at,
            )
            .select_from(SESSIONS.outerjoin(
                RECORDING_LEASES, RECORDING_LEASES.c.session_id == SESSIONS.c.id
            ))
            .where(SESSIONS.c.status == str(SessionStatus.ACTIVE))
            .order_by(SESSIONS.c.id)
        )
        with reading(self.database, "read the sessions being recorded") as conn:
            rows = conn.execute(query).mappings().all()
        return [
            ActiveSession(
                row["id"],
                row["started_at"],
                Lease(row["id"], row["host"], row["pid"], row["lease_started_at"],
                      row["heartbeat_at"]) if row["host"] is not None else None,
            )
            for row in rows
        ]

    def last_data_time(self, session_id: int) -> float | None:
        """The time of the newest stored sample or waveform block start; None when none."""
        with reading(self.database, "read the session's last data") as conn:
            sample = conn.scalar(
                select(func.max(SAMPLES.c.time)).where(SAMPLES.c.session_id == session_id)
            )
            block = conn.scalar(
                select(func.max(BLOCKS.c.start_time)).where(BLOCKS.c.session_id == session_id)
            )
        times = [t for t in (sample, block) if t is not None]
        return max(times) if times else None
