"""Reduce long trends to what a plot can show, without hiding anything that matters.

The buffers keep full-resolution data; at draw time each pixel column is reduced to its
minimum and maximum (PlotJuggler's approach), so a 4-hour trend draws as ~2 points per pixel
and a brief spike is still visible. NaN (no valid value) survives decimation so a gap in the
data stays a gap on the plot.
"""

from __future__ import annotations

import numpy as np


def minmax_decimate(
    times: np.ndarray, values: np.ndarray, start: float, end: float, buckets: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep, per time bucket of width (end - start) / buckets, the points holding the bucket's
    minimum and maximum and its first NaN. Returns a subset of the input points in time order.

    ``times`` must be increasing. Points outside [start, end] fall into the first/last bucket.
    Short inputs (at most 4 points per bucket) are returned unchanged.
    """
    n = int(times.shape[0])
    if buckets < 1 or n <= 4 * buckets or end <= start:
        return times, values
    bucket = ((times - start) * (buckets / (end - start))).astype(np.int64)
    np.clip(bucket, 0, buckets - 1, out=bucket)
    # Times increase, so each bucket is one contiguous run: everything below is O(n).
    firsts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    run = np.repeat(np.arange(firsts.shape[0]), np.diff(np.r_[firsts, n]))
    nan = np.isnan(values)
    keep = np.zeros(n, dtype=bool)
    # NaN never wins a comparison; a bucket of only NaN keeps its first point.
    for fill, reduce in ((np.inf, np.minimum), (-np.inf, np.maximum)):
        filled = np.where(nan, fill, values)
        extreme = reduce.reduceat(filled, firsts)
        keep[_first_per_run(np.flatnonzero(filled == extreme[run]), run)] = True
    if nan.any():
        # The first NaN of each bucket keeps the line broken there.
        keep[_first_per_run(np.flatnonzero(nan), run)] = True
    return times[keep], values[keep]


def _first_per_run(positions: np.ndarray, run: np.ndarray) -> np.ndarray:
    """Of increasing ``positions``, the first one in each run (bucket)."""
    runs = run[positions]
    return positions[np.r_[True, runs[1:] != runs[:-1]]]


def break_gaps(
    times: np.ndarray, values: np.ndarray, max_gap_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN point wherever consecutive points are more than ``max_gap_s`` apart, so a
    period with no data at all (cable out, device off) is not drawn as a straight line."""
    if times.shape[0] < 2:
        return times, values
    gaps = np.flatnonzero(np.diff(times) > max_gap_s)
    if gaps.shape[0] == 0:
        return times, values
    gap_times = (times[gaps] + times[gaps + 1]) / 2.0
    return (
        np.insert(times, gaps + 1, gap_times),
        np.insert(values, gaps + 1, np.nan),
    )
