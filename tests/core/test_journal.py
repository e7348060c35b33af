"""The write-ahead journal: data the database cannot take (here: locked by another program)
is kept on local disk, survives the process, and is written back once, in order, by the next
start; a failing database is a technical alarm at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from katmonitor.alarms.model import AlarmEvent, Priority
from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.journal import Journal, journal_path, replay_journal
from katmonitor.recorder import Recorder
from katmonitor.session import Route
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore
from katmonitor.workstation import Workstation

T0 = 1_760_000_000.0


@contextmanager
def locked(db_path: Path) -> Iterator[None]:
    """Another program holds the database's write lock (a real SQLite lock, not a mock)."""
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "clinic.sqlite3"


def _url(db_path: Path) -> str:
    return f"sqlite:///{db_path}?timeout=0.05"  # a lock fails fast instead of after 5 s


def _session(store: SessionStore) -> int:
    return store.create_session(
        client_id="C-1", medicine="esketamine", route=Route.INTRANASAL, started_at=T0,
        training=False, devices=("sim:normal",), workstation="room 1",
    ).id


def _submit_second(recorder: Recorder, sid: int, second: int) -> None:
    t = T0 + second
    recorder.submit_sample(sid, Sample(t, "sim", VitalKind.HR, 70.0 + second))
    recorder.submit_waveform(
        sid, WaveformBlock(t, 100.0, "sim", VitalKind.PLETH,
                           np.full(100, second, dtype=np.float32))
    )


def _counts(store: SessionStore, sid: int) -> dict[str, int]:
    return store.sample_counts(sid)


def test_every_kind_of_record_round_trips_and_a_torn_line_is_ignored(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", "test")
    records = [
        (1, Sample(T0, "ge", VitalKind.SPO2, None, frozenset({"sensor_off"}))),
        (1, WaveformBlock(T0, 100.0, "ge", VitalKind.PLETH,
                          np.arange(5, dtype=np.float32))),
        (2, DeviceStatus(T0, "ge", ConnectionState.DISCONNECTED, frozenset({"missing"}), "gone")),
        (2, AlarmEvent(T0, "spo2.low", "spo2", Priority.HIGH, "onset", 84.0, 85.0, "SpO2 low")),
    ]
    assert journal.append(records[:2]) and journal.append(records[2:])
    with open(journal.path, "ab") as file:
        file.write(b'{"batch": [{"s": 1, "t": "sam')  # killed mid-write
    batches = list(journal.batches())
    assert len(batches) == 2
    (s1, sample), (_, block) = batches[0]
    assert s1 == 1 and sample == records[0][1]
    assert isinstance(block, WaveformBlock) and block.values.tolist() == [0, 1, 2, 3, 4]
    assert batches[1] == records[2:]


def test_the_journal_is_bounded(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", max_bytes=600)
    one = [(1, Sample(T0, "ge", VitalKind.HR, 60.0))]
    kept = sum(journal.append(one) for _ in range(20))
    assert 1 <= kept < 20 and journal.size <= 600


def test_a_locked_database_keeps_data_in_the_journal_and_writes_it_once_back(
    db_path: Path,
) -> None:
    store = SessionStore(open_database(_url(db_path)))
    sid = _session(store)
    journal = Journal(journal_path(_url(db_path), db_path.parent / "journal"))
    recorder = Recorder(store, journal=journal)
    _submit_second(recorder, sid, 0)
    assert recorder.write_queued()

    with locked(db_path):
        for second in range(1, 4):
            _submit_second(recorder, sid, second)
            assert not recorder.write_queued()
        assert recorder.journaled and journal.size > 0
        assert "journal" in (recorder.last_error or "")
    # The process dies here: what is in memory is lost, the journal is on disk.
    store.database.close()

    restarted = SessionStore(open_database(_url(db_path)))
    assert replay_journal(restarted, journal) == 6  # 3 samples + 3 pleth blocks
    assert _counts(restarted, sid) == {"hr": 4, "pleth": 400}
    assert journal.size == 0
    hr = restarted.numerics(sid, [VitalKind.HR])[VitalKind.HR]
    assert hr.values.tolist() == [70.0, 71.0, 72.0, 73.0]  # in order


def test_writing_the_journal_back_twice_stores_everything_once(db_path: Path) -> None:
    store = SessionStore(open_database(_url(db_path)))
    sid = _session(store)
    journal = Journal(db_path.parent / "j.jsonl")
    recorder = Recorder(store, journal=journal)
    with locked(db_path):
        _submit_second(recorder, sid, 0)
        assert not recorder.write_queued()
    # Killed between the database commit and clearing the journal: the data is in both.
    assert recorder.write_queued()
    journal.append([(sid, Sample(T0, "sim", VitalKind.HR, 70.0))])
    assert replay_journal(store, journal) == 0
    assert _counts(store, sid) == {"hr": 1, "pleth": 100}


def test_when_the_database_returns_the_recorder_writes_and_clears_the_journal(
    db_path: Path,
) -> None:
    store = SessionStore(open_database(_url(db_path)))
    sid = _session(store)
    journal = Journal(db_path.parent / "j.jsonl")
    recorder = Recorder(store, journal=journal)
    with locked(db_path):
        _submit_second(recorder, sid, 0)
        assert not recorder.write_queued()
        _submit_second(recorder, sid, 1)
        assert not recorder.write_queued()
    _submit_second(recorder, sid, 2)
    assert recorder.write_queued()
    assert not recorder.journaled and journal.size == 0 and recorder.last_error is None
    assert _counts(store, sid) == {"hr": 3, "pleth": 300}


def test_the_workstation_raises_a_technical_alarm_and_replays_at_the_next_start(
    db_path: Path,
) -> None:
    clock = ManualClock(T0)
    first = Workstation(open_database(_url(db_path)), [], clock=clock)
    session = first.start_session("C-9", "esketamine", Route.INTRANASAL)
    sid = session.id
    with locked(db_path):
        _submit_second(first.recorder, sid, 1)
        assert not first.recorder.write_queued()
        alarms = {a.alarm_id: a for a in first.active_alarms()}
        assert "tech.storage.storage_failed" in alarms
        assert "locked" in alarms["tech.storage.storage_failed"].message
    first.database.close()  # killed: never shut down

    second = Workstation(open_database(_url(db_path)), [], clock=clock)
    second.start()
    try:
        assert second.replayed == 2
        assert _counts(second.store, sid) == {"hr": 1, "pleth": 100}
    finally:
        second.shutdown()
        second.database.close()
