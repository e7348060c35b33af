"""Per-workstation settings: saved atomically, read back, and used by `katmonitor run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import katmonitor, without_the_window

from katmonitor import cli, settings
from katmonitor.base.errors import ConfigurationError
from katmonitor.cli.run import run_device_specs
from katmonitor.config import DEFAULT_DEVICE, config_dir
from katmonitor.settings import (
    WorkstationSettings,
    load_settings,
    save_settings,
    settings_path,
)

GE = "ge-dri:/dev/ttyUSB0?baud=115200"
MASIMO = "masimo:/dev/ttyUSB1?primary=spo2,pulse_rate"


def test_settings_round_trip_in_order(tmp_path: Path) -> None:
    path = tmp_path / "ws.json"
    written = save_settings(WorkstationSettings(devices=[GE, MASIMO]), path)
    assert written == path
    assert json.loads(path.read_text()) == {"version": 1, "devices": [GE, MASIMO]}
    assert load_settings(path).devices == [GE, MASIMO]


def test_missing_file_means_the_default_device(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path / "nothing-here.json")
    assert loaded.devices == []
    assert loaded.effective_devices() == [DEFAULT_DEVICE]


def test_config_directory_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KATMONITOR_CONFIG_DIR", str(tmp_path / "elsewhere"))
    assert config_dir() == tmp_path / "elsewhere"
    assert settings_path() == tmp_path / "elsewhere" / "workstation.json"
    save_settings(WorkstationSettings(devices=[GE]))  # the default path
    assert (tmp_path / "elsewhere" / "workstation.json").is_file()
    assert load_settings().devices == [GE]


def test_a_failed_save_leaves_the_old_file_and_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ws.json"
    save_settings(WorkstationSettings(devices=[GE]), path)
    before = path.read_bytes()

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(settings.os, "replace", disk_full)
    with pytest.raises(ConfigurationError) as caught:
        save_settings(WorkstationSettings(devices=[MASIMO]), path)
    assert str(path) in caught.value.message and "No space left" in caught.value.message
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ws.json"]


@pytest.mark.parametrize(
    "content",
    [
        '{"version": 1, "devices": [',  # cut short
        "\x00\x01garbage",
        "[1, 2]",
        '{"version": 1, "devices": "ge-dri:/dev/ttyUSB0"}',
        '{"devices": []}',
    ],
)
def test_a_damaged_file_gives_one_clear_message(tmp_path: Path, content: str) -> None:
    path = tmp_path / "ws.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert str(path) in caught.value.message
    assert "delete" in caught.value.hint


def test_undecodable_bytes_are_a_clear_message_too(tmp_path: Path) -> None:
    path = tmp_path / "ws.json"
    path.write_bytes(b'{"version": 1, "devices": ["\xff\xfe"]}')
    with pytest.raises(ConfigurationError, match="cannot read the workstation settings"):
        load_settings(path)


def test_settings_from_a_newer_version_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ws.json"
    path.write_text('{"version": 2, "devices": []}')
    with pytest.raises(ConfigurationError, match="newer KAT Monitor"):
        load_settings(path)


@pytest.mark.parametrize("spec", ["no-colon-here", "frobnicator:/dev/ttyUSB0", "ge-dri:x?a=1&&"])
def test_bad_specs_are_refused_and_nothing_is_written(tmp_path: Path, spec: str) -> None:
    path = tmp_path / "ws.json"
    with pytest.raises(ConfigurationError):
        save_settings(WorkstationSettings(devices=[GE, spec]), path)
    assert not path.exists()


def test_run_uses_the_saved_devices_unless_told_otherwise() -> None:
    assert run_device_specs(None) == [DEFAULT_DEVICE]  # nothing saved yet
    save_settings(WorkstationSettings(devices=[GE, MASIMO]))
    assert run_device_specs(None) == [GE, MASIMO]
    assert run_device_specs(["sim:hypertensive"]) == ["sim:hypertensive"]


def test_devices_set_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["devices", "show"]) == 0
    assert f"none saved; `run` uses {DEFAULT_DEVICE}" in capsys.readouterr().out

    assert cli.main(["devices", "set", GE, MASIMO]) == 0
    assert load_settings().devices == [GE, MASIMO]
    capsys.readouterr()
    assert cli.main(["devices", "show"]) == 0
    out = capsys.readouterr().out
    assert str(settings_path()) in out and GE in out and MASIMO in out

    # Refused: simulated with real devices, or an unknown option; the saved devices stay.
    assert cli.main(["devices", "set", "sim:normal", GE]) == 2
    assert cli.main(["devices", "set", "masimo:/dev/ttyUSB1?speed=9"]) == 2
    err = capsys.readouterr().err
    assert "simulated and real devices" in err and "unknown option" in err
    assert "Traceback" not in err
    assert load_settings().devices == [GE, MASIMO]


def test_a_bad_saved_device_stops_run_with_a_pointer_to_the_settings(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text('{"version": 1, "devices": ["frobnicator:/dev/ttyUSB0"]}')
    without_the_window(monkeypatch)
    result = katmonitor("run", "--db", sqlite_url)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "frobnicator" in result.stderr and str(settings_path()) in result.stderr
    assert "katmonitor devices set" in result.stderr
