"""Switching a running workstation to other devices (the device settings' Save & apply)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from waiting_sink import TIMEOUT_S, notify_deliveries

from katmonitor.base.errors import ConfigurationError, SessionStateError
from katmonitor.base.samples import ConnectionState
from katmonitor.base.vitals import VitalKind
from katmonitor.session import Route
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore
from katmonitor.workstation import Workstation

MISSING_PORT = "masimo:/dev/ttyKATMISSING"

MakeStation = Callable[[list[str]], Workstation]

# Per running station: woken after each delivery from its devices (tests wait on it).
deliveries: dict[int, threading.Condition] = {}


@pytest.fixture
def make_station(sqlite_url: str) -> Iterator[MakeStation]:
    stations: list[Workstation] = []

    def make(specs: list[str]) -> Workstation:
        from devices.registry import open_device

        station = Workstation(open_database(sqlite_url), [open_device(s) for s in specs])
        stations.append(station)
        deliveries[id(station)] = threading.Condition()
        notify_deliveries(station.pipeline, deliveries[id(station)])
        station.start()
        return station

    yield make
    for station in stations:
        station.shutdown()
        station.database.close()
        del deliveries[id(station)]


def wait_for(station: Workstation, predicate: Callable[[], bool]) -> None:
    """Wait until what the devices delivered to the station makes ``predicate`` true."""
    changed = deliveries[id(station)]
    with changed:
        assert changed.wait_for(predicate, TIMEOUT_S), "condition not met in time"


def sources(station: Workstation) -> set[str]:
    return {status.source for status in station.device_statuses()}


def test_new_devices_feed_the_same_pipeline_and_the_old_ones_are_forgotten(
    make_station: MakeStation,
) -> None:
    station = make_station(["sim:normal"])
    wait_for(station, lambda: sources(station) == {"sim"})
    old = station.devices[0]

    station.replace_devices(["sim:desaturation?name=ox&primary=spo2"])
    assert not old.running
    assert [d.spec for d in station.devices] == ["sim:desaturation?name=ox&primary=spo2"]
    assert station.pipeline.primary_sources == {VitalKind.SPO2: "ox"}
    wait_for(station, lambda: station.pipeline.shown_source(VitalKind.SPO2) == "ox")
    assert sources(station) == {"ox"}  # the removed device's "stopped" is not shown for ever
    wait_for(station, lambda: VitalKind.SPO2 in station.readings())


def test_a_training_session_cannot_switch_to_real_devices(make_station: MakeStation) -> None:
    station = make_station(["sim:normal"])
    session = station.start_session("C-7", "esketamine", Route.INTRANASAL)
    before = list(station.devices)

    with pytest.raises(SessionStateError, match="training session") as caught:
        station.replace_devices([MISSING_PORT])
    assert "never mixed" in caught.value.hint
    assert station.devices == before and before[0].running
    assert station.training and station.recording

    # Another simulated device is fine: the session stays a training session.
    station.replace_devices(["sim:hypertensive"])
    assert station.recording and station.training
    wait_for(
        station,
        lambda: any(s.state is ConnectionState.CONNECTED for s in station.device_statuses()),
    )
    station.end_session()
    events = SessionStore(station.database).device_events(session.id)
    assert ConnectionState.STOPPED in {e.state for e in events}, "the switch is on record"


def test_a_clinical_session_cannot_switch_to_simulated_devices(
    make_station: MakeStation,
) -> None:
    station = make_station([])
    station.start_session("C-8", "esketamine", Route.INTRANASAL)
    station.replace_devices([MISSING_PORT])  # real for real: allowed
    with pytest.raises(SessionStateError, match="clinical session"):
        station.replace_devices(["sim:normal"])
    assert [d.spec for d in station.devices] == [MISSING_PORT]


def test_bad_or_mixed_devices_change_nothing(make_station: MakeStation) -> None:
    station = make_station(["sim:normal"])
    before = list(station.devices)
    with pytest.raises(ConfigurationError, match="simulated and real"):
        station.replace_devices(["sim:normal", MISSING_PORT])
    with pytest.raises(ConfigurationError, match="unknown device type"):
        station.replace_devices(["frobnicator:1"])
    assert station.devices == before and before[0].running


def test_a_workstation_not_started_yet_starts_nothing(sqlite_url: str) -> None:
    station = Workstation(open_database(sqlite_url), [])
    try:
        station.replace_devices(["sim:normal"])
        assert not station.devices[0].running and station.training
    finally:
        station.database.close()
