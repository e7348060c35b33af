"""PDF export of a signed 4-hour session as a user runs it (goal: <= 3 s).

    python -m bench.pdf_export [--quick] [--runs N]

The session is the one bench.sign_verify uses, recorded through the real write path
(bench.recording: numerics at 1 Hz, 100 Hz pleth in 10-point blocks flushed by the Recorder
every 0.25 s of session time, NIBP every 5 min, alarms, the pre-dose steps, two doses,
assessments every 20 min, a discharge), ended and signed. Timed: ``katmonitor export ID
--format pdf`` as a new process each run (interpreter start, imports and the signature check
included), the way a nurse or a script runs it. Also shown without a goal: the same export of
the session before it was signed (no signature to check).

The export runs as a process, not through the writer function, so this benchmark does not
depend on the writers' Python signature.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import harness
from bench.harness import ROOT, Figure, Options
from bench.recording import NURSE, PASSWORD, CachedSession, Plan, cached_session
from katmonitor.record_signing import sign_session
from katmonitor.storage import SessionStore, open_database

HOURS = 4


def export_s(session: CachedSession, out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "katmonitor", "export", str(session.session_id), "--format",
         "pdf", "--out", str(out), "--db", session.url],
        check=True, capture_output=True, env=env, cwd=ROOT,
    )
    return time.perf_counter() - started


def collect(options: Options) -> list[Figure]:
    runs = options.count(full=5, quick=2)
    cached = cached_session(Plan(HOURS * 3600))
    print(f"{HOURS} h session: {cached.points:,} points, {cached.rows:,} pleth rows",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="katmonitor-bench-") as tmp_name:
        tmp = Path(tmp_name)
        session = cached.copy_to(tmp)
        out = tmp / "report.pdf"
        unsigned = [export_s(session, out) for _ in range(max(1, runs // 2))]
        database = open_database(session.url)
        try:
            sign_session(SessionStore(database), session.session_id, NURSE, PASSWORD)
        finally:
            database.close()
        signed = [export_s(session, out) for _ in range(runs)]
        size_kb = out.stat().st_size / 1e3
    print(f"report: {size_kb:.0f} kB", flush=True)
    return [
        Figure(f"pdf export {HOURS} h, signed, new process", "s", 3.0, "at most", signed,
               note=f"{size_kb:.0f} kB"),
        Figure(f"pdf export {HOURS} h, unsigned, new process", "s", None, "at most", unsigned),
    ]


if __name__ == "__main__":
    harness.main(collect, __doc__)
