"""Transactions: one connection, committed on success, rolled back on any error, with
database failures translated into errors a user can act on.

:class:`Transaction` is what code outside storage gets inside ``store.reading(...)`` or
``store.writing(...)``: repositories bound to one transaction (the session, its audit chain,
signatures, addenda, public keys), so signing can read, check and write a record atomically
without any SQL of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import (
    DisconnectionError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from katmonitor.base.errors import DatabaseError, NotFoundError
from katmonitor.records.entries import row_dict
from katmonitor.session import Session
from katmonitor.storage import mappers
from katmonitor.storage.addenda import AddendumRepository
from katmonitor.storage.audit_chain import AuditChain
from katmonitor.storage.database import WRITE_TRANSACTION, Database
from katmonitor.storage.models import SESSIONS
from katmonitor.storage.signatures import KeyRepository, SignatureRepository


class Transaction:
    """Repositories sharing one open transaction."""

    def __init__(self, conn: Connection) -> None:
        self.connection = conn
        self.chain = AuditChain(conn)
        self.signatures = SignatureRepository(conn)
        self.addenda = AddendumRepository(conn)
        self.keys = KeyRepository(conn)

    def session(self, session_id: int) -> Session:
        """The session; NotFoundError when there is none."""
        return mappers.session(self._session_row(session_id))

    def session_row(self, session_id: int) -> dict[str, Any]:
        """The session's row as stored, as JSON values (what its chain entry holds)."""
        return row_dict(self._session_row(session_id))

    def _session_row(self, session_id: int) -> Any:
        row = conn_first(self.connection, select(SESSIONS).where(SESSIONS.c.id == session_id))
        if row is None:
            raise no_session(session_id)
        return row


def conn_first(conn: Connection, query: Any) -> Any:
    return conn.execute(query).mappings().first()


@contextmanager
def reading(database: Database, action: str, *, hint: bool = True) -> Iterator[Connection]:
    with translated(action, database, hint=hint), database.engine.connect() as conn:
        yield conn


@contextmanager
def writing(
    database: Database, action: str, session_id: int | None = None, *, hint: bool = True
) -> Iterator[Connection]:
    """One write transaction: committed on success, rolled back on any error."""
    with translated(action, database, session_id, hint=hint), database.engine.connect() as conn:
        conn.execution_options(**{WRITE_TRANSACTION: True})
        with conn.begin():
            yield conn


@contextmanager
def translated(
    action: str, database: Database, session_id: int | None = None, *, hint: bool = True
) -> Iterator[None]:
    """Database failures reach callers as DatabaseError (NotFoundError for a missing session)."""
    try:
        yield
    except IntegrityError as exc:
        if session_id is not None and "foreign key" in str(exc.orig).lower():
            raise no_session(session_id) from exc
        raise failed(action, database, exc, hint=hint) from exc
    except SQLAlchemyError as exc:
        raise failed(action, database, exc, hint=hint) from exc


def failed(
    action: str, database: Database, exc: SQLAlchemyError, *, hint: bool = True
) -> DatabaseError:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    message = f"cannot {action} in {database.display_url}: {detail}"
    if not hint:
        return DatabaseError(message)
    return DatabaseError(
        message, "check free disk space and that no other program holds the database"
    )


def no_session(session_id: int) -> NotFoundError:
    return NotFoundError(
        f"no session {session_id}", "katmonitor sessions list shows the recorded sessions"
    )


def is_transient_failure(exc: BaseException) -> bool:
    """A failure of a write that retrying can cure: the database locked or full, the
    connection lost, the pool exhausted (the recorder keeps its data and retries these)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OperationalError | DisconnectionError | PoolTimeoutError):
            return True
        seen = seen.__cause__
    return False
