"""The dosing-room workstation: devices, the acquisition pipeline, the recorder and the
session that is running. The UI and the CLI drive this object; neither holds clinical rules.

Threads: each device reads on its own thread into the pipeline; the recorder writes on one
thread; a watchdog thread reports devices that fell silent. Methods here are called from the
UI (or CLI) thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from devices.base import Device
from devices.registry import open_device
from katmonitor import policy
from katmonitor.access_log import Action
from katmonitor.accounts import AccountStore, User
from katmonitor.addenda import Addendum, add_addendum, list_addenda
from katmonitor.alarms.baseline import DEFAULT_NIBP_WINDOW_S, compute_baseline
from katmonitor.alarms.engine import AlarmEngine
from katmonitor.alarms.model import ActiveAlarm, AlarmEvent, AudioState
from katmonitor.alarms.profile import load_profile, profile_for_route
from katmonitor.assessments import Assessment
from katmonitor.base.clock import Clock, SystemClock, catch_up_with_wall_clock, clock_step
from katmonitor.base.errors import (
    ConfigurationError,
    KatMonitorError,
    PermissionDeniedError,
    SessionStateError,
)
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.care_plan import CarePlan, load_care_plan
from katmonitor.config import workstation_name
from katmonitor.events import RECORDER_ERROR, SESSION_CHANGED, EventHub
from katmonitor.journal import Journal, journal_path, presession_path, replay_quietly
from katmonitor.limits import LimitChecker, LimitFlag
from katmonitor.live_buffers import LiveBuffers
from katmonitor.pipeline import Pipeline
from katmonitor.readings import Reading, current_readings
from katmonitor.record_signing import VerificationReport, is_signed, sign_session, verify_session
from katmonitor.recorder import Recorder
from katmonitor.recovery import (
    HEARTBEAT_S,
    RecordingLease,
    RecoveredSession,
    recover_quietly,
)
from katmonitor.security_policy import SecurityPolicy, load_security_policy
from katmonitor.session import (
    DoseEvent,
    Observation,
    Route,
    Session,
    SessionStatus,
    validate_client_id,
    validate_dose,
)
from katmonitor.storage.database import Database
from katmonitor.storage.store import SessionStore
from katmonitor.workflow import DosingWorkflow

log = logging.getLogger(__name__)

TimelineEvent = DoseEvent | Observation

AUDIO_SOURCE = "audio"
"""Status source of the workstation's own loudspeaker (technical alarm ``tech.audio.no_audio``)."""
NO_AUDIO = "no_audio"
SCHEDULE_SOURCE = "schedule"
"""Status source of the dosing schedule (technical alarm ``tech.schedule.prompt_escalated``)."""
PROMPT_ESCALATED = "prompt_escalated"
CLOCK_SOURCE = "workstation_clock"
CLOCK_STEP = "clock_step"
CLOCK_STEP_NOTE_S = 2.0
"""A change of the wall clock this large is noted in the running session's record."""
STORAGE_SOURCE = "storage"
STORAGE_FAILED = "storage_failed"


def require_one_mode(devices: Sequence[Device]) -> None:
    """Refuse simulated and real devices together: training and clinical data never mix."""
    if len({device.simulated for device in devices}) > 1:
        raise ConfigurationError(
            "simulated and real devices cannot be used together",
            "training and clinical data are never mixed: use only sim: devices for training",
        )


class Workstation:
    def __init__(
        self,
        database: Database,
        devices: Sequence[Device],
        *,
        clock: Clock | None = None,
        limits: LimitChecker | None = None,
        baseline_window_s: float = 600.0,
        flush_interval_s: float = 0.25,
        name: str | None = None,
        alarm_profile: str | None = None,
        care_plan: CarePlan | None = None,
        security: SecurityPolicy | None = None,
    ) -> None:
        """``alarm_profile``: a profile name or TOML path used for every session; None: the
        default profile until a session starts, then the profile for the session's route.
        ``care_plan``: the clinic's workflow plan (default: the shipped one).
        ``security``: lockout and idle lock (default: the clinic's security.json)."""
        self.security = security if security is not None else load_security_policy()
        self.database = database
        self.store = SessionStore(database)
        self.devices = list(devices)
        self.clock = clock or SystemClock()
        self.buffers = LiveBuffers()
        self.alarm_profile = alarm_profile
        self.events = EventHub()
        """Alarm events, device status, recorder errors and session changes are published
        here (katmonitor/events.py); the window listens through one adapter."""
        self.pipeline = Pipeline(
            self.buffers,
            limits or LimitChecker(),
            baseline_window_s=baseline_window_s,
            alarms=AlarmEngine(load_profile(alarm_profile or "default")),
            events=self.events,
        )
        self.pipeline.primary_sources = _primary_sources(self.devices)
        self.recorder = Recorder(
            self.store,
            flush_interval_s=flush_interval_s,
            events=self.events,
            journal=Journal(journal_path(database.url), database.display_url),
            presession=Journal(presession_path(database.url), database.display_url),
            presession_window_s=baseline_window_s,
        )
        self.pipeline.presession = self.recorder.submit_presession
        # A failing database is a technical alarm at once (the data waits in the journal).
        self.events.subscribe(RECORDER_ERROR, self._report_storage)
        self.name = name or workstation_name()
        self.lease = RecordingLease(self.store)
        self._lease_renewed_at = float("-inf")
        self.replayed = 0
        """Records a previous run kept in the journal and this start wrote to the database."""
        self._noted_clock_step = 0.0
        self.recovered: list[RecoveredSession] = []
        """Sessions found left recording by a process that is gone, marked interrupted at
        start (katmonitor/recovery.py); the window offers each for reopening or closing."""
        self.session: Session | None = None
        self._timeline: list[TimelineEvent] = []
        self._watchdog_stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._started = False
        self._audio_problem: str | None = None
        self._escalated_prompts: list[str] = []
        self.operator: User | None = None
        """The signed-in user; dosing, assessments and discharge need one."""
        self.locked = False
        """The window is locked (idle or on request): monitoring, recording and alarms go
        on; every action needs someone to sign in again (:meth:`unlock`)."""
        self._last_activity = self.clock.now()
        self.responsible: str | None = None
        """The account responsible for the running session: who started or reopened it,
        then whoever it was handed over to."""
        self.workflow = DosingWorkflow(
            care_plan or load_care_plan(),
            store=self.store,
            clock=self.clock,
            buffers=self.buffers,
            session=lambda: self.session,
            operator=self.acting_operator,
            timeline=self.timeline,
            readings=self.readings,
            active_alarms=self.active_alarms,
            report_escalated_prompts=self.report_escalated_prompts,
            add_observation=self.add_observation,
            end_session=self.end_session,
        )

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        # What a previous run could not store goes in first, then sessions it left recording
        # are marked interrupted (their data is complete by then).
        self.replayed = replay_quietly(self.store, self.recorder.journal)
        self.recovered = recover_quietly(self.store, self.clock.now())
        self._restore_presession()
        self.recorder.start()
        for device in self.devices:
            device.start(self.pipeline)
        self._watchdog = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._watchdog.start()

    def _restore_presession(self) -> None:
        """The minutes before a session that a previous run kept on disk (it was killed
        before "Start session") are the baseline and history again."""
        presession = self.recorder.presession
        if presession is None:
            return
        try:
            items = [record for batch in presession.batches() for _, record in batch
                     if isinstance(record, Sample | WaveformBlock)]
        except OSError as error:
            log.warning("cannot read the pre-session data: %s", error)
            return
        self.pipeline.preload(items, self.clock.now())

    def shutdown(self) -> None:
        """Stop devices, flush everything to disk; a running session is left INTERRUPTED so it
        can be reopened. Safe to call twice."""
        self._watchdog_stop.set()
        for device in self.devices:
            device.stop()
        if self.session is not None and self.session.status is SessionStatus.ACTIVE:
            self.pipeline.stop_recording()
            self.recorder.stop()
            try:
                self.session = self.store.set_status(self.session.id, SessionStatus.INTERRUPTED)
                self.events.publish(SESSION_CHANGED, self.session)
            except KatMonitorError as error:
                # The database is away: the session stays active in it, and the next start
                # finds its recorder gone and marks it interrupted (katmonitor/recovery.py).
                log.warning("cannot mark session %d interrupted now: %s", self.session.id, error)
        else:
            self.recorder.stop()
        if self._watchdog is not None:
            self._watchdog.join(2.0)
            self._watchdog = None
        self._started = False

    def replace_devices(self, devices: Sequence[Device | str]) -> None:
        """Use these devices (or spec strings) from now on, feeding the same pipeline.

        Everything is checked before anything changes: a bad spec, simulated with real
        devices, or - while a session records - a switch that would turn a training session
        clinical or the reverse (training and clinical data are never mixed) is refused and
        the current devices keep running.
        """
        new = [open_device(d) if isinstance(d, str) else d for d in devices]
        require_one_mode(new)
        training = any(device.simulated for device in new)
        if self.recording and self.session is not None and training != self.session.training:
            kind = "a training" if self.session.training else "a clinical"
            raise SessionStateError(
                f"the session recording now is {kind} session; it cannot continue with "
                + ("real" if self.session.training else "simulated")
                + " devices",
                "end the session first, then change the devices: training and clinical data "
                "are never mixed",
            )
        old, self.devices = self.devices, new
        for device in old:
            device.stop()  # its "stopped" status still reaches the recording, if any
        self.pipeline.forget_sources({device.source for device in old})
        self.pipeline.primary_sources = _primary_sources(new)
        if self._started:
            for device in new:
                device.start(self.pipeline)

    def _watch(self) -> None:
        while not self._watchdog_stop.wait(1.0):
            self._tick(self.clock.now())

    def _tick(self, now: float) -> None:
        if self.recording and now - self._lease_renewed_at >= HEARTBEAT_S:
            self._renew_lease(now)
        if isinstance(self.clock, SystemClock):
            self._note_clock_step(now, clock_step())
        self.pipeline.check_silence(now)
        # Reminders, pause expiry and stale parameters also when no sample arrives.
        self.pipeline.alarm_action(lambda engine: engine.advance(now))

    def _note_clock_step(self, now: float, step: float) -> None:
        """The wall clock moved (NTP, a person): recorded times stay on the steady timeline
        (katmonitor/base/clock.py), and the running session's record says by how much."""
        change = step - self._noted_clock_step
        if abs(change) < CLOCK_STEP_NOTE_S:
            return
        self._noted_clock_step = step
        message = (f"the workstation clock was changed by {change:+.1f} s; recorded times "
                   f"stay on the session's steady timeline ({step:+.1f} s from the clock now)")
        log.warning(message)
        if self.session is not None and self.recording:
            self.recorder.submit_status(self.session.id, DeviceStatus(
                now, CLOCK_SOURCE, ConnectionState.CONNECTED, frozenset({CLOCK_STEP}), message))

    def _renew_lease(self, now: float) -> None:
        """Tell other starts on this database that this process still records the session."""
        assert self.session is not None
        self._lease_renewed_at = now
        try:
            self.lease.renew(self.session.id, now)
        except KatMonitorError as error:  # the recorder reports database trouble itself
            log.warning("cannot renew the recording lease: %s", error)

    # -- who is signed in ----------------------------------------------------------------------

    def accounts(self) -> AccountStore:
        """The accounts on this workstation's clock and security policy."""
        return AccountStore(self.database, clock=self.clock.now, policy=self.security)

    def sign_in(self, name: str, password: str, *, handover_note: str = "") -> User:
        """Authenticate and make the user the workstation's operator. A nurse who signs in
        while another's session runs takes it over (:meth:`_take_over`)."""
        user = self.accounts().authenticate(name, password)
        self._become_operator(user, handover_note)
        return user

    def sign_out(self) -> None:
        """Nobody is signed in; a running session goes on recording and alarming."""
        if self.operator is not None:
            self.accounts().access_log.record(self.operator.name, Action.SIGN_OUT,
                                              self._session_target())
        self.operator = None
        self.locked = False

    def lock(self, reason: str = "on request") -> bool:
        """Lock the window (``reason``: e.g. "idle 10 min"). Acquisition, recording and
        alarms are not touched; actions are refused until :meth:`unlock`. False when nobody
        is signed in or it is locked already."""
        if self.operator is None or self.locked:
            return False
        self.locked = True
        self.accounts().access_log.record(self.operator.name, Action.LOCK,
                                          self._session_target(), detail=reason)
        return True

    def unlock(self, name: str, password: str, *, handover_note: str = "") -> User:
        """Sign in at the locked window: the same person carries on; someone else becomes
        the operator (at a shift change, a nurse takes the running session over, recorded
        with ``handover_note``). A wrong password counts towards the lockout."""
        user = self.accounts().authenticate(name, password, purpose=Action.UNLOCK,
                                            target=self._session_target())
        self._become_operator(user, handover_note)
        return user

    def note_activity(self) -> None:
        """Someone used the window (a key, the mouse): the idle time starts again."""
        self._last_activity = self.clock.now()

    def idle_lock_due(self) -> bool:
        """The clinic's idle time has passed with someone signed in and the window open."""
        return (self.operator is not None and not self.locked
                and self.clock.now() - self._last_activity >= self.security.idle_lock_s)

    def lock_if_idle(self) -> bool:
        """Lock when :meth:`idle_lock_due` (called by the window's tick)."""
        if not self.idle_lock_due():
            return False
        return self.lock(f"idle {self.security.idle_lock_min} min")

    def acting_operator(self) -> User | None:
        """Who acts now: the operator, unless the window is locked (then refused)."""
        if self.locked:
            who = self.operator.name if self.operator is not None else "nobody"
            raise PermissionDeniedError(
                f"the window is locked (signed in: {who})",
                "sign in to unlock it; monitoring and alarms went on meanwhile",
            )
        return self.operator

    def _become_operator(self, user: User, handover_note: str) -> None:
        self.operator = user
        self.locked = False
        self.note_activity()
        self._take_over(user, handover_note)

    def _take_over(self, user: User, note: str) -> None:
        """Record a handover when a nurse other than the one responsible signs in while a
        session runs: from then on the session is hers (a chain entry and an access-log
        entry). Someone who may not run the session (a therapist) changes nothing."""
        session = self.session
        if not self.recording or session is None:
            return
        if not policy.may_run_sessions(user, session.training) or user.name == self.responsible:
            return
        previous = self.responsible
        self.responsible = user.name
        self.workflow.record_handover(previous, user, note)
        self.accounts().access_log.record(
            user.name, Action.HANDOVER, self._session_target(),
            detail=f"from {previous or 'nobody'}" + (f"; note: {note.strip()}" if note.strip()
                                                     else ""))

    def _session_target(self) -> str:
        return f"session {self.session.id}" if self.recording and self.session else ""

    # -- what the views show ------------------------------------------------------------------

    @property
    def training(self) -> bool:
        """True when any connected device is simulated: everything recorded is training data."""
        return any(device.simulated for device in self.devices)

    def readings(self) -> dict[VitalKind, Reading]:
        return current_readings(self.buffers, self.pipeline.limits, self.clock.now())

    def active_flags(self) -> list[LimitFlag]:
        """Current (not stale) readings outside their limits."""
        return [r.flag for r in self.readings().values() if r.alarming and r.flag is not None]

    # -- alarms ---------------------------------------------------------------------------------

    @property
    def alarm_engine(self) -> AlarmEngine:
        """The engine in use (read-only use from the UI thread; act through the methods here)."""
        return self.pipeline.alarms

    def active_alarms(self) -> list[ActiveAlarm]:
        return self.pipeline.active_alarms()

    def audio_state(self) -> AudioState:
        return self.pipeline.audio_state(self.clock.now())

    def acknowledge_alarms(self, user: str) -> list[AlarmEvent]:
        now = self.clock.now()
        return self.pipeline.alarm_action(lambda e: e.acknowledge(now, user))

    def pause_alarm_audio(self, user: str) -> list[AlarmEvent]:
        now = self.clock.now()
        return self.pipeline.alarm_action(lambda e: e.pause_audio(now, user))

    def set_alarm_off(self, kind: VitalKind, off: bool, user: str) -> list[AlarmEvent]:
        self._require_limit_changer()
        now = self.clock.now()
        return self.pipeline.alarm_action(lambda e: e.set_alarm_off(kind, off, now, user))

    def adjust_limit(
        self, kind: VitalKind, bound: str, value: float, user: str, reason: str
    ) -> list[AlarmEvent]:
        """Change a limit for this session, within the profile's bounds (recorded)."""
        self._require_limit_changer()
        now = self.clock.now()
        return self.pipeline.alarm_action(
            lambda e: e.adjust_limit(kind, bound, value, now, user, reason)
        )

    def _require_limit_changer(self) -> None:
        """Alarm limits are clinical settings: not behind the lock, and not by a signed-in
        therapist or administrator (nobody signed in: headless recording keeps its profile)."""
        operator = self.acting_operator()
        if operator is not None:
            policy.require_clinician(operator, self.training, "change alarm limits")

    def report_audio_unavailable(self, message: str) -> list[AlarmEvent]:
        """The UI cannot sound alarms (no device, no audio library, an output error): a
        technical alarm ``tech.audio.no_audio`` until :meth:`report_audio_available`."""
        self._audio_problem = message
        return self._audio_status()

    def report_audio_available(self) -> list[AlarmEvent]:
        self._audio_problem = None
        return self._audio_status()

    @property
    def audio_problem(self) -> str | None:
        return self._audio_problem

    def _audio_status(self) -> list[AlarmEvent]:
        # Straight to the engine, not Pipeline.on_status: the loudspeaker is not a device, so
        # it must not appear in the device list nor be reported "no data" by the watchdog.
        conditions = frozenset({NO_AUDIO}) if self._audio_problem is not None else frozenset()
        status = DeviceStatus(self.clock.now(), AUDIO_SOURCE, ConnectionState.CONNECTED,
                              conditions, self._audio_problem or "")
        return self.pipeline.alarm_action(lambda e: e.process_status(status))

    def _report_storage(self, message: object) -> None:
        """The recorder's write error changed (None: writing works again)."""
        problem = str(message) if message is not None else None
        conditions = frozenset({STORAGE_FAILED}) if problem is not None else frozenset()
        status = DeviceStatus(self.clock.now(), STORAGE_SOURCE, ConnectionState.CONNECTED,
                              conditions, problem or "")
        self.pipeline.alarm_action(lambda e: e.process_status(status))

    def report_escalated_prompts(self, labels: list[str]) -> list[AlarmEvent]:
        """Schedule prompts left undone until they escalated: one low-priority alarm while
        any is (its message names them), ended when none is."""
        if labels == self._escalated_prompts:
            return []
        ended = self._report_schedule([]) if self._escalated_prompts and labels else []
        self._escalated_prompts = labels
        return ended + self._report_schedule(labels)

    def _report_schedule(self, labels: list[str]) -> list[AlarmEvent]:
        conditions = frozenset({PROMPT_ESCALATED}) if labels else frozenset()
        message = f"overdue: {'; '.join(labels)}" if labels else ""
        status = DeviceStatus(self.clock.now(), SCHEDULE_SOURCE, ConnectionState.CONNECTED,
                              conditions, message)
        return self.pipeline.alarm_action(lambda e: e.process_status(status))

    def _use_alarm_profile(self, route: Route) -> None:
        name = self.alarm_profile or profile_for_route(route)
        self.pipeline.set_alarm_engine(AlarmEngine(load_profile(name)))
        self._escalated_prompts = []  # the new engine has no schedule alarm yet
        if self._audio_problem is not None:  # a new engine must still know the speaker is mute
            self._audio_status()

    def _set_baseline(self, samples: list[Sample], until: float) -> None:
        baseline = compute_baseline(samples, until)
        if baseline:
            self.pipeline.alarm_action(lambda e: e.set_baseline(baseline, until))

    def _buffered_samples(self, until: float) -> list[Sample]:
        """Recent numerics from the live buffers (the pre-dose minutes)."""
        samples: list[Sample] = []
        for kind in self.alarm_engine.profile.parameters:
            times, values = self.buffers.trend(kind, since=until - DEFAULT_NIBP_WINDOW_S)
            samples.extend(
                Sample(float(t), "", kind, float(v))
                for t, v in zip(times, values, strict=True)
                if t <= until
            )
        return samples

    def device_statuses(self) -> list[DeviceStatus]:
        return self.pipeline.statuses()

    def recent_flags(self) -> list[LimitFlag]:
        """Each time a parameter went out of limits (onsets, newest last)."""
        return self.pipeline.recent_flags()

    def alarm_log(self) -> list[AlarmEvent]:
        """The alarm events in memory since the app started (newest last)."""
        return self.pipeline.alarm_history()

    def alarm_history(self) -> list[AlarmEvent]:
        """The running session's stored alarm record, or the in-memory log when no session
        records. Blocks (flushes the recorder, reads the database): not on the UI thread."""
        session_id = self.pipeline.recording_session_id
        if session_id is None:
            return self.alarm_log()
        self.recorder.flush()  # the last quarter second of events is still queued
        return self.store.alarm_events(session_id)

    @property
    def write_error(self) -> str | None:
        """Why the recorder cannot store data right now (kept and retried), or None."""
        return self.recorder.last_error

    @property
    def baseline_window_s(self) -> float:
        """How far back the pre-dose baseline (written into a session at its start) reaches."""
        return self.pipeline.baseline_window_s

    def timeline(self) -> list[TimelineEvent]:
        return sorted(self._timeline, key=lambda event: event.time)

    @property
    def recording(self) -> bool:
        return self.session is not None and self.session.status is SessionStatus.ACTIVE

    # -- the session ---------------------------------------------------------------------------

    def start_session(self, client_id: str, medicine: str, route: Route) -> Session:
        if self.recording:
            raise SessionStateError(
                "a session is already running", "end it before starting another"
            )
        client = validate_client_id(client_id)
        operator = self.acting_operator()
        policy.check_may_run_sessions(operator, self.training)
        if isinstance(self.clock, SystemClock) and catch_up_with_wall_clock():
            self._noted_clock_step = 0.0  # the new session starts on the corrected time
        now = self.clock.now()
        session = self.store.create_session(
            client_id=client,
            medicine=medicine.strip(),
            route=route,
            started_at=now,
            training=self.training,
            devices=[device.spec for device in self.devices],
            workstation=self.name,
        )
        self.session = session
        self.responsible = operator.name if operator is not None else None
        self._renew_lease(now)
        self._timeline = []
        self.workflow.load(session)
        self.pipeline.start_recording(
            self.recorder, session.id, baseline_since=now - self.pipeline.baseline_window_s
        )
        self.recorder.drop_presession()  # queued after the baseline start_recording submitted
        self._use_alarm_profile(route)  # after recording starts: its first events are kept
        # Until the first dose, the minutes before the session start are the baseline.
        self._set_baseline(self._buffered_samples(now), now)
        self.events.publish(SESSION_CHANGED, session)
        return session

    def reopen_session(self, session_id: int) -> Session:
        """Continue recording into a session that was interrupted (app closed, power lost)."""
        if self.recording:
            raise SessionStateError(
                "a session is already running", "end it before reopening another"
            )
        session = self.store.get_session(session_id)
        if session.status is SessionStatus.ENDED:
            raise SessionStateError(f"session {session_id} has ended and cannot be reopened")
        if session.training != self.training:
            kind = "a training" if session.training else "a clinical"
            raise SessionStateError(
                f"session {session_id} is {kind} session; it cannot continue with "
                + ("real" if session.training else "simulated")
                + " devices",
                "training and clinical data are never mixed",
            )
        operator = self.acting_operator()
        policy.check_may_run_sessions(operator, session.training)
        self.session = self.store.set_status(session_id, SessionStatus.ACTIVE)
        self.responsible = operator.name if operator is not None else None
        self._renew_lease(self.clock.now())
        self._timeline = [*self.store.doses(session_id), *self.store.observations(session_id)]
        self.workflow.load(self.session)
        self.pipeline.start_recording(self.recorder, session_id, baseline_since=self.clock.now())
        self.recorder.drop_presession()
        self._use_alarm_profile(session.route)
        doses = self.store.doses(session_id)
        anchor = doses[0].time if doses else session.started_at
        before: list[Sample] = []
        for item in self.store.iter_samples(session_id):
            if not isinstance(item, Sample):
                continue
            if item.time > anchor:
                break
            before.append(item)
        self._set_baseline(before, anchor)
        self.events.publish(SESSION_CHANGED, self.session)
        return self.session

    def add_dose(
        self,
        dose_mg: float,
        unit_count: int,
        lot: str,
        given_by: str = "",
        *,
        time: float | None = None,
        note: str = "",
        weight_kg: float | None = None,
        override_reason: str = "",
    ) -> DoseEvent:
        """Record a dose by the signed-in nurse, following the workflow's rules (pre-dose
        steps and gate before the first dose; rest between spray devices). A gate or rest
        problem may be overridden with ``override_reason``, which is recorded."""
        session = self._require_session()
        operator = self.workflow.require_clinician("give a dose")
        given_by = given_by.strip() or operator.full_name or operator.name
        validate_dose(dose_mg, unit_count, lot, given_by)
        overridden = self.workflow.check_dose(dose_mg, unit_count, lot, weight_kg,
                                              override_reason)
        if overridden:
            note = "; ".join(p for p in (note.strip(), "override: " + override_reason.strip()
                                         + " (" + "; ".join(overridden) + ")") if p)
        now = self.clock.now()
        when = now if time is None else time
        if when > now + 60:
            raise SessionStateError("a dose cannot be recorded in the future")
        first = self.workflow.anchor is None
        if first:
            self.workflow.record_gate(operator, override_reason)
            # The first dose anchors the pre-dose baseline.
            self._set_baseline(self._buffered_samples(when), when)
        event = self.store.add_dose(
            session.id,
            time=when,
            medicine=session.medicine,
            route=session.route,
            dose_mg=dose_mg,
            unit_count=unit_count,
            lot=lot.strip(),
            given_by=given_by.strip(),
            recorded_at=now,
            note=note,
            weight_kg=weight_kg,
        )
        self._timeline.append(event)
        return event

    def add_observation(
        self,
        text: str,
        author: str,
        *,
        time: float | None = None,
        assessment: Assessment | None = None,
    ) -> Observation:
        session = self._require_session()
        operator = self.acting_operator()
        if assessment is not None and not assessment.is_empty:  # scores: a clinician's
            policy.require_clinician(operator, session.training, "record an assessment")
        else:
            policy.require_note_author(operator, session.training)
        if not text.strip() and (assessment is None or assessment.is_empty):
            raise SessionStateError("an observation needs some text")
        now = self.clock.now()
        event = self.store.add_observation(
            session.id,
            time=now if time is None else time,
            text=text.strip(),
            author=author.strip(),
            recorded_at=now,
            assessment=assessment,
        )
        self._timeline.append(event)
        return event

    def end_session(self) -> Session:
        session = self._require_session()
        policy.check_may_run_sessions(self.acting_operator(), session.training)
        self.report_escalated_prompts([])  # the schedule ends with the session
        self.pipeline.stop_recording()
        self.recorder.seal(session.id)  # flushes; the last minute's digest on the writer thread
        self.session = self.store.set_status(
            session.id, SessionStatus.ENDED, ended_at=self.clock.now()
        )
        self.events.publish(SESSION_CHANGED, self.session)
        return self.session

    # -- records: reading, signing, addenda (these read the database: not on the UI thread) ---

    def get_session(self, session_id: int) -> Session:
        return self.store.get_session(session_id)

    def doses(self, session_id: int) -> list[DoseEvent]:
        return self.store.doses(session_id)

    def observations(self, session_id: int) -> list[Observation]:
        return self.store.observations(session_id)

    def last_ended_session(self) -> Session | None:
        """The workstation's session if it has ended, else this workstation's last ended one."""
        session = self.session
        if session is not None and session.status is SessionStatus.ENDED:
            return session
        ended = [s for s in self.store.list_sessions()
                 if s.status is SessionStatus.ENDED and s.workstation == self.name]
        return max(ended, key=lambda s: (s.ended_at or s.started_at, s.id), default=None)

    def sign_record(self, session_id: int, user: str, password: str,
                    meaning: str) -> dict[str, Any]:
        """``user`` signs the ended session's record (see ``record_signing.sign_session``)."""
        self.acting_operator()  # not behind the lock
        return sign_session(self.store, session_id, user, password, meaning)

    def verify_record(self, session_id: int) -> VerificationReport:
        return verify_session(self.store, session_id)

    def is_signed(self, session_id: int) -> bool:
        return is_signed(self.store, session_id)

    def add_addendum(self, session_id: int, user: str, password: str, kind: str,
                     text: str) -> Addendum:
        """A signed addendum to a signed record (see ``addenda.add_addendum``)."""
        self.acting_operator()  # not behind the lock
        return add_addendum(self.store, session_id, user, password, kind, text)

    def list_addenda(self, session_id: int) -> list[Addendum]:
        return list_addenda(self.store, session_id)

    def reopenable_sessions(self) -> list[Session]:
        current = self.session.id if self.session is not None else None
        return [s for s in self.store.open_sessions() if s.id != current]

    def _require_session(self) -> Session:
        if not self.recording or self.session is None:
            raise SessionStateError("no session is running", "start a session first")
        return self.session


def _primary_sources(devices: Sequence[Device]) -> dict[VitalKind, str]:
    return {kind: device.source for device in devices for kind in device.primary_kinds}
