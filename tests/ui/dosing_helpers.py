"""Helpers for window tests that walk the dosing workflow: a nurse signs in, the client is
checked and readings reach the gate. The real Workstation is driven; only the clock is the
test's (a ManualClock where time matters). The core steps are tests/workflow_helpers.py's."""

from __future__ import annotations

from workflow_helpers import (  # noqa: F401  (re-exported for the window tests)
    NURSE,
    NURSE_PASSWORD,
    complete_predose,
    feed_vitals,
    sign_in_nurse,
)

from katmonitor.session import DoseEvent, Route
from ui.main_window import MainWindow

MIN = 60.0


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
