"""Discharge: the criteria a client must meet before leaving the dosing room, the time they
would have been ready to leave (the REMS form asks for it, regardless of the 2-hour rule), and
the actual end. Criteria the app can check from the record are checked; the rest the nurse
confirms. Pure rules; katmonitor/workflow.py records the nurse's checklist."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from katmonitor.assessments import Assessment
from katmonitor.readings import format_age


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    label: str
    met: bool | None
    """True/False when the app can tell from the record; None when the nurse must confirm."""
    detail: str = ""
    suggested: bool = False
    """For a criterion the nurse confirms: whether the record suggests it is met."""


OBSERVATION_MINIMUM = "observation_minimum"
VITALS_WITHIN_LIMITS = "vitals_within_limits"
MOAAS_5 = "moaas_5"
DISSOCIATION_RESOLVED = "dissociation_resolved"
RESPIRATORY_NORMAL = "respiratory_normal"
ESCORT_TRANSPORT = "escort_transport"
CONFIRMED_BY_NURSE = (DISSOCIATION_RESOLVED, RESPIRATORY_NORMAL, ESCORT_TRANSPORT)


@dataclass(frozen=True, slots=True)
class VitalsCheck:
    """The vitals part of discharge, from the workstation's current state."""

    acceptable: bool
    detail: str


def evaluate_discharge(
    *,
    anchor: float | None,
    observation_minimum_s: float,
    now: float,
    vitals: VitalsCheck,
    assessments: Sequence[tuple[float, Assessment]],
) -> list[Criterion]:
    """The discharge criteria as they stand ``now``."""
    if anchor is None:
        minimum = Criterion(OBSERVATION_MINIMUM, "Observation minimum elapsed", True,
                            "no dose was given")
    else:
        left = anchor + observation_minimum_s - now
        minimum = Criterion(
            OBSERVATION_MINIMUM,
            f"Observation minimum elapsed ({observation_minimum_s / 60:.0f} min after first dose)",
            left <= 0,
            "elapsed" if left <= 0 else f"{format_age(left)} to go",
        )
    latest_moaas = _latest(assessments, lambda a: a.moaas is not None)
    latest_cadss = _latest(assessments, lambda a: a.cadss_total is not None)
    latest_resp = _latest(assessments, lambda a: a.respiratory is not None)
    moaas = latest_moaas.moaas if latest_moaas is not None else None
    return [
        minimum,
        Criterion(VITALS_WITHIN_LIMITS, "Vital signs within limits", vitals.acceptable,
                  vitals.detail),
        Criterion(
            MOAAS_5, "Fully alert: MOAA/S 5", moaas == 5,
            "not assessed" if moaas is None else f"last MOAA/S {moaas}",
        ),
        Criterion(
            DISSOCIATION_RESOLVED, "Dissociation resolved", None,
            "no CADSS recorded" if latest_cadss is None
            else f"last CADSS total {latest_cadss.cadss_total}",
            suggested=latest_cadss is not None and latest_cadss.cadss_total == 0,
        ),
        Criterion(
            RESPIRATORY_NORMAL, "Breathing normal, no respiratory depression", None,
            "not assessed" if latest_resp is None else f"last: {latest_resp.respiratory}",
            suggested=latest_resp is not None and latest_resp.respiratory == "normal",
        ),
        Criterion(ESCORT_TRANSPORT, "Escort or safe transport arranged (no driving today)", None),
    ]


@dataclass(frozen=True, slots=True)
class ReadyToLeave:
    """When the client would have been ready to leave, from the record; ``time`` None with
    ``reason`` when the record does not show every criterion met at any one time."""

    time: float | None
    reason: str = ""


def suggest_ready_to_leave(
    anchor: float | None,
    assessments: Sequence[tuple[float, Assessment]],
    vitals_problem_at: Callable[[float], str | None] = lambda _t: None,
) -> ReadyToLeave:
    """The earliest assessment at which the record shows every criterion met: MOAA/S 5,
    CADSS total 0 and breathing normal all recorded at that assessment, every later
    assessment still so, and the vitals acceptable then (``vitals_problem_at(t)``: what was
    wrong at ``t``, None if nothing). Never a guess: a criterion never recorded gives no time
    and says which."""
    after = sorted((item for item in assessments if anchor is None or item[0] >= anchor),
                   key=lambda item: item[0])
    if not after:
        return ReadyToLeave(None, "no assessment after the first dose")
    missing = [name for name, recorded in (
        ("MOAA/S", lambda a: a.moaas is not None),
        ("CADSS", lambda a: a.cadss_total is not None),
        ("breathing", lambda a: a.respiratory is not None),
    ) if not any(recorded(a) for _, a in after)]
    if missing:
        return ReadyToLeave(None, " and ".join(missing) + " never assessed after the dose")
    candidate: float | None = None
    for time, a in after:
        if not _recovered(a):
            candidate = None
        elif candidate is None and _complete(a):
            candidate = time
    if candidate is None:
        return ReadyToLeave(None, "no assessment found the client alert (MOAA/S 5), not "
                                  "dissociated (CADSS 0) and breathing normally, and still so")
    last_problem = ""
    for time, a in after:  # the vitals at the candidate, or at a later complete assessment
        if time < candidate or not _complete(a) or not _recovered(a):
            continue
        problem = vitals_problem_at(time)
        if problem is None:
            return ReadyToLeave(time)
        last_problem = problem
    return ReadyToLeave(None, f"vital signs not acceptable when recovered: {last_problem}")


def _recovered(a: Assessment) -> bool:
    """Nothing recorded at this assessment argues against leaving."""
    return ((a.moaas is None or a.moaas == 5)
            and (a.cadss_total is None or a.cadss_total == 0)
            and (a.respiratory is None or a.respiratory == "normal"))


def _complete(a: Assessment) -> bool:
    """This assessment recorded all three: MOAA/S, CADSS and breathing."""
    return a.moaas is not None and a.cadss_total is not None and a.respiratory is not None


def _latest(
    assessments: Sequence[tuple[float, Assessment]], has: Callable[[Assessment], bool]
) -> Assessment | None:
    found = [(t, a) for t, a in assessments if has(a)]
    return max(found, key=lambda item: item[0])[1] if found else None
