"""The core and the device layer must run on a machine with no display and no Qt."""

import subprocess
import sys

import pytest

CORE_MODULES = [
    "katmonitor.cli",
    "katmonitor.workstation",
    "katmonitor.pipeline",
    "katmonitor.recorder",
    "katmonitor.storage.store",
    "devices.registry",
    "devices.simulated",
]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_qt(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "qt = sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'ui')))\n"
        "print(','.join(qt))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_cli_help_works_without_a_display() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    result = subprocess.run(
        [sys.executable, "-m", "katmonitor", "--help"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0
    assert "record" in result.stdout and "sessions" in result.stdout
