"""The katmonitor command, run as a user would, with a real database file: in this process
through ``main(argv)`` (cli_runner.katmonitor), and as a real process where being one matters
(the entry point, signals, data reaching the disk while it runs)."""

from __future__ import annotations

import importlib.util
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import katmonitor, katmonitor_process


def assert_clean_error(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr


def test_the_command_runs_as_a_process(sqlite_url: str) -> None:
    version = katmonitor_process("--version")
    assert version.returncode == 0 and version.stdout.startswith("katmonitor ")
    recorded = katmonitor_process(
        "record", "--device", "sim:normal", "--db", sqlite_url, "--client", "C-300",
        "--duration", "1",
    )
    assert recorded.returncode == 0, recorded.stderr
    shown = katmonitor_process("sessions", "show", recorded.stdout.strip(), "--db", sqlite_url)
    assert shown.returncode == 0 and "C-300" in shown.stdout
    refused = katmonitor_process("record", "--device", "ge-dry:/dev/ttyUSB0", "--db", sqlite_url)
    assert_clean_error(refused, "unknown device type 'ge-dry'", "sim:")


@pytest.mark.slow
def test_record_headless_then_read_the_session_back(sqlite_url: str) -> None:
    result = katmonitor(
        "record",
        "--device",
        "sim:normal?nibp_interval=5",
        "--db",
        sqlite_url,
        "--client",
        "C-100",
        "--route",
        "intranasal",
        "--duration",
        "6",
    )
    assert result.returncode == 0, result.stderr
    session_id = int(result.stdout.strip())

    listing = json.loads(katmonitor("sessions", "list", "--json", "--db", sqlite_url).stdout)
    [entry] = [s for s in listing if s["id"] == session_id]
    assert entry["client"] == "C-100" and entry["status"] == "ended" and entry["training"] is True
    assert entry["started_at"].endswith("Z") and entry["ended_at"].endswith("Z")

    summary = json.loads(
        katmonitor("sessions", "show", str(session_id), "--json", "--db", sqlite_url).stdout
    )
    counts = summary["sample_counts"]
    # The simulated GE monitor sends displayed values every 5 s: at connection and at +5 s.
    assert counts["hr"] == 2 and counts["spo2"] == 2
    # NIBP: "invalid" before the first measurement, then the reading taken at +3 s.
    assert counts["nibp_systolic"] == 2
    assert 550 <= counts["pleth"] <= 650  # 100 Hz
    assert summary["route"] == "intranasal" and summary["dose_events"] == []

    lines = katmonitor(
        "sessions", "show", str(session_id), "--samples", "--db", sqlite_url
    ).stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert {r["kind"] for r in rows} >= {
        "hr",
        "pulse_rate",
        "spo2",
        "perfusion_index",
        "pleth",
        "nibp_systolic",
        "nibp_diastolic",
        "nibp_mean",
    }
    times = [r["time"] for r in rows]
    assert times == sorted(times)
    hr = next(r for r in rows if r["kind"] == "hr")
    assert set(hr) == {"time", "source", "kind", "value", "unit", "status"}
    assert hr["unit"] == "bpm" and hr["source"] == "sim" and isinstance(hr["value"], float)
    pleth_summaries = [r for r in rows if r["kind"] == "pleth"]
    assert sum(r["count"] for r in pleth_summaries) == counts["pleth"]

    full = katmonitor(
        "sessions", "show", str(session_id), "--samples", "--pleth", "--db", sqlite_url
    )
    pleth_points = [json.loads(x) for x in full.stdout.splitlines() if '"pleth"' in x]
    assert len(pleth_points) == counts["pleth"]
    assert all(isinstance(p["value"], float) for p in pleth_points)

    text = katmonitor("sessions", "show", str(session_id), "--db", sqlite_url).stdout
    assert "C-100" in text and "TRAINING" in text


@pytest.mark.slow
def test_data_reaches_the_disk_within_a_second_while_recording(tmp_path: Path) -> None:
    db_path = tmp_path / "live.sqlite3"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "katmonitor",
            "record",
            "--device",
            "sim:normal",
            "--db",
            f"sqlite:///{db_path}",
            "--duration",
            "30",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        session_id = int(process.stdout.readline())
        time.sleep(3.0)
        with sqlite3.connect(db_path) as connection:
            # The pleth arrives every 0.25 s: the newest stored point shows how far behind
            # the disk is.
            newest = connection.execute(
                "SELECT max(start_time + count / sample_rate_hz) FROM waveform_blocks"
                " WHERE session_id = ?",
                (session_id,),
            ).fetchone()[0]
        assert newest is not None and time.time() - newest < 1.0
    finally:
        process.terminate()
        process.wait(20)


@pytest.mark.slow
def test_sigterm_flushes_and_leaves_the_session_reopenable(sqlite_url: str) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "katmonitor",
            "record",
            "--device",
            "sim:normal",
            "--db",
            sqlite_url,
            "--client",
            "C-200",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    session_id = int(process.stdout.readline())
    time.sleep(2.5)
    stopped_at = time.time()
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    summary = json.loads(
        katmonitor("sessions", "show", str(session_id), "--json", "--db", sqlite_url).stdout
    )
    assert summary["status"] == "interrupted" and summary["ended_at"] is None
    assert summary["sample_counts"]["hr"] >= 1
    rows = [
        json.loads(x)
        for x in katmonitor(
            "sessions", "show", str(session_id), "--samples", "--db", sqlite_url
        ).stdout.splitlines()
    ]
    last_pleth_end = max(r["end_time"] for r in rows if r["kind"] == "pleth")
    from katmonitor.base.samples import parse_iso_utc

    assert stopped_at - parse_iso_utc(last_pleth_end) < 0.5  # everything up to SIGTERM kept


def test_default_database_lives_in_the_data_directory(isolated_data_dir: Path) -> None:
    result = katmonitor("record", "--device", "sim:normal", "--duration", "1")
    assert result.returncode == 0, result.stderr
    assert (isolated_data_dir / "katmonitor.sqlite3").is_file()
    listing = json.loads(katmonitor("sessions", "list", "--json").stdout)
    assert len(listing) == 1


def test_environment_variable_selects_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.sqlite3'}"
    monkeypatch.setenv("KATMONITOR_DB", url)
    assert katmonitor("db", "upgrade").returncode == 0
    assert (tmp_path / "from-env.sqlite3").is_file()


def test_unknown_device_spec_is_refused_before_anything_is_written(
    sqlite_url: str, tmp_path: Path
) -> None:
    result = katmonitor("record", "--device", "ge-dry:/dev/ttyUSB0", "--db", sqlite_url)
    assert_clean_error(result, "unknown device type 'ge-dry'", "sim:")
    assert not (tmp_path / "katmonitor.sqlite3").exists()


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("notaurl", "database URL"),
        pytest.param(
            "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "cannot reach",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("psycopg") is None,
                reason="needs the PostgreSQL driver psycopg",
            ),
        ),
    ],
)
def test_bad_database_urls_give_one_clear_message(url: str, phrase: str) -> None:
    assert_clean_error(katmonitor("sessions", "list", "--db", url), phrase)


def test_database_from_a_newer_version_is_refused_and_left_alone(
    sqlite_url: str, tmp_path: Path
) -> None:
    assert katmonitor("db", "upgrade", "--db", sqlite_url).returncode == 0
    path = tmp_path / "katmonitor.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeed9999'")
    before = dump(path)
    result = katmonitor("record", "--device", "sim:normal", "--db", sqlite_url, "--duration", "1")
    assert_clean_error(result, "newer")
    assert dump(path) == before


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return list(connection.iterdump())


def test_unwritable_data_directory_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    monkeypatch.setenv("KATMONITOR_DATA_DIR", str(blocker / "katmonitor"))
    result = katmonitor("record", "--device", "sim:normal", "--duration", "1")
    assert_clean_error(result, str(blocker))


def test_missing_session_is_reported(sqlite_url: str) -> None:
    assert_clean_error(katmonitor("sessions", "show", "999", "--db", sqlite_url), "no session 999")


def test_bad_option_values_are_usage_errors(sqlite_url: str) -> None:
    result = katmonitor("record", "--device", "sim:normal", "--duration", "-3", "--db", sqlite_url)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    result = katmonitor("record", "--device", "sim:normal", "--route", "nasal", "--db", sqlite_url)
    assert result.returncode == 2 and "intranasal" in result.stderr


def test_run_without_a_display_says_so_instead_of_crashing(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(variable, raising=False)
    result = katmonitor("run", "--db", sqlite_url)
    assert_clean_error(result, "no display", "katmonitor record")
