"""Sign and verify a 4-hour and an 8-hour session (goals: <= 200 ms each for 4 h, <= 400 ms
for 8 h).

    python -m bench.sign_verify [--quick] [--runs N]

The sessions are recorded through the real write path (bench.recording: numerics at 1 Hz,
100 Hz pleth in 10-point blocks, a Recorder flush per 0.25 s of session time, NIBP every
5 min), dosed and ended; the databases are cached between runs. Each sign run works on a fresh
copy of the cached, unsigned database (copying is not timed) and times ``sign_session`` (one
argon2id included). Verify times ``verify_session`` on the signed copy; verify --file times
``verify_bundle`` on the bundle ``export_bundle`` wrote, with the clinic's keys read from the
file ``export_trusted_keys`` wrote (as ``verify --file --trusted-keys`` does). Signing includes
writing and fsyncing the checkpoint of the chain head (to a temporary checkpoint directory);
verifying includes reading the checkpoints back. The last lines say how the cost grows
with the session's length (linear: 8 h costs twice 4 h).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench import harness
from bench.harness import Figure, Options
from bench.recording import NURSE, PASSWORD, CachedSession, Plan, cached_session
from katmonitor.checkpoints import CheckpointLog
from katmonitor.record_signing import export_bundle, sign_session, verify_bundle, verify_session
from katmonitor.storage import SessionStore, open_database
from katmonitor.trusted_keys import export_trusted_keys, load_trusted_keys

GOAL_MS_PER_HOUR = 50.0  # 200 ms for 4 h, 400 ms for 8 h


def sign_runs(session: CachedSession, runs: int, tmp: Path) -> list[float]:
    times = []
    for i in range(runs):
        copy = session.copy_to(tmp / f"sign-{i}")  # unsigned again
        database = open_database(copy.url)
        try:
            store = SessionStore(database)
            started = time.perf_counter()
            sign_session(
                store, copy.session_id, NURSE, PASSWORD, checkpoints=CheckpointLog(tmp / "cp")
            )
            times.append((time.perf_counter() - started) * 1000.0)
        finally:
            database.close()
        copy.path.unlink()
    return times


def verify_runs(session: CachedSession, runs: int, tmp: Path) -> tuple[list[float], list[float],
                                                                       float]:
    """(verify ms, verify --file ms, bundle MB) on a signed copy."""
    copy = session.copy_to(tmp / "verify")
    database = open_database(copy.url)
    try:
        store = SessionStore(database)
        checkpoints = CheckpointLog(tmp / "cp")
        sign_session(store, copy.session_id, NURSE, PASSWORD, checkpoints=checkpoints)
        verify_ms = []
        for _ in range(runs):
            started = time.perf_counter()
            report = verify_session(store, copy.session_id, checkpoints)
            verify_ms.append((time.perf_counter() - started) * 1000.0)
            if not report.ok:
                raise RuntimeError(f"verify failed: {report.problems}")
        bundle = export_bundle(
            store, copy.session_id, tmp / "bundle.json", checkpoints=checkpoints
        )
        keys_file, _, _ = export_trusted_keys(database, tmp / "clinic-keys.json")
    finally:
        database.close()
    file_ms = []
    for _ in range(runs):
        started = time.perf_counter()
        report = verify_bundle(bundle, load_trusted_keys(keys_file))
        file_ms.append((time.perf_counter() - started) * 1000.0)
        if not report.ok:
            raise RuntimeError(f"verify --file failed: {report.problems}")
    return verify_ms, file_ms, bundle.stat().st_size / 1e6


def collect(options: Options) -> list[Figure]:
    runs = options.count(full=7, quick=3)
    figures: list[Figure] = []
    medians: dict[str, dict[int, float]] = {"sign": {}, "verify": {}, "verify --file": {}}
    for hours in (4, 8):
        session = cached_session(Plan(hours * 3600))
        print(f"{hours} h session: {session.points:,} points, {session.rows:,} pleth rows "
              f"(recorded in {session.build_s:.0f} s when cached; {session.path})", flush=True)
        goal = GOAL_MS_PER_HOUR * hours
        with tempfile.TemporaryDirectory(prefix="katmonitor-bench-") as tmp_name:
            tmp = Path(tmp_name)
            for sub in ("verify", *(f"sign-{i}" for i in range(runs))):
                (tmp / sub).mkdir()
            sign_ms = sign_runs(session, runs, tmp)
            verify_ms, file_ms, bundle_mb = verify_runs(session, runs, tmp)
        for name, samples, note in (
            ("sign", sign_ms, "one argon2id included"),
            ("verify", verify_ms, ""),
            ("verify --file", file_ms, f"bundle {bundle_mb:.1f} MB"),
        ):
            figure = Figure(f"{name} {hours} h", "ms", goal, "at most", samples, note=note)
            figures.append(figure)
            medians[name][hours] = figure.value
    for name, by_hours in medians.items():
        print(f"{name}: 8 h / 4 h = {by_hours[8] / by_hours[4]:.2f} (linear in length: 2.0)")
    return figures


if __name__ == "__main__":
    harness.main(collect, __doc__)
