"""The signed, tamper-evident session record.

At signing, the session's record is sealed into a hash-chained audit log (``audit_entries``):
one entry for the session row, one per dose, observation, device event and alarm event, and one
per UTC minute of recorded data holding the SHA-256 of that minute's samples and waveform blocks.
Each entry's hash is SHA-256(previous hash + canonical JSON of the entry). The nurse's Ed25519 key
signs a canonical payload naming the session, the chain head, the number of entries, the digest
of the whole record and the signature's own facts (printed name, role, meaning, time, key id).

Verification recomputes everything from the stored rows and says exactly what differs: which
table, row and field; which minute of samples; a broken chain; a bad signature. A bundle file
carries the record, the samples, the signature and the public key, and verifies with no database.

Not yet: events are sealed at signing, not appended to the chain as they happen; corrections and
therapist notes as signed addenda come later.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import math
import time as _time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.engine import Connection

from katmonitor.accounts import AccountStore, Role
from katmonitor.errors import (
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    SessionStateError,
)
from katmonitor.samples import iso_utc
from katmonitor.session import SessionStatus
from katmonitor.storage.models import (
    AlarmEventRecord,
    AuditEntryRecord,
    DeviceEventRecord,
    DoseEventRecord,
    ObservationRecord,
    UserKeyRecord,
)
from katmonitor.storage.store import BLOCKS, SAMPLES, SESSIONS, SIGNATURES, SessionStore

AUDIT = AuditEntryRecord.__table__
USER_KEYS = UserKeyRecord.__table__
EVENT_TABLES = (
    DoseEventRecord.__table__,
    ObservationRecord.__table__,
    DeviceEventRecord.__table__,
    AlarmEventRecord.__table__,
)

DEFAULT_MEANING = "Monitored and reviewed"
GENESIS = "0" * 64
BUNDLE_FORMAT = "katmonitor-signed-record"
BUNDLE_VERSION = 2
# The record format the signature covers; 2: per-minute digests over packed columns.
RECORD_FORMAT = 2
MINUTE_DIGEST_TAG = b"katmonitor-minute-digest-v2\n"
SAMPLE_INTERVAL_S = 60

SampleRow = tuple[float, str, str, float | None, str]
BlockRow = tuple[float, float, str, str, int, str, bytes]


def canonical(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8; Python's shortest round-trip floats."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, entry: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + entry).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit log entry: ``kind`` is a table name or "samples"; ``key`` its row id or
    minute."""

    kind: str
    key: int
    body: dict[str, Any]

    @property
    def sort_key(self) -> tuple[float, str, int]:
        if self.kind == "sessions":
            return (-math.inf, "", 0)
        t = self.body["minute"] * SAMPLE_INTERVAL_S if self.kind == "samples" else self.body["time"]
        return (t, self.kind, self.key)

    def encoded(self) -> bytes:
        return canonical(self.body)


@dataclass
class VerificationReport:
    session: str
    status: str = "unsigned"  # verified | unsigned | invalid
    problems: list[str] = field(default_factory=list)
    signer: dict[str, Any] | None = None
    entry_count: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "verified"

    def fail(self, problem: str) -> None:
        self.status = "invalid"
        self.problems.append(problem)

    def lines(self) -> list[str]:
        if self.status == "unsigned":
            return [f"{self.session}: UNSIGNED", *self.problems]
        if self.ok:
            s = self.signer or {}
            return [
                f"{self.session}: VERIFIED ({self.entry_count} chain entries)",
                f"signed by {s.get('printed_name')} ({s.get('user')}, {s.get('role')}) "
                f"at {s.get('signed_at_utc')}: {s.get('meaning')}",
                f"key {s.get('key_id')} fingerprint {s.get('key_fingerprint')}",
            ]
        return [f"{self.session}: INVALID ({len(self.problems)} problem(s))"] + [
            f"  - {p}" for p in self.problems
        ]


# -- building the record ----------------------------------------------------------------------


def _minute_bounds(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For times in ascending order: each distinct UTC minute and the [lo, hi) slice it spans."""
    minutes = np.floor_divide(starts, SAMPLE_INTERVAL_S).astype(np.int64)
    if len(minutes) and np.any(minutes[1:] < minutes[:-1]):
        raise ValueError("rows must be in time order")
    cuts = np.flatnonzero(minutes[1:] != minutes[:-1]) + 1
    lo = np.concatenate(([0], cuts)).astype(np.int64) if len(minutes) else np.zeros(0, np.int64)
    hi = np.concatenate((cuts, [len(minutes)])).astype(np.int64) if len(minutes) else lo
    return minutes[lo] if len(minutes) else minutes, lo, hi


def _text_columns(*columns: Sequence[Any]) -> bytes:
    """Some text columns of the same length, each length-prefixed: joined with US when that is
    unambiguous (all text, no US inside), else as canonical JSON (tagged apart)."""
    out = []
    for column in columns:
        try:
            joined = "\x1f".join(column)
        except TypeError:
            joined = None
        if joined is not None and joined.count("\x1f") == max(len(column) - 1, 0):
            data = b"T" + joined.encode("utf-8", "surrogatepass")
        else:
            data = b"J" + json.dumps(list(column), separators=(",", ":")).encode()
        out.append(len(data).to_bytes(8, "little") + data)
    return b"".join(out)


def _values(column: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Sample values as float64 plus a mask (0 number, 1 NULL, 2 not a number: its repr is in
    the last list, which is otherwise all empty strings)."""
    mask = np.fromiter((v is None for v in column), dtype=np.uint8, count=len(column))
    odd = [""] * len(column)
    try:
        values = np.asarray(column, dtype="<f8")  # NULL -> NaN, masked to 0.0 below
    except (TypeError, ValueError, OverflowError):
        values = np.zeros(len(column), dtype="<f8")
        for i, v in enumerate(column):
            if v is None:
                continue
            if isinstance(v, int | float) and not isinstance(v, bool):
                try:
                    values[i] = v
                    continue
                except OverflowError:
                    pass
            mask[i] = 2
            odd[i] = repr(v)
    values[mask != 0] = 0.0
    return values, mask, odd


def minute_digests(samples: Sequence[SampleRow], blocks: Sequence[BlockRow]) -> dict[int, dict]:
    """SHA-256 per UTC minute over the samples then the waveform blocks, each in time order.

    Format 2 hashes packed columns per minute rather than one string per row: every sample's
    time, value (float64 little-endian, with a NULL mask), source, kind and status, and every
    block's start time, rate, count, byte length, source, kind, status and its bytes as stored.
    """
    s_t, s_src, s_kind, s_val, s_stat = zip(*samples, strict=True) if samples else ((),) * 5
    b_t, b_rate, b_src, b_kind, b_count, b_stat, b_data = (
        zip(*blocks, strict=True) if blocks else ((),) * 7
    )
    s_times = np.asarray(s_t, dtype="<f8")
    s_vals, s_mask, s_odd = _values(s_val)
    b_times = np.asarray(b_t, dtype="<f8")
    b_rates = np.asarray(b_rate, dtype="<f8")
    b_counts = np.asarray(b_count, dtype="<i8")
    b_lens = np.fromiter((len(d) for d in b_data), dtype="<i8", count=len(b_data))

    digests: dict[int, dict] = {}
    s_min, s_lo, s_hi = _minute_bounds(s_times)
    b_min, b_lo, b_hi = _minute_bounds(b_times)
    s_at = {int(m): (int(lo), int(hi)) for m, lo, hi in zip(s_min, s_lo, s_hi, strict=True)}
    b_at = {int(m): (int(lo), int(hi)) for m, lo, hi in zip(b_min, b_lo, b_hi, strict=True)}
    for minute in sorted(s_at.keys() | b_at.keys()):
        h = hashlib.sha256(MINUTE_DIGEST_TAG)
        lo, hi = s_at.get(minute, (0, 0))
        h.update(b"S" + (hi - lo).to_bytes(8, "little"))
        h.update(s_times[lo:hi].tobytes())
        h.update(s_vals[lo:hi].tobytes())
        h.update(s_mask[lo:hi].tobytes())
        h.update(_text_columns(s_src[lo:hi], s_kind[lo:hi], s_stat[lo:hi], s_odd[lo:hi]))
        n_samples = hi - lo
        lo, hi = b_at.get(minute, (0, 0))
        h.update(b"B" + (hi - lo).to_bytes(8, "little"))
        h.update(b_times[lo:hi].tobytes())
        h.update(b_rates[lo:hi].tobytes())
        h.update(b_counts[lo:hi].tobytes())
        h.update(b_lens[lo:hi].tobytes())
        h.update(_text_columns(b_src[lo:hi], b_kind[lo:hi], b_stat[lo:hi]))
        h.update(b"".join(b_data[lo:hi]))
        digests[minute] = {
            "type": "samples",
            "minute": minute,
            "samples": n_samples,
            "blocks": hi - lo,
            "points": int(b_counts[lo:hi].sum()),
            "sha256": h.hexdigest(),
        }
    return digests


def _rows_query(table: Any, columns: Sequence[Any]) -> Any:
    """The session's rows in id order. ``session_id + 0`` and the id range make SQLite walk the
    table in rowid order (no index lookup per row, no sort); rows are put in time order after."""
    sid = bindparam("sid")
    inner = table.alias("ids")
    return (
        select(table.c.id, *columns)
        .where(
            (table.c.session_id + 0) == sid,
            table.c.id.between(
                select(func.min(inner.c.id)).where(inner.c.session_id == sid).scalar_subquery(),
                select(func.max(inner.c.id)).where(inner.c.session_id == sid).scalar_subquery(),
            ),
        )
        .order_by(table.c.id)
    )


_SAMPLE_QUERY = _rows_query(
    SAMPLES, (SAMPLES.c.time, SAMPLES.c.source, SAMPLES.c.kind, SAMPLES.c.value, SAMPLES.c.status)
)
_BLOCK_QUERY = _rows_query(
    BLOCKS,
    (
        BLOCKS.c.start_time,
        BLOCKS.c.sample_rate_hz,
        BLOCKS.c.source,
        BLOCKS.c.kind,
        BLOCKS.c.count,
        BLOCKS.c.status,
        BLOCKS.c.data,
    ),
)


def _raw_rows(conn: Connection, statement: Any, session_id: int) -> list[tuple]:
    """Rows straight from the DBAPI cursor (no SQLAlchemy row objects), in the open transaction.

    The statement is compiled for the connection's dialect, so quoting and the driver's
    parameter style stay SQLAlchemy's business."""
    compiled = statement.compile(dialect=conn.dialect)
    params = compiled.construct_params({"sid": session_id})
    if compiled.positional:
        args: Any = tuple(params[name] for name in compiled.positiontup or ())
    else:
        args = params
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        return cursor.fetchall()
    finally:
        cursor.close()


def _in_time_order(rows: list[tuple]) -> list[tuple]:
    """Rows (id, time, ...) in id order -> rows without the id in (time, id) order."""
    times = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    if len(times) < 2 or bool(np.all(times[1:] >= times[:-1])):
        return [r[1:] for r in rows]
    return [rows[i][1:] for i in np.argsort(times, kind="stable").tolist()]


def _read_samples(conn: Connection, session_id: int) -> tuple[list[SampleRow], list[BlockRow]]:
    """The session's samples and waveform blocks, each in (time, id) order."""
    with _no_gc():  # ~60k fresh tuples would trigger several needless full collections
        return (
            _in_time_order(_raw_rows(conn, _SAMPLE_QUERY, session_id)),
            _in_time_order(_raw_rows(conn, _BLOCK_QUERY, session_id)),
        )


@contextmanager
def _no_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def current_entries(conn: Connection, session_id: int) -> list[Entry]:
    """The record as it is stored now, in chain order."""
    session = conn.execute(select(SESSIONS).where(SESSIONS.c.id == session_id)).mappings().first()
    if session is None:
        raise NotFoundError(f"no session {session_id}")
    entries = [Entry("sessions", session_id, {"type": "sessions", **_row_dict(session)})]
    for table in EVENT_TABLES:
        rows = conn.execute(
            select(table).where(table.c.session_id == session_id).order_by(table.c.id)
        ).mappings()
        entries.extend(
            Entry(table.name, r["id"], {"type": table.name, **_row_dict(r)}) for r in rows
        )
    samples, blocks = _read_samples(conn, session_id)
    with _no_gc():
        digests = minute_digests(samples, blocks)
    entries.extend(Entry("samples", m, d) for m, d in digests.items())
    entries.sort(key=lambda e: e.sort_key)
    return entries


def _row_dict(row: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row.items()}


def chain(entries: Sequence[Entry]) -> list[tuple[bytes, str, str]]:
    """(canonical entry, previous hash, hash) for each entry."""
    out = []
    prev = GENESIS
    for entry in entries:
        data = entry.encoded()
        digest = chain_hash(prev, data)
        out.append((data, prev, digest))
        prev = digest
    return out


def record_digest(encoded_entries: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for data in encoded_entries:
        h.update(data)
        h.update(b"\n")
    return h.hexdigest()


def signed_payload(sig: dict[str, Any]) -> bytes:
    """What the Ed25519 signature covers."""
    return canonical(
        {
            "format": BUNDLE_FORMAT,
            "record_format": RECORD_FORMAT,
            "session_uuid": sig["session_uuid"],
            "chain_head": sig["chain_head"],
            "entry_count": sig["entry_count"],
            "record_digest": sig["record_digest"],
            "user": sig["user"],
            "printed_name": sig["printed_name"],
            "role": sig["role"],
            "meaning": sig["meaning"],
            "signed_at": sig["signed_at"],
            "key_id": sig["key_id"],
        }
    )


def key_fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


# -- signing ----------------------------------------------------------------------------------


def sign_session(
    store: SessionStore,
    session_id: int,
    user: str,
    password: str,
    meaning: str = DEFAULT_MEANING,
) -> dict[str, Any]:
    """Seal the record into the audit log and sign it; returns the signature's facts."""
    if not meaning.strip():
        raise ConfigurationError("the signature needs a meaning")
    accounts = AccountStore(store.database)
    key = accounts.unlock_signing_key(user, password)  # authenticates first
    signer = accounts.get_user(user)
    if signer.role is not Role.NURSE:
        raise PermissionDeniedError(
            f"{user} is a {signer.role.value}: only nurses may sign dosing sessions"
        )
    session = store.get_session(session_id)
    if session.status is not SessionStatus.ENDED:
        raise SessionStateError(
            f"session {session_id} is {session.status.value}: end it before signing"
        )
    with store._writing("sign the session", session_id) as conn:
        if conn.execute(
            select(SIGNATURES.c.id).where(SIGNATURES.c.session_id == session_id)
        ).first():
            raise SessionStateError(f"session {session_id} is already signed")
        entries = current_entries(conn, session_id)
        chained = chain(entries)
        sig = {
            "session_uuid": session.uuid,
            "chain_head": chained[-1][2],
            "entry_count": len(chained),
            "record_digest": record_digest(data for data, _, _ in chained),
            "user": signer.name,
            "printed_name": signer.full_name,
            "role": signer.role.value,
            "meaning": meaning.strip(),
            "signed_at": round(_time.time(), 3),
            "key_id": key.key_id,
        }
        signature = key.private_key.sign(signed_payload(sig))
        conn.execute(
            insert(AUDIT),
            [
                {
                    "session_id": session_id,
                    "seq": seq,
                    "kind": entry.kind,
                    "row_id": entry.key,
                    "entry": data.decode(),
                    "prev_hash": prev,
                    "hash": digest,
                }
                for seq, (entry, (data, prev, digest)) in enumerate(
                    zip(entries, chained, strict=True)
                )
            ],
        )
        conn.execute(
            insert(SIGNATURES).values(
                session_id=session_id,
                user_id=signer.id,
                user_name=sig["user"],
                printed_name=sig["printed_name"],
                role=sig["role"],
                meaning=sig["meaning"],
                signed_at=sig["signed_at"],
                key_id=key.key_id,
                signature=signature,
                chain_head=sig["chain_head"],
                entry_count=sig["entry_count"],
                record_digest=sig["record_digest"],
            )
        )
    return {**sig, "signature": signature.hex()}


# -- verifying --------------------------------------------------------------------------------


def _describe(kind: str, key: int) -> str:
    if kind == "samples":
        return f"samples of minute {key} ({iso_utc(key * SAMPLE_INTERVAL_S)})"
    if kind == "sessions":
        return f"the session row {key}"
    return f"{kind} row {key}"


def _check_chain(report: VerificationReport, stored: Sequence[dict[str, Any]]) -> str:
    """Check each stored entry's links and hash; returns the recomputed head."""
    prev = GENESIS
    for row in stored:
        seq = row["seq"]
        what = _describe(row["kind"], row["row_id"])
        if row["prev_hash"] != prev:
            report.fail(f"chain entry {seq} ({what}): link to the previous entry is broken")
        digest = chain_hash(prev, row["entry"].encode())
        if digest != row["hash"]:
            report.fail(f"chain entry {seq} ({what}): the audit log entry was altered")
        prev = digest
    return prev


def _check_signature(
    report: VerificationReport, sig: dict[str, Any], public_key: bytes | None, head: str, count: int
) -> None:
    if head != sig["chain_head"]:
        report.fail("chain head does not match the signed chain head")
    if count != sig["entry_count"]:
        report.fail(f"chain has {count} entries; {sig['entry_count']} were signed")
    if public_key is None:
        report.fail(f"signature: public key {sig['key_id']} is missing")
        return
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(sig["signature"], signed_payload(sig))
    except (InvalidSignature, ValueError):
        report.fail(
            "signature invalid: the signature, its signer, meaning or time, or the signed "
            "record digest was changed"
        )
    report.signer = {
        "user": sig["user"],
        "printed_name": sig["printed_name"],
        "role": sig["role"],
        "meaning": sig["meaning"],
        "signed_at_utc": iso_utc(sig["signed_at"]),
        "key_id": sig["key_id"],
        "key_fingerprint": key_fingerprint(public_key),
    }


def _compare_entries(
    report: VerificationReport, stored: Sequence[dict[str, Any]], current: Sequence[Entry]
) -> None:
    now = {(e.kind, e.key): e for e in current}
    seen = set()
    for row in stored:
        ident = (row["kind"], row["row_id"])
        seen.add(ident)
        what = _describe(*ident)
        entry = now.get(ident)
        if entry is None:
            report.fail(f"chain entry {row['seq']} mismatch: {what} was deleted")
            continue
        if entry.encoded().decode() == row["entry"]:
            continue
        if row["kind"] == "samples":
            report.fail(f"chain entry {row['seq']} mismatch: samples digest mismatch in {what}")
            continue
        try:
            signed = json.loads(row["entry"])
        except ValueError:
            signed = {}
        changed = sorted(
            k for k in set(signed) | set(entry.body) if signed.get(k) != entry.body.get(k)
        )
        details = (
            ", ".join(f"{k} {signed.get(k)!r} -> {entry.body.get(k)!r}" for k in changed)
            or "content changed"
        )
        report.fail(f"chain entry {row['seq']} mismatch: {what} changed: {details}")
    for ident, _entry in now.items():
        if ident not in seen:
            report.fail(f"{_describe(*ident)} is not in the signed record (added after signing)")


def verify_session(store: SessionStore, session_id: int) -> VerificationReport:
    report = VerificationReport(f"session {session_id}")
    with store._reading("verify the session") as conn:
        current = current_entries(conn, session_id)
        sig_rows = (
            conn.execute(select(SIGNATURES).where(SIGNATURES.c.session_id == session_id))
            .mappings()
            .all()
        )
        if not sig_rows:
            report.problems.append("the session has no signature")
            return report
        stored = [
            dict(r)
            for r in conn.execute(
                select(AUDIT).where(AUDIT.c.session_id == session_id).order_by(AUDIT.c.seq)
            ).mappings()
        ]
        report.status = "verified"
        if len(sig_rows) > 1:
            report.fail(f"the session has {len(sig_rows)} signatures; one was expected")
        row = sig_rows[0]
        sig = _signature_dict(row, conn)
        public_key = conn.scalar(
            select(USER_KEYS.c.public_key).where(USER_KEYS.c.id == row["key_id"])
        )
    report.entry_count = len(stored)
    head = _check_chain(report, stored)
    if record_digest(r["entry"].encode() for r in stored) != sig["record_digest"]:
        report.fail("record digest does not match the signed record digest")
    _check_signature(
        report, sig, bytes(public_key) if public_key is not None else None, head, len(stored)
    )
    _compare_entries(report, stored, current)
    return report


def _signature_dict(row: Any, conn: Connection) -> dict[str, Any]:
    uuid = conn.scalar(select(SESSIONS.c.uuid).where(SESSIONS.c.id == row["session_id"]))
    return {
        "session_uuid": uuid,
        "chain_head": row["chain_head"],
        "entry_count": row["entry_count"],
        "record_digest": row["record_digest"],
        "user": row["user_name"],
        "printed_name": row["printed_name"],
        "role": row["role"],
        "meaning": row["meaning"],
        "signed_at": row["signed_at"],
        "key_id": row["key_id"],
        "signature": bytes(row["signature"]),
    }


def is_signed(store: SessionStore, session_id: int) -> bool:
    with store._reading("read the signature") as conn:
        return (
            conn.execute(
                select(SIGNATURES.c.id).where(SIGNATURES.c.session_id == session_id)
            ).first()
            is not None
        )


# -- bundles ----------------------------------------------------------------------------------


def export_bundle(store: SessionStore, session_id: int, path: Path) -> Path:
    """Write the signed record, its samples, the signature and the public key as one JSON file."""
    with store._reading("export the signed record") as conn:
        row = (
            conn.execute(select(SIGNATURES).where(SIGNATURES.c.session_id == session_id))
            .mappings()
            .first()
        )
        if row is None:
            store.get_session(session_id)  # NotFoundError for a missing session
            raise SessionStateError(
                f"session {session_id} is not signed",
                f"sign it first: katmonitor sign {session_id}",
            )
        sig = _signature_dict(row, conn)
        public_key = conn.scalar(
            select(USER_KEYS.c.public_key).where(USER_KEYS.c.id == row["key_id"])
        )
        stored = (
            conn.execute(
                select(AUDIT).where(AUDIT.c.session_id == session_id).order_by(AUDIT.c.seq)
            )
            .mappings()
            .all()
        )
        samples, blocks = _read_samples(conn, session_id)
    bundle = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "session_id": session_id,
        "entries": [
            {k: r[k] for k in ("seq", "kind", "row_id", "entry", "prev_hash", "hash")}
            for r in stored
        ],
        "samples": [list(s) for s in samples],
        "blocks": [[*b[:6], base64.b64encode(b[6]).decode()] for b in blocks],
        "signature": {**sig, "signature": sig["signature"].hex()},
        "public_key": bytes(public_key).hex() if public_key is not None else None,
    }
    path = Path(path)
    try:
        path.write_text(json.dumps(bundle, separators=(",", ":")) + "\n", encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot write {path}: {error.strerror}") from None
    return path


def verify_bundle(path: Path) -> VerificationReport:
    """Check a bundle file on its own: chain, samples digests, record digest, signature."""
    report = VerificationReport(str(path), status="verified")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        report.fail(f"bundle is not UTF-8 text (byte {error.start})")
        return report
    try:
        bundle = json.loads(text)
        if bundle.get("format") != BUNDLE_FORMAT:
            report.fail(f"not a KAT Monitor signed-record bundle (format {bundle.get('format')!r})")
            return report
        entries = bundle["entries"]
        sig = dict(bundle["signature"])
        sig["signature"] = bytes.fromhex(sig["signature"])
        public_key = bytes.fromhex(bundle["public_key"]) if bundle["public_key"] else None
        samples = [tuple(s) for s in bundle["samples"]]
        blocks = [(*b[:6], base64.b64decode(b[6], validate=True)) for b in bundle["blocks"]]
    except json.JSONDecodeError as error:
        report.fail(
            f"bundle is damaged: not valid JSON at line {error.lineno} column {error.colno}"
        )
        return report
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        report.fail(f"bundle is damaged: {type(error).__name__}: {error}")
        return report
    report.session = f"{path} (session {bundle.get('session_id')})"
    report.entry_count = len(entries)
    head = _check_chain(report, entries)
    if record_digest(e["entry"].encode() for e in entries) != sig["record_digest"]:
        report.fail("record digest does not match the signed record digest")
    _check_signature(report, sig, public_key, head, len(entries))
    digests = minute_digests(samples, blocks)
    signed_minutes = {}
    for e in entries:
        if e["kind"] != "samples":
            continue
        signed_minutes[e["row_id"]] = e["seq"]
        now = digests.get(e["row_id"])
        if now is None or canonical(now).decode() != e["entry"]:
            report.fail(
                f"chain entry {e['seq']} mismatch: samples digest mismatch in "
                f"{_describe('samples', e['row_id'])}"
            )
    for minute in digests:
        if minute not in signed_minutes:
            report.fail(f"{_describe('samples', minute)} is not in the signed record")
    return report


def write_bundle_export(
    store: SessionStore, session_id: int, out: Path, options: Any
) -> list[Path]:
    """The ``bundle`` format of ``katmonitor export``."""
    return [export_bundle(store, session_id, out)]
