"""The dosing session and what is recorded on its timeline: dose events and observations."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from katmonitor.assessments import Assessment
from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import iso_utc


class Route(StrEnum):
    INTRANASAL = "intranasal"
    SUBLINGUAL = "sublingual"
    ORAL = "oral"
    IM = "im"
    IV = "iv"

    @property
    def label(self) -> str:
        return ROUTE_LABELS[self]

    @property
    def unit_name(self) -> str:
        """What the count on a dose event counts for this route."""
        return ROUTE_UNIT_NAMES[self]


ROUTE_LABELS: dict[Route, str] = {
    Route.INTRANASAL: "Intranasal spray",
    Route.SUBLINGUAL: "Sublingual tablet/lozenge",
    Route.ORAL: "Oral tablet/lozenge",
    Route.IM: "Intramuscular (IM)",
    Route.IV: "Intravenous (IV)",
}

ROUTE_UNIT_NAMES: dict[Route, str] = {
    Route.INTRANASAL: "spray devices",
    Route.SUBLINGUAL: "tablets/lozenges",
    Route.ORAL: "tablets/lozenges",
    Route.IM: "injections",
    Route.IV: "infusions",
}


class SessionStatus(StrEnum):
    ACTIVE = "active"
    """Recording now (or the process died while it was: then it can be reopened)."""
    INTERRUPTED = "interrupted"
    """The app was closed or stopped before the nurse ended the session; it can be reopened."""
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    uuid: str
    client_id: str
    medicine: str
    route: Route
    started_at: float
    ended_at: float | None
    status: SessionStatus
    training: bool
    devices: tuple[str, ...] = ()
    workstation: str = ""

    @property
    def is_open(self) -> bool:
        return self.status is not SessionStatus.ENDED

    def to_json_dict(self) -> dict[str, object]:
        """As ``katmonitor sessions list --json`` prints it (UTC ISO times)."""
        return {
            "id": self.id,
            "uuid": self.uuid,
            "client": self.client_id,
            "medicine": self.medicine,
            "route": self.route.value,
            "started_at": iso_utc(self.started_at),
            "ended_at": iso_utc(self.ended_at) if self.ended_at is not None else None,
            "status": self.status.value,
            "training": self.training,
            "devices": list(self.devices),
            "workstation": self.workstation,
        }


@dataclass(frozen=True, slots=True)
class DoseEvent:
    id: int
    session_id: int
    time: float
    medicine: str
    route: Route
    dose_mg: float
    unit_count: int
    """Number of spray devices, tablets/lozenges or injections given in this event."""
    lot: str
    given_by: str
    recorded_at: float
    note: str = ""
    weight_kg: float | None = None
    """The client's weight, recorded for mg/kg dosing (IM, IV)."""

    @property
    def mg_per_kg(self) -> float | None:
        return None if not self.weight_kg else self.dose_mg / self.weight_kg

    def to_json_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "time": iso_utc(self.time),
            "medicine": self.medicine,
            "route": self.route.value,
            "dose_mg": self.dose_mg,
            "unit_count": self.unit_count,
            "lot": self.lot,
            "given_by": self.given_by,
            "recorded_at": iso_utc(self.recorded_at),
            "note": self.note,
            "weight_kg": self.weight_kg,
        }


@dataclass(frozen=True, slots=True)
class Observation:
    id: int
    session_id: int
    time: float
    text: str
    author: str
    recorded_at: float
    assessment: Assessment = field(default_factory=Assessment)
    """Structured findings (MOAA/S, CADSS, ...); empty for a free-text note."""

    def summary(self) -> str:
        """One line for timelines and reports: the findings, then the text."""
        return "; ".join(part for part in (self.assessment.summary(), self.text) if part)

    def to_json_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "time": iso_utc(self.time),
            "text": self.text,
            "assessment": self.assessment.to_dict(),
            "summary": self.summary(),
            "author": self.author,
            "recorded_at": iso_utc(self.recorded_at),
        }


class WorkflowKind(StrEnum):
    IDENTITY_CHECK = "identity_check"
    ELIGIBILITY = "eligibility"
    GATE = "gate"
    PROMPT_DONE = "prompt_done"
    ORAL_COMPLETE = "oral_complete"
    DISCHARGE = "discharge"
    HANDOVER = "handover"


@dataclass(frozen=True, slots=True)
class WorkflowEvent:
    """One recorded step of the dosing workflow; ``data`` depends on the kind (workflow.py)."""

    id: int
    session_id: int
    time: float
    kind: WorkflowKind
    user: str
    data: dict[str, Any]
    recorded_at: float

    def to_json_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "time": iso_utc(self.time),
            "kind": self.kind.value,
            "user": self.user,
            "data": self.data,
            "recorded_at": iso_utc(self.recorded_at),
        }


def parse_route(text: str) -> Route:
    try:
        return Route(text.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Route)
        raise ConfigurationError(f"unknown route {text!r}", f"choose one of: {choices}") from None


def validate_client_id(client_id: str) -> str:
    cleaned = client_id.strip()
    if not cleaned:
        raise ConfigurationError("a client identifier is required to start a session")
    if len(cleaned) > 64:
        raise ConfigurationError("the client identifier is longer than 64 characters")
    return cleaned


def validate_weight(weight_kg: float | None) -> None:
    if weight_kg is not None and (not math.isfinite(weight_kg) or not 2 <= weight_kg <= 400):
        raise ConfigurationError("the weight must be between 2 and 400 kg")


def validate_dose(dose_mg: float, unit_count: int, lot: str, given_by: str) -> None:
    """Reject dose entries that cannot be right; the nurse sees the message."""
    if not math.isfinite(dose_mg) or dose_mg <= 0:
        raise ConfigurationError("the dose must be a positive number of mg")
    if dose_mg > 1000:
        raise ConfigurationError(f"a dose of {dose_mg:g} mg is not plausible; check the entry")
    if unit_count < 1:
        raise ConfigurationError("the number of devices/tablets must be at least 1")
    if not given_by.strip():
        raise ConfigurationError("record who gave the dose")
    if len(lot) > 64:
        raise ConfigurationError("the lot number is longer than 64 characters")
