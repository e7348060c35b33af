"""Audit log entries: canonical JSON, the chain hash, and how each kind of entry is named."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from katmonitor.base.samples import iso_utc

GENESIS = "0" * 64
SAMPLE_INTERVAL_S = 60
STATUS_KIND = "session_status"
SESSION_KIND = "sessions"
SAMPLES_KIND = "samples"
# Every kind of event row chained as it is inserted, in the order verify lists them (the
# tables of the same names in storage).
EVENT_KINDS = ("dose_events", "observations", "workflow_events", "device_events", "alarm_events")
ADDENDUM_KIND = "addenda"


def canonical(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8; Python's shortest round-trip floats."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, entry: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + entry).hexdigest()


def plain(value: Any) -> Any:
    """A stored value as JSON: bytes become base64 text."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit log entry: ``kind`` is a table name, "session_status" or "samples"; ``key``
    the row id, the session id or the minute."""

    kind: str
    key: int
    body: dict[str, Any]

    def encoded(self) -> bytes:
        return canonical(self.body)


def row_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A stored row (column name -> value) as JSON values."""
    return {k: plain(v) for k, v in row.items()}


def row_entry(kind: str, row: Mapping[Any, Any]) -> Entry:
    """The entry of a row of table ``kind`` as it reads back from the database."""
    return Entry(kind, int(row["id"]), {"type": kind, **row_dict(row)})


def status_entry(
    session_id: int, status: str, ended_at: float | None, at: float, **why: Any
) -> Entry:
    """A change of the session's status (the session row is updated; the chain is appended).
    ``why``: facts of the change worth keeping, e.g. the reason a nurse gave for closing an
    interrupted session and the time of its last stored data (None values are left out)."""
    body = {"type": STATUS_KIND, "session_id": session_id, "status": status}
    facts = {key: value for key, value in why.items() if value is not None}
    return Entry(
        STATUS_KIND, session_id, {**body, "ended_at": ended_at, "at": round(at, 3), **facts}
    )


def time_text(epoch_s: Any) -> str:
    """ISO-8601 UTC of a time read from a record, or the value itself when it is not a time
    (a damaged record names what it holds rather than failing)."""
    try:
        return iso_utc(epoch_s)
    except (TypeError, ValueError, OverflowError, OSError):
        return repr(epoch_s)


def describe(kind: str, key: int) -> str:
    if kind == SAMPLES_KIND:
        return f"samples of minute {key} ({time_text(key * SAMPLE_INTERVAL_S)})"
    if kind == SESSION_KIND:
        return f"the session row {key}"
    if kind == STATUS_KIND:
        return f"the status of session {key}"
    return f"{kind} row {key}"


def entry_body(text: str) -> dict[str, Any]:
    """A stored entry's JSON object ({} when it is not one)."""
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
