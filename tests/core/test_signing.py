"""Signed, tamper-evident session records: sign, verify, tamper, bundles, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from signing_helpers import T0, recorded_session
from sqlalchemy import text

from katmonitor.accounts import AccountStore
from katmonitor.errors import AuthenticationError, PermissionDeniedError, SessionStateError
from katmonitor.record_signing import export_bundle, sign_session, verify_bundle, verify_session
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.database import Database, open_database
from katmonitor.storage.store import SessionStore

PASSWORD = "correct horse"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    yield db
    db.close()


@pytest.fixture
def store(database: Database) -> SessionStore:
    accounts = AccountStore(database)
    accounts.add_user("nina", "nurse", PASSWORD, full_name="Nina Nurse RN")
    accounts.add_user("theo", "therapist", PASSWORD)
    return SessionStore(database)


@pytest.fixture
def signed(store: SessionStore) -> int:
    sid = recorded_session(store)
    sign_session(store, sid, "nina", PASSWORD)
    return sid


def _sql(store: SessionStore, statement: str, **params: object) -> None:
    with store.database.engine.begin() as conn:
        assert conn.execute(text(statement), params).rowcount >= 1


def _problems(store: SessionStore, sid: int) -> str:
    report = verify_session(store, sid)
    assert not report.ok and report.status == "invalid"
    return "\n".join(report.problems)


def test_sign_and_verify_round_trip(store: SessionStore, signed: int) -> None:
    report = verify_session(store, signed)
    assert report.ok, report.problems
    assert report.signer is not None
    assert report.signer["printed_name"] == "Nina Nurse RN"
    assert report.signer["meaning"] == "Monitored and reviewed"
    assert report.entry_count > 5


def test_unsigned_session_is_reported_unsigned(store: SessionStore) -> None:
    sid = recorded_session(store)
    report = verify_session(store, sid)
    assert report.status == "unsigned" and not report.ok


def test_only_nurses_sign_ended_sessions_with_the_right_password(store: SessionStore) -> None:
    sid = recorded_session(store)
    with pytest.raises(PermissionDeniedError, match="only nurses"):
        sign_session(store, sid, "theo", PASSWORD)
    with pytest.raises(AuthenticationError):
        sign_session(store, sid, "nina", "wrong password")
    store.set_status(sid, SessionStatus.INTERRUPTED)
    with pytest.raises(SessionStateError, match="end it"):
        sign_session(store, sid, "nina", PASSWORD)


def test_signed_record_is_read_only(store: SessionStore, signed: int) -> None:
    with pytest.raises(SessionStateError, match="read-only"):
        store.add_observation(signed, time=T0 + 99, text="late", author="nina", recorded_at=T0)
    with pytest.raises(SessionStateError, match="read-only"):
        store.add_dose(
            signed,
            time=T0,
            medicine="esketamine",
            route=Route.INTRANASAL,
            dose_mg=28,
            unit_count=1,
            lot="X",
            given_by="nina",
            recorded_at=T0,
        )
    from katmonitor.samples import Sample
    from katmonitor.vitals import VitalKind

    with pytest.raises(SessionStateError, match="read-only"):
        store.write_batch([(signed, Sample(T0, "sim", VitalKind.HR, 60.0))], [], [])
    with pytest.raises(SessionStateError):
        store.set_status(signed, SessionStatus.ACTIVE)
    with pytest.raises(SessionStateError, match="already signed"):
        sign_session(store, signed, "nina", PASSWORD)


def test_signature_survives_a_password_reset(store: SessionStore, signed: int) -> None:
    AccountStore(store.database).reset_password("nina", "battery staple")
    assert verify_session(store, signed).ok


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "UPDATE dose_events SET lot = 'LOT124'",
            "dose_events row 1 changed: lot 'LOT123' -> 'LOT124'",
        ),
        ("UPDATE dose_events SET dose_mg = 56", "dose_events row 1 changed: dose_mg"),
        ("UPDATE observations SET text = 'MOAA/S 4'", "observations row 1 changed: text"),
        ("UPDATE alarm_events SET value = 85", "alarm_events row 1 changed: value"),
        ("UPDATE device_events SET state = 'stopped'", "device_events row 1 changed: state"),
        ("UPDATE sessions SET client_id = 'C-2'", "session row 1 changed: client_id"),
        (
            f"UPDATE samples SET value = 71.5 WHERE time = {T0 + 61!r} AND kind = 'hr'",
            "samples digest mismatch in samples of minute",
        ),
        ("DELETE FROM observations", "observations row 1 was deleted"),
        (
            "INSERT INTO observations (session_id, time, text, author, recorded_at) "
            f"VALUES (1, {T0}, 'forged', 'x', {T0})",
            "observations row 2 is not in the signed record",
        ),
        ("UPDATE signatures SET meaning = 'Reviewed'", "signature invalid"),
        ("UPDATE signatures SET printed_name = 'Someone Else'", "signature invalid"),
        ("UPDATE audit_entries SET entry = replace(entry, 'LOT123', 'LOT999')", "audit log entry"),
    ],
)
def test_tampering_is_detected_and_named(
    store: SessionStore, signed: int, statement: str, expected: str
) -> None:
    _sql(store, statement)
    assert expected in _problems(store, signed)


def test_tampered_waveform_byte_names_the_minute(store: SessionStore, signed: int) -> None:
    with store.database.engine.begin() as conn:
        block_id, data = conn.execute(
            text("SELECT id, data FROM waveform_blocks ORDER BY start_time LIMIT 1 OFFSET 125")
        ).one()
        changed = bytearray(data)
        changed[17] ^= 0x01
        conn.execute(
            text("UPDATE waveform_blocks SET data = :d WHERE id = :i"),
            {"d": bytes(changed), "i": block_id},
        )
    minute = int((T0 + 125) // 60)
    assert f"samples of minute {minute}" in _problems(store, signed)


def test_tampered_signature_bytes(store: SessionStore, signed: int) -> None:
    with store.database.engine.begin() as conn:
        sig = bytearray(conn.execute(text("SELECT signature FROM signatures")).scalar_one())
        sig[0] ^= 0x80
        conn.execute(text("UPDATE signatures SET signature = :s"), {"s": bytes(sig)})
    assert "signature invalid" in _problems(store, signed)


def test_bundle_round_trip_and_tampered_bytes(
    store: SessionStore, signed: int, tmp_path: Path
) -> None:
    path = export_bundle(store, signed, tmp_path / "record.json")
    assert verify_bundle(path).ok
    original = path.read_bytes()

    def tampered(old: bytes, new: bytes) -> str:
        assert original.count(old) >= 1
        path.write_bytes(original.replace(old, new, 1))
        report = verify_bundle(path)
        assert not report.ok
        return "\n".join(report.problems)

    assert "audit log entry was altered" in tampered(b"LOT123", b"LOT124")
    assert "samples digest mismatch" in tampered(b'"sim","hr",70.0', b'"sim","hr",71.0')
    bundle = json.loads(original)
    block_b64 = bundle["blocks"][3][6]
    flipped = ("B" if block_b64[0] != "B" else "C") + block_b64[1:]
    assert "samples digest mismatch" in tampered(block_b64.encode(), flipped.encode())
    sig_hex = bundle["signature"]["signature"]
    flipped_sig = ("0" if sig_hex[0] != "0" else "1") + sig_hex[1:]
    assert "signature invalid" in tampered(sig_hex.encode(), flipped_sig.encode())
    assert "signature invalid" in tampered(b"Nina Nurse RN", b"Nina Nurse MD")
    assert "not valid JSON" in tampered(b'{"format"', b'{"form"t"')


def test_cli_sign_verify_and_bundle(sqlite_url: str, tmp_path: Path) -> None:
    database = open_database(sqlite_url)
    try:
        sid = recorded_session(SessionStore(database))
    finally:
        database.close()

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "katmonitor", *args, "--db", sqlite_url],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    add = run("users", "add", "--role", "nurse", "nina", "--password-stdin", stdin=PASSWORD + "\n")
    assert add.returncode == 0, add.stderr
    unsigned = run("verify", str(sid))
    assert unsigned.returncode == 3 and "UNSIGNED" in unsigned.stdout
    wrong = run("sign", str(sid), "--user", "nina", "--password-stdin", stdin="nope nope\n")
    assert wrong.returncode == 2 and "wrong password" in wrong.stderr
    sign = run("sign", str(sid), "--user", "nina", "--password-stdin", stdin=PASSWORD + "\n")
    assert sign.returncode == 0, sign.stderr
    ok = run("verify", str(sid))
    assert ok.returncode == 0 and "VERIFIED" in ok.stdout, ok.stdout + ok.stderr
    out = tmp_path / "bundle.json"
    export = run("export", str(sid), "--format", "bundle", "--out", str(out))
    assert export.returncode == 0, export.stderr
    good = run("verify", "--file", str(out))
    assert good.returncode == 0, good.stdout
    out.write_bytes(out.read_bytes().replace(b"LOT123", b"LOT124", 1))
    bad = run("verify", "--file", str(out))
    assert bad.returncode == 3 and "INVALID" in bad.stdout and "chain entry" in bad.stdout
    database = open_database(sqlite_url)
    try:
        with database.engine.begin() as conn:
            conn.execute(text("UPDATE dose_events SET lot = 'LOT124'"))
    finally:
        database.close()
    tampered = run("verify", str(sid), "--json")
    assert tampered.returncode == 3
    assert any("lot 'LOT123' -> 'LOT124'" in p for p in json.loads(tampered.stdout)["problems"])
