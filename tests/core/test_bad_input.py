"""Input that cannot be right, given to the real command: refused with one clear message and a
non-zero exit, never a traceback, and nothing created or changed on the way (issue 12)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_runner import katmonitor, without_the_window

from katmonitor.session import Route
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore

T0 = 1_767_225_600.0


def assert_refused(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


# -- database URLs -------------------------------------------------------------------------------

RECORD = ("record", "--device", "sim:normal", "--duration", "0.2")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
@pytest.mark.parametrize(
    "command", [RECORD, ("sessions", "list"), ("db", "upgrade")], ids=lambda c: c[0]
)
def test_an_in_memory_database_is_refused(url: str, command: tuple[str, ...]) -> None:
    """What a command writes into memory is gone when it exits: `record` used to print a
    session id and exit 0 with nothing kept."""
    result = katmonitor(*command, "--db", url)
    assert_refused(result, "in-memory database", "sqlite:///path/to/katmonitor.sqlite3")
    assert result.stdout == ""  # no session id


def test_the_window_refuses_an_in_memory_database(monkeypatch: pytest.MonkeyPatch) -> None:
    without_the_window(monkeypatch)
    assert_refused(katmonitor("run", "--device", "sim:normal", "--db", "sqlite://"), "in-memory")


def test_an_empty_database_url_from_an_unset_variable_is_refused(
    isolated_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--db "$UNSET"` must not quietly fall back to the default database either."""
    assert_refused(katmonitor(*RECORD, "--db", ""), "--db is empty", "not set")
    monkeypatch.setenv("KATMONITOR_DB", "")
    assert_refused(katmonitor(*RECORD), "$KATMONITOR_DB is empty")
    assert not isolated_data_dir.exists()


@pytest.mark.parametrize(
    "url", ["postgresql://u:p@[::1/x", "postgresql://u:secret@host:port/x"]
)
def test_a_malformed_postgresql_url_is_refused_with_its_password_masked(url: str) -> None:
    result = katmonitor("sessions", "list", "--db", url)
    assert_refused(result, "cannot understand database URL", "postgresql+psycopg://")
    assert ":p@" not in result.stderr and "secret" not in result.stderr


def test_a_sqlite_file_name_too_long_for_the_file_system_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ("k" * 300 + ".sqlite3")
    result = katmonitor(*RECORD, "--db", f"sqlite:///{path}")
    assert_refused(result, "file name is too long", "--db")
    assert not list(tmp_path.glob("k*"))


def test_a_db_path_in_a_missing_directory_is_refused_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "katmonitor.sqlite3"
    result = katmonitor(*RECORD, "--db", f"sqlite:///{path}")
    assert_refused(result, f"the directory {path.parent} does not exist", "mkdir -p")
    assert not path.parent.exists()


# -- alarm profiles and care plans ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        # A delay nobody would wait for: a 60 s dip to 86 % raised no alarm.
        ("[parameters.spo2]\ndelay_s = 1e9\n", ("line 3", "delay_s", "from 0 to 60")),
        # NaN compares false with everything: the alarm never ended.
        ("[parameters.spo2]\ndelay_s = nan\n", ("line 3", "delay_s", "nan")),
        ("[parameters.hr]\nhysteresis = nan\n", ("line 3", "hysteresis", "from 0 to 20")),
        ("[parameters.hr]\nhysteresis = inf\n", ("hysteresis", "inf")),
        ("[parameters.hr]\nlow = { limit = -inf }\n", ("line 3", "low.limit")),
        ("audio_pause_s = 86400\n", ("line 2", "audio_pause_s", "from 1 to 300")),
        ("[parameters.spo2]\nescalate_after_s = 1e12\n", ("escalate_after_s", "3600")),
        ("[parameters.spo2]\ndelay = 10\n", ("line 3", "parameters.spo2.delay", "unknown key")),
        (
            "[parameters.spo2]\nlow = { limit = 90, priorty = 'high' }\n",
            ("line 3", "low.priorty", "unknown key"),
        ),
    ],
)
def test_an_alarm_profile_value_out_of_bounds_or_unknown_is_refused_with_its_line(
    tmp_path: Path, text: str, phrases: tuple[str, ...]
) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text('extends = "default"\n' + text)
    result = katmonitor("alarms", "check-profile", str(path))
    assert_refused(result, str(path), *phrases)
    assert result.stdout == ""


@pytest.mark.parametrize(
    "content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", b"name = 'x'\x00\x00\n"]
)
def test_a_binary_profile_or_care_plan_is_refused(
    tmp_path: Path, content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.toml"
    path.write_bytes(content)
    assert_refused(katmonitor("alarms", "check-profile", str(path)), str(path), "not a text file")
    assert_refused(katmonitor("care-plan", str(path)), str(path), "not a text file")
    without_the_window(monkeypatch)
    assert_refused(
        katmonitor("run", "--device", "sim:normal", "--care-plan", str(path)), "not a text file"
    )


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        # A misspelt key used to leave the shipped gate in force without a word.
        ("[gate]\nsystolic_max = 150\nsystolc_max = 150\n", ("line 3", "gate.systolc_max")),
        ("naem = 'clinic'\n", ("line 1", "naem")),
        ("[routes.nasal]\nnibp_cycle_min = 5\n", ("line 1", "routes.nasal")),
        (
            "[[eligibility]]\nid = 'a'\nquestion = 'Q?'\nacceptable = true\nrem = 'x'\n",
            ("line 5", "eligibility[0].rem"),
        ),
        ("[gate]\nheart_rate_max = nan\n", ("gate.heart_rate_max", "from 30 to 250")),
        ("[timing]\ndue_lead_min = inf\n", ("timing.due_lead_min", "0-1440")),
    ],
)
def test_a_care_plan_with_an_unknown_key_or_a_bad_number_is_refused(
    tmp_path: Path, text: str, phrases: tuple[str, ...]
) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text(text)
    result = katmonitor("care-plan", str(path))
    assert_refused(result, str(path), *phrases)
    assert result.stdout == ""


# -- session ids ---------------------------------------------------------------------------------

BAD_IDS = ["18446744073709551616", "9223372036854775808", "-1", "0", "abc", "1e3", "٣"]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_a_session_id_that_cannot_exist_is_a_usage_error(
    sqlite_url: str, tmp_path: Path, bad_id: str
) -> None:
    for command in (
        ("sessions", "show", bad_id),
        ("export", bad_id, "--format", "csv", "--out", str(tmp_path / "x.csv")),
    ):
        result = katmonitor(*command, "--db", sqlite_url)
        assert_refused(result, "session id")
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("bad_id", ["18446744073709551616", "99999999999999999999999"])
def test_alarm_replay_of_a_session_id_beyond_64_bits_is_refused(
    sqlite_url: str, bad_id: str
) -> None:
    assert_refused(katmonitor("alarms", "replay", bad_id, "--db", sqlite_url), "session id")


def test_the_largest_possible_session_id_is_simply_not_found(sqlite_url: str) -> None:
    assert_refused(
        katmonitor("sessions", "show", str(2**63 - 1), "--db", sqlite_url), "no session"
    )


# -- untrusted text ------------------------------------------------------------------------------

HOSTILE_CLIENT = "C-1\nFAKE  ended\x1b[2J\x1b[31mRED\u202eevil\u2066"


def test_client_ids_and_notes_are_printed_with_control_characters_escaped(
    sqlite_url: str,
) -> None:
    database = open_database(sqlite_url)
    try:
        store = SessionStore(database)
        session = store.create_session(
            client_id=HOSTILE_CLIENT,
            medicine="ketamine",
            route=Route.SUBLINGUAL,
            started_at=T0,
            training=True,
            devices=("sim:normal",),
            workstation="room\r1",
        )
        store.add_observation(
            session.id, time=T0 + 5, text="calm\x1b]0;pwned\x07", author="A\u202eB",
            recorded_at=T0 + 5,
        )
    finally:
        database.close()

    listing = katmonitor("sessions", "list", "--db", sqlite_url)
    shown = katmonitor("sessions", "show", str(session.id), "--db", sqlite_url)
    for result in (listing, shown):
        assert result.returncode == 0, result.stderr
        for raw in ("\x1b", "\u202e", "\u2066", "\r", "\x07"):
            assert raw not in result.stdout
    lines = listing.stdout.splitlines()
    assert len(lines) == 2  # the header and one session: no forged line
    assert lines[1].split()[1].startswith("C-1\\x0aFAKE")
    assert "\\x1b[2J" in shown.stdout and "\\u202e" in shown.stdout
    assert "room\\x0d1" in shown.stdout and "calm\\x1b]0;pwned\\x07" in shown.stdout


# -- devices that cannot be there ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "phrases"),
    [
        ("ge-dri:/dev/katmonitor-no-such-port", ("serial port", "does not exist", "devices")),
        ("nonin-df7:/dev/katmonitor-no-such-port", ("/dev/katmonitor-no-such-port",)),
        ("hl7:no-such-gateway.invalid:2575", ("no-such-gateway.invalid", "cannot be resolved")),
    ],
)
def test_record_refuses_a_device_that_cannot_exist_before_any_session(
    sqlite_url: str, tmp_path: Path, spec: str, phrases: tuple[str, ...]
) -> None:
    """It used to record an empty session and exit 0."""
    result = katmonitor("record", "--device", spec, "--duration", "1", "--db", sqlite_url)
    assert_refused(result, *phrases)
    assert result.stdout == ""
    assert not (tmp_path / "katmonitor.sqlite3").exists()  # no database, so no session


def test_error_messages_quoting_what_was_typed_are_escaped(tmp_path: Path) -> None:
    name = str(tmp_path / "clinic\x1b[2J\u202e.toml")
    result = katmonitor("alarms", "check-profile", name)
    assert_refused(result, "does not exist", "clinic\\x1b[2J\\u202e.toml")
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr


def test_alarm_replay_of_a_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"kind": "hr"}\n\xff\xfe\x00\x89binary')
    assert_refused(katmonitor("alarms", "replay", str(path)), str(path), "not a text file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_file_given_as_a_care_plan_is_refused_without_reading_it() -> None:
    assert_refused(katmonitor("care-plan", "/dev/zero"), "/dev/zero is not a regular file")


def test_an_oversized_care_plan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_text("# padding\n" * 200_000)
    assert_refused(katmonitor("care-plan", str(path)), "larger than 1024 KiB")


@pytest.mark.parametrize(
    ("spec", "phrase"),
    [
        ("hl7:[::1:2575", "cannot be resolved"),
        ("hl7:192.0.2.77:2575", "not an address of this computer"),  # TEST-NET-1
    ],
)
def test_record_refuses_an_hl7_address_it_cannot_listen_on(
    sqlite_url: str, tmp_path: Path, spec: str, phrase: str
) -> None:
    result = katmonitor("record", "--device", spec, "--duration", "1", "--db", sqlite_url)
    assert_refused(result, phrase)
    assert not (tmp_path / "katmonitor.sqlite3").exists()


def test_record_refuses_a_capture_file_in_a_missing_directory(
    sqlite_url: str, tmp_path: Path
) -> None:
    capture = tmp_path / "nodir" / "raw.bin"
    result = katmonitor(
        "record", "--device", "sim:normal", "--capture", str(capture), "--duration", "1",
        "--db", sqlite_url,
    )
    assert_refused(result, f"the directory {capture.parent} does not exist")
    assert not capture.parent.exists() and not (tmp_path / "katmonitor.sqlite3").exists()
