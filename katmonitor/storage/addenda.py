"""Addenda rows within a transaction: added after a record's signature, each chained."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from katmonitor.records.addendum import Addendum
from katmonitor.records.entries import Entry
from katmonitor.storage import mappers
from katmonitor.storage.audit_chain import append_rows, current_event_entries
from katmonitor.storage.database import inserted_id
from katmonitor.storage.models import ADDENDA


class AddendumRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, values: dict[str, Any]) -> Addendum:
        """Insert an addendum row (``values``: its columns) and chain it after the session's
        entries, in this transaction."""
        addendum_id = inserted_id(self._conn.execute(insert(ADDENDA).values(values)))
        append_rows(self._conn, int(values["session_id"]), ADDENDA, [addendum_id])
        return mappers.addendum({"id": addendum_id, **values})

    def of_session(self, session_id: int) -> list[Addendum]:
        """The session's addenda in the order they were added."""
        query = select(ADDENDA).where(ADDENDA.c.session_id == session_id).order_by(ADDENDA.c.id)
        return [mappers.addendum(r) for r in self._conn.execute(query).mappings()]

    def entries(self, session_id: int) -> list[Entry]:
        """The entries the session's addenda rows would have now."""
        return current_event_entries(self._conn, session_id, (ADDENDA,))
