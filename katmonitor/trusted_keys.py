"""The public keys a clinic trusts, with their history.

A signature proves only that the holder of a key signed; a bundle carries its own public key,
so on its own it proves nothing about who signed it. A key is trusted when the exact public key
(its 32 bytes, not its id or its owner's name) is one the clinic's database holds, or one in a
trusted-keys file exported from it (``katmonitor users export-keys``), and the signature was
made while that key was valid (from its creation until a password reset retired it) by the
account that held it.

The file (``clinic-keys.json``) is the clinic's trust anchor for checking bundles away from the
database: distribute it out of band and keep it where people who can write the database cannot
change it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import math
import os
import tempfile
import time as _time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from katmonitor.base.errors import ConfigurationError
from katmonitor.config import workstation_name
from katmonitor.records.entries import time_text
from katmonitor.storage.database import Database
from katmonitor.storage.store import SessionStore

KEYS_FORMAT = "katmonitor-trusted-keys"
KEYS_VERSION = 1
_KEY_FIELDS = (
    "user",
    "printed_name",
    "role",
    "key_id",
    "public_key",
    "fingerprint",
    "valid_from",
    "valid_from_utc",
    "valid_until",
    "valid_until_utc",
)
_MAX_FILE_BYTES = 50_000_000


def key_fingerprint(public_key: bytes) -> str:
    """The first 16 hex digits of the key's SHA-256: what people compare by eye."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def local_actor() -> str:
    """Who acts when a command runs without a signed-in account: the operating system user."""
    try:
        return f"os:{getpass.getuser()}"
    except (OSError, KeyError, ImportError):
        return "os:unknown"


@dataclass(frozen=True, slots=True)
class TrustedKey:
    user: str
    printed_name: str
    role: str
    key_id: int
    public_key: bytes
    valid_from: float  # UTC epoch seconds: when the key was made
    valid_until: float | None  # when a password reset retired it; None while in use

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_key)

    def valid_at(self, at: float) -> bool:
        # Signing times are stored to the millisecond; the key's times are compared the same
        # way (rounding keeps the order of two moments, so a signature made just after its key
        # is never placed before it).
        if at < round(self.valid_from, 3):
            return False
        return self.valid_until is None or at <= round(self.valid_until, 3)

    def validity(self) -> str:
        until = time_text(self.valid_until) if self.valid_until is not None else "now"
        return f"valid from {time_text(self.valid_from)} until {until}"

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "printed_name": self.printed_name,
            "role": self.role,
            "key_id": self.key_id,
            "public_key": self.public_key.hex(),
            "fingerprint": self.fingerprint,
            "valid_from": self.valid_from,
            "valid_from_utc": time_text(self.valid_from),
            "valid_until": self.valid_until,
            "valid_until_utc": (
                time_text(self.valid_until) if self.valid_until is not None else None
            ),
        }


@dataclass(frozen=True, slots=True)
class TrustedKeys:
    """The keys one source (a database or a trusted-keys file) trusts."""

    source: str  # named in messages: "the database ..." or "the trusted-keys file ..."
    keys: tuple[TrustedKey, ...]

    @classmethod
    def of_rows(
        cls, rows: list[dict[str, Any]], source: str = "this clinic's database"
    ) -> TrustedKeys:
        """From :meth:`katmonitor.storage.signatures.KeyRepository.history`'s rows."""
        return cls(
            source,
            tuple(
                TrustedKey(
                    r["user"], r["printed_name"], r["role"], r["key_id"], r["public_key"],
                    r["created_at"], r["retired_at"],
                )
                for r in rows
            ),
        )

    def untrusted_because(self, public_key: bytes, at: float, user: str) -> str | None:
        """Why a signature by ``public_key`` at ``at`` naming account ``user`` is not trusted;
        None when it is."""
        same = [k for k in self.keys if k.public_key == public_key]
        if not same:
            return f"the key is not one of the keys in {self.source}"
        owned = [k for k in same if k.user == user]
        if not owned:
            return (
                f"the key belongs to {same[0].user} in {self.source}, but the signature names "
                f"{user}"
            )
        if not any(k.valid_at(at) for k in owned):
            return (
                f"the key of {user} was {owned[0].validity()} in {self.source}; "
                f"it signed at {time_text(at)}"
            )
        return None


def trusted_keys_of(store: SessionStore, source: str = "") -> TrustedKeys:
    """The database's public keys with their history (retired keys included)."""
    with store.reading("read the public keys") as tx:
        rows = tx.keys.history()
    return TrustedKeys.of_rows(rows, source or "this clinic's database")


def export_trusted_keys(
    database: Database, path: Path, *, actor: str | None = None
) -> tuple[Path, str, int]:
    """Write the database's public keys to ``path`` (clinic-keys.json); returns the path, the
    file's SHA-256 (for the clinic to record) and how many keys it holds. The export is
    entered in the access log."""
    from katmonitor.access_log import AccessLog, Action

    keys = trusted_keys_of(SessionStore(database))
    document = {
        "format": KEYS_FORMAT,
        "version": KEYS_VERSION,
        "exported_at": round(_time.time(), 3),
        "exported_at_utc": time_text(round(_time.time(), 3)),
        "workstation": workstation_name(),
        "keys": [k.to_json() for k in keys.keys],
    }
    data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    path = Path(path)
    _write_atomically(path, data)
    digest = hashlib.sha256(data).hexdigest()
    AccessLog(database).record(
        actor or local_actor(), Action.EXPORT_KEYS, str(path),
        detail=f"{len(keys.keys)} keys, sha256 {digest}",
    )
    return path, digest, len(keys.keys)


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise ConfigurationError(f"cannot write {path}: {error.strerror or error}") from None


def load_trusted_keys(path: Path) -> TrustedKeys:
    """The keys of a trusted-keys file; ConfigurationError saying what is wrong with a file
    that cannot be read or is not one (damaged, edited, another format)."""
    path = Path(path)
    hint = "export it again: katmonitor users export-keys --out FILE"
    try:
        with path.open("rb") as f:
            raw = f.read(_MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigurationError(
            f"cannot read the trusted-keys file {path}: {error.strerror or error}"
        ) from None
    try:
        if len(raw) > _MAX_FILE_BYTES:
            raise ValueError("it is too large to be one")
        try:
            obj = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except RecursionError:
            raise ValueError("it is nested too deeply") from None
        keys = _parse(obj)
    except ValueError as error:  # JSON, UTF-8 and our own checks
        raise ConfigurationError(
            f"the trusted-keys file {path} is damaged: {error}", hint
        ) from None
    return TrustedKeys(f"the trusted-keys file {path}", keys)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a value of a trusted-keys file")


def _parse(obj: Any) -> tuple[TrustedKey, ...]:
    if not isinstance(obj, dict) or obj.get("format") != KEYS_FORMAT:
        raise ValueError("it is not a KAT Monitor trusted-keys file")
    if obj.get("version") != KEYS_VERSION or type(obj.get("version")) is not int:
        raise ValueError(f"its version {obj.get('version')!r} is not {KEYS_VERSION}")
    listed = obj.get("keys")
    if not isinstance(listed, list):
        raise ValueError("it has no list of keys")
    return tuple(_key(k, i) for i, k in enumerate(listed))


def _key(obj: Any, i: int) -> TrustedKey:
    where = f"key {i + 1}"
    if not isinstance(obj, dict) or set(obj) != set(_KEY_FIELDS):
        raise ValueError(f"{where} does not have exactly the fields {', '.join(_KEY_FIELDS)}")
    for name in ("user", "printed_name", "role", "public_key", "fingerprint", "valid_from_utc"):
        if not isinstance(obj[name], str):
            raise ValueError(f"{where}: {name} is not text")
    key_id = obj["key_id"]
    if type(key_id) is not int or not 0 <= key_id < 2**53:
        raise ValueError(f"{where}: key_id {key_id!r} is not an id")
    try:
        public_key = bytes.fromhex(obj["public_key"])
    except ValueError:
        raise ValueError(f"{where}: public_key is not hexadecimal") from None
    if len(public_key) != 32:
        raise ValueError(f"{where}: public_key is {len(public_key)} bytes, not 32")
    if key_fingerprint(public_key) != obj["fingerprint"]:
        raise ValueError(f"{where}: fingerprint does not match its public key")
    valid_from, valid_until = obj["valid_from"], obj["valid_until"]
    if not _is_time(valid_from):
        raise ValueError(f"{where}: valid_from {valid_from!r} is not a time")
    if valid_until is not None and (not _is_time(valid_until) or valid_until < valid_from):
        raise ValueError(f"{where}: valid_until {valid_until!r} is not a time after valid_from")
    return TrustedKey(
        obj["user"], obj["printed_name"], obj["role"], key_id, public_key,
        float(valid_from), float(valid_until) if valid_until is not None else None,
    )


def _is_time(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and 0 <= value < 2**40
