"""Fixtures for the headless core tests (no display, no Qt)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dosed_session import DosedSession, record_dosed_session
from sqlalchemy import create_engine, text

from katmonitor.storage.models import metadata

POSTGRES_URL = os.environ.get("KATMONITOR_TEST_POSTGRES_URL")


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
        pytest.skip("set KATMONITOR_TEST_POSTGRES_URL to also test against PostgreSQL")
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def dosed(sqlite_url: str) -> DosedSession:
    """A realistic dosed intranasal session, recorded through the workflow (dosed_session.py)."""
    return record_dosed_session(sqlite_url)
