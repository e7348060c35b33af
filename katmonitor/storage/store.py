"""SessionStore: every read and write of recorded sessions goes through here.

Each method opens its own connection and transaction, so one writer thread (the Recorder) and
any number of reading threads (UI, exports) can share a store. Statements are SQLAlchemy Core
against the ORM models' tables: bulk inserts stay fast and no ORM object outlives its thread.
What comes back are the frozen domain dataclasses, never database rows.

Every write of a session's record appends to the session's hash-chained audit log
(:mod:`katmonitor.storage.audit_chain`) in the same transaction: the session row, each status
change, each event row (doses, observations, workflow steps, device and alarm events) as it
reads back, and a digest of each minute of samples and waveform blocks once the minute is
complete (sealed by ``write_batch`` on the recorder's writer thread, the rest when the session
ends). A new kind of event row must be chained the same way (``audit_chain.append_rows``) and
listed in ``audit_chain.EVENT_TABLES``; nothing of a session's record is updated in place
except the session's status, whose changes are chained as entries.

Signing, addenda and exports read and write the rest of the record through
:meth:`SessionStore.reading` and :meth:`SessionStore.writing`, which give a
:class:`~katmonitor.storage.transaction.Transaction` of repositories (no SQL outside storage).
"""

from __future__ import annotations

import heapq
import math
import time as _time
import uuid as _uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Select, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from katmonitor.alarms.model import AlarmEvent
from katmonitor.assessments import Assessment
from katmonitor.base.errors import SessionStateError
from katmonitor.base.samples import DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.records.entries import SAMPLE_INTERVAL_S, status_entry
from katmonitor.session import (
    DoseEvent,
    Observation,
    Route,
    Session,
    SessionStatus,
    WorkflowEvent,
    WorkflowKind,
)
from katmonitor.storage import audit_chain, mappers, transaction
from katmonitor.storage.database import Database, inserted_id
from katmonitor.storage.models import (
    ALARM_EVENTS,
    BLOCKS,
    DEVICE_EVENTS,
    DOSES,
    OBSERVATIONS,
    RECORDING_LEASES,
    SAMPLES,
    SESSIONS,
    SIGNATURES,
    WORKFLOW_EVENTS,
)
from katmonitor.storage.series import TimeSeries, min_max_reduce
from katmonitor.storage.transaction import Transaction, no_session

# Rows fetched per query while streaming a session back (iter_samples).
CHUNK_ROWS = 5000
# How long before a window's start a stored waveform block may begin and still reach into it:
# the recorder's blocks last a fraction of a second, a compacted minute at most a minute.
WAVEFORM_LOOKBACK_S = 120.0
WAVEFORM_DTYPE = mappers.WAVEFORM_DTYPE


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
            session_id = inserted_id(conn.execute(insert(SESSIONS).values(values)))
            audit_chain.append_rows(conn, session_id, SESSIONS, [session_id])
        return mappers.session({"id": session_id, **values})

    def set_status(
        self,
        session_id: int,
        status: SessionStatus,
        ended_at: float | None = None,
        **why: Any,
    ) -> Session:
        """Set the status and ``ended_at`` (None clears it, e.g. when a session is reopened).
        ``why``: facts chained with the change (see ``status_entry``). A session that is no
        longer active loses its recording lease in the same transaction."""
        with self._writing("update the session") as conn:
            _refuse_signed(conn, [session_id])
            # The write comes first so the transaction holds the write lock before reading.
            changed = conn.execute(
                update(SESSIONS)
                .where(SESSIONS.c.id == session_id)
                .values(status=str(status), ended_at=ended_at)
            ).rowcount
            if not changed:
                raise no_session(session_id)
            if status is not SessionStatus.ACTIVE:  # the rest of the recorded data
                audit_chain.seal(conn, session_id, final=True)
                conn.execute(
                    delete(RECORDING_LEASES).where(RECORDING_LEASES.c.session_id == session_id)
                )
            audit_chain.append(
                conn,
                session_id,
                [status_entry(session_id, str(status), ended_at, _time.time(), **why)],
            )
            session = self._get_session(conn, session_id)
        self._open_minutes.pop(session_id, None)
        return session

    def seal_recorded(self, session_id: int) -> None:
        """Chain the digests of all recorded data not chained yet, even of an unfinished minute
        (the recorder calls this on its writer thread before a session ends)."""
        with self._writing("seal the recorded data", session_id) as conn:
            _refuse_signed(conn, [session_id])
            audit_chain.seal(conn, session_id, final=True)

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

    def find_sessions(
        self,
        *,
        client_id: str | None = None,
        started_from: float | None = None,
        started_before: float | None = None,
        status: SessionStatus | Collection[SessionStatus] | None = None,
        training: bool | None = None,
        route: Route | None = None,
    ) -> list[Session]:
        """Sessions matching every filter given, newest first: client, start time in
        [``started_from``, ``started_before``), status (one or several), training, route."""
        conditions: list[Any] = []
        if client_id is not None:
            conditions.append(SESSIONS.c.client_id == client_id)
        if started_from is not None:
            conditions.append(SESSIONS.c.started_at >= started_from)
        if started_before is not None:
            conditions.append(SESSIONS.c.started_at < started_before)
        if status is not None:
            statuses = [status] if isinstance(status, SessionStatus) else list(status)
            conditions.append(SESSIONS.c.status.in_([str(s) for s in statuses]))
        if training is not None:
            conditions.append(SESSIONS.c.training == training)
        if route is not None:
            conditions.append(SESSIONS.c.route == str(route))
        return self._sessions(and_(*conditions) if conditions else None)

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
            dose_id = inserted_id(conn.execute(insert(DOSES).values(values)))
            audit_chain.append_rows(conn, session_id, DOSES, [dose_id])
        return mappers.dose({"id": dose_id, **values})

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
            "assessment": mappers.canonical_json((assessment or Assessment()).to_dict()),
        }
        with self._writing("record the observation", session_id) as conn:
            _refuse_signed(conn, [session_id])
            obs_id = inserted_id(conn.execute(insert(OBSERVATIONS).values(values)))
            audit_chain.append_rows(conn, session_id, OBSERVATIONS, [obs_id])
        return mappers.observation({"id": obs_id, **values})

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
            "data": mappers.canonical_json(data),
            "recorded_at": recorded_at,
        }
        with self._writing("record the workflow step", session_id) as conn:
            _refuse_signed(conn, [session_id])
            event_id = inserted_id(conn.execute(insert(WORKFLOW_EVENTS).values(values)))
            audit_chain.append_rows(conn, session_id, WORKFLOW_EVENTS, [event_id])
        return mappers.workflow_event({"id": event_id, **values})

    def workflow_events(self, session_id: int) -> list[WorkflowEvent]:
        query = select(WORKFLOW_EVENTS).where(WORKFLOW_EVENTS.c.session_id == session_id)
        with self._reading("read the workflow steps") as conn:
            rows = conn.execute(query.order_by(WORKFLOW_EVENTS.c.time, WORKFLOW_EVENTS.c.id))
            return [mappers.workflow_event(row) for row in rows.mappings()]

    def doses(self, session_id: int) -> list[DoseEvent]:
        query = select(DOSES).where(DOSES.c.session_id == session_id)
        with self._reading("read the doses") as conn:
            rows = conn.execute(query.order_by(DOSES.c.time, DOSES.c.id)).mappings()
            return [mappers.dose(row) for row in rows]

    def observations(self, session_id: int) -> list[Observation]:
        query = select(OBSERVATIONS).where(OBSERVATIONS.c.session_id == session_id)
        with self._reading("read the observations") as conn:
            rows = conn.execute(query.order_by(OBSERVATIONS.c.time, OBSERVATIONS.c.id))
            return [mappers.observation(row) for row in rows.mappings()]

    def device_events(self, session_id: int) -> list[DeviceStatus]:
        query = select(DEVICE_EVENTS).where(DEVICE_EVENTS.c.session_id == session_id)
        with self._reading("read the device events") as conn:
            rows = conn.execute(query.order_by(DEVICE_EVENTS.c.time, DEVICE_EVENTS.c.id))
            return [mappers.device_event(r) for r in rows.mappings()]

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
                    _INSERT_SAMPLES,
                    [
                        {
                            "session_id": sid,
                            "time": s.time,
                            "source": s.source,
                            "kind": str(s.kind),
                            "value": s.value,
                            "status": mappers.joined(s.status),
                        }
                        for sid, s in samples
                    ],
                )
            if blocks:
                conn.execute(
                    _INSERT_BLOCKS,
                    [
                        {
                            "session_id": sid,
                            "source": b.source,
                            "kind": str(b.kind),
                            "start_time": b.start_time,
                            "sample_rate_hz": b.sample_rate_hz,
                            "count": b.count,
                            "status": mappers.joined(b.status),
                            "data": mappers.block_bytes(b.values),
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
                            "conditions": mappers.joined(d.conditions),
                            "message": d.message,
                        }
                        for sid, d in statuses
                    ],
                )
            if alarm_events:
                rows = [mappers.alarm_row(sid, e) for sid, e in alarm_events]
                _chained_insert(conn, ALARM_EVENTS, rows)
            # Minutes of recorded data completed by this batch are sealed into the chain here,
            # on the writer thread; a batch inside the newest minute skips this.
            for sid, minute in sorted(newest.items()):
                known = self._open_minutes.get(sid)
                if known is not None and minute <= known:
                    continue
                status = conn.scalar(select(SESSIONS.c.status).where(SESSIONS.c.id == sid))
                if status == str(SessionStatus.ACTIVE):
                    opened[sid] = audit_chain.seal(conn, sid, final=False)
                else:  # data for a session that has ended: nothing of it waits
                    audit_chain.seal(conn, sid, final=True)
        for sid, minute_open in opened.items():  # committed
            if minute_open is not None:
                self._open_minutes[sid] = minute_open

    def write_missing(
        self,
        samples: Sequence[tuple[int, Sample]],
        blocks: Sequence[tuple[int, WaveformBlock]],
        statuses: Sequence[tuple[int, DeviceStatus]],
        alarm_events: Sequence[tuple[int, AlarmEvent]] = (),
    ) -> int:
        """Like :meth:`write_batch`, but leaves out what is stored already (the same session,
        time, source and kind): writing a journal back twice stores everything once. Returns
        how many records were written."""
        def keys(table: Any, time_column: str, names: tuple[str, ...],
                 rows: Sequence[tuple[int, Any]], of: Callable[[Any], tuple[Any, ...]]
                 ) -> set[tuple[Any, ...]]:
            found: set[tuple[Any, ...]] = set()
            for sid in {sid for sid, _ in rows}:
                times = [of(r)[0] for s, r in rows if s == sid]
                column = table.c[time_column]
                query = select(table.c.session_id, column, *(table.c[n] for n in names)).where(
                    table.c.session_id == sid, column >= min(times), column <= max(times)
                )
                with self._reading("read the stored data") as conn:
                    found.update(tuple(row) for row in conn.execute(query))
            return found

        def sample_key(s: Sample) -> tuple[Any, ...]:
            return (s.time, s.source, str(s.kind))

        def block_key(b: WaveformBlock) -> tuple[Any, ...]:
            return (b.start_time, b.source, str(b.kind))

        def status_key(d: DeviceStatus) -> tuple[Any, ...]:
            return (d.time, d.source, str(d.state))

        def alarm_key(e: AlarmEvent) -> tuple[Any, ...]:
            return (e.time, e.alarm_id, e.event)

        def missing(table: Any, time_column: str, names: tuple[str, ...],
                    rows: Sequence[tuple[int, Any]], of: Callable[[Any], tuple[Any, ...]]
                    ) -> list[tuple[int, Any]]:
            if not rows:
                return []
            stored = keys(table, time_column, names, rows, of)
            return [(sid, r) for sid, r in rows if (sid, *of(r)) not in stored]

        new_samples = missing(SAMPLES, "time", ("source", "kind"), samples, sample_key)
        new_blocks = missing(BLOCKS, "start_time", ("source", "kind"), blocks, block_key)
        new_statuses = missing(DEVICE_EVENTS, "time", ("source", "state"), statuses, status_key)
        new_alarms = missing(ALARM_EVENTS, "time", ("alarm_id", "event"), alarm_events,
                             alarm_key)
        self.write_batch(new_samples, new_blocks, new_statuses, new_alarms)
        return len(new_samples) + len(new_blocks) + len(new_statuses) + len(new_alarms)

    def add_alarm_events(self, session_id: int, events: Sequence[AlarmEvent]) -> None:
        """Store alarm events at once (the recorder batches them with the samples instead)."""
        if events:
            with self._writing("record the alarm events", session_id) as conn:
                _refuse_signed(conn, [session_id])
                rows = [mappers.alarm_row(session_id, e) for e in events]
                _chained_insert(conn, ALARM_EVENTS, rows)

    def alarm_events(self, session_id: int) -> list[AlarmEvent]:
        """The session's alarm record in time order."""
        query = select(ALARM_EVENTS).where(ALARM_EVENTS.c.session_id == session_id)
        with self._reading("read the alarm events") as conn:
            rows = conn.execute(query.order_by(ALARM_EVENTS.c.time, ALARM_EVENTS.c.id))
            return [mappers.alarm_event(r) for r in rows.mappings()]

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

    def numerics(
        self,
        session_id: int,
        kinds: Iterable[VitalKind],
        t0: float | None = None,
        t1: float | None = None,
        *,
        max_points: int | None = None,
    ) -> dict[VitalKind, TimeSeries]:
        """The values of each numeric kind with a value (all sources together, time order) at
        times in [t0, t1], read along the (session, kind, time) index into arrays. Kinds with
        no value there are left out. ``max_points`` reduces each to min/max per time bucket."""
        out: dict[VitalKind, TimeSeries] = {}
        t = SAMPLES
        with self._reading("read the samples") as conn:
            for kind in kinds:
                query = select(t.c.time, t.c.value).where(
                    t.c.session_id == session_id, t.c.kind == str(kind), t.c.value.is_not(None)
                )
                if t0 is not None:
                    query = query.where(t.c.time >= t0)
                if t1 is not None:
                    query = query.where(t.c.time <= t1)
                rows = conn.execute(query.order_by(t.c.time, t.c.id)).all()
                if not rows:
                    continue
                # Through plain tuples: numpy converts sequences of Row objects very slowly.
                times, values = (np.array(c, dtype=np.float64) for c in zip(*rows, strict=True))
                keep = np.isfinite(values)
                if keep.any():
                    out[kind] = min_max_reduce(TimeSeries(times[keep], values[keep]), max_points)
        return out

    def readings(
        self,
        session_id: int,
        kinds: Iterable[VitalKind],
        t0: float | None = None,
        t1: float | None = None,
    ) -> list[Sample]:
        """The samples of these kinds that have a value, in time order (for the few readings
        that need their source and status, such as NIBP)."""
        t = SAMPLES
        query = select(t).where(
            t.c.session_id == session_id,
            t.c.kind.in_([str(k) for k in kinds]),
            t.c.value.is_not(None),
        )
        if t0 is not None:
            query = query.where(t.c.time >= t0)
        if t1 is not None:
            query = query.where(t.c.time <= t1)
        with self._reading("read the samples") as conn:
            rows = conn.execute(query.order_by(t.c.time, t.c.id)).mappings()
            return [mappers.sample(r) for r in rows]

    def waveform(
        self,
        session_id: int,
        kind: VitalKind = VitalKind.PLETH,
        t0: float | None = None,
        t1: float | None = None,
        *,
        source: str | None = None,
        max_points: int | None = None,
    ) -> TimeSeries:
        """The waveform's points (float32 as stored, returned as float64) at times in
        [t0, t1], in time order, built from the stored blocks; ``max_points`` reduces it to
        min/max per time bucket. Blocks are looked for from ``WAVEFORM_LOOKBACK_S`` before t0
        (no stored block is longer)."""
        b = BLOCKS
        query = select(b.c.start_time, b.c.sample_rate_hz, b.c.data).where(
            b.c.session_id == session_id, b.c.kind == str(kind)
        )
        if t0 is not None:
            query = query.where(b.c.start_time >= t0 - WAVEFORM_LOOKBACK_S)
        if t1 is not None:
            query = query.where(b.c.start_time <= t1)
        if source is not None:
            query = query.where(b.c.source == source)
        with self._reading("read the waveform") as conn:
            rows = conn.execute(query.order_by(b.c.start_time, b.c.id)).all()
        if not rows:
            return TimeSeries.empty()
        parts_t: list[np.ndarray] = []
        parts_v: list[np.ndarray] = []
        for start, rate, data in rows:
            values = np.frombuffer(data, dtype=WAVEFORM_DTYPE)
            parts_t.append(start + np.arange(values.size, dtype=np.float64) / rate)
            parts_v.append(values.astype(np.float64))
        times = np.concatenate(parts_t)
        values = np.concatenate(parts_v)
        keep = np.ones(times.size, dtype=bool)
        if t0 is not None:
            keep &= times >= t0
        if t1 is not None:
            keep &= times <= t1
        times, values = times[keep], values[keep]
        if times.size > 1 and bool(np.any(times[1:] < times[:-1])):
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
        return min_max_reduce(TimeSeries(times, values), max_points)

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
                mappers.sample,
            )
            for kind in kinds
        ]
        streams.append(
            self._stream(
                select(BLOCKS).where(BLOCKS.c.session_id == session_id),
                BLOCKS.c.start_time,
                BLOCKS.c.id,
                mappers.block,
            )
        )
        yield from heapq.merge(*streams, key=_sort_time)

    # -- helpers ---------------------------------------------------------------------------

    def _stream(
        self,
        query: Select[Any],
        time_col: Any,
        id_col: Any,
        convert: Callable[[Any], Sample | WaveformBlock],
    ) -> Iterator[Sample | WaveformBlock]:
        """Keyset pagination on (time, id): each chunk is a short query of its own.

        The next page is ``time >= a AND (time > a OR id > b)``: the first term is a range the
        (session, kind, time) index serves, so a page starts where the last one ended instead
        of rescanning the session from its first row."""
        query = query.order_by(time_col, id_col).limit(CHUNK_ROWS)
        last: tuple[float, int] | None = None
        while True:
            page = query if last is None else after(query, time_col, id_col, last)
            with self._reading("read the samples") as conn:
                rows = conn.execute(page).all()
            yield from (convert(row._mapping) for row in rows)
            if len(rows) < CHUNK_ROWS:
                return
            last = (rows[-1]._mapping[time_col], rows[-1]._mapping[id_col])

    def _sessions(self, condition: Any) -> list[Session]:
        query = select(SESSIONS)
        if condition is not None:
            query = query.where(condition)
        query = query.order_by(SESSIONS.c.started_at.desc(), SESSIONS.c.id.desc())
        with self._reading("list the sessions") as conn:
            return [mappers.session(row) for row in conn.execute(query).mappings()]

    def _get_session(self, conn: Connection, session_id: int) -> Session:
        row = conn.execute(select(SESSIONS).where(SESSIONS.c.id == session_id)).mappings().first()
        if row is None:
            raise no_session(session_id)
        return mappers.session(row)

    # -- transactions for the record's other repositories ------------------------------------

    @contextmanager
    def reading(self, action: str) -> Iterator[Transaction]:
        """A read transaction for signing, verifying and exports (``action`` names it in
        errors: "cannot <action> in <database>")."""
        with self._reading(action) as conn:
            yield Transaction(conn)

    @contextmanager
    def writing(self, action: str, session_id: int | None = None) -> Iterator[Transaction]:
        """A write transaction: all of it is stored or none of it; a foreign key failing on
        ``session_id`` is NotFoundError."""
        with self._writing(action, session_id) as conn:
            yield Transaction(conn)

    def _reading(self, action: str) -> AbstractContextManager[Connection]:
        return transaction.reading(self.database, action)

    def _writing(
        self, action: str, session_id: int | None = None
    ) -> AbstractContextManager[Connection]:
        return transaction.writing(self.database, action, session_id)


def after(query: Select[Any], time_col: Any, id_col: Any, last: tuple[float, int]) -> Select[Any]:
    """The rows of ``query`` after ``last`` in (time, id) order, as a condition an index on
    time serves: ``time >= a AND (time > a OR id > b)``, so each page starts where the last one
    ended instead of rescanning from the session's first row (the form ``time > a OR (time = a
    AND id > b)`` gives the same rows but no index range)."""
    time, row_id = last
    return query.where(and_(time_col >= time, or_(time_col > time, id_col > row_id)))


_INSERT_SAMPLES = insert(SAMPLES)
_INSERT_BLOCKS = insert(BLOCKS)
# Built once: the recorder asks this on every commit (a few times a second per session).
_SIGNED = (
    select(SIGNATURES.c.session_id).where(SIGNATURES.c.session_id == bindparam("sid")).limit(1)
)


def _refuse_signed(conn: Connection, session_ids: Iterable[int]) -> None:
    """A signed record is read-only: nothing may be added to it or changed."""
    for sid in sorted(set(session_ids)):
        if conn.execute(_SIGNED, {"sid": sid}).first() is not None:
            raise SessionStateError(
                f"session {sid} is signed; its record is read-only",
                "add a correction or note as a signed addendum: "
                f"katmonitor addendum {sid} --user NAME --kind note|correction --text TEXT",
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
        audit_chain.append_rows(conn, session_id, table, session_ids)


def _newest_minutes(
    samples: Sequence[tuple[int, Sample]], blocks: Sequence[tuple[int, WaveformBlock]]
) -> dict[int, int]:
    """The newest UTC minute of recorded data in a batch, per session."""
    newest: dict[int, int] = {}
    for sid, t in chain(
        ((sid, s.time) for sid, s in samples), ((sid, b.start_time) for sid, b in blocks)
    ):
        if isinstance(t, int | float) and math.isfinite(t):
            minute = int(t // SAMPLE_INTERVAL_S)
            if minute > newest.get(sid, -1):
                newest[sid] = minute
        else:
            newest.setdefault(sid, -1)
    return newest


def _sort_time(item: Sample | WaveformBlock) -> float:
    return item.start_time if isinstance(item, WaveformBlock) else item.time
