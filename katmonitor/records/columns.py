"""Recorded data (numeric samples and waveform blocks) as columns rather than rows.

Ids, numbers as float64 with a mask, the text columns (source, kind, status) as codes into a
small dictionary of streams, and the waveform bytes as stored: a digest hashes slices of these
columns, and a bundle carries them as base64. Reading them from the database is
:mod:`katmonitor.storage.recorded_columns`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from katmonitor.records.entries import canonical

SAMPLES_TABLE = "samples"
BLOCKS_TABLE = "waveform_blocks"
TEXT_COLUMNS = ("source", "kind", "status")
# The most rows a bundle's table may claim (a day of 10 Hz numerics is under 10 million).
MAX_ROWS = 100_000_000


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns of a recorded table that the record covers."""

    numbers: tuple[str, ...]
    nullable: frozenset[str]
    data: bool  # the waveform bytes


LAYOUTS: dict[str, Layout] = {
    SAMPLES_TABLE: Layout(("time", "value"), frozenset({"value"}), data=False),
    BLOCKS_TABLE: Layout(("start_time", "sample_rate_hz", "count"), frozenset(), data=True),
}


def text_value(value: Any) -> Any:
    """A text column's value in a stream key: text as itself, anything else tagged by type."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": base64.b64encode(bytes(value)).decode()}
    return {"repr": f"{type(value).__name__}:{value!r}"}


def odd_repr(value: Any) -> str:
    """How a value that is not of its column's type is named in a digest."""
    return f"{type(value).__name__}:{value!r}"


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
                    odd[i] = odd_repr(v)
            else:
                mask[i] = 2
                odd[i] = odd_repr(v)
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
    def from_json(cls, obj: Any, n: int) -> Numbers:
        """From :meth:`to_json`'s object; ValueError naming what is wrong with it."""
        obj = _object(obj, "numbers", ("values", "mask", "odd"))
        return cls(
            _array(obj["values"], "<f8", n),
            _array(obj["mask"], np.uint8, n),
            _odd(obj["odd"], n),
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
        return self.numbers["time" if self.table == SAMPLES_TABLE else "start_time"]

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
    def from_json(cls, obj: Any) -> Recorded:
        """From :meth:`to_json`'s object, checked at every level (a bundle may be damaged):
        ValueError naming what is wrong. A table with no rows (a session without pleth) is as
        valid as any other."""
        keys = ("table", "rows", "ids", "numbers", "streams", "codes")
        obj = _object(obj, "recorded table", keys, optional=("data",))
        table = obj["table"]
        if not isinstance(table, str) or table not in LAYOUTS:
            raise ValueError(f"unknown recorded table {table!r}")
        layout = LAYOUTS[table]
        n = obj["rows"]
        if type(n) is not int or not 0 <= n <= MAX_ROWS:
            raise ValueError(f"{table}: the row count {n!r} is not a count")
        numbers = _object(obj["numbers"], f"{table} numbers", layout.numbers)
        streams = obj["streams"]
        if not isinstance(streams, list) or not all(
            isinstance(s, list)
            and len(s) == len(TEXT_COLUMNS)
            and all(_is_stream_value(v) for v in s)
            for s in streams
        ):
            raise ValueError(f"{table}: streams are not lists of source, kind and status")
        codes = _array(obj["codes"], "<i4", n)
        if n and (codes.min() < 0 or codes.max() >= len(streams)):
            raise ValueError(f"{table}: stream code out of range")
        data = None
        data_odd: dict[int, str] = {}
        if layout.data != ("data" in obj):
            state = "missing" if layout.data else "unexpected"
            raise ValueError(f"{table}: the waveform data is {state}")
        if layout.data:
            held = _object(obj["data"], f"{table} data", ("lengths", "bytes", "odd"))
            lengths = _array(held["lengths"], "<i8", n)
            blob = _b64decode(held["bytes"])
            if n and (lengths.min() < 0 or int(lengths.sum()) != len(blob)):
                raise ValueError(f"{table}: data lengths do not match the bytes")
            ends = np.cumsum(lengths).tolist()
            starts = [0, *ends[:-1]] if n else []
            data = [blob[a:b] for a, b in zip(starts, ends, strict=True)]
            data_odd = _odd(held["odd"], n)
        return cls(
            table,
            _array(obj["ids"], "<i8", n),
            {name: Numbers.from_json(numbers[name], n) for name in layout.numbers},
            streams,
            codes,
            data,
            data_odd,
        )


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


def _b64decode(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"expected base64 text, found {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error
        raise ValueError("not valid base64") from None


def _array(text: Any, dtype: Any, n: int) -> np.ndarray:
    raw = _b64decode(text)
    size = np.dtype(dtype).itemsize
    if len(raw) != n * size:
        raise ValueError(f"column has {len(raw)} bytes, expected {n} values of {size} bytes")
    return np.frombuffer(raw, dtype=dtype).copy()


def _object(
    obj: Any, what: str, keys: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, Any]:
    """``obj`` if it is a JSON object with exactly ``keys`` (and any of ``optional``)."""
    if not isinstance(obj, dict):
        raise ValueError(f"{what} is not an object")
    missing = [k for k in keys if k not in obj]
    extra = sorted(str(k) for k in obj if k not in keys and k not in optional)
    if missing or extra:
        raise ValueError(
            f"{what}: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else [])
                + ([f"unexpected {', '.join(extra)}"] if extra else [])
            )
        )
    return obj


def _odd(obj: Any, n: int) -> dict[int, str]:
    """The [row, type and repr] list of values not of their column's type."""
    if not isinstance(obj, list) or not all(
        isinstance(p, list) and len(p) == 2 and type(p[0]) is int and 0 <= p[0] < n
        and isinstance(p[1], str)
        for p in obj
    ):
        raise ValueError("the list of odd values is not [row, text] pairs of this table's rows")
    return {int(i): r for i, r in obj}


def _is_stream_value(value: Any) -> bool:
    """A text column's value as :func:`text_value` gives it."""
    if isinstance(value, str):
        return _encodable(value)
    return (
        isinstance(value, dict) and len(value) == 1
        and next(iter(value)) in ("bytes", "repr")
        and isinstance(next(iter(value.values())), str)
        and _encodable(next(iter(value.values())))
    )


def _encodable(text: str) -> bool:
    """Text that UTF-8 can encode (JSON may hold a lone surrogate, which it cannot)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
