"""Keys the clinic trusts and checkpoints of the chain head outside the database: a bundle
verifies only with keys of this clinic valid when they signed; removing the newest entries of
a record together with their chain rows is detected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from account_helpers import AS_ADMIN, add_account
from cli_runner import katmonitor
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from signing_helpers import T0, recorded_session
from sqlalchemy import text

from katmonitor.access_log import AccessLog
from katmonitor.accounts import AccountStore
from katmonitor.addenda import add_addendum
from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.checkpoints import CHECKPOINT_DIR_ENV, CheckpointLog
from katmonitor.record_signing import (
    export_bundle,
    is_signed,
    record_digest,
    sign_session,
    signed_payload,
    verify_bundle,
    verify_session,
)
from katmonitor.records.entries import GENESIS, canonical, chain_hash
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.database import Database, open_database
from katmonitor.storage.store import SessionStore
from katmonitor.trusted_keys import (
    export_trusted_keys,
    key_fingerprint,
    load_trusted_keys,
    trusted_keys_of,
)

PASSWORD = "correct horse"


def _clinic(url: str) -> Database:
    database = open_database(url)
    add_account(AccountStore(database), "nina", "nurse", PASSWORD, full_name="Nina Nurse RN")
    add_account(AccountStore(database), "theo", "therapist", PASSWORD)
    return database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = _clinic(database_url)
    yield db
    db.close()


@pytest.fixture
def store(database: Database) -> SessionStore:
    return SessionStore(database)


@pytest.fixture
def bundle(store: SessionStore, tmp_path: Path) -> Path:
    sid = recorded_session(store)
    sign_session(store, sid, "nina", PASSWORD)
    return export_bundle(store, sid, tmp_path / "bundle.json")


def numerics_only_session(store: SessionStore) -> int:
    """A session with no pleth at all (a Masimo, DF8 or HL7 monitor, or numerics only)."""
    session = store.create_session(
        client_id="C-2",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=T0,
        training=False,
        devices=("sim:normal",),
        workstation="room 2",
    )
    rows = [(session.id, Sample(T0 + i, "sim", VitalKind.HR, 70.0 + i % 3)) for i in range(150)]
    store.write_batch(rows, [], [])
    store.set_status(session.id, SessionStatus.ENDED, T0 + 150)
    return session.id


def forged(bundle: Path, out: Path) -> Path:
    """The bundle with its dose changed, its chain re-hashed and re-signed with a freshly made
    key, whose public half replaces the bundle's; the checkpoints the nurse signed, which no
    longer match, are dropped."""
    data = json.loads(bundle.read_bytes())
    for entry in data["entries"]:
        if entry["kind"] == "dose_events":
            body = json.loads(entry["entry"])
            body["dose_mg"] = 84.0
            entry["entry"] = canonical(body).decode()
    prev = GENESIS
    for entry in data["entries"]:
        entry["prev_hash"] = prev
        entry["hash"] = prev = chain_hash(prev, entry["entry"].encode())
    sig = data["signature"]
    count = sig["entry_count"]
    sig["chain_head"] = data["entries"][count - 1]["hash"]
    sig["record_digest"] = record_digest(e["entry"].encode() for e in data["entries"][:count])
    key = Ed25519PrivateKey.generate()
    sig["signature"] = key.sign(signed_payload(sig)).hex()
    data["public_key"] = key.public_key().public_bytes_raw().hex()
    data["checkpoints"] = []
    out.write_text(json.dumps(data))
    return out


def test_a_genuine_bundle_verifies_with_the_database_and_the_keys_file(
    store: SessionStore, bundle: Path, tmp_path: Path
) -> None:
    assert verify_bundle(bundle, trusted_keys_of(store)).ok
    keys_file, digest, count = export_trusted_keys(store.database, tmp_path / "clinic-keys.json")
    assert count == 3 and len(digest) == 64  # nina, theo and the test administrator
    report = verify_bundle(bundle, load_trusted_keys(keys_file), CheckpointLog())
    assert report.ok, report.problems


def test_a_session_without_pleth_exports_and_verifies(store: SessionStore, tmp_path: Path) -> None:
    sid = numerics_only_session(store)
    sign_session(store, sid, "nina", PASSWORD)
    assert verify_session(store, sid).ok
    path = export_bundle(store, sid, tmp_path / "numerics.json")
    report = verify_bundle(path, trusted_keys_of(store))
    assert report.ok, report.problems


def test_a_bundle_re_signed_with_a_new_key_is_not_trusted(
    store: SessionStore, bundle: Path, tmp_path: Path
) -> None:
    fake = forged(bundle, tmp_path / "forged.json")
    fingerprint = key_fingerprint(bytes.fromhex(json.loads(fake.read_bytes())["public_key"]))
    keys_file, _, _ = export_trusted_keys(store.database, tmp_path / "clinic-keys.json")
    for trusted in (trusted_keys_of(store), load_trusted_keys(keys_file)):
        report = verify_bundle(fake, trusted)
        assert report.status == "untrusted" and not report.ok
        assert not report.problems  # the forgery is intact; only its signer gives it away
        assert (
            "signature intact but the signer is not trusted by this clinic: key fingerprint "
            f"{fingerprint}" in report.untrusted[0]
        )
    # Where the clinic's checkpoint file is, the rewritten chain is also caught.
    report = verify_bundle(fake, trusted_keys_of(store), CheckpointLog())
    assert report.status == "invalid"
    assert "differs from the checkpoint written at the signature by nina" in "\n".join(
        report.problems
    )


def test_a_bundle_from_another_installation_is_not_trusted(
    store: SessionStore, tmp_path: Path
) -> None:
    other = _clinic(f"sqlite:///{tmp_path / 'other.sqlite3'}")  # a nurse of the same name
    try:
        other_store = SessionStore(other)
        sid = recorded_session(other_store)
        sign_session(other_store, sid, "nina", PASSWORD)
        path = export_bundle(other_store, sid, tmp_path / "other.json")
        assert verify_bundle(path, trusted_keys_of(other_store)).ok
    finally:
        other.close()
    report = verify_bundle(path, trusted_keys_of(store))
    assert report.status == "untrusted"
    assert "not one of the keys in this clinic's database" in report.untrusted[0]
    assert report.signer is not None
    assert f"key fingerprint {report.signer['key_fingerprint']}" in report.untrusted[0]


def test_keys_keep_their_history(store: SessionStore, bundle: Path, tmp_path: Path) -> None:
    AccountStore(store.database).reset_password("nina", "battery staple", **AS_ADMIN)
    keys_file, _, count = export_trusted_keys(store.database, tmp_path / "keys.json")
    listed = json.loads(keys_file.read_text())["keys"]
    nina = [k for k in listed if k["user"] == "nina"]
    assert count == 4 and len(nina) == 2
    assert nina[0]["valid_until"] is not None and nina[1]["valid_until"] is None
    assert {"printed_name", "role", "key_id", "fingerprint", "valid_from_utc"} <= set(nina[0])
    # Signed before the reset: the retired key still vouches for it.
    assert verify_bundle(bundle, load_trusted_keys(keys_file)).ok
    (retired,) = [k for k in load_trusted_keys(keys_file).keys
                  if k.user == "nina" and k.valid_until is not None]
    late = retired.valid_until + 60
    why = load_trusted_keys(keys_file).untrusted_because(retired.public_key, late, "nina")
    assert why is not None and "valid from" in why
    why = load_trusted_keys(keys_file).untrusted_because(retired.public_key, late - 61, "theo")
    assert why is not None and "belongs to nina" in why


def test_a_damaged_keys_file_is_a_clear_error(store: SessionStore, tmp_path: Path) -> None:
    keys_file, _, _ = export_trusted_keys(store.database, tmp_path / "keys.json")
    good = keys_file.read_text()
    fingerprint = json.loads(good)["keys"][0]["fingerprint"]
    damaged = [
        good.replace(fingerprint, "0" * 16),
        good[:-20],
        good.replace('"key_id": 1', '"key_id": "1"'),
        good.replace('"katmonitor-trusted-keys"', '"something-else"'),
        "[" * 100_000,
    ]
    for content in damaged:
        keys_file.write_text(content)
        with pytest.raises(ConfigurationError, match=r"is damaged|cannot read"):
            load_trusted_keys(keys_file)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_trusted_keys(tmp_path / "missing.json")


def test_removing_the_newest_addendum_with_its_chain_rows_is_detected(
    store: SessionStore, tmp_path: Path
) -> None:
    sid = recorded_session(store)
    sign_session(store, sid, "nina", PASSWORD)
    add_addendum(store, sid, "theo", PASSWORD, "note", "Calm at the follow-up call")
    add_addendum(store, sid, "nina", PASSWORD, "correction", "The lot was LOT124")
    log = CheckpointLog()
    session_uuid = store.get_session(sid).uuid
    assert len(log.of_session(session_uuid).checkpoints) == 3
    assert verify_session(store, sid).ok
    with store.database.engine.begin() as conn:
        conn.execute(
            text("DELETE FROM audit_entries WHERE session_id = :s AND kind = 'addenda' AND seq = "
                 "(SELECT max(seq) FROM audit_entries WHERE session_id = :s)"),
            {"s": sid},
        )
        conn.execute(text("DELETE FROM addenda WHERE id = (SELECT max(id) FROM addenda)"))
    report = verify_session(store, sid)
    assert report.status == "invalid"
    assert "the newest 1 entries of the record were removed" in "\n".join(report.problems)
    # A bundle exported from the truncated database carries the checkpoints that show it.
    path = export_bundle(store, sid, tmp_path / "truncated.json")
    assert "were removed" in "\n".join(verify_bundle(path, trusted_keys_of(store)).problems)


def test_a_deleted_signature_is_detected(store: SessionStore) -> None:
    sid = recorded_session(store)
    sign_session(store, sid, "nina", PASSWORD)
    with store.database.engine.begin() as conn:
        conn.execute(text("DELETE FROM signatures"))
    report = verify_session(store, sid)
    assert report.status == "invalid"
    assert "holds no signature" in "\n".join(report.problems)


def test_an_edited_checkpoint_is_detected(store: SessionStore) -> None:
    sid = recorded_session(store)
    sign_session(store, sid, "nina", PASSWORD)
    log = CheckpointLog()
    line = json.loads(log.path.read_text())
    line["entry_count"] += 5
    log.path.write_text(json.dumps(line) + "\n")
    problems = "\n".join(verify_session(store, sid).problems)
    assert "its signature is invalid" in problems
    log.path.write_text(log.path.read_text()[:-30] + "\n")
    assert "of the checkpoint file" in "\n".join(verify_session(store, sid).problems)


def test_signing_needs_a_writable_checkpoint_location(
    store: SessionStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = recorded_session(store)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(blocker / "checkpoints"))
    with pytest.raises(ConfigurationError, match="cannot write the checkpoint file"):
        sign_session(store, sid, "nina", PASSWORD)
    assert not is_signed(store, sid)
    monkeypatch.delenv(CHECKPOINT_DIR_ENV)
    sign_session(store, sid, "nina", PASSWORD)
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(blocker / "checkpoints"))
    with pytest.raises(ConfigurationError, match="cannot write the checkpoint file"):
        add_addendum(store, sid, "nina", PASSWORD, "note", "x")


def test_signatures_addenda_and_exports_are_in_the_access_log(
    store: SessionStore, tmp_path: Path
) -> None:
    sid = recorded_session(store)
    sign_session(store, sid, "nina", PASSWORD)
    add_addendum(store, sid, "theo", PASSWORD, "note", "Calm")
    export_bundle(store, sid, tmp_path / "b.json", actor="nina")
    export_trusted_keys(store.database, tmp_path / "keys.json", actor="nina")
    seen = [(e.user, e.action, e.target) for e in AccessLog(store.database).entries()]
    assert ("nina", "sign", f"session {sid}") in seen
    assert ("theo", "addendum", f"session {sid}") in seen
    assert ("nina", "export", f"session {sid}") in seen
    assert ("nina", "export_keys", str(tmp_path / "keys.json")) in seen


def test_cli_export_keys_and_verify_with_trusted_keys(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = _clinic(sqlite_url)
    try:
        sid = numerics_only_session(SessionStore(database))
    finally:
        database.close()

    sign = katmonitor(
        "sign", str(sid), "--user", "nina", "--password-stdin", "--db", sqlite_url,
        stdin=PASSWORD + "\n",
    )
    assert sign.returncode == 0, sign.stderr
    out = tmp_path / "bundle.json"
    export = katmonitor("export", str(sid), "--format", "bundle", "--out", str(out),
                        "--db", sqlite_url)
    assert export.returncode == 0, export.stderr
    keys = tmp_path / "clinic-keys.json"
    exported = katmonitor("users", "export-keys", "--out", str(keys), "--db", sqlite_url)
    assert exported.returncode == 0 and "sha256" in exported.stdout, exported.stderr
    by_db = katmonitor("verify", "--file", str(out), "--db", sqlite_url)
    assert by_db.returncode == 0 and "VERIFIED" in by_db.stdout, by_db.stdout
    by_file = katmonitor("verify", "--file", str(out), "--trusted-keys", str(keys))
    assert by_file.returncode == 0 and "VERIFIED" in by_file.stdout, by_file.stdout
    fake = forged(out, tmp_path / "forged.json")
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "elsewhere"))  # another computer
    refused = katmonitor("verify", "--file", str(fake), "--trusted-keys", str(keys), "--json")
    assert refused.returncode == 4, refused.stdout + refused.stderr
    reasons = json.loads(refused.stdout)["untrusted"]
    assert "signer is not trusted by this clinic: key fingerprint" in reasons[0]
    nothing = katmonitor("verify", "--file", str(out))  # no database here, no keys file
    assert nothing.returncode == 2 and "--trusted-keys" in nothing.stderr
    keys.write_text(keys.read_text().replace('"role": "nurse"', '"role": 5'))
    damaged = katmonitor("verify", "--file", str(out), "--trusted-keys", str(keys))
    assert damaged.returncode == 2 and "is damaged" in damaged.stderr
    helped = katmonitor("verify", "--help")
    assert "4 every signature is intact" in helped.stdout


def test_a_key_the_database_says_was_retired_before_signing_is_refused(
    store: SessionStore,
) -> None:
    sid = recorded_session(store)
    sign_session(store, sid, "nina", PASSWORD)
    with store.database.engine.begin() as conn:
        conn.execute(text("UPDATE user_keys SET retired_at = created_at"))
    report = verify_session(store, sid)
    assert report.status == "invalid"
    assert "the signer is not trusted by this clinic" in "\n".join(report.problems)


def test_a_version_4_bundle_still_verifies_and_says_it_has_no_checkpoints(
    store: SessionStore, bundle: Path, tmp_path: Path
) -> None:
    older = json.loads(bundle.read_bytes())
    older["version"] = 4
    del older["checkpoints"]
    path = tmp_path / "v4.json"
    path.write_text(json.dumps(older))
    report = verify_bundle(path, trusted_keys_of(store))
    assert report.ok, report.problems
    assert any("carries no checkpoints" in n for n in report.notes)
    older["checkpoints"] = []  # a version 4 bundle has no such key
    path.write_text(json.dumps(older))
    assert "unexpected 'checkpoints'" in "\n".join(
        verify_bundle(path, trusted_keys_of(store)).problems
    )
