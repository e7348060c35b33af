"""Helpers for window tests that walk the dosing workflow: a nurse signs in, the client is
checked and readings reach the gate. The real Workstation is driven; only the clock is the
test's (a ManualClock where time matters). Mirrors tests/core/workflow_helpers.py."""

from __future__ import annotations

from katmonitor.accounts import AccountStore
from katmonitor.samples import Sample
from katmonitor.session import DoseEvent, Route
from katmonitor.vitals import VitalKind
from katmonitor.workstation import Workstation
from ui.main_window import MainWindow

NURSE = "rn.lee"
NURSE_PASSWORD = "dosing-room-7"
MIN = 60.0


def sign_in_nurse(ws: Workstation, name: str = NURSE, role: str = "nurse") -> None:
    accounts = AccountStore(ws.database)
    if not any(u.name == name for u in accounts.list_users()):
        accounts.add_user(name, role, NURSE_PASSWORD, full_name=f"{name} (test)")
    ws.sign_in(name, NURSE_PASSWORD)


def feed_vitals(ws: Workstation, *, systolic: float = 124, diastolic: float = 78,
                hr: float = 72, spo2: float = 98, at: float | None = None) -> None:
    """Readings as a monitor delivers them, at the workstation's clock time (a workstation
    with no devices: a configured device's own source would be preferred)."""
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


def start_session(window: MainWindow, client: str = "C-1042",
                  route: Route = Route.INTRANASAL) -> None:
    """Through the Start session dialog, as the nurse does."""
    dialog = window.session_panel.start_session()
    dialog.client_edit.setText(client)
    dialog.medicine_combo.setCurrentText("Esketamine" if route is Route.INTRANASAL
                                         else "Ketamine")
    dialog.set_route(route)
    dialog.accept()
    assert dialog.error() == ""


def dose_now(window: MainWindow, route: Route = Route.INTRANASAL) -> DoseEvent:
    """A signed-in nurse starts a session, does the pre-dose steps and gives the first dose
    with normal readings (set up through the core: other tests walk these dialogs)."""
    ws = window.workstation
    sign_in_nurse(ws)
    start_session(window, route=route)
    complete_predose(ws)
    feed_vitals(ws)
    weight = 70.0 if route in (Route.IM, Route.IV) else None
    mg = 28.0 if route is Route.INTRANASAL else 35.0
    dose = ws.add_dose(mg, 1, "LOT-1", weight_kg=weight)
    window.refresh()
    return dose
