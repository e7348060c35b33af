"""Min/max decimation per pixel column (ui.decimate): extremes survive, gaps stay gaps."""

from __future__ import annotations

import numpy as np

from ui.decimate import break_gaps, minmax_decimate


def naive_buckets(times: np.ndarray, values: np.ndarray, start: float, end: float,
                  buckets: int) -> list[tuple[float, float]]:
    width = (end - start) / buckets
    index = np.clip(((times - start) / width).astype(int), 0, buckets - 1)
    found = []
    for b in np.unique(index):
        chunk = values[index == b]
        if np.isfinite(chunk).any():
            found.append((float(np.nanmin(chunk)), float(np.nanmax(chunk))))
    return found


def test_keeps_each_buckets_minimum_and_maximum() -> None:
    rng = np.random.default_rng(3)
    times = np.arange(14_400, dtype=float)
    values = 70 + rng.normal(0, 3, times.shape[0])
    values[5_000] = 190.0  # a one-second spike must stay visible
    values[9_000] = 20.0
    out_t, out_v = minmax_decimate(times, values, 0.0, 14_400.0, 500)

    assert out_t.shape[0] <= 2 * 500
    assert np.all(np.diff(out_t) > 0), "a subset of the points, in time order"
    assert 190.0 in out_v and 20.0 in out_v
    assert set(zip(out_t.tolist(), out_v.tolist(), strict=True)) <= set(
        zip(times.tolist(), values.tolist(), strict=True))
    width = 14_400.0 / 500
    index = np.clip((out_t / width).astype(int), 0, 499)
    kept = [(float(out_v[index == b].min()), float(out_v[index == b].max()))
            for b in np.unique(index)]
    assert kept == naive_buckets(times, values, 0.0, 14_400.0, 500)


def test_nan_gaps_stay_gaps() -> None:
    times = np.arange(10_000, dtype=float)
    values = np.full(times.shape[0], 80.0)
    values[4_000:4_600] = np.nan  # ten minutes with no valid value
    out_t, out_v = minmax_decimate(times, values, 0.0, 10_000.0, 200)

    nan_times = out_t[np.isnan(out_v)]
    assert nan_times.shape[0] >= 1
    assert np.all((nan_times >= 4_000) & (nan_times < 4_600))
    # Valid points on both sides of the gap are kept, so the line stops and restarts.
    assert np.any(out_t < 4_000) and np.any(out_t >= 4_600)
    # Every bucket that lies wholly in the gap still breaks the line.
    assert nan_times.shape[0] >= 600 // (10_000 // 200)


def test_short_input_is_returned_unchanged() -> None:
    times = np.arange(100, dtype=float)
    values = np.sin(times)
    out_t, out_v = minmax_decimate(times, values, 0.0, 100.0, 800)
    assert out_t is times and out_v is values


def test_break_gaps_inserts_nan_where_no_data_arrived() -> None:
    times = np.array([0.0, 1.0, 2.0, 30.0, 31.0])
    values = np.array([70.0, 71.0, 72.0, 90.0, 91.0])
    out_t, out_v = break_gaps(times, values, max_gap_s=10.0)
    assert out_t.tolist()[:3] == [0.0, 1.0, 2.0] and out_t.tolist()[4:] == [30.0, 31.0]
    assert 2.0 < out_t[3] < 30.0 and np.isnan(out_v[3])
    assert np.count_nonzero(np.isnan(out_v)) == 1
