"""Sign and verify a 4-hour session with 100 Hz pleth (goal: <= 200 ms each).

Data goes in through SessionStore.write_batch: 1 Hz HR, SpO2 and pulse rate, pleth in 1-second
blocks of 100 points (the recorder coalesces blocks to a few rows a second), NIBP every 3 min.
Usage: .venv/bin/python -m bench.sign_verify [--hours H] [--db URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from katmonitor.accounts import AccountStore
from katmonitor.record_signing import export_bundle, sign_session, verify_bundle, verify_session
from katmonitor.samples import Sample, WaveformBlock
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore
from katmonitor.vitals import VitalKind

PASSWORD = "correct horse"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        database = open_database(url)
        store = SessionStore(database)
        AccountStore(database).add_user("bench-nurse", "nurse", PASSWORD)
        t0 = 1_760_000_000.0
        seconds = int(args.hours * 3600)
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
        started = time.perf_counter()
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
        counts = store.sample_counts(sid)
        print(f"wrote {sum(counts.values())} points in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        sign_session(store, sid, "bench-nurse", PASSWORD)
        sign_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        report = verify_session(store, sid)
        verify_ms = (time.perf_counter() - started) * 1000
        assert report.ok, report.problems
        bundle = export_bundle(store, sid, Path(tmp) / "bundle.json")
        started = time.perf_counter()
        assert verify_bundle(bundle).ok
        bundle_ms = (time.perf_counter() - started) * 1000
        size_mb = bundle.stat().st_size / 1e6
        database.close()
    print(f"sign   {sign_ms:7.1f} ms  (goal <= 200; includes 2 argon2id derivations)")
    print(f"verify {verify_ms:7.1f} ms  (goal <= 200)")
    print(f"verify --file {bundle_ms:7.1f} ms  (bundle {size_mb:.1f} MB)")


if __name__ == "__main__":
    main()
