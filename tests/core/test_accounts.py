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
from katmonitor.base.errors import AuthenticationError, ConfigurationError
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
