"""The session summary `katmonitor sessions show` prints, built by the core from the store."""

from __future__ import annotations

import json

import pytest
from cli_runner import katmonitor
from dosed_session import LOTS, NURSE, DosedSession

from katmonitor.base.errors import NotFoundError
from katmonitor.base.samples import iso_utc
from katmonitor.session_summary import summarize_session
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore


def test_the_summary_holds_what_the_session_recorded(dosed: DosedSession) -> None:
    database = open_database(dosed.url)
    try:
        summary = summarize_session(SessionStore(database), dosed.session_id)
    finally:
        database.close()
    assert summary.session.id == dosed.session_id
    assert [d.lot for d in summary.doses] == list(LOTS)
    assert summary.doses[0].time == dosed.first_dose_at
    assert summary.sample_counts["hr"] > 0 and summary.sample_counts["spo2"] > 0
    assert len(summary.observations) == 3  # assessments at 20, 60 and 100 min
    kinds = [e.kind.value for e in summary.workflow_events]
    assert "identity_check" in kinds and kinds[-1] == "discharge"
    assert {e.user for e in summary.workflow_events} == {NURSE}
    assert summary.addenda == []

    data = summary.to_json_dict()
    assert list(data)[-8:] == [
        "workstation", "sample_counts", "dose_events", "observations", "device_events",
        "addenda", "workflow_events", "gaps",
    ]
    assert data["gaps"] == []  # recorded without interruption
    assert data["dose_events"][0]["time"] == iso_utc(dosed.first_dose_at)  # type: ignore[index]
    json.dumps(data)  # JSON-ready as it is


def test_the_cli_prints_the_core_summary(dosed: DosedSession) -> None:
    shown = katmonitor("sessions", "show", str(dosed.session_id), "--json", "--db", dosed.url)
    assert shown.returncode == 0, shown.stderr
    database = open_database(dosed.url)
    try:
        expected = summarize_session(SessionStore(database), dosed.session_id).to_json_dict()
    finally:
        database.close()
    assert json.loads(shown.stdout) == expected


def test_a_missing_session_has_no_summary(sqlite_url: str) -> None:
    database = open_database(sqlite_url)
    try:
        with pytest.raises(NotFoundError):
            summarize_session(SessionStore(database), 999)
    finally:
        database.close()
