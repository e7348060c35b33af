"""The locked window and the shift handover, in the core: behind the lock nothing can be done
in anyone's name, the clinic's idle time locks it, the next nurse's sign-in takes the running
session over and the record says who was responsible from when. Real database, manual clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from account_helpers import add_account
from pypdf import PdfReader
from workflow_helpers import NURSE, NURSE_PASSWORD, complete_predose, sign_in_nurse

from katmonitor.accounts import AccountStore
from katmonitor.assessments import Assessment
from katmonitor.base.clock import ManualClock
from katmonitor.base.errors import AuthenticationError, PermissionDeniedError
from katmonitor.base.vitals import VitalKind
from katmonitor.exports.pdf_export import write_pdf_export
from katmonitor.record_signing import verify_session
from katmonitor.review import load_review
from katmonitor.security_policy import SecurityPolicy
from katmonitor.session import Route, SessionStatus, WorkflowKind
from katmonitor.storage.database import open_database
from katmonitor.workstation import Workstation

NEXT_NURSE = "rn.kim"


def clock_of(ws: Workstation) -> ManualClock:
    assert isinstance(ws.clock, ManualClock)
    return ws.clock


def access(ws: Workstation) -> list[tuple[str, str, str, str]]:
    return [(e.user, e.action, e.target, e.outcome) for e in ws.accounts().access_log.entries()]


def test_behind_the_lock_every_action_is_refused_until_someone_signs_in(
        ws: Workstation) -> None:
    sign_in_nurse(ws)
    session = ws.start_session("C-1", "Esketamine", Route.INTRANASAL)
    assert ws.lock("on request") is True
    assert ws.lock() is False  # already locked: nothing new logged
    assert ws.operator is not None and ws.operator.name == NURSE  # still shown as signed in
    refused = [
        lambda: ws.workflow.record_identity_check("photo ID"),
        lambda: ws.add_observation("client calm", NURSE),
        lambda: ws.workflow.add_assessment(Assessment(moaas=5)),
        lambda: ws.adjust_limit(VitalKind.SPO2, "low", 90, NURSE, "baseline 92"),
        lambda: ws.set_alarm_off(VitalKind.HR, True, NURSE),
        lambda: ws.end_session(),
        lambda: ws.sign_record(session.id, NURSE, NURSE_PASSWORD, "reviewed"),
    ]
    for action in refused:
        with pytest.raises(PermissionDeniedError, match="the window is locked"):
            action()
    assert ws.recording and ws.store.observations(session.id) == []
    # Alarm acknowledgement stays open to whoever is at the bedside.
    ws.acknowledge_alarms("at the locked window")

    with pytest.raises(AuthenticationError):
        ws.unlock(NURSE, "wrong password")
    assert ws.locked
    ws.unlock(NURSE, NURSE_PASSWORD)
    assert not ws.locked
    ws.add_observation("client calm", NURSE)
    assert [o.text for o in ws.store.observations(session.id)] == ["client calm"]
    target = f"session {session.id}"
    log = access(ws)
    assert (NURSE, "lock", target, "ok") in log
    assert (NURSE, "unlock", target, "failed") in log
    assert (NURSE, "unlock", target, "ok") in log
    # The same nurse carried on: no handover.
    assert not [e for e in ws.workflow.events if e.kind is WorkflowKind.HANDOVER]


def test_the_clinics_idle_time_locks_the_window_and_activity_postpones_it(
        sqlite_url: str) -> None:
    clock = ManualClock()
    ws = Workstation(open_database(sqlite_url), [], clock=clock,
                     security=SecurityPolicy(idle_lock_min=3))
    ws.start()
    try:
        assert ws.lock_if_idle() is False  # nobody signed in: nothing to lock
        sign_in_nurse(ws)
        clock.advance(170)
        assert ws.lock_if_idle() is False
        ws.note_activity()  # a key pressed
        clock.advance(170)
        assert ws.lock_if_idle() is False and not ws.locked
        clock.advance(11)
        assert ws.lock_if_idle() is True and ws.locked
        [entry] = [e for e in ws.accounts().access_log.entries() if e.action == "lock"]
        assert entry.detail == "idle 3 min"
    finally:
        ws.shutdown()
        ws.database.close()


def test_unlocking_counts_towards_the_lockout(ws: Workstation) -> None:
    sign_in_nurse(ws)
    ws.lock()
    for _ in range(4):
        with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
            ws.unlock(NURSE, "guess")
    with pytest.raises(AuthenticationError, match="locked until"):
        ws.unlock(NURSE, "guess")
    with pytest.raises(AuthenticationError, match="locked until"):
        ws.unlock(NURSE, NURSE_PASSWORD)  # the right password, refused while locked
    assert ws.locked
    clock_of(ws).advance(15 * 60 + 1)
    ws.unlock(NURSE, NURSE_PASSWORD)
    assert not ws.locked


def test_the_next_nurse_takes_the_running_session_over_and_the_record_says_so(
        ws: Workstation, tmp_path: Path) -> None:
    sign_in_nurse(ws)
    session = ws.start_session("C-2", "Esketamine", Route.INTRANASAL)
    complete_predose(ws)
    accounts = AccountStore(ws.database)
    add_account(accounts, NEXT_NURSE, "nurse", NURSE_PASSWORD, full_name="Kim Roe, RN")
    add_account(accounts, "theo", "therapist", NURSE_PASSWORD, full_name="Theo Grant, PhD")
    clock_of(ws).advance(60)
    ws.lock("shift change")

    # A therapist at the window does not take over the nurse's session.
    ws.unlock("theo", NURSE_PASSWORD)
    assert ws.responsible == NURSE
    with pytest.raises(PermissionDeniedError, match="only nurses"):
        ws.end_session()
    ws.lock()

    handed_at = clock_of(ws).now()
    ws.unlock(NEXT_NURSE, NURSE_PASSWORD, handover_note="client settled, BP recheck due 40 min")
    assert ws.responsible == NEXT_NURSE and ws.recording
    [handover] = [e for e in ws.store.workflow_events(session.id)
                  if e.kind is WorkflowKind.HANDOVER]
    assert handover.time == handed_at and handover.user == NEXT_NURSE
    assert handover.data == {"from": NURSE, "to": NEXT_NURSE, "to_printed": "Kim Roe, RN",
                             "note": "client settled, BP recheck due 40 min"}
    assert (NEXT_NURSE, "handover", f"session {session.id}", "ok") in access(ws)

    # A plain sign-out and sign-in of the same nurse is no second handover.
    ws.sign_out()
    ws.sign_in(NEXT_NURSE, NURSE_PASSWORD)
    ended = ws.end_session()
    assert ended.status is SessionStatus.ENDED
    handovers = [e for e in ws.store.workflow_events(session.id)
                 if e.kind is WorkflowKind.HANDOVER]
    assert len(handovers) == 1

    # The handover is part of the signed record and shows on the review timeline.
    ws.sign_record(session.id, NEXT_NURSE, NURSE_PASSWORD, "reviewed and approved")
    assert verify_session(ws.store, session.id).status == "verified"
    review = load_review(ws.store, session.id)
    assert any(e.label == "handover: rn.lee → Kim Roe, RN (client settled, BP recheck due 40 min)"
               for e in review.events)
    out = tmp_path / "report.pdf"
    write_pdf_export(ws.store, session.id, out)
    text = " ".join(" ".join((page.extract_text() or "").split())
                    for page in PdfReader(out).pages)
    assert "rn.lee (test) -> Kim Roe, RN; note: client settled, BP recheck due 40 min" in text
