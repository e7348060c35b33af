"""The clinic's care plan: the eligibility questions, the pre-dose gate and, per route, the
schedule of a dosing session (BP re-check, NIBP cycle, assessments, observation minimum).

The shipped plan is ``katmonitor/care_plans/default.toml``; a clinic's file is merged over it
key by key (so it names only what it changes). Every problem is a ConfigurationError naming the
file and the key. Numbers that are local policy live here, never in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from katmonitor.alarms.profile import deep_merge
from katmonitor.base.errors import ConfigurationError
from katmonitor.session import Route
from katmonitor.toml_file import TomlFile, read_toml

DEFAULT_CARE_PLAN = Path(str(resources.files("katmonitor") / "care_plans" / "default.toml"))
CADSS_FORMS = ("cadss6", "cadss23")


@dataclass(frozen=True, slots=True)
class EligibilityItem:
    id: str
    question: str
    acceptable: bool
    """The answer that lets dosing go ahead."""
    rems: str = ""
    """The REMS form field this answer fills, if any."""


@dataclass(frozen=True, slots=True)
class PreDoseGate:
    systolic_max: float | None
    diastolic_max: float | None
    heart_rate_max: float | None
    max_reading_age_s: float
    spo2_min: float | None = None
    """The lowest current SpO2 (%) at which a dose may be given."""

    def describe(self) -> str:
        parts = []
        if self.systolic_max is not None or self.diastolic_max is not None:
            s = "-" if self.systolic_max is None else f"{self.systolic_max:g}"
            d = "-" if self.diastolic_max is None else f"{self.diastolic_max:g}"
            parts.append(f"BP at most {s}/{d} mmHg")
        if self.heart_rate_max is not None:
            parts.append(f"HR at most {self.heart_rate_max:g}/min")
        if self.spo2_min is not None:
            parts.append(f"SpO2 at least {self.spo2_min:g} %")
        return ", ".join(parts) or "no limits"


@dataclass(frozen=True, slots=True)
class RoutePlan:
    observation_minimum_s: float
    bp_recheck_s: float | None
    nibp_cycle_s: float | None
    assessment_every_s: float | None
    spray_device_mg: float | None = None
    spray_rest_s: float | None = None


@dataclass(frozen=True, slots=True)
class CarePlan:
    name: str
    source: str
    due_lead_s: float
    overdue_after_s: float
    escalate_after_s: float
    gate: PreDoseGate
    cadss_form: str
    eligibility: tuple[EligibilityItem, ...]
    routes: dict[Route, RoutePlan]

    def for_route(self, route: Route) -> RoutePlan:
        return self.routes[route]


def load_care_plan(path: str | Path | None = None) -> CarePlan:
    """The shipped plan, or a clinic's TOML file merged over it."""
    data = _read(DEFAULT_CARE_PLAN)
    source = str(DEFAULT_CARE_PLAN)
    if path is not None:
        clinic = Path(path).expanduser()
        over = _read(clinic)
        if "eligibility" in over:  # a list replaces the shipped questions as a whole
            data["eligibility"] = []
        data = deep_merge(data, {"name": clinic.stem, **over})
        source = str(clinic)
    return _build(data, source)


# The keys a care plan may hold (docs/workflow.md); anything else is refused, naming its line,
# so that a misspelt key never leaves the shipped value silently in force.
TOP_KEYS = frozenset({"name", "timing", "gate", "assessments", "eligibility", "routes"})
TABLE_KEYS = {
    "timing": frozenset({"due_lead_min", "overdue_after_min", "escalate_after_min"}),
    "gate": frozenset({"systolic_max", "diastolic_max", "heart_rate_max", "spo2_min",
                       "max_reading_age_min"}),
    "assessments": frozenset({"cadss_form"}),
}
ELIGIBILITY_KEYS = frozenset({"id", "question", "acceptable", "rems"})
ROUTE_KEYS = frozenset(
    {
        "observation_minimum_min",
        "bp_recheck_min",
        "nibp_cycle_min",
        "assessment_every_min",
        "spray_device_mg",
        "spray_rest_min",
    }
)


def _read(path: Path) -> dict[str, Any]:
    file = read_toml(path, "care plan")
    _refuse_unknown_keys(file)
    return dict(file.data)


def _refuse_unknown_keys(file: TomlFile) -> None:
    def check(table: Any, allowed: frozenset[str], where: str) -> None:
        if not isinstance(table, dict):
            return  # a wrong type is reported by _build, with the value's meaning
        for key in sorted(set(table) - allowed):
            dotted = f"{where}.{key}" if where else key
            raise ConfigurationError(
                f"{file.where(dotted)}: {dotted}: unknown key "
                f"(known: {', '.join(sorted(allowed))})",
                "check its spelling; the care plan's keys are listed in docs/workflow.md",
            )

    data = file.data
    check(data, TOP_KEYS, "")
    for name, allowed in TABLE_KEYS.items():
        check(data.get(name), allowed, name)
    items = data.get("eligibility")
    if isinstance(items, list):
        for index, item in enumerate(items):
            check(item, ELIGIBILITY_KEYS, f"eligibility[{index}]")
    routes = data.get("routes")
    check(routes, frozenset(route.value for route in Route), "routes")
    if isinstance(routes, dict):
        for name, table in routes.items():
            check(table, ROUTE_KEYS, f"routes.{name}")


class _Reader:
    """Typed access to one TOML table, with errors naming the file and key."""

    def __init__(self, source: str, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigurationError(f"{source}: {where} must be a table")
        self.source, self.data, self.where = source, data, where

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def minutes(self, key: str, *, optional: bool = False) -> float | None:
        value = self.data.get(key)
        if value is None:
            if optional:
                return None
            raise ConfigurationError(f"{self.source}: {self._key(key)} is missing")
        if not _is_number(value) or not 0 <= value <= 24 * 60:
            raise ConfigurationError(
                f"{self.source}: {self._key(key)} must be a number of minutes (0-1440)"
            )
        return float(value) * 60.0

    def positive_minutes(self, key: str) -> float | None:
        value = self.minutes(key, optional=True)
        if value is not None and value <= 0:
            raise ConfigurationError(f"{self.source}: {self._key(key)} must be more than 0 minutes")
        return value

    def number(self, key: str, low: float, high: float) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not _is_number(value) or not low <= value <= high:
            raise ConfigurationError(
                f"{self.source}: {self._key(key)} must be a number from {low:g} to {high:g}"
            )
        return float(value)

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{self.source}: {self._key(key)} must be non-empty text")
        return value.strip()


def _build(data: dict[str, Any], source: str) -> CarePlan:
    top = _Reader(source, data, "")
    timing = _Reader(source, data.get("timing", {}), "timing")
    gate = _Reader(source, data.get("gate", {}), "gate")
    assessments = _Reader(source, data.get("assessments", {}), "assessments")
    cadss_form = assessments.text("cadss_form", "cadss6")
    if cadss_form not in CADSS_FORMS:
        raise ConfigurationError(
            f"{source}: assessments.cadss_form must be one of {', '.join(CADSS_FORMS)}"
        )
    items = data.get("eligibility", [])
    if not isinstance(items, list):
        raise ConfigurationError(f"{source}: eligibility must be a list of [[eligibility]] tables")
    eligibility = []
    for index, raw in enumerate(items):
        item = _Reader(source, raw, f"eligibility[{index}]")
        acceptable = raw.get("acceptable")
        if not isinstance(acceptable, bool):
            raise ConfigurationError(
                f"{source}: eligibility[{index}].acceptable must be true or false"
            )
        eligibility.append(
            EligibilityItem(item.text("id"), item.text("question"), acceptable,
                            str(raw.get("rems", "")))
        )
    ids = [item.id for item in eligibility]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"{source}: eligibility ids must be unique")
    routes_table = data.get("routes", {})
    routes = {}
    for route in Route:
        r = _Reader(source, routes_table.get(route.value, {}), f"routes.{route.value}")
        minimum = r.minutes("observation_minimum_min")
        assert minimum is not None
        routes[route] = RoutePlan(
            observation_minimum_s=minimum,
            bp_recheck_s=r.minutes("bp_recheck_min", optional=True),
            nibp_cycle_s=r.positive_minutes("nibp_cycle_min"),
            assessment_every_s=r.positive_minutes("assessment_every_min"),
            spray_device_mg=r.number("spray_device_mg", 1, 1000),
            spray_rest_s=r.minutes("spray_rest_min", optional=True),
        )
    due_lead = timing.minutes("due_lead_min")
    overdue = timing.minutes("overdue_after_min")
    escalate = timing.minutes("escalate_after_min")
    assert due_lead is not None and overdue is not None and escalate is not None
    if escalate < overdue:
        raise ConfigurationError(
            f"{source}: timing.escalate_after_min must not be less than overdue_after_min"
        )
    age = gate.minutes("max_reading_age_min")
    assert age is not None
    return CarePlan(
        name=top.text("name", "care plan"),
        source=source,
        due_lead_s=due_lead,
        overdue_after_s=overdue,
        escalate_after_s=escalate,
        gate=PreDoseGate(
            systolic_max=gate.number("systolic_max", 60, 260),
            diastolic_max=gate.number("diastolic_max", 30, 160),
            heart_rate_max=gate.number("heart_rate_max", 30, 250),
            max_reading_age_s=age,
            spo2_min=gate.number("spo2_min", 80, 100),
        ),
        cadss_form=cadss_form,
        eligibility=tuple(eligibility),
        routes=routes,
    )



def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
