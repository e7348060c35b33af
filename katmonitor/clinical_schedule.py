"""The clinical schedule of a dosing session, anchored to the first dose: the BP re-check
(about 40 min for esketamine), the NIBP cycle, MOAA/S + CADSS assessments and the observation
minimum. Each prompt is due, then overdue, then escalated, until something completes it: an
NIBP reading or an assessment in its window does so by itself, or the nurse marks it done.

``build_schedule`` is a pure function of the plan, the anchor, what was recorded and the clock,
so the live window, the reports and the tests all see the same schedule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from katmonitor.care_plan import CarePlan, RoutePlan


class PromptKind(StrEnum):
    BP_RECHECK = "bp_recheck"
    NIBP = "nibp"
    ASSESSMENT = "assessment"
    OBSERVATION_MINIMUM = "observation_minimum"


class PromptState(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    DONE = "done"
    MISSED = "missed"
    """Not done, and its window has passed (a later prompt of its kind was done, or the
    session ended)."""


@dataclass(frozen=True, slots=True)
class Completion:
    time: float
    by: str
    """Who or what completed it: a user name, "NIBP reading" or "assessment"."""
    recorded: bool = True
    """False for an automatic completion not yet written to the record."""
    measured: bool = True
    """False when a person marked it done without the observation it asks for (with a
    reason): shown as "done without measurement", never like a measured one."""


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str
    kind: PromptKind
    label: str
    due_at: float
    state: PromptState
    completion: Completion | None = None


@dataclass(frozen=True, slots=True)
class _Slot:
    id: str
    kind: PromptKind
    label: str
    due_at: float
    window_end: float
    """Evidence after this belongs to the next prompt of the same kind."""


def _slots(route: RoutePlan, lead: float, anchor: float) -> list[_Slot]:
    end = anchor + route.observation_minimum_s
    slots: list[_Slot] = []
    recheck_due = None
    if route.bp_recheck_s is not None:
        recheck_due = anchor + route.bp_recheck_s
        minutes = route.bp_recheck_s / 60
        slots.append(
            _Slot("bp_recheck", PromptKind.BP_RECHECK, f"BP re-check {minutes:.0f} min after dose",
                  recheck_due, float("inf"))
        )
    for kind, every, label in (
        (PromptKind.NIBP, route.nibp_cycle_s, "NIBP"),
        (PromptKind.ASSESSMENT, route.assessment_every_s, "MOAA/S and CADSS"),
    ):
        if every is None:
            continue
        k = 1
        while anchor + k * every <= end + 1e-6:
            due = anchor + k * every
            k += 1
            covered = recheck_due is not None and abs(due - recheck_due) < every / 2
            if kind is PromptKind.NIBP and covered:
                continue  # the BP re-check covers this cycle
            minutes = (due - anchor) / 60
            slots.append(
                _Slot(f"{kind.value}_{minutes:.0f}", kind, f"{label} at {minutes:.0f} min",
                      due, due + every - lead)
            )
    slots.append(
        _Slot("observation_minimum", PromptKind.OBSERVATION_MINIMUM,
              f"Observation minimum ({route.observation_minimum_s / 60:.0f} min)", end, end)
    )
    slots.sort(key=lambda s: (s.due_at, s.kind.value))
    return slots


def build_schedule(
    plan: CarePlan,
    route: RoutePlan,
    anchor: float | None,
    *,
    now: float,
    nibp_times: Sequence[float] = (),
    assessment_times: Sequence[float] = (),
    recorded: Mapping[str, Completion] | None = None,
    ended_at: float | None = None,
) -> list[Prompt]:
    """The prompts of a session whose first dose was at ``anchor`` (None: not dosed, no
    schedule). ``recorded``: completions already in the record, by prompt id."""
    if anchor is None:
        return []
    recorded = recorded or {}
    lead = plan.due_lead_s
    clock = now if ended_at is None else min(now, ended_at)
    evidence = {
        PromptKind.BP_RECHECK: sorted(nibp_times),
        PromptKind.NIBP: sorted(nibp_times),
        PromptKind.ASSESSMENT: sorted(assessment_times),
    }
    prompts: list[Prompt] = []
    for slot in _slots(route, lead, anchor):
        if ended_at is not None and slot.due_at - lead > ended_at:
            break  # the session ended before this was due
        completion = recorded.get(slot.id)
        if completion is None and slot.kind is PromptKind.OBSERVATION_MINIMUM:
            if clock >= slot.due_at:
                completion = Completion(slot.due_at, "time", recorded=False)
        elif completion is None:
            done = next(
                (t for t in evidence[slot.kind] if slot.due_at - lead <= t <= slot.window_end
                 and t <= clock),
                None,
            )
            if done is not None:
                by = "assessment" if slot.kind is PromptKind.ASSESSMENT else "NIBP reading"
                completion = Completion(done, by, recorded=False)
        prompts.append(Prompt(slot.id, slot.kind, slot.label, slot.due_at,
                              _state(plan, slot, completion, clock, ended_at), completion))
    return prompts


def _state(
    plan: CarePlan, slot: _Slot, completion: Completion | None, clock: float,
    ended_at: float | None,
) -> PromptState:
    if completion is not None:
        return PromptState.DONE
    if clock > slot.window_end or ended_at is not None:
        return PromptState.MISSED
    late = clock - slot.due_at
    if late < -plan.due_lead_s:
        return PromptState.UPCOMING
    if late < plan.overdue_after_s:
        return PromptState.DUE
    if late < plan.escalate_after_s:
        return PromptState.OVERDUE
    return PromptState.ESCALATED
