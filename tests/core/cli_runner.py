"""Run the katmonitor command as a user would: a real process with the test's environment."""

from __future__ import annotations

import os
import subprocess
import sys


def katmonitor(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "katmonitor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )
