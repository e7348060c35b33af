"""Sessions built through the real write path, laid out as ``katmonitor record`` stores them.

A recording workstation hands each sample and pleth block to the Recorder as the device
delivers it, and the Recorder's writer thread commits what arrived every 0.25 s. Here the
device is simulated (the simulator's physiology: numerics once a second, 100 Hz pleth in
10-point blocks, an NIBP triple every few minutes) and time is simulated too: each 0.25 s of
session time is submitted, then ``recorder.write_queued()`` commits it (the writer thread's
turn, in this thread), exactly one commit per quarter second and no wall-clock sleeping.
So pleth lands in rows of about 25 points, four a second, in one small transaction each, as
in a real recording (and each sealed minute is compacted, as the audit chain does).

Only public APIs: SessionStore and AccountStore methods, the Recorder, sign_session.
Databases used by several benchmarks are cached (see :func:`cached_session`), keyed by the
plan and the core's source code, so a changed write path always rebuilds them.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from bench.harness import cached_path
from devices.simulated import VitalsModel
from katmonitor.accounts import AccountStore
from katmonitor.alarms.model import AlarmEvent, Priority
from katmonitor.assessments import make_assessment
from katmonitor.base.samples import Sample, WaveformBlock
from katmonitor.base.vitals import NIBP_KINDS, VitalKind
from katmonitor.recorder import Recorder
from katmonitor.session import Route, SessionStatus, WorkflowKind
from katmonitor.storage import SessionStore, open_database
from katmonitor.storage.database import Database

T0 = 1_760_000_000.0
FLUSH_S = 0.25  # the Recorder's flush interval
PLETH_HZ = 100.0
BLOCK_POINTS = 10  # the simulated oximeter's pleth block
SOURCE = "sim:normal"
NURSE = "bench-nurse"
NURSE_NAME = "Bench Nurse, RN"
PASSWORD = "correct horse battery"

Item = Sample | WaveformBlock | AlarmEvent


@dataclass(frozen=True, slots=True)
class Plan:
    """What a benchmark session holds."""

    seconds: int
    nibp_every_s: int = 300
    dosed: bool = True  # pre-dose steps, two doses, assessments, alarms, discharge; ended
    seed: int = 7


def quarters(plan: Plan, t0: float = T0) -> Iterator[list[Item]]:
    """What the device delivers in each 0.25 s of session time, in arrival order: a numeric
    at each whole second, each pleth block once its last point is in, alarms as they occur."""
    model = VitalsModel("normal", seed=plan.seed)
    ticks_per_quarter = round(FLUSH_S * PLETH_HZ)  # 25 pleth periods
    block = 0  # next pleth block
    for quarter in range(int(plan.seconds / FLUSH_S)):
        items: list[Item] = []
        start_tick = quarter * ticks_per_quarter
        if start_tick % int(PLETH_HZ) == 0:
            second = start_tick // int(PLETH_HZ)
            now = t0 + second
            items += [Sample(now, SOURCE, kind, value)
                      for kind, value in model.numerics(float(second)).items()]
            if second % plan.nibp_every_s == 0:
                items += [Sample(now, SOURCE, kind, value)
                          for kind, value in zip(NIBP_KINDS, model.nibp(float(second)),
                                                 strict=True)]
            if plan.dosed and second % 1800 == 900:
                items.append(AlarmEvent(now, "spo2.low", "spo2", Priority.MEDIUM, "onset",
                                        89.0, 90.0, "SpO2 89 % < 90"))
            if plan.dosed and second % 1800 == 920:
                items.append(AlarmEvent(now, "spo2.low", "spo2", Priority.MEDIUM, "end",
                                        93.0, 90.0, "SpO2 93 % < 90"))
        end_tick = start_tick + ticks_per_quarter
        while (block + 1) * BLOCK_POINTS <= end_tick:  # blocks complete by the quarter's end
            first = block * BLOCK_POINTS
            values = model.pleth(first / PLETH_HZ, BLOCK_POINTS, PLETH_HZ).astype(np.float32)
            items.append(WaveformBlock(t0 + first / PLETH_HZ, PLETH_HZ, SOURCE, VitalKind.PLETH,
                                       values))
            block += 1
        yield items


def feed(recorder: Recorder, session_id: int, items_by_quarter: Iterator[list[Item]]
         | list[list[Item]]) -> int:
    """Submit each quarter second's items, then commit them with one turn of the writer's loop
    (``recorder.write_queued()``: what the writer thread does after each 0.25 s wait, here in
    this thread, so no thread hand-off is timed). Returns the number of items."""
    count = 0
    for items in items_by_quarter:
        for item in items:
            if isinstance(item, WaveformBlock):
                recorder.submit_waveform(session_id, item)
            elif isinstance(item, AlarmEvent):
                recorder.submit_alarm_event(session_id, item)
            else:
                recorder.submit_sample(session_id, item)
        count += len(items)
        if not recorder.write_queued():
            raise RuntimeError(f"the recorder could not write: {recorder.last_error}")
    return count


BENCH_ADMIN = "bench-admin"
BENCH_ADMIN_PASSWORD = "bench admin password"


def add_nurse(database: Database, name: str, password: str, full_name: str = "") -> None:
    """A nurse account on a new database: its first account, an administrator, adds her."""
    accounts = AccountStore(database)
    if not accounts.has_users():
        accounts.add_user(BENCH_ADMIN, "administrator", BENCH_ADMIN_PASSWORD, "Bench Admin")
    accounts.add_user(name, "nurse", password, full_name, admin=BENCH_ADMIN,
                      admin_password=BENCH_ADMIN_PASSWORD)


def new_session(store: SessionStore, *, training: bool, t0: float = T0) -> int:
    return store.create_session(
        client_id="BENCH",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=t0,
        training=training,
        devices=[SOURCE],
        workstation="bench",
    ).id


def add_clinical_record(store: SessionStore, session_id: int, plan: Plan,
                        t0: float = T0) -> None:
    """What a dosed session holds besides the recording: the pre-dose steps and gate, two
    spray devices, an assessment every 20 min, the discharge."""
    dose_at = t0 + 600
    steps: tuple[tuple[float, WorkflowKind, dict[str, object]], ...] = (
        (-120, WorkflowKind.IDENTITY_CHECK,
         {"client_id": "BENCH", "method": "photo ID", "note": ""}),
        (-60, WorkflowKind.ELIGIBILITY,
         {"answers": {"benzodiazepines": False},
          "questions": {"benzodiazepines": "Taking benzos?"}, "concerns": [],
          "override_reason": "", "care_plan": "default"}),
        (0, WorkflowKind.GATE,
         {"passed": True, "problems": [], "systolic": 120.0, "diastolic": 75.0,
          "heart_rate": 72.0, "nibp_time": dose_at - 300, "limits": "BP at most 140/90 mmHg",
          "overridden": [], "override_reason": "", "care_plan": "default",
          "route_plan": {"observation_minimum_s": 7200.0, "bp_recheck_s": 2400.0,
                         "nibp_cycle_s": 900.0, "assessment_every_s": 1200.0}}),
    )
    for offset, kind, data in steps:
        store.add_workflow_event(session_id, time=dose_at + offset, kind=kind, user=NURSE,
                                 data=data, recorded_at=dose_at + offset)
    for i, lot in enumerate(("LOT-1", "LOT-2")):
        store.add_dose(session_id, time=dose_at + i * 300, medicine="esketamine",
                       route=Route.INTRANASAL, dose_mg=28.0, unit_count=1, lot=lot,
                       given_by=NURSE_NAME, recorded_at=dose_at + i * 300)
    for minute in range(20, plan.seconds // 60 - 10, 20):
        store.add_observation(
            session_id, time=dose_at + minute * 60, text="", author=NURSE_NAME,
            recorded_at=dose_at + minute * 60,
            assessment=make_assessment(moaas=5 if minute > 60 else 4, cadss_form="cadss6",
                                       cadss={1: 0 if minute > 60 else 2},
                                       respiratory="normal"),
        )
    end = t0 + plan.seconds
    store.add_workflow_event(
        session_id, time=end, kind=WorkflowKind.DISCHARGE, user=NURSE,
        data={"criteria": {}, "unmet": [], "exception_reason": "",
              "ready_to_leave_at": dose_at + 4200, "first_dose_at": dose_at,
              "minutes_first_dose_to_end": round((end - dose_at) / 60, 1)},
        recorded_at=end,
    )


def stored_rows(database: Database, table: str) -> int:
    """Rows in ``table``, for the report only (0 if the storage layout has no such table)."""
    try:
        with database.engine.connect() as conn:
            return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0)
    except SQLAlchemyError:
        return 0


@dataclass(frozen=True, slots=True)
class CachedSession:
    path: Path
    session_id: int
    rows: int  # stored pleth rows
    points: int  # stored samples and pleth points
    build_s: float  # wall time of the recording when it was built

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def copy_to(self, directory: Path) -> CachedSession:
        """A private copy (signing changes the database; the cached file stays unsigned)."""
        target = directory / self.path.name
        shutil.copyfile(self.path, target)
        return CachedSession(target, self.session_id, self.rows, self.points, self.build_s)


def cached_session(plan: Plan) -> CachedSession:
    """An ended, dosed, unsigned session recorded through the Recorder, with the bench nurse's
    account, in a SQLite file kept in the cache (built on first use: about 4 min for 4 h)."""
    path = cached_path("session", asdict(plan))
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        return CachedSession(path, **meta)
    building = path.with_name(path.name + ".building")
    for leftover in building.parent.glob(building.name + "*"):
        leftover.unlink()
    database = open_database(f"sqlite:///{building}")
    try:
        store = SessionStore(database)
        add_nurse(database, NURSE, PASSWORD, NURSE_NAME)
        session_id = new_session(store, training=not plan.dosed)
        recorder = Recorder(store)  # driven by feed(), not started
        started = time.perf_counter()
        try:
            feed(recorder, session_id, quarters(plan))
            recorder.seal(session_id, timeout_s=60.0)
        finally:
            recorder.stop()
        build_s = time.perf_counter() - started
        if plan.dosed:
            add_clinical_record(store, session_id, plan)
        store.set_status(session_id, SessionStatus.ENDED, T0 + plan.seconds)
        counts = store.sample_counts(session_id)
        rows = stored_rows(database, "waveform_blocks")
    finally:
        database.close()
    meta = {"session_id": session_id, "rows": int(rows), "points": sum(counts.values()),
            "build_s": round(build_s, 2)}
    leftovers = [p for p in building.parent.glob(building.name + "-*") if p.stat().st_size]
    if leftovers:  # closing checkpoints the WAL; the file alone must hold everything
        raise RuntimeError(f"not checkpointed: {leftovers}")
    building.rename(path)
    meta_path.write_text(json.dumps(meta))
    return CachedSession(path, **meta)
