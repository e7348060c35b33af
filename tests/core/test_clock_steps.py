"""A wall-clock change (NTP step, a person setting the time) neither reorders nor drops
recorded data: times stay on a steady timeline, and the session's record notes the step."""

from __future__ import annotations

import time

import pytest

from katmonitor.base import clock
from katmonitor.base.clock import SystemClock, steady_time
from katmonitor.session import Route
from katmonitor.storage.database import open_database
from katmonitor.workstation import CLOCK_SOURCE, Workstation


def test_steady_time_ignores_a_step_of_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    before = steady_time()
    real = time.time
    monkeypatch.setattr(clock.time, "time", lambda: real() - 3600)  # set back an hour
    after = steady_time()
    assert after >= before  # never backwards
    assert clock.clock_step() == pytest.approx(-3600, abs=1)


def test_the_session_record_notes_a_clock_step(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    station = Workstation(open_database(sqlite_url), [], clock=SystemClock())
    try:
        session = station.start_session("C-1", "esketamine", Route.INTRANASAL)
        station._tick(station.clock.now())  # no step: nothing noted
        real = time.time
        monkeypatch.setattr(clock.time, "time", lambda: real() + 3600)
        station._tick(station.clock.now())
        station._tick(station.clock.now())  # the same step is noted once
        station.recorder.write_queued()
        notes = [e for e in station.store.device_events(session.id) if e.source == CLOCK_SOURCE]
        assert len(notes) == 1
        assert "changed by +3600" in notes[0].message
    finally:
        station.database.close()


def test_a_new_session_starts_on_a_clock_corrected_forward(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started at boot before NTP set the clock: the next session is on the corrected time."""
    # The steady timeline is the process's: put it back afterwards for the other tests.
    monkeypatch.setattr(clock, "_WALL_AT_START", clock._WALL_AT_START)
    monkeypatch.setattr(clock, "_MONOTONIC_AT_START", clock._MONOTONIC_AT_START)
    real = time.time
    monkeypatch.setattr(clock.time, "time", lambda: real() + 600)
    station = Workstation(open_database(sqlite_url), [], clock=SystemClock())
    try:
        session = station.start_session("C-1", "esketamine", Route.INTRANASAL)
        assert session.started_at == pytest.approx(real() + 600, abs=1)
        assert clock.clock_step() == pytest.approx(0, abs=1)
    finally:
        station.database.close()
