"""Signed addenda: corrections (nurses) and notes added to a signed record, each signed by its
author, chained after the signature, checked by verify and carried by bundles."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from account_helpers import AS_ADMIN, add_account
from cli_runner import katmonitor
from signing_helpers import T0, recorded_session
from sqlalchemy import text

from katmonitor.accounts import AccountStore
from katmonitor.addenda import add_addendum, list_addenda
from katmonitor.base.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    SessionStateError,
)
from katmonitor.record_signing import (
    export_bundle,
    sign_session,
    verify_bundle,
    verify_session,
)
from katmonitor.records import entries as chain_entries
from katmonitor.storage import audit_chain
from katmonitor.storage.database import Database, open_database
from katmonitor.storage.store import SessionStore
from katmonitor.trusted_keys import trusted_keys_of

PASSWORD = "correct horse"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    yield db
    db.close()


@pytest.fixture
def store(database: Database) -> SessionStore:
    accounts = AccountStore(database)
    add_account(accounts, "nina", "nurse", PASSWORD, full_name="Nina Nurse RN")
    add_account(accounts, "theo", "therapist", PASSWORD, full_name="Theo Therapist")
    add_account(accounts, "ada", "administrator", PASSWORD)
    add_account(accounts, "tim", "trainee", PASSWORD)
    return SessionStore(database)


@pytest.fixture
def signed(store: SessionStore) -> int:
    sid = recorded_session(store)
    sign_session(store, sid, "nina", PASSWORD)
    return sid


def _problems(store: SessionStore, sid: int) -> str:
    report = verify_session(store, sid)
    assert report.status == "invalid"
    return "\n".join(report.problems)


def test_notes_and_corrections_are_signed_chained_and_verified(
    store: SessionStore, signed: int
) -> None:
    note = add_addendum(store, signed, "theo", PASSWORD, "note", "  Calm at follow-up call.  ")
    fix = add_addendum(store, signed, "nina", PASSWORD, "correction", "The lot was LOT124.")
    admin = add_addendum(store, signed, "ada", PASSWORD, "note", "Chart copied to the REMS file.")
    assert note.text == "Calm at follow-up call." and note.printed_name == "Theo Therapist"
    assert (fix.kind.value, fix.role) == ("correction", "nurse")
    assert [a.id for a in list_addenda(store, signed)] == [note.id, fix.id, admin.id]
    with store.database.engine.connect() as conn:
        chain = audit_chain.chained(conn, signed)
        head = conn.execute(text("SELECT id, chain_head FROM signatures")).one()
    assert [r["kind"] for r in chain[-3:]] == ["addenda"] * 3
    assert (note.amends_signature_id, note.amends_chain_head) == (head[0], head[1])
    report = verify_session(store, signed)
    assert report.ok, report.problems
    assert [(a["kind"], a["user"], a["role"]) for a in report.addenda] == [
        ("note", "theo", "therapist"),
        ("correction", "nina", "nurse"),
        ("note", "ada", "administrator"),
    ]
    lines = "\n".join(report.lines())
    assert "addendum 2: correction by Nina Nurse RN (nina, nurse)" in lines
    # The record itself stays read-only, and a password reset keeps old addenda verifiable.
    with pytest.raises(SessionStateError, match="katmonitor addendum"):
        store.add_observation(signed, time=T0, text="late", author="theo", recorded_at=T0)
    AccountStore(store.database).reset_password("theo", "battery staple", **AS_ADMIN)
    assert verify_session(store, signed).ok


def test_who_may_add_what(store: SessionStore, signed: int) -> None:
    with pytest.raises(PermissionDeniedError, match="trainee"):
        add_addendum(store, signed, "tim", PASSWORD, "note", "I watched.")
    with pytest.raises(PermissionDeniedError, match="a correction may be added by: nurse"):
        add_addendum(store, signed, "theo", PASSWORD, "correction", "The dose was 56 mg.")
    with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
        add_addendum(store, signed, "theo", "not my password", "note", "x")
    with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
        add_addendum(store, signed, "nobody", PASSWORD, "note", "x")
    AccountStore(store.database).disable_user("theo", **AS_ADMIN)
    with pytest.raises(AuthenticationError, match="disabled"):
        add_addendum(store, signed, "theo", PASSWORD, "note", "x")
    with pytest.raises(ConfigurationError, match="unknown kind of addendum"):
        add_addendum(store, signed, "nina", PASSWORD, "remark", "x")
    with pytest.raises(ConfigurationError, match="needs some text"):
        add_addendum(store, signed, "nina", PASSWORD, "note", "   ")
    with pytest.raises(NotFoundError):
        add_addendum(store, 999, "nina", PASSWORD, "note", "x")
    assert list_addenda(store, signed) == []


def test_no_addendum_before_signing(store: SessionStore) -> None:
    sid = recorded_session(store)
    with pytest.raises(SessionStateError, match="not signed") as refused:
        add_addendum(store, sid, "theo", PASSWORD, "note", "Calm.")
    assert "add an observation" in str(refused.value)
    assert list_addenda(store, sid) == []


def _rehash_tail(store: SessionStore, sid: int, replace: tuple[str, str]) -> None:
    """Edit the addendum's row and its chain entry and recompute the chain after the signature:
    everything a database editor could do without the author's key."""
    with store.database.engine.begin() as conn:
        conn.execute(
            text("UPDATE addenda SET text = replace(text, :a, :b)"),
            dict(zip("ab", replace, strict=True)),
        )
        rows = audit_chain.chained(conn, sid)
        prev = chain_entries.GENESIS
        for row in rows:
            entry = row["entry"].replace(*replace) if row["kind"] == "addenda" else row["entry"]
            digest = chain_entries.chain_hash(prev, entry.encode())
            conn.execute(
                text(
                    "UPDATE audit_entries SET entry = :e, prev_hash = :p, hash = :h WHERE id = :i"
                ),
                {"e": entry, "p": prev, "h": digest, "i": row["id"]},
            )
            prev = digest


def test_tampered_addenda_are_named(store: SessionStore, signed: int, tmp_path: Path) -> None:
    add_addendum(store, signed, "theo", PASSWORD, "note", "Calm at follow-up call.")
    assert verify_session(store, signed).ok
    with store.database.engine.begin() as conn:
        conn.execute(text("UPDATE addenda SET text = 'Agitated.'"))
    assert "addenda row 1 changed: text 'Calm at follow-up call.' -> 'Agitated.'" in _problems(
        store, signed
    )
    with store.database.engine.begin() as conn:
        conn.execute(text("UPDATE addenda SET text = 'Calm at follow-up call.'"))
    assert verify_session(store, signed).ok

    _rehash_tail(store, signed, ("Calm", "Agitated"))
    problems = _problems(store, signed)
    assert "addendum 1 (note by theo): signature invalid" in problems
    assert "row 1 changed" not in problems  # row and entry agree; the author's signature tells

    _rehash_tail(store, signed, ("Agitated", "Calm"))
    assert verify_session(store, signed).ok
    with store.database.engine.begin() as conn:
        conn.execute(text("DELETE FROM addenda"))
    assert "addenda row 1 was deleted" in _problems(store, signed)


def test_bundles_carry_addenda(store: SessionStore, signed: int, tmp_path: Path) -> None:
    add_addendum(store, signed, "nina", PASSWORD, "correction", "The lot was LOT124.")
    path = export_bundle(store, signed, tmp_path / "record.json")
    report = verify_bundle(path, trusted_keys_of(store))
    assert report.ok, report.problems
    assert [a["text"] for a in report.addenda] == ["The lot was LOT124."]
    bundle = json.loads(path.read_text())
    entries = bundle["entries"]
    prev = entries[-2]["hash"]
    entry = entries[-1]["entry"].replace("LOT124", "LOT125")
    entries[-1].update(entry=entry, hash=chain_entries.chain_hash(prev, entry.encode()))
    path.write_text(json.dumps(bundle))
    problems = "\n".join(verify_bundle(path, trusted_keys_of(store)).problems)
    assert "addendum 1 (correction by nina): signature invalid" in problems
    del bundle["addendum_keys"]
    path.write_text(json.dumps(bundle))
    assert "bundle is damaged" in "\n".join(verify_bundle(path, trusted_keys_of(store)).problems)


def test_cli_addendum(sqlite_url: str) -> None:
    database = open_database(sqlite_url)
    try:
        store = SessionStore(database)
        accounts = AccountStore(database)
        add_account(accounts, "nina", "nurse", PASSWORD, full_name="Nina Nurse RN")
        add_account(accounts, "theo", "therapist", PASSWORD)
        add_account(accounts, "old", "therapist", PASSWORD)
        accounts.disable_user("old", **AS_ADMIN)
        sid = recorded_session(store)
    finally:
        database.close()

    def run(*args: str, stdin: str = PASSWORD + "\n") -> subprocess.CompletedProcess[str]:
        return katmonitor(*args, "--db", sqlite_url, stdin=stdin)

    note = ("addendum", str(sid), "--user", "theo", "--kind", "note", "--text", "Calm.")
    unsigned = run(*note, "--password-stdin")
    assert unsigned.returncode == 2, unsigned.stderr
    assert "not signed" in unsigned.stderr and "Traceback" not in unsigned.stderr
    sign = run("sign", str(sid), "--user", "nina", "--password-stdin")
    assert sign.returncode == 0, sign.stderr
    wrong = run(*note, "--password-stdin", stdin="nope nope\n")
    assert wrong.returncode == 2 and "wrong password" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    disabled = run(
        "addendum", str(sid), "--user", "old", "--kind", "note", "--text", "x", "--password-stdin"
    )
    assert disabled.returncode == 2 and "disabled" in disabled.stderr
    corr = run(
        "addendum",
        str(sid),
        "--user",
        "theo",
        "--kind",
        "correction",
        "--text",
        "x",
        "--password-stdin",
    )
    assert corr.returncode == 2 and "nurse" in corr.stderr and "Traceback" not in corr.stderr
    added = run(*note, "--password-stdin")
    assert added.returncode == 0, added.stderr
    assert f"addendum 1 (note) to session {sid}" in added.stdout
    show = run("sessions", "show", str(sid))
    assert show.returncode == 0, show.stderr
    assert "addenda: 1" in show.stdout and "note by theo (therapist): Calm." in show.stdout
    shown = json.loads(run("sessions", "show", str(sid), "--json").stdout)
    assert [a["text"] for a in shown["addenda"]] == ["Calm."]
    verify = run("verify", str(sid))
    assert verify.returncode == 0 and "addendum 1: note by theo" in verify.stdout
