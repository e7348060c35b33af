"""The acquisition pipeline: device -> samples -> limit check + alarm engine -> recorder ->
live buffers.

Devices call the pipeline from their own threads (it is their SampleSink). It never waits on
the UI or the database: the recorder queues writes for its own thread, the live buffers are
copied by the UI on its own timer.

Before a session starts nothing is recorded, but the last ``baseline_window_s`` seconds are kept
in memory (and handed to ``presession``, which keeps them on disk: the recorder's pre-session
file, reloaded by :meth:`Pipeline.preload` after a restart); "Start session" writes them into
the session as the pre-dose baseline and from then on everything goes to the recorder.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from katmonitor.alarms.engine import AlarmEngine
from katmonitor.alarms.model import ActiveAlarm, AlarmEvent, AudioState
from katmonitor.alarms.profile import load_profile
from katmonitor.base import plausibility
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind, spec_of
from katmonitor.events import ALARM_EVENTS, DEVICE_STATUS, EventHub
from katmonitor.limits import Limit, LimitChecker, LimitFlag
from katmonitor.live_buffers import LiveBuffers

# After this long without any data from a connected device it is reported as "no data".
DEFAULT_SILENCE_LIMIT_S = 5.0
FLAG_LOG_LENGTH = 500
ALARM_LOG_LENGTH = 1000


class RecorderLike(Protocol):
    def submit_sample(self, session_id: int, sample: Sample) -> None: ...

    def submit_waveform(self, session_id: int, block: WaveformBlock) -> None: ...

    def submit_status(self, session_id: int, status: DeviceStatus) -> None: ...

    # Optional: submit_alarm_event(session_id, event); a recorder without it does not store
    # alarm events (they stay in Pipeline.alarm_log).


class Pipeline:
    def __init__(
        self,
        buffers: LiveBuffers | None = None,
        limits: LimitChecker | None = None,
        *,
        baseline_window_s: float = 600.0,
        alarms: AlarmEngine | None = None,
        events: EventHub | None = None,
    ) -> None:
        """``events``: where alarm events and device status changes are published."""
        self.buffers = buffers or LiveBuffers()
        self.events = events or EventHub()
        self.alarms = alarms or AlarmEngine(load_profile("default"))
        """Runs on every shown sample and every status; use alarm_action() from other threads."""
        # The tiles' red state and the out-of-limits list follow the alarm engine's effective
        # limits (profile, baseline-relative rules, the nurse's adjustments) unless fixed ones
        # are given, so a value shown red and an alarm always agree.
        self._limits_follow_alarms = limits is None or limits.follows_alarms
        self.limits = (limits if limits is not None and not limits.follows_alarms
                       else self._engine_limits())
        self.alarm_log: deque[AlarmEvent] = deque(maxlen=ALARM_LOG_LENGTH)
        """The latest alarm events (newest last), recorded or not."""
        self.baseline_window_s = baseline_window_s
        self._lock = threading.Lock()
        self._recorder: RecorderLike | None = None
        self._session_id: int | None = None
        self._baseline: deque[Sample | WaveformBlock] = deque()
        self._statuses: dict[str, DeviceStatus] = {}
        self._last_data: dict[str, float] = {}
        self._flags: dict[VitalKind, LimitFlag] = {}
        self.primary_sources: dict[VitalKind, str] = {}
        """Configured device (source name) to show per kind when several report it."""
        self._shown: dict[VitalKind, str] = {}
        self._last_by_source: dict[tuple[VitalKind, str], float] = {}
        self.flag_log: deque[LimitFlag] = deque(maxlen=FLAG_LOG_LENGTH)
        """Each time a parameter went out of limits (onsets, newest last)."""
        self.presession: Callable[[Sample | WaveformBlock], None] | None = None
        """Also given each item kept before a session starts (to keep it on disk)."""
        self.implausible: dict[str, int] = {}
        """Per source: samples whose value was outside the plausible range (made invalid)."""

    # -- SampleSink -------------------------------------------------------------------------

    def on_sample(self, sample: Sample) -> None:
        shown = plausibility.screen(sample)  # whatever the source: no impossible numbers
        # Demo data is shown as demo, but never recorded, limit-checked or alarmed on as a value.
        clinical = plausibility.without_demo_value(shown)
        with self._lock:
            if shown is not sample:
                self.implausible[sample.source] = self.implausible.get(sample.source, 0) + 1
            sample = clinical
            self._note_data(sample.source, sample.time)
            self._route(sample, sample.time)  # every source is recorded
            if not self._is_shown(sample.kind, sample.source, sample.time):
                return
            flag = self.limits.check(sample)
            if flag is None:
                self._flags.pop(sample.kind, None)
            else:
                if sample.kind not in self._flags:
                    self.flag_log.append(flag)
                self._flags[sample.kind] = flag
            events = self.alarms.process_sample(sample)
            if events:
                self._alarm_events(events)
        self.buffers.add_sample(shown)

    def on_waveform(self, block: WaveformBlock) -> None:
        with self._lock:
            self._note_data(block.source, block.end_time)
            self._route(block, block.start_time)
            shown = self._is_shown(block.kind, block.source, block.end_time)
        if shown:
            self.buffers.add_waveform(block)

    def on_status(self, status: DeviceStatus) -> None:
        with self._lock:
            self._statuses[status.source] = status
            if self._recorder is not None and self._session_id is not None:
                self._recorder.submit_status(self._session_id, status)
            self._alarm_events(self.alarms.process_status(status))
        self.events.publish(DEVICE_STATUS, status)

    # -- alarms -------------------------------------------------------------------------------

    def alarm_action(self, action: Callable[[AlarmEngine], list[AlarmEvent]]) -> list[AlarmEvent]:
        """Run an engine action (acknowledge, pause, adjust, advance...) under the pipeline's
        lock; its events are logged and recorded like those of samples."""
        with self._lock:
            events = action(self.alarms)
            self._alarm_events(events)
            self._sync_limits()  # a baseline or a nurse's adjustment may have moved limits
            return events

    def active_alarms(self) -> list[ActiveAlarm]:
        with self._lock:
            return self.alarms.active_alarms()

    def audio_state(self, now: float) -> AudioState:
        with self._lock:
            return self.alarms.audio_state(now)

    def set_alarm_engine(self, engine: AlarmEngine) -> None:
        """Switch profile (e.g. at session start); device problems that are present now are
        handed to the new engine, so a sensor already off still alarms."""
        with self._lock:
            self.alarms = engine
            for status in self._statuses.values():
                self._alarm_events(engine.process_status(status))
            self._sync_limits()

    def _engine_limits(self) -> LimitChecker:
        return LimitChecker(
            {kind: Limit(low, high) for kind, (low, high) in self.alarms.limits().items()}
        )

    def _sync_limits(self) -> None:
        if self._limits_follow_alarms:
            self.limits = self._engine_limits()

    # -- recording --------------------------------------------------------------------------

    def start_recording(
        self, recorder: RecorderLike, session_id: int, baseline_since: float
    ) -> int:
        """Write the baseline kept since ``baseline_since``, then record everything; returns
        the number of baseline items written."""
        with self._lock:
            baseline = [item for item in self._baseline if _time_of(item) >= baseline_since]
            self._baseline.clear()
            for item in baseline:
                if isinstance(item, Sample):
                    recorder.submit_sample(session_id, item)
                else:
                    recorder.submit_waveform(session_id, item)
            for status in self._statuses.values():
                recorder.submit_status(session_id, status)
            self._recorder, self._session_id = recorder, session_id
            return len(baseline)

    def preload(self, items: list[Sample | WaveformBlock], now: float) -> int:
        """Data kept from before a restart (the pre-session file): what is within the baseline
        window of ``now`` becomes baseline and history again, as if it had just arrived (the
        readings judge its age, so nothing old is shown as current). Returns how many."""
        horizon = now - self.baseline_window_s
        kept = sorted((i for i in items if horizon <= _time_of(i) <= now), key=_time_of)
        with self._lock:
            self._baseline.extendleft(reversed(kept))
        for item in kept:
            if isinstance(item, Sample):
                self.buffers.add_sample(item)
            else:
                self.buffers.add_waveform(item)
        return len(kept)

    def stop_recording(self) -> None:
        with self._lock:
            self._recorder, self._session_id = None, None

    @property
    def recording_session_id(self) -> int | None:
        return self._session_id

    # -- state for the views ------------------------------------------------------------------

    def statuses(self) -> list[DeviceStatus]:
        with self._lock:
            return list(self._statuses.values())

    def active_flags(self) -> list[LimitFlag]:
        with self._lock:
            return list(self._flags.values())

    def recent_flags(self) -> list[LimitFlag]:
        """A copy of the flag log (onsets, newest last)."""
        with self._lock:
            return list(self.flag_log)

    def alarm_history(self) -> list[AlarmEvent]:
        """A copy of the in-memory alarm log (newest last)."""
        with self._lock:
            return list(self.alarm_log)

    def check_silence(
        self, now: float, limit_s: float = DEFAULT_SILENCE_LIMIT_S
    ) -> list[DeviceStatus]:
        """Report connected devices that fell silent as NO_DATA (a technical condition);
        returns the new statuses. Called about once a second by the workstation."""
        silent = []
        with self._lock:
            for source, status in self._statuses.items():
                last = self._last_data.get(source, status.time)
                if status.state is ConnectionState.CONNECTED and now - last > limit_s:
                    silent.append(
                        DeviceStatus(
                            now,
                            source,
                            ConnectionState.NO_DATA,
                            message=f"no data for {now - last:.0f} s",
                        )
                    )
        for status in silent:
            self.on_status(status)
        return silent

    def forget_sources(self, sources: set[str]) -> None:
        """Drop what is known about devices that were removed, so their last status is not
        shown for ever and a new device does not wait for theirs to go stale to be shown."""
        with self._lock:
            for source in sources:
                self._statuses.pop(source, None)
                self._last_data.pop(source, None)
            for kind, source in list(self._shown.items()):
                if source in sources:
                    del self._shown[kind]
            for key in [key for key in self._last_by_source if key[1] in sources]:
                del self._last_by_source[key]
        self.events.publish(DEVICE_STATUS, None)

    def shown_source(self, kind: VitalKind) -> str | None:
        """The device whose values of ``kind`` are on screen (and checked against limits)."""
        with self._lock:
            return self._shown.get(kind)

    # -- internals (called with the lock held) -----------------------------------------------

    def _is_shown(self, kind: VitalKind, source: str, time: float) -> bool:
        """When two devices report the same kind, one is on screen: the configured primary,
        else the first to report; another takes over only while the shown one is stale."""
        self._last_by_source[(kind, source)] = time
        shown = self._shown.get(kind)
        if shown is None or shown == source or self.primary_sources.get(kind) == source:
            self._shown[kind] = source
            return True
        last_shown = self._last_by_source.get((kind, shown), float("-inf"))
        if time - last_shown > spec_of(kind).freshness_s:
            self._shown[kind] = source
            return True
        return False

    def _note_data(self, source: str, time: float) -> None:
        self._last_data[source] = time
        status = self._statuses.get(source)
        if status is not None and status.state is ConnectionState.NO_DATA:
            back = DeviceStatus(time, source, ConnectionState.CONNECTED, message="data resumed")
            self._statuses[source] = back
            if self._recorder is not None and self._session_id is not None:
                self._recorder.submit_status(self._session_id, back)
            self._alarm_events(self.alarms.process_status(back))
            self.events.publish(DEVICE_STATUS, back)

    def _alarm_events(self, events: list[AlarmEvent]) -> None:
        if not events:
            return
        self.alarm_log.extend(events)
        self.events.publish(ALARM_EVENTS, list(events))
        submit = getattr(self._recorder, "submit_alarm_event", None)
        if submit is not None and self._session_id is not None:
            for event in events:
                submit(self._session_id, event)

    def _route(self, item: Sample | WaveformBlock, time: float) -> None:
        if self._recorder is not None and self._session_id is not None:
            if isinstance(item, Sample):
                self._recorder.submit_sample(self._session_id, item)
            else:
                self._recorder.submit_waveform(self._session_id, item)
            return
        self._baseline.append(item)
        if self.presession is not None:
            self.presession(item)
        horizon = time - self.baseline_window_s
        while self._baseline and _time_of(self._baseline[0]) < horizon:
            self._baseline.popleft()


def _time_of(item: Sample | WaveformBlock) -> float:
    return item.time if isinstance(item, Sample) else item.start_time
