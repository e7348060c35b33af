"""Signatures over session records, and the public keys that check them, within a
transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from katmonitor.storage import mappers
from katmonitor.storage.models import SESSIONS, SIGNATURES, USER_KEYS, USERS


class SignatureRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def exists(self, session_id: int) -> bool:
        query = select(SIGNATURES.c.id).where(SIGNATURES.c.session_id == session_id)
        return self._conn.execute(query.limit(1)).first() is not None

    def of_session(self, session_id: int) -> list[dict[str, Any]]:
        """The session's signatures, oldest first, as their signed facts (see mappers)."""
        query = (
            select(SIGNATURES, SESSIONS.c.uuid.label("session_uuid"))
            .join(SESSIONS, SESSIONS.c.id == SIGNATURES.c.session_id)
            .where(SIGNATURES.c.session_id == session_id)
            .order_by(SIGNATURES.c.id)
        )
        rows = self._conn.execute(query).mappings()
        return [mappers.signature(r, r["session_uuid"]) for r in rows]

    def add(self, session_id: int, user_id: int, sig: dict[str, Any], signature: bytes) -> None:
        """Store a signature whose facts are ``sig`` (as :func:`mappers.signature` gives)."""
        self._conn.execute(
            insert(SIGNATURES).values(
                session_id=session_id,
                user_id=user_id,
                user_name=sig["user"],
                printed_name=sig["printed_name"],
                role=sig["role"],
                meaning=sig["meaning"],
                signed_at=sig["signed_at"],
                key_id=sig["key_id"],
                signature=signature,
                chain_head=sig["chain_head"],
                entry_count=sig["entry_count"],
                record_digest=sig["record_digest"],
            )
        )


class KeyRepository:
    """Public signing keys, by key id (retired keys keep theirs)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def public_key(self, key_id: int) -> bytes | None:
        key = self._conn.scalar(select(USER_KEYS.c.public_key).where(USER_KEYS.c.id == key_id))
        return bytes(key) if key is not None else None

    def public_keys(self, key_ids: Iterable[int]) -> dict[int, bytes]:
        ids = sorted(set(key_ids))
        if not ids:
            return {}
        rows = self._conn.execute(
            select(USER_KEYS.c.id, USER_KEYS.c.public_key).where(USER_KEYS.c.id.in_(ids))
        )
        return {int(r[0]): bytes(r[1]) for r in rows}

    def history(self) -> list[dict[str, Any]]:
        """Every public key the database holds, oldest first, with whose it is and when it was
        valid: key_id, public_key, user, printed_name, role, created_at, retired_at (None while
        in use)."""
        query = (
            select(
                USER_KEYS.c.id,
                USER_KEYS.c.public_key,
                USER_KEYS.c.created_at,
                USER_KEYS.c.retired_at,
                USERS.c.name,
                USERS.c.full_name,
                USERS.c.role,
            )
            .join(USERS, USERS.c.id == USER_KEYS.c.user_id)
            .order_by(USER_KEYS.c.id)
        )
        return [
            {
                "key_id": int(r.id),
                "public_key": bytes(r.public_key),
                "user": r.name,
                "printed_name": r.full_name,
                "role": r.role,
                "created_at": float(r.created_at),
                "retired_at": float(r.retired_at) if r.retired_at is not None else None,
            }
            for r in self._conn.execute(query)
        ]
