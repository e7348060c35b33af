"""Where things live by default, and how the user overrides it.

Database: ``--db URL`` beats the ``KATMONITOR_DB`` environment variable, which beats a SQLite
file in the user's data directory (platformdirs: ~/.local/share/katmonitor on Linux,
%LOCALAPPDATA%\\katmonitor on Windows). ``KATMONITOR_DATA_DIR`` moves that directory.

Workstation settings (which devices to use) live in the user's config directory
(~/.config/katmonitor on Linux, %LOCALAPPDATA%\\katmonitor on Windows); ``KATMONITOR_CONFIG_DIR``
moves it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from platformdirs import user_config_dir, user_data_dir

APP_NAME = "katmonitor"
DEFAULT_DEVICE = "sim:normal"
DB_ENV = "KATMONITOR_DB"
DATA_DIR_ENV = "KATMONITOR_DATA_DIR"
CONFIG_DIR_ENV = "KATMONITOR_CONFIG_DIR"


def data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path(user_config_dir(APP_NAME, appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'katmonitor.sqlite3'}"


def resolve_database_url(cli_value: str | None = None) -> str:
    if cli_value:
        return cli_value
    return os.environ.get(DB_ENV) or default_database_url()


def workstation_name() -> str:
    return os.environ.get("KATMONITOR_WORKSTATION") or socket.gethostname()
