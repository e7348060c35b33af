"""The access log: every entry chained to the one before, readable by user and time, and any
change in the middle named by verify."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, update

from katmonitor.access_log import AccessLog, Action, Outcome
from katmonitor.base.clock import ManualClock
from katmonitor.storage.database import Database, open_database
from katmonitor.storage.models import ACCESS_LOG


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    yield db
    db.close()


def _log(database: Database, start: float = 1_790_000_000.0) -> tuple[AccessLog, ManualClock]:
    clock = ManualClock(start)
    return AccessLog(database, clock.now, workstation="room-1"), clock


def test_entries_read_back_in_order_with_who_what_and_outcome(database: Database) -> None:
    log, clock = _log(database)
    log.record("nina", Action.SIGN_IN)
    clock.advance(5)
    log.record("nina", Action.SIGN_IN, outcome=Outcome.FAILED, detail="wrong password")
    clock.advance(5)
    log.record("admin", Action.ACCOUNT_RESET_PASSWORD, target="nina")

    entries = list(log.entries())
    assert [(e.seq, e.user, e.action, e.target, e.outcome) for e in entries] == [
        (0, "nina", "sign_in", "", "ok"),
        (1, "nina", "sign_in", "", "failed"),
        (2, "admin", "account_reset_password", "nina", "ok"),
    ]
    assert entries[2].to_json_dict()["time"] == "2026-09-21T14:13:30.000Z"
    assert [e.seq for e in log.entries(user="nina")] == [0, 1]
    assert [e.seq for e in log.entries(since=1_790_000_005.0)] == [1, 2]
    assert log.verify() == []
    assert log.head()[0] == 3


def test_a_changed_entry_is_named(database: Database) -> None:
    log, _ = _log(database)
    for _ in range(3):
        log.record("nina", Action.SIGN_IN)
    with database.engine.begin() as conn:
        conn.execute(update(ACCESS_LOG).where(ACCESS_LOG.c.seq == 1).values(user_name="eve"))
    assert log.verify() == ["access log entry 1 was changed after it was written"]


def test_a_removed_entry_and_a_forged_hash_are_named(database: Database) -> None:
    log, _ = _log(database)
    for _ in range(4):
        log.record("nina", Action.SIGN_IN)
    with database.engine.begin() as conn:
        conn.execute(delete(ACCESS_LOG).where(ACCESS_LOG.c.seq == 1))
        conn.execute(update(ACCESS_LOG).where(ACCESS_LOG.c.seq == 3).values(hash="0" * 64))
    problems = log.verify()
    assert "access log entries 1..1 are missing" in problems
    assert "access log entry 2 does not follow the one before it" in problems
    assert "access log entry 3 has a wrong hash" in problems


def test_two_writers_never_fork_the_chain(database: Database) -> None:
    first, _ = _log(database)
    second = AccessLog(database, workstation="room-2")
    for _ in range(5):
        first.record("nina", Action.SIGN_IN)
        second.record("omar", Action.SIGN_IN)
    assert [e.seq for e in first.entries()] == list(range(10))
    assert first.verify() == []
