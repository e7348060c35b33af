"""Faults injected into real recording processes: SIGKILL at random moments, the PostgreSQL
server stopped mid-session and at the end, the disk full. After each, a restart finds the
database sound, at most the last second of data missing, the session closable and signable,
and nobody sees a traceback."""

from __future__ import annotations

import random
import resource
import signal
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fault_support import LONG, Katmonitor, PostgresServer, Report, check_output

from katmonitor.base.vitals import VitalKind
from katmonitor.journal import Journal, journal_path
from katmonitor.session import SessionStatus
from katmonitor.storage.database import open_database
from katmonitor.storage.leases import LeaseRepository
from katmonitor.storage.store import SessionStore

KILL_CYCLES = 12 if LONG else 2
EXIT_DATA_NOT_STORED = 5
PLETH_HZ = 100.0
RECORD = ("record", "--device", "sim:normal", "--client", "FAULT")


@dataclass
class Stored:
    status: SessionStatus
    pleth_times: np.ndarray  # every stored pleth point's time (100 Hz)
    last: float | None  # the newest stored data of any kind

    @property
    def seconds(self) -> float:
        """Seconds of pleth stored."""
        return self.pleth_times.size / PLETH_HZ

    @property
    def widest_gap_s(self) -> float:
        times = self.pleth_times
        return float(np.diff(times).max()) if times.size > 1 else 0.0


def _stored(url: str, session_id: int) -> Stored:
    database = open_database(url)
    try:
        store = SessionStore(database)
        pleth = store.waveform(session_id, VitalKind.PLETH)
        last = LeaseRepository(database).last_data_time(session_id)
        if pleth.times.size:
            last = max(last or 0.0, float(pleth.times[-1]))
        return Stored(store.get_session(session_id).status, pleth.times, last)
    finally:
        database.close()


def _wait_for_data(url: str, session_id: int, seconds: float, deadline_s: float = 60) -> None:
    """Until ``seconds`` of pleth are stored (polled: the process's own progress, not a
    timer)."""
    give_up = time.monotonic() + deadline_s
    while _stored(url, session_id).seconds < seconds:
        assert time.monotonic() < give_up, "the recorder stored nothing"
        time.sleep(0.05)


def _first_line(process: object) -> int:
    line = process.stdout.readline()  # type: ignore[attr-defined]
    assert line.strip().isdigit(), process.stderr.read()  # type: ignore[attr-defined]
    return int(line)


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_at_most_a_second(
    katmonitor: Katmonitor, tmp_path: Path, report: Report
) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    rng = random.Random(20261204)
    for cycle in range(KILL_CYCLES):
        started = time.monotonic()
        process = katmonitor.start(*RECORD, "--db", url)
        session_id = _first_line(process)
        _wait_for_data(url, session_id, 0.01)
        if cycle:  # the start after a kill: process start to the first sample on disk
            report.restart_s.append(time.monotonic() - started)
        _wait_for_data(url, session_id, rng.uniform(1, 4))
        killed_at = time.time()
        process.kill()
        process.wait(30)
        report.injected("SIGKILL of record")
        report.cycles += 1

        # The next start on the database: the session is found interrupted and closed.
        closed = katmonitor.run("sessions", "close", str(session_id), "--reason",
                                "killed", "--db", url)
        assert closed.returncode == 0, closed.stderr
        stored = _stored(url, session_id)
        assert stored.status is SessionStatus.ENDED and stored.last is not None
        loss = killed_at - stored.last
        report.worst_loss_s = max(report.worst_loss_s, loss)
        assert loss <= 1.0, f"{loss:.2f} s of data lost at a kill"
    with sqlite3.connect(tmp_path / "clinic.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.slow
def test_postgresql_stopped_mid_session_loses_nothing(
    katmonitor: Katmonitor, postgres_server: PostgresServer, report: Report
) -> None:
    url = postgres_server.url
    process = katmonitor.start(*RECORD, "--db", url, "--duration", "8")
    session_id = _first_line(process)
    _wait_for_data(url, session_id, 2)
    postgres_server.stop()
    report.injected("PostgreSQL stopped mid-session")
    time.sleep(2.0)  # the outage itself: the server is down this long
    postgres_server.start()
    assert process.wait(60) == 0, process.stderr.read()
    check_output(process.stderr.read())
    report.cycles += 1
    stored = _stored(url, session_id)
    assert stored.status is SessionStatus.ENDED
    assert stored.seconds >= 6, f"only {stored.seconds:.1f} s of pleth stored"
    assert stored.widest_gap_s < 0.05  # the outage left no gap


@pytest.mark.slow
def test_postgresql_down_at_session_end_keeps_the_data_in_the_journal(
    katmonitor: Katmonitor, postgres_server: PostgresServer, report: Report, tmp_path: Path
) -> None:
    url = postgres_server.url
    process = katmonitor.start(*RECORD, "--db", url, "--duration", "4")
    session_id = _first_line(process)
    _wait_for_data(url, session_id, 1)
    postgres_server.stop()
    report.injected("PostgreSQL stopped at session end")
    status = process.wait(90)
    errors = process.stderr.read()
    check_output(errors)
    assert status in (EXIT_DATA_NOT_STORED, 2), errors
    assert "kept in" in errors and "written back by the next start" in errors
    assert Journal(journal_path(url, tmp_path / "data" / "journal")).size > 0
    postgres_server.start()

    closed = katmonitor.run("sessions", "close", str(session_id), "--reason",
                            "database down", "--db", url)
    assert closed.returncode == 0, closed.stderr
    report.cycles += 1
    stored = _stored(url, session_id)
    assert stored.status is SessionStatus.ENDED
    assert stored.seconds >= 3, f"only {stored.seconds:.1f} s of pleth stored"
    assert stored.widest_gap_s < 0.05
    assert Journal(journal_path(url, tmp_path / "data" / "journal")).size == 0


def _disk_of(limit_bytes: int) -> None:
    """In the child: every file it writes stops growing at ``limit_bytes`` (the disk is
    'full' for it), and the write fails with an error instead of killing the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))


@pytest.mark.slow
def test_a_full_disk_keeps_what_fits_and_the_rest_comes_back(
    katmonitor: Katmonitor, tmp_path: Path, report: Report
) -> None:
    db_path = tmp_path / "small.sqlite3"
    url = f"sqlite:///{db_path}"
    open_database(url).close()  # the schema exists before the disk fills
    limit = db_path.stat().st_size + 96 * 1024
    process = katmonitor.start(*RECORD, "--db", url, "--duration", "6",
                               preexec_fn=lambda: _disk_of(limit))
    session_id = _first_line(process)
    status = process.wait(90)
    errors = process.stderr.read()
    check_output(errors)
    report.injected("disk full")
    report.cycles += 1
    # Which write hits the full disk first varies: recorded data (kept in the journal, exit 5)
    # or ending the session (exit 2; the data is all in). Either way the nurse is told.
    assert status in (EXIT_DATA_NOT_STORED, 2), errors
    assert "disk I/O error" in errors or "full" in errors
    if status == EXIT_DATA_NOT_STORED:
        assert "written back by the next start" in errors

    closed = katmonitor.run("sessions", "close", str(session_id), "--reason", "disk full",
                            "--db", url)
    assert closed.returncode == 0, closed.stderr
    stored = _stored(url, session_id)
    assert stored.status is SessionStatus.ENDED
    assert stored.seconds >= 5, f"only {stored.seconds:.1f} s of pleth stored"
    assert stored.widest_gap_s < 0.05
