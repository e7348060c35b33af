"""The signed, tamper-evident session record.

At signing, the session's record is sealed into a hash-chained audit log (``audit_entries``):
one entry for the session row, one per dose, observation, workflow step, device event and alarm
event, and one per UTC minute of recorded data holding the SHA-256 of that minute's samples and
waveform blocks (see :mod:`katmonitor.audit_log`). Each entry's hash is SHA-256(previous hash +
canonical JSON of the entry). The nurse's Ed25519 key signs a canonical payload naming the
session, the chain head, the number of entries, the digest of the whole record and the
signature's own facts (printed name, role, meaning, time, key id).

Verification recomputes everything from the stored rows and says exactly what differs: which
table, row and field; which minute of samples; a broken chain; a bad signature. A bundle file
carries the record, the recorded data as columns, the signature and the public key, and
verifies with no database.

Not yet: events are sealed at signing, not appended to the chain as they happen; corrections and
therapist notes as signed addenda come later.
"""

from __future__ import annotations

import hashlib
import json
import math
import time as _time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from katmonitor.accounts import AccountStore, Role
from katmonitor.audit_log import (
    GENESIS,
    SAMPLE_INTERVAL_S,
    Recorded,
    canonical,
    chain_hash,
    minute_digests,
    plain,
    read_recorded,
)
from katmonitor.errors import (
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    SessionStateError,
)
from katmonitor.samples import iso_utc
from katmonitor.session import SessionStatus
from katmonitor.storage.models import AuditEntryRecord, UserKeyRecord
from katmonitor.storage.store import (
    ALARM_EVENTS,
    DEVICE_EVENTS,
    DOSES,
    OBSERVATIONS,
    SESSIONS,
    SIGNATURES,
    WORKFLOW_EVENTS,
    SessionStore,
)

AUDIT = AuditEntryRecord.__table__
USER_KEYS = UserKeyRecord.__table__
EVENT_TABLES = (DOSES, OBSERVATIONS, WORKFLOW_EVENTS, DEVICE_EVENTS, ALARM_EVENTS)

DEFAULT_MEANING = "Monitored and reviewed"
BUNDLE_FORMAT = "katmonitor-signed-record"
# 3: the recorded data as base64 columns (ids, numbers, stream codes, waveform bytes).
BUNDLE_VERSION = 3
# The record format the signature covers. 2: per-minute digests over packed columns;
# 3: digests also cover row ids, text columns as per-row stream hashes; workflow steps chained.
RECORD_FORMAT = 3


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


@dataclass
class Snapshot:
    """The record as it is stored now: entries in chain order, the recorded data, and rows
    that cannot be placed in the record (named)."""

    entries: list[Entry]
    samples: Recorded
    blocks: Recorded
    problems: list[str]


def current_entries(conn: Connection, session_id: int) -> Snapshot:
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
    samples, blocks = read_recorded(conn, session_id)
    digests, problems = minute_digests(samples, blocks)
    entries.extend(Entry("samples", m, d) for m, d in digests.items())
    entries.sort(key=lambda e: e.sort_key)
    return Snapshot(entries, samples, blocks, problems)


def _row_dict(row: Any) -> dict[str, Any]:
    return {k: plain(v) for k, v in row.items()}


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
    """Seal the record into the audit log and sign it; returns the signature's facts.

    The key is unlocked (one argon2id derivation, which releases the GIL) in another thread
    while this one reads the record; an authentication failure is still what the caller hears
    first, then the role, then the session's state."""
    meaning = meaning.strip()
    if not meaning:
        raise ConfigurationError("the signature needs a meaning")
    unlock = AccountStore(store.database).key_unlocker(user)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="katmonitor-unlock") as pool:
        unlocking = pool.submit(unlock, password)
        try:
            return _sign(store, session_id, meaning, unlocking.result)
        except BaseException:
            failure = unlocking.exception()
            if failure is not None:
                raise failure from None
            raise


def _sign(store: SessionStore, session_id: int, meaning: str, unlocked: Any) -> dict[str, Any]:
    with store._writing("sign the session", session_id) as conn:
        session = store._get_session(conn, session_id)
        signed = conn.execute(
            select(SIGNATURES.c.id).where(SIGNATURES.c.session_id == session_id)
        ).first()
        ready = session.status is SessionStatus.ENDED and signed is None
        snapshot = current_entries(conn, session_id) if ready else None
        signer, key = unlocked()
        if signer.role is not Role.NURSE:
            raise PermissionDeniedError(
                f"{signer.name} is a {signer.role.value}: only nurses may sign dosing sessions"
            )
        if session.status is not SessionStatus.ENDED:
            raise SessionStateError(
                f"session {session_id} is {session.status.value}: end it before signing"
            )
        if signed is not None:
            raise SessionStateError(f"session {session_id} is already signed")
        assert snapshot is not None
        if snapshot.problems:
            raise SessionStateError(
                f"session {session_id} cannot be sealed: " + "; ".join(snapshot.problems)
            )
        entries = snapshot.entries
        chained = chain(entries)
        sig = {
            "session_uuid": session.uuid,
            "chain_head": chained[-1][2],
            "entry_count": len(chained),
            "record_digest": record_digest(data for data, _, _ in chained),
            "user": signer.name,
            "printed_name": signer.full_name,
            "role": signer.role.value,
            "meaning": meaning,
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
        snapshot = current_entries(conn, session_id)
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
    _compare_entries(report, stored, snapshot.entries)
    for problem in snapshot.problems:
        report.fail(problem)
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
    """Write the signed record, its recorded data, the signature and the public key as one JSON
    file."""
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
        samples, blocks = read_recorded(conn, session_id)
    bundle = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "session_id": session_id,
        "entries": [
            {k: r[k] for k in ("seq", "kind", "row_id", "entry", "prev_hash", "hash")}
            for r in stored
        ],
        "recorded": {"samples": samples.to_json(), "waveform_blocks": blocks.to_json()},
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
        if bundle.get("version") != BUNDLE_VERSION:
            report.fail(
                f"bundle version {bundle.get('version')!r} is not {BUNDLE_VERSION}: "
                "export it again with this version of KAT Monitor"
            )
            return report
        entries = bundle["entries"]
        sig = dict(bundle["signature"])
        sig["signature"] = bytes.fromhex(sig["signature"])
        public_key = bytes.fromhex(bundle["public_key"]) if bundle["public_key"] else None
        samples = Recorded.from_json(bundle["recorded"]["samples"])
        blocks = Recorded.from_json(bundle["recorded"]["waveform_blocks"])
        if (samples.table, blocks.table) != ("samples", "waveform_blocks"):
            raise ValueError("recorded tables are mixed up")
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
    digests, problems = minute_digests(samples, blocks)
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
    for problem in problems:
        report.fail(problem)
    return report


def write_bundle_export(
    store: SessionStore, session_id: int, out: Path, options: Any
) -> list[Path]:
    """The ``bundle`` format of ``katmonitor export``."""
    return [export_bundle(store, session_id, out)]
