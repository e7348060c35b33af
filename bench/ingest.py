"""Ingest: how much faster than real time the Recorder stores a session (goal >= 500x).

    python -m bench.ingest [--quick] [--runs N]

One hour of what the simulated monitor delivers (HR, pulse rate, SpO2, perfusion index at
1 Hz, an NIBP triple every 5 min, 100 Hz pleth in 10-point blocks) is prepared up front, then
fed to a real Recorder on a new SQLite file paced as in real time: each 0.25 s of session time
is submitted and then committed by one turn of the writer's loop (``recorder.write_queued()``:
the commit the writer thread makes every 0.25 s, in this thread), so pleth is stored as
~25-point rows, four a second, exactly as ``katmonitor record`` lays it out (then compacted
per sealed minute, as the audit chain does). Timed: from the first submit to the recorder
stopped with everything committed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench import harness
from bench.harness import Figure, Options
from bench.recording import Plan, feed, new_session, quarters, stored_rows
from katmonitor.recorder import Recorder
from katmonitor.storage import SessionStore, open_database

SECONDS = 3600


def one_run(seconds: int, db_path: Path) -> tuple[float, dict[str, float]]:
    """(x real time, details) of recording ``seconds`` into a new database."""
    database = open_database(f"sqlite:///{db_path}")
    try:
        store = SessionStore(database)
        session_id = new_session(store, training=True)
        prepared = list(quarters(Plan(seconds, dosed=False)))  # not timed: the device's work
        recorder = Recorder(store)  # driven by feed(), one writer turn per 0.25 s
        started = time.perf_counter()
        items = feed(recorder, session_id, prepared)
        recorder.stop()
        wall = time.perf_counter() - started
        if recorder.pending or recorder.rejected:
            raise RuntimeError(f"{recorder.pending} pending, {recorder.rejected} rejected")
        counts = store.sample_counts(session_id)
        pleth_rows = stored_rows(database, "waveform_blocks")
    finally:
        database.close()
    size_mb = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*")) / 1e6
    details = {
        "items": items,
        "flushes": len(prepared),
        "pleth rows": pleth_rows,
        "points per pleth row": counts.get("pleth", 0) / max(pleth_rows, 1),
        "db MB": size_mb,
        "wall s": wall,
    }
    return seconds / wall, details


def collect(options: Options) -> list[Figure]:
    runs = options.count(full=3, quick=1)
    rates = []
    details: dict[str, float] = {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="katmonitor-bench-") as tmp:
            rate, details = one_run(SECONDS, Path(tmp) / "ingest.sqlite3")
        rates.append(rate)
        print(f"ingest: {SECONDS} s in {details['wall s']:.2f} s = {rate:.0f}x real time; "
              f"{details['flushes']:.0f} flushes, {details['pleth rows']:.0f} pleth rows of "
              f"{details['points per pleth row']:.1f} points, {details['db MB']:.1f} MB",
              flush=True)
    return [Figure("ingest 1 h through the Recorder (flush per 0.25 s)", "x real time", 500.0,
                   "at least", rates, extra=details)]


if __name__ == "__main__":
    harness.main(collect, __doc__)
