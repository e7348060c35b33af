"""SessionStore: every read and write of recorded sessions goes through here.

Each method opens its own connection and transaction, so one writer thread (the Recorder) and
any number of reading threads (UI, exports) can share a store. Statements are SQLAlchemy Core
against the ORM models' tables: bulk inserts stay fast and no ORM object outlives its thread.
What comes back are the frozen domain dataclasses, never database rows.

Every write of a session's record appends to the session's hash-chained audit log
(:mod:`katmonitor.audit_log`) in the same transaction: the session row, each status change,
each event row (doses, observations, workflow steps, device and alarm events) as it reads back,
and a digest of each minute of samples and waveform blocks once the minute is complete (sealed
by ``write_batch`` on the recorder's writer thread, the rest when the session ends). A new kind
of event row must be chained the same way (``audit_log.append_rows``) and listed in
``audit_log.EVENT_TABLES``; nothing of a session's record is updated in place except the
session's status, whose changes are chained as entries.
"""

from __future__ import annotations

import heapq
import json
import math
import time as _time
import uuid as _uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Row, Select, and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from katmonitor import audit_log
from katmonitor.alarms.model import AlarmEvent, Priority
from katmonitor.assessments import Assessment
from katmonitor.base.errors import DatabaseError, NotFoundError, SessionStateError
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.session import (
    DoseEvent,
    Observation,
    Route,
    Session,
    SessionStatus,
    WorkflowEvent,
    WorkflowKind,
)
from katmonitor.storage.database import WRITE_TRANSACTION, Database
from katmonitor.storage.models import (
    AlarmEventRecord,
    DeviceEventRecord,
    DoseEventRecord,
    ObservationRecord,
    SampleRecord,
    SessionRecord,
    SignatureRecord,
    WaveformBlockRecord,
    WorkflowEventRecord,
)

SESSIONS = SessionRecord.__table__
SAMPLES = SampleRecord.__table__
BLOCKS = WaveformBlockRecord.__table__
DOSES = DoseEventRecord.__table__
OBSERVATIONS = ObservationRecord.__table__
DEVICE_EVENTS = DeviceEventRecord.__table__
ALARM_EVENTS = AlarmEventRecord.__table__
SIGNATURES = SignatureRecord.__table__
WORKFLOW_EVENTS = WorkflowEventRecord.__table__

# Rows fetched per query while streaming a session back (iter_samples).
CHUNK_ROWS = 5000
WAVEFORM_DTYPE = np.dtype("<f4")


class SessionStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._engine = database.engine
        # The newest minute of recorded data per active session: a batch within it needs no
        # seal. Only ever skips work (the chain itself says what is sealed).
        self._open_minutes: dict[int, int] = {}

    # -- sessions --------------------------------------------------------------------------

    def create_session(
        self,
        *,
        client_id: str,
        medicine: str,
        route: Route,
        started_at: float,
        training: bool,
        devices: Sequence[str],
        workstation: str,
    ) -> Session:
        values = {
            "uuid": str(_uuid.uuid4()),
            "client_id": client_id,
            "medicine": medicine,
            "route": str(route),
            "started_at": started_at,
            "ended_at": None,
            "status": str(SessionStatus.ACTIVE),
            "training": training,
            "devices": "\n".join(devices),
            "workstation": workstation,
            "created_at": _time.time(),
        }
        with self._writing("create the session") as conn:
            session_id = conn.execute(insert(SESSIONS).values(values)).inserted_primary_key[0]
            audit_log.append_rows(conn, session_id, SESSIONS, [session_id])
        return _session({"id": session_id, **values})

    def set_status(
        self, session_id: int, status: SessionStatus, ended_at: float | None = None
    ) -> Session:
        """Set the status and ``ended_at`` (None clears it, e.g. when a session is reopened)."""
        with self._writing("update the session") as conn:
            _refuse_signed(conn, [session_id])
            # The write comes first so the transaction holds the write lock before reading.
            changed = conn.execute(
                update(SESSIONS)
                .where(SESSIONS.c.id == session_id)
                .values(status=str(status), ended_at=ended_at)
            ).rowcount
            if not changed:
                raise _no_session(session_id)
            if status is not SessionStatus.ACTIVE:  # the rest of the recorded data
                audit_log.seal(conn, session_id, final=True)
            audit_log.append(
                conn,
                session_id,
                [audit_log.status_entry(session_id, str(status), ended_at, _time.time())],
            )
            session = self._get_session(conn, session_id)
        self._open_minutes.pop(session_id, None)
        return session

    def seal_recorded(self, session_id: int) -> None:
        """Chain the digests of all recorded data not chained yet, even of an unfinished minute
        (the recorder calls this on its writer thread before a session ends)."""
        with self._writing("seal the recorded data", session_id) as conn:
            _refuse_signed(conn, [session_id])
            audit_log.seal(conn, session_id, final=True)

    def get_session(self, session_id: int) -> Session:
        with self._reading("read the session") as conn:
            return self._get_session(conn, session_id)

    def list_sessions(self) -> list[Session]:
        """All sessions, newest first."""
        return self._sessions(None)

    def open_sessions(self) -> list[Session]:
        """Sessions that are active or interrupted (can be reopened), newest first."""
        return self._sessions(
            SESSIONS.c.status.in_([str(SessionStatus.ACTIVE), str(SessionStatus.INTERRUPTED)])
        )

    # -- timeline entries ------------------------------------------------------------------

    def add_dose(
        self,
        session_id: int,
        *,
        time: float,
        medicine: str,
        route: Route,
        dose_mg: float,
        unit_count: int,
        lot: str,
        given_by: str,
        recorded_at: float,
        note: str = "",
        weight_kg: float | None = None,
    ) -> DoseEvent:
        values = {
            "session_id": session_id,
            "time": time,
            "medicine": medicine,
            "route": str(route),
            "dose_mg": dose_mg,
            "unit_count": unit_count,
            "lot": lot,
            "given_by": given_by,
            "note": note,
            "recorded_at": recorded_at,
            "weight_kg": weight_kg,
        }
        with self._writing("record the dose", session_id) as conn:
            _refuse_signed(conn, [session_id])
            dose_id = conn.execute(insert(DOSES).values(values)).inserted_primary_key[0]
            audit_log.append_rows(conn, session_id, DOSES, [dose_id])
        return _dose({"id": dose_id, **values})

    def add_observation(
        self,
        session_id: int,
        *,
        time: float,
        text: str,
        author: str,
        recorded_at: float,
        assessment: Assessment | None = None,
    ) -> Observation:
        values = {
            "session_id": session_id,
            "time": time,
            "text": text,
            "author": author,
            "recorded_at": recorded_at,
            "assessment": _json((assessment or Assessment()).to_dict()),
        }
        with self._writing("record the observation", session_id) as conn:
            _refuse_signed(conn, [session_id])
            obs_id = conn.execute(insert(OBSERVATIONS).values(values)).inserted_primary_key[0]
            audit_log.append_rows(conn, session_id, OBSERVATIONS, [obs_id])
        return _observation({"id": obs_id, **values})

    def add_workflow_event(
        self,
        session_id: int,
        *,
        time: float,
        kind: WorkflowKind,
        user: str,
        data: dict[str, Any],
        recorded_at: float,
    ) -> WorkflowEvent:
        values = {
            "session_id": session_id,
            "time": time,
            "kind": str(kind),
            "user": user,
            "data": _json(data),
            "recorded_at": recorded_at,
        }
        with self._writing("record the workflow step", session_id) as conn:
            _refuse_signed(conn, [session_id])
            event_id = conn.execute(insert(WORKFLOW_EVENTS).values(values)).inserted_primary_key[0]
            audit_log.append_rows(conn, session_id, WORKFLOW_EVENTS, [event_id])
        return _workflow_event({"id": event_id, **values})

    def workflow_events(self, session_id: int) -> list[WorkflowEvent]:
        query = select(WORKFLOW_EVENTS).where(WORKFLOW_EVENTS.c.session_id == session_id)
        with self._reading("read the workflow steps") as conn:
            rows = conn.execute(query.order_by(WORKFLOW_EVENTS.c.time, WORKFLOW_EVENTS.c.id))
            return [_workflow_event(row) for row in rows.mappings()]

    def doses(self, session_id: int) -> list[DoseEvent]:
        query = select(DOSES).where(DOSES.c.session_id == session_id)
        with self._reading("read the doses") as conn:
            rows = conn.execute(query.order_by(DOSES.c.time, DOSES.c.id)).mappings()
            return [_dose(row) for row in rows]

    def observations(self, session_id: int) -> list[Observation]:
        query = select(OBSERVATIONS).where(OBSERVATIONS.c.session_id == session_id)
        with self._reading("read the observations") as conn:
            rows = conn.execute(query.order_by(OBSERVATIONS.c.time, OBSERVATIONS.c.id))
            return [_observation(row) for row in rows.mappings()]

    def device_events(self, session_id: int) -> list[DeviceStatus]:
        query = select(DEVICE_EVENTS).where(DEVICE_EVENTS.c.session_id == session_id)
        with self._reading("read the device events") as conn:
            rows = conn.execute(query.order_by(DEVICE_EVENTS.c.time, DEVICE_EVENTS.c.id))
            return [
                DeviceStatus(
                    r.time, r.source, ConnectionState(r.state), _words(r.conditions), r.message
                )
                for r in rows
            ]

    # -- recorded data ---------------------------------------------------------------------

    def write_batch(
        self,
        samples: Sequence[tuple[int, Sample]],
        blocks: Sequence[tuple[int, WaveformBlock]],
        statuses: Sequence[tuple[int, DeviceStatus]],
        alarm_events: Sequence[tuple[int, AlarmEvent]] = (),
    ) -> None:
        """Insert everything in one transaction: all of it is stored, or none of it."""
        if not (samples or blocks or statuses or alarm_events):
            return
        newest = _newest_minutes(samples, blocks)
        opened: dict[int, int | None] = {}
        with self._writing("store recorded data") as conn:
            _refuse_signed(
                conn, {sid for rows in (samples, blocks, statuses, alarm_events) for sid, _ in rows}
            )
            # A list of parameter dicts makes Core use executemany: one statement, many rows.
            if samples:
                conn.execute(
                    insert(SAMPLES),
                    [
                        {
                            "session_id": sid,
                            "time": s.time,
                            "source": s.source,
                            "kind": str(s.kind),
                            "value": s.value,
                            "status": _joined(s.status),
                        }
                        for sid, s in samples
                    ],
                )
            if blocks:
                conn.execute(
                    insert(BLOCKS),
                    [
                        {
                            "session_id": sid,
                            "source": b.source,
                            "kind": str(b.kind),
                            "start_time": b.start_time,
                            "sample_rate_hz": b.sample_rate_hz,
                            "count": b.count,
                            "status": _joined(b.status),
                            "data": np.asarray(b.values).astype(WAVEFORM_DTYPE).tobytes(),
                        }
                        for sid, b in blocks
                    ],
                )
            if statuses:
                _chained_insert(
                    conn,
                    DEVICE_EVENTS,
                    [
                        {
                            "session_id": sid,
                            "time": d.time,
                            "source": d.source,
                            "state": str(d.state),
                            "conditions": _joined(d.conditions),
                            "message": d.message,
                        }
                        for sid, d in statuses
                    ],
                )
            if alarm_events:
                _chained_insert(conn, ALARM_EVENTS, [_alarm_row(sid, e) for sid, e in alarm_events])
            # Minutes of recorded data completed by this batch are sealed into the chain here,
            # on the writer thread; a batch inside the newest minute skips this.
            for sid, minute in sorted(newest.items()):
                known = self._open_minutes.get(sid)
                if known is not None and minute <= known:
                    continue
                status = conn.scalar(select(SESSIONS.c.status).where(SESSIONS.c.id == sid))
                if status == str(SessionStatus.ACTIVE):
                    opened[sid] = audit_log.seal(conn, sid, final=False)
                else:  # data for a session that has ended: nothing of it waits
                    audit_log.seal(conn, sid, final=True)
        for sid, minute_open in opened.items():  # committed
            if minute_open is not None:
                self._open_minutes[sid] = minute_open

    def add_alarm_events(self, session_id: int, events: Sequence[AlarmEvent]) -> None:
        """Store alarm events at once (the recorder batches them with the samples instead)."""
        if events:
            with self._writing("record the alarm events", session_id) as conn:
                _refuse_signed(conn, [session_id])
                _chained_insert(conn, ALARM_EVENTS, [_alarm_row(session_id, e) for e in events])

    def alarm_events(self, session_id: int) -> list[AlarmEvent]:
        """The session's alarm record in time order."""
        query = select(ALARM_EVENTS).where(ALARM_EVENTS.c.session_id == session_id)
        with self._reading("read the alarm events") as conn:
            rows = conn.execute(query.order_by(ALARM_EVENTS.c.time, ALARM_EVENTS.c.id))
            return [
                AlarmEvent(
                    r.time,
                    r.alarm_id,
                    r.kind,
                    Priority.parse(r.priority) if r.priority else None,
                    r.event,
                    r.value,
                    r.limit,
                    r.message,
                    bool(r.technical),
                    r.user,
                    r.reason,
                )
                for r in rows
            ]

    def sample_counts(self, session_id: int) -> dict[str, int]:
        """Stored readings per kind; waveform kinds count points, not blocks."""
        numeric = (
            select(SAMPLES.c.kind, func.count())
            .where(SAMPLES.c.session_id == session_id)
            .group_by(SAMPLES.c.kind)
        )
        points = (
            select(BLOCKS.c.kind, func.sum(BLOCKS.c.count))
            .where(BLOCKS.c.session_id == session_id)
            .group_by(BLOCKS.c.kind)
        )
        counts: dict[str, int] = {}
        with self._reading("count the samples") as conn:
            for query in (numeric, points):
                for kind, n in conn.execute(query):
                    counts[kind] = counts.get(kind, 0) + int(n)
        return counts

    def iter_samples(self, session_id: int) -> Iterator[Sample | WaveformBlock]:
        """Everything recorded for the session in time order (a block sorts at its start).

        Streams: each kind is read in chunks along its index, and the streams are merged, so a
        long session is never loaded at once and no transaction stays open between chunks.
        """
        with self._reading("read the samples") as conn:
            kinds = sorted(
                conn.scalars(
                    select(SAMPLES.c.kind).where(SAMPLES.c.session_id == session_id).distinct()
                )
            )
        streams: list[Iterator[Sample | WaveformBlock]] = [
            self._stream(
                select(SAMPLES).where(SAMPLES.c.session_id == session_id, SAMPLES.c.kind == kind),
                SAMPLES.c.time,
                SAMPLES.c.id,
                _sample,
            )
            for kind in kinds
        ]
        streams.append(
            self._stream(
                select(BLOCKS).where(BLOCKS.c.session_id == session_id),
                BLOCKS.c.start_time,
                BLOCKS.c.id,
                _block,
            )
        )
        yield from heapq.merge(*streams, key=_sort_time)

    # -- helpers ---------------------------------------------------------------------------

    def _stream(
        self,
        query: Select[Any],
        time_col: Any,
        id_col: Any,
        convert: Callable[[Row[Any]], Sample | WaveformBlock],
    ) -> Iterator[Sample | WaveformBlock]:
        """Keyset pagination on (time, id): each chunk is a short query of its own."""
        query = query.order_by(time_col, id_col).limit(CHUNK_ROWS)
        last: tuple[float, int] | None = None
        while True:
            page = query
            if last is not None:
                page = query.where(
                    or_(time_col > last[0], and_(time_col == last[0], id_col > last[1]))
                )
            with self._reading("read the samples") as conn:
                rows = conn.execute(page).all()
            yield from (convert(row) for row in rows)
            if len(rows) < CHUNK_ROWS:
                return
            last = (rows[-1]._mapping[time_col], rows[-1]._mapping[id_col])

    def _sessions(self, condition: Any) -> list[Session]:
        query = select(SESSIONS)
        if condition is not None:
            query = query.where(condition)
        query = query.order_by(SESSIONS.c.started_at.desc(), SESSIONS.c.id.desc())
        with self._reading("list the sessions") as conn:
            return [_session(row) for row in conn.execute(query).mappings()]

    def _get_session(self, conn: Connection, session_id: int) -> Session:
        row = conn.execute(select(SESSIONS).where(SESSIONS.c.id == session_id)).mappings().first()
        if row is None:
            raise _no_session(session_id)
        return _session(row)

    @contextmanager
    def _reading(self, action: str) -> Iterator[Connection]:
        with _translated(action, self.database), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _writing(self, action: str, session_id: int | None = None) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error."""
        with (
            _translated(action, self.database, session_id),
            self._engine.connect() as conn,
        ):
            conn.execution_options(**{WRITE_TRANSACTION: True})
            with conn.begin():
                yield conn


@contextmanager
def _translated(action: str, database: Database, session_id: int | None = None) -> Iterator[None]:
    """Database failures reach callers as DatabaseError (NotFoundError for a missing session)."""
    try:
        yield
    except IntegrityError as exc:
        if session_id is not None and "foreign key" in str(exc.orig).lower():
            raise _no_session(session_id) from exc
        raise _failed(action, database, exc) from exc
    except SQLAlchemyError as exc:
        raise _failed(action, database, exc) from exc


def _failed(action: str, database: Database, exc: SQLAlchemyError) -> DatabaseError:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return DatabaseError(
        f"cannot {action} in {database.display_url}: {detail}",
        "check free disk space and that no other program holds the database",
    )


def _refuse_signed(conn: Connection, session_ids: Iterable[int]) -> None:
    """A signed record is read-only: nothing may be added to it or changed."""
    ids = sorted(set(session_ids))
    signed = conn.scalars(
        select(SIGNATURES.c.session_id).where(SIGNATURES.c.session_id.in_(ids)).limit(1)
    ).first()
    if signed is not None:
        raise SessionStateError(
            f"session {signed} is signed; its record is read-only",
            "add a correction or note as a signed addendum: "
            f"katmonitor addendum {signed} --user NAME --kind note|correction --text TEXT",
        )


def _chained_insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert event rows and append each to its session's chain, in the same transaction."""
    ids = (
        conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        .scalars()
        .all()
    )
    by_session: dict[int, list[int]] = {}
    for row, row_id in zip(rows, ids, strict=True):
        by_session.setdefault(int(row["session_id"]), []).append(int(row_id))
    for session_id, session_ids in sorted(by_session.items()):
        audit_log.append_rows(conn, session_id, table, session_ids)


def _newest_minutes(
    samples: Sequence[tuple[int, Sample]], blocks: Sequence[tuple[int, WaveformBlock]]
) -> dict[int, int]:
    """The newest UTC minute of recorded data in a batch, per session."""
    newest: dict[int, int] = {}
    for sid, t in chain(
        ((sid, s.time) for sid, s in samples), ((sid, b.start_time) for sid, b in blocks)
    ):
        if isinstance(t, int | float) and math.isfinite(t):
            minute = int(t // audit_log.SAMPLE_INTERVAL_S)
            if minute > newest.get(sid, -1):
                newest[sid] = minute
        else:
            newest.setdefault(sid, -1)
    return newest


def _no_session(session_id: int) -> NotFoundError:
    return NotFoundError(
        f"no session {session_id}", "katmonitor sessions list shows the recorded sessions"
    )


def _alarm_row(session_id: int, e: AlarmEvent) -> dict[str, object]:
    return {
        "session_id": session_id,
        "time": e.time,
        "alarm_id": e.alarm_id,
        "kind": e.kind,
        "priority": e.priority.label if e.priority is not None else None,
        "event": e.event,
        "value": e.value,
        "limit": e.limit,
        "message": e.message,
        "technical": e.technical,
        "user": e.user,
        "reason": e.reason,
    }


def _joined(words: Iterable[str]) -> str:
    return ",".join(sorted(words))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split(",")) if text else frozenset()


def _session(row: Any) -> Session:
    return Session(
        id=row["id"],
        uuid=row["uuid"],
        client_id=row["client_id"],
        medicine=row["medicine"],
        route=Route(row["route"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        status=SessionStatus(row["status"]),
        training=bool(row["training"]),
        devices=tuple(row["devices"].split("\n")) if row["devices"] else (),
        workstation=row["workstation"],
    )


def _dose(row: Any) -> DoseEvent:
    return DoseEvent(
        id=row["id"],
        session_id=row["session_id"],
        time=row["time"],
        medicine=row["medicine"],
        route=Route(row["route"]),
        dose_mg=row["dose_mg"],
        unit_count=row["unit_count"],
        lot=row["lot"],
        given_by=row["given_by"],
        recorded_at=row["recorded_at"],
        note=row["note"],
        weight_kg=row["weight_kg"],
    )


def _observation(row: Any) -> Observation:
    return Observation(
        id=row["id"],
        session_id=row["session_id"],
        time=row["time"],
        text=row["text"],
        author=row["author"],
        recorded_at=row["recorded_at"],
        assessment=Assessment.from_dict(json.loads(row["assessment"] or "{}")),
    )


def _workflow_event(row: Any) -> WorkflowEvent:
    return WorkflowEvent(
        id=row["id"],
        session_id=row["session_id"],
        time=row["time"],
        kind=WorkflowKind(row["kind"]),
        user=row["user"],
        data=json.loads(row["data"]),
        recorded_at=row["recorded_at"],
    )


def _json(data: dict[str, Any]) -> str:
    """Canonical JSON (sorted keys, no spaces): stable bytes for the audit chain."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sample(row: Row[Any]) -> Sample:
    return Sample(row.time, row.source, VitalKind(row.kind), row.value, _words(row.status))


def _block(row: Row[Any]) -> WaveformBlock:
    values = np.frombuffer(row.data, dtype=WAVEFORM_DTYPE).astype(np.float32)
    return WaveformBlock(
        row.start_time,
        row.sample_rate_hz,
        row.source,
        VitalKind(row.kind),
        values,
        _words(row.status),
    )


def _sort_time(item: Sample | WaveformBlock) -> float:
    return item.start_time if isinstance(item, WaveformBlock) else item.time
