"""The session's hash-chained audit log in the database: appending entries and sealing
minutes of recorded data, in the caller's transaction.

The entries' format, the digests and the checks are pure (:mod:`katmonitor.records`); this
module is their SQL: it locks a session's chain, appends after its tail, reads it back, and
seals the recorded data that is complete (one samples-digest entry per minute).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.engine import Connection

from katmonitor.records.columns import BLOCKS_TABLE, Recorded
from katmonitor.records.digests import minute_digests, minutes_of, samples_body
from katmonitor.records.entries import (
    EVENT_KINDS,
    GENESIS,
    SAMPLES_KIND,
    Entry,
    chain_hash,
    row_entry,
)
from katmonitor.records.waveform_runs import minute_runs
from katmonitor.storage.models import (
    ALARM_EVENTS,
    AUDIT_ENTRIES,
    BLOCKS,
    DEVICE_EVENTS,
    DOSES,
    OBSERVATIONS,
    SESSIONS,
    WORKFLOW_EVENTS,
)
from katmonitor.storage.recorded_columns import SPECS, no_gc, read_range, read_recorded

AUDIT = AUDIT_ENTRIES
# Every event table whose rows are chained as they are inserted, in the order verify lists them.
EVENT_TABLES = (DOSES, OBSERVATIONS, WORKFLOW_EVENTS, DEVICE_EVENTS, ALARM_EVENTS)
assert tuple(t.name for t in EVENT_TABLES) == EVENT_KINDS
WAVEFORM_DTYPE = np.dtype("<f4")
# Waveform rows deleted per statement while compacting (a sealed minute has a few hundred).
_DELETE_CHUNK = 500
# One statement for every minute's compaction: ids as an expanding bound parameter, so the
# compiled-statement cache holds it once (ids as literals made a new cached statement per
# minute, about 12 MB an hour of recording).
_DELETE_BLOCKS = delete(BLOCKS).where(BLOCKS.c.id.in_(bindparam("ids", expanding=True)))


def lock_chain(conn: Connection, session_id: int) -> None:
    """Hold the session's chain until the transaction ends: its row locked FOR NO KEY UPDATE on
    PostgreSQL (SQLite writers hold the database's write lock already). That mode does not
    conflict with the key-share lock each insert referencing the session takes, so writers
    that inserted first and lock second queue up instead of deadlocking."""
    conn.execute(
        select(SESSIONS.c.id).where(SESSIONS.c.id == session_id).with_for_update(key_share=True)
    )


def append(conn: Connection, session_id: int, entries: Sequence[Entry]) -> None:
    """Append entries to the session's chain, in the caller's transaction (the chain is
    locked first, so two writers never append after the same entry)."""
    if not entries:
        return
    lock_chain(conn, session_id)
    tail = conn.execute(
        select(AUDIT.c.seq, AUDIT.c.hash)
        .where(AUDIT.c.session_id == session_id)
        .order_by(AUDIT.c.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (tail[0] + 1, tail[1]) if tail is not None else (0, GENESIS)
    rows = []
    for entry in entries:
        data = entry.encoded()
        digest = chain_hash(prev, data)
        rows.append(
            {
                "session_id": session_id,
                "seq": seq,
                "kind": entry.kind,
                "row_id": entry.key,
                "entry": data.decode(),
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
        seq += 1
    conn.execute(insert(AUDIT), rows)


def append_rows(conn: Connection, session_id: int, table: Any, ids: Sequence[int]) -> None:
    """Chain rows just inserted, as they read back from the database (what verify will see)."""
    if not ids:
        return
    append(conn, session_id, row_entries(conn, table, ids))


def row_entries(conn: Connection, table: Any, ids: Sequence[int]) -> list[Entry]:
    rows = conn.execute(
        select(table).where(table.c.id.in_(bindparam("ids", expanding=True))).order_by(table.c.id),
        {"ids": [int(i) for i in ids]},
    ).mappings()
    return [row_entry(table.name, r) for r in rows]


def chained(conn: Connection, session_id: int) -> list[dict[str, Any]]:
    """The session's stored chain entries in order."""
    return [
        dict(r)
        for r in conn.execute(
            select(AUDIT).where(AUDIT.c.session_id == session_id).order_by(AUDIT.c.seq)
        ).mappings()
    ]


def current_event_entries(
    conn: Connection, session_id: int, tables: Sequence[Any] = EVENT_TABLES
) -> list[Entry]:
    """The entries the session's event rows would have now, table by table in id order."""
    entries: list[Entry] = []
    for table in tables:
        rows = conn.execute(
            select(table).where(table.c.session_id == session_id).order_by(table.c.id)
        ).mappings()
        entries.extend(row_entry(table.name, r) for r in rows)
    return entries


# -- compacting sealed waveform rows -------------------------------------------------------------


def compact_waveforms(conn: Connection, session_id: int, blocks: Recorded) -> bool:
    """Replace each run of contiguous waveform rows (:func:`minute_runs`) by one row holding
    all their points, with the id of the run's first row: the seal's id ranges and the rows'
    id order stay valid. In the caller's transaction; True when any row was replaced."""
    runs = minute_runs(blocks)
    if not runs:
        return False
    assert blocks.data is not None
    numbers = blocks.numbers
    replaced: list[int] = []
    rows: list[dict[str, Any]] = []
    for run in runs:
        first = run[0]
        source, kind, status = blocks.streams[int(blocks.codes[first])]
        data = b"".join(blocks.data[i] for i in run)
        replaced += [int(blocks.ids[i]) for i in run]
        rows.append(
            {
                "id": int(blocks.ids[first]),
                "session_id": session_id,
                "source": source,
                "kind": kind,
                "start_time": float(numbers["start_time"].values[first]),
                "sample_rate_hz": float(numbers["sample_rate_hz"].values[first]),
                "count": len(data) // WAVEFORM_DTYPE.itemsize,
                "status": status,
                "data": data,
            }
        )
    for start in range(0, len(replaced), _DELETE_CHUNK):
        chunk = replaced[start : start + _DELETE_CHUNK]
        conn.execute(_DELETE_BLOCKS, {"ids": chunk})
    conn.execute(insert(BLOCKS), rows)
    return True


# -- sealing recorded data as it comes ----------------------------------------------------------


def _last_seal(conn: Connection, session_id: int) -> dict[str, int] | None:
    """The id each recorded table is sealed through, from the latest samples entry."""
    text = conn.scalar(
        select(AUDIT.c.entry)
        .where(AUDIT.c.session_id == session_id, AUDIT.c.kind == SAMPLES_KIND)
        .order_by(AUDIT.c.seq.desc())
        .limit(1)
    )
    if text is None:
        return None
    ids = json.loads(text)["ids"]
    return {table: int(ids[table][1]) for table in SPECS}


def seal(conn: Connection, session_id: int, *, final: bool, compact: bool = True) -> int | None:
    """Append one samples-digest entry per minute of recorded data that is complete.

    Rows are sealed as a prefix in id order of each table: a seal covers, per table, the rows
    with ids in (the previous seal's end, this seal's end], one entry per minute among them. A
    minute is complete once data from a later minute has been written, so a seal ends just
    before the first row (per table) of the newest minute; rows of an earlier minute that come
    after it (a device lagging behind another) go into the next seal, as another part of their
    minute. ``final`` seals everything written so far (the session ended or was interrupted).

    ``compact``: before its digest is taken, each sealed minute's contiguous waveform rows of a
    stream become one row (see :func:`compact_waveforms`), so a 4-hour session holds a few
    hundred waveform rows instead of tens of thousands; the digest covers the compacted rows.
    Returns the newest minute of the data (None when there is none)."""
    lock_chain(conn, session_id)  # before reading what is sealed
    through = _last_seal(conn, session_id)
    if through is None:  # nothing sealed yet: the session's own rows only (it is young)
        through = {
            name: int(
                conn.scalar(
                    select(func.min(spec.table.c.id)).where(spec.table.c.session_id == session_id)
                )
                or 1
            )
            - 1
            for name, spec in SPECS.items()
        }
    pending = {}
    with no_gc():
        for name, spec in SPECS.items():
            top = conn.scalar(select(func.max(spec.table.c.id))) or 0
            params = {"sid": session_id, "lo": through[name] + 1, "hi": top}
            pending[name] = read_range(conn, spec, params)
    minutes = {name: minutes_of(rec) for name, rec in pending.items()}
    valid = [m[np.isfinite(m)] for m in minutes.values()]
    newest = max((float(m.max()) for m in valid if len(m)), default=None)
    if newest is None and not final:
        return None
    cut = {}
    for name, rec in pending.items():
        if final or newest is None:
            cut[name] = len(rec)
        else:
            later = np.flatnonzero(np.nan_to_num(minutes[name], nan=-np.inf) >= newest)
            cut[name] = int(later[0]) if len(later) else len(rec)
    if any(cut.values()):
        sealed = {name: rec.take(np.arange(cut[name])) for name, rec in pending.items()}
        blocks = sealed[BLOCKS_TABLE]
        if compact and compact_waveforms(conn, session_id, blocks):
            params = {"sid": session_id, "lo": through[BLOCKS_TABLE] + 1, "hi": int(blocks.ids[-1])}
            with no_gc():
                sealed[BLOCKS_TABLE] = read_range(conn, SPECS[BLOCKS_TABLE], params)
        _append_seal(conn, session_id, through, sealed, {BLOCKS_TABLE: blocks})
    return int(newest) if newest is not None else None


def _append_seal(
    conn: Connection,
    session_id: int,
    through: Mapping[str, int],
    sealed: Mapping[str, Recorded],
    before_compaction: Mapping[str, Recorded],
) -> None:
    """The seal's entries: per table the id range it covers (as written, so compacting rows
    inside it changes no range), and one digest per minute of the rows as they now are."""
    ranges = {
        name: [through[name], int(rec.ids[-1]) if len(rec) else through[name]]
        for name, rec in {**sealed, **before_compaction}.items()
    }
    digests, _ = minute_digests(sealed["samples"], sealed["waveform_blocks"])
    append(
        conn,
        session_id,
        [Entry(SAMPLES_KIND, m, samples_body(m, ranges, d)) for m, d in sorted(digests.items())],
    )


class AuditChain:
    """A session's audit chain within one transaction (see :class:`Transaction`)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def entries(self, session_id: int) -> list[dict[str, Any]]:
        """The stored entries in order: seq, kind, row_id, entry, prev_hash, hash."""
        return chained(self._conn, session_id)

    def append(self, session_id: int, entries: Sequence[Entry]) -> None:
        append(self._conn, session_id, entries)

    def head(self, session_id: int) -> tuple[int, str]:
        """How many entries the chain has and the hash of the last (GENESIS when empty)."""
        tail = self._conn.execute(
            select(AUDIT.c.seq, AUDIT.c.hash)
            .where(AUDIT.c.session_id == session_id)
            .order_by(AUDIT.c.seq.desc())
            .limit(1)
        ).first()
        return (int(tail[0]) + 1, str(tail[1])) if tail is not None else (0, GENESIS)

    def seal(self, session_id: int, *, final: bool, compact: bool = True) -> int | None:
        return seal(self._conn, session_id, final=final, compact=compact)

    def event_entries(self, session_id: int) -> list[Entry]:
        """The entries the session's event rows (doses, observations, ...) would have now."""
        return current_event_entries(self._conn, session_id)

    def recorded(self, session_id: int) -> tuple[Recorded, Recorded]:
        """The session's samples and waveform blocks as columns, each in id order."""
        return read_recorded(self._conn, session_id)
