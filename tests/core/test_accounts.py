"""Accounts: argon2id passwords, roles, disabling, password resets and signing keys."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from account_helpers import AS_ADMIN, TEST_ADMIN, TEST_ADMIN_PASSWORD, add_account
from cli_runner import katmonitor
from sqlalchemy import select

from katmonitor.accounts import AccountStore, Role
from katmonitor.base.errors import AuthenticationError, ConfigurationError, PermissionDeniedError
from katmonitor.storage.database import Database, open_database
from katmonitor.storage.models import UserKeyRecord, UserRecord


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    yield db
    db.close()


def test_password_is_stored_as_argon2id(database: Database) -> None:
    accounts = AccountStore(database)
    add_account(accounts, "nina", Role.NURSE, "correct horse")
    with database.engine.connect() as conn:
        stored = conn.scalar(select(UserRecord.password_hash))
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert accounts.authenticate("nina", "correct horse").role is Role.NURSE


def test_wrong_password_and_unknown_user_get_the_same_message(database: Database) -> None:
    accounts = AccountStore(database)
    add_account(accounts, "nina", "nurse", "correct horse")
    with pytest.raises(AuthenticationError) as wrong:
        accounts.authenticate("nina", "wrong password")
    with pytest.raises(AuthenticationError) as unknown:
        accounts.authenticate("nobody", "correct horse")
    assert wrong.value.message == unknown.value.message


def test_disabled_user_is_refused(database: Database) -> None:
    accounts = AccountStore(database)
    add_account(accounts, "nina", "nurse", "correct horse")
    accounts.disable_user("nina", **AS_ADMIN)
    with pytest.raises(AuthenticationError, match="disabled"):
        accounts.authenticate("nina", "correct horse")
    assert [u.name for u in accounts.list_users() if u.disabled] == ["nina"]


def test_password_policy_role_and_duplicate_names(database: Database) -> None:
    accounts = AccountStore(database)
    add_account(accounts, "nina", "nurse", "correct horse")
    with pytest.raises(ConfigurationError, match="at least 8"):
        accounts.add_user("tom", "nurse", "short", **AS_ADMIN)
    with pytest.raises(ConfigurationError, match="unknown role"):
        accounts.add_user("tom", "surgeon", "correct horse", **AS_ADMIN)
    with pytest.raises(ConfigurationError, match="already exists"):
        accounts.add_user("nina", "nurse", "correct horse", **AS_ADMIN)


def test_signing_key_unlocks_only_with_the_password(database: Database) -> None:
    accounts = AccountStore(database)
    user = add_account(accounts, "nina", "nurse", "correct horse")
    key = accounts.unlock_signing_key("nina", "correct horse")
    assert key.key_id == user.key_id
    with pytest.raises(AuthenticationError):
        accounts.unlock_signing_key("nina", "wrong password")


def test_reset_password_makes_a_new_key_and_keeps_the_old_public_key(database: Database) -> None:
    accounts = AccountStore(database)
    old = add_account(accounts, "nina", "nurse", "correct horse")
    accounts.reset_password("nina", "battery staple", **AS_ADMIN)
    with pytest.raises(AuthenticationError):
        accounts.authenticate("nina", "correct horse")
    key = accounts.unlock_signing_key("nina", "battery staple")
    assert key.key_id != old.key_id
    assert old.key_id is not None and accounts.public_key(old.key_id) is not None
    with database.engine.connect() as conn:
        retired = conn.execute(
            select(UserKeyRecord.encrypted_private_key).where(UserKeyRecord.id == old.key_id)
        ).scalar_one()
    assert retired is None


def test_change_password_keeps_the_key(database: Database) -> None:
    accounts = AccountStore(database)
    old = add_account(accounts, "nina", "nurse", "correct horse")
    accounts.change_password("nina", "correct horse", "battery staple")
    assert accounts.unlock_signing_key("nina", "battery staple").key_id == old.key_id


def test_cli_users_add_list_disable_reset(sqlite_url: str) -> None:
    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return katmonitor(*args, "--db", sqlite_url, stdin=stdin)

    def as_admin(*args: str, password: str = "") -> subprocess.CompletedProcess[str]:
        stdin = f"{TEST_ADMIN_PASSWORD}\n{password}\n" if password else f"{TEST_ADMIN_PASSWORD}\n"
        return run(*args, "--as", TEST_ADMIN, "--password-stdin", stdin=stdin)

    first = run("users", "add", "--role", "administrator", TEST_ADMIN, "--password-stdin",
                stdin=TEST_ADMIN_PASSWORD + "\n")
    assert first.returncode == 0, first.stderr
    added = as_admin("users", "add", "--role", "nurse", "nina", password="correct horse")
    assert added.returncode == 0, added.stderr
    short = as_admin("users", "add", "--role", "nurse", "tom", password="short")
    assert short.returncode == 2 and "at least 8" in short.stderr
    bad_role = as_admin("users", "add", "--role", "pilot", "tom", password="x" * 9)
    assert bad_role.returncode == 2 and "unknown role" in bad_role.stderr
    listed = run("users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(u["name"], u["role"], u["disabled"]) for u in json.loads(listed.stdout)] == [
        ("nina", "nurse", False), (TEST_ADMIN, "administrator", False)
    ]
    assert as_admin("users", "disable", "nina").returncode == 0
    assert json.loads(run("users", "list", "--json").stdout)[0]["disabled"] is True
    reset = as_admin("users", "reset-password", "nina", password="battery staple")
    assert reset.returncode == 0, reset.stderr
    missing = as_admin("users", "disable", "nobody")
    assert missing.returncode == 2 and "no user" in missing.stderr
    assert "nina" in run("users", "list").stdout
    assert katmonitor("users", "--help").returncode == 0


# -- who may change accounts -------------------------------------------------------------------


def test_the_first_account_is_an_administrator_and_needs_no_credentials(
    database: Database,
) -> None:
    accounts = AccountStore(database)
    with pytest.raises(ConfigurationError, match=r"first account .* must be an administrator"):
        accounts.add_user("nina", "nurse", "correct horse")
    assert not accounts.has_users()
    accounts.add_user("ada", "administrator", "admin-pass-1", "Ada Admin")
    with pytest.raises(AuthenticationError, match="administrator's name and password"):
        accounts.add_user("eve", "administrator", "correct horse")
    assert [e.action for e in accounts.access_log.entries()] == ["account_add", "account_add"]
    assert [(e.user, e.target, e.outcome) for e in accounts.access_log.entries()] == [
        ("ada", "ada", "ok"), ("", "eve", "refused")
    ]


def test_account_changes_need_a_right_administrator_password(database: Database) -> None:
    accounts = AccountStore(database)
    add_account(accounts, "nina", "nurse", "correct horse", "Nina Ross")
    attempts = {
        "reset": lambda **who: accounts.reset_password("nina", "battery staple", **who),
        "disable": lambda **who: accounts.disable_user("nina", **who),
        "role": lambda **who: accounts.set_role("nina", "administrator", **who),
        "add": lambda **who: accounts.add_user("eve", "nurse", "correct horse", **who),
    }
    for attempt in attempts.values():
        with pytest.raises(AuthenticationError, match="administrator's name and password"):
            attempt(admin=None, admin_password=None)
        with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
            attempt(admin=TEST_ADMIN, admin_password="not the password")
        with pytest.raises(PermissionDeniedError, match="nina is a nurse: only an administr"):
            attempt(admin="nina", admin_password="correct horse")
    assert accounts.authenticate("nina", "correct horse").role is Role.NURSE
    assert [u.name for u in accounts.list_users()] == ["nina", TEST_ADMIN]
    refused = [(e.action, e.outcome) for e in accounts.access_log.entries()
               if e.outcome != "ok"]
    assert len(refused) == 12
    assert {outcome for _, outcome in refused} == {"refused", "failed"}


def test_printed_names_are_unique_among_active_accounts(database: Database) -> None:
    accounts = AccountStore(database)
    add_account(accounts, "nina", "nurse", "correct horse", "Nina Ross")
    for same in ("nina ross", "  Nina   Ross ", "NINA ROSS"):
        with pytest.raises(ConfigurationError, match="already used by 'nina'"):
            accounts.add_user("nina2", "nurse", "correct horse", same, **AS_ADMIN)
    assert accounts.add_user("ross", "nurse", "correct horse", "Nina Rosso", **AS_ADMIN)
    accounts.disable_user("nina", **AS_ADMIN)
    again = accounts.add_user("nina2", "nurse", "correct horse", "Nina  Ross", **AS_ADMIN)
    assert again.full_name == "Nina Ross"
    with pytest.raises(ConfigurationError, match="already used by 'nina2'"):
        accounts.enable_user("nina", **AS_ADMIN)
    accounts.disable_user("nina2", **AS_ADMIN)
    assert not accounts.enable_user("nina", **AS_ADMIN).disabled
    outcomes = [(e.action, e.target, e.outcome) for e in accounts.access_log.entries()
                if e.action in ("account_add", "account_enable") and e.target != "nina"]
    assert ("account_add", "nina2", "refused") in outcomes


def test_the_last_enabled_administrator_stays(database: Database) -> None:
    accounts = AccountStore(database)
    add_account(accounts, "nina", "nurse", "correct horse")
    with pytest.raises(ConfigurationError, match="last enabled administrator"):
        accounts.disable_user(TEST_ADMIN, **AS_ADMIN)
    with pytest.raises(ConfigurationError, match="last enabled administrator"):
        accounts.set_role(TEST_ADMIN, "nurse", **AS_ADMIN)
    accounts.set_role("nina", "administrator", **AS_ADMIN)
    assert accounts.set_role(TEST_ADMIN, "nurse", admin="nina",
                             admin_password="correct horse").role is Role.NURSE
    with pytest.raises(PermissionDeniedError):
        accounts.set_role(TEST_ADMIN, "administrator", **AS_ADMIN)  # no longer an admin
    roles = [(e.user, e.target, e.outcome, e.detail) for e in accounts.access_log.entries()
             if e.action == "account_role"]
    assert roles[:2] == [
        (TEST_ADMIN, TEST_ADMIN, "refused",
         f"cannot demote '{TEST_ADMIN}': it is the last enabled administrator"),
        (TEST_ADMIN, "nina", "ok", "now administrator"),
    ]


def test_cli_account_changes_need_an_administrator(sqlite_url: str) -> None:
    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return katmonitor(*args, "--db", sqlite_url, stdin=stdin)

    nurse_first = run("users", "add", "--role", "nurse", "nina", "--password-stdin",
                      stdin="correct horse\n")
    assert nurse_first.returncode == 2 and "must be an administrator" in nurse_first.stderr
    assert run("users", "add", "--role", "administrator", TEST_ADMIN, "--password-stdin",
               stdin=TEST_ADMIN_PASSWORD + "\n").returncode == 0
    no_admin = run("users", "add", "--role", "nurse", "nina", "--password-stdin",
                   stdin="correct horse\n")
    assert no_admin.returncode == 2 and "--as ADMIN" in no_admin.stderr
    added = run("users", "add", "--role", "nurse", "nina", "--full-name", "Nina Ross",
                "--as", TEST_ADMIN, "--password-stdin",
                stdin=f"{TEST_ADMIN_PASSWORD}\ncorrect horse\n")
    assert added.returncode == 0, added.stderr

    reset = ("users", "reset-password", "nina", "--password-stdin")
    refused = run(*reset, stdin="battery staple\n")
    assert refused.returncode == 2
    assert "an administrator's name and password are needed" in refused.stderr
    as_nurse = run(*reset, "--as", "nina", stdin="correct horse\nbattery staple\n")
    assert as_nurse.returncode == 2 and "only an administrator" in as_nurse.stderr
    wrong = run(*reset, "--as", TEST_ADMIN, stdin="not the password\nbattery staple\n")
    assert wrong.returncode == 2 and "wrong password" in wrong.stderr
    twin = run("users", "add", "--role", "nurse", "nross", "--full-name", "nina  ROSS",
               "--as", TEST_ADMIN, "--password-stdin",
               stdin=f"{TEST_ADMIN_PASSWORD}\ncorrect horse\n")
    assert twin.returncode == 2 and "already used by 'nina'" in twin.stderr

    def as_admin(*args: str) -> subprocess.CompletedProcess[str]:
        return run(*args, "--as", TEST_ADMIN, "--password-stdin",
                   stdin=TEST_ADMIN_PASSWORD + "\n")

    promoted = as_admin("users", "set-role", "nina", "therapist")
    assert promoted.returncode == 0 and "nina is now a therapist" in promoted.stdout
    last = as_admin("users", "set-role", TEST_ADMIN, "nurse")
    assert last.returncode == 2 and "last enabled administrator" in last.stderr
    assert as_admin("users", "disable", "nina").returncode == 0
    assert as_admin("users", "enable", "nina").returncode == 0
    unlocked = as_admin("users", "unlock", "nina")
    assert unlocked.returncode == 0 and "unlocked nina" in unlocked.stdout
    assert "nina" in run("users", "list").stdout
