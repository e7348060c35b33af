"""The alarm engine: samples and device statuses in, alarm events out.

Deterministic and clocked only by the times it is given (sample/status times, the ``now`` of
``advance`` and of operator actions), never the wall clock: a replay gives the same events as the
live run. Events carry the time the thing happened (a delayed escalation is stamped with the
moment it became due, not when ``advance`` noticed it), so when ``advance`` is called does not
change the record.

Hot path: ``process_sample`` of an idle parameter (no alarm, nothing pending, no trend rule) is
one deadline comparison, one dict lookup and one range test against a precomputed band; all other
work happens on the rare slow path.

Rules (docs/alarms.md):
- delay: a limit condition must persist ``delay_s`` by sample time (every valid sample in
  between beyond the limit) before onset; a value back inside, or an invalid value, resets it.
- hysteresis: an active alarm ends only when the value is back inside by ``hysteresis``; a
  high-priority alarm from ``high_priority_limit`` falls back likewise.
- escalation: beyond ``high_priority_limit`` -> high at once; a lower-priority alarm sustained
  ``escalate_after_s`` -> high (and stays high until it ends).
- latching (profile): a latched alarm whose condition ended stays on until acknowledged;
  acknowledging an alarm whose condition persists means it ends as soon as the condition does.
  Technical alarms never latch.
- stale: when an alarming parameter gives no valid value for longer than its freshness limit,
  its (unlatched) alarms end (reason "stale") and a technical ``tech.<kind>.no_data`` alarm
  replaces them at the higher of its own priority and theirs, until a valid value returns.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from math import inf

from katmonitor.alarms.model import (
    ACKNOWLEDGE,
    ALARM_OFF,
    ALARM_ON,
    AUDIO_PAUSED,
    AUDIO_RESUMED,
    DEESCALATE,
    DEVICE_KIND,
    END,
    ESCALATE,
    LIMIT_CHANGED,
    ONSET,
    REMINDER,
    SYSTEM_KIND,
    ActiveAlarm,
    AlarmEvent,
    AlarmSettingError,
    AudioState,
    Priority,
)
from katmonitor.alarms.profile import AlarmProfile, Latching, LimitRule, ParameterRule
from katmonitor.alarms.wording import (
    SYSTEM_CONDITION_NAMES,
    alarm_name,
    annunciation_key,
    back_inside_text,
    limit_text,
    trend_text,
)
from katmonitor.base.plausibility import DEMO_DATA
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample
from katmonitor.base.vitals import VitalKind, spec_of

HIGH = Priority.HIGH
LOW_SIDE, HIGH_SIDE = 0, 1
SIDE_NAMES = ("low", "high")
# Words of a disconnected link (devices/connection_check.py): folded into "disconnected".
LINK_WORDS = frozenset(
    {"missing", "permission", "busy", "unreachable", "ended", "disconnected", "refused"}
)


class _Alarm:
    """Mutable state of one alarm that is on."""

    __slots__ = (
        "ack_time",
        "acknowledged",
        "alarm_id",
        "condition",
        "escalated",
        "kind",
        "limit",
        "max_priority",
        "message",
        "onset",
        "param",
        "priority",
        "priority_since",
        "technical",
        "trend_from",
        "trigger_value",
        "value",
    )

    def __init__(
        self,
        alarm_id: str,
        kind: str,
        technical: bool,
        priority: Priority,
        time: float,
        message: str,
        value: float | None,
        limit: float | None,
        param: _Param | None,
    ) -> None:
        self.alarm_id = alarm_id
        self.kind = kind
        self.technical = technical
        self.priority = priority
        self.max_priority = priority
        self.onset = time
        self.priority_since = time
        self.escalated = False
        self.acknowledged = False
        self.ack_time = 0.0
        self.condition = True  # False: the condition ended but the alarm is latched
        self.message = message
        self.value = value
        self.trigger_value = value  # the value that started it (or raised its priority)
        self.trend_from: float | None = None  # a trend alarm: the lowest value of its window
        self.limit = limit
        self.param = param


class _Param:
    """Per-parameter rule table and state."""

    __slots__ = (
        "adjusted",
        "busy",
        "freshness",
        "hi",
        "ids",
        "kind",
        "label",
        "last_time",
        "last_value",
        "limits",
        "lo",
        "no_data_id",
        "off",
        "pending",
        "rule",
        "sides",
        "trend_id",
        "unit",
        "window",
    )

    def __init__(self, rule: ParameterRule) -> None:
        spec = spec_of(rule.kind)
        self.kind = rule.kind
        self.rule = rule
        self.label = spec.label
        self.unit = spec.unit
        self.freshness = spec.freshness_s
        self.sides: tuple[LimitRule | None, LimitRule | None] = (rule.low, rule.high)
        self.limits: list[float | None] = [None, None]  # effective limits
        self.adjusted: list[float | None] = [None, None]  # set by a nurse for this session
        self.ids = (f"{rule.kind}.low", f"{rule.kind}.high")
        self.trend_id = f"{rule.kind}.trend"
        self.no_data_id = f"tech.{rule.kind}.no_data"
        self.pending: list[float | None] = [None, None]
        self.lo = inf  # fast-path band: a value in [lo, hi] needs no work
        self.hi = -inf
        self.busy = False
        self.off = False
        self.last_time = -inf
        self.last_value: float | None = None
        self.window: deque[tuple[float, float]] | None = deque() if rule.trend else None


class AlarmEngine:
    def __init__(
        self, profile: AlarmProfile, baseline: Mapping[VitalKind, float] | None = None
    ) -> None:
        self.profile = profile
        self._params: dict[VitalKind, _Param] = {
            kind: _Param(rule) for kind, rule in profile.parameters.items()
        }
        self._baseline: dict[VitalKind, float] = dict(baseline or {})
        self._active: dict[str, _Alarm] = {}
        self._tech: dict[str, dict[str, str]] = {}  # source -> condition word -> alarm id
        self._paused_until: float | None = None
        self._pause_ceiling = Priority.MEDIUM
        self._next_deadline = inf
        for param in self._params.values():
            param.limits = [self._effective(param, LOW_SIDE), self._effective(param, HIGH_SIDE)]
            self._refresh(param)

    # -- input -------------------------------------------------------------------------------

    def process_sample(self, sample: Sample) -> list[AlarmEvent]:
        t = sample.time
        if t >= self._next_deadline:
            return self._process_due(sample)
        param = self._params.get(sample.kind)
        if param is None:
            return []
        value = sample.value
        if value is not None:
            param.last_time = t
            param.last_value = value
            if param.lo <= value <= param.hi:
                return []  # the common case: nothing to do
        elif not param.busy:
            return []
        return self._evaluate(param, value, t, [])

    def _process_due(self, sample: Sample) -> list[AlarmEvent]:
        out = self.advance(sample.time)
        out += self.process_sample(sample)
        return out

    def process_status(self, status: DeviceStatus) -> list[AlarmEvent]:
        t = status.time
        out = self.advance(t) if t >= self._next_deadline else []
        current = self._tech.setdefault(status.source, {})
        wanted: dict[str, str] = {}
        state = status.state
        if state is ConnectionState.DISCONNECTED or (
            state is ConnectionState.CONNECTING and "disconnected" in current
        ):
            reasons = sorted(status.conditions & LINK_WORDS - {"disconnected"})
            wanted["disconnected"] = "disconnected" + (
                f" ({', '.join(reasons)})" if reasons else ""
            )
        elif state is ConnectionState.NO_DATA:
            wanted["no_data"] = "no data"
        if state in (ConnectionState.CONNECTED, ConnectionState.NO_DATA):
            for word in sorted(status.conditions - LINK_WORDS):
                if word in self._technical_priority() and word not in wanted:
                    wanted[word] = word.replace("_", " ")
        for word in [w for w in current if w not in wanted]:
            alarm = self._active.get(current.pop(word))
            if alarm is not None:
                self._end(alarm, t, out, None, "condition cleared")
        for word, text in wanted.items():
            if word in current:
                continue
            alarm_id = f"tech.{status.source}.{word}"
            current[word] = alarm_id
            # The workstation's own conditions by their plain name ("No alarm sound"), a
            # device's as "<device>: <condition>", then the detail the source gave.
            name = SYSTEM_CONDITION_NAMES.get(word, f"{status.source}: {text}")
            message = name + (f" - {status.message}" if status.message else "")
            self._onset(
                alarm_id,
                DEVICE_KIND,
                True,
                self._technical_priority()[word],
                t,
                message,
                None,
                None,
                None,
                out,
            )
        self._schedule()
        return out

    def _technical_priority(self) -> Mapping[str, Priority]:
        """The profile's technical alarms; demo data from a device always is one (clinical and
        demo data must never be confused), at medium priority unless the profile says."""
        if DEMO_DATA in self.profile.technical:
            return self.profile.technical
        return {**self.profile.technical, DEMO_DATA: Priority.MEDIUM}

    def advance(self, now: float) -> list[AlarmEvent]:
        """Everything that becomes due by ``now`` without a new sample: escalation of sustained
        alarms, reminders, the end of an audio pause, parameters going stale."""
        out: list[AlarmEvent] = []
        while self._next_deadline <= now:
            self._fire(self._next_deadline, out)
            self._schedule()
        return out

    # -- operator actions ---------------------------------------------------------------------

    def acknowledge(self, now: float, user: str) -> list[AlarmEvent]:
        """Acknowledge every alarm on: it stops sounding (until a reminder or an escalation);
        a latched alarm whose condition has ended goes off."""
        out = self.advance(now)
        for alarm in list(self._active.values()):
            if alarm.acknowledged:
                continue
            out.append(self._event(alarm, now, ACKNOWLEDGE, user=user))
            if alarm.condition:
                alarm.acknowledged, alarm.ack_time = True, now
            else:
                self._end(alarm, now, out, alarm.value, "acknowledged after the condition ended")
        self._schedule()
        return out

    def pause_audio(self, now: float, user: str) -> list[AlarmEvent]:
        """Silence for ``audio_pause_s``; an alarm of higher priority than any on now (than
        medium when none is on) still sounds during the pause."""
        out = self.advance(now)
        self._paused_until = now + self.profile.audio_pause_s
        self._pause_ceiling = max(
            (a.priority for a in self._active.values()), default=Priority.MEDIUM
        )
        out.append(
            AlarmEvent(
                now,
                "audio",
                SYSTEM_KIND,
                None,
                AUDIO_PAUSED,
                message=f"audio paused for {self.profile.audio_pause_s:g} s",
                user=user,
            )
        )
        self._schedule()
        return out

    def set_alarm_off(self, kind: VitalKind, off: bool, now: float, user: str) -> list[AlarmEvent]:
        param = self._param(kind)
        if not param.rule.may_switch_off:
            raise AlarmSettingError(
                f"{param.label} alarms may not be switched off",
                "the alarm profile does not allow it; ask the administrator",
            )
        _require(user, "who switches the alarm off or on")
        out = self.advance(now)
        if param.off == off:
            return out
        if off:
            for alarm_id in (*param.ids, param.trend_id, param.no_data_id):
                alarm = self._active.get(alarm_id)
                if alarm is not None:
                    self._end(alarm, now, out, alarm.value, "alarm switched off")
            param.pending = [None, None]
        param.off = off
        out.append(
            AlarmEvent(
                now,
                str(kind),
                str(kind),
                None,
                ALARM_OFF if off else ALARM_ON,
                message=f"{param.label} alarms {'off' if off else 'on'}",
                user=user,
            )
        )
        self._refresh(param)
        self._schedule()
        return out

    def adjust_limit(
        self, kind: VitalKind, bound: str, value: float, now: float, user: str, reason: str
    ) -> list[AlarmEvent]:
        """Set a limit for this session within the profile's bounds; recorded with who, when,
        old and new value and why (event ``limit_changed``: value = old, limit = new)."""
        param = self._param(kind)
        if bound not in SIDE_NAMES:
            raise AlarmSettingError(f"bound must be 'low' or 'high', not {bound!r}")
        side = SIDE_NAMES.index(bound)
        bounds = (param.rule.adjust_low, param.rule.adjust_high)[side]
        if bounds is None:
            raise AlarmSettingError(
                f"the {bound} limit of {param.label} cannot be adjusted",
                "the alarm profile does not allow it; ask the administrator",
            )
        if not bounds[0] <= value <= bounds[1]:
            raise AlarmSettingError(
                f"{param.label} {bound} limit {value:g} is outside the allowed "
                f"{bounds[0]:g}-{bounds[1]:g} {param.unit}",
            )
        _require(user, "who changes the limit")
        _require(reason, "why the limit is changed")
        out = self.advance(now)
        old = param.limits[side]
        param.adjusted[side] = float(value)
        param.limits[side] = float(value)
        out.append(
            AlarmEvent(
                now,
                param.ids[side],
                str(kind),
                None,
                LIMIT_CHANGED,
                old,
                float(value),
                f"{param.label} {bound} limit {_fmt(old)} -> {value:g} {param.unit}",
                user=user,
                reason=reason,
            )
        )
        self._recheck(param, now, out)
        return out

    def set_baseline(self, baseline: Mapping[VitalKind, float], now: float) -> list[AlarmEvent]:
        """Use the client's pre-dose baseline for baseline-relative limits; each limit that
        changes is recorded (user "system", reason "baseline")."""
        out = self.advance(now)
        self._baseline = dict(baseline)
        for param in self._params.values():
            changed = False
            for side in (LOW_SIDE, HIGH_SIDE):
                new = self._effective(param, side)
                old = param.limits[side]
                if new != old:
                    param.limits[side] = new
                    changed = True
                    base = self._baseline.get(param.kind)
                    out.append(
                        AlarmEvent(
                            now,
                            param.ids[side],
                            str(param.kind),
                            None,
                            LIMIT_CHANGED,
                            old,
                            new,
                            f"{param.label} {SIDE_NAMES[side]} limit {_fmt(old)} -> {_fmt(new)} "
                            f"{param.unit} (baseline {_fmt(base)})",
                            user="system",
                            reason="baseline",
                        )
                    )
            if changed:
                self._recheck(param, now, out)
        return out

    # -- state for views ----------------------------------------------------------------------

    @property
    def baseline(self) -> dict[VitalKind, float]:
        return dict(self._baseline)

    def limits(self) -> dict[VitalKind, tuple[float | None, float | None]]:
        """Effective (low, high) limits per parameter."""
        return {kind: (p.limits[0], p.limits[1]) for kind, p in self._params.items()}

    def alarms_off(self) -> frozenset[str]:
        return frozenset(str(k) for k, p in self._params.items() if p.off)

    def active_alarms(self) -> list[ActiveAlarm]:
        """Alarms on: physiological before technical, each most urgent first (then oldest
        first) - ``wording.annunciation_key``."""
        views = [
            ActiveAlarm(
                a.alarm_id,
                a.kind,
                a.priority,
                a.technical,
                a.onset,
                self._live_message(a),
                a.value,
                a.limit,
                a.acknowledged,
                not a.condition,
                alarm_name(a.alarm_id),
                a.trigger_value,
            )
            for a in self._active.values()
        ]
        return sorted(views, key=annunciation_key)

    def audio_state(self, now: float) -> AudioState:
        paused = self._paused_until is not None and now < self._paused_until
        sounding: Priority | None = None
        for alarm in self._active.values():
            if alarm.acknowledged or (paused and alarm.priority <= self._pause_ceiling):
                continue
            if sounding is None or alarm.priority > sounding:
                sounding = alarm.priority
        return AudioState(sounding, self._paused_until if paused else None, self.alarms_off())

    # -- internals ----------------------------------------------------------------------------

    def _param(self, kind: VitalKind) -> _Param:
        param = self._params.get(VitalKind(kind))
        if param is None:
            raise AlarmSettingError(f"the alarm profile has no rules for {kind}")
        return param

    def _effective(self, param: _Param, side: int) -> float | None:
        rule = param.sides[side]
        if rule is None:
            return None
        adjusted = param.adjusted[side]
        if adjusted is not None:
            return adjusted  # a nurse's explicit limit replaces the baseline rule
        limit = rule.limit
        base = self._baseline.get(param.kind)
        if base is not None and rule.baseline_offset is not None:
            # The tighter of the absolute and the baseline-relative limit.
            if side == HIGH_SIDE:
                limit = min(limit, base + rule.baseline_offset)
            else:
                limit = max(limit, base - rule.baseline_offset)
        return limit

    def _recheck(self, param: _Param, now: float, out: list[AlarmEvent]) -> None:
        """Apply changed limits to the last value at once, if it is still current."""
        value = param.last_value
        if value is not None and not param.off and now - param.last_time <= param.freshness:
            for side in (LOW_SIDE, HIGH_SIDE):
                self._evaluate_side(param, side, value, now, out)
        self._refresh(param)
        self._schedule()

    def _refresh(self, param: _Param) -> None:
        """Recompute the fast-path band of a parameter."""
        if param.off:
            param.busy, param.lo, param.hi = False, -inf, inf
            return
        active = self._active
        busy = (
            param.window is not None
            or param.pending[0] is not None
            or param.pending[1] is not None
            or param.ids[0] in active
            or param.ids[1] in active
            or param.no_data_id in active
        )
        param.busy = busy
        if busy:
            param.lo, param.hi = inf, -inf
        else:
            low, high = param.limits
            param.lo = -inf if low is None else low
            param.hi = inf if high is None else high

    def _evaluate(
        self, param: _Param, value: float | None, t: float, out: list[AlarmEvent]
    ) -> list[AlarmEvent]:
        if param.off:
            return out
        if value is None or value != value:  # no valid value (NaN too)
            param.pending = [None, None]  # persistence is no longer shown
        else:
            param.last_value = value
            no_data = self._active.get(param.no_data_id)
            if no_data is not None:
                self._end(no_data, t, out, value, "values again")
            self._evaluate_side(param, LOW_SIDE, value, t, out)
            self._evaluate_side(param, HIGH_SIDE, value, t, out)
            if param.window is not None:
                self._evaluate_trend(param, value, t, out)
        self._refresh(param)
        self._schedule()
        return out

    def _evaluate_side(
        self, param: _Param, side: int, v: float, t: float, out: list[AlarmEvent]
    ) -> None:
        rule = param.sides[side]
        limit = param.limits[side]
        if rule is None or limit is None:
            return
        sign = 1.0 if side == HIGH_SIDE else -1.0
        excess = sign * (v - limit)  # > 0: beyond the limit
        top = rule.high_priority_limit
        top_excess = -inf if top is None else sign * (v - top)
        hysteresis = param.rule.hysteresis
        alarm = self._active.get(param.ids[side])
        if alarm is not None and alarm.condition:
            alarm.value = v
            alarm.limit = limit  # the effective limit now (a baseline or a nurse moved it)
            if excess <= -hysteresis:
                param.pending[side] = None
                self._condition_gone(alarm, t, out, v)
                return
            if top_excess > 0 or alarm.escalated:
                want = HIGH
            elif alarm.priority is HIGH and top_excess > -hysteresis:
                want = HIGH  # hysteresis around the high-priority limit too
            else:
                want = rule.priority
            if want != alarm.priority:
                reason = (f"beyond the high-priority limit {top:g}"
                          if want is HIGH and top is not None and top_excess > 0 else "")
                alarm.trigger_value = v
                self._reprioritise(alarm, want, t, out, v, limit, reason)
            return
        if excess <= 0:
            param.pending[side] = None
            return
        since = param.pending[side]
        if since is None:
            since = param.pending[side] = t
        if t - since < param.rule.delay_s:
            return
        param.pending[side] = None
        priority = HIGH if top_excess > 0 else rule.priority
        reason = f"beyond the high-priority limit {top:g}" if top_excess > 0 else ""
        if alarm is not None:  # latched from before: the condition is back
            alarm.condition = True
            alarm.value = v
            alarm.limit = limit
            if priority > alarm.priority:
                alarm.trigger_value = v
                self._reprioritise(alarm, priority, t, out, v, limit, reason)
            return
        self._onset(
            param.ids[side],
            str(param.kind),
            False,
            priority,
            t,
            "",
            v,
            limit,
            param,
            out,
            reason,
        )

    def _evaluate_trend(self, param: _Param, v: float, t: float, out: list[AlarmEvent]) -> None:
        trend = param.rule.trend
        window = param.window
        assert trend is not None and window is not None
        # Monotonic deque: its head is the lowest value within the window.
        while window and window[-1][1] >= v:
            window.pop()
        window.append((t, v))
        horizon = t - trend.window_s
        while window[0][0] < horizon:
            window.popleft()
        lowest = window[0][1]
        rise = v - lowest
        alarm = self._active.get(param.trend_id)
        if alarm is not None and alarm.condition:
            alarm.value = v
            if rise < trend.rise - param.rule.hysteresis:
                self._condition_gone(alarm, t, out, v)
            return
        if rise < trend.rise:
            return
        if alarm is not None:
            alarm.condition, alarm.value = True, v
            return
        self._onset(
            param.trend_id,
            str(param.kind),
            False,
            trend.priority,
            t,
            "",
            v,
            lowest + trend.rise,
            param,
            out,
            trend_from=lowest,
        )

    def _onset(
        self,
        alarm_id: str,
        kind: str,
        technical: bool,
        priority: Priority,
        t: float,
        message: str,
        value: float | None,
        limit: float | None,
        param: _Param | None,
        out: list[AlarmEvent],
        reason: str = "",
        trend_from: float | None = None,
    ) -> None:
        alarm = _Alarm(alarm_id, kind, technical, priority, t, message, value, limit, param)
        alarm.trend_from = trend_from
        self._active[alarm_id] = alarm
        out.append(self._event(alarm, t, ONSET, reason=reason))

    def _reprioritise(
        self,
        alarm: _Alarm,
        priority: Priority,
        t: float,
        out: list[AlarmEvent],
        value: float | None,
        limit: float | None,
        reason: str = "",
    ) -> None:
        rising = priority > alarm.priority
        alarm.priority = priority
        alarm.priority_since = t
        alarm.max_priority = max(alarm.max_priority, priority)
        alarm.limit = limit
        if rising:
            alarm.acknowledged = False  # a more urgent condition must be heard again
        if not rising:
            alarm.escalated = False
        out.append(
            self._event(alarm, t, ESCALATE if rising else DEESCALATE, value=value, reason=reason)
        )

    def _condition_gone(
        self, alarm: _Alarm, t: float, out: list[AlarmEvent], value: float | None
    ) -> None:
        latching = self.profile.latching
        latches = not alarm.technical and (
            latching is Latching.ALL or (latching is Latching.HIGH and alarm.max_priority is HIGH)
        )
        if latches and not alarm.acknowledged:
            alarm.condition = False  # held until acknowledged
            alarm.value = value
        else:
            self._end(alarm, t, out, value, "condition ended")

    def _end(
        self, alarm: _Alarm, t: float, out: list[AlarmEvent], value: float | None, reason: str
    ) -> None:
        self._active.pop(alarm.alarm_id, None)
        out.append(self._event(alarm, t, END, value=value, reason=reason))
        if alarm.param is not None:
            self._refresh(alarm.param)

    def _event(
        self,
        alarm: _Alarm,
        t: float,
        event: str,
        *,
        value: float | None = None,
        user: str = "",
        reason: str = "",
    ) -> AlarmEvent:
        shown = alarm.value if value is None else value
        return AlarmEvent(
            t,
            alarm.alarm_id,
            alarm.kind,
            alarm.priority,
            event,
            shown,
            alarm.limit,
            self._event_message(alarm, event, shown),
            alarm.technical,
            user,
            reason,
        )

    # -- wording (katmonitor/alarms/wording.py): built from the numbers, never stored ---------

    def _side(self, alarm: _Alarm) -> str | None:
        """"low"/"high" for a limit alarm, "trend" for a trend alarm, None otherwise."""
        param = alarm.param
        if param is None or alarm.technical:
            return None
        if alarm.alarm_id in param.ids:
            return SIDE_NAMES[param.ids.index(alarm.alarm_id)]
        return "trend" if alarm.alarm_id == param.trend_id else None

    def _text(self, alarm: _Alarm, value: float | None) -> str:
        """The alarm with this value against its limit ("SpO2 88 % < 90")."""
        side = self._side(alarm)
        param = alarm.param
        if side is None or param is None:
            return alarm.message
        if side == "trend":
            trend = param.rule.trend
            assert trend is not None and alarm.trend_from is not None
            now = alarm.trigger_value if value is None else value
            return trend_text(param.kind, now - alarm.trend_from if now is not None else 0.0,
                              trend.window_s, alarm.trend_from, now or 0.0)
        return limit_text(param.kind, side, value, alarm.limit)

    def _event_message(self, alarm: _Alarm, event: str, value: float | None) -> str:
        side = self._side(alarm)
        if event == END and side in SIDE_NAMES and alarm.param is not None:
            limit = alarm.limit
            back = value is not None and limit is not None and (
                value >= limit if side == "low" else value <= limit)
            if value is None:
                return f"{alarm_name(alarm.alarm_id)} ended"
            if back:
                return back_inside_text(alarm.param.kind, value, limit)
        return self._text(alarm, value)

    def _live_message(self, alarm: _Alarm) -> str:
        """What the alarm is now: the current value; a latched alarm the value that
        triggered it, and that its condition has ended."""
        if self._side(alarm) is None:
            return alarm.message
        if alarm.condition:
            return self._text(alarm, alarm.value)
        return f"{self._text(alarm, alarm.trigger_value)} - ended"

    # -- timed work -----------------------------------------------------------------------------

    def _due_times(self, alarm: _Alarm) -> tuple[float, float, float]:
        """(escalation, reminder, stale) due times of one alarm (inf: none)."""
        escalate = reminder = stale = inf
        if alarm.condition:
            param = alarm.param
            if param is not None and not alarm.technical:
                after = param.rule.escalate_after_s
                # Sustained escalation is for limit alarms; a trend alarm keeps its priority.
                if after is not None and alarm.priority < HIGH and alarm.alarm_id in param.ids:
                    escalate = alarm.priority_since + after
                stale = param.last_time + param.freshness
            if alarm.acknowledged:
                reminder = alarm.ack_time + self.profile.reminder_s
        return escalate, reminder, stale

    def _schedule(self) -> None:
        due = inf if self._paused_until is None else self._paused_until
        for alarm in self._active.values():
            due = min(due, *self._due_times(alarm))
        self._next_deadline = due

    def _fire(self, t: float, out: list[AlarmEvent]) -> None:
        """Do everything due at or before ``t``, each stamped with its own due time."""
        if self._paused_until is not None and self._paused_until <= t:
            out.append(
                AlarmEvent(
                    self._paused_until,
                    "audio",
                    SYSTEM_KIND,
                    None,
                    AUDIO_RESUMED,
                    message="audio pause ended",
                )
            )
            self._paused_until = None
        stale_params: dict[VitalKind, float] = {}
        for alarm in list(self._active.values()):
            escalate, reminder, stale = self._due_times(alarm)
            if stale <= t and alarm.param is not None:
                stale_params[alarm.param.kind] = stale
                continue
            if escalate <= t:
                alarm.escalated = True
                self._reprioritise(
                    alarm,
                    HIGH,
                    escalate,
                    out,
                    alarm.value,
                    alarm.limit,
                    reason=f"sustained for {alarm.param.rule.escalate_after_s:g} s"
                    if alarm.param is not None
                    else "",
                )
            elif reminder <= t:
                alarm.acknowledged = False
                out.append(self._event(alarm, reminder, REMINDER, reason="condition persists"))
        for kind, when in stale_params.items():
            self._go_stale(self._params[kind], when, out)

    def _go_stale(self, param: _Param, t: float, out: list[AlarmEvent]) -> None:
        priority = self.profile.technical["parameter_no_data"]
        for alarm_id in (*param.ids, param.trend_id):
            alarm = self._active.get(alarm_id)
            if alarm is not None and alarm.condition:
                priority = max(priority, alarm.priority)
                self._end(alarm, t, out, None, "stale: no current value")
        param.pending = [None, None]
        if param.window is not None:
            param.window.clear()
        if param.no_data_id not in self._active:
            self._onset(
                param.no_data_id,
                str(param.kind),
                True,
                priority,
                t,
                f"{param.label}: no current value (was in alarm)",
                None,
                None,
                param,
                out,
            )
        self._refresh(param)


def _require(text: str, what: str) -> None:
    if not text or not text.strip():
        raise AlarmSettingError(f"say {what}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"

