"""Accounts: argon2id passwords, roles, disabling, password resets and signing keys."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
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
    accounts.add_user("nina", Role.NURSE, "correct horse")
    with database.engine.connect() as conn:
        stored = conn.scalar(select(UserRecord.password_hash))
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert accounts.authenticate("nina", "correct horse").role is Role.NURSE


def test_wrong_password_and_unknown_user_get_the_same_message(database: Database) -> None:
    accounts = AccountStore(database)
    accounts.add_user("nina", "nurse", "correct horse")
    with pytest.raises(AuthenticationError) as wrong:
        accounts.authenticate("nina", "wrong password")
    with pytest.raises(AuthenticationError) as unknown:
        accounts.authenticate("nobody", "correct horse")
    assert wrong.value.message == unknown.value.message


def test_disabled_user_is_refused(database: Database) -> None:
    accounts = AccountStore(database)
    accounts.add_user("nina", "nurse", "correct horse")
    accounts.disable_user("nina")
    with pytest.raises(AuthenticationError, match="disabled"):
        accounts.authenticate("nina", "correct horse")
    assert accounts.list_users()[0].disabled


def test_password_policy_role_and_duplicate_names(database: Database) -> None:
    accounts = AccountStore(database)
    with pytest.raises(ConfigurationError, match="at least 8"):
        accounts.add_user("nina", "nurse", "short")
    with pytest.raises(ConfigurationError, match="unknown role"):
        accounts.add_user("nina", "surgeon", "correct horse")
    accounts.add_user("nina", "nurse", "correct horse")
    with pytest.raises(ConfigurationError, match="already exists"):
        accounts.add_user("nina", "nurse", "correct horse")


def test_signing_key_unlocks_only_with_the_password(database: Database) -> None:
    accounts = AccountStore(database)
    user = accounts.add_user("nina", "nurse", "correct horse")
    key = accounts.unlock_signing_key("nina", "correct horse")
    assert key.key_id == user.key_id
    with pytest.raises(AuthenticationError):
        accounts.unlock_signing_key("nina", "wrong password")


def test_reset_password_makes_a_new_key_and_keeps_the_old_public_key(database: Database) -> None:
    accounts = AccountStore(database)
    old = accounts.add_user("nina", "nurse", "correct horse")
    accounts.reset_password("nina", "battery staple")
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
    old = accounts.add_user("nina", "nurse", "correct horse")
    accounts.change_password("nina", "correct horse", "battery staple")
    assert accounts.unlock_signing_key("nina", "battery staple").key_id == old.key_id


def test_cli_users_add_list_disable_reset(sqlite_url: str) -> None:
    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return katmonitor(*args, "--db", sqlite_url, stdin=stdin)

    added = run(
        "users", "add", "--role", "nurse", "nina", "--password-stdin", stdin="correct horse\n"
    )
    assert added.returncode == 0, added.stderr
    short = run("users", "add", "--role", "nurse", "tom", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    bad_role = run("users", "add", "--role", "pilot", "tom", "--password-stdin", stdin="x" * 9)
    assert bad_role.returncode == 2 and "unknown role" in bad_role.stderr
    listed = run("users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(u["name"], u["role"], u["disabled"]) for u in json.loads(listed.stdout)] == [
        ("nina", "nurse", False)
    ]
    assert run("users", "disable", "nina").returncode == 0
    assert json.loads(run("users", "list", "--json").stdout)[0]["disabled"] is True
    reset = run("users", "reset-password", "nina", "--password-stdin", stdin="battery staple\n")
    assert reset.returncode == 0, reset.stderr
    missing = run("users", "disable", "nobody")
    assert missing.returncode == 2 and "no user" in missing.stderr
    assert "nina" in run("users", "list").stdout
    assert katmonitor("users", "--help").returncode == 0
