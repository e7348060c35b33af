"""A checkpoint of a session's chain head, kept outside the database.

A hash chain shows that entries were not changed, not that none were removed from its end.
Each signature and addendum therefore also writes a checkpoint (the session, how many entries
the chain had, the hash of the last one, when, by whom) signed with the signer's Ed25519 key,
to a file outside the database (:mod:`katmonitor.checkpoints`). A chain shorter than a
checkpoint, or whose entry at that count has another hash, lost its newest entries.

This module is the checkpoint's pure format and the comparison; writing and reading the file is
:mod:`katmonitor.checkpoints`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from katmonitor.records.entries import canonical, time_text

CHECKPOINT_FORMAT = "katmonitor-checkpoint"
CHECKPOINT_VERSION = 1
# What wrote the checkpoint.
SIGNATURE_EVENT = "signature"
ADDENDUM_EVENT = "addendum"
_EVENTS = (SIGNATURE_EVENT, ADDENDUM_EVENT)
_MAX_INT = 2**53
_KEYS = frozenset(
    {"format", "version", "session_uuid", "entry_count", "head", "at", "event", "user"}
    | {"key_id", "signature"}
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    session_uuid: str
    entry_count: int  # the chain's length when it was written
    head: str  # the hash of entry entry_count - 1
    at: float  # UTC epoch seconds
    event: str  # "signature" | "addendum"
    user: str  # who signed (whose key signed the checkpoint)
    key_id: int
    signature: bytes  # Ed25519 over payload()

    def payload(self) -> bytes:
        """What the Ed25519 signature covers."""
        return canonical(
            {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                "session_uuid": self.session_uuid,
                "entry_count": self.entry_count,
                "head": self.head,
                "at": self.at,
                "event": self.event,
                "user": self.user,
                "key_id": self.key_id,
            }
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "session_uuid": self.session_uuid,
            "entry_count": self.entry_count,
            "head": self.head,
            "at": self.at,
            "event": self.event,
            "user": self.user,
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, obj: Any) -> Checkpoint:
        """From :meth:`to_json`'s object; ValueError naming what is wrong with it."""
        if not isinstance(obj, dict):
            raise ValueError("a checkpoint is not an object")
        if set(obj) != _KEYS:
            missing = sorted(_KEYS - set(obj))
            extra = sorted(str(k) for k in set(obj) - _KEYS)
            raise ValueError(
                f"a checkpoint's keys are wrong (missing {missing}, unexpected {extra})"
            )
        version = obj["version"]
        if (
            obj["format"] != CHECKPOINT_FORMAT
            or type(version) is not int
            or version != CHECKPOINT_VERSION
        ):
            raise ValueError(
                f"not a checkpoint of this version ({obj['format']!r}, {obj['version']!r})"
            )
        count, key_id, at = obj["entry_count"], obj["key_id"], obj["at"]
        if type(count) is not int or not 0 < count < _MAX_INT:
            raise ValueError(f"a checkpoint's entry count {count!r} is not a count")
        if type(key_id) is not int or not 0 <= key_id < _MAX_INT:
            raise ValueError(f"a checkpoint's key id {key_id!r} is not an id")
        if type(at) not in (int, float) or not math.isfinite(at) or not 0 <= at < 2**40:
            raise ValueError(f"a checkpoint's time {at!r} is not a time")
        texts = [obj[k] for k in ("session_uuid", "head", "event", "user", "signature")]
        if not all(isinstance(t, str) for t in texts):
            raise ValueError("a checkpoint's texts are not all text")
        if obj["event"] not in _EVENTS:
            raise ValueError(f"a checkpoint's event {obj['event']!r} is unknown")
        try:
            signature = bytes.fromhex(obj["signature"])
        except ValueError:
            raise ValueError("a checkpoint's signature is not hexadecimal") from None
        if len(signature) != 64 or signature.hex() != obj["signature"]:
            raise ValueError("a checkpoint's signature is not 64 bytes in lowercase hexadecimal")
        return cls(
            obj["session_uuid"], count, obj["head"], at, obj["event"], obj["user"], key_id,
            signature,
        )

    def describe(self) -> str:
        return (
            f"the checkpoint written at the {self.event} by {self.user} at {time_text(self.at)} "
            f"({self.entry_count} entries)"
        )


def check_checkpoints(
    checkpoints: Sequence[Checkpoint],
    session_uuid: str,
    hashes: Sequence[str],
    keys: Mapping[int, Sequence[bytes]],
) -> list[str]:
    """The chain (each entry's recomputed hash, in order) against the session's checkpoints,
    each checked with a public key of its key id in ``keys`` (a bundle's and the clinic's may
    both be known): a checkpoint that is not
    validly signed, a chain shorter than a checkpoint (its newest entries were removed), or an
    entry at a checkpoint's count with another hash (the chain was rewritten after it)."""
    problems: list[str] = []
    for cp in sorted(checkpoints, key=lambda c: (c.entry_count, c.at)):
        if cp.session_uuid != session_uuid:
            problems.append(f"{cp.describe()} belongs to another session ({cp.session_uuid})")
            continue
        candidates = keys.get(cp.key_id, ())
        if not candidates:
            problems.append(f"{cp.describe()}: its public key {cp.key_id} is missing")
            continue
        if not any(_signed_by(cp, key) for key in candidates):
            problems.append(f"{cp.describe()}: its signature is invalid")
            continue
        if cp.entry_count > len(hashes):
            removed = cp.entry_count - len(hashes)
            problems.append(
                f"the newest {removed} entries of the record were removed: the chain has "
                f"{len(hashes)} entries, {cp.describe()} holds {cp.entry_count}"
            )
        elif hashes[cp.entry_count - 1] != cp.head:
            problems.append(
                f"chain entry {cp.entry_count - 1} differs from {cp.describe()}: the newest "
                "entries of the record were removed or replaced"
            )
    return problems


def _signed_by(checkpoint: Checkpoint, public_key: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            checkpoint.signature, checkpoint.payload()
        )
    except (InvalidSignature, ValueError):
        return False
    return True
