"""User accounts and their signing keys in the database (the rules, hashing and encryption
are :mod:`katmonitor.accounts`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from katmonitor.storage import mappers
from katmonitor.storage.database import Database, inserted_id
from katmonitor.storage.models import USER_KEYS, USERS
from katmonitor.storage.signatures import KeyRepository
from katmonitor.storage.transaction import reading, writing
from katmonitor.users import User


@dataclass(frozen=True, slots=True)
class Credentials:
    """What signing in and unlocking a signing key need: the user, the password hash and the
    current key (its encrypted private half; None once damaged or missing)."""

    user: User
    password_hash: str
    key_id: int | None
    encrypted_private_key: bytes | None
    public_key: bytes | None


@dataclass(frozen=True, slots=True)
class NewKey:
    public_key: bytes
    encrypted_private_key: bytes


class AccountRepository:
    """Users and their keys: each method is one transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def add(
        self, name: str, full_name: str, role: str, password_hash: str, key: NewKey, now: float
    ) -> User | None:
        """The new user; None when the name is taken."""
        with self._writing("add the user") as conn:
            if conn.execute(select(USERS.c.id).where(USERS.c.name == name)).first():
                return None
            values = {
                "name": name,
                "full_name": full_name,
                "role": role,
                "password_hash": password_hash,
                "disabled": False,
                "created_at": now,
            }
            user_id = inserted_id(conn.execute(insert(USERS).values(values)))
            _insert_key(conn, user_id, key, now)
            return _user(conn, _row(conn, name))

    def users(self) -> list[User]:
        with self._reading("list the users") as conn:
            rows = conn.execute(select(USERS).order_by(USERS.c.name)).mappings().all()
            return [_user(conn, row) for row in rows]

    def has_users(self) -> bool:
        with self._reading("read the users") as conn:
            return conn.execute(select(USERS.c.id).limit(1)).first() is not None

    def user(self, name: str) -> User | None:
        with self._reading("read the user") as conn:
            row = _row(conn, name)
            return _user(conn, row) if row is not None else None

    def disable(self, name: str) -> User | None:
        with self._writing("disable the user") as conn:
            changed = conn.execute(
                update(USERS).where(USERS.c.name == name).values(disabled=True)
            ).rowcount
            return _user(conn, _row(conn, name)) if changed else None

    def replace_key(self, name: str, password_hash: str, key: NewKey, now: float) -> User | None:
        """New password and key pair; the current key is retired (its private half erased)."""
        with self._writing("reset the password") as conn:
            row = _row(conn, name)
            if row is None:
                return None
            conn.execute(
                update(USERS).where(USERS.c.id == row["id"]).values(password_hash=password_hash)
            )
            conn.execute(
                update(USER_KEYS)
                .where(USER_KEYS.c.user_id == row["id"], USER_KEYS.c.retired_at.is_(None))
                .values(retired_at=now, encrypted_private_key=None)
            )
            _insert_key(conn, row["id"], key, now)
            return _user(conn, row)

    def change_password(
        self, name: str, password_hash: str, key_id: int, encrypted_private_key: bytes
    ) -> User:
        """New password; the same key, encrypted under it."""
        with self._writing("change the password") as conn:
            row = _row(conn, name)
            conn.execute(
                update(USERS).where(USERS.c.id == row["id"]).values(password_hash=password_hash)
            )
            conn.execute(
                update(USER_KEYS)
                .where(USER_KEYS.c.id == key_id)
                .values(encrypted_private_key=encrypted_private_key)
            )
            return _user(conn, row)

    def credentials(self, name: str, action: str = "read the user") -> Credentials | None:
        with self._reading(action) as conn:
            row = _row(conn, name)
            if row is None:
                return None
            key = (
                conn.execute(
                    select(USER_KEYS).where(
                        USER_KEYS.c.user_id == row["id"], USER_KEYS.c.retired_at.is_(None)
                    )
                )
                .mappings()
                .first()
            )
            return Credentials(
                _user(conn, row),
                row["password_hash"],
                key["id"] if key is not None else None,
                bytes(key["encrypted_private_key"])
                if key is not None and key["encrypted_private_key"] is not None
                else None,
                bytes(key["public_key"]) if key is not None else None,
            )

    def public_key(self, key_id: int) -> bytes | None:
        with self._reading("read the public key") as conn:
            return KeyRepository(conn).public_key(key_id)

    @contextmanager
    def _reading(self, action: str) -> Iterator[Connection]:
        with reading(self.database, action, hint=False) as conn:
            yield conn

    @contextmanager
    def _writing(self, action: str) -> Iterator[Connection]:
        with writing(self.database, action, hint=False) as conn:
            yield conn


def _insert_key(conn: Connection, user_id: int, key: NewKey, now: float) -> None:
    conn.execute(
        insert(USER_KEYS).values(
            user_id=user_id,
            public_key=key.public_key,
            encrypted_private_key=key.encrypted_private_key,
            created_at=now,
            retired_at=None,
        )
    )


def _row(conn: Connection, name: str) -> Any:
    return conn.execute(select(USERS).where(USERS.c.name == name)).mappings().first()


def _user(conn: Connection, row: Any) -> User:
    key_id = conn.scalar(
        select(USER_KEYS.c.id).where(
            USER_KEYS.c.user_id == row["id"], USER_KEYS.c.retired_at.is_(None)
        )
    )
    return mappers.user(row, key_id)
