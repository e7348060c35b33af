"""The audit log is appended as the session happens: every write chains its entry in the same
transaction, minutes of recorded data are sealed once complete, status changes are entries, and
signing refuses a record changed outside KAT Monitor before it was signed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from account_helpers import add_account
from signing_helpers import T0, recorded_session
from sqlalchemy import insert, text

from katmonitor.accounts import AccountStore
from katmonitor.alarms.model import AlarmEvent, Priority
from katmonitor.base.errors import SessionStateError
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.record_signing import is_signed, sign_session, verify_session
from katmonitor.recorder import Recorder
from katmonitor.records import entries as chain_entries
from katmonitor.session import Route, SessionStatus, WorkflowKind
from katmonitor.storage import audit_chain
from katmonitor.storage.database import Database, open_database
from katmonitor.storage.models import BLOCKS
from katmonitor.storage.store import SessionStore

PASSWORD = "correct horse"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    yield db
    db.close()


@pytest.fixture
def store(database: Database) -> SessionStore:
    add_account(AccountStore(database), "nina", "nurse", PASSWORD, full_name="Nina Nurse RN")
    return SessionStore(database)


def _chain(store: SessionStore, sid: int) -> list[tuple[str, int, dict]]:
    with store.database.engine.connect() as conn:
        return [
            (r["kind"], r["row_id"], json.loads(r["entry"]))
            for r in audit_chain.chained(conn, sid)
        ]


def _kinds(store: SessionStore, sid: int) -> list[tuple[str, int]]:
    return [(kind, key) for kind, key, _ in _chain(store, sid)]


def _sql(store: SessionStore, statement: str) -> None:
    with store.database.engine.begin() as conn:
        assert conn.execute(text(statement)).rowcount >= 1


def _new_session(store: SessionStore) -> int:
    return store.create_session(
        client_id="C-9",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=T0,
        training=False,
        devices=("sim:normal",),
        workstation="room 1",
    ).id


def _hr(sid: int, t: float, value: float = 70.0) -> tuple[int, Sample]:
    return (sid, Sample(t, "sim", VitalKind.HR, value))


def _pleth(sid: int, t: float) -> tuple[int, WaveformBlock]:
    return (sid, WaveformBlock(t, 100.0, "sim", VitalKind.PLETH, np.zeros(25, "f4")))


def test_every_write_appends_its_entry_as_it_happens(store: SessionStore) -> None:
    sid = _new_session(store)
    assert _kinds(store, sid) == [("sessions", sid)]
    dose = store.add_dose(
        sid,
        time=T0 + 5,
        medicine="esketamine",
        route=Route.INTRANASAL,
        dose_mg=28,  # an int: the entry holds it as it reads back (28.0)
        unit_count=1,
        lot="LOT1",
        given_by="nina",
        recorded_at=T0 + 6,
    )
    obs = store.add_observation(sid, time=T0 + 9, text="calm", author="nina", recorded_at=T0 + 9)
    step = store.add_workflow_event(
        sid,
        time=T0 + 2,
        kind=WorkflowKind.IDENTITY_CHECK,
        user="nina",
        data={"checked": True},
        recorded_at=T0 + 2,
    )
    alarm = AlarmEvent(T0 + 20, "spo2.low", "spo2", Priority.MEDIUM, "onset", 89.0, 90.0, "low")
    store.write_batch(
        [_hr(sid, T0 + 10), _hr(sid, T0 + 11)],
        [_pleth(sid, T0 + 10)],
        [(sid, DeviceStatus(T0 + 1, "sim", ConnectionState.CONNECTED))],
        [(sid, alarm)],
    )
    chain = _chain(store, sid)
    assert [(k, key) for k, key, _ in chain] == [
        ("sessions", sid),
        ("dose_events", dose.id),
        ("observations", obs.id),
        ("workflow_events", step.id),
        ("device_events", 1),
        ("alarm_events", 1),
    ]  # minute 0 of the samples is not complete yet: no digest
    assert chain[1][2]["dose_mg"] == 28.0 and chain[1][2]["lot"] == "LOT1"
    # Rows waiting for their minute's seal are no difference while the session records.
    assert verify_session(store, sid).problems == ["the session has no signature"]

    store.write_batch([_hr(sid, T0 + 65)], [], [])  # a later minute completes minute 0
    kind, minute, body = _chain(store, sid)[-1]
    assert (kind, minute) == ("samples", int(T0 // 60))
    assert (body["samples"], body["blocks"], body["points"]) == (2, 1, 25)
    store.write_batch([_hr(sid, T0 + 70)], [_pleth(sid, T0 + 70)], [])  # same minute: nothing
    assert len(_chain(store, sid)) == 7

    store.set_status(sid, SessionStatus.INTERRUPTED)
    store.set_status(sid, SessionStatus.ACTIVE)
    store.set_status(sid, SessionStatus.ENDED, T0 + 120)
    tail = _chain(store, sid)[7:]
    assert [(k, key) for k, key, _ in tail] == [
        ("samples", int(T0 // 60) + 1),  # the rest, sealed when the session was interrupted
        ("session_status", sid),
        ("session_status", sid),
        ("session_status", sid),
    ]
    assert [b["status"] for _, _, b in tail[1:]] == ["interrupted", "active", "ended"]
    report = verify_session(store, sid)
    assert report.status == "unsigned" and report.problems == ["the session has no signature"]
    sign_session(store, sid, "nina", PASSWORD)
    assert verify_session(store, sid).ok


def test_rows_of_a_minute_that_come_late_are_a_second_part(store: SessionStore) -> None:
    minute = int(T0 // 60)
    m0 = minute * 60.0
    sid = _new_session(store)
    store.write_batch([_hr(sid, m0 + 1)], [_pleth(sid, m0 + 1)], [])
    store.write_batch([_hr(sid, m0 + 61)], [], [])  # seals minute 0
    store.write_batch([(sid, Sample(m0 + 59, "oxi", VitalKind.SPO2, 96.0))], [], [])  # late
    store.write_batch([_hr(sid, m0 + 121)], [], [])  # seals minute 1 and the late row
    sealed = [(key, b["samples"]) for kind, key, b in _chain(store, sid) if kind == "samples"]
    assert sealed == [(minute, 1), (minute, 1), (minute + 1, 1)]
    store.set_status(sid, SessionStatus.ENDED, m0 + 180)
    sign_session(store, sid, "nina", PASSWORD)
    assert verify_session(store, sid).ok
    _sql(store, "UPDATE samples SET value = 95 WHERE source = 'oxi'")
    problems = verify_session(store, sid).problems
    assert problems == [
        f"chain entry 2 mismatch: samples digest mismatch in samples of minute {minute} "
        "(2025-10-09T08:53:00.000Z)"
    ]


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "UPDATE dose_events SET lot = 'LOT124'",
            "dose_events row 1 changed: lot 'LOT123' -> 'LOT124'",
        ),
        ("UPDATE observations SET text = 'MOAA/S 4'", "observations row 1 changed: text"),
        ("UPDATE alarm_events SET value = 85", "alarm_events row 1 changed: value"),
        ("UPDATE device_events SET state = 'stopped'", "device_events row 1 changed: state"),
        ("UPDATE sessions SET client_id = 'C-2'", "session row 1 changed: client_id"),
        (
            "UPDATE sessions SET ended_at = ended_at + 60",
            "session row 1 changed: ended_at",
        ),
        (
            f"UPDATE samples SET value = 71.5 WHERE time = {T0 + 61!r} AND kind = 'hr'",
            f"samples digest mismatch in samples of minute {int((T0 + 61) // 60)}",
        ),
        (
            f"UPDATE waveform_blocks SET start_time = start_time + 0.5 WHERE start_time = {T0!r}",
            f"samples digest mismatch in samples of minute {int(T0 // 60)}",
        ),
        ("DELETE FROM observations", "observations row 1 was deleted"),
        (
            "INSERT INTO observations (session_id, time, text, author, recorded_at, assessment) "
            f"VALUES (1, {T0}, 'forged', 'x', {T0}, '{{}}')",
            "observations row 2 is not in the audit log",
        ),
        (
            "INSERT INTO samples (session_id, time, source, kind, value, status) "
            f"VALUES (1, {T0 + 30}, 'sim', 'hr', 60, '')",
            "1 sample(s) and 0 waveform block(s) are not in the audit log",
        ),
        (
            "UPDATE audit_entries SET entry = replace(entry, 'LOT123', 'LOT999')",
            "the audit log entry was altered",
        ),
        ("DELETE FROM audit_entries WHERE kind = 'observations'", "is at position"),
    ],
)
def test_signing_refuses_a_record_changed_before_signing(
    store: SessionStore, statement: str, expected: str
) -> None:
    sid = recorded_session(store)
    assert verify_session(store, sid).problems == ["the session has no signature"]
    _sql(store, statement)
    with pytest.raises(SessionStateError, match="does not match the audit log") as refused:
        sign_session(store, sid, "nina", PASSWORD)
    assert expected in str(refused.value)
    assert not is_signed(store, sid)
    unsigned = verify_session(store, sid)
    assert unsigned.status == "unsigned"
    assert any(expected in p for p in unsigned.problems)


def test_recorder_seals_on_its_writer_thread(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealed_on: list[str] = []
    real_seal = audit_chain.seal

    def seal(conn, session_id, *, final):
        sealed_on.append(threading.current_thread().name)
        return real_seal(conn, session_id, final=final)

    monkeypatch.setattr(audit_chain, "seal", seal)
    sid = _new_session(store)
    recorder = Recorder(store, flush_interval_s=0.01)
    recorder.start()
    try:
        for s in range(150):  # 2.5 minutes, submitted from this (a "device") thread
            recorder.submit_sample(sid, Sample(T0 + s, "sim", VitalKind.HR, 70.0))
            recorder.submit_waveform(sid, _pleth(sid, T0 + s)[1])
        assert recorder.seal(sid)
    finally:
        recorder.stop()
    minutes = [key for kind, key, _ in _chain(store, sid) if kind == "samples"]
    assert sorted(set(minutes)) == [int(T0 // 60) + i for i in range(3)]
    assert sealed_on and set(sealed_on) == {"katmonitor-recorder"}
    count = len(_chain(store, sid))
    store.set_status(sid, SessionStatus.ENDED, T0 + 150)  # nothing left for this thread
    assert [k for k, _, _ in _chain(store, sid)[count:]] == ["session_status"]


def test_a_session_recorded_before_chaining_is_sealed_only_when_asked(
    store: SessionStore,
) -> None:
    sid = recorded_session(store)
    _sql(store, f"DELETE FROM audit_entries WHERE session_id = {sid}")
    with pytest.raises(SessionStateError, match="the session row 1 is not in the audit log") as e:
        sign_session(store, sid, "nina", PASSWORD)
    assert "--seal-unchained" in str(e.value)
    sign_session(store, sid, "nina", PASSWORD, seal_unchained=True)
    report = verify_session(store, sid)
    assert report.ok, report.problems
    assert any("sealed as it stood at signing" in note for note in report.notes)


def test_entries_appended_after_signing_are_named(store: SessionStore) -> None:
    sid = recorded_session(store)
    sign_session(store, sid, "nina", PASSWORD)
    with store.database.engine.begin() as conn:
        audit_chain.append(
            conn,
            sid,
            [chain_entries.status_entry(sid, "ended", T0 + 999, T0 + 999)],
        )
    problems = "\n".join(verify_session(store, sid).problems)
    assert "(the status of session 1) was appended after signing" in problems


def test_sealed_minutes_of_realtime_pleth_are_compacted_to_one_row_each(
    store: SessionStore,
) -> None:
    """The real layout: a 25-point pleth block every 0.25 s, one commit each. Once a minute is
    sealed its rows of one stream are one row: every point and time as written, the id of the
    first row, and a record that signs, verifies and names a change to that row."""
    m0 = (int(T0 // 60) + 1) * 60.0  # a whole minute
    sid = _new_session(store)
    rng = np.random.default_rng(7)
    recorder = Recorder(store, flush_interval_s=3600.0)  # commits only when flushed below
    recorder.start()
    written: list[np.ndarray] = []
    try:
        for i in range(3 * 60 * 4):  # 3 minutes of 0.25 s commits
            t = m0 + i * 0.25
            values = rng.normal(size=25).astype(np.float32)
            written.append(values)
            recorder.submit_waveform(sid, WaveformBlock(t, 100.0, "oxi", VitalKind.PLETH, values))
            if i % 4 == 0:
                recorder.submit_sample(sid, Sample(t, "oxi", VitalKind.SPO2, 97.0))
            assert recorder.flush()
        with store.database.engine.connect() as conn:
            # Sealed minutes are compacted; the newest minute is still 0.25 s rows on disk.
            rows = conn.execute(
                text("SELECT count(*) FROM waveform_blocks WHERE session_id = :s"), {"s": sid}
            ).scalar_one()
        assert rows == 2 + 4 * 60
    finally:
        recorder.stop()
    store.set_status(sid, SessionStatus.ENDED, m0 + 180)
    with store.database.engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT id, start_time, count FROM waveform_blocks WHERE session_id = :s "
                "ORDER BY id"
            ),
            {"s": sid},
        ).all()
    assert [(r.start_time, r.count) for r in stored] == [(m0 + 60.0 * k, 6000) for k in range(3)]
    assert stored[0].id == 1  # the first row's id
    wave = store.waveform(sid)
    expected = np.concatenate(written).astype(np.float64)
    np.testing.assert_array_equal(wave.values, expected)
    np.testing.assert_array_equal(wave.times, m0 + np.arange(expected.size) / 100.0)
    assert store.sample_counts(sid) == {"pleth": 18000, "spo2": 180}

    sign_session(store, sid, "nina", PASSWORD)
    assert verify_session(store, sid).ok
    moved = f"UPDATE waveform_blocks SET start_time = start_time + 1e-3 WHERE id = {stored[1].id}"
    _sql(store, moved)
    problems = verify_session(store, sid).problems
    assert problems == [
        f"chain entry {_seq_of_minute(store, sid, int(m0 // 60) + 1)} mismatch: samples digest "
        f"mismatch in samples of minute {int(m0 // 60) + 1} (2025-10-09T08:55:00.000Z)"
    ]


def _seq_of_minute(store: SessionStore, sid: int, minute: int) -> int:
    with store.database.engine.connect() as conn:
        return next(
            r["seq"]
            for r in audit_chain.chained(conn, sid)
            if r["kind"] == "samples" and r["row_id"] == minute
        )


def test_a_session_sealed_at_signing_keeps_its_rows_as_recorded(store: SessionStore) -> None:
    """A session recorded before chaining (no audit entries, 1 s pleth rows written as they
    came) is sealed at signing as it stands: its rows are not compacted."""
    sid = _new_session(store)
    wave = np.arange(100, dtype="<f4")
    with store.database.engine.begin() as conn:
        conn.execute(
            insert(BLOCKS),
            [
                {
                    "session_id": sid,
                    "source": "sim",
                    "kind": "pleth",
                    "start_time": T0 + k,
                    "sample_rate_hz": 100.0,
                    "count": 100,
                    "status": "",
                    "data": wave.tobytes(),
                }
                for k in range(120)
            ],
        )
    _sql(store, f"DELETE FROM audit_entries WHERE session_id = {sid}")
    _sql(store, f"UPDATE sessions SET status = 'ended', ended_at = {T0 + 120!r}")
    sign_session(store, sid, "nina", PASSWORD, seal_unchained=True)
    with store.database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM waveform_blocks")).scalar_one() == 120
    assert verify_session(store, sid).ok
