"""Storage: the schema, opening the database, and every SQL statement of KAT Monitor.

``SessionStore`` is the session repository; ``SessionStore.reading``/``writing`` give a
``Transaction`` of the record's other repositories (audit chain, signatures, addenda, keys);
accounts are ``storage.accounts.AccountRepository``.
"""

from katmonitor.storage.database import Database, head_revision, open_database, upgrade_schema
from katmonitor.storage.series import TimeSeries
from katmonitor.storage.store import SessionStore
from katmonitor.storage.transaction import Transaction

__all__ = [
    "Database",
    "SessionStore",
    "TimeSeries",
    "Transaction",
    "head_revision",
    "open_database",
    "upgrade_schema",
]
