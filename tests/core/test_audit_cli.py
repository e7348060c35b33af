"""``katmonitor audit``: administrators read the access log (and that is logged too), as text or
one JSON object per line, filtered by user and time; a changed log is reported, exit 3."""

from __future__ import annotations

import json
import subprocess

import pytest
from account_helpers import TEST_ADMIN, TEST_ADMIN_PASSWORD, add_account
from cli_runner import katmonitor
from sqlalchemy import update

from katmonitor.accounts import AccountStore
from katmonitor.storage.database import open_database
from katmonitor.storage.models import ACCESS_LOG

PASSWORD = "correct horse"


@pytest.fixture
def url(sqlite_url: str) -> str:
    database = open_database(sqlite_url)
    try:
        accounts = AccountStore(database)
        add_account(accounts, "nina", "nurse", PASSWORD, "Nina Ross")
        accounts.authenticate("nina", PASSWORD)
        with pytest.raises(Exception, match="wrong password"):
            accounts.authenticate("nina", "wrong password")
    finally:
        database.close()
    return sqlite_url


def audit(url: str, *args: str, who: str = TEST_ADMIN,
          password: str = TEST_ADMIN_PASSWORD) -> subprocess.CompletedProcess[str]:
    return katmonitor("audit", *args, "--as", who, "--password-stdin", "--db", url,
                      stdin=password + "\n")


def test_json_lines_name_who_did_what_and_reading_is_logged(url: str) -> None:
    first = audit(url, "--json")
    assert first.returncode == 0, first.stderr
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert [(e["user"], e["action"], e["target"], e["outcome"]) for e in lines] == [
        (TEST_ADMIN, "account_add", TEST_ADMIN, "ok"),
        (TEST_ADMIN, "account_add", "nina", "ok"),
        ("nina", "sign_in", "", "ok"),
        ("nina", "sign_in", "", "failed"),
        (TEST_ADMIN, "read_access_log", "", "ok"),
    ]
    for entry in lines:
        assert {"time", "user", "action", "target", "outcome", "detail",
                "workstation"} <= entry.keys()
        assert entry["time"].endswith("Z")
    nina = audit(url, "--json", "--user", "nina")
    assert [json.loads(line)["action"] for line in nina.stdout.splitlines()] == [
        "sign_in", "sign_in"
    ]
    later = audit(url, "--json", "--since", "2999-01-01")
    assert later.returncode == 0 and later.stdout == ""
    text = audit(url)
    assert text.returncode == 0
    assert "read_access_log" in text.stdout and "the access log's chain verifies" in text.stdout
    reads = [json.loads(line) for line in audit(url, "--json").stdout.splitlines()
             if json.loads(line)["action"] == "read_access_log"]
    assert [r["detail"] for r in reads] == [
        "", "user nina", "since 2999-01-01 00:00:00", "", ""
    ]


def test_only_administrators_read_it(url: str) -> None:
    nurse = audit(url, who="nina", password=PASSWORD)
    assert nurse.returncode == 2 and "only an administrator" in nurse.stderr
    assert nurse.stdout == ""
    wrong = audit(url, password="not the password")
    assert wrong.returncode == 2 and "wrong password" in wrong.stderr
    missing = katmonitor("audit", "--db", url)
    assert missing.returncode == 2 and "--as" in missing.stderr
    bad_time = audit(url, "--since", "yesterday-ish")
    assert bad_time.returncode == 2 and "not a date" in bad_time.stderr
    lines = [json.loads(line) for line in audit(url, "--json").stdout.splitlines()]
    assert [(e["user"], e["outcome"]) for e in lines if e["action"] == "read_access_log"] == [
        ("nina", "refused"), (TEST_ADMIN, "failed"), (TEST_ADMIN, "ok")
    ]


def test_a_changed_entry_is_reported_with_exit_3(url: str) -> None:
    database = open_database(url)
    try:
        with database.engine.begin() as conn:  # someone hides the failed sign-in
            conn.execute(update(ACCESS_LOG).where(ACCESS_LOG.c.seq == 3)
                         .values(outcome="ok"))
    finally:
        database.close()
    result = audit(url, "--json")
    assert result.returncode == 3
    assert "chain is broken" in result.stderr
    assert "access log entry 3 was changed after it was written" in result.stderr
    assert all(json.loads(line) for line in result.stdout.splitlines())


def test_five_wrong_administrator_passwords_lock_the_cli_too(url: str) -> None:
    for _ in range(5):
        assert audit(url, password="not the password").returncode == 2
    locked = audit(url)
    assert locked.returncode == 2 and "is locked until" in locked.stderr
    reset = katmonitor("users", "reset-password", "nina", "--as", TEST_ADMIN,
                       "--password-stdin", "--db", url,
                       stdin=f"{TEST_ADMIN_PASSWORD}\nbattery staple\n")
    assert reset.returncode == 2 and "is locked until" in reset.stderr
