"""A realistic intranasal esketamine session recorded through the real Workstation and its
dosing workflow with a ManualClock, for the report exports (PDF, REMS).

The story: nurse Lee Park signs in, checks the client's identity, answers the eligibility
checklist with benzodiazepines = yes (overridden with a reason), the pre-dose BP is high and the
gate is overridden; two 28 mg spray devices (lots LOT-A1, LOT-B2) 5 minutes apart; vitals every
5 s, NIBP about every 15 min with a reading 42 min after the first spray; a short SpO2 dip that
raises an alarm; assessments at 20, 60 and 100 min; discharge at 121 min with the client ready
to leave at 60 min.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow_helpers import feed_vitals, sign_in_nurse

from katmonitor.assessments import make_assessment
from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.session import Route
from katmonitor.storage.database import open_database
from katmonitor.workstation import Workstation

MIN = 60.0
NURSE = "lee"
NURSE_NAME = "Lee Park, RN"
LOTS = ("LOT-A1", "LOT-B2")
GATE_OVERRIDE = "prescriber reviewed BP 152/96 by phone"
ELIGIBILITY_OVERRIDE = "lorazepam 0.5 mg at night, prescriber aware"
# NIBP readings after the first spray: minutes -> (systolic, diastolic)
NIBP_AFTER_DOSE = {
    15: (146, 90),
    30: (150, 94),
    42: (148, 92),  # the reading nearest to 40 min
    55: (138, 86),
    70: (132, 84),
    85: (128, 80),
    100: (126, 80),
    115: (124, 78),
    120: (122, 78),  # the last reading before the end
}
READY_MIN = 60
END_MIN = 121


@dataclass(frozen=True)
class DosedSession:
    session_id: int
    first_dose_at: float
    url: str


def _numerics(ws: Workstation, start: float, end: float, *, spo2: float = 97.0) -> None:
    """HR and SpO2 every 5 s from ``start`` to ``end`` (the clock follows)."""
    t = start
    while t < end:
        ws.clock.set(t)
        ws.pipeline.on_sample(Sample(t, "monitor", VitalKind.HR, 72 + (t // 10) % 5))
        ws.pipeline.on_sample(Sample(t, "monitor", VitalKind.SPO2, spo2))
        t += 5
    ws.clock.set(end)


def _nibp(ws: Workstation, systolic: float, diastolic: float) -> None:
    t = ws.clock.now()
    for kind, value in (
        (VitalKind.NIBP_SYSTOLIC, systolic),
        (VitalKind.NIBP_DIASTOLIC, diastolic),
        (VitalKind.NIBP_MEAN, round((systolic + 2 * diastolic) / 3)),
    ):
        ws.pipeline.on_sample(Sample(t, "monitor", kind, value))


def record_dosed_session(url: str, *, route: Route = Route.INTRANASAL) -> DosedSession:
    clock = ManualClock()
    ws = Workstation(open_database(url), [], clock=clock)
    ws.start()
    try:
        sign_in_nurse(ws, NURSE, full_name=NURSE_NAME)
        medicine = "esketamine" if route is Route.INTRANASAL else "ketamine"
        session = ws.start_session("C-200", medicine, route)
        t0 = clock.now()
        _numerics(ws, t0, t0 + 4 * MIN)
        wf = ws.workflow
        wf.record_identity_check("name and date of birth against photo ID", "wristband on")
        answers = {item.id: item.acceptable for item in wf.plan.eligibility}
        answers["benzodiazepines"] = True
        wf.record_eligibility(answers, override_reason=ELIGIBILITY_OVERRIDE)
        feed_vitals(ws, systolic=152, diastolic=96, hr=88)
        clock.advance(60)
        feed_vitals(ws, systolic=152, diastolic=96, hr=88)
        if route is Route.INTRANASAL:
            first = ws.add_dose(28, 1, LOTS[0], override_reason=GATE_OVERRIDE)
            _numerics(ws, clock.now(), first.time + 5 * MIN)
            ws.add_dose(28, 1, LOTS[1])
        else:
            first = ws.add_dose(200, 2, "RDT-9", override_reason=GATE_OVERRIDE)
        anchor = first.time
        minute = 5
        assessments = {
            20: (make_assessment(moaas=4, cadss_form="cadss6", cadss={1: 2, 2: 1},
                                 nausea="nausea", anxiety="mild", respiratory="normal",
                                 therapist_present="Dr Kim"), "calm, eyes closed"),
            60: (make_assessment(moaas=5, cadss_form="cadss6", cadss={1: 0},
                                 respiratory="normal"), "talking, oriented"),
            100: (make_assessment(moaas=5, cadss_form="cadss6", cadss={1: 0},
                                  respiratory="normal", anxiety="none"), ""),
        }
        events = sorted({*NIBP_AFTER_DOSE, *assessments, 25, END_MIN})
        for m in events:
            if m == 25:  # an SpO2 dip long enough to raise an alarm
                _numerics(ws, clock.now(), anchor + 25 * MIN)
                _numerics(ws, anchor + 25 * MIN, anchor + 26 * MIN, spo2=86)
                minute = 26
                continue
            _numerics(ws, max(clock.now(), anchor + minute * MIN), anchor + m * MIN)
            minute = m
            if m in NIBP_AFTER_DOSE:
                _nibp(ws, *NIBP_AFTER_DOSE[m])
            if m in assessments:
                assessment, text = assessments[m]
                wf.add_assessment(assessment, text)
            wf.schedule()  # the live window does this every second: automatic completions
        wf.discharge({"dissociation_resolved", "respiratory_normal", "escort_transport"},
                     anchor + READY_MIN * MIN)
        return DosedSession(session.id, anchor, url)
    finally:
        ws.shutdown()
        ws.database.close()
