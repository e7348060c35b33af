"""Crash recovery: a session whose recording process is gone (killed, power lost) is found on
the next start and marked interrupted with the time of its last data; it can be reopened or
closed with a reason and then signed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from cli_runner import katmonitor

from katmonitor.base.clock import ManualClock
from katmonitor.base.errors import ConfigurationError, SessionStateError
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.records.entries import STATUS_KIND, entry_body
from katmonitor.recovery import (
    HEARTBEAT_S,
    STALE_AFTER_S,
    RecordingLease,
    close_interrupted_session,
    recover_interrupted_sessions,
)
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore
from katmonitor.workstation import Workstation


@pytest.fixture
def store(database_url: str) -> Iterator[SessionStore]:
    database = open_database(database_url)
    yield SessionStore(database)
    database.close()


T0 = 1_760_000_000.0


def recorded_session(store: SessionStore, *, minutes: int) -> int:
    """A session left recording: created, a sample a second for ``minutes``, never ended."""
    session = store.create_session(
        client_id="C-1", medicine="esketamine", route=Route.INTRANASAL, started_at=T0,
        training=False, devices=("sim:normal",), workstation="room 1",
    )
    samples = [(session.id, Sample(T0 + i, "sim", VitalKind.HR, 70.0))
               for i in range(minutes * 60)]
    store.write_batch(samples, [], [], [])
    return session.id


def _dead(_pid: int) -> bool:
    return False


def _alive(_pid: int) -> bool:
    return True


def _status_entries(store: SessionStore, session_id: int) -> list[dict[str, object]]:
    with store.reading("read the chain") as tx:
        return [entry_body(r["entry"]) for r in tx.chain.entries(session_id)
                if r["kind"] == STATUS_KIND]


def test_a_killed_recorder_on_this_host_is_found_at_once(store: SessionStore) -> None:
    sid = recorded_session(store, minutes=2)
    RecordingLease(store, host="room-1").hold(sid, T0 + 120)

    found = recover_interrupted_sessions(store, T0 + 125, host="room-1", alive=_dead)

    assert [r.session_id for r in found] == [sid]
    assert found[0].last_data_at == pytest.approx(T0 + 119)  # the last stored sample
    assert store.get_session(sid).status is SessionStatus.INTERRUPTED
    last = _status_entries(store, sid)[-1]
    assert last["status"] == "interrupted" and last["last_data_at"] == found[0].last_data_at
    assert "has ended" in str(last["recovered"])


def test_a_live_recorder_is_left_alone(store: SessionStore) -> None:
    sid = recorded_session(store, minutes=1)
    RecordingLease(store, host="room-1").hold(sid, T0 + 60)
    # Same host, process still running; another host's view while heartbeats are fresh.
    assert recover_interrupted_sessions(store, T0 + 70, host="room-1", alive=_alive) == []
    assert recover_interrupted_sessions(store, T0 + 70, host="room-2", alive=_dead) == []
    assert store.get_session(sid).status is SessionStatus.ACTIVE


def test_another_workstations_silent_recorder_is_gone_after_the_stale_time(
    store: SessionStore,
) -> None:
    sid = recorded_session(store, minutes=1)
    lease = RecordingLease(store, host="room-2")
    lease.hold(sid, T0 + 60)
    lease.renew(sid, T0 + 60 + HEARTBEAT_S)
    silent_since = T0 + 60 + HEARTBEAT_S
    assert recover_interrupted_sessions(
        store, silent_since + STALE_AFTER_S - 1, host="room-1", alive=_alive
    ) == []
    found = recover_interrupted_sessions(
        store, silent_since + STALE_AFTER_S + 1, host="room-1", alive=_alive
    )
    assert [r.session_id for r in found] == [sid]
    assert "room-2" in found[0].why


def test_a_session_without_any_lease_is_recovered_once_it_is_old(store: SessionStore) -> None:
    sid = recorded_session(store, minutes=1)  # recorded before leases existed
    assert recover_interrupted_sessions(store, T0 + 30, host="h", alive=_dead) == []
    assert [r.session_id for r in recover_interrupted_sessions(
        store, T0 + STALE_AFTER_S + 1, host="h", alive=_dead)] == [sid]


def test_close_with_a_reason_ends_it_at_the_last_data_and_it_can_be_signed(
    store: SessionStore,
) -> None:
    sid = recorded_session(store, minutes=2)
    RecordingLease(store, host="room-1").hold(sid, T0 + 120)
    recover_interrupted_sessions(store, T0 + 125, host="room-1", alive=_dead)

    with pytest.raises(ConfigurationError, match="needs a reason"):
        close_interrupted_session(store, sid, "  ", T0 + 200)
    closed = close_interrupted_session(store, sid, "power lost in room 1", T0 + 200)

    assert closed.status is SessionStatus.ENDED
    assert closed.ended_at == pytest.approx(T0 + 119)
    assert _status_entries(store, sid)[-1]["closed_after_interruption"] == "power lost in room 1"
    with pytest.raises(SessionStateError, match="already ended"):
        close_interrupted_session(store, sid, "again", T0 + 300)


def test_a_session_still_recorded_elsewhere_cannot_be_closed(store: SessionStore) -> None:
    sid = recorded_session(store, minutes=1)
    RecordingLease(store).hold(sid, time.time())  # this very process: alive
    with pytest.raises(SessionStateError, match="still being recorded"):
        close_interrupted_session(store, sid, "power lost", time.time())


def test_the_workstation_holds_and_renews_its_lease_and_recovers_at_start(
    sqlite_url: str,
) -> None:
    clock = ManualClock(T0)
    first = Workstation(open_database(sqlite_url), [], clock=clock)
    first.start()
    session = first.start_session("C-7", "esketamine", Route.INTRANASAL)
    # The process "dies": nothing is shut down; its lease names a process that is gone.
    with first.database.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE recording_leases SET pid = 999999999")
    first._watchdog_stop.set()

    clock.advance(60)
    second = Workstation(open_database(sqlite_url), [], clock=clock)
    second.start()
    try:
        assert [r.session_id for r in second.recovered] == [session.id]
        assert second.store.get_session(session.id).status is SessionStatus.INTERRUPTED
        reopened = second.reopen_session(session.id)
        assert reopened.status is SessionStatus.ACTIVE
        clock.advance(HEARTBEAT_S)
        second._tick(clock.now())
        leases = second.database.engine.connect().exec_driver_sql(
            "SELECT pid, heartbeat_at FROM recording_leases"
        ).all()
        assert [tuple(row) for row in leases] == [(second.lease.pid, clock.now())]
    finally:
        second.shutdown()
        second.database.close()
        first.database.close()


@pytest.mark.slow
def test_sigkill_of_record_then_close_and_sign(sqlite_url: str) -> None:
    """A real ``katmonitor record`` killed with SIGKILL: the session is closable and signable."""
    process = subprocess.Popen(
        [sys.executable, "-m", "katmonitor", "record", "--device", "sim:normal",
         "--db", sqlite_url, "--client", "C-300"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    session_id = int(process.stdout.readline())
    deadline = time.monotonic() + 30
    while True:  # until some data is on disk (no fixed sleep)
        shown = json.loads(katmonitor(
            "sessions", "show", str(session_id), "--json", "--db", sqlite_url).stdout)
        if shown["sample_counts"].get("hr") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    process.kill()
    process.wait(20)

    closed = katmonitor("sessions", "close", str(session_id), "--reason", "killed",
                        "--db", sqlite_url)
    assert closed.returncode == 0, closed.stderr
    assert "can now be signed" in closed.stdout
    summary = json.loads(katmonitor(
        "sessions", "show", str(session_id), "--json", "--db", sqlite_url).stdout)
    assert summary["status"] == "ended" and summary["sample_counts"]["hr"] >= 1


def test_the_gap_is_on_record_in_the_summary_and_the_report(store: SessionStore) -> None:
    from katmonitor.exports.report_data import load_report
    from katmonitor.recovery import recording_gaps
    from katmonitor.session_summary import summarize_session

    sid = recorded_session(store, minutes=2)
    RecordingLease(store, host="room-1").hold(sid, T0 + 120)
    recover_interrupted_sessions(store, T0 + 125, host="room-1", alive=_dead)
    store.set_status(sid, SessionStatus.ACTIVE)  # reopened
    (reopened,) = recording_gaps(store, sid)
    assert reopened.start == pytest.approx(T0 + 119) and reopened.end is not None
    assert "has ended" in reopened.why

    RecordingLease(store, host="room-1").hold(sid, T0 + 300)
    recover_interrupted_sessions(store, T0 + 400, host="room-1", alive=_dead)
    close_interrupted_session(store, sid, "power lost", T0 + 500)
    gaps = recording_gaps(store, sid)
    assert len(gaps) == 2 and gaps[1].end is None and gaps[1].closed_reason == "power lost"
    shown = summarize_session(store, sid).to_json_dict()["gaps"]
    assert [g["closed_reason"] for g in shown] == ["", "power lost"]  # type: ignore[index]
    assert load_report(store, sid).gaps == gaps
