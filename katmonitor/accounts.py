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
from collections.abc import Callable
from dataclasses import dataclass

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

from katmonitor.base.errors import AuthenticationError, ConfigurationError, NotFoundError
from katmonitor.storage.accounts import AccountRepository, NewKey
from katmonitor.storage.database import Database
from katmonitor.users import Role, User, parse_role

__all__ = [
    "AccountStore",
    "Role",
    "SigningKey",
    "User",
    "check_password_policy",
    "parse_role",
]

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


@dataclass(frozen=True, slots=True)
class SigningKey:
    key_id: int
    private_key: Ed25519PrivateKey
    public_key: bytes


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
        self._accounts = AccountRepository(database)

    def add_user(self, name: str, role: Role | str, password: str, full_name: str = "") -> User:
        name = _check_name(name)
        role = parse_role(str(role))
        check_password_policy(password)
        password_hash = _HASHER.hash(password)
        key = _new_key(password)
        user = self._accounts.add(
            name, full_name.strip() or name, str(role), password_hash, key, _time.time()
        )
        if user is None:
            raise ConfigurationError(f"user {name!r} already exists")
        return user

    def list_users(self) -> list[User]:
        return self._accounts.users()

    def has_users(self) -> bool:
        return self._accounts.has_users()

    def disable_user(self, name: str) -> User:
        user = self._accounts.disable(name)
        if user is None:
            raise _no_user(name)
        return user

    def reset_password(self, name: str, new_password: str) -> User:
        """An administrator's reset: new password, new key pair; the old key is retired (its
        public half stays for verifying old signatures, its private half is erased)."""
        check_password_policy(new_password)
        password_hash = _HASHER.hash(new_password)
        key = _new_key(new_password)
        user = self._accounts.replace_key(name, password_hash, key, _time.time())
        if user is None:
            raise _no_user(name)
        return user

    def change_password(self, name: str, old_password: str, new_password: str) -> User:
        """The user's own change: the signing key is kept and re-encrypted."""
        check_password_policy(new_password)
        signing = self.unlock_signing_key(name, old_password)
        password_hash = _HASHER.hash(new_password)
        blob = encrypt_private_key(signing.private_key, new_password)
        return self._accounts.change_password(name, password_hash, signing.key_id, blob)

    def authenticate(self, name: str, password: str) -> User:
        """The user, if the password is right and the account enabled; else AuthenticationError
        (the same message for an unknown user and a wrong password)."""
        found = self._accounts.credentials(name)
        if found is None:
            _HASHER.hash(password)  # the same work as a check: do not reveal who exists by timing
            raise AuthenticationError(BAD_CREDENTIALS)
        try:
            _HASHER.verify(found.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise AuthenticationError(BAD_CREDENTIALS) from None
        if found.user.disabled:
            raise AuthenticationError(
                f"user {name!r} is disabled", "an administrator can enable a new account"
            )
        return found.user

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
        found = self._accounts.credentials(name, "read the signing key")

        def unlock(password: str) -> tuple[User, SigningKey]:
            if found is None:
                _derive_key(password, bytes(_SALT_BYTES))  # as much work as a wrong password
                _HASHER.hash(password)
                raise AuthenticationError(BAD_CREDENTIALS)
            user, blob = found.user, found.encrypted_private_key
            private = None
            if blob is not None:
                try:
                    private = decrypt_private_key(blob, password)
                except (InvalidTag, ValueError):
                    private = None
            else:
                _derive_key(password, bytes(_SALT_BYTES))
            if private is None:
                try:
                    _HASHER.verify(found.password_hash, password)
                except (VerifyMismatchError, VerificationError, InvalidHashError):
                    raise AuthenticationError(BAD_CREDENTIALS) from None
            if user.disabled:
                raise AuthenticationError(
                    f"user {name!r} is disabled", "an administrator can enable a new account"
                )
            if blob is None or found.key_id is None or found.public_key is None:
                raise AuthenticationError(f"user {name!r} has no signing key")
            if private is None:
                raise AuthenticationError(
                    f"the signing key of {name!r} cannot be unlocked with this password",
                    "an administrator can reset the password (this makes a new key)",
                )
            return user, SigningKey(found.key_id, private, found.public_key)

        return unlock

    def public_key(self, key_id: int) -> bytes | None:
        return self._accounts.public_key(key_id)


def _new_key(password: str) -> NewKey:
    """A new Ed25519 key pair, its private half encrypted under the password."""
    key = Ed25519PrivateKey.generate()
    return NewKey(public_bytes(key), encrypt_private_key(key, password))


def _no_user(name: str) -> NotFoundError:
    return NotFoundError(f"no user {name!r}", "katmonitor users list shows the accounts")
