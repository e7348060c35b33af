"""SessionStore round trips, and the errors open_database gives for bad input.

Runs against SQLite always, and against PostgreSQL too when KATMONITOR_TEST_POSTGRES_URL is set
(the tables of that database are dropped before each test: point it at a scratch database).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katmonitor.base.errors import DatabaseError, NotFoundError
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.session import Route, SessionStatus
from katmonitor.storage import SessionStore, open_database
from katmonitor.storage import store as store_module

T0 = 1_800_000_000.123456789


@pytest.fixture
def store(database_url: str) -> Iterator[SessionStore]:
    database = open_database(database_url)
    yield SessionStore(database)
    database.close()


def new_session(store: SessionStore, started_at: float = T0, client_id: str = "C-001") -> int:
    session = store.create_session(
        client_id=client_id,
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=started_at,
        training=False,
        devices=["sim:nonin", "sim:nibp"],
        workstation="room-2",
    )
    return session.id


def pleth(start: float, n: int, seed: int = 0) -> WaveformBlock:
    values = np.random.default_rng(seed).normal(size=n).astype(np.float32)
    return WaveformBlock(start, 100.0, "sim:nonin", VitalKind.PLETH, values)


# -- sessions -------------------------------------------------------------------------------


def test_create_get_list_and_status(store: SessionStore) -> None:
    first = store.create_session(
        client_id="C-001",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=T0,
        training=True,
        devices=["sim:nonin", "serial:/dev/ttyUSB0?protocol=nonin"],
        workstation="room-2",
    )
    assert first.status is SessionStatus.ACTIVE
    assert first.devices == ("sim:nonin", "serial:/dev/ttyUSB0?protocol=nonin")
    assert first.training is True
    assert first.ended_at is None
    assert len(first.uuid) == 36
    assert store.get_session(first.id) == first

    second_id = new_session(store, started_at=T0 + 3600, client_id="C-002")
    assert [s.id for s in store.list_sessions()] == [second_id, first.id]  # newest first

    ended = store.set_status(first.id, SessionStatus.ENDED, ended_at=T0 + 1800.5)
    assert ended.status is SessionStatus.ENDED
    assert ended.ended_at == T0 + 1800.5
    assert not ended.is_open
    assert store.get_session(first.id) == ended
    assert [s.id for s in store.open_sessions()] == [second_id]

    store.set_status(second_id, SessionStatus.INTERRUPTED)
    assert [s.id for s in store.open_sessions()] == [second_id]
    reopened = store.set_status(first.id, SessionStatus.ACTIVE)
    assert reopened.ended_at is None
    assert [s.id for s in store.open_sessions()] == [second_id, first.id]


def test_session_without_devices(store: SessionStore) -> None:
    session = store.create_session(
        client_id="C-9",
        medicine="ketamine",
        route=Route.IM,
        started_at=T0,
        training=False,
        devices=[],
        workstation="",
    )
    assert store.get_session(session.id).devices == ()


def test_missing_session_is_not_found(store: SessionStore) -> None:
    with pytest.raises(NotFoundError) as excinfo:
        store.get_session(999)
    assert excinfo.value.message == "no session 999"
    assert "katmonitor sessions list" in excinfo.value.hint
    with pytest.raises(NotFoundError):
        store.set_status(999, SessionStatus.ENDED, ended_at=T0)
    with pytest.raises(NotFoundError):
        store.add_dose(
            999,
            time=T0,
            medicine="esketamine",
            route=Route.INTRANASAL,
            dose_mg=28.0,
            unit_count=1,
            lot="L1",
            given_by="RN",
            recorded_at=T0,
        )
    with pytest.raises(NotFoundError):
        store.add_observation(999, time=T0, text="x", author="RN", recorded_at=T0)


# -- timeline entries -----------------------------------------------------------------------


def test_doses_and_observations_round_trip(store: SessionStore) -> None:
    sid = new_session(store)
    later = store.add_dose(
        sid,
        time=T0 + 600.25,
        medicine="esketamine",
        route=Route.INTRANASAL,
        dose_mg=28.0,
        unit_count=1,
        lot="LOT-42",
        given_by="RN Smith",
        recorded_at=T0 + 601,
        note="second device",
    )
    earlier = store.add_dose(
        sid,
        time=T0 + 0.1,
        medicine="esketamine",
        route=Route.INTRANASAL,
        dose_mg=0.1 + 0.2,  # not representable exactly: must come back as the same double
        unit_count=2,
        lot="",
        given_by="RN Smith",
        recorded_at=T0 + 5,
    )
    assert later.note == "second device"
    assert earlier.note == ""
    assert store.doses(sid) == [earlier, later]  # time-ordered
    assert store.doses(sid)[0].dose_mg == 0.1 + 0.2

    note = store.add_observation(
        sid,
        time=T0 + 900,
        text="Calm, eyes closed.\nResponds to voice.",
        author="RN",
        recorded_at=T0 + 901,
    )
    first = store.add_observation(
        sid, time=T0 + 60, text="Nausea", author="Dr B", recorded_at=T0 + 61
    )
    assert store.observations(sid) == [first, note]
    assert store.observations(sid)[1].text == "Calm, eyes closed.\nResponds to voice."

    other = new_session(store, client_id="C-002")
    assert store.doses(other) == []
    assert store.observations(other) == []


# -- recorded data --------------------------------------------------------------------------


def test_write_batch_and_iter_samples_round_trip(store: SessionStore) -> None:
    sid = new_session(store)
    other = new_session(store, client_id="C-002")
    samples = [
        Sample(T0 + 2.0, "sim:nonin", VitalKind.SPO2, 97.0),
        Sample(T0 + 1.0, "sim:nonin", VitalKind.HR, 72.0),
        Sample(T0 + 1.0, "sim:nonin", VitalKind.SPO2, None, frozenset({"sensor_off", "invalid"})),
        Sample(T0 + 0.5, "sim:nibp", VitalKind.NIBP_SYSTOLIC, 121.0, frozenset({"manual"})),
        Sample(T0 + 3.0, "sim:nonin", VitalKind.PERFUSION_INDEX, 0.1 + 0.2),
    ]
    blocks = [pleth(T0 + 1.5, 10, seed=1), pleth(T0 + 0.25, 25, seed=2)]
    statuses = [
        DeviceStatus(
            T0 + 4.0, "sim:nonin", ConnectionState.NO_DATA, frozenset({"sensor_off"}), "probe off"
        ),
        DeviceStatus(T0, "sim:nonin", ConnectionState.CONNECTED),
    ]
    store.write_batch(
        [(sid, s) for s in samples] + [(other, Sample(T0, "x", VitalKind.HR, 1.0))],
        [(sid, b) for b in blocks],
        [(sid, d) for d in statuses],
    )

    items = list(store.iter_samples(sid))
    times = [i.start_time if isinstance(i, WaveformBlock) else i.time for i in items]
    assert times == sorted(times)
    got_samples = [i for i in items if isinstance(i, Sample)]
    assert sorted(got_samples, key=repr) == sorted(samples, key=repr)
    assert all(isinstance(s.status, frozenset) for s in got_samples)
    assert next(s for s in got_samples if s.value is None).status == {"sensor_off", "invalid"}

    got_blocks = [i for i in items if isinstance(i, WaveformBlock)]
    assert [b.start_time for b in got_blocks] == [T0 + 0.25, T0 + 1.5]
    for got, sent in zip(got_blocks, sorted(blocks, key=lambda b: b.start_time), strict=True):
        assert got.values.dtype == np.float32
        assert np.array_equal(got.values, sent.values)
        assert (got.source, got.kind, got.sample_rate_hz, got.status) == (
            sent.source,
            sent.kind,
            sent.sample_rate_hz,
            sent.status,
        )

    assert store.device_events(sid) == sorted(statuses, key=lambda d: d.time)
    assert store.device_events(other) == []
    assert [s.value for s in store.iter_samples(other)] == [1.0]


def test_pleth_round_trips_bit_exact(store: SessionStore) -> None:
    sid = new_session(store)
    special = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4028235e38, -1.17549435e-38], dtype=np.float32
    )
    values = np.concatenate([special, np.random.default_rng(7).normal(size=992).astype(np.float32)])
    block = WaveformBlock(T0, 100.0, "sim:nonin", VitalKind.PLETH, values, frozenset({"artifact"}))
    store.write_batch([], [(sid, block)], [])
    (got,) = store.iter_samples(sid)
    assert isinstance(got, WaveformBlock)
    assert got.values.view(np.uint32).tolist() == values.view(np.uint32).tolist()
    assert got.status == frozenset({"artifact"})
    assert got.values.flags.writeable  # a real array, not a view of the database's bytes


def test_sample_counts(store: SessionStore) -> None:
    sid = new_session(store)
    store.write_batch(
        [(sid, Sample(T0 + i, "s", VitalKind.HR, 70.0 + i)) for i in range(5)]
        + [(sid, Sample(T0, "s", VitalKind.SPO2, None))],
        [(sid, pleth(T0, 10)), (sid, pleth(T0 + 0.1, 35))],
        [(sid, DeviceStatus(T0, "s", ConnectionState.CONNECTED))],
    )
    assert store.sample_counts(sid) == {"hr": 5, "spo2": 1, "pleth": 45}
    assert store.sample_counts(new_session(store)) == {}


def test_iter_samples_streams_in_chunks(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "CHUNK_ROWS", 3)
    sid = new_session(store)
    # Equal times across and within kinds exercise the (time, id) keyset.
    samples = [
        Sample(T0 + (i // 4), "s", kind, float(i))  # ties straddle the 3-row chunks
        for i in range(20)
        for kind in (VitalKind.HR, VitalKind.SPO2)
    ]
    blocks = [pleth(T0 + i * 0.7, 5, seed=i) for i in range(8)]
    store.write_batch([(sid, s) for s in samples], [(sid, b) for b in blocks], [])

    stream = store.iter_samples(sid)
    assert isinstance(stream, Iterator)
    items = list(stream)
    assert len(items) == len(samples) + len(blocks)
    keys = [i.start_time if isinstance(i, WaveformBlock) else i.time for i in items]
    assert keys == sorted(keys)
    for kind in (VitalKind.HR, VitalKind.SPO2):
        # Within a kind, rows come back in insertion order among equal times.
        got = [i for i in items if isinstance(i, Sample) and i.kind is kind]
        assert got == [s for s in samples if s.kind is kind]


def test_a_page_of_samples_starts_where_the_last_one_ended(tmp_path: Path) -> None:
    """The next page is an index range on time, not a rescan from the session's first row."""
    database = open_database(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    try:
        t = store_module.SAMPLES
        query = store_module.select(t).where(t.c.session_id == 1, t.c.kind == "hr")
        page = store_module.after(query.order_by(t.c.time, t.c.id), t.c.time, t.c.id, (T0, 7))
        compiled = page.compile(database.engine, compile_kwargs={"literal_binds": True})
        with database.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            plan = " ".join(str(r[-1]) for r in rows)
    finally:
        database.close()
    assert "USING INDEX ix_samples_session_kind_time (session_id=? AND kind=? AND time>?)" in plan


# -- windowed reads ---------------------------------------------------------------------------


def test_find_sessions_by_client_date_status_training_and_route(store: SessionStore) -> None:
    a = new_session(store, started_at=T0, client_id="C-1")
    b = new_session(store, started_at=T0 + 86400, client_id="C-1")
    c = store.create_session(
        client_id="C-2",
        medicine="ketamine",
        route=Route.IM,
        started_at=T0 + 2 * 86400,
        training=True,
        devices=[],
        workstation="room-1",
    ).id
    store.set_status(a, SessionStatus.ENDED, T0 + 3600)
    ids = lambda sessions: [x.id for x in sessions]  # noqa: E731
    assert ids(store.find_sessions()) == [c, b, a]  # newest first
    assert ids(store.find_sessions(client_id="C-1")) == [b, a]
    assert ids(store.find_sessions(started_from=T0 + 1, started_before=T0 + 2 * 86400)) == [b]
    assert ids(store.find_sessions(status=SessionStatus.ENDED)) == [a]
    assert ids(store.find_sessions(status=[SessionStatus.ACTIVE])) == [c, b]
    assert ids(store.find_sessions(training=True)) == [c]
    assert ids(store.find_sessions(route=Route.IM, training=True)) == [c]
    assert ids(store.find_sessions(client_id="C-2", route=Route.INTRANASAL)) == []


def test_numerics_in_a_window_are_the_values_written(store: SessionStore) -> None:
    sid = new_session(store)
    hr = [Sample(T0 + i, "oxi", VitalKind.HR, 60.0 + i % 9) for i in range(100)]
    spo2 = [Sample(T0 + i + 0.5, "oxi", VitalKind.SPO2, 90.0 + i % 7) for i in range(100)]
    gaps = [
        Sample(T0 + 10.25, "oxi", VitalKind.HR, None, frozenset({"sensor_off"})),
        Sample(T0 + 20.25, "ecg", VitalKind.HR, 61.5),  # another source, same kind
    ]
    store.write_batch([(sid, x) for x in hr + spo2 + gaps], [], [])
    kinds = [VitalKind.HR, VitalKind.SPO2, VitalKind.PERFUSION_INDEX]
    got = store.numerics(sid, kinds, T0 + 10, T0 + 30)
    assert set(got) == {VitalKind.HR, VitalKind.SPO2}  # no perfusion index was recorded
    expected_hr = sorted(
        (x.time, x.value) for x in hr + gaps if x.value is not None and T0 + 10 <= x.time <= T0 + 30
    )
    np.testing.assert_array_equal(got[VitalKind.HR].times, [t for t, _ in expected_hr])
    np.testing.assert_array_equal(got[VitalKind.HR].values, [v for _, v in expected_hr])
    assert got[VitalKind.HR].times.dtype == np.float64
    np.testing.assert_array_equal(
        got[VitalKind.SPO2].values, [x.value for x in spo2 if T0 + 10 <= x.time <= T0 + 30]
    )
    whole = store.numerics(sid, [VitalKind.HR])[VitalKind.HR]
    assert len(whole) == 101


def test_reduced_numerics_keep_a_one_sample_spike(store: SessionStore) -> None:
    sid = new_session(store)
    values = [70.0] * 3600
    values[1234] = 180.0  # one sample
    values[2345] = 31.0
    store.write_batch(
        [(sid, Sample(T0 + i, "oxi", VitalKind.HR, v)) for i, v in enumerate(values)], [], []
    )
    reduced = store.numerics(sid, [VitalKind.HR], max_points=100)[VitalKind.HR]
    assert len(reduced) <= 100
    assert reduced.values.max() == 180.0 and reduced.values.min() == 31.0
    assert T0 + 1234 in reduced.times and T0 + 2345 in reduced.times
    assert bool(np.all(np.diff(reduced.times) > 0))  # still in time order


def test_waveform_window_is_the_points_written(store: SessionStore) -> None:
    sid = new_session(store)
    blocks = [pleth(T0 + i * 0.25, 25, seed=i) for i in range(40)]  # 10 s at 100 Hz
    store.write_batch([], [(sid, b) for b in blocks], [])
    times = np.concatenate([b.start_time + np.arange(25) / 100.0 for b in blocks])
    values = np.concatenate([b.values for b in blocks]).astype(np.float64)
    inside = (times >= T0 + 2.1) & (times <= T0 + 5.0)
    wave = store.waveform(sid, VitalKind.PLETH, T0 + 2.1, T0 + 5.0)
    np.testing.assert_array_equal(wave.times, times[inside])
    np.testing.assert_array_equal(wave.values, values[inside])
    assert len(store.waveform(sid, VitalKind.PLETH, T0 + 20, T0 + 30)) == 0
    assert len(store.waveform(sid, VitalKind.PLETH, source="another")) == 0


def test_reduced_waveform_keeps_a_one_sample_spike(store: SessionStore) -> None:
    sid = new_session(store)
    points = np.zeros(6000, dtype=np.float32)
    points[4321] = 9.5
    store.write_batch(
        [], [(sid, WaveformBlock(T0, 100.0, "oxi", VitalKind.PLETH, points))], []
    )
    wave = store.waveform(sid, max_points=200)
    assert len(wave) <= 200
    assert wave.values.max() == 9.5
    assert T0 + 4321 / 100.0 in wave.times


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=4e9, allow_nan=False),
            # SQLite stores NaN as NULL, so only finite values and None are expected back.
            st.none() | st.floats(allow_nan=False, allow_infinity=False),
            st.frozensets(st.sampled_from(["invalid", "sensor_off", "low_perfusion", "artifact"])),
        ),
        max_size=30,
    )
)
def test_samples_round_trip_exactly(
    store: SessionStore, rows: list[tuple[float, float | None, frozenset[str]]]
) -> None:
    sid = new_session(store)
    samples = [Sample(t, "sim:x", VitalKind.SPO2, v, status) for t, v, status in rows]
    store.write_batch([(sid, s) for s in samples], [], [])
    got = list(store.iter_samples(sid))
    assert got == sorted(samples, key=lambda s: s.time)


def test_reader_and_writers_share_the_database(store: SessionStore) -> None:
    """A writer thread, a second writer (the UI adding doses) and a reader never collide."""
    sid = new_session(store)
    errors: list[BaseException] = []
    stop = threading.Event()

    def guarded(fn: object) -> threading.Thread:
        def body() -> None:
            try:
                fn()  # type: ignore[operator]
            except BaseException as exc:
                errors.append(exc)
                stop.set()

        return threading.Thread(target=body)

    def writer() -> None:
        for n in range(60):
            batch = [(sid, Sample(T0 + n + i / 10, "s", VitalKind.HR, 60.0 + i)) for i in range(10)]
            store.write_batch(batch, [(sid, pleth(T0 + n, 100))], [])

    def ui() -> None:
        for n in range(30):
            store.add_observation(sid, time=T0 + n, text=f"note {n}", author="RN", recorded_at=T0)
            store.set_status(sid, SessionStatus.ACTIVE)

    def reader() -> None:
        while not stop.is_set():
            store.list_sessions()
            store.sample_counts(sid)
            sum(1 for _ in store.iter_samples(sid))

    threads = [guarded(writer), guarded(ui)]
    watcher = guarded(reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    stop.set()
    watcher.join(60)
    assert errors == []
    assert store.sample_counts(sid) == {"hr": 600, "pleth": 6000}
    assert len(store.observations(sid)) == 30


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    try:
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        database.close()


def test_sqlite_transactions_are_real(tmp_path: Path) -> None:
    """A failed batch leaves nothing behind (the pysqlite BEGIN recipe is in effect)."""
    database = open_database(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    store = SessionStore(database)
    sid = new_session(store)
    good = [(sid, Sample(T0, "s", VitalKind.HR, 60.0))]
    with pytest.raises(DatabaseError):  # the status refers to a session that does not exist
        store.write_batch(good, [], [(sid + 1, DeviceStatus(T0, "s", ConnectionState.CONNECTED))])
    assert store.sample_counts(sid) == {}
    database.close()


def test_store_failures_become_database_errors(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    store = SessionStore(database)
    sid = new_session(store)
    with database.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE samples")
    with pytest.raises(DatabaseError) as excinfo:
        store.write_batch([(sid, Sample(T0, "s", VitalKind.HR, 60.0))], [], [])
    assert excinfo.value.message.startswith("cannot store recorded data in sqlite:///")
    assert "no such table: samples" in excinfo.value.message
    database.close()


# -- opening: what the user is told -----------------------------------------------------------


def test_open_creates_missing_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "katmonitor.sqlite3"
    database = open_database(f"sqlite:///{path}")
    database.close()
    assert path.is_file()


@pytest.mark.parametrize(
    "url", ["notaurl", "postgresql+nodriver://x", "sqlite+nodriver:///x.db", ""]
)
def test_malformed_url(url: str) -> None:
    with pytest.raises(DatabaseError) as excinfo:
        open_database(url)
    assert excinfo.value.message.startswith("cannot understand database URL")
    assert "sqlite:///" in excinfo.value.hint
    assert "postgresql+psycopg://user@host/db" in excinfo.value.hint


def test_unreachable_server_fails_fast_with_masked_password() -> None:
    pytest.importorskip("psycopg", reason="needs the PostgreSQL driver psycopg")
    started = time.monotonic()
    with pytest.raises(DatabaseError) as excinfo:
        open_database("postgresql+psycopg://kat:s3cret@127.0.0.1:1/katmonitor")
    assert time.monotonic() - started < 10
    message = str(excinfo.value)
    assert excinfo.value.message.startswith("cannot reach database postgresql+psycopg://kat:***@")
    assert "s3cret" not in message
    assert "server is running" in excinfo.value.hint


def test_password_is_masked_in_url_errors() -> None:
    with pytest.raises(DatabaseError) as excinfo:
        open_database("postgres://kat:s3cret@db.example/katmonitor")
    assert "s3cret" not in str(excinfo.value)
    assert "kat:***@" in excinfo.value.message


def test_database_repr_masks_password() -> None:
    pytest.importorskip("psycopg", reason="needs the PostgreSQL driver psycopg")
    from katmonitor.storage.database import Database, make_engine

    engine = make_engine("postgresql+psycopg://kat:s3cret@127.0.0.1:1/katmonitor")
    assert "s3cret" not in repr(Database("postgresql+psycopg://kat:s3cret@127.0.0.1:1/k", engine))


def assert_unwritable(url: str, path: Path, reason: str) -> None:
    with pytest.raises(DatabaseError) as excinfo:
        open_database(url)
    assert excinfo.value.message == f"cannot write the database at {path}: {reason}"
    assert "--db" in excinfo.value.hint
    assert "KATMONITOR_DB" in excinfo.value.hint


def test_parent_path_is_a_file(tmp_path: Path) -> None:
    """Fails for root too: no directory can be created below a regular file."""
    blocker = tmp_path / "regular_file"
    blocker.write_text("not a directory")
    path = blocker / "sub" / "katmonitor.sqlite3"
    assert_unwritable(f"sqlite:///{path}", path, f"{blocker} is not a directory")
    assert blocker.read_text() == "not a directory"


def test_directory_that_cannot_be_created_even_by_root() -> None:
    path = Path("/sys/katmonitor-test/katmonitor.sqlite3")  # sysfs refuses mkdir, even to root
    if not Path("/sys/kernel").is_dir() or path.parent.exists():
        pytest.skip("needs a Linux sysfs at /sys")
    assert_unwritable(f"sqlite:///{path}", path, "permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod")
def test_read_only_directory(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        path = directory / "katmonitor.sqlite3"
        assert_unwritable(f"sqlite:///{path}", path, "permission denied")
    finally:
        directory.chmod(0o755)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod")
def test_read_only_database_file(tmp_path: Path) -> None:
    path = tmp_path / "katmonitor.sqlite3"
    open_database(f"sqlite:///{path}").close()
    path.chmod(0o444)
    try:
        assert_unwritable(f"sqlite:///{path}", path, "permission denied")
    finally:
        path.chmod(0o644)


def test_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError) as excinfo:
        open_database(f"sqlite:///{tmp_path}")
    assert "it is a directory" in excinfo.value.message


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(DatabaseError) as excinfo:
        open_database(f"sqlite:///{path}")
    assert excinfo.value.message.startswith(f"{path} is not a KAT Monitor database")
    assert path.read_bytes().startswith(b"these are my notes")
