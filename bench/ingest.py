"""Ingest benchmark: how much faster than real time the Recorder stores a session.

    .venv/bin/python -m bench.ingest [--seconds 3600] [--db PATH]

Simulates N seconds of a monitored session - HR, pulse rate, SpO2 and perfusion index at 1 Hz,
an NIBP triple every 300 s, and 100 Hz pleth arriving as 10-point blocks - pushes it through a
Recorder into a fresh SQLite file as fast as possible, stops the recorder (which commits the
rest) and prints the figures. The goal is at least 500x real time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from katmonitor.base.samples import Sample, WaveformBlock
from katmonitor.base.vitals import NIBP_KINDS, VitalKind
from katmonitor.recorder import Recorder
from katmonitor.session import Route
from katmonitor.storage import SessionStore, open_database

T0 = 1_800_000_000.0
PLETH_HZ = 100.0
BLOCK_POINTS = 10
NIBP_EVERY_S = 300


def run(seconds: int, db_path: Path) -> None:
    database = open_database(f"sqlite:///{db_path}")
    store = SessionStore(database)
    session_id = store.create_session(
        client_id="BENCH",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=T0,
        training=True,
        devices=["sim:bench"],
        workstation="bench",
    ).id

    # Device-like input prepared up front, so the figure is the storage path's.
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * PLETH_HZ)) / PLETH_HZ
    pleth = (np.sin(2 * np.pi * 1.2 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)
    numerics = {
        VitalKind.HR: 72 + 5 * rng.standard_normal(seconds),
        VitalKind.PULSE_RATE: 72 + 5 * rng.standard_normal(seconds),
        VitalKind.SPO2: np.clip(97 + rng.standard_normal(seconds), 80, 100),
        VitalKind.PERFUSION_INDEX: np.abs(2 + 0.3 * rng.standard_normal(seconds)),
    }
    nibp = dict(zip(NIBP_KINDS, (120.0, 80.0, 93.0), strict=True))
    blocks_per_s = int(PLETH_HZ) // BLOCK_POINTS

    recorder = Recorder(store)
    recorder.start()
    started = time.perf_counter()
    submitted = 0
    for s in range(seconds):
        now = T0 + s
        for kind, values in numerics.items():
            recorder.submit_sample(session_id, Sample(now, "sim:bench", kind, float(values[s])))
            submitted += 1
        if s % NIBP_EVERY_S == 0:
            for kind, value in nibp.items():
                recorder.submit_sample(session_id, Sample(now, "sim:bench", kind, value))
                submitted += 1
        for b in range(blocks_per_s):
            first = s * int(PLETH_HZ) + b * BLOCK_POINTS
            block = WaveformBlock(
                now + b * BLOCK_POINTS / PLETH_HZ,
                PLETH_HZ,
                "sim:bench",
                VitalKind.PLETH,
                pleth[first : first + BLOCK_POINTS],
            )
            recorder.submit_waveform(session_id, block)
            submitted += 1
    submit_wall = time.perf_counter() - started
    recorder.stop()
    wall = time.perf_counter() - started

    counts = store.sample_counts(session_id)
    with database.engine.connect() as conn:
        sample_rows = conn.exec_driver_sql("SELECT count(*) FROM samples").scalar() or 0
        block_rows = conn.exec_driver_sql("SELECT count(*) FROM waveform_blocks").scalar() or 0
    database.close()  # checkpoints the WAL into the main file
    size_mb = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*")) / 1e6

    print(f"database:            {db_path}")
    print(f"simulated seconds:   {seconds}")
    print(f"wall seconds:        {wall:.2f}  (submitting: {submit_wall:.2f})")
    print(f"x real time:         {seconds / wall:.0f}")
    print(f"items submitted:     {submitted}")
    print(
        f"rows written:        {sample_rows + block_rows}"
        f"  (samples {sample_rows}, waveform blocks {block_rows})"
    )
    print(f"pleth points stored: {counts.get('pleth', 0)} of {pleth.size}")
    print(f"recorder rejected:   {recorder.rejected}, pending: {recorder.pending}")
    print(f"db size MB:          {size_mb:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3600, help="simulated seconds")
    parser.add_argument("--db", type=Path, help="SQLite file to create (default: a temp dir)")
    args = parser.parse_args()
    if args.db is not None:
        if args.db.exists():
            parser.error(f"{args.db} exists; give a new file")
        run(args.seconds, args.db)
        return
    with tempfile.TemporaryDirectory(prefix="katmonitor-bench-") as tmp:
        run(args.seconds, Path(tmp) / "bench.sqlite3")


if __name__ == "__main__":
    main()
