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

from katmonitor.base.errors import ConfigurationError

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
    """``--db``, else ``$KATMONITOR_DB``, else the default file. An empty value is refused: it
    is what ``--db "$VAR"`` gives when the variable is unset, never a database."""
    if cli_value is not None:
        return _not_empty(cli_value, "--db")
    from_env = os.environ.get(DB_ENV)
    if from_env is not None:
        return _not_empty(from_env, f"${DB_ENV}")
    return default_database_url()


def uses_default_database(cli_value: str | None) -> bool:
    """True when neither ``--db`` nor ``$KATMONITOR_DB`` chooses the database."""
    return cli_value is None and os.environ.get(DB_ENV) is None


def _not_empty(url: str, where: str) -> str:
    if not url.strip():
        raise ConfigurationError(
            f"the database URL given by {where} is empty",
            "was it set from a variable that is not set? Give a URL such as "
            "sqlite:///path/to/katmonitor.sqlite3, or leave it out for the default database",
        )
    return url


def workstation_name() -> str:
    return os.environ.get("KATMONITOR_WORKSTATION") or socket.gethostname()
