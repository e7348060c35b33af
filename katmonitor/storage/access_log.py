"""The access log's rows: appended under a lock so the chain never forks, read back in order
(the rules and the hash are :mod:`katmonitor.access_log`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from katmonitor.storage.database import Database
from katmonitor.storage.models import ACCESS_LOG
from katmonitor.storage.transaction import reading, writing

# Any constant: the PostgreSQL advisory lock that orders appends to the access log.
_APPEND_LOCK = 0x4B41544C  # "KATL"
# Rows read per query while walking the whole log.
_PAGE = 5000


class AccessLogRepository:
    """Appends and reads the access log; each append is one transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def append(self, make_row: Callable[[int, str | None], dict[str, Any]]) -> dict[str, Any]:
        """Append one row: ``make_row(seq, prev_hash)`` builds it from the current tail (None
        when the log is empty), under a lock held until the row is committed. Returns the row
        written."""
        with writing(self.database, "write the access log", hint=False) as conn:
            _lock(conn)
            tail = conn.execute(
                select(ACCESS_LOG.c.seq, ACCESS_LOG.c.hash)
                .order_by(ACCESS_LOG.c.seq.desc())
                .limit(1)
            ).first()
            seq, prev = (tail[0] + 1, tail[1]) if tail is not None else (0, None)
            row = make_row(seq, prev)
            conn.execute(insert(ACCESS_LOG).values(row))
            return row

    def tail(self) -> tuple[int, str] | None:
        """The last entry's sequence number and hash; None for an empty log."""
        with reading(self.database, "read the access log") as conn:
            row = conn.execute(
                select(ACCESS_LOG.c.seq, ACCESS_LOG.c.hash).order_by(ACCESS_LOG.c.seq.desc())
                .limit(1)
            ).first()
        return (int(row[0]), str(row[1])) if row is not None else None

    def rows(
        self, *, user_name: str | None = None, since: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Rows in chain order, optionally only one user's or from a time on."""
        query = select(ACCESS_LOG).order_by(ACCESS_LOG.c.seq)
        if user_name is not None:
            query = query.where(ACCESS_LOG.c.user_name == user_name)
        if since is not None:
            query = query.where(ACCESS_LOG.c.at >= since)
        last = -1
        while True:
            with reading(self.database, "read the access log") as conn:
                page = conn.execute(
                    query.where(ACCESS_LOG.c.seq > last).limit(_PAGE)
                ).mappings().all()
            for row in page:
                yield dict(row)
            if len(page) < _PAGE:
                return
            last = page[-1]["seq"]


def _lock(conn: Connection) -> None:
    """Serialise appends: SQLite writers already hold the database's write lock (BEGIN
    IMMEDIATE); PostgreSQL takes a transaction-scoped advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
