"""Alarm profiles: limits, priorities, delays and alarm-system settings from TOML files.

An administrator sets the profile; a nurse may only adjust limits within the bounds it gives.
Shipped profiles live in ``katmonitor/alarms/profiles/``; a profile may ``extends`` another (by
name, looked up next to the file first, then among the shipped ones): tables are merged key by
key, the extending file wins. Every problem is a ConfigurationError naming the file and the key.
The format is documented in docs/alarms.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from katmonitor.alarms.model import Priority
from katmonitor.base.errors import ConfigurationError
from katmonitor.base.vitals import NUMERIC_KINDS, VitalKind
from katmonitor.session import Route
from katmonitor.toml_file import TomlFile, read_toml

PROFILE_DIR = Path(str(resources.files("katmonitor.alarms") / "profiles"))

ROUTE_PROFILES: dict[Route, str] = {
    Route.INTRANASAL: "intranasal-esketamine",
    Route.SUBLINGUAL: "sublingual-ketamine",
    Route.ORAL: "sublingual-ketamine",
    Route.IM: "im-ketamine",
    Route.IV: "iv-ketamine",
}

# Technical conditions a device status can carry that the engine turns into alarms, with the
# priority used when a profile does not say. Link words (missing, busy, permission, ...) are
# folded into the one "disconnected" alarm.
DEFAULT_TECHNICAL: dict[str, Priority] = {
    "disconnected": Priority.MEDIUM,
    "no_data": Priority.MEDIUM,
    "parameter_no_data": Priority.MEDIUM,
    "sensor_off": Priority.MEDIUM,
    "no_sensor": Priority.MEDIUM,
    "no_cable": Priority.MEDIUM,
    "defective_sensor": Priority.MEDIUM,
    "lead_off": Priority.MEDIUM,
    "nibp_failed": Priority.MEDIUM,
    "unrecognized_sensor": Priority.LOW,
    "checksum_errors": Priority.LOW,
    "clock_drift": Priority.LOW,
    "low_battery": Priority.LOW,
    # The workstation cannot sound alarms (no audio device, audio library or output error):
    # reported by the UI through Workstation.report_audio_unavailable.
    "no_audio": Priority.MEDIUM,
    # A schedule prompt (e.g. the 40-minute BP re-check) left undone until it escalated:
    # reported by the dosing workflow through Workstation.report_escalated_prompts.
    "prompt_escalated": Priority.LOW,
    # The database cannot take recorded data (disk full, locked, server down): reported by
    # the recorder through the workstation; the data waits in the local journal.
    "storage_failed": Priority.MEDIUM,
}


class Latching(StrEnum):
    NONE = "none"
    HIGH = "high"  # only alarms that reached high priority latch
    ALL = "all"


@dataclass(frozen=True, slots=True)
class LimitRule:
    """One side (low or high) of a parameter's limits."""

    limit: float
    priority: Priority
    high_priority_limit: float | None = None
    """Beyond this the alarm is high priority at once (e.g. systolic > 180)."""
    baseline_offset: float | None = None
    """With a baseline: the limit is baseline + offset (high side) or baseline - offset (low
    side) when that is tighter than ``limit`` - "whichever is lower" for a high limit."""


@dataclass(frozen=True, slots=True)
class TrendRule:
    rise: float
    window_s: float
    priority: Priority


@dataclass(frozen=True, slots=True)
class ParameterRule:
    kind: VitalKind
    low: LimitRule | None
    high: LimitRule | None
    delay_s: float = 0.0
    hysteresis: float = 0.0
    escalate_after_s: float | None = None
    """A lower-priority alarm sustained this long becomes high priority."""
    may_switch_off: bool = False
    adjust_low: tuple[float, float] | None = None
    adjust_high: tuple[float, float] | None = None
    """Bounds within which a nurse may set the limit for one session (None: not adjustable)."""
    trend: TrendRule | None = None


@dataclass(frozen=True, slots=True)
class AlarmProfile:
    name: str
    description: str
    parameters: dict[VitalKind, ParameterRule]
    latching: Latching = Latching.HIGH
    audio_pause_s: float = 120.0
    reminder_s: float = 180.0
    technical: dict[str, Priority] = field(default_factory=lambda: dict(DEFAULT_TECHNICAL))
    path: Path | None = None


def profile_for_route(route: Route | str) -> str:
    return ROUTE_PROFILES[Route(route)]


def shipped_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path) -> AlarmProfile:
    """A shipped profile by name (``default``, ``iv-ketamine``) or a TOML file by path."""
    path = _locate(str(name_or_path), None)
    files: list[TomlFile] = []
    data = _merged(path, [], files)
    return _build(data, path, files)


# -- loading ---------------------------------------------------------------------------------


def _locate(name: str, near: Path | None) -> Path:
    if name.endswith(".toml") or "/" in name or "\\" in name:
        path = Path(name).expanduser()
        if near is not None and not path.is_absolute():
            path = near.parent / path
        if not path.is_file():
            raise ConfigurationError(f"alarm profile file {path} does not exist", _names_hint())
        return path
    for folder in ([near.parent] if near is not None else []) + [PROFILE_DIR]:
        candidate = folder / f"{name}.toml"
        if candidate.is_file():
            return candidate
    raise ConfigurationError(f"no alarm profile named {name!r}", _names_hint())


def _names_hint() -> str:
    return f"shipped profiles: {', '.join(shipped_profiles())}; or give the path of a .toml file"


def _merged(path: Path, chain: list[Path], files: list[TomlFile]) -> dict[str, Any]:
    """The profile at ``path`` merged over the ones it extends; ``files`` gets each file read,
    the extending one first (errors point at the file that sets a key)."""
    if path.resolve() in chain:
        names = " -> ".join(str(p) for p in [*chain, path.resolve()])
        raise ConfigurationError(f"{path}: 'extends' makes a loop: {names}")
    file = read_toml(path, "alarm profile")
    files.append(file)
    data = dict(file.data)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigurationError(f"{path}: extends: must be a profile name or file path")
    base = _merged(_locate(parent, path), [*chain, path.resolve()], files)
    data.setdefault("name", path.stem)
    return deep_merge(base, data)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


# -- validation ------------------------------------------------------------------------------

TOP_KEYS = {
    "name",
    "description",
    "latching",
    "audio_pause_s",
    "reminder_s",
    "technical",
    "parameters",
}
PARAM_KEYS = {
    "low",
    "high",
    "delay_s",
    "hysteresis",
    "escalate_after_s",
    "may_switch_off",
    "adjust",
    "trend",
}
LIMIT_KEYS = {"limit", "priority", "high_priority_limit", "baseline_offset"}
TREND_KEYS = {"rise", "window_s", "priority"}


# Bounds a value must lie within (docs/alarms.md, "Bounds"): wide enough for any clinic's
# choice, narrow enough that a typing mistake cannot switch an alarm off in effect (a 1e9 s
# delay never sounds, a NaN hysteresis never ends).
DELAY_S = (0.0, 60.0)
HYSTERESIS = (0.0, 20.0)
ESCALATE_AFTER_S = (1.0, 3600.0)
AUDIO_PAUSE_S = (1.0, 300.0)
REMINDER_S = (1.0, 900.0)
TREND_RISE = (0.001, 200.0)
TREND_WINDOW_S = (1.0, 3600.0)
BASELINE_OFFSET = (0.0, 100.0)
LIMIT = (-1000.0, 1000.0)
"""Any limit (none of the vitals reaches 1000 in its unit); finite."""


class _Reader:
    def __init__(self, path: Path, files: list[TomlFile]) -> None:
        self.path = path
        self.files = files

    def fail(self, key: str, problem: str) -> ConfigurationError:
        return ConfigurationError(
            f"alarm profile {self._where(key)}: {key}: {problem}",
            "see docs/alarms.md for the profile format",
        )

    def _where(self, key: str) -> str:
        for file in self.files:
            if key and file.line_of(key) is not None:
                return file.where(key)
        return str(self.path)

    def table(self, value: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(
                f"{key}.{unknown[0]}" if key else unknown[0],
                f"unknown key (known: {', '.join(sorted(allowed))})",
            )
        return value

    def number(self, value: Any, key: str, bounds: tuple[float, float] = LIMIT) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, not {value!r}")
        low, high = bounds
        if not low <= value <= high:  # also refuses nan and inf
            raise self.fail(key, f"must be a number from {low:g} to {high:g}, not {value!r}")
        return float(value)

    def priority(self, value: Any, key: str) -> Priority:
        try:
            return Priority.parse(value)
        except (KeyError, AttributeError):
            raise self.fail(key, f"{value!r} is not one of low, medium, high") from None

    def bounds(self, value: Any, key: str) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(key, "must be [lowest, highest]")
        low, high = (self.number(v, key) for v in value)
        if low > high:
            raise self.fail(key, f"lowest {low:g} is above highest {high:g}")
        return low, high


def _build(data: dict[str, Any], path: Path, files: list[TomlFile]) -> AlarmProfile:
    r = _Reader(path, files)
    r.table(data, "", TOP_KEYS)
    try:
        latching = Latching(data.get("latching", "high"))
    except ValueError:
        raise r.fail("latching", f"{data['latching']!r} is not one of none, high, all") from None
    technical = dict(DEFAULT_TECHNICAL)
    for word, text in r.table(
        data.get("technical", {}), "technical", set(DEFAULT_TECHNICAL)
    ).items():
        technical[word] = r.priority(text, f"technical.{word}")
    known_kinds = {str(k) for k in NUMERIC_KINDS}
    parameters: dict[VitalKind, ParameterRule] = {}
    for name, table in r.table(data.get("parameters", {}), "parameters", known_kinds).items():
        parameters[VitalKind(name)] = _parameter(r, VitalKind(name), table)
    return AlarmProfile(
        name=str(data.get("name", path.stem)),
        description=str(data.get("description", "")),
        parameters=parameters,
        latching=latching,
        audio_pause_s=r.number(data.get("audio_pause_s", 120.0), "audio_pause_s", AUDIO_PAUSE_S),
        reminder_s=r.number(data.get("reminder_s", 180.0), "reminder_s", REMINDER_S),
        technical=technical,
        path=path,
    )


def _parameter(r: _Reader, kind: VitalKind, table: Any) -> ParameterRule:
    key = f"parameters.{kind}"
    table = r.table(table, key, PARAM_KEYS)
    low = _limit(r, table.get("low"), f"{key}.low", "low")
    high = _limit(r, table.get("high"), f"{key}.high", "high")
    if low is not None and high is not None and low.limit >= high.limit:
        raise r.fail(f"{key}.low.limit", f"{low.limit:g} is not below high.limit {high.limit:g}")
    adjust = r.table(table.get("adjust", {}), f"{key}.adjust", {"low", "high"})
    adjust_low = r.bounds(adjust["low"], f"{key}.adjust.low") if "low" in adjust else None
    adjust_high = r.bounds(adjust["high"], f"{key}.adjust.high") if "high" in adjust else None
    for side, rule, bounds in (("low", low, adjust_low), ("high", high, adjust_high)):
        if bounds is not None and rule is None:
            raise r.fail(f"{key}.adjust.{side}", f"there is no {side} limit to adjust")
        if bounds is not None and rule is not None and not bounds[0] <= rule.limit <= bounds[1]:
            raise r.fail(
                f"{key}.adjust.{side}",
                f"the {side} limit {rule.limit:g} lies outside [{bounds[0]:g}, {bounds[1]:g}]",
            )
    trend = None
    if "trend" in table:
        t = r.table(table["trend"], f"{key}.trend", TREND_KEYS)
        for needed in ("rise", "window_s"):
            if needed not in t:
                raise r.fail(f"{key}.trend.{needed}", "missing")
        trend = TrendRule(
            rise=r.number(t["rise"], f"{key}.trend.rise", TREND_RISE),
            window_s=r.number(t["window_s"], f"{key}.trend.window_s", TREND_WINDOW_S),
            priority=r.priority(t.get("priority", "medium"), f"{key}.trend.priority"),
        )
    escalate = table.get("escalate_after_s")
    may_off = table.get("may_switch_off", False)
    if not isinstance(may_off, bool):
        raise r.fail(f"{key}.may_switch_off", "must be true or false")
    return ParameterRule(
        kind=kind,
        low=low,
        high=high,
        delay_s=r.number(table.get("delay_s", 0.0), f"{key}.delay_s", DELAY_S),
        hysteresis=r.number(table.get("hysteresis", 0.0), f"{key}.hysteresis", HYSTERESIS),
        escalate_after_s=(
            None
            if escalate is None
            else r.number(escalate, f"{key}.escalate_after_s", ESCALATE_AFTER_S)
        ),
        may_switch_off=may_off,
        adjust_low=adjust_low,
        adjust_high=adjust_high,
        trend=trend,
    )


def _limit(r: _Reader, table: Any, key: str, side: str) -> LimitRule | None:
    if table is None or table is False:
        return None
    table = r.table(table, key, LIMIT_KEYS)
    if "limit" not in table:
        raise r.fail(f"{key}.limit", "missing")
    limit = r.number(table["limit"], f"{key}.limit")
    hp = table.get("high_priority_limit")
    hp_value = None if hp is None else r.number(hp, f"{key}.high_priority_limit")
    if hp_value is not None and (hp_value < limit if side == "high" else hp_value > limit):
        beyond = "above" if side == "high" else "below"
        raise r.fail(
            f"{key}.high_priority_limit", f"{hp_value:g} must be {beyond} the limit {limit:g}"
        )
    offset = table.get("baseline_offset")
    return LimitRule(
        limit=limit,
        priority=r.priority(table.get("priority", "medium"), f"{key}.priority"),
        high_priority_limit=hp_value,
        baseline_offset=(
            None
            if offset is None
            else r.number(offset, f"{key}.baseline_offset", BASELINE_OFFSET)
        ),
    )
