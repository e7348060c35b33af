"""Who may do what, asked of the core directly (the window only greys out what these refuse):
only nurses run, dose and sign sessions (trainees in training mode); therapists read sessions
and add their own notes; administrators manage accounts and read the access log but change no
clinical data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from account_helpers import TEST_ADMIN, TEST_ADMIN_PASSWORD, add_account
from workflow_helpers import NURSE_PASSWORD, complete_predose, feed_vitals, sign_in_nurse

from katmonitor import policy
from katmonitor.accounts import AccountStore
from katmonitor.assessments import Assessment, make_assessment
from katmonitor.base.errors import PermissionDeniedError
from katmonitor.base.vitals import VitalKind
from katmonitor.record_signing import sign_session
from katmonitor.session import Route
from katmonitor.storage.store import SessionStore
from katmonitor.workstation import Workstation

ROLES = ("nurse", "therapist", "administrator", "trainee")

# What each role may do in a real (not training) session: action -> roles allowed.
ALLOWED: dict[str, set[str]] = {
    "check identity": {"nurse"},
    "give a dose": {"nurse"},
    "record scores": {"nurse"},
    "add a note": {"nurse", "therapist"},
    "complete a prompt": {"nurse"},
    "discharge": {"nurse"},
}

ACTIONS: dict[str, Callable[[Workstation], object]] = {
    "check identity": lambda ws: ws.workflow.record_identity_check("photo ID"),
    "give a dose": lambda ws: ws.add_dose(28, 1, "LOT-1"),
    "record scores": lambda ws: ws.workflow.add_assessment(make_assessment(moaas=5)),
    "add a note": lambda ws: ws.workflow.add_assessment(Assessment(), "calm, talking"),
    "complete a prompt": lambda ws: ws.workflow.complete_prompt("no-such-prompt", "manual cuff"),
    "discharge": lambda ws: ws.workflow.discharge([], ws.clock.now(), "test"),
}


def sign_in(ws: Workstation, role: str) -> None:
    name = "admin2" if role == "administrator" else f"a.{role}"
    sign_in_nurse(ws, name, role, full_name=f"A {role}")


@pytest.mark.parametrize("role", ROLES)
def test_the_running_session_takes_clinical_entries_only_from_whom_it_should(
    ws: Workstation, role: str
) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-100", "esketamine", Route.INTRANASAL)
    complete_predose(ws)
    feed_vitals(ws)
    sign_in(ws, role)
    for action, attempt in ACTIONS.items():
        if role in ALLOWED[action]:
            if action not in ("complete a prompt", "discharge", "give a dose"):
                attempt(ws)  # (the others are refused for other reasons in this state)
            continue
        with pytest.raises(PermissionDeniedError, match=f"{ws.operator.name} is a {role}"):
            attempt(ws)


@pytest.mark.parametrize("role", ("therapist", "administrator", "trainee"))
def test_only_nurses_start_sessions(ws: Workstation, role: str) -> None:
    sign_in(ws, role)
    with pytest.raises(PermissionDeniedError, match="only nurses run dosing sessions"):
        ws.start_session("C-100", "esketamine", Route.INTRANASAL)
    assert ws.session is None


def test_nobody_signed_in_records_no_clinical_entry(ws: Workstation) -> None:
    sign_in_nurse(ws)
    ws.start_session("C-100", "esketamine", Route.INTRANASAL)
    ws.sign_out()
    for attempt in ACTIONS.values():
        with pytest.raises(PermissionDeniedError, match="sign in"):
            attempt(ws)


def test_only_nurses_sign_a_record(ws: Workstation) -> None:
    sign_in_nurse(ws)
    session = ws.start_session("C-100", "esketamine", Route.INTRANASAL)
    ws.end_session()
    accounts = AccountStore(ws.database)
    for role in ("therapist", "administrator", "trainee"):
        add_account(accounts, f"b.{role}", role, NURSE_PASSWORD, f"B {role}")
        with pytest.raises(PermissionDeniedError, match="only nurses may sign"):
            sign_session(SessionStore(ws.database), session.id, f"b.{role}", NURSE_PASSWORD)


def test_only_administrators_manage_accounts_and_read_the_access_log(ws: Workstation) -> None:
    sign_in_nurse(ws)  # also makes the test administrator
    accounts = AccountStore(ws.database)
    add_account(accounts, "theo", "therapist", NURSE_PASSWORD)
    for name in ("rn.lee", "theo"):
        with pytest.raises(PermissionDeniedError, match="only an administrator"):
            accounts.add_user("eve", "nurse", NURSE_PASSWORD, admin=name,
                              admin_password=NURSE_PASSWORD)
        with pytest.raises(PermissionDeniedError, match="only an administrator reads"):
            policy.require_access_log_reader(accounts.authenticate(name, NURSE_PASSWORD))
    admin = accounts.verify_administrator(TEST_ADMIN, TEST_ADMIN_PASSWORD)
    assert policy.require_access_log_reader(admin) is admin
    with pytest.raises(PermissionDeniedError, match="nobody is signed in"):
        policy.require_access_log_reader(None)


@pytest.mark.parametrize("role", ("therapist", "administrator"))
def test_a_review_only_caller_changes_no_session_data(ws: Workstation, role: str) -> None:
    """Whatever the caller (the review window or a script), a therapist or an administrator
    signed in changes no dose, observation score, limit, status or signature."""
    sign_in_nurse(ws)
    session = ws.start_session("C-100", "esketamine", Route.INTRANASAL)
    sign_in(ws, role)
    refused: dict[str, Callable[[], object]] = {
        "dose": lambda: ws.add_dose(28, 1, "LOT-1"),
        "scores": lambda: ws.add_observation("", "x", assessment=make_assessment(moaas=4)),
        "limit": lambda: ws.adjust_limit(VitalKind.SPO2, "low", 85, "x", "test"),
        "alarm off": lambda: ws.set_alarm_off(VitalKind.HR, True, "x"),
        "end": lambda: ws.end_session(),
    }
    for what, attempt in refused.items():
        with pytest.raises(PermissionDeniedError):
            attempt()
        assert ws.recording, what
    assert ws.store.doses(session.id) == [] and ws.store.observations(session.id) == []
