"""Per-workstation settings: which devices this dosing-room computer uses.

Kept as JSON in the config directory (``config_dir()/workstation.json``, see
katmonitor/config.py) so a biomed engineer can read it, copy it to another workstation or
fix it by hand::

    {"version": 1, "devices": ["ge-dri:/dev/ttyUSB0", "masimo:/dev/ttyUSB1?primary=spo2"]}

An empty device list means "the default", the simulated monitor. The file is replaced
atomically, so a crash or a full disk while saving never leaves half a file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from katmonitor.base.errors import ConfigurationError
from katmonitor.config import CONFIG_DIR_ENV, DEFAULT_DEVICE, config_dir

SETTINGS_VERSION = 1
SETTINGS_FILE = "workstation.json"


@dataclass(slots=True)
class WorkstationSettings:
    devices: list[str] = field(default_factory=list)
    """Device spec strings in order (``TYPE:ADDRESS[?opt=v&...]``); empty: the default."""

    def effective_devices(self) -> list[str]:
        """The devices to open: the configured ones, else the default simulated monitor."""
        return list(self.devices) or [DEFAULT_DEVICE]


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def load_settings(path: Path | None = None) -> WorkstationSettings:
    """The saved settings; defaults if none were saved. ConfigurationError if the file cannot
    be read or makes no sense (never a traceback: the nurse sees what to do)."""
    path = path or settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return WorkstationSettings()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"cannot read the workstation settings {path}: {_reason(error)}", _fix_hint(path)
        ) from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ConfigurationError(
            f"the workstation settings file {path} is damaged ({error})", _fix_hint(path)
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"the workstation settings file {path} is not a settings object", _fix_hint(path)
        )
    version = data.get("version")
    if isinstance(version, int) and version > SETTINGS_VERSION:
        raise ConfigurationError(
            f"the workstation settings {path} were written by a newer KAT Monitor "
            f"(version {version})",
            "update KAT Monitor on this workstation, or save the devices again to replace them",
        )
    devices = data.get("devices", [])
    if version != SETTINGS_VERSION or not (
        isinstance(devices, list) and all(isinstance(d, str) for d in devices)
    ):
        raise ConfigurationError(
            f"the workstation settings file {path} is not in the expected format",
            _fix_hint(path),
        )
    return WorkstationSettings(devices=[d.strip() for d in devices if d.strip()])


def save_settings(settings: WorkstationSettings, path: Path | None = None) -> Path:
    """Validate and write the settings atomically; returns the path written."""
    from devices.registry import DRIVERS, parse_spec  # devices/ imports the core, not the reverse

    for spec in settings.devices:
        kind = parse_spec(spec).kind
        if kind not in DRIVERS:
            raise ConfigurationError(
                f"unknown device type {kind!r} in {spec!r}",
                f"device types: {', '.join(sorted(DRIVERS))}",
            )
    path = path or settings_path()
    data = {"version": SETTINGS_VERSION, "devices": [spec.strip() for spec in settings.devices]}
    text = json.dumps(data, indent=2) + "\n"
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a sibling temp file and rename it over the old one: readers see the old file or
        # the new one, never a torn write.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".workstation-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise ConfigurationError(
            f"cannot save the workstation settings to {path}: {_reason(error)}",
            f"check that the folder is writable, or set {CONFIG_DIR_ENV} to another folder",
        ) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    return path


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)


def _fix_hint(path: Path) -> str:
    return (
        f"fix or delete {path} (deleting it brings back the default devices), then choose the "
        "devices again (Devices… in the window, or `katmonitor devices set SPEC...`)"
    )
