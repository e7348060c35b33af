"""PDF export of a 4-hour session with 100 Hz pleth (goal: <= 3 s).

The session is written as bench.sign_verify writes it (1 Hz HR, SpO2 and pulse rate, pleth in
1-second blocks of 100 points) plus what a dosed session holds: NIBP readings (systolic,
diastolic, mean) every 5 min, two spray devices, the pre-dose steps and gate, assessments every
20 min, alarm onsets and ends, and a discharge. Timed: the in-process export of the unsigned
session (first call, which imports fpdf2, then the median of 3), the same after signing (the
export verifies the signature), and `katmonitor export ID --format pdf` as a user runs it (a new
process: interpreter start and imports included).
Usage: PYTHONPATH=. .venv/bin/python -m bench.pdf_export [--hours H] [--db URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from katmonitor.accounts import AccountStore
from katmonitor.alarms.model import AlarmEvent, Priority
from katmonitor.assessments import make_assessment
from katmonitor.base.samples import Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.session import Route, SessionStatus, WorkflowKind
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore

PASSWORD = "correct horse"
NURSE = "bench-nurse"


def record(store: SessionStore, hours: float) -> int:
    t0 = 1_760_000_000.0
    seconds = int(hours * 3600)
    session = store.create_session(
        client_id="BENCH",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=t0,
        training=False,
        devices=("monitor", "oximeter"),
        workstation="bench",
    )
    sid = session.id
    wave = (np.sin(np.arange(100) / 8.0) * 40 + 50).astype(np.float32)
    rng = np.random.default_rng(7)
    for chunk in range(0, seconds, 600):
        samples = []
        blocks = []
        alarms = []
        for s in range(chunk, min(chunk + 600, seconds)):
            t = t0 + s
            samples += [
                (sid, Sample(t, "monitor", VitalKind.HR, 70.0 + float(rng.integers(0, 9)))),
                (sid, Sample(t, "oximeter", VitalKind.SPO2, 96.0 + float(rng.integers(0, 3)))),
                (sid, Sample(t, "oximeter", VitalKind.PULSE_RATE, 71.0)),
            ]
            if s % 300 == 0:
                sys_ = 120.0 + 20 * np.sin(s / 3000)
                for kind, value in ((VitalKind.NIBP_SYSTOLIC, sys_),
                                    (VitalKind.NIBP_DIASTOLIC, sys_ - 45),
                                    (VitalKind.NIBP_MEAN, sys_ - 30)):
                    samples.append((sid, Sample(t, "monitor", kind, round(float(value)))))
            if s % 1800 == 900:
                alarms += [
                    (sid, AlarmEvent(t, "spo2.low", "spo2", Priority.MEDIUM, "onset", 89.0, 90.0,
                                     "SpO2 89 % < 90")),
                    (sid, AlarmEvent(t + 20, "spo2.low", "spo2", Priority.MEDIUM, "end", 93.0,
                                     90.0, "SpO2 93 % < 90")),
                ]
            blocks.append((sid, WaveformBlock(t, 100.0, "oximeter", VitalKind.PLETH, wave)))
        store.write_batch(samples, blocks, [], alarms)
    dose_at = t0 + 600
    for key, kind, data in (
        (-120, WorkflowKind.IDENTITY_CHECK, {"client_id": "BENCH", "method": "photo ID",
                                             "note": ""}),
        (-60, WorkflowKind.ELIGIBILITY, {"answers": {"benzodiazepines": False},
                                         "questions": {"benzodiazepines": "Taking benzos?"},
                                         "concerns": [], "override_reason": "",
                                         "care_plan": "default"}),
        (0, WorkflowKind.GATE, {"passed": True, "problems": [], "systolic": 120.0,
                                "diastolic": 75.0, "heart_rate": 72.0, "nibp_time": dose_at - 300,
                                "limits": "BP at most 140/90 mmHg", "overridden": [],
                                "override_reason": "", "care_plan": "default",
                                "route_plan": {"observation_minimum_s": 7200.0,
                                               "bp_recheck_s": 2400.0, "nibp_cycle_s": 900.0,
                                               "assessment_every_s": 1200.0}}),
    ):
        store.add_workflow_event(sid, time=dose_at + key, kind=kind, user=NURSE, data=data,
                                 recorded_at=dose_at + key)
    for i, lot in enumerate(("LOT-1", "LOT-2")):
        store.add_dose(sid, time=dose_at + i * 300, medicine="esketamine",
                       route=Route.INTRANASAL, dose_mg=28.0, unit_count=1, lot=lot,
                       given_by="Bench Nurse, RN", recorded_at=dose_at + i * 300)
    for m in range(20, int(hours * 60) - 10, 20):
        store.add_observation(
            sid, time=dose_at + m * 60, text="", author="Bench Nurse, RN",
            recorded_at=dose_at + m * 60,
            assessment=make_assessment(moaas=5 if m > 60 else 4, cadss_form="cadss6",
                                       cadss={1: 0 if m > 60 else 2}, respiratory="normal"),
        )
    end = t0 + seconds
    store.add_workflow_event(
        sid, time=end, kind=WorkflowKind.DISCHARGE, user=NURSE,
        data={"criteria": {}, "unmet": [], "exception_reason": "",
              "ready_to_leave_at": dose_at + 4200, "first_dose_at": dose_at,
              "minutes_first_dose_to_end": round((end - dose_at) / 60, 1)},
        recorded_at=end,
    )
    store.set_status(sid, SessionStatus.ENDED, end)
    return sid


def export_ms(store: SessionStore, sid: int, out: Path) -> float:
    from katmonitor.exports.pdf_export import write_pdf_export

    started = time.perf_counter()
    write_pdf_export(store, sid, out)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        database = open_database(url)
        store = SessionStore(database)
        AccountStore(database).add_user(NURSE, "nurse", PASSWORD, full_name="Bench Nurse, RN")
        started = time.perf_counter()
        sid = record(store, args.hours)
        counts = store.sample_counts(sid)
        print(f"wrote {sum(counts.values())} points ({counts.get('pleth', 0)} pleth) in "
              f"{time.perf_counter() - started:.1f} s")
        out = Path(tmp) / "report.pdf"
        first = export_ms(store, sid, out)
        unsigned = statistics.median(export_ms(store, sid, out) for _ in range(3))
        size_kb = out.stat().st_size / 1e3
        from katmonitor.record_signing import sign_session

        sign_session(store, sid, NURSE, PASSWORD)
        signed = statistics.median(export_ms(store, sid, out) for _ in range(3))
        database.close()
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "katmonitor", "export", str(sid), "--format", "pdf",
             "--out", str(out), "--db", url],
            check=True, capture_output=True, env=env,
        )
        cli = time.perf_counter() - started
    print(f"pdf export, unsigned: first call {first:7.1f} ms, then {unsigned:7.1f} ms"
          f"  ({size_kb:.0f} kB)")
    print(f"pdf export, signed (verified at export): {signed:7.1f} ms")
    print(f"katmonitor export --format pdf (new process, signed): {cli:.2f} s  (goal <= 3 s)")


if __name__ == "__main__":
    main()
