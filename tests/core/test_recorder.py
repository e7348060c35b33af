"""The Recorder: batched commits from one writer thread, nothing lost when writes fail."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.recorder import Recorder
from katmonitor.session import Route
from katmonitor.storage import Database, SessionStore, open_database
from katmonitor.storage.models import WaveformBlockRecord

T0 = 1_800_000_000.0


class FlakyStore(SessionStore):
    """Fails the first ``failures`` write_batch calls the way a locked database does; signals
    each commit (tests wait on that, never on the clock) and notes what ``observe`` says at
    each call (e.g. the recorder's last error while it retries)."""

    failures = 0
    calls = 0

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.committed = threading.Condition()
        self.observe: Callable[[], object] = lambda: None
        self.observed: list[object] = []

    def write_batch(
        self,
        samples: Sequence[tuple[int, Sample]],
        blocks: Sequence[tuple[int, WaveformBlock]],
        statuses: Sequence[tuple[int, DeviceStatus]],
    ) -> None:
        self.calls += 1
        self.observed.append(self.observe())
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))
        super().write_batch(samples, blocks, statuses)
        with self.committed:
            self.committed.notify_all()

    def wait_for_commit(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Wait (without polling) until a commit makes ``condition`` true."""
        with self.committed:
            return self.committed.wait_for(condition, timeout=timeout_s)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FlakyStore]:
    database = open_database(f"sqlite:///{tmp_path / 'katmonitor.sqlite3'}")
    yield FlakyStore(database)
    database.close()


@pytest.fixture
def session_id(store: SessionStore) -> int:
    return store.create_session(
        client_id="C-1",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=T0,
        training=False,
        devices=["sim:nonin"],
        workstation="ws",
    ).id


@pytest.fixture
def recorders() -> Iterator[list[Recorder]]:
    """Recorders made by a test; stopped afterwards so no writer thread outlives it."""
    made: list[Recorder] = []
    yield made
    for recorder in made:
        recorder.stop(timeout_s=2)


@pytest.fixture
def make_recorder(store: FlakyStore, recorders: list[Recorder]) -> Callable[..., Recorder]:
    def make(flush_interval_s: float = 0.25, start: bool = True) -> Recorder:
        recorder = Recorder(store, flush_interval_s=flush_interval_s)
        recorders.append(recorder)
        if start:
            recorder.start()
        return recorder

    return make


def hr(i: int) -> Sample:
    return Sample(T0 + i, "sim:nonin", VitalKind.HR, 60.0 + i % 40)


def pleth_blocks(n_blocks: int, start: float = T0, points: int = 10) -> list[WaveformBlock]:
    rng = np.random.default_rng(3)
    return [
        WaveformBlock(
            start + i * points / 100.0,
            100.0,
            "sim:nonin",
            VitalKind.PLETH,
            rng.normal(size=points).astype(np.float32),
        )
        for i in range(n_blocks)
    ]


def block_rows(store: SessionStore, session_id: int) -> int:
    with store.database.engine.connect() as conn:
        return conn.scalar(select(func.count()).where(WaveformBlockRecord.session_id == session_id))


def test_data_is_committed_within_a_second_without_flush(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    recorder = make_recorder()
    submitted = time.monotonic()
    for i in range(20):
        recorder.submit_sample(session_id, hr(i))
    recorder.submit_waveform(session_id, pleth_blocks(1)[0])
    recorder.submit_status(session_id, DeviceStatus(T0, "sim:nonin", ConnectionState.CONNECTED))

    assert store.wait_for_commit(
        lambda: store.sample_counts(session_id) == {"hr": 20, "pleth": 10}, timeout_s=1.0
    ), f"not stored {time.monotonic() - submitted:.2f} s after submitting"
    assert len(store.device_events(session_id)) == 1
    assert recorder.flush(timeout_s=1.0)
    assert recorder.pending == 0


def test_flush_makes_everything_visible(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    recorder = make_recorder(flush_interval_s=60.0)  # only flush() can cause a write
    samples = [hr(i) for i in range(500)]
    for sample in samples:
        recorder.submit_sample(session_id, sample)
    assert recorder.pending == 500
    assert recorder.flush(timeout_s=5.0)
    assert recorder.pending == 0
    assert list(store.iter_samples(session_id)) == samples
    assert recorder.flush()  # nothing pending: returns at once


def test_stop_flushes_what_is_left_and_is_idempotent(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    recorder = make_recorder(flush_interval_s=60.0)
    for i in range(50):
        recorder.submit_sample(session_id, hr(i))
    recorder.stop()
    assert store.sample_counts(session_id) == {"hr": 50}
    recorder.stop()
    assert recorder.pending == 0


def test_stop_without_start_still_writes(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    recorder = make_recorder(start=False)
    recorder.submit_sample(session_id, hr(0))
    assert not recorder.flush(timeout_s=0.1)  # no writer thread yet
    recorder.stop()
    assert store.sample_counts(session_id) == {"hr": 1}


def test_start_after_stop_records_again(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    recorder = make_recorder()
    recorder.submit_sample(session_id, hr(0))
    recorder.stop()
    recorder.start()
    recorder.submit_sample(session_id, hr(1))
    assert recorder.flush()
    assert [s.time for s in store.iter_samples(session_id)] == [hr(0).time, hr(1).time]


def test_submit_after_stop_is_reported_not_stored(
    store: FlakyStore,
    session_id: int,
    make_recorder: Callable[..., Recorder],
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = make_recorder()
    recorder.stop()
    with caplog.at_level(logging.ERROR, logger="katmonitor.recorder"):
        recorder.submit_sample(session_id, hr(0))
        recorder.submit_sample(session_id, hr(1))
    assert [r.message for r in caplog.records] == [
        "data submitted after the recorder was stopped is not stored"
    ]
    assert store.sample_counts(session_id) == {}


def test_contiguous_pleth_blocks_are_joined(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    recorder = make_recorder(flush_interval_s=60.0)
    blocks = pleth_blocks(100)  # 10 s of 100 Hz pleth in 10-point blocks
    # A 1 s gap, then 5 more: a new stored block must start after the gap.
    after_gap = pleth_blocks(5, start=blocks[-1].end_time + 1.0)
    for block in blocks + after_gap:
        recorder.submit_waveform(session_id, block)
    assert recorder.flush()

    stored = list(store.iter_samples(session_id))
    assert block_rows(store, session_id) == 2
    assert all(isinstance(b, WaveformBlock) for b in stored)
    first, second = stored
    assert isinstance(first, WaveformBlock) and isinstance(second, WaveformBlock)
    assert first.start_time == blocks[0].start_time
    assert second.start_time == after_gap[0].start_time
    assert np.array_equal(first.values, np.concatenate([b.values for b in blocks]))
    assert np.array_equal(second.values, np.concatenate([b.values for b in after_gap]))
    assert store.sample_counts(session_id) == {"pleth": 1050}


def test_blocks_with_different_status_or_source_are_not_joined(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    recorder = make_recorder(flush_interval_s=60.0)
    a, b, c, d = pleth_blocks(4)
    artifact = WaveformBlock(
        b.start_time, b.sample_rate_hz, b.source, b.kind, b.values, frozenset({"artifact"})
    )
    other_device = WaveformBlock(d.start_time, 100.0, "sim:other", d.kind, d.values)
    for block in (a, artifact, c, other_device):
        recorder.submit_waveform(session_id, block)
    assert recorder.flush()
    assert block_rows(store, session_id) == 4


def test_realtime_pleth_is_stored_as_a_few_rows_per_second(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    recorder = make_recorder(flush_interval_s=60.0)  # each flush() below is one interval's commit
    blocks = pleth_blocks(100)  # 1 s at 100 Hz, a 10-point block every 10 ms
    for i, block in enumerate(blocks):
        recorder.submit_waveform(session_id, block)
        if i % 25 == 24:  # what a device delivers in 0.25 s
            assert recorder.flush()
    rows = block_rows(store, session_id)
    assert rows < len(blocks) / 3
    assert rows == 4  # one row per flush interval
    assert store.sample_counts(session_id) == {"pleth": 1000}


def test_failing_writes_lose_nothing_and_report_the_error(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    store.failures = 2
    recorder = make_recorder(flush_interval_s=0.02, start=False)
    store.observe = lambda: recorder.last_error  # what the recorder reports while it retries

    samples = [hr(i) for i in range(30)]
    blocks = pleth_blocks(30)
    for sample, block in zip(samples, blocks, strict=True):
        recorder.submit_sample(session_id, sample)
        recorder.submit_waveform(session_id, block)
    recorder.start()  # everything is queued: one batch, failing twice, then stored
    assert recorder.flush(timeout_s=5.0)
    assert store.failures == 0 and recorder.pending == 0
    seen_errors = [e for e in store.observed if isinstance(e, str)]
    assert any("database is locked" in e for e in seen_errors)
    assert recorder.last_error is None
    assert store.calls == 3
    stored = list(store.iter_samples(session_id))
    assert [s for s in stored if isinstance(s, Sample)] == samples
    (pleth,) = [b for b in stored if isinstance(b, WaveformBlock)]
    assert np.array_equal(pleth.values, np.concatenate([b.values for b in blocks]))


def test_flush_times_out_while_writes_fail_then_succeeds(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    store.failures = 1_000_000
    recorder = make_recorder(flush_interval_s=0.02)
    recorder.submit_sample(session_id, hr(0))
    assert not recorder.flush(timeout_s=0.3)
    assert recorder.pending == 1
    assert recorder.last_error is not None and "database is locked" in recorder.last_error
    store.failures = 0
    assert recorder.flush(timeout_s=7.0)  # the retry backoff is at most 5 s
    assert recorder.last_error is None
    assert store.sample_counts(session_id) == {"hr": 1}


def test_records_the_database_refuses_are_set_aside_not_the_rest(
    store: FlakyStore,
    session_id: int,
    make_recorder: Callable[..., Recorder],
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = make_recorder(flush_interval_s=60.0)
    for i in range(10):
        recorder.submit_sample(session_id, hr(i))
    recorder.submit_sample(session_id + 99, hr(100))  # no such session: the FK refuses it
    for block in pleth_blocks(10):
        recorder.submit_waveform(session_id, block)
    with caplog.at_level(logging.ERROR, logger="katmonitor.recorder"):
        assert recorder.flush()
    assert store.sample_counts(session_id) == {"hr": 10, "pleth": 100}
    assert recorder.rejected == 1
    assert recorder.pending == 0
    assert "refused 1 records" in caplog.text


def test_submit_from_many_threads(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    recorder = make_recorder(flush_interval_s=0.01)
    threads_n, per_thread = 8, 400
    barrier = threading.Barrier(threads_n)

    def produce(worker: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            t = T0 + worker * 10_000 + i
            recorder.submit_sample(session_id, Sample(t, f"dev{worker}", VitalKind.SPO2, 95.0))
            if i % 10 == 0:
                recorder.submit_status(
                    session_id, DeviceStatus(t, f"dev{worker}", ConnectionState.CONNECTED)
                )

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recorder.flush()
    assert store.sample_counts(session_id) == {"spo2": threads_n * per_thread}
    assert len(store.device_events(session_id)) == threads_n * per_thread // 10
    assert recorder.pending == 0


def test_a_driven_recorder_commits_each_turn_and_keeps_what_failed(
    store: FlakyStore, session_id: int, make_recorder: Callable[..., Recorder]
) -> None:
    """write_queued() is one turn of the writer thread, in the caller's thread: what each turn
    submitted is one commit (pleth joined into one row), and a failed turn keeps its data."""
    recorder = make_recorder(start=False)
    blocks = pleth_blocks(9)
    recorder.submit_sample(session_id, hr(0))
    for block in blocks[:3]:
        recorder.submit_waveform(session_id, block)
    assert recorder.write_queued()
    assert (store.sample_counts(session_id), block_rows(store, session_id)) == ({"hr": 1,
                                                                                "pleth": 30}, 1)
    store.failures = 1
    for block in blocks[3:6]:
        recorder.submit_waveform(session_id, block)
    assert not recorder.write_queued()
    assert recorder.pending == 3 and "database is locked" in (recorder.last_error or "")
    for block in blocks[6:]:
        recorder.submit_waveform(session_id, block)
    assert recorder.write_queued()  # the kept quarter and the new one, joined
    assert recorder.pending == 0 and recorder.last_error is None
    assert block_rows(store, session_id) == 2
    stored = [b for b in store.iter_samples(session_id) if isinstance(b, WaveformBlock)]
    assert np.array_equal(np.concatenate([b.values for b in stored]),
                          np.concatenate([b.values for b in blocks]))


def test_a_running_recorder_is_not_driven_from_outside(
    make_recorder: Callable[..., Recorder],
) -> None:
    recorder = make_recorder()
    with pytest.raises(RuntimeError, match="writer thread is running"):
        recorder.write_queued()
