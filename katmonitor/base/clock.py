"""Time sources. UTC for what is recorded and shown, kept steady; monotonic for waiting.

A workstation's wall clock can step: NTP correcting it at boot, a person changing it, a
daylight-saving mistake. Recorded times must neither jump back (samples would be stored out of
order, a minute recorded twice) nor forward (a gap that never happened). :func:`steady_time`
is UTC taken once at start-up and carried forward by the monotonic clock; :func:`clock_step`
says how far the wall clock has moved away from it since, so the step can be noted in the
record (the workstation does, once per step).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """UTC seconds since the epoch."""
        ...


_WALL_AT_START = time.time()
_MONOTONIC_AT_START = time.monotonic()


def steady_time() -> float:
    """UTC seconds since the epoch that only ever advance, at the monotonic clock's rate."""
    return _WALL_AT_START + (time.monotonic() - _MONOTONIC_AT_START)


def catch_up_with_wall_clock() -> float:
    """Move the steady timeline forward to the wall clock when the wall clock is ahead (e.g.
    NTP set it after the app started at boot); never back, so nothing recorded is reordered.
    Returns how far it moved. Called between sessions, where a forward jump is harmless."""
    global _WALL_AT_START, _MONOTONIC_AT_START
    step = clock_step()
    if step <= 0:
        return 0.0
    _WALL_AT_START, _MONOTONIC_AT_START = time.time(), time.monotonic()
    return step


def clock_step() -> float:
    """How far the wall clock is from :func:`steady_time` now (seconds; + ahead)."""
    return time.time() - steady_time()


class SystemClock:
    """The workstation's steady UTC (see :func:`steady_time`)."""

    def now(self) -> float:
        return steady_time()


class ManualClock:
    """A clock that moves only when told (tests, replays)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def set(self, epoch_s: float) -> None:
        self._now = epoch_s
