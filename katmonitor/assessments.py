"""Structured observations at the bedside: sedation (MOAA/S), dissociation (CADSS-6 or the full
CADSS), nausea/vomiting, anxiety, respiratory status, who from the therapy team is present, and
free text. One Assessment is what the nurse enters at one moment; it is stored with the
session's observations and appears on the same timeline as the vitals.

The CADSS items are recorded by number with a score of 0-4; clinicians ask them from their own
licensed form, so only short reminders of the six CADSS-6 items are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from katmonitor.base.errors import ConfigurationError

MOAAS_LEVELS: dict[int, str] = {
    5: "Responds readily to name spoken in normal tone",
    4: "Lethargic response to name spoken in normal tone",
    3: "Responds only after name is called loudly and/or repeatedly",
    2: "Responds only after mild prodding or shaking",
    1: "Responds only after painful trapezius squeeze",
    0: "No response after painful trapezius squeeze",
}

CADSS6_ITEMS: tuple[int, ...] = (1, 2, 6, 7, 15, 22)
CADSS23_ITEMS: tuple[int, ...] = tuple(range(1, 24))
CADSS_ITEM_HINTS: dict[int, str] = {
    1: "things seem to move in slow motion",
    2: "things seem unreal, as if in a dream",
    6: "feels disconnected from own body",
    7: "sense of own body changed",
    15: "spacing out, losing track of what is going on",
    22: "gaps in memory",
}
CADSS_SCORES: dict[int, str] = {
    0: "Not at all",
    1: "Slightly",
    2: "Moderately",
    3: "Considerably",
    4: "Extremely",
}

NAUSEA_CHOICES = ("none", "nausea", "vomiting")
ANXIETY_CHOICES = ("none", "mild", "moderate", "severe")
RESPIRATORY_CHOICES = ("normal", "shallow_or_slow", "respiratory_depression")
RESPIRATORY_LABELS: dict[str, str] = {
    "normal": "Normal",
    "shallow_or_slow": "Shallow or slow breathing",
    "respiratory_depression": "Respiratory depression",
}


def cadss_items(form: str) -> tuple[int, ...]:
    return CADSS23_ITEMS if form == "cadss23" else CADSS6_ITEMS


@dataclass(frozen=True, slots=True)
class Assessment:
    """Every field is optional: the nurse records what was assessed."""

    moaas: int | None = None
    cadss_form: str | None = None
    cadss: dict[int, int] = field(default_factory=dict)
    nausea: str | None = None
    anxiety: str | None = None
    respiratory: str | None = None
    therapist_present: str = ""

    @property
    def cadss_total(self) -> int | None:
        return sum(self.cadss.values()) if self.cadss else None

    @property
    def is_empty(self) -> bool:
        return (
            self.moaas is None
            and not self.cadss
            and self.nausea is None
            and self.anxiety is None
            and self.respiratory is None
            and not self.therapist_present
        )

    @property
    def sedated(self) -> bool | None:
        """MOAA/S below 5 means some sedation (None: not assessed)."""
        return None if self.moaas is None else self.moaas < 5

    @property
    def dissociated(self) -> bool | None:
        total = self.cadss_total
        return None if total is None else total > 0

    def summary(self) -> str:
        parts = []
        if self.moaas is not None:
            parts.append(f"MOAA/S {self.moaas}")
        if self.cadss:
            label = "CADSS-6" if self.cadss_form == "cadss6" else "CADSS"
            parts.append(f"{label} {self.cadss_total}")
        if self.nausea is not None:
            parts.append(f"nausea: {self.nausea}")
        if self.anxiety is not None:
            parts.append(f"anxiety: {self.anxiety}")
        if self.respiratory is not None:
            parts.append(f"respiratory: {RESPIRATORY_LABELS[self.respiratory].lower()}")
        if self.therapist_present:
            parts.append(f"therapist present: {self.therapist_present}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; only what was assessed."""
        out: dict[str, Any] = {}
        if self.moaas is not None:
            out["moaas"] = self.moaas
        if self.cadss:
            out["cadss_form"] = self.cadss_form
            out["cadss"] = {str(k): v for k, v in sorted(self.cadss.items())}
            out["cadss_total"] = self.cadss_total
        for key in ("nausea", "anxiety", "respiratory"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.therapist_present:
            out["therapist_present"] = self.therapist_present
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Assessment:
        return make_assessment(
            moaas=data.get("moaas"),
            cadss_form=data.get("cadss_form"),
            cadss={int(k): int(v) for k, v in (data.get("cadss") or {}).items()},
            nausea=data.get("nausea"),
            anxiety=data.get("anxiety"),
            respiratory=data.get("respiratory"),
            therapist_present=data.get("therapist_present", ""),
        )


def make_assessment(
    *,
    moaas: int | None = None,
    cadss_form: str | None = None,
    cadss: dict[int, int] | None = None,
    nausea: str | None = None,
    anxiety: str | None = None,
    respiratory: str | None = None,
    therapist_present: str = "",
) -> Assessment:
    """A validated Assessment; a bad entry is a ConfigurationError the nurse sees."""
    if moaas is not None and (isinstance(moaas, bool) or moaas not in MOAAS_LEVELS):
        raise ConfigurationError("MOAA/S is a whole number from 0 to 5")
    cadss = dict(cadss or {})
    if cadss:
        if cadss_form not in ("cadss6", "cadss23"):
            raise ConfigurationError("say which CADSS form was used (cadss6 or cadss23)")
        allowed = cadss_items(cadss_form)
        for item, score in cadss.items():
            if item not in allowed:
                raise ConfigurationError(f"CADSS item {item} is not part of {cadss_form}")
            if score not in CADSS_SCORES:
                raise ConfigurationError(f"CADSS item {item}: the score is 0-4, not {score}")
    else:
        cadss_form = None
    _choice("nausea", nausea, NAUSEA_CHOICES)
    _choice("anxiety", anxiety, ANXIETY_CHOICES)
    _choice("respiratory status", respiratory, RESPIRATORY_CHOICES)
    therapist = therapist_present.strip()
    if len(therapist) > 128:
        raise ConfigurationError("the therapist's name is longer than 128 characters")
    return Assessment(moaas, cadss_form, cadss, nausea, anxiety, respiratory, therapist)


def _choice(what: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise ConfigurationError(f"{what} must be one of: {', '.join(choices)}")
