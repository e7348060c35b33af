"""Reading a session's recorded data (samples, waveform blocks) as columns, exactly.

On SQLite (whose columns take any type) a query first checks that every number is stored as a
number; the text columns are matched with ``CASE`` against known streams (SQL equality: a blob
never equals a text); anything unusual falls back to reading the rows as they are, and both
ways give the same columns (:class:`katmonitor.records.columns.Recorded`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import and_, bindparam, case, func, literal, literal_column, select, union
from sqlalchemy.engine import Connection

from katmonitor.records.columns import (
    LAYOUTS,
    TEXT_COLUMNS,
    Numbers,
    Recorded,
    odd_repr,
    text_value,
)
from katmonitor.records.entries import canonical
from katmonitor.storage.models import BLOCKS, SAMPLES

# Streams looked for first (from the session's first and last rows); others are read back.
_CANDIDATE_ROWS = 2000
# Rows whose stream was not among the candidates are read back this many ids at a time.
_LOOKUP_CHUNK = 500
# The fast read packs id * 512 + (stream code + 2) * 2 + (value is NULL) into one integer that
# float64 holds exactly.
_MAX_CODES = 256
_CODE_BITS = 9
_MAX_PACKED_ID = 2**44

@dataclass(frozen=True, slots=True)
class Spec:
    """A recorded table: its SQL table, the columns the record covers (its layout) and the
    SQLite storage classes its values must have for the fast read."""

    table: Any
    numbers: tuple[str, ...]
    nullable: frozenset[str]
    sqlite_types: dict[str, tuple[str, ...]]
    data: bool


def _spec(table: Any, sqlite_types: dict[str, tuple[str, ...]]) -> Spec:
    layout = LAYOUTS[table.name]
    return Spec(table, layout.numbers, layout.nullable, sqlite_types, layout.data)


SPECS: dict[str, Spec] = {
    "samples": _spec(SAMPLES, {"time": ("real",), "value": ("real", "null")}),
    "waveform_blocks": _spec(
        BLOCKS,
        {
            "start_time": ("real",),
            "sample_rate_hz": ("real",),
            "count": ("integer",),
            "data": ("blob",),
        },
    ),
}


def _session_rows(table: Any, *columns: Any) -> Any:
    """The session's rows in id order, given the session's id range (parameters ``sid``, ``lo``
    and ``hi``): ``session_id + 0`` and the range make SQLite walk the table in rowid order (no
    index lookup per row, no sort)."""
    return (
        select(*columns)
        .where(
            (table.c.session_id + literal_column("0")) == bindparam("sid"),
            table.c.id.between(bindparam("lo"), bindparam("hi")),
        )
        .order_by(table.c.id)
    )


def id_range(conn: Connection, table: Any, session_id: int) -> dict[str, Any]:
    """Parameters for :func:`_session_rows`: one pass over the session's index entries."""

    def query() -> Any:
        return select(func.min(table.c.id), func.max(table.c.id)).where(
            table.c.session_id == bindparam("sid")
        )

    lo, hi = _raw(conn, query, {"sid": session_id}, ("range", table.name))[0]
    return {"sid": session_id, "lo": lo if lo is not None else 1, "hi": hi or 0}


# Compiled statements by (dialect, what): building and compiling the CASE costs milliseconds.
_COMPILED: dict[tuple[Any, ...], Any] = {}
_COMPILED_MAX = 256


def _raw(
    conn: Connection,
    statement: Any,
    params: dict[str, Any],
    key: tuple[Any, ...] | None = None,
) -> list[tuple]:
    """Rows straight from the DBAPI cursor (no SQLAlchemy row objects), in the open transaction.

    The statement is compiled for the connection's dialect, so quoting and the driver's
    parameter style stay SQLAlchemy's business. With a ``key``, ``statement`` is a function
    that builds it, called (and compiled) once per dialect and key."""
    if key is None:
        compiled = statement.compile(dialect=conn.dialect)
    else:
        full = (conn.dialect.name, *key)
        compiled = _COMPILED.get(full)
        if compiled is None:
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.clear()
            compiled = _COMPILED[full] = statement().compile(dialect=conn.dialect)
    values = compiled.construct_params(params)
    if compiled.positional:
        args: Any = tuple(values[name] for name in compiled.positiontup or ())
    else:
        args = values
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        return list(cursor.fetchall())
    finally:
        cursor.close()


@contextmanager
def no_gc() -> Iterator[None]:
    """Tens of thousands of fresh tuples would trigger several needless full collections."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_recorded(conn: Connection, session_id: int) -> tuple[Recorded, Recorded]:
    """The session's samples and waveform blocks as columns, each in id order."""
    with no_gc():
        return (
            _read_session(conn, SPECS["samples"], session_id),
            _read_session(conn, SPECS["waveform_blocks"], session_id),
        )


def _read_session(conn: Connection, spec: Spec, session_id: int) -> Recorded:
    return read_range(conn, spec, id_range(conn, spec.table, session_id))


def _type_check(conn: Connection, spec: Spec) -> Any:
    """A condition that a row's numbers are stored as numbers and its data as bytes (so numpy
    may convert them): PostgreSQL's typed columns guarantee it, SQLite is asked per row; None
    when the fast read cannot be trusted on this database."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return literal_column("1") == literal_column("1")
    if dialect != "sqlite":
        return None
    t = spec.table
    return and_(  # constants of ours, inlined: no expanding parameters
        *(
            func.typeof(t.c[name]).in_([literal_column(f"'{kind}'") for kind in types])
            for name, types in spec.sqlite_types.items()
        )
    )


def read_exact(
    conn: Connection, spec: Spec, params: dict[str, Any], rows: list[tuple] | None = None
) -> Recorded:
    """Every value as stored, converted one by one (for whatever the fast read cannot take)."""
    t = spec.table
    columns = [t.c.id, *(t.c[n] for n in spec.numbers), *(t.c[n] for n in TEXT_COLUMNS)]
    if spec.data:
        columns.append(t.c.data)
    if rows is None:
        rows = _raw(conn, _session_rows(t, *columns), params)
    n = len(rows)
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    k = len(spec.numbers)
    numbers = {name: Numbers.of(cols[1 + i]) for i, name in enumerate(spec.numbers)}
    streams: list[list[Any]] = []
    index: dict[str, int] = {}
    codes = np.zeros(n, dtype="<i4")
    triples = zip(*cols[1 + k : 4 + k], strict=True)
    for i, triple in enumerate(triples):
        stream = [text_value(v) for v in triple]
        key = canonical(stream).decode()
        code = index.get(key)
        if code is None:
            code = index[key] = len(streams)
            streams.append(stream)
        codes[i] = code
    data = None
    data_odd: dict[int, str] = {}
    if spec.data:
        data, data_odd = _data_column(cols[-1])
    return Recorded(
        spec.table.name,
        np.fromiter(cols[0], dtype="<i8", count=n),
        numbers,
        streams,
        codes,
        data,
        data_odd,
    )


def _data_column(column: Sequence[Any]) -> tuple[list[bytes], dict[int, str]]:
    data: list[bytes] = []
    odd: dict[int, str] = {}
    for i, d in enumerate(column):
        if type(d) is bytes:
            data.append(d)
        elif isinstance(d, bytearray | memoryview):
            data.append(bytes(d))
        else:
            odd[i] = odd_repr(d)
            data.append(odd[i].encode("utf-8", "surrogatepass"))
    return data, odd


def read_fast(conn: Connection, spec: Spec, params: dict[str, Any]) -> Recorded | None:
    """The fast read: numbers through numpy, and per row one integer packing its id, its
    stream's code (a nested CASE over the streams seen in the session's first and last rows) and
    whether its value is NULL; fewer, smaller values per row are what makes it fast. None when
    some value is not stored as its column's type (then the rows are read as they are)."""
    typed = _type_check(conn, spec)
    if typed is None or params["hi"] >= _MAX_PACKED_ID:
        return None
    t = spec.table
    streams = _candidate_streams(conn, t, params)[: _MAX_CODES - 2]

    def query() -> Any:
        code = case((typed, _stream_case(t, streams)), else_=literal_column("-2"))
        key = t.c.id * literal_column(str(2 * _MAX_CODES)) + (code + literal_column("2")) * (
            literal_column("2")
        )
        for name in spec.nullable:
            key = key + case((t.c[name].is_(None), literal_column("1")), else_=literal_column("0"))
        return _session_rows(t, key, *columns)

    columns: list[Any] = [
        func.coalesce(t.c[name], literal(0.0)) if name in spec.nullable else t.c[name]
        for name in spec.numbers
    ]
    if spec.data:
        columns.append(t.c.data)
    rows = _raw(conn, query, params, ("columns", t.name, tuple(streams)))
    columns.insert(0, None)  # the packed key
    n = len(rows)
    width = len(columns) - (1 if spec.data else 0)
    try:  # numpy would parse text as a number: only the type check above makes this exact
        if spec.data:
            cols = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
            keys = np.fromiter(cols[0], dtype="<i8", count=n)
            table = np.empty((n, width), dtype="<f8")
            for j in range(1, width):
                table[:, j] = np.fromiter(cols[j], dtype="<f8", count=n)
            data = list(cols[-1])
            data_odd: dict[int, str] = {}
            if not all(type(d) is bytes for d in data):
                data, data_odd = _data_column(data)
        else:
            table = np.fromiter(chain.from_iterable(rows), dtype="<f8", count=n * width)
            table = table.reshape(n, width)
            keys = table[:, 0].astype("<i8")  # exact: keys stay below 2**53
            data, data_odd = None, {}
    except (TypeError, ValueError, OverflowError):
        return None
    codes = ((keys >> 1) & (_MAX_CODES - 1)).astype("<i4") - 2
    if np.any(codes == -2) or data_odd:
        return None
    ids = keys >> _CODE_BITS
    numbers: dict[str, Numbers] = {}
    for j, name in enumerate(spec.numbers, start=1):
        values = np.ascontiguousarray(table[:, j])
        if name in spec.nullable:
            mask = (keys & 1).astype(np.uint8)
            values[mask != 0] = 0.0
        else:
            mask = np.zeros(n, dtype=np.uint8)
        numbers[name] = Numbers(values, mask)
    missing = np.flatnonzero(codes < 0)
    if len(missing):
        _look_up_streams(conn, t, ids[missing], missing, codes, streams)
    return Recorded(spec.table.name, ids, numbers, [list(s) for s in streams], codes, data)


def _candidate_streams(conn: Connection, t: Any, params: dict[str, Any]) -> list[Any]:
    """The distinct (source, kind, status) of the session's first and last rows."""

    def query() -> Any:
        text = [t.c[n] for n in TEXT_COLUMNS]
        first = _session_rows(t, *text).limit(_CANDIDATE_ROWS).subquery()
        last = _session_rows(t, *text).order_by(None).order_by(t.c.id.desc())
        last = last.limit(_CANDIDATE_ROWS).subquery()
        return union(select(*first.c), select(*last.c))

    found = _raw(conn, query, params, ("streams", t.name))
    return sorted({tuple(r) for r in found if all(isinstance(v, str) for v in r)})


def _stream_case(t: Any, streams: Sequence[tuple[Any, ...]]) -> Any:
    """CASE kind WHEN .. THEN CASE source WHEN .. THEN CASE status WHEN .. THEN code: a row's
    index into ``streams``, -1 when it is none of them."""
    tree: dict[str, dict[str, dict[str, int]]] = {}
    for code, (source, kind, status) in enumerate(streams):
        tree.setdefault(kind, {}).setdefault(source, {})[status] = code
    none: Any = literal_column("-1")
    if not tree:
        return none

    def level(column: Any, branches: dict[str, Any], inner: Any) -> Any:
        return case(
            *((column == literal(value), inner(sub)) for value, sub in branches.items()),
            else_=none,
        )

    return level(
        t.c.kind,
        tree,
        lambda sources: level(
            t.c.source,
            sources,
            lambda statuses: level(t.c.status, statuses, lambda c: literal_column(str(c))),
        ),
    )


def _look_up_streams(
    conn: Connection,
    t: Any,
    ids: np.ndarray,
    positions: np.ndarray,
    codes: np.ndarray,
    streams: list[Any],
) -> None:
    """Codes for the rows whose stream was not a candidate: their text read back by id."""
    streams[:] = [list(s) for s in streams]
    index = {canonical([text_value(v) for v in s]).decode(): c for c, s in enumerate(streams)}
    where = dict(zip(ids.tolist(), positions.tolist(), strict=True))
    all_ids = list(where)
    for start in range(0, len(all_ids), _LOOKUP_CHUNK):
        chunk = all_ids[start : start + _LOOKUP_CHUNK]
        query = select(t.c.id, *(t.c[n] for n in TEXT_COLUMNS)).where(
            t.c.id.in_([literal_column(str(int(i))) for i in chunk])
        )
        for row_id, *triple in _raw(conn, query, {}):
            stream = [text_value(v) for v in triple]
            key = canonical(stream).decode()
            code = index.get(key)
            if code is None:
                code = index[key] = len(streams)
                streams.append(stream)
            codes[where[row_id]] = code
    if np.any(codes < 0):  # a row vanished between the two reads: not in a transaction?
        raise RuntimeError("rows changed while the record was read")



def read_range(conn: Connection, spec: Spec, params: dict[str, Any]) -> Recorded:
    if params["lo"] > params["hi"]:  # nothing written since: no query
        return read_exact(conn, spec, params, rows=[])
    recorded = read_fast(conn, spec, params)
    return recorded if recorded is not None else read_exact(conn, spec, params)

