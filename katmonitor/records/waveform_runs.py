"""Contiguous waveform data: when one block continues another of the same stream.

The recorder joins blocks as they arrive; the audit chain compacts each sealed minute's rows
of a stream into one row by the same rule (:func:`katmonitor.storage.audit_chain.seal`).
"""

from __future__ import annotations

import numpy as np

from katmonitor.records.columns import Recorded
from katmonitor.records.digests import minutes_of

# Upper bound on a joined waveform block (60 s at 100 Hz): blobs stay small enough to read
# back a piece at a time.
MAX_BLOCK_POINTS = 6000
_POINT_BYTES = 4  # float32


def continues(start_time: float, count: int, rate_hz: float, next_start: float) -> bool:
    """A block starting at ``next_start`` continues the run of ``count`` points from
    ``start_time`` at ``rate_hz``: it starts where the run ends, within half a sample period."""
    return abs(next_start - (start_time + count / rate_hz)) <= 0.5 / rate_hz


def minute_runs(blocks: Recorded) -> list[list[int]]:
    """Rows (positions in ``blocks``, id order) that can become one row: of one stream (source,
    kind, status, rate), in the same UTC minute, each continuing the one before, at most
    ``MAX_BLOCK_POINTS`` in all. Only runs of two rows or more; rows with a value of an odd
    type or whose byte length disagrees with their count are left alone."""
    if blocks.data is None or len(blocks) < 2:
        return []
    start = blocks.numbers["start_time"]
    rate = blocks.numbers["sample_rate_hz"]
    count = blocks.numbers["count"]
    minutes = minutes_of(blocks)
    lengths = np.fromiter(map(len, blocks.data), dtype=np.int64, count=len(blocks))
    usable = (
        (start.mask == 0)
        & (rate.mask == 0)
        & (count.mask == 0)
        & np.isfinite(minutes)
        & np.isfinite(rate.values)
        & (rate.values > 0)
        & (lengths == count.values * _POINT_BYTES)
    )
    for i in blocks.data_odd:
        usable[i] = False
    text_ok = [all(isinstance(v, str) for v in stream) for stream in blocks.streams]
    runs: list[list[int]] = []
    open_runs: dict[tuple[int, float, float], tuple[list[int], int]] = {}
    for i in np.flatnonzero(usable).tolist():
        code = int(blocks.codes[i])
        if not text_ok[code]:
            continue
        key = (code, float(rate.values[i]), float(minutes[i]))
        n = int(count.values[i])
        current = open_runs.get(key)
        if current is not None:
            rows, total = current
            first = rows[0]
            if total + n <= MAX_BLOCK_POINTS and continues(
                float(start.values[first]), total, float(rate.values[first]),
                float(start.values[i]),
            ):
                rows.append(i)
                open_runs[key] = (rows, total + n)
                continue
            if len(rows) > 1:
                runs.append(rows)
        open_runs[key] = ([i], n)
    runs += [rows for rows, _ in open_runs.values() if len(rows) > 1]
    return sorted(runs)
