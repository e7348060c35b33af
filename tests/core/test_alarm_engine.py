"""The alarm engine's rules, one by one (no display, no database)."""

from __future__ import annotations

import pytest
from alarm_helpers import T0, engine, feed, latching, names

from katmonitor.alarms import AlarmSettingError, Priority
from katmonitor.base.samples import ConnectionState, DeviceStatus
from katmonitor.base.vitals import VitalKind

HR, SPO2, SYS = VitalKind.HR, VitalKind.SPO2, VitalKind.NIBP_SYSTOLIC


def every_second(start: int, stop: int, value: float) -> list[tuple[float, float | None]]:
    return [(float(t), value) for t in range(start, stop)]


def test_condition_must_persist_for_the_delay_by_sample_time() -> None:
    e = engine()
    # 9 s below 90: shorter than the 10 s delay, nothing.
    assert feed(e, SPO2, [*every_second(0, 9, 88), (9.0, 97)]) == []
    events = feed(e, SPO2, every_second(20, 31, 88))
    assert names(events) == [("spo2.low", "onset", "medium")]
    assert events[0].time == T0 + 30 and events[0].value == 88 and events[0].limit == 90


def test_an_invalid_value_resets_the_delay() -> None:
    e = engine()
    assert feed(e, SPO2, [*every_second(0, 6, 88), (6.0, None), *every_second(7, 16, 88)]) == []
    assert names(feed(e, SPO2, [(17.0, 88)])) == [("spo2.low", "onset", "medium")]


def test_hysteresis_a_value_hovering_at_the_limit_does_not_chatter() -> None:
    e = engine()
    assert names(feed(e, HR, every_second(0, 6, 125))) == [("hr.high", "onset", "medium")]
    hovering = [(6.0 + i, 119.0 if i % 2 else 121.0) for i in range(60)]
    assert feed(e, HR, hovering) == []
    assert names(feed(e, HR, [(70.0, 117.0)])) == [("hr.high", "end", "medium")]
    # Hovering around the limit from inside never starts an alarm either (delay 5 s).
    assert feed(e, HR, [(80.0 + i, 121.0 if i % 2 else 119.0) for i in range(60)]) == []


def test_beyond_the_high_priority_limit_is_high_at_once_and_falls_back_with_hysteresis() -> None:
    e = engine()
    events = feed(e, SYS, [(0.0, 185.0)])
    assert names(events) == [("nibp_systolic.high", "onset", "high")]
    # The limit shown is the alarm limit (160) everywhere; the high-priority mark is the why.
    assert events[0].limit == 160 and events[0].message == "NIBP sys 185 mmHg > 160"
    assert events[0].reason == "beyond the high-priority limit 180"
    assert feed(e, SYS, [(300.0, 177.0)]) == []  # within 5 mmHg of 180: stays high
    assert names(feed(e, SYS, [(600.0, 170.0)])) == [("nibp_systolic.high", "deescalate", "medium")]


def test_sustained_medium_alarm_escalates_to_high_at_the_due_time() -> None:
    e = engine()
    events = feed(e, SPO2, every_second(0, 80, 88))
    assert names(events) == [("spo2.low", "onset", "medium"), ("spo2.low", "escalate", "high")]
    assert events[1].time == T0 + 70  # onset at 10 s + 60 s
    assert "sustained" in events[1].reason


def test_escalation_is_stamped_with_its_due_time_whenever_advance_runs() -> None:
    e = engine()
    feed(e, SYS, [(0.0, 170.0)])
    events = e.advance(T0 + 5000)
    escalations = [ev for ev in events if ev.event == "escalate"]
    assert escalations and escalations[0].time == T0 + 600


def test_rising_trend_rule() -> None:
    e = engine()
    events = feed(e, SYS, [(0.0, 120.0), (300.0, 130.0), (600.0, 146.0)])
    assert names(events) == [("nibp_systolic.trend", "onset", "medium")]
    assert "rose 26" in events[0].message
    # The same rise spread over more than 15 minutes is not a trend alarm.
    slow = engine()
    assert feed(slow, SYS, [(0.0, 120.0), (1000.0, 146.0)]) == []


def test_baseline_relative_limit_whichever_is_lower() -> None:
    e = engine("intranasal-esketamine")
    assert e.limits()[SYS][1] == 180  # no baseline yet: the absolute limit
    changed = e.set_baseline({SYS: 120.0}, T0)
    assert [(ev.alarm_id, ev.event, ev.value, ev.limit) for ev in changed] == [
        ("nibp_systolic.high", "limit_changed", 180.0, 160.0)
    ]
    assert e.limits()[SYS][1] == 160  # baseline + 40 is lower than 180
    assert names(feed(e, SYS, [(0.0, 165.0)])) == [("nibp_systolic.high", "onset", "medium")]

    high_baseline = engine("intranasal-esketamine")
    high_baseline.set_baseline({SYS: 150.0}, T0)
    assert high_baseline.limits()[SYS][1] == 180  # 180 is lower than baseline + 40
    assert feed(high_baseline, SYS, [(0.0, 175.0)]) == []
    assert names(feed(high_baseline, SYS, [(300.0, 185.0)]))[0] == (
        "nibp_systolic.high",
        "onset",
        "high",
    )


def test_latching_none_ends_with_the_condition() -> None:
    e = latching("none")
    feed(e, HR, every_second(0, 6, 160))  # high priority
    assert names(feed(e, HR, [(6.0, 80.0)])) == [("hr.high", "end", "high")]
    assert e.active_alarms() == []


def test_latching_high_holds_high_alarms_until_acknowledged() -> None:
    e = latching("high")
    feed(e, HR, every_second(0, 6, 160))
    assert feed(e, HR, [(6.0, 80.0)]) == []
    [held] = e.active_alarms()
    assert held.latched and held.priority is Priority.HIGH
    events = e.acknowledge(T0 + 10, "nurse A")
    assert names(events) == [("hr.high", "acknowledge", "high"), ("hr.high", "end", "high")]
    assert events[0].user == "nurse A"
    # A medium alarm does not latch under "high".
    feed(e, HR, every_second(20, 26, 125))
    assert names(feed(e, HR, [(26.0, 80.0)])) == [("hr.high", "end", "medium")]


def test_latching_all_holds_medium_alarms_too() -> None:
    e = latching("all")
    feed(e, HR, every_second(0, 6, 125))
    assert feed(e, HR, [(6.0, 80.0)]) == []
    assert e.active_alarms()[0].latched


def test_an_alarm_acknowledged_while_on_ends_with_its_condition_even_when_latching() -> None:
    e = latching("all")
    feed(e, HR, every_second(0, 6, 160))
    e.acknowledge(T0 + 6, "nurse A")
    assert names(feed(e, HR, [(7.0, 80.0)])) == [("hr.high", "end", "high")]


def test_acknowledge_silences_and_a_reminder_sounds_again_while_the_condition_persists() -> None:
    e = engine()
    feed(e, HR, every_second(0, 6, 125))
    assert e.audio_state(T0 + 6).sounding is Priority.MEDIUM
    e.acknowledge(T0 + 10, "nurse A")
    assert e.audio_state(T0 + 11).sounding is None
    events = feed(e, HR, every_second(11, 200, 125))
    assert names(events) == [("hr.high", "reminder", "medium")]
    assert events[0].time == T0 + 190  # 180 s after the acknowledgement
    assert e.audio_state(T0 + 200).sounding is Priority.MEDIUM


def test_audio_pause_lasts_two_minutes_and_a_higher_priority_alarm_still_sounds() -> None:
    e = engine()
    feed(e, HR, every_second(0, 6, 125))
    paused = e.pause_audio(T0 + 10, "nurse A")
    assert names(paused) == [("audio", "audio_paused", None)]
    state = e.audio_state(T0 + 11)
    assert state.sounding is None and state.paused_until == T0 + 130
    # SpO2 below 85 for 10 s: a new high-priority alarm sounds through the pause.
    feed(e, SPO2, every_second(20, 31, 84))
    assert e.audio_state(T0 + 31).sounding is Priority.HIGH
    e.acknowledge(T0 + 32, "nurse A")
    assert e.audio_state(T0 + 33).sounding is None
    # The pause ends on its own after 120 s.
    events = e.advance(T0 + 200)
    assert ("audio", "audio_resumed", None) in names(events)
    assert [ev.time for ev in events if ev.event == "audio_resumed"] == [T0 + 130]
    assert e.audio_state(T0 + 200).paused_until is None


def test_a_pause_before_any_alarm_silences_medium_but_not_high() -> None:
    e = engine()
    e.pause_audio(T0, "nurse A")
    feed(e, HR, every_second(0, 6, 125))
    assert e.audio_state(T0 + 6).sounding is None
    feed(e, HR, every_second(6, 12, 160))
    assert e.audio_state(T0 + 12).sounding is Priority.HIGH


def test_alarm_off_only_where_the_profile_allows_it() -> None:
    e = engine()
    with pytest.raises(AlarmSettingError, match="may not be switched off"):
        e.set_alarm_off(SPO2, True, T0, "nurse A")
    feed(e, HR, every_second(0, 6, 125))
    events = e.set_alarm_off(HR, True, T0 + 6, "nurse A")
    assert names(events) == [("hr.high", "end", "medium"), ("hr", "alarm_off", None)]
    assert e.audio_state(T0 + 6).alarms_off == {"hr"}
    assert feed(e, HR, every_second(7, 30, 30)) == []


def test_alarm_on_again_restarts_the_rules() -> None:
    e = engine()
    e.set_alarm_off(HR, True, T0, "nurse A")
    assert names(e.set_alarm_off(HR, False, T0 + 1, "nurse A")) == [("hr", "alarm_on", None)]
    assert names(feed(e, HR, every_second(2, 8, 30)))[0] == ("hr.low", "onset", "high")


def test_limit_adjustment_within_bounds_is_recorded_and_outside_refused() -> None:
    e = engine()
    events = e.adjust_limit(HR, "high", 130, T0, "nurse A", "athlete, high resting HR")
    [change] = events
    assert (change.event, change.value, change.limit, change.user) == (
        "limit_changed",
        120.0,
        130.0,
        "nurse A",
    )
    assert change.reason == "athlete, high resting HR"
    assert feed(e, HR, every_second(1, 20, 125)) == []
    with pytest.raises(AlarmSettingError, match="outside the allowed 100-150"):
        e.adjust_limit(HR, "high", 160, T0, "nurse A", "why not")
    with pytest.raises(AlarmSettingError, match="why"):
        e.adjust_limit(HR, "high", 140, T0, "nurse A", " ")
    with pytest.raises(AlarmSettingError, match="cannot be adjusted"):
        e.adjust_limit(SPO2, "high", 99, T0, "nurse A", "no")
    assert e.limits()[HR] == (50, 130)


def test_a_tighter_limit_applies_to_the_current_value_at_once() -> None:
    e = engine()
    feed(e, HR, [(0.0, 110.0)])
    events = e.adjust_limit(HR, "high", 105, T0 + 1, "nurse A", "tighter watch")
    assert [ev.event for ev in events] == ["limit_changed"]  # pending: the delay still applies
    assert names(feed(e, HR, every_second(2, 7, 110))) == [("hr.high", "onset", "medium")]


def status(t: float, state: ConnectionState, *words: str) -> DeviceStatus:
    return DeviceStatus(T0 + t, "mon", state, frozenset(words))


def test_technical_alarms_come_from_device_status_and_never_latch() -> None:
    e = latching("all")
    events = e.process_status(status(0, ConnectionState.CONNECTED, "sensor_off"))
    assert names(events) == [("tech.mon.sensor_off", "onset", "medium")]
    assert events[0].technical and events[0].kind == "device"
    events = e.process_status(status(5, ConnectionState.CONNECTED))
    assert names(events) == [("tech.mon.sensor_off", "end", "medium")]
    assert e.active_alarms() == []


def test_disconnection_is_one_alarm_until_connected_again() -> None:
    e = engine()
    events = e.process_status(status(0, ConnectionState.DISCONNECTED, "missing", "sensor_off"))
    assert names(events) == [("tech.mon.disconnected", "onset", "medium")]
    assert "missing" in events[0].message
    assert e.process_status(status(2, ConnectionState.CONNECTING)) == []
    assert names(e.process_status(status(4, ConnectionState.CONNECTED))) == [
        ("tech.mon.disconnected", "end", "medium")
    ]
    assert names(e.process_status(status(9, ConnectionState.NO_DATA))) == [
        ("tech.mon.no_data", "onset", "medium")
    ]
    assert names(e.process_status(status(10, ConnectionState.STOPPED))) == [
        ("tech.mon.no_data", "end", "medium")
    ]


def test_a_stale_parameter_does_not_keep_its_alarm_as_if_current() -> None:
    e = engine()
    feed(e, SPO2, every_second(0, 16, 84))  # high-priority SpO2 alarm, then no more values
    events = e.advance(T0 + 60)
    assert names(events) == [("spo2.low", "end", "high"), ("tech.spo2.no_data", "onset", "high")]
    assert events[0].time == T0 + 25 and events[0].reason.startswith("stale")
    assert names(feed(e, SPO2, [(61.0, 97.0)])) == [("tech.spo2.no_data", "end", "high")]
