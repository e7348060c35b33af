"""The alarm wording the screen and the record share: plain names, the annunciation order, and
one value/limit text built from the engine's own numbers (no display, no database)."""

from __future__ import annotations

import pytest
from alarm_helpers import T0, engine, feed, latching

from katmonitor.alarms.wording import (
    alarm_name,
    event_word,
    in_annunciation_order,
    limit_text,
)
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.limits import LimitChecker, LimitFlag
from katmonitor.pipeline import Pipeline

HR, SPO2, SYS = VitalKind.HR, VitalKind.SPO2, VitalKind.NIBP_SYSTOLIC


@pytest.mark.parametrize(("alarm_id", "name"), [
    ("spo2.low", "SpO2 low"),
    ("nibp_systolic.high", "NIBP sys high"),
    ("nibp_systolic.trend", "NIBP sys rising"),
    ("tech.audio.no_audio", "No alarm sound"),
    ("tech.schedule.prompt_escalated", "Schedule prompt overdue"),
    ("tech.storage.storage_failed", "Recording not saved"),
    ("tech.spo2.no_data", "SpO2: no current value"),
    ("tech.ge-dri.disconnected", "ge-dri: disconnected"),
    ("tech.masimo.sensor_off", "masimo: sensor off"),
    ("audio", "Alarm sound"),
    ("hr", "HR"),
])
def test_alarm_ids_have_plain_names(alarm_id: str, name: str) -> None:
    assert alarm_name(alarm_id) == name


def test_event_words_are_plain() -> None:
    assert [event_word(w) for w in ("onset", "escalate", "end", "audio_paused")] == [
        "onset", "escalated", "ended", "audio paused"]


def test_limit_text_uses_the_vitals_decimals_and_the_limit() -> None:
    assert limit_text(SPO2, "low", 87.0, 90.0) == "SpO2 87 % < 90"
    assert limit_text(SYS, "high", 162.0, 159.0) == "NIBP sys 162 mmHg > 159"
    # The out-of-limits list writes a flag with the same function.
    flag = LimitFlag(Sample(T0, "mon", SPO2, 88.0), "low", 90.0)
    assert flag.text == limit_text(SPO2, "low", 88.0, 90.0)


def test_physiological_before_technical_highest_priority_first() -> None:
    e = engine()
    e.process_status(DeviceStatus(T0, "audio", ConnectionState.CONNECTED,
                                  frozenset({"no_audio"}), "no output device"))
    e.process_status(DeviceStatus(T0, "ge-dri", ConnectionState.DISCONNECTED,
                                  frozenset({"missing"}), "serial port gone"))
    feed(e, HR, [(float(t), 130.0) for t in range(0, 7)])  # medium HR high
    feed(e, SPO2, [(float(t), 80.0) for t in range(0, 11)])  # high SpO2 low (< 85)
    alarms = e.active_alarms()
    assert [a.alarm_id for a in alarms] == [
        "spo2.low", "hr.high", "tech.audio.no_audio", "tech.ge-dri.disconnected"]
    assert [a.name for a in alarms] == [
        "SpO2 low", "HR high", "No alarm sound", "ge-dri: disconnected"]
    assert alarms[2].message == "No alarm sound - no output device"
    assert in_annunciation_order(reversed(alarms)) == alarms


def test_live_text_is_the_current_value_against_the_effective_limit() -> None:
    e = engine()
    events = feed(e, SPO2, [(float(t), 87.0) for t in range(0, 11)])
    assert events[0].message == "SpO2 87 % < 90" and events[0].value == 87
    feed(e, SPO2, [(11.0, 88.0)])
    (alarm,) = e.active_alarms()
    assert (alarm.message, alarm.value, alarm.trigger_value) == ("SpO2 88 % < 90", 88, 87)
    # A nurse moves the limit while the alarm is on: the alarm shows the new limit at once.
    e.adjust_limit(SPO2, "low", 89, T0 + 12, "rn.lee", "usual SpO2 89-91")
    (alarm,) = e.active_alarms()
    assert alarm.limit == 89 and alarm.message == "SpO2 88 % < 89"


def test_the_limit_of_an_alarm_follows_a_new_baseline() -> None:
    e = engine("intranasal-esketamine")
    e.set_baseline({SYS: 119.0}, T0)
    (onset,) = feed(e, SYS, [(0.0, 162.0)])
    assert onset.message == "NIBP sys 162 mmHg > 159"
    e.set_baseline({SYS: 120.0}, T0 + 1)  # the first dose re-anchors the baseline
    (alarm,) = e.active_alarms()
    assert alarm.limit == e.limits()[SYS][1] == 160
    assert alarm.message == "NIBP sys 162 mmHg > 160"


def test_a_latched_alarm_says_what_triggered_it_and_that_it_ended() -> None:
    e = latching("high")
    feed(e, SPO2, [(float(t), 82.0) for t in range(0, 11)])
    assert feed(e, SPO2, [(11.0, 97.0)]) == [], "latched: no end yet"
    (alarm,) = e.active_alarms()
    assert alarm.latched and alarm.message == "SpO2 82 % < 90 - ended"
    events = e.acknowledge(T0 + 21, "rn.lee")
    assert [ev.event for ev in events] == ["acknowledge", "end"]
    assert e.active_alarms() == []


def test_an_end_event_says_the_value_that_ended_it() -> None:
    e = latching("none")
    feed(e, SPO2, [(float(t), 88.0) for t in range(0, 11)])
    (end,) = feed(e, SPO2, [(12.0, 95.0)])
    assert end.event == "end" and end.message == "SpO2 back to 95 %, limit 90"


def test_trend_text_is_readable() -> None:
    e = engine()
    (onset,) = feed(e, SYS, [(0.0, 120.0), (300.0, 130.0), (600.0, 146.0)])
    assert onset.message == "NIBP sys rose 26 mmHg in 15 min, 120 to 146 mmHg"
    assert "(" not in onset.message


def test_a_default_limit_checker_follows_the_engines_limits() -> None:
    """The workstation builds its pipeline with ``LimitChecker()``: the tiles' flags must still
    be the alarm engine's limits (they were the fixed defaults: "> 160" on the tile while the
    alarm said "> 159")."""
    pipeline = Pipeline(limits=LimitChecker(), alarms=engine("intranasal-esketamine"))
    pipeline.alarm_action(lambda e: e.set_baseline({SYS: 119.0}, T0))
    pipeline.on_sample(Sample(T0, "mon", SYS, 162.0))
    (flag,) = pipeline.active_flags()
    (alarm,) = pipeline.active_alarms()
    assert flag.limit == alarm.limit == 159 and flag.text == alarm.message
