"""Signed addenda: corrections and notes added to a signed session record.

After signing, a session's record is read-only. A correction (nurses only) or a note (any
active user but a trainee: nurse, therapist, administrator) is added as an addendum: its own
row in ``addenda``, signed with the author's Ed25519 key over a canonical payload that names
the session, the kind, the text, the author, their printed name and role, the time, and the
signature it amends (its id and the chain head it signed); and appended to the session's
hash-chained audit log after the signed entries. Verification checks each addendum's
signature, its reference and its chain entry, and names one that was tampered with.

Before signing there is nothing to amend: a therapist's note is an observation then.
"""

from __future__ import annotations

import base64
import time as _time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from katmonitor.access_log import AccessLog, Action, Outcome
from katmonitor.accounts import AccountStore, SigningKey
from katmonitor.base.errors import ConfigurationError, PermissionDeniedError, SessionStateError
from katmonitor.checkpoints import CheckpointLog, make_checkpoint
from katmonitor.records.addendum import MAY_ADD, Addendum, AddendumKind, parse_kind
from katmonitor.records.checkpoint import ADDENDUM_EVENT
from katmonitor.records.entries import canonical, entry_body, time_text
from katmonitor.storage.store import SessionStore
from katmonitor.users import Role, User

__all__ = [
    "MAY_ADD",
    "Addendum",
    "AddendumKind",
    "add_addendum",
    "addendum_summary",
    "check_addendum_entry",
    "entry_body",
    "list_addenda",
    "parse_kind",
]

PAYLOAD_FORMAT = "katmonitor-addendum"
MAX_TEXT = 10_000


def signed_payload(session_uuid: str, fields: dict[str, Any]) -> bytes:
    """What the author's Ed25519 signature covers (``fields``: a row of ``addenda`` or its chain
    entry)."""
    return canonical(
        {
            "format": PAYLOAD_FORMAT,
            "session_uuid": session_uuid,
            "kind": fields["kind"],
            "text": fields["text"],
            "user": fields["user_name"],
            "printed_name": fields["printed_name"],
            "role": fields["role"],
            "created_at": fields["created_at"],
            "amends_signature_id": fields["amends_signature_id"],
            "amends_chain_head": fields["amends_chain_head"],
            "key_id": fields["key_id"],
        }
    )


def add_addendum(
    store: SessionStore,
    session_id: int,
    user: str,
    password: str,
    kind: str,
    text: str,
    *,
    checkpoints: CheckpointLog | None = None,
) -> Addendum:
    """Sign and add a correction or note to a signed session; returns it.

    A signed checkpoint of the chain head with the addendum is appended to the checkpoint file
    (``checkpoints``, default :class:`CheckpointLog`), which must be writable; the addendum (or
    its refusal) is entered in the access log.

    Raises ConfigurationError (kind, empty text, checkpoint file), AuthenticationError
    (password, disabled user), PermissionDeniedError (role), NotFoundError (no session) or
    SessionStateError (not signed yet: add an observation instead)."""
    what = parse_kind(kind)
    text = text.strip()
    if not text:
        raise ConfigurationError("an addendum needs some text")
    if len(text) > MAX_TEXT:
        raise ConfigurationError(f"an addendum holds at most {MAX_TEXT} characters")
    log = AccessLog(store.database)
    target = f"session {session_id}"
    with (checkpoints or CheckpointLog()).open_for_append() as writer:
        # A failed unlock counts towards lockout and is logged as an addendum attempt.
        author, key = AccountStore(store.database).key_unlocker(user, Action.ADDENDUM)(password)
        try:
            added, uuid, (count, head) = _add(store, session_id, author, key, what, text)
        except (PermissionDeniedError, SessionStateError) as refused:
            log.record(user, Action.ADDENDUM, target, Outcome.REFUSED, refused.message)
            raise
        # Written once the addendum is committed (the checkpoint counts its chain entry): a
        # failure here is reported, the addendum stays.
        try:
            writer.write(
                make_checkpoint(
                    key.private_key, key.key_id, author.name, ADDENDUM_EVENT, uuid, count, head
                )
            )
        except ConfigurationError as error:
            raise ConfigurationError(
                f"addendum {added.id} was added to session {session_id}, but {error.message}",
                "the record still verifies; its newest entry is not anchored outside the "
                "database",
            ) from None
    log.record(user, Action.ADDENDUM, target, detail=f"addendum {added.id} ({what.value})")
    return added


def _add(
    store: SessionStore,
    session_id: int,
    author: User,
    key: SigningKey,
    what: AddendumKind,
    text: str,
) -> tuple[Addendum, str, tuple[int, str]]:
    """Store and chain the addendum; returns it, the session's uuid and the chain head."""
    if author.role not in MAY_ADD[what]:
        allowed = ", ".join(sorted(r.value for r in MAY_ADD[what]))
        raise PermissionDeniedError(
            f"{author.name} is a {author.role.value}: a {what.value} may be added by: {allowed}"
        )
    with store.writing("add the addendum", session_id) as tx:
        session = tx.session(session_id)
        signatures = tx.signatures.of_session(session_id)
        if not signatures:
            raise SessionStateError(
                f"session {session_id} is not signed: there is no signed record to amend",
                "until it is signed, add an observation to the session instead",
            )
        values: dict[str, Any] = {
            "session_id": session_id,
            "kind": what.value,
            "text": text,
            "user_id": author.id,
            "user_name": author.name,
            "printed_name": author.full_name,
            "role": author.role.value,
            "created_at": round(_time.time(), 3),
            "amends_signature_id": signatures[0]["id"],
            "amends_chain_head": signatures[0]["chain_head"],
            "key_id": key.key_id,
        }
        values["signature"] = key.private_key.sign(signed_payload(session.uuid, values))
        added = tx.addenda.add(values)
        return added, session.uuid, tx.chain.head(session_id)


def list_addenda(store: SessionStore, session_id: int) -> list[Addendum]:
    """The session's addenda in the order they were added."""
    with store.reading("read the addenda") as tx:
        tx.session(session_id)  # NotFoundError for a missing session
        return tx.addenda.of_session(session_id)


# -- checking ---------------------------------------------------------------------------------


def check_addendum_entry(
    seq: int,
    body: dict[str, Any],
    session_uuid: str,
    signature: dict[str, Any],
    public_key: bytes | None,
) -> list[str]:
    """One addendum's chain entry: its signature by its author's key, the signature it amends,
    and that its author's role may add its kind. ``body`` is the entry's JSON (the row as it
    was added; its signature in base64)."""
    who = f"addendum {body.get('id')} ({body.get('kind')} by {body.get('user_name')})"
    problems = []
    try:
        payload = signed_payload(session_uuid, body)
        author_signature = base64.b64decode(body["signature"], validate=True)
    except (KeyError, TypeError, ValueError):
        return [f"chain entry {seq}: {who} is not an addendum of KAT Monitor"]
    if public_key is None:
        problems.append(f"chain entry {seq}: {who}: public key {body.get('key_id')} is missing")
    else:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(author_signature, payload)
        except (InvalidSignature, ValueError):
            problems.append(
                f"chain entry {seq}: {who}: signature invalid (its text, author, kind, time or "
                "reference was changed)"
            )
    if (body.get("amends_signature_id"), body.get("amends_chain_head")) != (
        signature.get("id"),
        signature.get("chain_head"),
    ):
        problems.append(f"chain entry {seq}: {who} does not amend this record's signature")
    try:
        allowed = Role(str(body.get("role"))) in MAY_ADD[AddendumKind(str(body.get("kind")))]
    except ValueError:
        allowed = False
    if not allowed:
        problems.append(f"chain entry {seq}: {who}: a {body.get('role')} may not add that kind")
    return problems


def addendum_summary(body: dict[str, Any]) -> dict[str, Any]:
    """An addendum's chain entry as shown in a verification report."""
    created = body.get("created_at")
    return {
        "id": body.get("id"),
        "kind": body.get("kind"),
        "text": body.get("text"),
        "user": body.get("user_name"),
        "printed_name": body.get("printed_name"),
        "role": body.get("role"),
        "time": time_text(created) if isinstance(created, int | float) else None,
        "key_fingerprint": None,
    }
