"""The signed, tamper-evident session record.

The record is a hash-chained audit log (``audit_entries``, see :mod:`katmonitor.records`)
appended as the session happens, in the same transaction as each write: the session row when
it is created, each status change, every dose, observation, workflow step, device event and
alarm event, and a SHA-256 digest of each minute of samples and waveform blocks once that
minute is complete. Each entry's hash is SHA-256(previous hash + canonical JSON of the entry).

Signing first checks that the stored rows still match the chain (a row changed, added or
deleted outside KAT Monitor makes signing refuse, naming the difference); then the nurse's
Ed25519 key signs a canonical payload naming the session, the chain head, the number of
entries, the digest of the whole record and the signature's own facts (printed name, role,
meaning, time, key id).

After signing the record is read-only; corrections and notes are signed addenda
(:mod:`katmonitor.addenda`) chained after the signed entries.

Verification recomputes everything from the stored rows and says exactly what differs: which
table, row and field; which minute of samples; a broken chain; a bad signature; a tampered
addendum. A bundle file carries the record, the recorded data as columns, the addenda, the
signatures and the public keys, and verifies with no database.
"""

from __future__ import annotations

import hashlib
import json
import math
import time as _time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from katmonitor.access_log import AccessLog, Action, Outcome
from katmonitor.accounts import AccountStore, Role
from katmonitor.addenda import addendum_summary, check_addendum_entry
from katmonitor.base.errors import (
    ConfigurationError,
    PermissionDeniedError,
    SessionStateError,
)
from katmonitor.checkpoints import CheckpointLog, CheckpointWriter, make_checkpoint
from katmonitor.records.bundle import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    Bundle,
    DamagedBundle,
    parse_bundle,
)
from katmonitor.records.checkpoint import SIGNATURE_EVENT, Checkpoint, check_checkpoints
from katmonitor.records.columns import Recorded
from katmonitor.records.entries import (
    ADDENDUM_KIND,
    EVENT_KINDS,
    SESSION_KIND,
    STATUS_KIND,
    Entry,
    canonical,
    describe,
    entry_body,
    row_entry,
    time_text,
)
from katmonitor.records.verification import (
    check_event_rows,
    check_links,
    check_recorded,
    check_session_row,
    recomputed_hashes,
)
from katmonitor.session import SessionStatus
from katmonitor.storage.store import SessionStore
from katmonitor.storage.transaction import Transaction
from katmonitor.trusted_keys import TrustedKeys, key_fingerprint, local_actor

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "DEFAULT_MEANING",
    "VerificationReport",
    "export_bundle",
    "is_signed",
    "key_fingerprint",
    "sign_session",
    "verify_bundle",
    "verify_session",
]

DEFAULT_MEANING = "Monitored and reviewed"
# The record format the signature covers. 2: per-minute digests over packed columns, built at
# signing; 3: digests also cover row ids, text columns as per-row stream hashes; 4: the chain is
# appended as the session happens (entries in the order written, status changes as entries,
# samples digests per seal and minute with the id ranges they cover).
RECORD_FORMAT = 4
OLDER_RECORD_FORMATS = (3, 2)
# Marks a chain completed at signing for a session recorded before events were chained.
SEALED_AT_SIGNING = "sealed_at_signing"
# Chain entry kinds that verification of the record itself understands.
_RECORD_KINDS = {SESSION_KIND, STATUS_KIND, "samples", SEALED_AT_SIGNING, *EVENT_KINDS}


@dataclass
class VerificationReport:
    """What verify found. ``status``: verified; unsigned; invalid (the record, its chain or a
    signature does not hold, or a bundle is damaged); untrusted (everything holds, but a
    signer's key is not one the clinic trusts, or was not valid when it signed)."""

    session: str
    status: str = "unsigned"  # verified | unsigned | invalid | untrusted
    problems: list[str] = field(default_factory=list)
    signer: dict[str, Any] | None = None
    entry_count: int = 0
    notes: list[str] = field(default_factory=list)
    addenda: list[dict[str, Any]] = field(default_factory=list)
    untrusted: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "verified"

    def fail(self, problem: str) -> None:
        self.status = "invalid"
        self.problems.append(problem)

    def distrust(self, reason: str) -> None:
        """A signature that is intact but whose key the clinic does not trust."""
        if self.status in ("verified", "unsigned"):
            self.status = "untrusted"
        self.untrusted.append(reason)

    def lines(self) -> list[str]:
        if self.status == "unsigned":
            return [f"{self.session}: UNSIGNED", *self.problems, *self.notes]
        if self.status == "untrusted":
            return [
                f"{self.session}: NOT TRUSTED ({len(self.untrusted)} signature(s) by keys this "
                "clinic does not trust)",
                *(f"  - {r}" for r in self.untrusted),
                *self.notes,
            ]
        if self.ok:
            s = self.signer or {}
            return [
                f"{self.session}: VERIFIED ({self.entry_count} chain entries)",
                f"signed by {s.get('printed_name')} ({s.get('user')}, {s.get('role')}) "
                f"at {s.get('signed_at_utc')}: {s.get('meaning')}",
                f"key {s.get('key_id')} fingerprint {s.get('key_fingerprint')}",
                *self.notes,
                *(_addendum_line(a) for a in self.addenda),
            ]
        return [f"{self.session}: INVALID ({len(self.problems)} problem(s))"] + [
            f"  - {p}" for p in self.problems + self.untrusted
        ]


def _addendum_line(a: dict[str, Any]) -> str:
    return (
        f"addendum {a.get('id')}: {a.get('kind')} by {a.get('printed_name')} ({a.get('user')}, "
        f"{a.get('role')}) at {a.get('time')}, key {a.get('key_fingerprint')}: {a.get('text')}"
    )


# -- the record against its chain -----------------------------------------------------------------


@dataclass
class Check:
    """A session's stored chain checked against its rows."""

    stored: list[dict[str, Any]]
    hashes: list[str]  # each entry's recomputed hash
    problems: list[str]
    notes: list[str]
    samples: Recorded
    blocks: Recorded

    def head(self, count: int) -> str:
        return self.hashes[count - 1] if 0 < count <= len(self.hashes) else ""


def check_record(tx: Transaction, session_id: int) -> Check:
    """Every stored row against the session's chain, and the chain's own links."""
    session = tx.session_row(session_id)  # NotFoundError for a missing session
    stored = tx.chain.entries(session_id)
    _, problems = check_links(stored)
    problems += check_session_row(stored, session_id, session)
    problems += check_event_rows(stored, tx.chain.event_entries(session_id))
    problems += check_event_rows(stored, tx.addenda.entries(session_id), (ADDENDUM_KIND,))
    samples, blocks = tx.chain.recorded(session_id)
    recording = session["status"] == SessionStatus.ACTIVE.value
    problems += check_recorded(stored, samples, blocks, recording=recording)
    notes = []
    for row in stored:
        if row["kind"] == SEALED_AT_SIGNING:
            notes.append(
                "recorded before KAT Monitor chained events as they happened: "
                "the record was sealed as it stood at signing"
            )
    return Check(stored, recomputed_hashes(stored), problems, notes, samples, blocks)


def record_digest(encoded_entries: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for data in encoded_entries:
        h.update(data)
        h.update(b"\n")
    return h.hexdigest()


def signed_payload(sig: dict[str, Any], record_format: int = RECORD_FORMAT) -> bytes:
    """What the Ed25519 signature covers."""
    return canonical(
        {
            "format": BUNDLE_FORMAT,
            "record_format": record_format,
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


# -- signing ----------------------------------------------------------------------------------


def sign_session(
    store: SessionStore,
    session_id: int,
    user: str,
    password: str,
    meaning: str = DEFAULT_MEANING,
    *,
    seal_unchained: bool = False,
    checkpoints: CheckpointLog | None = None,
) -> dict[str, Any]:
    """Check the record against its chain and sign the chain head; returns the signature's
    facts. A signed checkpoint of the chain head is appended to the checkpoint file
    (``checkpoints``, default :class:`CheckpointLog`) before the signature is stored; a file
    that cannot be written stops signing. The signature (or its refusal) is entered in the
    access log.

    The key is unlocked (one argon2id derivation, which releases the GIL) in another thread
    while this one reads and checks the record; an authentication failure is still what the
    caller hears first, then the role, then the session's state, then any difference between
    the rows and the chain. ``seal_unchained`` completes the chain of a session recorded before
    events were chained as they happened (it is marked as such)."""
    meaning = meaning.strip()
    if not meaning:
        raise ConfigurationError("the signature needs a meaning")
    log = AccessLog(store.database)
    target = f"session {session_id}"
    with (checkpoints or CheckpointLog()).open_for_append() as writer:
        # Lockout and logging of failed unlocks are the accounts' (key_unlocker's) business.
        unlock = AccountStore(store.database).key_unlocker(user)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="katmonitor-unlock") as pool:
            unlocking = pool.submit(unlock, password)
            try:
                sig = _sign(store, session_id, meaning, unlocking.result, seal_unchained, writer)
            except (PermissionDeniedError, SessionStateError) as refused:
                failure = unlocking.exception()
                if failure is not None:
                    raise failure from None
                log.record(user, Action.SIGN, target, Outcome.REFUSED, refused.message)
                raise
            except BaseException:
                failure = unlocking.exception()
                if failure is not None:
                    raise failure from None
                raise
    detail = f"key {sig['key_id']}, {sig['entry_count']} entries"
    log.record(user, Action.SIGN, target, detail=detail)
    return sig


def _sign(
    store: SessionStore,
    session_id: int,
    meaning: str,
    unlocked: Callable[[], Any],
    seal_unchained: bool,
    checkpoints: CheckpointWriter,
) -> dict[str, Any]:
    with store.writing("sign the session", session_id) as tx:
        session = tx.session(session_id)
        signed = tx.signatures.exists(session_id)
        ready = session.status is SessionStatus.ENDED and not signed
        check = check_record(tx, session_id) if ready else None
        signer, key = unlocked()
        if signer.role is not Role.NURSE:
            raise PermissionDeniedError(
                f"{signer.name} is a {signer.role.value}: only nurses may sign dosing sessions"
            )
        if session.status is not SessionStatus.ENDED:
            raise SessionStateError(
                f"session {session_id} is {session.status.value}: end it before signing"
            )
        if signed:
            raise SessionStateError(f"session {session_id} is already signed")
        assert check is not None
        unchained = not any(r["kind"] == SESSION_KIND for r in check.stored)
        if unchained and seal_unchained:
            _seal_unchained(tx, session_id, check)
            check = check_record(tx, session_id)
        if check.problems:
            shown = check.problems[:10]
            more = len(check.problems) - len(shown)
            hint = (
                "it was recorded before KAT Monitor chained events as they happened; "
                f"to seal it as it is now: katmonitor sign {session_id} --seal-unchained"
                if unchained
                else "the stored record was changed outside KAT Monitor; "
                "katmonitor verify shows the same differences"
            )
            raise SessionStateError(
                f"session {session_id} cannot be signed: its record does not match the audit "
                "log:\n  - "
                + "\n  - ".join(shown)
                + (f"\n  (and {more} more)" if more > 0 else ""),
                hint,
            )
        stored = check.stored
        sig = {
            "session_uuid": session.uuid,
            "chain_head": check.head(len(stored)),
            "entry_count": len(stored),
            "record_digest": record_digest(r["entry"].encode() for r in stored),
            "user": signer.name,
            "printed_name": signer.full_name,
            "role": signer.role.value,
            "meaning": meaning,
            "signed_at": round(_time.time(), 3),
            "key_id": key.key_id,
        }
        signature = key.private_key.sign(signed_payload(sig))
        tx.signatures.add(session_id, signer.id, sig, signature)
        # Written before the transaction commits: no signature is stored without its
        # checkpoint. (Should the commit still fail, the checkpoint names a chain head that is
        # stored anyway: signing appends no entry.)
        checkpoints.write(
            make_checkpoint(
                key.private_key, key.key_id, signer.name, SIGNATURE_EVENT, session.uuid,
                sig["entry_count"], sig["chain_head"],
            )
        )
    return {**sig, "signature": signature.hex()}


def _seal_unchained(tx: Transaction, session_id: int, check: Check) -> None:
    """Chain what a session recorded before chaining has not: the session row as it is, its
    event rows, the rest of its recorded data; then mark the chain as completed at signing."""
    held = {(r["kind"], r["row_id"]) for r in check.stored}
    entries = [row_entry(SESSION_KIND, tx.session_row(session_id))]
    entries += [e for e in tx.chain.event_entries(session_id) if (e.kind, e.key) not in held]
    tx.chain.append(session_id, entries)
    tx.chain.seal(session_id, final=True, compact=False)  # its rows stay as recorded
    at = round(_time.time(), 3)
    tx.chain.append(
        session_id,
        [Entry(SEALED_AT_SIGNING, session_id, {"type": SEALED_AT_SIGNING, "at": at})],
    )


# -- verifying --------------------------------------------------------------------------------


def _check_signature(
    report: VerificationReport,
    sig: dict[str, Any],
    public_key: bytes | None,
    hashes: Sequence[str],
    entries: Sequence[dict[str, Any]],
    trusted: TrustedKeys,
    distrust: Callable[[str], None],
) -> None:
    count = sig["entry_count"]
    if count > len(entries):
        report.fail(f"chain has {len(entries)} entries; {count} were signed")
    elif hashes[count - 1 : count] != [sig["chain_head"]]:
        report.fail("chain head does not match the signed chain head")
    for row in entries[count:]:
        if row["kind"] != ADDENDUM_KIND:
            report.fail(
                f"chain entry {row['seq']} ({describe(row['kind'], row['row_id'])}) was "
                "appended after signing (only signed addenda may follow the signature)"
            )
    for row in entries[:count]:
        if row["kind"] == ADDENDUM_KIND:
            report.fail(f"chain entry {row['seq']}: an addendum inside the signed record")
    if record_digest(r["entry"].encode() for r in entries[:count]) != sig["record_digest"]:
        report.fail("record digest does not match the signed record digest")
    if public_key is None:
        report.fail(f"signature: public key {sig['key_id']} is missing")
        return
    try:
        verifier = Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError:
        report.fail(f"signature: public key {sig['key_id']} is not an Ed25519 key")
        return
    intact = _verifies(verifier, sig, RECORD_FORMAT)
    if not intact:
        older = [f for f in OLDER_RECORD_FORMATS if _verifies(verifier, sig, f)]
        report.fail(
            f"signed with record format {older[0]}, which this version of KAT Monitor does "
            f"not check (it checks format {RECORD_FORMAT})"
            if older
            else "signature invalid: the signature, its signer, meaning or time, or the signed "
            "record digest was changed"
        )
    fingerprint = key_fingerprint(public_key)
    report.signer = {
        "user": sig["user"],
        "printed_name": sig["printed_name"],
        "role": sig["role"],
        "meaning": sig["meaning"],
        "signed_at_utc": time_text(sig["signed_at"]),
        "key_id": sig["key_id"],
        "key_fingerprint": fingerprint,
    }
    if intact:
        why = trusted.untrusted_because(public_key, sig["signed_at"], sig["user"])
        if why is not None:
            distrust(
                "signature intact but the signer is not trusted by this clinic: key fingerprint "
                f"{fingerprint} (signed as {sig['printed_name']}, {sig['user']}): {why}"
            )


def _verifies(verifier: Ed25519PublicKey, sig: dict[str, Any], record_format: int) -> bool:
    try:
        verifier.verify(sig["signature"], signed_payload(sig, record_format))
    except (InvalidSignature, ValueError):
        return False
    return True


def _unknown_kinds(report: VerificationReport, stored: Sequence[dict[str, Any]]) -> None:
    for row in stored:
        if row["kind"] not in _RECORD_KINDS | {ADDENDUM_KIND}:
            report.fail(f"chain entry {row['seq']}: unknown kind of entry {row['kind']!r}")


def _check_addenda(
    report: VerificationReport,
    stored: Sequence[dict[str, Any]],
    sig: dict[str, Any],
    keys: dict[int, bytes],
    trusted: TrustedKeys,
    distrust: Callable[[str], None],
) -> None:
    """Each addendum's own signature, the signature it amends, its author's role, and that
    the clinic trusts its author's key (``distrust`` hears why not)."""
    for row in stored:
        if row["kind"] != ADDENDUM_KIND:
            continue
        body = entry_body(row["entry"])
        key = keys.get(_int(body.get("key_id")))
        problems = check_addendum_entry(row["seq"], body, sig["session_uuid"], sig, key)
        for problem in problems:
            report.fail(problem)
        summary = addendum_summary(body)
        summary["key_fingerprint"] = key_fingerprint(key) if key is not None else None
        report.addenda.append(summary)
        if key is not None and not problems:
            created: Any = body.get("created_at")
            at = float(created) if type(created) in (int, float) else -1.0
            why = trusted.untrusted_because(
                key, at if math.isfinite(at) else -1.0, str(body.get("user_name"))
            )
            if why is not None:
                distrust(
                    f"addendum {body.get('id')}: signature intact but its author is not trusted "
                    f"by this clinic: key fingerprint {key_fingerprint(key)} (signed as "
                    f"{body.get('printed_name')}, {body.get('user_name')}): {why}"
                )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return -1


def _addendum_key_ids(stored: Sequence[dict[str, Any]]) -> set[int]:
    return {
        _int(entry_body(r["entry"]).get("key_id")) for r in stored if r["kind"] == ADDENDUM_KIND
    }


def _check_anchors(
    report: VerificationReport,
    session_uuid: str,
    checkpoints: Sequence[Checkpoint],
    hashes: Sequence[str],
    keys: Mapping[int, Sequence[bytes]],
    where: str,
) -> None:
    """The chain against its checkpoints kept outside the database."""
    for problem in check_checkpoints(checkpoints, session_uuid, hashes, keys):
        report.fail(problem)
    if not checkpoints:
        report.notes.append(
            f"no checkpoint of this record's chain head was found ({where}): a removal of its "
            "newest entries could not be checked"
        )


def verify_session(
    store: SessionStore, session_id: int, checkpoints: CheckpointLog | None = None
) -> VerificationReport:
    """Recompute the record from the stored rows; check the signature and the addenda (with
    the database's keys, each valid when it signed) and the chain against the checkpoints in
    the checkpoint file (``checkpoints``, default :class:`CheckpointLog`)."""
    report = VerificationReport(f"session {session_id}")
    log = checkpoints or CheckpointLog()
    with store.reading("verify the session") as tx:
        check = check_record(tx, session_id)
        uuid = tx.session(session_id).uuid
        sig_rows = tx.signatures.of_session(session_id)
        sig = sig_rows[0] if sig_rows else None
        found = log.of_session(uuid)
        key_ids = _addendum_key_ids(check.stored) | {c.key_id for c in found.checkpoints}
        if sig is not None:
            key_ids.add(sig["key_id"])
        keys = tx.keys.public_keys(key_ids)
        trusted = TrustedKeys.of_rows(tx.keys.history())
    report.entry_count = len(check.stored)
    report.notes = check.notes
    where = f"in {log.path}"
    if sig is None:
        report.problems.append("the session has no signature")
        report.problems += check.problems
        if found.checkpoints or found.problems:
            if found.checkpoints:
                report.fail(
                    "the database holds no signature, but the checkpoint file outside it shows "
                    "that this record was signed or amended"
                )
            for problem in found.problems:
                report.fail(problem)
            anchor_keys = {i: [k] for i, k in keys.items()}
            _check_anchors(report, uuid, found.checkpoints, check.hashes, anchor_keys, where)
        return report
    report.status = "verified"
    if len(sig_rows) > 1:
        report.fail(f"the session has {len(sig_rows)} signatures; one was expected")
    for problem in check.problems:
        report.fail(problem)
    _unknown_kinds(report, check.stored)
    # The database is its own trust source: a key it says was not the signer's, or not valid
    # then, means its rows disagree with each other (invalid, not merely untrusted).
    public_key = keys.get(sig["key_id"])
    _check_signature(report, sig, public_key, check.hashes, check.stored, trusted, report.fail)
    _check_addenda(report, check.stored, sig, keys, trusted, report.fail)
    for problem in found.problems:
        report.fail(problem)
    anchor_keys = {i: [k] for i, k in keys.items()}
    _check_anchors(report, uuid, found.checkpoints, check.hashes, anchor_keys, where)
    return report


def is_signed(store: SessionStore, session_id: int) -> bool:
    with store.reading("read the signature") as tx:
        return tx.signatures.exists(session_id)


# -- bundles ----------------------------------------------------------------------------------


def export_bundle(
    store: SessionStore,
    session_id: int,
    path: Path,
    *,
    actor: str | None = None,
    checkpoints: CheckpointLog | None = None,
    write: Callable[[Path, bytes], object] | None = None,
) -> Path:
    """Write the signed record, its recorded data, the signature, the public keys and the
    record's checkpoints (from ``checkpoints``, default :class:`CheckpointLog`) as one JSON
    file, with ``write(path, data)`` (the exports pass their all-or-nothing writer). The export
    is entered in the access log as ``actor``'s (default: the operating system user)."""
    with store.reading("export the signed record") as tx:
        signatures = tx.signatures.of_session(session_id)
        if not signatures:
            tx.session(session_id)  # NotFoundError for a missing session
            raise SessionStateError(
                f"session {session_id} is not signed",
                f"sign it first: katmonitor sign {session_id}",
            )
        sig = signatures[0]
        public_key = tx.keys.public_key(sig["key_id"])
        stored = tx.chain.entries(session_id)
        keys = tx.keys.public_keys(_addendum_key_ids(stored))
        samples, blocks = tx.chain.recorded(session_id)
    found = (checkpoints or CheckpointLog()).of_session(sig["session_uuid"])
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
        "public_key": public_key.hex() if public_key is not None else None,
        "addendum_keys": {str(k): v.hex() for k, v in sorted(keys.items())},
        "checkpoints": [c.to_json() for c in found.checkpoints],
    }
    path = Path(path)
    data = (json.dumps(bundle, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        (write or Path.write_bytes)(path, data)
    except OSError as error:
        raise ConfigurationError(f"cannot write {path}: {error.strerror}") from None
    AccessLog(store.database).record(
        actor or local_actor(), Action.EXPORT, f"session {session_id}", detail=f"bundle {path}"
    )
    return path


# What a bug in a check on a damaged bundle could still raise: reported, never a traceback.
_CHECK_FAILURES = (
    KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError,
)


def verify_bundle(
    path: Path, trusted: TrustedKeys, checkpoints: CheckpointLog | None = None
) -> VerificationReport:
    """Check a bundle file on its own: chain, samples digests, record digest, signature,
    addenda, the chain against its checkpoints (the bundle's, and those of the checkpoint file
    ``checkpoints`` when given), and that each signer's key is one of ``trusted``, valid when
    it signed. A damaged file is reported as such ("bundle is damaged: ..."), never raised."""
    report = VerificationReport(str(path), status="verified")
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        report.fail(f"bundle is damaged: not UTF-8 text (byte {error.start})")
        return report
    try:
        bundle = parse_bundle(text)
    except DamagedBundle as error:
        report.fail(f"bundle is damaged: {error}")
        return report
    report.session = f"{path} (session {bundle.session_id})"
    try:
        _check_bundle(report, bundle, trusted, checkpoints)
    except _CHECK_FAILURES as error:  # a safety net: parse_bundle should have caught it
        report.fail(f"bundle is damaged: it could not be checked ({type(error).__name__})")
    return report


def _check_bundle(
    report: VerificationReport,
    bundle: Bundle,
    trusted: TrustedKeys,
    checkpoints: CheckpointLog | None,
) -> None:
    entries, sig = bundle.entries, bundle.signature
    report.entry_count = len(entries)
    if bundle.version < BUNDLE_VERSION:
        report.notes.append(
            f"bundle version {bundle.version} carries no checkpoints of the chain head"
        )
    _, problems = check_links(entries)
    problems += check_recorded(entries, bundle.samples, bundle.blocks)
    for problem in problems:
        report.fail(problem)
    _unknown_kinds(report, entries)
    hashes = recomputed_hashes(entries)
    _check_signature(report, sig, bundle.public_key, hashes, entries, trusted, report.distrust)
    _check_addenda(report, entries, sig, bundle.addendum_keys, trusted, report.distrust)
    anchors = list(bundle.checkpoints)
    where = "in the bundle"
    if checkpoints is not None:
        found = checkpoints.of_session(sig["session_uuid"])
        held = {json.dumps(c.to_json(), sort_keys=True) for c in anchors}
        anchors += [
            c for c in found.checkpoints if json.dumps(c.to_json(), sort_keys=True) not in held
        ]
        for problem in found.problems:
            report.fail(problem)
        where += f" or in {checkpoints.path}"
    keys: dict[int, list[bytes]] = {i: [k] for i, k in bundle.addendum_keys.items()}
    if bundle.public_key is not None:
        keys.setdefault(sig["key_id"], []).append(bundle.public_key)
    for known in trusted.keys:  # the clinic's own, for its checkpoint file's lines
        keys.setdefault(known.key_id, []).append(known.public_key)
    if bundle.version >= 5 or anchors:
        _check_anchors(report, sig["session_uuid"], anchors, hashes, keys, where)
