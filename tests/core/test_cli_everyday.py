"""The record commands as a nurse meets them: a session that does not exist is said before any
password is asked, a file that is not a bundle is said to be one (no traceback), and
`sessions list` tells which records are signed."""

from __future__ import annotations

import json
from pathlib import Path

from account_helpers import add_account
from cli_runner import katmonitor
from signing_helpers import recorded_session

from katmonitor.accounts import AccountStore
from katmonitor.record_signing import sign_session
from katmonitor.records.bundle import BUNDLE_FORMAT, is_plainly_not_a_bundle
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore

PASSWORD = "correct horse"


def test_sign_and_addendum_of_a_missing_session_say_so_before_the_password(
        sqlite_url: str) -> None:
    open_database(sqlite_url).close()
    for command in (("sign", "999", "--user", "nina"),
                    ("addendum", "999", "--user", "nina", "--kind", "note", "--text", "x")):
        # stdin is empty: a command that asked for the password first would say "no password"
        result = katmonitor(*command, "--password-stdin", "--db", sqlite_url, stdin="")
        assert result.returncode == 2, result.stderr
        assert "no session 999" in result.stderr
        assert "password" not in result.stderr and "Traceback" not in result.stderr


def test_verify_of_a_file_that_is_not_a_bundle_says_so(sqlite_url: str, tmp_path: Path) -> None:
    open_database(sqlite_url).close()
    files = {
        "report.csv": b"time,source,kind,value\n2026-01-01T00:00:00Z,sim,hr,71\n",
        "report.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        "keys.json": json.dumps({"format": "katmonitor-trusted-keys", "keys": []}).encode(),
        "empty.katbundle": b"",
    }
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = katmonitor("verify", "--file", str(path), "--db", sqlite_url)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert f"{path} is not a bundle" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_damaged_bundle_is_still_damaged_not_something_else() -> None:
    bundle = json.dumps({"format": BUNDLE_FORMAT, "version": 5, "session_id": 1, "entries": [],
                         "recorded": {}, "signature": {}, "public_key": None,
                         "addendum_keys": {}, "checkpoints": []}).encode()
    assert not is_plainly_not_a_bundle(bundle)
    # Any one byte changed (the format name too) leaves enough of a bundle to call it damaged.
    for at in range(len(bundle)):
        changed = bundle[:at] + bytes([bundle[at] ^ 0x01]) + bundle[at + 1:]
        assert not is_plainly_not_a_bundle(changed), at
    assert is_plainly_not_a_bundle(b'{"resourceType": "Bundle", "entry": []}'), "a FHIR file"


def test_sessions_list_shows_which_records_are_signed(sqlite_url: str) -> None:
    database = open_database(sqlite_url)
    try:
        store = SessionStore(database)
        add_account(AccountStore(database), "nina", "nurse", PASSWORD, full_name="Nina RN")
        signed_id = recorded_session(store)
        unsigned_id = recorded_session(store)
        sign_session(store, signed_id, "nina", PASSWORD)
    finally:
        database.close()
    listing = katmonitor("sessions", "list", "--db", sqlite_url)
    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split()[-1] == "RECORD"
    by_id = {int(row.split()[0]): row.split()[-1] for row in rows}
    assert by_id == {signed_id: "signed", unsigned_id: "unsigned"}
    as_json = json.loads(katmonitor("sessions", "list", "--json", "--db", sqlite_url).stdout)
    assert {s["id"]: s["signed"] for s in as_json} == {signed_id: True, unsigned_id: False}
