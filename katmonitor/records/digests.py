"""SHA-256 digests of recorded data, one per UTC minute (and per seal), over packed columns.

Hashing a 4-hour session is a few hundred ``update`` calls over numpy buffers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from katmonitor.records.columns import SAMPLES_TABLE, Recorded
from katmonitor.records.entries import SAMPLE_INTERVAL_S, SAMPLES_KIND, canonical

DIGEST_TAG = b"katmonitor-recorded-digest-v3\n"
# Group keys for recorded data: seal * SEAL_STRIDE + minute (minutes since the epoch).
SEAL_STRIDE = 2**31


def minutes_of(recorded: Recorded) -> np.ndarray:
    """Each row's UTC minute as float (NaN when its time is not a usable number)."""
    time = recorded.time
    with np.errstate(invalid="ignore"):
        minutes = np.floor_divide(time.values, SAMPLE_INTERVAL_S)
        bad = (time.mask != 0) | ~((minutes >= 0) & (minutes < SEAL_STRIDE))
    minutes[bad] = np.nan
    return minutes


@dataclass(slots=True)
class Groups:
    """A table's rows put in group order (stable, so id order inside a group): the row range
    of each group key, and the rows that belong to no group (their time is not a number)."""

    recorded: Recorded
    ranges: dict[int, tuple[int, int]]
    ungrouped: list[tuple[int, str]]  # (row id, what is wrong)


def group_by_minute(recorded: Recorded) -> Groups:
    """Rows grouped by the UTC minute of their time (a block's start time)."""
    minutes = minutes_of(recorded)
    bad = np.isnan(minutes)
    return group_rows(recorded, np.where(bad, 0, minutes).astype(np.int64), bad)


def group_rows(recorded: Recorded, keys: np.ndarray, bad: np.ndarray) -> Groups:
    """Group rows by integer ``keys``; rows where ``bad`` is set belong to none."""
    n = len(recorded)
    ungrouped = [
        (int(recorded.ids[i]), why_ungrouped(recorded, int(i))) for i in np.flatnonzero(bad)
    ]
    sentinel = np.iinfo(np.int64).min
    k = np.where(bad, sentinel, keys).astype(np.int64)
    if n > 1 and bool(np.any(k[1:] < k[:-1])):
        order = np.argsort(k, kind="stable")
        recorded = recorded.take(order)
        k = k[order]
    ranges: dict[int, tuple[int, int]] = {}
    if n:
        cuts = np.flatnonzero(k[1:] != k[:-1]) + 1
        lo = np.concatenate(([0], cuts)).tolist()
        hi = np.concatenate((cuts, [n])).tolist()
        ranges = {int(k[a]): (a, b) for a, b in zip(lo, hi, strict=True)}
    ranges.pop(int(sentinel), None)
    return Groups(recorded, ranges, ungrouped)


def why_ungrouped(recorded: Recorded, i: int) -> str:
    time = recorded.time
    name = "time" if recorded.table == SAMPLES_TABLE else "start_time"
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
            h.update(packed[lo:hi].data)
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


def minute_digests(
    samples: Recorded, blocks: Recorded
) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """One digest per UTC minute of recorded data, and the rows no minute can hold (named)."""
    s_groups = group_by_minute(samples)
    b_groups = group_by_minute(blocks)
    digester = Digester(s_groups.recorded, b_groups.recorded)
    digests = {}
    for minute in sorted(s_groups.ranges.keys() | b_groups.ranges.keys()):
        digests[minute] = {
            "type": SAMPLES_KIND,
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


def samples_body(
    minute: int, ranges: dict[str, list[int]], digest: dict[str, Any]
) -> dict[str, Any]:
    """The chain entry of one minute of one seal: the id ranges the seal covers, the digest."""
    return {
        "type": SAMPLES_KIND,
        "minute": minute,
        "ids": ranges,
        "samples": digest["samples"],
        "blocks": digest["blocks"],
        "points": digest["points"],
        "sha256": digest["sha256"],
    }
