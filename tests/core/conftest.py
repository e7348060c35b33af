"""Fixtures for the headless core tests (no display, no Qt)."""

from __future__ import annotations

from pathlib import Path

import pytest


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
