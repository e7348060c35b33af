"""Sign and verify a 4-hour session with 100 Hz pleth (goal: <= 200 ms each).

Data goes in through SessionStore.write_batch: 1 Hz HR, SpO2 and pulse rate, pleth in 1-second
blocks of 100 points (the recorder coalesces blocks to a few rows a second), NIBP every 3 min.
Each figure is measured ``--repeat`` times (signing again after the signature is removed) and
printed as the median and the fastest run: this VM's timings wander by a third between runs.
Usage: .venv/bin/python -m bench.sign_verify [--hours H] [--repeat N] [--db URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import delete

from katmonitor.accounts import AccountStore
from katmonitor.base.samples import Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.record_signing import export_bundle, sign_session, verify_bundle, verify_session
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.database import Database, open_database
from katmonitor.storage.store import SIGNATURES, SessionStore

PASSWORD = "correct horse"


def record(store: SessionStore, hours: float) -> int:
    t0 = 1_760_000_000.0
    seconds = int(hours * 3600)
    session = store.create_session(
        client_id="BENCH",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=t0,
        training=True,
        devices=("sim:normal",),
        workstation="bench",
    )
    sid = session.id
    wave = (np.sin(np.arange(100) / 8.0) * 40 + 50).astype(np.float32)
    for chunk in range(0, seconds, 600):
        samples = []
        blocks = []
        for s in range(chunk, min(chunk + 600, seconds)):
            t = t0 + s
            samples += [
                (sid, Sample(t, "sim", VitalKind.HR, 70.0 + s % 7)),
                (sid, Sample(t, "sim", VitalKind.SPO2, 97.0)),
                (sid, Sample(t, "sim", VitalKind.PULSE_RATE, 70.0)),
            ]
            if s % 180 == 0:
                samples.append((sid, Sample(t, "sim", VitalKind.NIBP_SYSTOLIC, 120.0)))
            blocks.append((sid, WaveformBlock(t, 100.0, "sim", VitalKind.PLETH, wave)))
        store.write_batch(samples, blocks, [])
    store.set_status(sid, SessionStatus.ENDED, t0 + seconds)
    return sid


def unsign(database: Database, session_id: int) -> None:
    """Remove the signature, so the session can be signed again (the chain was appended while
    recording; signing adds nothing to it)."""
    with database.engine.begin() as conn:
        conn.execute(delete(SIGNATURES).where(SIGNATURES.c.session_id == session_id))


def timed(repeat: int, run: Callable[[], object], between: Callable[[], object]) -> list[float]:
    times = []
    for i in range(repeat):
        if i:
            between()
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def figures(times: list[float]) -> str:
    return f"median {statistics.median(times):6.1f} ms, fastest {min(times):6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        database = open_database(url)
        store = SessionStore(database)
        AccountStore(database).add_user("bench-nurse", "nurse", PASSWORD)
        started = time.perf_counter()
        sid = record(store, args.hours)
        counts = store.sample_counts(sid)
        print(f"wrote {sum(counts.values())} points in {time.perf_counter() - started:.1f} s")

        sign_ms = timed(
            args.repeat,
            lambda: sign_session(store, sid, "bench-nurse", PASSWORD),
            lambda: unsign(database, sid),
        )
        reports = []
        verify_ms = timed(
            args.repeat, lambda: reports.append(verify_session(store, sid)), lambda: None
        )
        assert all(r.ok for r in reports), reports[0].problems
        bundle = export_bundle(store, sid, Path(tmp) / "bundle.json")
        bundles = []
        bundle_ms = timed(args.repeat, lambda: bundles.append(verify_bundle(bundle)), lambda: None)
        assert all(r.ok for r in bundles), bundles[0].problems
        size_mb = bundle.stat().st_size / 1e6
        database.close()
    print(f"sign          {figures(sign_ms)}  (goal <= 200; one argon2id, run alongside)")
    print(f"verify        {figures(verify_ms)}  (goal <= 200)")
    print(f"verify --file {figures(bundle_ms)}  (bundle {size_mb:.1f} MB)")


if __name__ == "__main__":
    main()
