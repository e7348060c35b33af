"""Captures: the simulator writes a device's raw bytes to a file, drivers tee what they receive,
``katmonitor decode`` reads captures offline and ``replay:`` plays them back as a device."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_runner import katmonitor
from waiting_sink import WaitingSink

from devices.registry import open_device
from katmonitor.base.vitals import VitalKind

PROTOCOLS = ["ge-dri", "hl7", "masimo", "nonin-df2", "nonin-df7", "nonin-df8"]


def simulated_capture(tmp_path: Path, protocol: str, *extra: str) -> Path:
    path = tmp_path / f"{protocol}.bin"
    result = katmonitor(
        "simulate", "--protocol", protocol, "--out", str(path), "--duration", "20", *extra
    )
    assert result.returncode == 0, result.stderr
    assert path.stat().st_size > 0
    return path


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_decode_prints_one_json_sample_per_line(protocol: str, tmp_path: Path) -> None:
    capture = simulated_capture(tmp_path, protocol)
    result = katmonitor("decode", "--protocol", protocol, str(capture))
    assert result.returncode == 0 and result.stderr == ""
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    numeric = [r for r in rows if r["kind"] in ("spo2", "hr")]
    assert numeric, "no SpO2/HR decoded"
    for row in rows:
        assert set(row) >= {"time", "source", "kind", "value", "unit", "status"}
        assert row["source"] == protocol
        assert row["kind"] in {
            "hr",
            "pulse_rate",
            "spo2",
            "nibp_systolic",
            "nibp_diastolic",
            "nibp_mean",
            "perfusion_index",
            "pleth",
            "status",
        }
    spo2 = [r["value"] for r in rows if r["kind"] == "spo2" and r["value"] is not None]
    assert spo2 and all(90 <= v <= 100 for v in spo2)
    if protocol in ("nonin-df2", "nonin-df7", "nonin-df8"):
        assert all(r["time"] is None for r in rows)  # the protocol carries no clock
    else:
        assert any(r["time"] and r["time"].endswith("Z") for r in rows)


def test_decode_reports_bad_bytes_with_offsets_and_carries_on(tmp_path: Path) -> None:
    clean = simulated_capture(tmp_path, "nonin-df2").read_bytes()
    damaged = bytearray(clean)
    damaged[1000] ^= 0xFF
    damaged[5000:5003] = b"\x00\x00\x00"
    path = tmp_path / "damaged.bin"
    path.write_bytes(bytes(damaged) + clean[:7])  # and cut off mid-packet
    result = katmonitor("decode", "--protocol", "nonin-df2", str(path))
    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    assert "offset 1000" in result.stderr or "offset 995" in result.stderr
    assert "problem(s)" in result.stderr
    clean_rows = katmonitor(
        "decode", "--protocol", "nonin-df2", str(tmp_path / "nonin-df2.bin")
    ).stdout.count('"spo2"')
    # Decoding carried on past the damage and never invented readings.
    assert 0 < result.stdout.count('"spo2"') <= clean_rows


def test_decode_of_plain_hl7_messages_without_mllp(tmp_path: Path) -> None:
    mllp = simulated_capture(tmp_path, "hl7").read_bytes()
    plain = mllp.replace(b"\x0b", b"").replace(b"\x1c\r", b"\r")
    path = tmp_path / "plain.hl7"
    path.write_bytes(plain)
    framed = katmonitor("decode", "--protocol", "hl7", str(tmp_path / "hl7.bin")).stdout
    unframed = katmonitor("decode", "--protocol", "hl7", str(path)).stdout
    assert unframed == framed  # the last message too


def test_decode_never_crashes_on_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.bin"
    path.write_bytes(os.urandom(20_000))
    for protocol in PROTOCOLS:
        result = katmonitor("decode", "--protocol", protocol, str(path))
        assert result.returncode == 0, (protocol, result.stderr)
        assert "Traceback" not in result.stderr


def test_decode_input_errors_are_clear(tmp_path: Path) -> None:
    result = katmonitor("decode", "--protocol", "philips", str(tmp_path / "x"))
    assert result.returncode == 2 and "unknown protocol 'philips'" in result.stderr
    result = katmonitor("decode", "--protocol", "masimo", str(tmp_path / "missing.bin"))
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_replay_plays_a_capture_back_as_a_device(tmp_path: Path) -> None:
    capture = simulated_capture(tmp_path, "masimo")
    device = open_device(f"replay:{capture}?protocol=masimo&speed=20")
    assert device.simulated  # a recording is never a live client
    sink = WaitingSink()
    device.start(sink)
    sink.wait_for(lambda: len([s for s in sink.samples if s.kind is VitalKind.SPO2]) >= 20)
    device.stop()
    assert {s.source for s in sink.samples} == {"replay-masimo"}


@pytest.mark.slow
def test_a_driver_tees_its_raw_bytes_for_offline_decoding(tmp_path: Path) -> None:
    capture = tmp_path / "tee.bin"
    db = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    result = katmonitor(
        "record",
        "--device",
        "sim:normal?protocol=masimo",
        "--db",
        db,
        "--duration",
        "3",
        "--capture",
        str(capture),
    )
    assert result.returncode == 0, result.stderr
    session = result.stdout.strip()
    decoded = [
        json.loads(x)
        for x in katmonitor("decode", "--protocol", "masimo", str(capture)).stdout.splitlines()
    ]
    recorded = [
        json.loads(x)
        for x in katmonitor(
            "sessions", "show", session, "--samples", "--db", db
        ).stdout.splitlines()
    ]
    decoded_spo2 = [r["value"] for r in decoded if r["kind"] == "spo2"]
    recorded_spo2 = [r["value"] for r in recorded if r["kind"] == "spo2"]
    assert recorded_spo2, "nothing was recorded"
    # The tee keeps every byte until the device stops, a moment after the session ended: the
    # capture holds the recording's values in order, and at most a line or two after them.
    assert decoded_spo2[: len(recorded_spo2)] == recorded_spo2
    assert len(decoded_spo2) - len(recorded_spo2) <= 2
