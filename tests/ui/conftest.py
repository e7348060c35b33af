"""Fixtures for the window tests: a real Workstation on a temporary SQLite database, real
(simulated) devices, the real MainWindow - offscreen (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from devices.base import Device
from devices.registry import open_device
from katmonitor.base.clock import Clock
from katmonitor.care_plan import CarePlan
from katmonitor.security_policy import SecurityPolicy
from katmonitor.storage.database import Database, open_database
from katmonitor.workstation import Workstation
from ui.main_window import MainWindow
from ui.theme import apply_theme

FAST_SIM = "sim:normal?nibp_interval=5"

MakeWindow = Callable[..., MainWindow]
LONG_IDLE = SecurityPolicy(idle_lock_min=24 * 60)
"""Tests that jump the manual clock by an hour stand for a nurse who used the window
meanwhile; the idle lock's own tests pass the default policy."""


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the real user data or config directory or a developer's KATMONITOR_DB."""
    data = tmp_path / "data"
    monkeypatch.setenv("KATMONITOR_DATA_DIR", str(data))
    monkeypatch.setenv("KATMONITOR_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("KATMONITOR_DB", raising=False)
    monkeypatch.setenv("KATMONITOR_WORKSTATION", "test-room")
    return data


@pytest.fixture(scope="session", autouse=True)
def themed_app(qapp: object) -> None:
    apply_theme(qapp)  # type: ignore[arg-type]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = open_database("sqlite:///" + str(tmp_path / "t.sqlite3"))
    yield db
    db.close()


@pytest.fixture
def make_window(qtbot: QtBot, database: Database) -> Iterator[MakeWindow]:
    """Build, start and show a window; every workstation is shut down at the end."""
    workstations: list[Workstation] = []

    def make(devices: Sequence[str | Device] = (FAST_SIM,), *, clock: Clock | None = None,
             db: Database | None = None, care_plan: CarePlan | None = None,
             security: SecurityPolicy = LONG_IDLE, **window_options: Any) -> MainWindow:
        opened = [open_device(d) if isinstance(d, str) else d for d in devices]
        workstation = Workstation(db or database, opened, clock=clock, care_plan=care_plan,
                                  security=security)
        workstations.append(workstation)
        window = MainWindow(workstation, confirm_close=False, **window_options)
        qtbot.addWidget(window)
        workstation.start()
        window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    for workstation in workstations:
        workstation.shutdown()
