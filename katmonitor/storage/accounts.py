"""User accounts and their signing keys in the database (the rules, hashing and encryption
are :mod:`katmonitor.accounts`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
class Lockout:
    """An account's failed credential checks: how many in the current window, when the first
    of them happened, and until when the account is locked (the rules are
    :mod:`katmonitor.accounts`)."""

    failed_logins: int = 0
    first_failed_at: float | None = None
    locked_until: float | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """What signing in and unlocking a signing key need: the user, the password hash and the
    current key (its encrypted private half; None once damaged or missing)."""

    user: User
    password_hash: str
    key_id: int | None
    encrypted_private_key: bytes | None
    public_key: bytes | None
    lockout: Lockout


@dataclass(frozen=True, slots=True)
class NewKey:
    public_key: bytes
    encrypted_private_key: bytes


class AccountRepository:
    """Users and their keys: each method is one transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def add(
        self,
        name: str,
        full_name: str,
        role: str,
        password_hash: str,
        key: NewKey,
        now: float,
        check: Callable[[list[User]], None],
    ) -> User | None:
        """The new user; None when the name is taken. ``check(users)`` sees every account in
        the same transaction first and raises to refuse the addition."""
        with self._writing("add the user") as conn:
            if conn.execute(select(USERS.c.id).where(USERS.c.name == name)).first():
                return None
            check(_all_users(conn))
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
            return _all_users(conn)

    def has_users(self) -> bool:
        with self._reading("read the users") as conn:
            return conn.execute(select(USERS.c.id).limit(1)).first() is not None

    def user(self, name: str) -> User | None:
        with self._reading("read the user") as conn:
            row = _row(conn, name)
            return _user(conn, row) if row is not None else None

    def update(
        self,
        name: str,
        action: str,
        check: Callable[[User, list[User]], None],
        *,
        disabled: bool | None = None,
        role: str | None = None,
        lockout: Lockout | None = None,
    ) -> User | None:
        """Change an account (the given fields only); None when there is no such user.
        ``check(user, users)`` sees it and every account in the same transaction first and
        raises to refuse the change."""
        with self._writing(action) as conn:
            users = _all_users(conn, lock=True)
            user = next((u for u in users if u.name == name), None)
            if user is None:
                return None
            check(user, users)
            values: dict[str, Any] = {}
            if disabled is not None:
                values["disabled"] = disabled
            if role is not None:
                values["role"] = role
            if lockout is not None:
                values.update(_lockout_values(lockout))
            if values:
                conn.execute(update(USERS).where(USERS.c.id == user.id).values(values))
            return _user(conn, _row(conn, name))

    def change_lockout(
        self, name: str, change: Callable[[Lockout], Lockout]
    ) -> Lockout | None:
        """Replace the account's lockout state with ``change(current)`` in one transaction
        (two workstations counting failures at once never lose one); None for no such user."""
        with self._writing("record the failed password") as conn:
            row = (
                conn.execute(_locking(conn, select(USERS).where(USERS.c.name == name)))
                .mappings()
                .first()
            )
            if row is None:
                return None
            current = Lockout(row["failed_logins"] or 0, row["first_failed_at"],
                              row["locked_until"])
            new = change(current)
            if new != current:
                conn.execute(
                    update(USERS).where(USERS.c.id == row["id"]).values(_lockout_values(new))
                )
            return new

    def replace_key(self, name: str, password_hash: str, key: NewKey, now: float) -> User | None:
        """New password and key pair; the current key is retired (its private half erased).
        The account's failed passwords and lock are cleared with it."""
        with self._writing("reset the password") as conn:
            row = _row(conn, name)
            if row is None:
                return None
            conn.execute(
                update(USERS)
                .where(USERS.c.id == row["id"])
                .values(password_hash=password_hash, **_lockout_values(Lockout()))
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
                Lockout(row["failed_logins"] or 0, row["first_failed_at"], row["locked_until"]),
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


def _lockout_values(lockout: Lockout) -> dict[str, Any]:
    return {
        "failed_logins": lockout.failed_logins,
        "first_failed_at": lockout.first_failed_at,
        "locked_until": lockout.locked_until,
    }


def _locking(conn: Connection, query: Any) -> Any:
    """``query`` locking the rows it reads until the transaction ends (PostgreSQL; a SQLite
    writer already holds the database's write lock)."""
    return query.with_for_update() if conn.dialect.name == "postgresql" else query


def _all_users(conn: Connection, *, lock: bool = False) -> list[User]:
    """Every account; ``lock``: none changes until this transaction ends (so two
    administrators demoting each other at once cannot leave no administrator)."""
    query = select(USERS).order_by(USERS.c.name)
    rows = conn.execute(_locking(conn, query) if lock else query).mappings().all()
    return [_user(conn, row) for row in rows]


def _row(conn: Connection, name: str) -> Any:
    return conn.execute(select(USERS).where(USERS.c.name == name)).mappings().first()


def _user(conn: Connection, row: Any) -> User:
    key_id = conn.scalar(
        select(USER_KEYS.c.id).where(
            USER_KEYS.c.user_id == row["id"], USER_KEYS.c.retired_at.is_(None)
        )
    )
    return mappers.user(row, key_id)
