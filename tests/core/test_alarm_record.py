"""Alarm events in the session record, the replay CLI, and the workstation's alarm engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alarm_helpers import T0

from katmonitor.alarms import AlarmEvent, Priority
from katmonitor.alarms.replay import ReplaySummary, replay_stored_session
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, iso_utc
from katmonitor.base.vitals import VitalKind
from katmonitor.cli import main
from katmonitor.session import Route
from katmonitor.storage import SessionStore, open_database
from katmonitor.workstation import Workstation


def new_session(store: SessionStore, route: Route = Route.INTRANASAL) -> int:
    return store.create_session(
        client_id="C-1",
        medicine="esketamine",
        route=route,
        started_at=T0,
        training=True,
        devices=["sim:normal"],
        workstation="ws",
    ).id


def test_alarm_events_round_trip(database_url: str) -> None:
    database = open_database(database_url)
    try:
        store = SessionStore(database)
        sid = new_session(store)
        events = [
            AlarmEvent(T0 + 1, "spo2.low", "spo2", Priority.MEDIUM, "onset", 88.0, 90.0, "SpO2 88"),
            AlarmEvent(
                T0 + 2,
                "hr.high",
                "hr",
                None,
                "limit_changed",
                120.0,
                130.0,
                "HR",
                False,
                "nurse A",
                "athlete",
            ),
            AlarmEvent(
                T0 + 3, "tech.m.sensor_off", "device", Priority.LOW, "onset", technical=True
            ),
        ]
        store.write_batch([(sid, Sample(T0, "m", VitalKind.HR, 70.0))], [], [], [(sid, events[0])])
        store.add_alarm_events(sid, events[1:])
        assert store.alarm_events(sid) == events
        assert store.alarm_events(sid + 1) == []
    finally:
        database.close()


def sample_line(t: float, kind: str, value: float | None) -> str:
    return json.dumps(
        {
            "time": iso_utc(T0 + t),
            "source": "m",
            "kind": kind,
            "value": value,
            "unit": "%",
            "status": [],
        }
    )


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict]:
    assert main(args) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_replay_cli_on_a_json_lines_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [sample_line(t, "spo2", 86.0 if 10 <= t < 40 else 97.0) for t in range(60)]
    lines.insert(5, sample_line(5, "pleth", 0.5))
    lines.insert(
        20,
        json.dumps(
            {
                "time": iso_utc(T0 + 20),
                "source": "m",
                "kind": "status",
                "value": "connected",
                "status": ["sensor_off"],
            }
        ),
    )
    lines.insert(
        30,
        json.dumps(
            {
                "time": iso_utc(T0 + 30),
                "source": "m",
                "kind": "status",
                "value": "connected",
                "status": [],
            }
        ),
    )
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = run_cli(["alarms", "replay", "--profile", "default", str(path)], capsys)
    *events, summary = out
    assert sorted((e["time"], e["alarm"], e["event"], e["priority"]) for e in events) == [
        (iso_utc(T0 + 20), "spo2.low", "onset", "medium"),
        (iso_utc(T0 + 20), "tech.m.sensor_off", "onset", "medium"),
        (iso_utc(T0 + 30), "tech.m.sensor_off", "end", "medium"),
        (iso_utc(T0 + 40), "spo2.low", "end", "medium"),
    ]
    assert summary["summary"] is True and summary["samples"] == 60
    assert summary["onsets"] == {"low": 0, "medium": 1, "high": 0}
    assert summary["technical_onsets"] == 1
    assert summary["seconds_in_alarm"] == 20.0
    assert summary["alarms_per_hour"]["medium"] == pytest.approx(3600 / 59, rel=1e-3)


def test_replay_cli_on_a_stored_session_uses_the_route_and_the_baseline(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    database = open_database(sqlite_url)
    store = SessionStore(database)
    sid = new_session(store, Route.INTRANASAL)
    sys_ = VitalKind.NIBP_SYSTOLIC
    samples = [Sample(T0 + t, "m", sys_, 120.0) for t in (-600, -300, 0)]
    samples += [Sample(T0 + 2400, "m", sys_, 165.0)]  # > baseline 120 + 40, < 180
    store.write_batch(
        [(sid, x) for x in samples], [], [(sid, DeviceStatus(T0, "m", ConnectionState.CONNECTED))]
    )
    store.add_dose(
        sid,
        time=T0 + 60,
        medicine="esketamine",
        route=Route.INTRANASAL,
        dose_mg=56,
        unit_count=2,
        lot="L1",
        given_by="nurse A",
        recorded_at=T0 + 60,
    )
    database.close()
    out = run_cli(["alarms", "replay", "--profile", "route", "--db", sqlite_url, str(sid)], capsys)
    *events, summary = out
    assert [(e["alarm"], e["event"]) for e in events] == [
        ("nibp_systolic.high", "limit_changed"),
        ("nibp_systolic.high", "onset"),
    ]
    assert events[0]["limit"] == 160 and events[0]["reason"] == "baseline"
    assert summary["samples"] == 4


def test_a_stored_session_replays_with_its_baseline_set_at_the_first_dose(
    sqlite_url: str,
) -> None:
    database = open_database(sqlite_url)
    try:
        store = SessionStore(database)
        sid = new_session(store, Route.INTRANASAL)
        sys_ = VitalKind.NIBP_SYSTOLIC
        store.write_batch(
            [(sid, Sample(T0 + t, "m", sys_, v)) for t, v in ((-300, 120.0), (2400, 165.0))],
            [],
            [],
        )
        store.add_dose(
            sid, time=T0 + 60, medicine="esketamine", route=Route.INTRANASAL, dose_mg=56,
            unit_count=2, lot="L1", given_by="nurse A", recorded_at=T0 + 60,
        )
        summary = ReplaySummary()
        events = list(replay_stored_session(store, sid, "route", summary))
    finally:
        database.close()
    assert [(e.alarm_id, e.event) for e in events] == [
        ("nibp_systolic.high", "limit_changed"),
        ("nibp_systolic.high", "onset"),
    ]
    assert events[0].time == T0 + 60  # the baseline is set at the first dose
    assert summary.samples == 2


def test_replay_cli_reports_a_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"time": "2027-01-01T00:00:00Z", "kind": "nonsense", "value": 1}\n')
    assert main(["alarms", "replay", str(path)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_workstation_runs_the_route_profile_and_records_alarm_events(sqlite_url: str) -> None:
    station = Workstation(open_database(sqlite_url), [])
    try:
        station.start()
        session = station.start_session("C-1", "ketamine", Route.IV)
        assert station.alarm_engine.profile.name == "iv-ketamine"
        now = station.clock.now()
        for t in range(12):
            station.pipeline.on_sample(Sample(now - 12 + t, "m", VitalKind.HR, 160.0))
        assert [a.alarm_id for a in station.active_alarms()] == ["hr.high"]
        assert station.audio_state().sounding is Priority.HIGH
        assert [e.event for e in station.acknowledge_alarms("nurse A")] == ["acknowledge"]
        station.pause_alarm_audio("nurse A")
        station.adjust_limit(VitalKind.HR, "high", 140, "nurse A", "known tachycardia")
        station.end_session()
        stored = [(e.alarm_id, e.event) for e in station.store.alarm_events(session.id)]
        assert stored == [
            ("hr.high", "onset"),
            ("hr.high", "acknowledge"),
            ("audio", "audio_paused"),
            ("hr.high", "limit_changed"),
        ]
        assert station.store.alarm_events(session.id)[1].user == "nurse A"
    finally:
        station.shutdown()
        station.database.close()


def test_a_device_problem_present_at_session_start_still_alarms(sqlite_url: str) -> None:
    from devices.virtual_time import VirtualTime
    from katmonitor.session import Route
    from katmonitor.storage.database import open_database
    from katmonitor.storage.store import SessionStore
    from katmonitor.workstation import Workstation

    virtual = VirtualTime()  # the oximeter's seconds on a manual clock
    database = open_database(sqlite_url)
    oximeter = virtual.open("sim:normal?protocol=masimo&sensor_off_at=0.5")
    station = Workstation(database, [oximeter], clock=virtual.clock)
    station.start()
    try:
        virtual.sleep(2.0)  # the sensor comes off at 0.5 s
        assert any("sensor_off" in s.conditions for s in station.device_statuses())
        session = station.start_session("C-8", "ketamine", Route.SUBLINGUAL)  # swaps the profile
        assert any(a.technical and "sensor_off" in a.alarm_id for a in station.active_alarms())
        station.end_session()
        stored = SessionStore(database).alarm_events(session.id)
        assert any("sensor_off" in e.alarm_id and e.event == "onset" for e in stored)
    finally:
        station.shutdown()
        database.close()
