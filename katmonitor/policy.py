"""Who may do what, and the small clinical rules the window applies while a nurse types.

One place for the rules the UI used to hold: who runs dosing sessions, who adds notes, who
signs records, who manages users and reads the access log, which addendum kinds a role may
add (the table itself is :data:`katmonitor.addenda.MAY_ADD`), which tablets still wait to be
swallowed or spat, and how a weight-based dose in mg is computed from mg/kg. The core refuses
with these rules; the window asks the same functions only to grey out, offer or pre-fill -
never to decide alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from katmonitor.accounts import Role, User
from katmonitor.addenda import MAY_ADD, AddendumKind
from katmonitor.base.errors import PermissionDeniedError
from katmonitor.session import DoseEvent, Route, WorkflowEvent, WorkflowKind

ORAL_ROUTES = (Route.SUBLINGUAL, Route.ORAL)
"""Tablets and lozenges: each dose ends when it is swallowed or spat."""
WEIGHT_ROUTES = (Route.IM, Route.IV)
"""Dosed by the client's weight (mg/kg)."""

MAX_WEIGHT_KG = 1000.0
"""The largest weight the dose entry accepts."""
MAX_MG_PER_KG = 20.0
"""The largest mg/kg the dose entry accepts."""
MAX_DOSE_MG = 10000.0
"""The cap on a dose in mg, also when computed from mg/kg × weight."""
DOSE_MG_DECIMALS = 1
"""A dose in mg is recorded to 0.1 mg."""

# -- sessions ----------------------------------------------------------------------------------


def may_run_sessions(user: User, training: bool) -> bool:
    """Only a nurse runs dosing sessions; a trainee may in training mode."""
    return user.role is Role.NURSE or (training and user.role is Role.TRAINEE)


def check_may_run_sessions(user: User | None, training: bool) -> None:
    """Starting or reopening a session. Nobody signed in is headless recording
    (``katmonitor record``), which may record but cannot dose."""
    if user is None or may_run_sessions(user, training):
        return
    raise PermissionDeniedError(
        f"{user.name} is a {user.role.value}: only nurses run dosing sessions"
        + (" (trainees in training mode)" if user.role is Role.TRAINEE else "")
    )


def require_clinician(user: User | None, training: bool, action: str) -> User:
    """A dosing-workflow step (``action``, e.g. "give a dose") needs a signed-in nurse, or a
    trainee in a training session."""
    if user is None:
        raise PermissionDeniedError(f"sign in as a nurse to {action}")
    if not may_run_sessions(user, training):
        raise PermissionDeniedError(
            f"{user.name} is a {user.role.value}: only nurses may {action}"
            + (" (trainees in training mode)" if user.role is Role.TRAINEE else "")
        )
    return user


def may_add_notes(user: User | None, training: bool) -> bool:
    """A free-text note on the running session: the nurse, the therapist (their own notes),
    a trainee in training mode; never an administrator (who changes no clinical data)."""
    return user is not None and (
        user.role is Role.THERAPIST or may_run_sessions(user, training)
    )


def require_note_author(user: User | None, training: bool) -> User:
    if user is None:
        raise PermissionDeniedError("sign in to add a note")
    if not may_add_notes(user, training):
        raise PermissionDeniedError(
            f"{user.name} is a {user.role.value}: notes are added by nurses and therapists"
            + (" (trainees in training mode)" if user.role is Role.TRAINEE else "")
        )
    return user


# -- records and accounts --------------------------------------------------------------------


def may_sign(user: User | None) -> bool:
    """Only a nurse signs a session's record (``record_signing`` refuses anyone else)."""
    return user is not None and user.role is Role.NURSE


def may_manage_users(user: User | None) -> bool:
    return user is not None and user.role is Role.ADMINISTRATOR


def require_user_manager(user: User | None) -> User:
    """Adding, changing and unlocking accounts: an administrator only (the core also asks for
    the administrator's password again: :class:`katmonitor.accounts.AccountStore`)."""
    if user is None or not may_manage_users(user):
        who = (f"{user.name} is a {user.role.value}" if user is not None
               else "nobody is signed in")
        raise PermissionDeniedError(f"{who}: only an administrator manages users")
    return user


def require_access_log_reader(user: User | None) -> User:
    """Reading the access log (``katmonitor audit``): administrators only."""
    if user is None or user.role is not Role.ADMINISTRATOR:
        who = (f"{user.name} is a {user.role.value}" if user is not None
               else "nobody is signed in")
        raise PermissionDeniedError(f"{who}: only an administrator reads the access log")
    return user


def addendum_kinds(role: Role | None) -> list[AddendumKind]:
    """The kinds of addendum ``role`` may add (:data:`MAY_ADD`), note first."""
    if role is None:
        return []
    return [kind for kind in (AddendumKind.NOTE, AddendumKind.CORRECTION)
            if role in MAY_ADD[kind]]


# -- dosing -------------------------------------------------------------------------------------


def pending_oral_doses(doses: Iterable[DoseEvent],
                       events: Iterable[WorkflowEvent]) -> list[DoseEvent]:
    """Tablets/lozenges given whose swallow or spit is not recorded yet, oldest first."""
    ended = {e.data["dose_id"] for e in events if e.kind is WorkflowKind.ORAL_COMPLETE}
    return [d for d in doses if d.route in ORAL_ROUTES and d.id not in ended]


def dose_mg_for_weight(mg_per_kg: float, weight_kg: float) -> float:
    """The dose in mg for ``mg_per_kg`` × ``weight_kg``: rounded to 0.1 mg, at most
    :data:`MAX_DOSE_MG`."""
    return min(round(mg_per_kg * weight_kg, DOSE_MG_DECIMALS), MAX_DOSE_MG)
