"""A signed-record bundle's format, read strictly.

A bundle is one JSON file: the chain entries, the recorded data as columns, the signature, the
public keys and (version 5) the checkpoints of the chain head. :func:`parse_bundle` checks
every level of it (keys present and of their type, numbers in range, keys and signatures of
their length, nothing unexpected) and raises :class:`DamagedBundle` naming the first thing that
is wrong, so a damaged file is reported as damaged and never reaches the checks half-read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from katmonitor.records.checkpoint import Checkpoint
from katmonitor.records.columns import BLOCKS_TABLE, SAMPLES_TABLE, Recorded

BUNDLE_FORMAT = "katmonitor-signed-record"
# 3: the recorded data as base64 columns; 4: record format 4's chain, addenda and their keys;
# 5: the checkpoints of the chain head kept outside the database.
BUNDLE_VERSION = 5
# Versions this one still reads (4 carries no checkpoints; verify says so).
READABLE_VERSIONS = (5, 4)
_MAX_INT = 2**53
_ENTRY_KEYS = ("seq", "kind", "row_id", "entry", "prev_hash", "hash")
SIGNATURE_KEYS = (
    "id",
    "session_uuid",
    "chain_head",
    "entry_count",
    "record_digest",
    "user",
    "printed_name",
    "role",
    "meaning",
    "signed_at",
    "key_id",
    "signature",
)
_SIGNATURE_INTS = ("id", "entry_count", "key_id")
_PUBLIC_KEY_BYTES = 32
_SIGNATURE_BYTES = 64


_TOP_KEYS = ("format", "version", "session_id", "entries", "recorded", "signature",
             "public_key", "addendum_keys")


def is_plainly_not_a_bundle(raw: bytes) -> bool:
    """True for a file that is something else altogether (a PDF, a CSV, another JSON file):
    it holds neither the bundle's format name nor most of a bundle's top-level keys. A damaged
    bundle - a byte changed anywhere, a key deleted or its value replaced - still has the rest,
    so it is never taken for "not a bundle" and is reported as damaged."""
    if BUNDLE_FORMAT.encode() in raw:
        return False
    present = sum(f'"{key}"'.encode() in raw for key in _TOP_KEYS)
    return present < len(_TOP_KEYS) // 2


class DamagedBundle(ValueError):
    """The bundle is not a well-formed bundle; the message says where."""


@dataclass(slots=True)
class Bundle:
    version: int
    session_id: int
    entries: list[dict[str, Any]]  # seq, kind, row_id, entry, prev_hash, hash
    samples: Recorded
    blocks: Recorded
    signature: dict[str, Any]  # SIGNATURE_KEYS; "signature" as bytes
    public_key: bytes | None
    addendum_keys: dict[int, bytes]
    checkpoints: list[Checkpoint]


def parse_bundle(text: str) -> Bundle:
    """The bundle in ``text``; DamagedBundle when it is not valid JSON or not a bundle of a
    version this one reads."""
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise DamagedBundle(
            f"not valid JSON at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise DamagedBundle("nested too deeply to be a bundle") from None
    except ValueError as error:  # an integer too long to read, a NaN or Infinity
        raise DamagedBundle(f"not valid JSON: {error}") from None
    top = _object(obj, "the bundle")
    if top.get("format") != BUNDLE_FORMAT:
        found = _short(top.get("format"))
        raise DamagedBundle(f"not a KAT Monitor signed-record bundle (format {found})")
    version = top.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise DamagedBundle(
            f"bundle version {_short(version)} is not one this version of KAT Monitor reads "
            f"({', '.join(map(str, READABLE_VERSIONS))}): export it again with this version"
        )
    keys = ["format", "version", "session_id", "entries", "recorded", "signature"]
    keys += ["public_key", "addendum_keys"] + (["checkpoints"] if version >= 5 else [])
    _exact_keys(top, keys, "the bundle")
    recorded = _object(top["recorded"], "recorded")
    _exact_keys(recorded, [SAMPLES_TABLE, BLOCKS_TABLE], "recorded")
    try:
        samples = Recorded.from_json(recorded[SAMPLES_TABLE])
        blocks = Recorded.from_json(recorded[BLOCKS_TABLE])
    except ValueError as error:
        raise DamagedBundle(f"recorded data: {error}") from None
    if (samples.table, blocks.table) != (SAMPLES_TABLE, BLOCKS_TABLE):
        raise DamagedBundle("recorded data: the tables are mixed up")
    entries = top["entries"]
    if not isinstance(entries, list):
        raise DamagedBundle("entries: not a list")
    public_key = top["public_key"]
    addendum_keys = _object(top["addendum_keys"], "addendum_keys")
    checkpoints = top.get("checkpoints", [])
    if not isinstance(checkpoints, list):
        raise DamagedBundle("checkpoints: not a list")
    try:
        parsed_checkpoints = [Checkpoint.from_json(c) for c in checkpoints]
    except ValueError as error:
        raise DamagedBundle(f"checkpoints: {error}") from None
    return Bundle(
        version=version,
        session_id=_int(top["session_id"], "session_id"),
        entries=[_entry(e, i) for i, e in enumerate(entries)],
        samples=samples,
        blocks=blocks,
        signature=_signature(top["signature"]),
        public_key=(
            None if public_key is None else _hex(public_key, "public_key", _PUBLIC_KEY_BYTES)
        ),
        addendum_keys={
            _int(_digits(k), f"addendum_keys[{k!r}]"): _hex(
                v, f"addendum_keys[{k!r}]", _PUBLIC_KEY_BYTES
            )
            for k, v in addendum_keys.items()
        },
        checkpoints=parsed_checkpoints,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a bundle holds")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _object(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DamagedBundle(f"{where}: expected an object, found {type(obj).__name__}")
    return obj


def _exact_keys(obj: dict[str, Any], keys: list[str] | tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in obj]
    if missing:
        raise DamagedBundle(f"{where}: missing {', '.join(missing)}")
    extra = sorted(_short(k) for k in obj if k not in keys)
    if extra:
        raise DamagedBundle(f"{where}: unexpected {', '.join(extra)}")


def _int(value: Any, where: str) -> int:
    if type(value) is not int or not 0 <= value < _MAX_INT:
        raise DamagedBundle(f"{where}: expected a whole number, found {_short(value)}")
    return value


def _digits(text: str) -> Any:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 17 else text


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise DamagedBundle(f"{where}: expected text, found {type(value).__name__}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise DamagedBundle(f"{where}: holds a character UTF-8 cannot encode") from None
    return value


def _hex(value: Any, where: str, size: int) -> bytes:
    text = _text(value, where)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise DamagedBundle(f"{where}: not hexadecimal") from None
    if len(raw) != size:
        raise DamagedBundle(f"{where}: {len(raw)} bytes, expected {size}")
    if raw.hex() != text:  # as written: lowercase, no spaces (every byte of a bundle counts)
        raise DamagedBundle(f"{where}: not written as KAT Monitor writes hexadecimal")
    return raw


def _entry(obj: Any, i: int) -> dict[str, Any]:
    where = f"entries[{i}]"
    entry = _object(obj, where)
    _exact_keys(entry, _ENTRY_KEYS, where)
    return {
        "seq": _int(entry["seq"], f"{where}.seq"),
        "kind": _text(entry["kind"], f"{where}.kind"),
        "row_id": _int(entry["row_id"], f"{where}.row_id"),
        "entry": _text(entry["entry"], f"{where}.entry"),
        "prev_hash": _text(entry["prev_hash"], f"{where}.prev_hash"),
        "hash": _text(entry["hash"], f"{where}.hash"),
    }


def _signature(obj: Any) -> dict[str, Any]:
    sig = dict(_object(obj, "signature"))
    _exact_keys(sig, SIGNATURE_KEYS, "signature")
    for key in SIGNATURE_KEYS:
        where = f"signature.{key}"
        if key in _SIGNATURE_INTS:
            _int(sig[key], where)
        elif key == "signed_at":
            at = sig[key]
            if type(at) not in (int, float) or not math.isfinite(at) or not 0 <= at < 2**40:
                raise DamagedBundle(f"{where}: expected a time, found {_short(at)}")
        elif key == "signature":
            sig[key] = _hex(sig[key], where, _SIGNATURE_BYTES)
        else:
            _text(sig[key], where)
    if sig["entry_count"] < 1:
        raise DamagedBundle("signature.entry_count: a signature covers at least one entry")
    return sig
