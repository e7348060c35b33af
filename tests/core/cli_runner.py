"""Run the katmonitor command as a user would.

:func:`katmonitor` runs it in this process through ``katmonitor.cli.main`` (fast: no interpreter
start-up per call) with its own stdin, stdout and stderr, and returns what a process run would:
the exit status and both outputs, argparse's usage errors (exit 2) included. Warnings logged
while it runs reach its stderr, as they would from a process. :func:`katmonitor_process` starts
a real process, for the few tests that are about being one (entry point, signals, no display).
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

import pytest

from katmonitor.cli import main


def katmonitor(
    *args: str, stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``katmonitor ARGS`` in this process; ``timeout`` is ignored (kept for call sites)."""
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setLevel(logging.INFO if {"-v", "--verbose"} & set(args) else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with (
            mock.patch.object(sys, "stdin", io.StringIO(stdin)),
            redirect_stdout(out),
            redirect_stderr(err),
        ):
            try:
                code = main(list(args))
            except SystemExit as stop:  # argparse: --help, --version, usage errors
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    finally:
        root.removeHandler(handler)
    return subprocess.CompletedProcess(["katmonitor", *args], code, out.getvalue(), err.getvalue())


def katmonitor_process(
    *args: str, stdin: str | None = None, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m katmonitor ARGS`` as a real process with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "katmonitor", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy() if env is None else env,
    )


def without_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``katmonitor run`` in this process go as far as opening the workstation without
    importing Qt (the core tests stay headless); the window itself is tested in tests/ui."""

    def no_window(workstation: object) -> int:
        raise AssertionError("the test expected `run` to stop before opening the window")

    monkeypatch.setattr("katmonitor.cli.run._load_user_interface", lambda: no_window)
