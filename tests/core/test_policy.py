"""The rules of who may do what, and the dose arithmetic the window shows, called directly."""

from __future__ import annotations

import pytest

from katmonitor import policy
from katmonitor.accounts import Role, User
from katmonitor.addenda import AddendumKind
from katmonitor.base.errors import PermissionDeniedError
from katmonitor.session import DoseEvent, Route, WorkflowEvent, WorkflowKind


def user(role: Role, name: str = "someone") -> User:
    return User(id=1, name=name, full_name=name.title(), role=role, disabled=False,
                created_at=0.0)


NURSE, TRAINEE = user(Role.NURSE, "rn.lee"), user(Role.TRAINEE, "tr.kim")
THERAPIST, ADMIN = user(Role.THERAPIST, "theo"), user(Role.ADMINISTRATOR, "admin")


def test_only_nurses_run_sessions_and_trainees_only_in_training() -> None:
    assert policy.may_run_sessions(NURSE, training=False)
    assert policy.may_run_sessions(TRAINEE, training=True)
    assert not policy.may_run_sessions(TRAINEE, training=False)
    assert not policy.may_run_sessions(THERAPIST, training=True)
    assert not policy.may_run_sessions(ADMIN, training=True)


def test_starting_a_session_is_refused_with_who_may() -> None:
    policy.check_may_run_sessions(None, training=False)  # headless recording
    policy.check_may_run_sessions(NURSE, training=False)
    with pytest.raises(PermissionDeniedError,
                       match=r"theo is a therapist: only nurses run dosing sessions$"):
        policy.check_may_run_sessions(THERAPIST, training=False)
    with pytest.raises(PermissionDeniedError, match=r"\(trainees in training mode\)"):
        policy.check_may_run_sessions(TRAINEE, training=False)


def test_a_workflow_step_needs_a_signed_in_clinician() -> None:
    assert policy.require_clinician(NURSE, False, "give a dose") is NURSE
    assert policy.require_clinician(TRAINEE, True, "give a dose") is TRAINEE
    with pytest.raises(PermissionDeniedError, match="sign in as a nurse to give a dose"):
        policy.require_clinician(None, False, "give a dose")
    with pytest.raises(PermissionDeniedError, match="theo is a therapist: only nurses may"):
        policy.require_clinician(THERAPIST, True, "give a dose")
    with pytest.raises(PermissionDeniedError, match="trainees in training mode"):
        policy.require_clinician(TRAINEE, False, "give a dose")


def test_only_nurses_sign_and_only_administrators_manage_users() -> None:
    assert policy.may_sign(NURSE)
    assert not any(policy.may_sign(u) for u in (None, TRAINEE, THERAPIST, ADMIN))
    assert policy.may_manage_users(ADMIN)
    assert not any(policy.may_manage_users(u) for u in (None, NURSE, TRAINEE, THERAPIST))
    assert policy.require_user_manager(ADMIN) is ADMIN
    with pytest.raises(PermissionDeniedError,
                       match=r"rn\.lee is a nurse: only an administrator manages users"):
        policy.require_user_manager(NURSE)
    with pytest.raises(PermissionDeniedError, match="nobody is signed in"):
        policy.require_user_manager(None)


def test_addendum_kinds_follow_the_addenda_table() -> None:
    assert policy.addendum_kinds(Role.NURSE) == [AddendumKind.NOTE, AddendumKind.CORRECTION]
    assert policy.addendum_kinds(Role.THERAPIST) == [AddendumKind.NOTE]
    assert policy.addendum_kinds(Role.ADMINISTRATOR) == [AddendumKind.NOTE]
    assert policy.addendum_kinds(Role.TRAINEE) == []
    assert policy.addendum_kinds(None) == []


def dose(dose_id: int, route: Route, time: float) -> DoseEvent:
    return DoseEvent(id=dose_id, session_id=1, time=time, medicine="esketamine", route=route,
                     dose_mg=10, unit_count=1, lot="L", given_by="rn.lee", recorded_at=time)


def oral_end(dose_id: int, action: str) -> WorkflowEvent:
    return WorkflowEvent(id=dose_id + 100, session_id=1, time=0.0,
                         kind=WorkflowKind.ORAL_COMPLETE, user="rn.lee",
                         data={"dose_id": dose_id, "action": action}, recorded_at=0.0)


def test_a_tablet_waits_until_swallowed_or_spat() -> None:
    doses = [dose(1, Route.SUBLINGUAL, 10), dose(2, Route.ORAL, 20), dose(3, Route.ORAL, 30)]
    assert policy.pending_oral_doses(doses, []) == doses
    assert policy.pending_oral_doses(doses, [oral_end(2, "spat")]) == [doses[0], doses[2]]
    assert policy.pending_oral_doses(doses, [oral_end(1, "swallowed"), oral_end(2, "spat"),
                                             oral_end(3, "swallowed")]) == []
    # Sprays and injections never wait for a swallow.
    assert policy.pending_oral_doses([dose(4, Route.INTRANASAL, 5), dose(5, Route.IM, 6)],
                                     []) == []


def test_a_weight_based_dose_is_rounded_to_a_tenth_of_a_mg_and_capped() -> None:
    assert policy.dose_mg_for_weight(0.5, 70) == 35.0
    assert policy.dose_mg_for_weight(0.33, 71.3) == 23.5  # 23.529
    assert policy.dose_mg_for_weight(0.25, 70.2) == 17.6
    assert policy.dose_mg_for_weight(policy.MAX_MG_PER_KG, policy.MAX_WEIGHT_KG) \
        == policy.MAX_DOSE_MG
