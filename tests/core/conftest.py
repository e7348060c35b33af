"""Fixtures for the headless core tests (no display, no Qt)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dosed_session import DosedSession, record_dosed_session
from sqlalchemy import create_engine, make_url, text

from devices.virtual_time import VirtualTime
from katmonitor.base.clock import ManualClock
from katmonitor.storage.database import open_database
from katmonitor.storage.models import metadata
from katmonitor.workstation import Workstation


def _postgres_url() -> str | None:
    """The test server's URL; under pytest-xdist each worker gets a database of its own
    (created on first use), so parallel workers never drop each other's tables."""
    url = os.environ.get("KATMONITOR_TEST_POSTGRES_URL")
    if url and importlib.util.find_spec("psycopg") is None:
        return None  # only the `test` extra installed: the PostgreSQL cases skip
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    name = f"{make_url(url).database or 'katmonitor'}_{worker}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


POSTGRES_URL = _postgres_url()
POSTGRES_SKIP_REASON = (
    "PostgreSQL's driver psycopg is not installed (pip install 'katmonitor[postgres]')"
    if os.environ.get("KATMONITOR_TEST_POSTGRES_URL")
    else "set KATMONITOR_TEST_POSTGRES_URL to also test against PostgreSQL"
)


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the real user data or config directory or a developer's KATMONITOR_DB."""
    data = tmp_path / "data"
    monkeypatch.setenv("KATMONITOR_DATA_DIR", str(data))
    monkeypatch.setenv("KATMONITOR_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("KATMONITOR_DB", raising=False)
    return data


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'katmonitor.sqlite3'}"


def reset_postgres(url: str) -> None:
    """Drop KAT Monitor's tables (and Alembic's) so each test starts from an empty database."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            conn.execute(text("DROP TABLE IF EXISTS future_things"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: SQLite always, PostgreSQL too when KATMONITOR_TEST_POSTGRES_URL is set
    (scripts/test starts a throwaway server for it)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'katmonitor.sqlite3'}"
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP_REASON)
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def dosed(sqlite_url: str) -> DosedSession:
    """A realistic dosed intranasal session, recorded through the workflow (dosed_session.py)."""
    return record_dosed_session(sqlite_url)


@pytest.fixture
def virtual() -> Iterator[VirtualTime]:
    """Simulated devices on a manual clock (devices/virtual_time.py); stopped afterwards."""
    time = VirtualTime()
    yield time
    for device in time.devices:
        device.stop()


@pytest.fixture
def ws(sqlite_url: str) -> Iterator[Workstation]:
    """A started workstation with no devices on a manual clock (the workflow's tests)."""
    station = Workstation(open_database(sqlite_url), [], clock=ManualClock())
    station.start()
    yield station
    station.shutdown()
    station.database.close()
