"""The clinic's security settings: account lockout after failed passwords and the window's
idle lock.

Defaults follow common clinical IT practice (5 failures within 10 minutes lock the account for
15 minutes; the window locks after 10 idle minutes). A clinic changes them in
``security.json`` in the config directory (``katmonitor/config.py``), e.g.
``{"lockout_failures": 5, "lockout_window_min": 10, "lockout_min": 15, "idle_lock_min": 10}``.
Every value is checked against the bounds below; a file that is damaged, has an unknown key or
a value out of bounds is refused with the reason (the app never runs with half a policy).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from katmonitor.base.errors import ConfigurationError
from katmonitor.config import config_dir

SECURITY_FILE = "security.json"

# key: (lowest, highest, unit shown in errors)
BOUNDS: dict[str, tuple[int, int, str]] = {
    "lockout_failures": (3, 20, "failed passwords"),
    "lockout_window_min": (1, 1440, "minutes"),
    "lockout_min": (1, 1440, "minutes"),
    "idle_lock_min": (1, 120, "minutes"),
}


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    lockout_failures: int = 5
    """Failed credential checks within the window that lock an account."""
    lockout_window_min: int = 10
    lockout_min: int = 15
    """How long a locked account stays locked (an administrator can unlock it earlier)."""
    idle_lock_min: int = 10
    """Idle minutes after which the window locks (monitoring goes on behind the lock)."""

    @property
    def lockout_window_s(self) -> float:
        return self.lockout_window_min * 60.0

    @property
    def lockout_s(self) -> float:
        return self.lockout_min * 60.0

    @property
    def idle_lock_s(self) -> float:
        return self.idle_lock_min * 60.0


def security_policy_path() -> Path:
    return config_dir() / SECURITY_FILE


def load_security_policy(path: Path | None = None) -> SecurityPolicy:
    """The clinic's policy; the defaults when no file exists. ConfigurationError otherwise."""
    path = path or security_policy_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return SecurityPolicy()
    except OSError as error:
        raise ConfigurationError(
            f"cannot read the security settings {path}: {error.strerror}"
        ) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigurationError(
            f"the security settings file {path} is damaged ({error})", _hint(path)
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"the security settings file {path} is not an object", _hint(path))
    return SecurityPolicy(**{key: _checked(path, key, value) for key, value in data.items()})


def _checked(path: Path, key: str, value: Any) -> int:
    if key not in BOUNDS:
        raise ConfigurationError(
            f"unknown key {key!r} in the security settings {path}",
            "known keys: " + ", ".join(BOUNDS),
        )
    low, high, unit = BOUNDS[key]
    number_ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not number_ok or not math.isfinite(value) or value != int(value):
        raise ConfigurationError(f"{key} in {path} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ConfigurationError(f"{key} in {path} must be {low} to {high} {unit}, not {value}")
    return int(value)


def _hint(path: Path) -> str:
    return f"fix or remove {path} (without it the defaults apply)"
