"""The dose total text the session panel and the PDF share, and the unit's singular/plural."""

from __future__ import annotations

from katmonitor.dose_totals import dose_total_text, unit_count_text
from katmonitor.session import DoseEvent, Route


def dose(mg: float, count: int, route: Route = Route.INTRANASAL, at: float = 0.0) -> DoseEvent:
    return DoseEvent(id=0, session_id=1, time=at, medicine="Esketamine", route=route,
                     dose_mg=mg, unit_count=count, lot="L", given_by="RN", recorded_at=at)


def test_one_unit_is_singular_and_more_are_plural() -> None:
    assert unit_count_text(Route.INTRANASAL, 1) == "1 spray device"
    assert unit_count_text(Route.INTRANASAL, 2) == "2 spray devices"
    assert unit_count_text(Route.ORAL, 1) == "1 tablet/lozenge"
    assert unit_count_text(Route.ORAL, 3) == "3 tablets/lozenges"
    assert unit_count_text(Route.IM, 1) == "1 injection"
    assert unit_count_text(Route.IV, 0) == "0 infusions"


def test_the_total_says_how_it_was_made_up() -> None:
    assert dose_total_text([]) == "No dose"
    assert dose_total_text([dose(28, 1)]) == "28 mg: 1 × 28 mg spray device"
    assert dose_total_text([dose(28, 1), dose(28, 1, at=300)]) == \
        "56 mg: 2 × 28 mg spray devices"
    assert dose_total_text([dose(56, 2), dose(28, 1, at=600)]) == \
        "84 mg: 3 × 28 mg spray devices"
    assert dose_total_text([dose(28, 1), dose(10, 2, Route.SUBLINGUAL)]) == \
        "38 mg: 1 × 28 mg spray device, 2 × 5 mg tablets/lozenges"
