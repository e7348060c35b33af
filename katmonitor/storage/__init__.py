"""Storage: the schema, opening the database, and the session repository."""

from katmonitor.storage.database import Database, head_revision, open_database, upgrade_schema
from katmonitor.storage.store import SessionStore

__all__ = ["Database", "SessionStore", "head_revision", "open_database", "upgrade_schema"]
