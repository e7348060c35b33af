"""Helpers for core and window tests that walk the dosing workflow: a nurse signs in, checks
the client and the vitals reach the gate. They drive the real Workstation; nothing is faked but
the clock."""

from __future__ import annotations

from account_helpers import add_account

from katmonitor.accounts import AccountStore
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.workstation import Workstation

NURSE = "rn.lee"
NURSE_PASSWORD = "dosing-room-7"


def sign_in_nurse(
    ws: Workstation, name: str = NURSE, role: str = "nurse", full_name: str = ""
) -> None:
    """Create the account if needed and sign it in (printed name "NAME (test)" by default)."""
    accounts = AccountStore(ws.database)
    if not any(u.name == name for u in accounts.list_users()):
        add_account(accounts, name, role, NURSE_PASSWORD, full_name=full_name or f"{name} (test)")
    ws.sign_in(name, NURSE_PASSWORD)


def feed_vitals(ws: Workstation, *, systolic: float = 124, diastolic: float = 78,
                hr: float = 72, spo2: float = 98, at: float | None = None) -> None:
    """Readings as a monitor delivers them, at the workstation's clock time."""
    t = ws.clock.now() if at is None else at
    for kind, value in (
        (VitalKind.NIBP_SYSTOLIC, systolic),
        (VitalKind.NIBP_DIASTOLIC, diastolic),
        (VitalKind.NIBP_MEAN, (systolic + 2 * diastolic) / 3),
        (VitalKind.HR, hr),
        (VitalKind.SPO2, spo2),
    ):
        ws.pipeline.on_sample(Sample(t, "monitor", kind, value))


def complete_predose(ws: Workstation) -> None:
    """Identity checked and every eligibility question answered acceptably."""
    ws.workflow.record_identity_check("name and date of birth against photo ID")
    ws.workflow.record_eligibility(
        {item.id: item.acceptable for item in ws.workflow.plan.eligibility}
    )
