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

import logging
import os
import threading
import time as _time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn, TypeVar

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

from katmonitor.access_log import AccessLog, Action, Outcome
from katmonitor.base.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
)
from katmonitor.base.samples import iso_utc
from katmonitor.security_policy import SecurityPolicy, load_security_policy
from katmonitor.storage.accounts import AccountRepository, Credentials, Lockout, NewKey
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

log = logging.getLogger(__name__)
T = TypeVar("T")


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
    """Users and their keys in the KAT Monitor database, the lockout after failed passwords and
    the access log entries of every credential check and account change."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], float] = _time.time,
        policy: SecurityPolicy | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.policy = policy if policy is not None else load_security_policy()
        self.access_log = access_log if access_log is not None else AccessLog(database, clock)
        self._accounts = AccountRepository(database)

    # -- reading -------------------------------------------------------------------------------

    def list_users(self) -> list[User]:
        return self._accounts.users()

    def has_users(self) -> bool:
        return self._accounts.has_users()

    def public_key(self, key_id: int) -> bytes | None:
        return self._accounts.public_key(key_id)

    # -- account changes (an administrator's, except the first account's) -----------------------

    def add_user(
        self,
        name: str,
        role: Role | str,
        password: str,
        full_name: str = "",
        *,
        admin: str | None = None,
        admin_password: str | None = None,
    ) -> User:
        """A new account. The database's first account must be an administrator and needs no
        ``admin``; every later one needs an administrator's name and password."""
        name = _check_name(name)
        role = parse_role(str(role))
        printed = printed_name(full_name) or name
        first = admin is None and admin_password is None and not self.has_users()
        if first and role is not Role.ADMINISTRATOR:
            raise first_must_be_administrator()
        check_password_policy(password)
        acting = None if first else self._administrator(admin, admin_password,
                                                         Action.ACCOUNT_ADD, name)

        def check(users: list[User]) -> None:
            if not users and role is not Role.ADMINISTRATOR:
                raise first_must_be_administrator()
            if users and acting is None:
                raise _administrator_needed("add an account")
            _refuse_same_printed_name(printed, name, users)

        key = _new_key(password)
        by = acting.name if acting is not None else name
        with self._logged(by, Action.ACCOUNT_ADD, name):
            user = self._accounts.add(
                name, printed, str(role), _HASHER.hash(password), key, self.clock(), check
            )
            if user is None:
                raise ConfigurationError(f"user {name!r} already exists")
        self.access_log.record(by, Action.ACCOUNT_ADD, name,
                               detail=f"{role.value}, printed name {printed!r}")
        return user

    def reset_password(
        self, name: str, new_password: str, *, admin: str | None, admin_password: str | None
    ) -> User:
        """An administrator's reset: new password, new key pair; the old key is retired (its
        public half stays for verifying old signatures, its private half is erased). It also
        clears the account's failed passwords and lock."""
        check_password_policy(new_password)
        acting = self._administrator(admin, admin_password, Action.ACCOUNT_RESET_PASSWORD, name)
        key = _new_key(new_password)
        with self._logged(acting.name, Action.ACCOUNT_RESET_PASSWORD, name):
            user = self._accounts.replace_key(
                name, _HASHER.hash(new_password), key, self.clock()
            )
            if user is None:
                raise _no_user(name)
        self.access_log.record(acting.name, Action.ACCOUNT_RESET_PASSWORD, name,
                               detail="new signing key")
        return user

    def disable_user(self, name: str, *, admin: str | None, admin_password: str | None) -> User:
        acting = self._administrator(admin, admin_password, Action.ACCOUNT_DISABLE, name)

        def check(user: User, users: list[User]) -> None:
            if user.role is Role.ADMINISTRATOR:
                _refuse_last_administrator(user, users, "disable")

        return self._change(acting, Action.ACCOUNT_DISABLE, name, "disable the user", check,
                            disabled=True)

    def enable_user(self, name: str, *, admin: str | None, admin_password: str | None) -> User:
        acting = self._administrator(admin, admin_password, Action.ACCOUNT_ENABLE, name)

        def check(user: User, users: list[User]) -> None:
            _refuse_same_printed_name(user.full_name, user.name, users)

        return self._change(acting, Action.ACCOUNT_ENABLE, name, "enable the user", check,
                            disabled=False)

    def set_role(
        self, name: str, role: Role | str, *, admin: str | None, admin_password: str | None
    ) -> User:
        new_role = parse_role(str(role))
        acting = self._administrator(admin, admin_password, Action.ACCOUNT_ROLE, name)

        def check(user: User, users: list[User]) -> None:
            if user.role is Role.ADMINISTRATOR and new_role is not Role.ADMINISTRATOR:
                _refuse_last_administrator(user, users, "demote")

        return self._change(acting, Action.ACCOUNT_ROLE, name, "change the role", check,
                            role=str(new_role), detail=f"now {new_role.value}")

    def unlock_user(self, name: str, *, admin: str | None, admin_password: str | None) -> User:
        """Lift a lock (and forget the failed passwords) before it expires."""
        acting = self._administrator(admin, admin_password, Action.ACCOUNT_UNLOCK, name)
        return self._change(acting, Action.ACCOUNT_UNLOCK, name, "unlock the user",
                            lambda user, users: None, lockout=Lockout())

    def change_password(self, name: str, old_password: str, new_password: str) -> User:
        """The user's own change: the signing key is kept and re-encrypted. A wrong old
        password counts towards the lockout."""
        check_password_policy(new_password)
        _, signing = self.key_unlocker(name, Action.ACCOUNT_CHANGE_PASSWORD)(old_password)
        password_hash = _HASHER.hash(new_password)
        blob = encrypt_private_key(signing.private_key, new_password)
        user = self._accounts.change_password(name, password_hash, signing.key_id, blob)
        self.access_log.record(name, Action.ACCOUNT_CHANGE_PASSWORD, name)
        return user

    # -- credential checks (each counts towards the lockout) ----------------------------------

    def authenticate(self, name: str, password: str, *, purpose: Action = Action.SIGN_IN,
                     target: str = "") -> User:
        """Signing in (or unlocking the window: ``purpose``): the user, if the password is
        right, the account enabled and not locked; else AuthenticationError (the same message
        for an unknown user and a wrong password). Logged under ``purpose``, whatever the
        outcome."""
        return self._check_password(name, password, purpose, target, log_success=True)

    def verify_administrator(
        self, name: str, password: str, *, purpose: Action = Action.ADMIN_CHECK, target: str = ""
    ) -> User:
        """An administrator's password asked again before an account change (or reading the
        access log): AuthenticationError for wrong credentials (counted towards the lockout),
        PermissionDeniedError for an account that is not an administrator. Failures and
        refusals are logged under ``purpose``."""
        user = self._check_password(name, password, purpose, target, log_success=False)
        if user.role is not Role.ADMINISTRATOR:
            detail = f"{user.role.value}, not an administrator"
            self.access_log.record(name, purpose, target, Outcome.REFUSED, detail)
            raise PermissionDeniedError(
                f"{user.name} is a {user.role.value}: only an administrator manages accounts"
                " and reads the access log"
            )
        return user

    def unlock_signing_key(
        self, name: str, password: str, purpose: Action = Action.SIGN
    ) -> SigningKey:
        """The user's current private key, decrypted with their password."""
        return self.key_unlocker(name, purpose)(password)[1]

    def key_unlocker(
        self, name: str, purpose: Action = Action.SIGN
    ) -> Callable[[str], tuple[User, SigningKey]]:
        """Read what unlocking ``name``'s signing key needs now; the returned function does the
        slow part, so it may run in another thread while the caller works.

        It authenticates and unlocks with one argon2id derivation: the key decrypts (AES-GCM
        checks it) only with the password it was encrypted under, which password changes and
        resets keep equal to the login password. A failure costs two derivations whether the
        user exists or not, and gives the same message for an unknown user and a wrong
        password; a disabled user is refused after the password is checked; a locked account
        is refused before.

        A wrong password counts towards the lockout and, like a refusal, is logged under
        ``purpose`` (the action's own success is logged by the action, with what it acted
        on). Run in another thread than the one that called this, the function leaves those
        writes to a background thread that waits for the database: the caller may be holding
        a write transaction while it waits for the result (as signing does).
        """
        found = self._accounts.credentials(name, "read the signing key")
        caller = threading.get_ident()

        def unlock(password: str) -> tuple[User, SigningKey]:
            background = threading.get_ident() != caller
            self._refuse_if_locked(found, name, purpose, "", background=background)
            private = None
            ok = False
            if found is None:
                _derive_key(password, bytes(_SALT_BYTES))  # as much work as a wrong password
                _HASHER.hash(password)
            else:
                blob = found.encrypted_private_key
                if blob is not None:
                    try:
                        private = decrypt_private_key(blob, password)
                    except (InvalidTag, ValueError):
                        private = None
                else:
                    _derive_key(password, bytes(_SALT_BYTES))
                ok = private is not None or _password_matches(found.password_hash, password)
            user = self._settle(name, found, ok, purpose, "", log_success=False,
                                background=background)
            assert found is not None
            if found.encrypted_private_key is None or found.key_id is None \
                    or found.public_key is None:
                raise AuthenticationError(f"user {name!r} has no signing key")
            if private is None:
                raise AuthenticationError(
                    f"the signing key of {name!r} cannot be unlocked with this password",
                    "an administrator can reset the password (this makes a new key)",
                )
            return user, SigningKey(found.key_id, private, found.public_key)

        return unlock

    # -- the rules behind the checks ------------------------------------------------------------

    def _check_password(
        self, name: str, password: str, purpose: Action, target: str, *, log_success: bool
    ) -> User:
        found = self._accounts.credentials(name)
        self._refuse_if_locked(found, name, purpose, target)
        if found is None:
            _HASHER.hash(password)  # the same work as a check: do not reveal who exists by timing
            ok = False
        else:
            ok = _password_matches(found.password_hash, password)
        return self._settle(name, found, ok, purpose, target, log_success=log_success)

    def _refuse_if_locked(
        self, found: Credentials | None, name: str, purpose: Action, target: str, *,
        background: bool = False,
    ) -> None:
        """A locked account is refused whatever the password (and it is not checked)."""
        if found is None or not found.user.locked_at(self.clock()):
            return
        until = found.lockout.locked_until
        assert until is not None
        _write(lambda: self.access_log.record(name, purpose, target, Outcome.REFUSED,
                                              f"locked until {iso_utc(until)}"), background)
        raise _locked(name, until)

    def _settle(
        self,
        name: str,
        found: Credentials | None,
        ok: bool,
        purpose: Action,
        target: str,
        *,
        log_success: bool,
        background: bool = False,
    ) -> User:
        """After the password check: count and log a failure, refuse a disabled account,
        forget earlier failures on success (``background``: see :meth:`key_unlocker`)."""
        if found is None or not ok:
            self._count_failure(name, found, purpose, target, background=background)
        assert found is not None
        user = found.user
        if user.disabled:
            _write(lambda: self.access_log.record(name, purpose, target, Outcome.REFUSED,
                                                  "account disabled"), background)
            raise AuthenticationError(
                f"user {name!r} is disabled", "an administrator can enable a new account"
            )
        if found.lockout != Lockout():
            _write(lambda: self._accounts.change_lockout(name, lambda current: Lockout()),
                   background)
        if log_success:
            self.access_log.record(name, purpose, target)
        return user

    def _count_failure(
        self, name: str, found: Credentials | None, purpose: Action, target: str, *,
        background: bool = False,
    ) -> NoReturn:
        now = self.clock()

        def record() -> float | None:
            """Count and log the failure; when it locks the account, log that and return
            until when."""
            lockout = None
            if found is not None:
                lockout = self._accounts.change_lockout(
                    name, lambda current: after_failure(current, now, self.policy)
                )
            self.access_log.record(name, purpose, target, Outcome.FAILED,
                                   "wrong password" if found is not None else "unknown user")
            until = lockout.locked_until if lockout is not None else None
            if until is None or until <= now:
                return None
            self.access_log.record(
                name, Action.ACCOUNT_LOCKED, name, Outcome.OK,
                f"{self.policy.lockout_failures} failed passwords within "
                f"{self.policy.lockout_window_min} min; locked until {iso_utc(until)}",
            )
            return until

        until = _write(record, background)
        if until is None:
            raise AuthenticationError(BAD_CREDENTIALS)
        raise AuthenticationError(
            f"wrong password: the account {name!r} is now locked until {_hhmm(until)}",
            _LOCKED_HINT,
        )

    def _administrator(
        self, admin: str | None, admin_password: str | None, purpose: Action, target: str
    ) -> User:
        if not admin or admin_password is None:
            self.access_log.record(admin or "", purpose, target, Outcome.REFUSED,
                                   "no administrator credentials")
            raise _administrator_needed(_WHAT[purpose])
        return self.verify_administrator(admin, admin_password, purpose=purpose, target=target)

    def _change(
        self,
        acting: User,
        action: Action,
        name: str,
        what: str,
        check: Callable[[User, list[User]], None],
        *,
        detail: str = "",
        disabled: bool | None = None,
        role: str | None = None,
        lockout: Lockout | None = None,
    ) -> User:
        with self._logged(acting.name, action, name):
            user = self._accounts.update(
                name, what, check, disabled=disabled, role=role, lockout=lockout
            )
            if user is None:
                raise _no_user(name)
        self.access_log.record(acting.name, action, name, detail=detail)
        return user

    @contextmanager
    def _logged(self, by: str, action: Action, target: str) -> Iterator[None]:
        """Log a refused account change (a rule, a missing user) before it reaches the caller."""
        try:
            yield
        except (ConfigurationError, NotFoundError, PermissionDeniedError) as refused:
            self.access_log.record(by, action, target, Outcome.REFUSED, refused.message)
            raise



class _BackgroundWrites:
    """Writes run one after another, in order, each in a non-daemon thread (so the process
    waits for them before it exits)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: threading.Thread | None = None

    def submit(self, write: Callable[[], object], what: str) -> None:
        def run(before: threading.Thread | None) -> None:
            if before is not None:
                before.join()
            try:
                write()
            except Exception:
                log.exception("could not record a credential check (%s)", what)

        with self._lock:
            thread = threading.Thread(target=run, args=(self._last,), name="katmonitor-record")
            self._last = thread
            thread.start()

    def wait(self, timeout: float | None = None) -> None:
        with self._lock:
            last = self._last
        if last is not None:
            last.join(timeout)


_BACKGROUND = _BackgroundWrites()


def _write(write: Callable[[], T], background: bool) -> T | None:
    """``write()`` now, or (``background``) later by :data:`_BACKGROUND`, returning None."""
    if not background:
        return write()
    _BACKGROUND.submit(write, getattr(write, "__name__", "write"))
    return None


def wait_for_deferred_records(timeout: float | None = None) -> None:
    """Wait until the credential checks recorded in the background are written (tests; the
    process itself waits for them before it exits)."""
    _BACKGROUND.wait(timeout)


def printed_name(full_name: str) -> str:
    """A printed name as stored: surrounding and repeated whitespace removed."""
    return " ".join(full_name.split())


def same_printed_name(a: str, b: str) -> bool:
    """Two printed names a reader could not tell apart (case and spacing ignored)."""
    return printed_name(a).casefold() == printed_name(b).casefold()


def after_failure(current: Lockout, now: float, policy: SecurityPolicy) -> Lockout:
    """The lockout state after one more failed password at ``now``: failures count within the
    policy's window from the first; the last allowed one locks the account."""
    if current.locked_until is not None and now < current.locked_until:
        return current  # already locked (by another workstation meanwhile)
    if current.first_failed_at is None or now - current.first_failed_at > policy.lockout_window_s:
        failures, first = 1, now
    else:
        failures, first = current.failed_logins + 1, current.first_failed_at
    if failures >= policy.lockout_failures:
        return Lockout(0, None, now + policy.lockout_s)
    return Lockout(failures, first, None)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _refuse_same_printed_name(full_name: str, name: str, users: list[User]) -> None:
    for other in users:
        if other.name != name and not other.disabled \
                and same_printed_name(other.full_name, full_name):
            raise ConfigurationError(
                f"the printed name {full_name!r} is already used by {other.name!r}"
                + ("" if other.full_name == full_name else f" (as {other.full_name!r})"),
                "printed names on signatures must differ among active accounts: add a middle"
                " initial or credentials, or disable the other account first",
            )


def _refuse_last_administrator(user: User, users: list[User], what: str) -> None:
    others = [u for u in users if u.role is Role.ADMINISTRATOR and not u.disabled
              and u.name != user.name]
    if not others and not user.disabled:
        raise ConfigurationError(
            f"cannot {what} {user.name!r}: it is the last enabled administrator",
            "add or enable another administrator first",
        )


_WHAT = {
    Action.ACCOUNT_ADD: "add an account",
    Action.ACCOUNT_RESET_PASSWORD: "reset a password",
    Action.ACCOUNT_DISABLE: "disable an account",
    Action.ACCOUNT_ENABLE: "enable an account",
    Action.ACCOUNT_ROLE: "change a role",
    Action.ACCOUNT_UNLOCK: "unlock an account",
    Action.READ_ACCESS_LOG: "read the access log",
    Action.ADMIN_CHECK: "do this",
}

_LOCKED_HINT = (
    "too many wrong passwords: it unlocks by itself then, or an administrator unlocks it now"
    " (katmonitor users unlock NAME --as ADMIN)"
)


def _hhmm(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s).strftime("%H:%M")


def _locked(name: str, until: float) -> AuthenticationError:
    return AuthenticationError(f"the account {name!r} is locked until {_hhmm(until)}",
                               _LOCKED_HINT)


def _administrator_needed(what: str) -> AuthenticationError:
    return AuthenticationError(
        f"an administrator's name and password are needed to {what}",
        "give --as ADMIN (the password is asked, or read from stdin with --password-stdin)",
    )


def first_must_be_administrator() -> ConfigurationError:
    return ConfigurationError(
        "the first account of a database must be an administrator",
        "katmonitor users add --role administrator NAME",
    )


def _new_key(password: str) -> NewKey:
    """A new Ed25519 key pair, its private half encrypted under the password."""
    key = Ed25519PrivateKey.generate()
    return NewKey(public_bytes(key), encrypt_private_key(key, password))


def _no_user(name: str) -> NotFoundError:
    return NotFoundError(f"no user {name!r}", "katmonitor users list shows the accounts")
