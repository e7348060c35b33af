"""Lockout: five wrong passwords within ten minutes, on any credential check (signing in,
unlocking a signing key, an administrator's check), lock the account for fifteen minutes; the
right password is refused meanwhile with the time it unlocks; an administrator can unlock it.
Every check leaves an access log entry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
from account_helpers import AS_ADMIN, TEST_ADMIN, add_account
from signing_helpers import recorded_session

from katmonitor.access_log import AccessLog, Action
from katmonitor.accounts import AccountStore, wait_for_deferred_records
from katmonitor.base.clock import ManualClock
from katmonitor.base.errors import AuthenticationError, PermissionDeniedError
from katmonitor.record_signing import sign_session
from katmonitor.security_policy import SecurityPolicy
from katmonitor.storage.database import Database, open_database
from katmonitor.storage.store import SessionStore

PASSWORD = "correct horse"
START = 1_790_000_000.0


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    yield db
    db.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def accounts(database: Database, clock: ManualClock) -> AccountStore:
    store = AccountStore(database, clock=clock.now, policy=SecurityPolicy(),
                         access_log=AccessLog(database, clock.now, workstation="room-1"))
    add_account(store, "nina", "nurse", PASSWORD, "Nina Ross")
    return store


def hhmm(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s).strftime("%H:%M")


def fail_sign_in(
    accounts: AccountStore, times: int, clock: ManualClock, step_s: float = 30
) -> None:
    for _ in range(times):
        with pytest.raises(AuthenticationError):
            accounts.authenticate("nina", "wrong password")
        clock.advance(step_s)


def log_of(accounts: AccountStore, user: str = "nina") -> list[tuple[str, str, str]]:
    return [(e.action, e.outcome, e.detail) for e in accounts.access_log.entries(user=user)]


def test_five_failures_lock_and_the_right_password_is_refused_until_it_expires(
    accounts: AccountStore, clock: ManualClock
) -> None:
    fail_sign_in(accounts, 4, clock)
    assert accounts.authenticate("nina", PASSWORD).name == "nina"  # 4 do not lock; ok clears
    fail_sign_in(accounts, 4, clock)
    locked_at = clock.now()
    with pytest.raises(AuthenticationError, match=f"now locked until {hhmm(locked_at + 900)}"):
        accounts.authenticate("nina", "wrong password")

    clock.advance(14 * 60)
    with pytest.raises(AuthenticationError,
                       match=f"'nina' is locked until {hhmm(locked_at + 900)}") as refused:
        accounts.authenticate("nina", PASSWORD)
    assert "an administrator unlocks it" in refused.value.hint
    assert [u.locked_at(clock.now()) for u in accounts.list_users() if u.name == "nina"] == [True]

    clock.advance(61)
    assert accounts.authenticate("nina", PASSWORD).name == "nina"
    entries = log_of(accounts)
    assert [(a, o) for a, o, _ in entries] == (
        [("sign_in", "failed")] * 4 + [("sign_in", "ok")] + [("sign_in", "failed")] * 5
        + [("account_locked", "ok"), ("sign_in", "refused"), ("sign_in", "ok")]
    )
    assert entries[0][2] == "wrong password"
    assert "5 failed passwords within 10 min" in entries[10][2]
    assert accounts.access_log.verify() == []


def test_failures_further_apart_than_the_window_do_not_lock(
    accounts: AccountStore, clock: ManualClock
) -> None:
    fail_sign_in(accounts, 4, clock, step_s=60)
    clock.advance(10 * 60)  # the first failure is now more than 10 minutes old
    fail_sign_in(accounts, 4, clock, step_s=60)
    assert accounts.authenticate("nina", PASSWORD).name == "nina"


def test_signing_key_unlock_and_administrator_checks_count_too(
    accounts: AccountStore, clock: ManualClock
) -> None:
    fail_sign_in(accounts, 2, clock)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            accounts.key_unlocker("nina", Action.SIGN)("wrong password")
    with pytest.raises(AuthenticationError, match="now locked"):
        accounts.verify_administrator("nina", "wrong password", purpose=Action.ACCOUNT_ADD)
    with pytest.raises(AuthenticationError, match="locked until"):
        accounts.unlock_signing_key("nina", PASSWORD)  # the right one, for signing
    with pytest.raises(AuthenticationError, match="locked until"):
        accounts.change_password("nina", PASSWORD, "battery staple")
    assert [a for a, o, _ in log_of(accounts) if o == "failed"] == [
        "sign_in", "sign_in", "sign", "sign", "account_add"
    ]
    assert [a for a, o, _ in log_of(accounts) if o == "refused"] == [
        "sign", "account_change_password"
    ]


def test_an_administrator_unlocks_a_locked_account(
    accounts: AccountStore, clock: ManualClock
) -> None:
    fail_sign_in(accounts, 5, clock)
    with pytest.raises(AuthenticationError, match="locked until"):
        accounts.unlock_user("nina", admin="nina", admin_password=PASSWORD)  # not herself
    add_account(accounts, "theo", "therapist", PASSWORD)
    with pytest.raises(PermissionDeniedError, match="only an administrator"):
        accounts.unlock_user("nina", admin="theo", admin_password=PASSWORD)
    with pytest.raises(AuthenticationError, match="locked until"):
        accounts.authenticate("nina", PASSWORD)
    assert not accounts.unlock_user("nina", **AS_ADMIN).locked_at(clock.now())
    assert accounts.authenticate("nina", PASSWORD).name == "nina"
    unlocked = [e for e in accounts.access_log.entries(user=TEST_ADMIN)
                if e.action == Action.ACCOUNT_UNLOCK]
    assert [(e.target, e.outcome) for e in unlocked] == [("nina", "ok")]


def test_a_password_reset_also_lifts_the_lock(accounts: AccountStore, clock: ManualClock) -> None:
    fail_sign_in(accounts, 5, clock)
    accounts.reset_password("nina", "battery staple", **AS_ADMIN)
    assert accounts.authenticate("nina", "battery staple").name == "nina"


def test_a_failed_signing_unlock_in_another_thread_is_still_counted_and_logged(
    accounts: AccountStore, clock: ManualClock
) -> None:
    # Signing unlocks the key in a worker thread while it holds a write transaction: the
    # failure is written in the background once the database is free.
    unlock = accounts.key_unlocker("nina", Action.SIGN)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            unlock("wrong password")
        except AuthenticationError as error:
            failures.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    wait_for_deferred_records()
    assert len(failures) == 1
    assert log_of(accounts) == [("sign", "failed", "wrong password")]
    fail_sign_in(accounts, 3, clock)
    with pytest.raises(AuthenticationError, match="now locked"):
        accounts.authenticate("nina", "wrong password")


def test_an_unknown_name_is_logged_but_locks_nothing(
    accounts: AccountStore, clock: ManualClock
) -> None:
    for _ in range(6):
        with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
            accounts.authenticate("nobody", PASSWORD)
    assert log_of(accounts, "nobody") == [("sign_in", "failed", "unknown user")] * 6


def test_the_clinic_policy_sets_the_limits(database: Database, clock: ManualClock) -> None:
    accounts = AccountStore(database, clock=clock.now,
                            policy=SecurityPolicy(lockout_failures=3, lockout_min=60))
    add_account(accounts, "nina", "nurse", PASSWORD)
    fail_sign_in(accounts, 2, clock)
    with pytest.raises(AuthenticationError, match=f"until {hhmm(clock.now() + 3600)}"):
        accounts.authenticate("nina", "wrong password")


def test_wrong_passwords_when_signing_lock_the_account(database: Database) -> None:
    # The real signing path: the key is unlocked in a worker thread while the record's write
    # transaction is open; the failures are still counted and logged (and nothing deadlocks).
    store = SessionStore(database)
    sid = recorded_session(store, minutes=1)
    add_account(AccountStore(database), "nina", "nurse", PASSWORD, "Nina Ross")
    for _ in range(5):
        with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
            sign_session(store, sid, "nina", "wrong password")
        wait_for_deferred_records()
    with pytest.raises(AuthenticationError, match="is locked until"):
        sign_session(store, sid, "nina", PASSWORD)
    wait_for_deferred_records()
    entries = [(e.action, e.outcome) for e in AccessLog(database).entries(user="nina")]
    assert entries == [("sign", "failed")] * 5 + [("account_locked", "ok"), ("sign", "refused")]
