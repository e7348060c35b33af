"""The fault-injection suite: real ``katmonitor`` processes killed, starved of disk and cut off
from their PostgreSQL server, then restarted; at the end a report of what was injected and
what was lost.

    ./scripts/faults            the long profile (more kill cycles), with the report
    pytest tests/faults         the short profile (what CI runs with the rest of the suite)

``KATMONITOR_FAULT_PROFILE=long`` selects the long profile for a plain pytest run too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_support import REPORT, ROOT, Katmonitor, PostgresServer, Report, postgres_bin


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT.cycles or REPORT.faults:
        terminalreporter.section("fault injection")
        for line in REPORT.lines():
            terminalreporter.write_line(line)


@pytest.fixture
def report() -> Report:
    return REPORT


@pytest.fixture
def katmonitor(tmp_path: Path) -> Katmonitor:
    env = {**os.environ, "KATMONITOR_DATA_DIR": str(tmp_path / "data"),
           "KATMONITOR_CONFIG_DIR": str(tmp_path / "config"),
           "PYTHONPATH": str(ROOT)}
    env.pop("KATMONITOR_DB", None)
    return Katmonitor(env)


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway server on loopback that the test may stop and restart."""
    pg_bin = postgres_bin()
    if pg_bin is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("PostgreSQL's server programs are not installed")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (the postgres extra)")
    directory = Path(tempfile.mkdtemp(prefix="katmonitor-fault-pg-"))
    directory.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = PostgresServer(directory, pg_bin, port)
    server._as_postgres("initdb", "-D", str(directory / "data"), "-U", "postgres", "-A",
                        "trust", "--no-sync")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
