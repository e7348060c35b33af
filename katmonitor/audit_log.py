"""The hash-chained audit log's building blocks: canonical entries, chain hashes, and digests of
a session's recorded data read column by column.

Recorded data (numeric samples and waveform blocks) is read as columns rather than rows: ids,
numbers as float64 with a mask, the text columns (source, kind, status) as codes into a small
dictionary of streams, and the waveform bytes as stored. A digest hashes slices of those
columns, so hashing a 4-hour session is a few hundred ``update`` calls over numpy buffers.

Reading is exact. On SQLite (whose columns take any type) a query first checks that every
number is stored as a number; the text columns are matched with ``CASE`` against known streams
(SQL equality: a blob never equals a text); anything unusual falls back to reading the rows as
they are, and both ways give the same columns. Nothing here imports the store.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import (
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    select,
    union,
)
from sqlalchemy.engine import Connection

from katmonitor.base.samples import iso_utc
from katmonitor.storage.models import (
    AlarmEventRecord,
    AuditEntryRecord,
    DeviceEventRecord,
    DoseEventRecord,
    ObservationRecord,
    SampleRecord,
    SessionRecord,
    WaveformBlockRecord,
    WorkflowEventRecord,
)

GENESIS = "0" * 64
SAMPLE_INTERVAL_S = 60
DIGEST_TAG = b"katmonitor-recorded-digest-v3\n"

SAMPLES = SampleRecord.__table__
BLOCKS = WaveformBlockRecord.__table__

# Streams looked for first (from the session's first and last rows); others are read back.
_CANDIDATE_ROWS = 2000
# Rows whose stream was not among the candidates are read back this many ids at a time.
_LOOKUP_CHUNK = 500
# The fast read packs id * 512 + (stream code + 2) * 2 + (value is NULL) into one integer that
# float64 holds exactly.
_MAX_CODES = 256
_CODE_BITS = 9
_MAX_PACKED_ID = 2**44


def canonical(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8; Python's shortest round-trip floats."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, entry: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + entry).hexdigest()


def plain(value: Any) -> Any:
    """A stored value as JSON: bytes become base64 text."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _text_value(value: Any) -> Any:
    """A text column's value in a stream key: text as itself, anything else tagged by type."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": base64.b64encode(bytes(value)).decode()}
    return {"repr": f"{type(value).__name__}:{value!r}"}


def _odd(value: Any) -> str:
    return f"{type(value).__name__}:{value!r}"


# -- columns ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Numbers:
    """A numeric column: float64 values, a mask (0 number, 1 NULL, 2 not a number) and, for
    mask 2, the stored value's type and repr."""

    values: np.ndarray
    mask: np.ndarray
    odd: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, column: Sequence[Any]) -> Numbers:
        """From Python values one by one (int and float are numbers; nothing is parsed)."""
        n = len(column)
        values = np.zeros(n, dtype="<f8")
        mask = np.zeros(n, dtype=np.uint8)
        odd: dict[int, str] = {}
        for i, v in enumerate(column):
            if v is None:
                mask[i] = 1
            elif isinstance(v, int | float) and not isinstance(v, bool):
                try:
                    values[i] = v
                except OverflowError:
                    mask[i] = 2
                    odd[i] = _odd(v)
            else:
                mask[i] = 2
                odd[i] = _odd(v)
        return cls(values, mask, odd)

    def take(self, order: np.ndarray) -> Numbers:
        where = {int(old): new for new, old in enumerate(order.tolist())} if self.odd else {}
        return Numbers(
            self.values[order],
            self.mask[order],
            {where[i]: r for i, r in self.odd.items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "values": _b64(self.values),
            "mask": _b64(self.mask),
            "odd": [[i, r] for i, r in sorted(self.odd.items())],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any], n: int) -> Numbers:
        return cls(
            _array(obj["values"], "<f8", n),
            _array(obj["mask"], np.uint8, n),
            {int(i): str(r) for i, r in obj["odd"]},
        )


@dataclass(slots=True)
class Recorded:
    """One table's rows of a session (samples or waveform blocks), column by column."""

    table: str  # "samples" | "waveform_blocks"
    ids: np.ndarray  # <i8
    numbers: dict[str, Numbers]
    streams: list[list[Any]]  # [source, kind, status] per code
    codes: np.ndarray  # <i4, index into streams
    data: list[bytes] | None = None  # waveform bytes as stored
    data_odd: dict[int, str] = field(default_factory=dict)  # rows whose data was not bytes

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def time(self) -> Numbers:
        return self.numbers["time" if self.table == "samples" else "start_time"]

    def take(self, order: np.ndarray) -> Recorded:
        where = {int(old): new for new, old in enumerate(order.tolist())} if self.data_odd else {}
        return Recorded(
            self.table,
            self.ids[order],
            {name: col.take(order) for name, col in self.numbers.items()},
            self.streams,
            self.codes[order],
            [self.data[i] for i in order.tolist()] if self.data is not None else None,
            {where[i]: r for i, r in self.data_odd.items()},
        )

    def stream_hashes(self) -> np.ndarray:
        """SHA-256 of each stream's canonical JSON, one row of 32 bytes per code."""
        out = np.zeros((max(len(self.streams), 1), 32), dtype=np.uint8)
        for code, stream in enumerate(self.streams):
            out[code] = np.frombuffer(hashlib.sha256(canonical(stream)).digest(), np.uint8)
        return out

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "table": self.table,
            "rows": len(self),
            "ids": _b64(self.ids),
            "numbers": {name: col.to_json() for name, col in self.numbers.items()},
            "streams": self.streams,
            "codes": _b64(self.codes),
        }
        if self.data is not None:
            lengths = np.fromiter(map(len, self.data), dtype="<i8", count=len(self.data))
            obj["data"] = {
                "lengths": _b64(lengths),
                "bytes": base64.b64encode(b"".join(self.data)).decode(),
                "odd": [[i, r] for i, r in sorted(self.data_odd.items())],
            }
        return obj

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Recorded:
        n = int(obj["rows"])
        table = obj["table"]
        if table not in _SPECS:
            raise ValueError(f"unknown table {table!r}")
        spec = _SPECS[table]
        if list(obj["numbers"]) != list(spec.numbers):
            raise ValueError(f"{table}: expected columns {', '.join(spec.numbers)}")
        streams = [list(s) for s in obj["streams"]]
        codes = _array(obj["codes"], "<i4", n)
        if n and (codes.min() < 0 or codes.max() >= len(streams)):
            raise ValueError(f"{table}: stream code out of range")
        data = None
        data_odd: dict[int, str] = {}
        if spec.data:
            lengths = _array(obj["data"]["lengths"], "<i8", n)
            blob = base64.b64decode(obj["data"]["bytes"], validate=True)
            if n and (lengths.min() < 0 or int(lengths.sum()) != len(blob)):
                raise ValueError(f"{table}: data lengths do not match the bytes")
            ends = np.cumsum(lengths).tolist()
            starts = [0, *ends[:-1]]
            data = [blob[a:b] for a, b in zip(starts, ends, strict=True)]
            data_odd = {int(i): str(r) for i, r in obj["data"]["odd"]}
        return cls(
            table,
            _array(obj["ids"], "<i8", n),
            {name: Numbers.from_json(obj["numbers"][name], n) for name in spec.numbers},
            streams,
            codes,
            data,
            data_odd,
        )


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


def _array(text: str, dtype: Any, n: int) -> np.ndarray:
    raw = base64.b64decode(text, validate=True)
    array = np.frombuffer(raw, dtype=dtype)
    if len(array) != n:
        raise ValueError(f"column has {len(array)} values, expected {n}")
    return array.copy()


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spec:
    table: Any
    numbers: tuple[str, ...]
    nullable: frozenset[str]
    sqlite_types: dict[str, tuple[str, ...]]
    data: bool


_SPECS = {
    "samples": _Spec(
        SAMPLES,
        ("time", "value"),
        frozenset({"value"}),
        {"time": ("real",), "value": ("real", "null")},
        data=False,
    ),
    "waveform_blocks": _Spec(
        BLOCKS,
        ("start_time", "sample_rate_hz", "count"),
        frozenset(),
        {
            "start_time": ("real",),
            "sample_rate_hz": ("real",),
            "count": ("integer",),
            "data": ("blob",),
        },
        data=True,
    ),
}
_TEXT = ("source", "kind", "status")


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


def _id_range(conn: Connection, table: Any, session_id: int) -> dict[str, Any]:
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
        return cursor.fetchall()
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
            _read(conn, _SPECS["samples"], session_id),
            _read(conn, _SPECS["waveform_blocks"], session_id),
        )


def _read(conn: Connection, spec: _Spec, session_id: int) -> Recorded:
    return _read_range(conn, spec, _id_range(conn, spec.table, session_id))


def _type_check(conn: Connection, spec: _Spec) -> Any:
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


def _read_rows(
    conn: Connection, spec: _Spec, params: dict[str, Any], rows: list[tuple] | None = None
) -> Recorded:
    """Every value as stored, converted one by one (for whatever the fast read cannot take)."""
    t = spec.table
    columns = [t.c.id, *(t.c[n] for n in spec.numbers), *(t.c[n] for n in _TEXT)]
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
        stream = [_text_value(v) for v in triple]
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
            odd[i] = _odd(d)
            data.append(odd[i].encode("utf-8", "surrogatepass"))
    return data, odd


def _read_columns(conn: Connection, spec: _Spec, params: dict[str, Any]) -> Recorded | None:
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
            data_odd = {}
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
        text = [t.c[n] for n in _TEXT]
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
    none = literal_column("-1")
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
    index = {canonical([_text_value(v) for v in s]).decode(): c for c, s in enumerate(streams)}
    where = dict(zip(ids.tolist(), positions.tolist(), strict=True))
    all_ids = list(where)
    for start in range(0, len(all_ids), _LOOKUP_CHUNK):
        chunk = all_ids[start : start + _LOOKUP_CHUNK]
        query = select(t.c.id, *(t.c[n] for n in _TEXT)).where(
            t.c.id.in_([literal_column(str(int(i))) for i in chunk])
        )
        for row_id, *triple in _raw(conn, query, {}):
            stream = [_text_value(v) for v in triple]
            key = canonical(stream).decode()
            code = index.get(key)
            if code is None:
                code = index[key] = len(streams)
                streams.append(stream)
            codes[where[row_id]] = code
    if np.any(codes < 0):  # a row vanished between the two reads: not in a transaction?
        raise RuntimeError("rows changed while the record was read")


# -- digests ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Groups:
    """A table's rows put in group order (stable, so id order inside a group): the row range
    of each group key, and the rows that belong to no group (their time is not a number)."""

    recorded: Recorded
    ranges: dict[int, tuple[int, int]]
    ungrouped: list[tuple[int, str]]  # (row id, what is wrong)


def group_by_minute(recorded: Recorded) -> Groups:
    """Rows grouped by the UTC minute of their time (a block's start time)."""
    minutes = _minutes(recorded)
    bad = np.isnan(minutes)
    return group_rows(recorded, np.where(bad, 0, minutes).astype(np.int64), bad)


def group_rows(recorded: Recorded, keys: np.ndarray, bad: np.ndarray) -> Groups:
    """Group rows by integer ``keys``; rows where ``bad`` is set belong to none."""
    n = len(recorded)
    ungrouped = [(int(recorded.ids[i]), _why_ungrouped(recorded, i)) for i in np.flatnonzero(bad)]
    sentinel = np.iinfo(np.int64).min
    k = np.where(bad, sentinel, keys).astype(np.int64)
    if n > 1 and bool(np.any(k[1:] < k[:-1])):
        order = np.argsort(k, kind="stable")
        recorded = recorded.take(order)
        k = k[order]
    if n:
        cuts = np.flatnonzero(k[1:] != k[:-1]) + 1
        lo = np.concatenate(([0], cuts)).tolist()
        hi = np.concatenate((cuts, [n])).tolist()
        ranges = {int(k[a]): (a, b) for a, b in zip(lo, hi, strict=True)}
    else:
        ranges = {}
    ranges.pop(int(sentinel), None)
    return Groups(recorded, ranges, ungrouped)


def _why_ungrouped(recorded: Recorded, i: int) -> str:
    time = recorded.time
    name = "time" if recorded.table == "samples" else "start_time"
    if time.mask[i] == 1:
        return f"its {name} is empty"
    if time.mask[i] == 2:
        return f"its {name} is not a number ({time.odd.get(i)})"
    return f"its {name} is out of range"


def _packed(recorded: Recorded) -> np.ndarray:
    """One fixed-width little-endian record per row: id (int64), each number (float64), each
    number's mask (uint8), the data's byte length (int64, waveform blocks) and the SHA-256 of
    the row's stream (source, kind, status as canonical JSON)."""
    names = list(recorded.numbers)
    fields: list[tuple[str, str]] = [("id", "<i8")]
    fields += [(f"n{i}", "<f8") for i in range(len(names))]
    fields += [(f"m{i}", "u1") for i in range(len(names))]
    if recorded.data is not None:
        fields.append(("length", "<i8"))
    fields.append(("stream", "V32"))
    packed = np.empty(len(recorded), dtype=np.dtype(fields))
    packed["id"] = recorded.ids
    for i, name in enumerate(names):
        packed[f"n{i}"] = recorded.numbers[name].values
        packed[f"m{i}"] = recorded.numbers[name].mask
    if recorded.data is not None:
        packed["length"] = np.fromiter(map(len, recorded.data), dtype="<i8", count=len(recorded))
    packed["stream"] = recorded.stream_hashes().view("V32")[recorded.codes, 0]
    return packed


def _odd_rows(recorded: Recorded) -> list[tuple[int, str, str]]:
    """(row, column, stored type and repr) of every value that is not of its column's type."""
    odd = [(i, name, r) for name, col in recorded.numbers.items() for i, r in col.odd.items()]
    odd += [(i, "data", r) for i, r in recorded.data_odd.items()]
    return sorted(odd)


_NO_ODD = canonical([])


class Digester:
    """SHA-256 of a group of samples and waveform blocks (each given as a row range).

    Per table: a tag and the row count, the rows' packed records (see :func:`_packed`) in
    order, the values that are not of their column's type (canonical JSON: row in the group,
    column, type and repr; usually ``[]``), and for waveform blocks the bytes as stored.
    """

    def __init__(self, samples: Recorded, blocks: Recorded) -> None:
        self.tables = (samples, blocks)
        self.packed = (_packed(samples), _packed(blocks))
        self.odd = (_odd_rows(samples), _odd_rows(blocks))
        count = blocks.numbers["count"]
        self.points = np.where(count.mask == 0, count.values, 0.0)

    def digest(self, s_range: tuple[int, int], b_range: tuple[int, int]) -> dict[str, Any]:
        h = hashlib.sha256(DIGEST_TAG)
        for tag, recorded, packed, odd, (lo, hi) in zip(
            (b"S", b"B"), self.tables, self.packed, self.odd, (s_range, b_range), strict=True
        ):
            h.update(tag + (hi - lo).to_bytes(8, "little"))
            h.update(packed[lo:hi])
            listed = (
                canonical([[i - lo, c, r] for i, c, r in odd if lo <= i < hi]) if odd else _NO_ODD
            )
            h.update(len(listed).to_bytes(8, "little") + listed)
            if recorded.data is not None:
                h.update(b"".join(recorded.data[lo:hi]))
        lo, hi = b_range
        return {
            "samples": s_range[1] - s_range[0],
            "blocks": hi - lo,
            "points": int(self.points[lo:hi].sum()),
            "sha256": h.hexdigest(),
        }


def minute_digests(samples: Recorded, blocks: Recorded) -> tuple[dict[int, dict], list[str]]:
    """One digest per UTC minute of recorded data, and the rows no minute can hold (named)."""
    s_groups = group_by_minute(samples)
    b_groups = group_by_minute(blocks)
    digester = Digester(s_groups.recorded, b_groups.recorded)
    digests = {}
    for minute in sorted(s_groups.ranges.keys() | b_groups.ranges.keys()):
        digests[minute] = {
            "type": "samples",
            "minute": minute,
            **digester.digest(
                s_groups.ranges.get(minute, (0, 0)), b_groups.ranges.get(minute, (0, 0))
            ),
        }
    problems = [
        f"{table} row {row_id}: {why}"
        for table, groups in (("samples", s_groups), ("waveform_blocks", b_groups))
        for row_id, why in groups.ungrouped
    ]
    return digests, problems


# -- the chain ----------------------------------------------------------------------------------

AUDIT = AuditEntryRecord.__table__
SESSIONS = SessionRecord.__table__
# Every event table whose rows are chained as they are inserted, in the order verify lists them.
EVENT_TABLES = tuple(
    record.__table__
    for record in (
        DoseEventRecord,
        ObservationRecord,
        WorkflowEventRecord,
        DeviceEventRecord,
        AlarmEventRecord,
    )
)
STATUS_KIND = "session_status"
# Group keys for recorded data: seal * _SEAL_STRIDE + minute (minutes since the epoch).
_SEAL_STRIDE = 2**31


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit log entry: ``kind`` is a table name, "session_status" or "samples"; ``key``
    the row id, the session id or the minute."""

    kind: str
    key: int
    body: dict[str, Any]

    def encoded(self) -> bytes:
        return canonical(self.body)


def row_dict(row: Any) -> dict[str, Any]:
    """A row (a mapping read through SQLAlchemy) as JSON values."""
    return {k: plain(v) for k, v in row.items()}


def row_entry(table: Any, row: Any) -> Entry:
    return Entry(table.name, row["id"], {"type": table.name, **row_dict(row)})


def status_entry(session_id: int, status: str, ended_at: float | None, at: float) -> Entry:
    """A change of the session's status (the session row is updated; the chain is appended)."""
    body = {"type": STATUS_KIND, "session_id": session_id, "status": status}
    return Entry(STATUS_KIND, session_id, {**body, "ended_at": ended_at, "at": round(at, 3)})


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
    rows = conn.execute(
        select(table)
        .where(table.c.id.in_([literal_column(str(int(i))) for i in ids]))
        .order_by(table.c.id)
    ).mappings()
    append(conn, session_id, [row_entry(table, r) for r in rows])


def chained(conn: Connection, session_id: int) -> list[dict[str, Any]]:
    """The session's stored chain entries in order."""
    return [
        dict(r)
        for r in conn.execute(
            select(AUDIT).where(AUDIT.c.session_id == session_id).order_by(AUDIT.c.seq)
        ).mappings()
    ]


# -- sealing recorded data as it comes ----------------------------------------------------------


def _last_seal(conn: Connection, session_id: int) -> dict[str, int] | None:
    """The id each recorded table is sealed through, from the latest samples entry."""
    text = conn.scalar(
        select(AUDIT.c.entry)
        .where(AUDIT.c.session_id == session_id, AUDIT.c.kind == "samples")
        .order_by(AUDIT.c.seq.desc())
        .limit(1)
    )
    if text is None:
        return None
    ids = json.loads(text)["ids"]
    return {table: int(ids[table][1]) for table in _SPECS}


def seal(conn: Connection, session_id: int, *, final: bool) -> int | None:
    """Append one samples-digest entry per minute of recorded data that is complete.

    Rows are sealed as a prefix in id order of each table: a seal covers, per table, the rows
    with ids in (the previous seal's end, this seal's end], one entry per minute among them. A
    minute is complete once data from a later minute has been written, so a seal ends just
    before the first row (per table) of the newest minute; rows of an earlier minute that come
    after it (a device lagging behind another) go into the next seal, as another part of their
    minute. ``final`` seals everything written so far (the session ended or was interrupted).
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
            for name, spec in _SPECS.items()
        }
    pending = {}
    with no_gc():
        for name, spec in _SPECS.items():
            top = conn.scalar(select(func.max(spec.table.c.id))) or 0
            params = {"sid": session_id, "lo": through[name] + 1, "hi": top}
            pending[name] = _read_range(conn, spec, params)
    minutes = {name: _minutes(rec) for name, rec in pending.items()}
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
        ranges = {
            name: [through[name], int(rec.ids[-1]) if len(rec) else through[name]]
            for name, rec in sealed.items()
        }
        digests, _ = minute_digests(sealed["samples"], sealed["waveform_blocks"])
        append(
            conn,
            session_id,
            [Entry("samples", m, samples_body(m, ranges, d)) for m, d in sorted(digests.items())],
        )
    return int(newest) if newest is not None else None


def samples_body(minute: int, ranges: dict[str, list[int]], digest: dict[str, Any]) -> dict:
    return {
        "type": "samples",
        "minute": minute,
        "ids": ranges,
        "samples": digest["samples"],
        "blocks": digest["blocks"],
        "points": digest["points"],
        "sha256": digest["sha256"],
    }


def _minutes(recorded: Recorded) -> np.ndarray:
    """Each row's UTC minute as float (NaN when its time is not a usable number)."""
    time = recorded.time
    with np.errstate(invalid="ignore"):
        minutes = np.floor_divide(time.values, SAMPLE_INTERVAL_S)
        bad = (time.mask != 0) | ~((minutes >= 0) & (minutes < _SEAL_STRIDE))
    minutes[bad] = np.nan
    return minutes


def _read_range(conn: Connection, spec: _Spec, params: dict[str, Any]) -> Recorded:
    if params["lo"] > params["hi"]:  # nothing written since: no query
        return _read_rows(conn, spec, params, rows=[])
    recorded = _read_columns(conn, spec, params)
    return recorded if recorded is not None else _read_rows(conn, spec, params)


# -- checking the stored rows against the chain ---------------------------------------------------


def describe(kind: str, key: int) -> str:
    if kind == "samples":
        return f"samples of minute {key} ({iso_utc(key * SAMPLE_INTERVAL_S)})"
    if kind == "sessions":
        return f"the session row {key}"
    if kind == STATUS_KIND:
        return f"the status of session {key}"
    return f"{kind} row {key}"


def check_links(stored: Sequence[dict[str, Any]]) -> tuple[str, list[str]]:
    """Each stored entry's sequence number, link and hash; returns the recomputed head."""
    problems = []
    prev = GENESIS
    for i, row in enumerate(stored):
        seq = row["seq"]
        what = describe(row["kind"], row["row_id"])
        if seq != i:
            problems.append(f"chain entry {seq} ({what}) is at position {i}: entries are missing")
        if row["prev_hash"] != prev:
            problems.append(f"chain entry {seq} ({what}): link to the previous entry is broken")
        digest = chain_hash(prev, row["entry"].encode())
        if digest != row["hash"]:
            problems.append(f"chain entry {seq} ({what}): the audit log entry was altered")
        prev = digest
    return prev, problems


def _body(row: dict[str, Any]) -> dict[str, Any]:
    try:
        body = json.loads(row["entry"])
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _changes(signed: dict[str, Any], now: dict[str, Any]) -> str:
    changed = sorted(k for k in set(signed) | set(now) if signed.get(k) != now.get(k))
    return ", ".join(f"{k} {signed.get(k)!r} -> {now.get(k)!r}" for k in changed)


def check_session_row(
    stored: Sequence[dict[str, Any]], session_id: int, row: dict[str, Any]
) -> list[str]:
    """The session row against its creation entry with the chained status changes applied."""
    created = [r for r in stored if r["kind"] == "sessions"]
    if not created:
        return [f"{describe('sessions', session_id)} is not in the audit log"]
    expected = {k: v for k, v in _body(created[0]).items() if k != "type"}
    set_by = dict.fromkeys(expected, created[0]["seq"])
    for r in stored:
        if r["kind"] == STATUS_KIND:
            body = _body(r)
            for field_name in ("status", "ended_at"):
                expected[field_name] = body.get(field_name)
                set_by[field_name] = r["seq"]
    problems = []
    for seq in sorted({set_by.get(k, created[0]["seq"]) for k in set(expected) | set(row)}):
        fields = {
            k
            for k in set(expected) | set(row)
            if set_by.get(k, created[0]["seq"]) == seq and expected.get(k) != row.get(k)
        }
        if fields:
            details = _changes(
                {k: expected.get(k) for k in fields}, {k: row.get(k) for k in fields}
            )
            problems.append(
                f"chain entry {seq} mismatch: {describe('sessions', session_id)} changed: {details}"
            )
    return problems


def check_event_rows(
    stored: Sequence[dict[str, Any]], current: Sequence[Entry], tables: Sequence[Any] = EVENT_TABLES
) -> list[str]:
    """Rows of ``tables`` (doses, observations, ...) against their entries: changed, deleted,
    added."""
    problems = []
    kinds = {t.name for t in tables}
    now = {(e.kind, e.key): e for e in current if e.kind in kinds}
    seen = set()
    for row in stored:
        if row["kind"] not in kinds:
            continue
        ident = (row["kind"], row["row_id"])
        seen.add(ident)
        what = describe(*ident)
        entry = now.get(ident)
        if entry is None:
            problems.append(f"chain entry {row['seq']} mismatch: {what} was deleted")
        elif entry.encoded().decode() != row["entry"]:
            details = _changes(_body(row), entry.body) or "content changed"
            problems.append(f"chain entry {row['seq']} mismatch: {what} changed: {details}")
    for ident in now:
        if ident not in seen:
            problems.append(f"{describe(*ident)} is not in the audit log")
    return problems


def current_event_entries(conn: Connection, session_id: int) -> list[Entry]:
    entries = []
    for table in EVENT_TABLES:
        rows = conn.execute(
            select(table).where(table.c.session_id == session_id).order_by(table.c.id)
        ).mappings()
        entries.extend(row_entry(table, r) for r in rows)
    return entries


def check_recorded(
    stored: Sequence[dict[str, Any]],
    samples: Recorded,
    blocks: Recorded,
    *,
    recording: bool = False,
) -> list[str]:
    """The recorded data against the chain's samples entries: each entry's digest recomputed
    from the rows of its seal and minute; rows the chain holds nowhere; rows with no time.
    ``recording``: the session is active, so rows after the last seal are still to be sealed
    (the newest minute), not a difference."""
    problems: list[str] = []
    entries = []
    for row in stored:
        if row["kind"] != "samples":
            continue
        body = _body(row)
        try:
            ranges = {t: (int(body["ids"][t][0]), int(body["ids"][t][1])) for t in _SPECS}
            entries.append((row["seq"], int(body["minute"]), ranges, row["entry"]))
        except (KeyError, TypeError, ValueError, IndexError):
            problems.append(f"chain entry {row['seq']}: not a samples entry of KAT Monitor")
    seals: dict[tuple[tuple[int, int], ...], int] = {}
    for _, _, ranges, _ in entries:
        seals.setdefault(tuple(ranges[t] for t in _SPECS), len(seals))
    groups = []
    missing: dict[int, list[int]] = {}  # minute -> rows per table not held by the chain
    for t, (name, recorded) in enumerate(zip(_SPECS, (samples, blocks), strict=True)):
        spans: dict[tuple[int, int], int] = {}
        for key, seal_id in seals.items():
            lo, hi = key[t]
            if hi > lo:
                spans.setdefault((lo, hi), seal_id)
        ordered = sorted(spans.items())
        los = np.array([lo for (lo, _), _ in ordered], dtype=np.int64)
        his = np.array([hi for (_, hi), _ in ordered], dtype=np.int64)
        seal_ids = np.array([s for _, s in ordered], dtype=np.int64)
        ids = recorded.ids
        at = np.searchsorted(los, ids, side="left") - 1
        inside = at >= 0
        if len(ordered):
            at_ok = np.clip(at, 0, len(ordered) - 1)
            inside &= ids <= his[at_ok]
            seal_of = seal_ids[at_ok]
        else:
            seal_of = np.zeros(len(ids), dtype=np.int64)
        minutes = _minutes(recorded)
        no_time = np.isnan(minutes)
        whole = np.where(no_time, 0, minutes).astype(np.int64)
        outside = ~inside & ~no_time
        if recording:  # the rows after every seal wait for theirs
            outside &= ids <= (his.max() if len(his) else np.iinfo(np.int64).min)
        for i in np.flatnonzero(outside):
            missing.setdefault(int(whole[i]), [0, 0])[t] += 1
        problems += [
            f"{name} row {int(ids[i])}: {_why_ungrouped(recorded, int(i))}"
            for i in np.flatnonzero(no_time)
        ]
        groups.append(group_rows(recorded, seal_of * _SEAL_STRIDE + whole, ~inside | no_time))
    digester = Digester(groups[0].recorded, groups[1].recorded)
    held = set()
    for seq, minute, ranges, text in entries:
        key = seals[tuple(ranges[t] for t in _SPECS)] * _SEAL_STRIDE + minute
        held.add(key)
        digest = digester.digest(
            groups[0].ranges.get(key, (0, 0)), groups[1].ranges.get(key, (0, 0))
        )
        body = samples_body(minute, {t: list(r) for t, r in ranges.items()}, digest)
        if canonical(body).decode() != text:
            problems.append(
                f"chain entry {seq} mismatch: samples digest mismatch in "
                f"{describe('samples', minute)}"
            )
    for t, grouped in enumerate(groups):
        for key, (lo, hi) in grouped.ranges.items():
            if key not in held:
                missing.setdefault(key % _SEAL_STRIDE, [0, 0])[t] += hi - lo
    for minute, (n_samples, n_blocks) in sorted(missing.items()):
        problems.append(
            f"{describe('samples', minute)}: {n_samples} sample(s) and {n_blocks} waveform "
            "block(s) are not in the audit log"
        )
    return problems
