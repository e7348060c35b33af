"""User accounts: who may sign in and sign, with argon2id passwords and Ed25519 signing keys.

Passwords are stored only as argon2id hashes (PHC strings, ``$argon2id$...``). Each user has an
Ed25519 key pair for signing session records; the private key is stored encrypted with
AES-256-GCM under a key derived from the user's password with argon2id (its own salt), so it can
be used only by someone who knows the password. An administrator's password reset cannot recover
the old private key: the old key is retired (its public half stays, so old signatures still
verify) and a new key pair is made. A user who knows the old password can change it and keep the
key (:meth:`AccountStore.change_password`).
"""

from __future__ import annotations

import os
import time as _time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from katmonitor.base.errors import (
    AuthenticationError,
    ConfigurationError,
    DatabaseError,
    NotFoundError,
)
from katmonitor.storage.database import WRITE_TRANSACTION, Database
from katmonitor.storage.models import UserKeyRecord, UserRecord

USERS = UserRecord.__table__
USER_KEYS = UserKeyRecord.__table__

MIN_PASSWORD_LENGTH = 8
MAX_NAME_LENGTH = 128

# argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane): ~20-30 ms here. Signing
# needs one derivation (the key unlock also proves the password), run while the record is read.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19456
ARGON2_PARALLELISM = 1
_HASHER = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    type=Type.ID,
)
_SALT_BYTES = 16
_NONCE_BYTES = 12
_KEY_BLOB_VERSION = b"\x01"

BAD_CREDENTIALS = "unknown user or wrong password"


class Role(StrEnum):
    NURSE = "nurse"
    THERAPIST = "therapist"
    ADMINISTRATOR = "administrator"
    TRAINEE = "trainee"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    full_name: str
    role: Role
    disabled: bool
    created_at: float
    key_id: int | None = None
    """The current signing key (None only if the account was damaged)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    key_id: int
    private_key: Ed25519PrivateKey
    public_key: bytes


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ConfigurationError(f"unknown role {text!r}", f"choose one of: {choices}") from None


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigurationError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
        )


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ConfigurationError("a user name is required")
    if len(cleaned) > MAX_NAME_LENGTH or any(c.isspace() for c in cleaned):
        raise ConfigurationError(
            f"user name {name!r} must be one word of at most {MAX_NAME_LENGTH} characters"
        )
    return cleaned


def _derive_key(password: str, salt: bytes) -> bytes:
    return hash_secret_raw(
        password.encode("utf-8"),
        salt,
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        hash_len=32,
        type=Type.ID,
    )


def encrypt_private_key(private_key: Ed25519PrivateKey, password: str) -> bytes:
    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    salt = os.urandom(_SALT_BYTES)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_derive_key(password, salt)).encrypt(nonce, raw, _KEY_BLOB_VERSION)
    return _KEY_BLOB_VERSION + salt + nonce + sealed


def decrypt_private_key(blob: bytes, password: str) -> Ed25519PrivateKey:
    """Raises InvalidTag for a wrong password (or a damaged blob)."""
    if blob[:1] != _KEY_BLOB_VERSION:
        raise InvalidTag
    salt = blob[1 : 1 + _SALT_BYTES]
    nonce = blob[1 + _SALT_BYTES : 1 + _SALT_BYTES + _NONCE_BYTES]
    sealed = blob[1 + _SALT_BYTES + _NONCE_BYTES :]
    raw = AESGCM(_derive_key(password, salt)).decrypt(nonce, sealed, _KEY_BLOB_VERSION)
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class AccountStore:
    """Users and their keys in the KAT Monitor database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._engine = database.engine

    def add_user(self, name: str, role: Role | str, password: str, full_name: str = "") -> User:
        name = _check_name(name)
        role = parse_role(str(role))
        check_password_policy(password)
        password_hash = _HASHER.hash(password)
        key = Ed25519PrivateKey.generate()
        blob = encrypt_private_key(key, password)
        now = _time.time()
        with self._writing("add the user") as conn:
            if conn.execute(select(USERS.c.id).where(USERS.c.name == name)).first():
                raise ConfigurationError(f"user {name!r} already exists")
            user_id = conn.execute(
                insert(USERS).values(
                    name=name,
                    full_name=full_name.strip() or name,
                    role=str(role),
                    password_hash=password_hash,
                    disabled=False,
                    created_at=now,
                )
            ).inserted_primary_key[0]
            key_id = conn.execute(
                insert(USER_KEYS).values(
                    user_id=user_id,
                    public_key=public_bytes(key),
                    encrypted_private_key=blob,
                    created_at=now,
                    retired_at=None,
                )
            ).inserted_primary_key[0]
        return User(user_id, name, full_name.strip() or name, role, False, now, key_id)

    def list_users(self) -> list[User]:
        with self._reading("list the users") as conn:
            rows = conn.execute(select(USERS).order_by(USERS.c.name)).mappings().all()
            return [self._user(conn, row) for row in rows]

    def get_user(self, name: str) -> User:
        with self._reading("read the user") as conn:
            row = self._row(conn, name)
            if row is None:
                raise _no_user(name)
            return self._user(conn, row)

    def has_users(self) -> bool:
        with self._reading("read the users") as conn:
            return conn.execute(select(USERS.c.id).limit(1)).first() is not None

    def disable_user(self, name: str) -> User:
        with self._writing("disable the user") as conn:
            changed = conn.execute(
                update(USERS).where(USERS.c.name == name).values(disabled=True)
            ).rowcount
            if not changed:
                raise _no_user(name)
            return self._user(conn, self._row(conn, name))

    def reset_password(self, name: str, new_password: str) -> User:
        """An administrator's reset: new password, new key pair; the old key is retired (its
        public half stays for verifying old signatures, its private half is erased)."""
        check_password_policy(new_password)
        password_hash = _HASHER.hash(new_password)
        key = Ed25519PrivateKey.generate()
        blob = encrypt_private_key(key, new_password)
        now = _time.time()
        with self._writing("reset the password") as conn:
            row = self._row(conn, name)
            if row is None:
                raise _no_user(name)
            conn.execute(
                update(USERS).where(USERS.c.id == row["id"]).values(password_hash=password_hash)
            )
            conn.execute(
                update(USER_KEYS)
                .where(USER_KEYS.c.user_id == row["id"], USER_KEYS.c.retired_at.is_(None))
                .values(retired_at=now, encrypted_private_key=None)
            )
            conn.execute(
                insert(USER_KEYS).values(
                    user_id=row["id"],
                    public_key=public_bytes(key),
                    encrypted_private_key=blob,
                    created_at=now,
                    retired_at=None,
                )
            )
            return self._user(conn, row)

    def change_password(self, name: str, old_password: str, new_password: str) -> User:
        """The user's own change: the signing key is kept and re-encrypted."""
        check_password_policy(new_password)
        signing = self.unlock_signing_key(name, old_password)
        password_hash = _HASHER.hash(new_password)
        blob = encrypt_private_key(signing.private_key, new_password)
        with self._writing("change the password") as conn:
            row = self._row(conn, name)
            conn.execute(
                update(USERS).where(USERS.c.id == row["id"]).values(password_hash=password_hash)
            )
            conn.execute(
                update(USER_KEYS)
                .where(USER_KEYS.c.id == signing.key_id)
                .values(encrypted_private_key=blob)
            )
            return self._user(conn, row)

    def authenticate(self, name: str, password: str) -> User:
        """The user, if the password is right and the account enabled; else AuthenticationError
        (the same message for an unknown user and a wrong password)."""
        with self._reading("read the user") as conn:
            row = self._row(conn, name)
            user = self._user(conn, row) if row is not None else None
        if row is None:
            _HASHER.hash(password)  # the same work as a check: do not reveal who exists by timing
            raise AuthenticationError(BAD_CREDENTIALS)
        try:
            _HASHER.verify(row["password_hash"], password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise AuthenticationError(BAD_CREDENTIALS) from None
        assert user is not None
        if user.disabled:
            raise AuthenticationError(
                f"user {name!r} is disabled", "an administrator can enable a new account"
            )
        return user

    def unlock_signing_key(self, name: str, password: str) -> SigningKey:
        """The user's current private key, decrypted with their password."""
        return self.key_unlocker(name)(password)[1]

    def key_unlocker(self, name: str) -> Callable[[str], tuple[User, SigningKey]]:
        """Read what unlocking ``name``'s signing key needs now; the returned function does the
        slow part (no database), so it may run in another thread while the caller works.

        It authenticates and unlocks with one argon2id derivation: the key decrypts (AES-GCM
        checks it) only with the password it was encrypted under, which password changes and
        resets keep equal to the login password. A failure costs two derivations whether the
        user exists or not, and gives the same message for an unknown user and a wrong
        password; a disabled user is refused after the password is checked.
        """
        with self._reading("read the signing key") as conn:
            row = self._row(conn, name)
            user = self._user(conn, row) if row is not None else None
            key = (
                conn.execute(
                    select(USER_KEYS).where(
                        USER_KEYS.c.user_id == row["id"], USER_KEYS.c.retired_at.is_(None)
                    )
                )
                .mappings()
                .first()
                if row is not None
                else None
            )
            password_hash = row["password_hash"] if row is not None else None
            blob = key["encrypted_private_key"] if key is not None else None
            key_id = key["id"] if key is not None else None
            public_key = bytes(key["public_key"]) if key is not None else None

        def unlock(password: str) -> tuple[User, SigningKey]:
            if user is None or password_hash is None:
                _derive_key(password, bytes(_SALT_BYTES))  # as much work as a wrong password
                _HASHER.hash(password)
                raise AuthenticationError(BAD_CREDENTIALS)
            private = None
            if blob is not None:
                try:
                    private = decrypt_private_key(bytes(blob), password)
                except (InvalidTag, ValueError):
                    private = None
            else:
                _derive_key(password, bytes(_SALT_BYTES))
            if private is None:
                try:
                    _HASHER.verify(password_hash, password)
                except (VerifyMismatchError, VerificationError, InvalidHashError):
                    raise AuthenticationError(BAD_CREDENTIALS) from None
            if user.disabled:
                raise AuthenticationError(
                    f"user {name!r} is disabled", "an administrator can enable a new account"
                )
            if blob is None or key_id is None or public_key is None:
                raise AuthenticationError(f"user {name!r} has no signing key")
            if private is None:
                raise AuthenticationError(
                    f"the signing key of {name!r} cannot be unlocked with this password",
                    "an administrator can reset the password (this makes a new key)",
                )
            return user, SigningKey(key_id, private, public_key)

        return unlock

    def public_key(self, key_id: int) -> bytes | None:
        with self._reading("read the public key") as conn:
            return conn.scalar(select(USER_KEYS.c.public_key).where(USER_KEYS.c.id == key_id))

    # -- helpers ---------------------------------------------------------------------------

    def _row(self, conn: Connection, name: str):  # -> RowMapping | None
        return conn.execute(select(USERS).where(USERS.c.name == name)).mappings().first()

    def _user(self, conn: Connection, row) -> User:  # row: RowMapping
        key_id = conn.scalar(
            select(USER_KEYS.c.id).where(
                USER_KEYS.c.user_id == row["id"], USER_KEYS.c.retired_at.is_(None)
            )
        )
        return User(
            row["id"],
            row["name"],
            row["full_name"],
            Role(row["role"]),
            bool(row["disabled"]),
            row["created_at"],
            key_id,
        )

    @contextmanager
    def _reading(self, action: str) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise _failed(action, self.database, exc) from exc

    @contextmanager
    def _writing(self, action: str) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{WRITE_TRANSACTION: True})
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise _failed(action, self.database, exc) from exc


def _failed(action: str, database: Database, exc: SQLAlchemyError) -> DatabaseError:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return DatabaseError(f"cannot {action} in {database.display_url}: {detail}")


def _no_user(name: str) -> NotFoundError:
    return NotFoundError(f"no user {name!r}", "katmonitor users list shows the accounts")
