"""Signed, tamper-evident session records: sign, verify, tamper, bundles, CLI."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from account_helpers import AS_ADMIN, TEST_ADMIN, TEST_ADMIN_PASSWORD, add_account
from cli_runner import katmonitor
from signing_helpers import T0, recorded_session
from sqlalchemy import text

from katmonitor.accounts import AccountStore
from katmonitor.base.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    SessionStateError,
)
from katmonitor.base.samples import Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.record_signing import (
    export_bundle,
    is_signed,
    sign_session,
    verify_bundle,
    verify_session,
)
from katmonitor.records import digests
from katmonitor.session import Route, SessionStatus
from katmonitor.storage import recorded_columns as columns
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
    add_account(accounts, "theo", "therapist", PASSWORD)
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
    with pytest.raises(SessionStateError, match="read-only"):
        store.write_batch([(signed, Sample(T0, "sim", VitalKind.HR, 60.0))], [], [])
    with pytest.raises(SessionStateError):
        store.set_status(signed, SessionStatus.ACTIVE)
    with pytest.raises(SessionStateError, match="already signed"):
        sign_session(store, signed, "nina", PASSWORD)


def test_signature_survives_a_password_reset(store: SessionStore, signed: int) -> None:
    AccountStore(store.database).reset_password("nina", "battery staple", **AS_ADMIN)
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
            "observations row 2 is not in the audit log",
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
    at = T0 + 125.17  # a byte of the point recorded then, in whichever row holds it
    with store.database.engine.begin() as conn:
        block_id, start, rate, data = conn.execute(
            text(
                "SELECT id, start_time, sample_rate_hz, data FROM waveform_blocks "
                f"WHERE start_time <= {at!r} ORDER BY start_time DESC LIMIT 1"
            )
        ).one()
        changed = bytearray(data)
        changed[round((at - start) * rate) * 4 + 1] ^= 0x01
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


def _with_column(bundle: dict, table: str, path: tuple[str, ...], dtype: str, change) -> bytes:
    """The bundle with one base64 column of ``recorded[table]`` decoded, changed, re-encoded."""
    obj = bundle["recorded"][table]
    for key in path[:-1]:
        obj = obj[key]
    array = np.frombuffer(base64.b64decode(obj[path[-1]]), dtype=dtype).copy()
    change(array)
    obj[path[-1]] = base64.b64encode(array.tobytes()).decode()
    return json.dumps(bundle).encode()


def test_bundle_round_trip_and_tampered_bytes(
    store: SessionStore, signed: int, tmp_path: Path
) -> None:
    path = export_bundle(store, signed, tmp_path / "record.json")
    assert verify_bundle(path, trusted_keys_of(store)).ok
    original = path.read_bytes()

    def problems(data: bytes) -> str:
        path.write_bytes(data)
        report = verify_bundle(path, trusted_keys_of(store))
        assert not report.ok
        return "\n".join(report.problems)

    def tampered(old: bytes, new: bytes) -> str:
        assert original.count(old) >= 1
        return problems(original.replace(old, new, 1))

    minute = int((T0 + 61) // 60)
    assert "audit log entry was altered" in tampered(b"LOT123", b"LOT124")

    def bump_value(values: np.ndarray) -> None:
        values[123] += 1.0

    changed = _with_column(
        json.loads(original), "samples", ("numbers", "value", "values"), "<f8", bump_value
    )
    assert f"samples digest mismatch in samples of minute {minute}" in problems(changed)

    def flip_byte(data: np.ndarray) -> None:
        data[61 * 400 + 17] ^= 0x01  # block 61 (T0 + 61 s), 100 float32 points each

    changed = _with_column(
        json.loads(original), "waveform_blocks", ("data", "bytes"), "u1", flip_byte
    )
    assert f"samples digest mismatch in samples of minute {minute}" in problems(changed)

    def swap_ids(ids: np.ndarray) -> None:
        ids[[3, 4]] = ids[[4, 3]]

    changed = _with_column(json.loads(original), "samples", ("ids",), "<i8", swap_ids)
    assert "samples digest mismatch" in problems(changed)
    bundle = json.loads(original)
    bundle["recorded"]["samples"]["streams"][0][0] = "other"
    assert "samples digest mismatch" in problems(json.dumps(bundle).encode())
    bundle = json.loads(original)
    sig_hex = bundle["signature"]["signature"]
    flipped_sig = ("0" if sig_hex[0] != "0" else "1") + sig_hex[1:]
    assert "signature invalid" in tampered(sig_hex.encode(), flipped_sig.encode())
    assert "signature invalid" in tampered(b"Nina Nurse RN", b"Nina Nurse MD")
    assert "not valid JSON" in tampered(b'{"format"', b'{"form"t"')
    bundle = json.loads(original)
    bundle["recorded"]["samples"]["rows"] += 1
    assert "bundle is damaged" in problems(json.dumps(bundle).encode())


def test_cli_sign_verify_and_bundle(sqlite_url: str, tmp_path: Path) -> None:
    database = open_database(sqlite_url)
    try:
        sid = recorded_session(SessionStore(database))
    finally:
        database.close()

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return katmonitor(*args, "--db", sqlite_url, stdin=stdin)

    admin = run("users", "add", "--role", "administrator", TEST_ADMIN, "--password-stdin",
                stdin=TEST_ADMIN_PASSWORD + "\n")
    assert admin.returncode == 0, admin.stderr
    add = run("users", "add", "--role", "nurse", "nina", "--as", TEST_ADMIN, "--password-stdin",
              stdin=f"{TEST_ADMIN_PASSWORD}\n{PASSWORD}\n")
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


# The waveform row holding the point recorded at T0 + 61 (sealed minutes are one row each).
HOLDING_T0_61 = (
    "SELECT id FROM waveform_blocks WHERE start_time <= "
    f"{T0 + 61!r} ORDER BY start_time DESC LIMIT 1"
)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # Stored as text (SQLite keeps what does not look like a number); numpy would read
        # "7_1" as 71.0, the exact read does not.
        (
            f"UPDATE samples SET value = '7_1' WHERE time = {T0 + 61!r} AND kind = 'hr'",
            "samples digest mismatch in samples of minute",
        ),
        (
            f"UPDATE samples SET source = CAST('sim' AS BLOB) WHERE time = {T0 + 61!r}",
            "samples digest mismatch in samples of minute",
        ),
        (
            f"UPDATE samples SET status = 'artifact' WHERE time = {T0 + 61!r} AND kind = 'hr'",
            "samples digest mismatch in samples of minute",
        ),
        (
            f"UPDATE waveform_blocks SET data = 'abc' WHERE id = ({HOLDING_T0_61})",
            "samples digest mismatch in samples of minute",
        ),
        (
            f"UPDATE waveform_blocks SET count = 99 WHERE id = ({HOLDING_T0_61})",
            "samples digest mismatch in samples of minute",
        ),
        (
            f"UPDATE samples SET time = 'soon' WHERE time = {T0 + 61!r} AND kind = 'hr'",
            "its time is not a number (str:'soon')",
        ),
    ],
)
def test_odd_stored_values_are_detected(
    store: SessionStore, signed: int, statement: str, expected: str
) -> None:
    if not store.database.is_sqlite:
        pytest.skip("only SQLite stores a value of another type than its column's")
    _sql(store, statement)
    problems = _problems(store, signed)
    assert expected in problems
    assert f"minute {int((T0 + 61) // 60)}" in problems


def test_fast_and_exact_reads_agree(store: SessionStore) -> None:
    """The fast columnar read and the one-value-at-a-time read give the same columns: with
    NULL values, several streams, status words and rows stored out of time order."""
    sid = recorded_session(store, minutes=2)
    late = [
        (sid, Sample(T0 + 59.5, "oxi", VitalKind.SPO2, None, frozenset({"sensor_off"}))),
        (sid, Sample(T0 + 3.25, "oxi", VitalKind.PULSE_RATE, 61.0, frozenset({"low_pi"}))),
        (sid, Sample(T0 + 70.0, "sim", VitalKind.HR, float("inf"))),
    ]
    blocks = [
        (sid, WaveformBlock(T0 + 0.5, 75.0, "oxi", VitalKind.PLETH, np.arange(30, dtype="f4"))),
    ]
    store.write_batch(late, blocks, [])
    with store.database.engine.connect() as conn:
        fast = [
            columns.read_fast(conn, spec, columns.id_range(conn, spec.table, sid))
            for spec in columns.SPECS.values()
        ]
        exact = [
            columns.read_exact(conn, spec, columns.id_range(conn, spec.table, sid))
            for spec in columns.SPECS.values()
        ]
    assert all(r is not None for r in fast)
    for f, e in zip(fast, exact, strict=True):
        assert f is not None
        np.testing.assert_array_equal(f.ids, e.ids)
        for name in f.numbers:
            np.testing.assert_array_equal(f.numbers[name].values, e.numbers[name].values)
            np.testing.assert_array_equal(f.numbers[name].mask, e.numbers[name].mask)
        assert [f.streams[c] for c in f.codes] == [e.streams[c] for c in e.codes]
        assert f.data == e.data
    assert fast[0].numbers["value"].mask.sum() == 1
    assert digests.minute_digests(*fast) == digests.minute_digests(*exact)


def test_authentication_is_reported_before_the_session_state(store: SessionStore) -> None:
    sid = recorded_session(store)
    store.set_status(sid, SessionStatus.INTERRUPTED)
    with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
        sign_session(store, sid, "nina", "wrong password")
    with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
        sign_session(store, sid, "nobody", PASSWORD)
    with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
        sign_session(store, 999, "nina", "wrong password")
    with pytest.raises(NotFoundError):
        sign_session(store, 999, "nina", PASSWORD)
    store.set_status(sid, SessionStatus.ENDED, T0 + 180)
    AccountStore(store.database).disable_user("nina", **AS_ADMIN)
    with pytest.raises(AuthenticationError, match="disabled"):
        sign_session(store, sid, "nina", PASSWORD)
    assert not is_signed(store, sid)
