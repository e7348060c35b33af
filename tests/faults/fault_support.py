"""What the fault-injection tests share: the report, real ``katmonitor`` processes and a
PostgreSQL server of the test's own (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

LONG = os.environ.get("KATMONITOR_FAULT_PROFILE") == "long"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Report:
    cycles: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    worst_loss_s: float = 0.0
    restart_s: list[float] = field(default_factory=list)
    """After each kill: from starting ``record`` again to its first sample on disk."""
    crashes: int = 0
    tracebacks: int = 0

    def injected(self, fault: str) -> None:
        self.faults[fault] = self.faults.get(fault, 0) + 1

    def lines(self) -> list[str]:
        faults = ", ".join(f"{name} x{n}" for name, n in sorted(self.faults.items()))
        return [
            f"profile: {'long' if LONG else 'short'}",
            f"cycles run: {self.cycles}",
            f"faults injected: {faults or 'none'}",
            f"most data lost at a kill: {self.worst_loss_s:.2f} s (bound 1 s)",
            "kill to recording again (restart to first sample stored): "
            + (f"median {sorted(self.restart_s)[len(self.restart_s) // 2]:.2f} s, "
               f"worst {max(self.restart_s):.2f} s over {len(self.restart_s)}"
               if self.restart_s else "not measured"),
            f"crashes (internal errors): {self.crashes}",
            f"tracebacks shown to a user: {self.tracebacks}",
        ]


REPORT = Report()


@dataclass
class Katmonitor:
    """Runs ``python -m katmonitor`` as real processes with a private data directory."""

    env: dict[str, str]

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "katmonitor", *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.command(*args), capture_output=True, text=True,
                                env=self.env, timeout=timeout, check=False)
        check_output(result.stdout + result.stderr)
        return result

    def start(self, *args: str, **popen: object) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env,
                                **popen)  # type: ignore[call-overload]


def check_output(text: str) -> None:
    """No traceback and no internal error ever reaches a user."""
    if "Traceback" in text:
        REPORT.tracebacks += 1
    if "internal error" in text:
        REPORT.crashes += 1
    assert "Traceback" not in text and "internal error" not in text, text


# -- a PostgreSQL server of the test's own, to stop and start -------------------------------


@dataclass
class PostgresServer:
    directory: Path
    bin: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.directory / "data"), "-l",
                          str(self.directory / "log"), "-w", "-o",
                          f"-p {self.port} -k {self.directory} "
                          "-c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate",
                          "-w", "stop")


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


