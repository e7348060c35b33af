"""The dose a session has given, in words: "56 mg: 2 × 28 mg spray devices".

One place makes this text so the window's session panel, the PDF report and the other exports
say the same thing, with the unit in the singular for one ("1 spray device", not "1 spray
devices").
"""

from __future__ import annotations

from collections.abc import Iterable

from katmonitor.session import DoseEvent, Route

UNIT_SINGULAR: dict[Route, str] = {
    Route.INTRANASAL: "spray device",
    Route.SUBLINGUAL: "tablet/lozenge",
    Route.ORAL: "tablet/lozenge",
    Route.IM: "injection",
    Route.IV: "infusion",
}


def unit_word(route: Route, count: int) -> str:
    """What the route's count counts, singular for exactly one ("spray device"/"spray devices")."""
    return UNIT_SINGULAR[route] if count == 1 else route.unit_name


def unit_count_text(route: Route, count: int) -> str:
    """"1 spray device", "2 spray devices", "3 tablets/lozenges"."""
    return f"{count} {unit_word(route, count)}"


def dose_total_mg(doses: Iterable[DoseEvent]) -> float:
    return sum(d.dose_mg for d in doses)


def dose_total_text(doses: Iterable[DoseEvent]) -> str:
    """The session's total, then how it was made up: "56 mg: 2 × 28 mg spray devices".

    Units are grouped by route and by the mg each one held (the event's mg divided by its
    count), in the order first given: "84 mg: 2 × 28 mg spray devices, 1 × 28 mg tablet/lozenge".
    "No dose" when there is none."""
    doses = list(doses)
    if not doses:
        return "No dose"
    groups: dict[tuple[Route, float], int] = {}
    for dose in doses:
        count = max(dose.unit_count, 1)
        key = (dose.route, round(dose.dose_mg / count, 3))
        groups[key] = groups.get(key, 0) + count
    parts = [f"{count} × {mg:g} mg {unit_word(route, count)}"
             for (route, mg), count in groups.items()]
    return f"{dose_total_mg(doses):g} mg: " + ", ".join(parts)
