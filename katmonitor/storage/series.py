"""Time series read from storage: times and values as numpy arrays, optionally reduced to at
most ``max_points`` by keeping each time bucket's minimum and maximum (so a one-sample spike
is never lost from a plot or a report)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class TimeSeries:
    """Values in time order: ``times`` (UTC epoch seconds) and ``values``, float64 arrays."""

    times: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.times.size)

    @classmethod
    def empty(cls) -> TimeSeries:
        return cls(np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float64))


def min_max_reduce(series: TimeSeries, max_points: int | None) -> TimeSeries:
    """At most ``max_points`` points: the span is cut into ``max_points // 2`` equal time
    buckets and each keeps its minimum and maximum (in time order). Unchanged when it is
    short enough already."""
    n = len(series)
    if max_points is None or n <= max_points:
        return series
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    buckets = max_points // 2
    times, values = series.times, series.values
    span = float(times[-1] - times[0])
    if span > 0:
        index = np.minimum(((times - times[0]) / span * buckets).astype(np.int64), buckets - 1)
    else:
        index = np.zeros(n, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    ends = np.r_[starts[1:], n]
    keep = np.empty(2 * len(starts), dtype=np.int64)
    for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        chunk = values[a:b]
        keep[2 * i] = a + int(np.argmin(chunk))
        keep[2 * i + 1] = a + int(np.argmax(chunk))
    keep = np.unique(keep)  # sorted: time order
    return TimeSeries(times[keep], values[keep])
