"""The workstation with simulated devices on a manual clock (devices/virtual_time.py): the
monitor's seconds pass in milliseconds, each step handled before the next, so a busy machine
makes these tests slower, never different."""

from collections.abc import Callable, Iterator

import pytest
from workflow_helpers import complete_predose, sign_in_nurse

from devices.virtual_time import VirtualTime
from katmonitor.base.errors import ConfigurationError, SessionStateError
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore
from katmonitor.workstation import Workstation


def on_virtual_time(database_url: str, virtual: VirtualTime, *specs: str) -> Workstation:
    """A started workstation whose simulated devices and clock are ``virtual``'s."""
    station = Workstation(
        open_database(database_url), [virtual.open(spec) for spec in specs], clock=virtual.clock
    )
    station.start()
    virtual.settle()
    return station


@pytest.fixture
def workstation(sqlite_url: str, virtual: VirtualTime) -> Iterator[Workstation]:
    station = on_virtual_time(sqlite_url, virtual, "sim:normal?nibp_interval=5")
    yield station
    station.shutdown()
    station.database.close()


def wait_for(virtual: VirtualTime, predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    """Let up to ``seconds`` of device time pass until ``predicate`` holds."""
    waited = 0.0
    while not predicate():
        assert waited < seconds, f"condition not met within {seconds} s of device time"
        virtual.sleep(0.25)
        waited += 0.25


def test_vitals_show_before_a_session_and_the_minutes_before_start_become_the_baseline(
    workstation: Workstation, virtual: VirtualTime
) -> None:
    wait_for(virtual, lambda: VitalKind.HR in workstation.readings())
    assert not workstation.recording
    virtual.sleep(1.5)
    session = workstation.start_session("C-001", "esketamine", Route.INTRANASAL)
    assert session.training  # fed by the simulator
    virtual.sleep(2.5)
    ended = workstation.end_session()
    assert ended.status is SessionStatus.ENDED and ended.ended_at is not None
    store = SessionStore(workstation.database)
    items = list(store.iter_samples(session.id))
    times = [item.time if isinstance(item, Sample) else item.end_time for item in items]
    assert min(times) < session.started_at - 1.0  # pre-dose baseline kept
    assert max(times) >= session.started_at + 1.0  # and recording went on after the start
    counts = store.sample_counts(session.id)
    assert counts["hr"] >= 1 and counts["pleth"] >= 250


def test_doses_and_observations_are_recorded_on_the_timeline(
    workstation: Workstation, virtual: VirtualTime
) -> None:
    sign_in_nurse(workstation)
    session = workstation.start_session("C-002", "esketamine", Route.INTRANASAL)
    complete_predose(workstation)
    wait_for(virtual, lambda: workstation.workflow.gate().passed, seconds=15)  # pre-dose NIBP
    dose = workstation.add_dose(56, 2, "LOT-A1", "RN Lee")
    note = workstation.add_observation("Client relaxed, eyes closed", "RN Lee")
    assert [e.id for e in workstation.timeline()] == [dose.id, note.id]
    store = SessionStore(workstation.database)
    [stored] = store.doses(session.id)
    assert (stored.dose_mg, stored.unit_count, stored.lot, stored.route) == (
        56,
        2,
        "LOT-A1",
        Route.INTRANASAL,
    )
    assert store.observations(session.id)[0].text == "Client relaxed, eyes closed"


def test_entries_that_cannot_be_right_are_refused_and_nothing_is_stored(
    workstation: Workstation,
) -> None:
    with pytest.raises(SessionStateError, match="no session is running"):
        workstation.add_dose(56, 2, "L", "RN Lee")
    with pytest.raises(ConfigurationError, match="client identifier is required"):
        workstation.start_session("  ", "ketamine", Route.ORAL)
    sign_in_nurse(workstation)
    session = workstation.start_session("C-003", "ketamine", Route.SUBLINGUAL)
    complete_predose(workstation)
    with pytest.raises(ConfigurationError, match="positive"):
        workstation.add_dose(0, 1, "L", "RN Lee")
    with pytest.raises(ConfigurationError, match="at least 1"):
        workstation.add_dose(100, 0, "L", "RN Lee")
    with pytest.raises(SessionStateError, match="already running"):
        workstation.start_session("C-004", "ketamine", Route.ORAL)
    assert SessionStore(workstation.database).doses(session.id) == []


def test_shutdown_leaves_a_running_session_interrupted_and_it_can_be_reopened(
    sqlite_url: str, virtual: VirtualTime
) -> None:
    first = on_virtual_time(sqlite_url, virtual, "sim:normal")
    database = first.database
    session = first.start_session("C-005", "ketamine", Route.IM)
    virtual.sleep(1.1)
    first.shutdown()
    store = SessionStore(database)
    assert store.get_session(session.id).status is SessionStatus.INTERRUPTED
    before = store.sample_counts(session.id)["hr"]
    assert before >= 1

    second = Workstation(database, [virtual.open("sim:normal")], clock=virtual.clock)
    second.start()
    virtual.settle()
    assert [s.id for s in second.reopenable_sessions()] == [session.id]
    second.reopen_session(session.id)
    # The reconnected monitor's displayed values arrive within its 5-second cycle.
    wait_for(
        virtual,
        lambda: second.recorder.flush() and store.sample_counts(session.id)["hr"] > before,
        seconds=10,
    )
    second.end_session()
    second.shutdown()
    assert store.get_session(session.id).status is SessionStatus.ENDED
    assert store.sample_counts(session.id)["hr"] > before
    database.close()


def test_a_monitor_and_an_oximeter_feed_one_session_and_the_primary_is_shown(
    sqlite_url: str, virtual: VirtualTime
) -> None:
    station = on_virtual_time(
        sqlite_url,
        virtual,
        "sim:normal",  # GE DRI: HR, NIBP, SpO2, PR, PI, pleth
        "sim:normal?protocol=masimo&name=oximeter&primary=spo2,pulse_rate",
    )
    database = station.database
    try:
        session = station.start_session("C-006", "esketamine", Route.INTRANASAL)
        wait_for(
            virtual,
            lambda: VitalKind.SPO2 in station.readings() and VitalKind.HR in station.readings(),
        )
        virtual.sleep(1.5)
        assert station.readings()[VitalKind.SPO2].sample.source == "oximeter"
        assert station.readings()[VitalKind.HR].sample.source == "sim"
        station.end_session()
    finally:
        station.shutdown()
    spo2_sources = {
        item.source
        for item in SessionStore(database).iter_samples(session.id)
        if isinstance(item, Sample) and item.kind is VitalKind.SPO2
    }
    assert spo2_sources == {"sim", "oximeter"}  # both recorded, each with its source
    assert SessionStore(database).get_session(session.id).devices == (
        "sim:normal",
        "sim:normal?protocol=masimo&name=oximeter&primary=spo2,pulse_rate",
    )
    database.close()
