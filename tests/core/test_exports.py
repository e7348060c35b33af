"""CSV and FHIR exports of a recorded session, checked field by field, and `katmonitor export`."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from account_helpers import add_account
from cli_runner import katmonitor

from katmonitor.alarms.model import AlarmEvent, Priority
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock, iso_utc
from katmonitor.base.vitals import VitalKind
from katmonitor.exports import ExportOptions, export_format
from katmonitor.exports.csv_export import write_csv
from katmonitor.exports.fhir_export import (
    FhirValidationError,
    build_bundle,
    validate_bundle,
)
from katmonitor.session import Route, SessionStatus
from katmonitor.storage import SessionStore, open_database

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
PLETH = np.linspace(0.0, 1.0, 10, dtype=np.float32)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[SessionStore]:
    database = open_database(sqlite_url)
    yield SessionStore(database)
    database.close()


def record_session(store: SessionStore) -> int:
    session = store.create_session(
        client_id="C-042",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=T0,
        training=False,
        devices=("sim:normal",),
        workstation="room-1",
    )
    sid = session.id
    samples = [
        Sample(T0 + 1, "sim", VitalKind.HR, 72.0),
        Sample(T0 + 1, "sim", VitalKind.SPO2, 98.0),
        Sample(T0 + 2, "sim", VitalKind.HR, None, frozenset({"sensor_off", "invalid"})),
        Sample(T0 + 3, "sim", VitalKind.NIBP_SYSTOLIC, 128.0),
        Sample(T0 + 3, "sim", VitalKind.NIBP_DIASTOLIC, 82.0),
        Sample(T0 + 3, "sim", VitalKind.NIBP_MEAN, 97.0),
        Sample(T0 + 30, "sim", VitalKind.HR, 76.0),
        Sample(T0 + 65, "sim", VitalKind.HR, 80.5),
    ]
    block = WaveformBlock(T0 + 1.5, 100.0, "sim", VitalKind.PLETH, PLETH)
    statuses = [DeviceStatus(T0 + 0.5, "sim", ConnectionState.CONNECTED, frozenset(), "ok")]
    alarms = [
        AlarmEvent(T0 + 40, "hr.high", "hr", Priority.MEDIUM, "onset", 121.0, 120.0, "HR high")
    ]
    store.write_batch(
        [(sid, s) for s in samples],
        [(sid, block)],
        [(sid, s) for s in statuses],
        [(sid, a) for a in alarms],
    )
    store.add_dose(
        sid,
        time=T0 + 10,
        medicine="esketamine",
        route=Route.INTRANASAL,
        dose_mg=56.0,
        unit_count=2,
        lot="LOT-7",
        given_by="Nurse Rivera",
        recorded_at=T0 + 11,
    )
    store.add_observation(
        sid, time=T0 + 20, text="MOAA/S 4, calm", author="Nurse Rivera", recorded_at=T0 + 21
    )
    store.set_status(sid, SessionStatus.ENDED, ended_at=T0 + 7200)
    return sid


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    return header, list(csv.DictReader(body))


# -- CSV ------------------------------------------------------------------------------------------


def test_csv_samples_and_events(store: SessionStore, tmp_path: Path) -> None:
    sid = record_session(store)
    out = tmp_path / "session.csv"
    written = write_csv(store, sid, out)
    assert written == [out, tmp_path / "session-events.csv"]

    header, rows = read_csv(out)
    text = "\n".join(header)
    assert "times are UTC ISO-8601" in text
    assert "client_id: C-042" in text and "route: intranasal" in text
    assert f"started_at: {iso_utc(T0)}" in text and f"ended_at: {iso_utc(T0 + 7200)}" in text
    assert "hr=bpm" in text and "spo2=%" in text and "nibp_systolic=mmHg" in text
    assert "events: session-events.csv" in text

    assert list(rows[0]) == ["time_utc", "source", "kind", "value", "unit", "status"]
    assert len(rows) == sum(store.sample_counts(sid).values()) == 8 + 10
    times = [r["time_utc"] for r in rows]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)
    assert rows[0] == {
        "time_utc": "2023-11-14T22:13:21.000Z",
        "source": "sim",
        "kind": "hr",
        "value": "72.0",
        "unit": "bpm",
        "status": "",
    }
    invalid = next(r for r in rows if r["kind"] == "hr" and r["value"] == "")
    assert invalid["status"] == "invalid;sensor_off"
    assert invalid["time_utc"] == "2023-11-14T22:13:22.000Z"
    systolic = next(r for r in rows if r["kind"] == "nibp_systolic")
    assert (systolic["value"], systolic["unit"]) == ("128.0", "mmHg")
    pleth = [r for r in rows if r["kind"] == "pleth"]
    assert [float(r["value"]) for r in pleth] == pytest.approx(PLETH.tolist(), abs=1e-6)
    assert pleth[0]["time_utc"] == "2023-11-14T22:13:21.500Z"
    assert pleth[1]["time_utc"] == "2023-11-14T22:13:21.510Z"
    assert {r["unit"] for r in pleth} == {"1"}

    ev_header, events = read_csv(tmp_path / "session-events.csv")
    assert "times are UTC ISO-8601" in "\n".join(ev_header)
    assert [e["type"] for e in events] == ["device", "dose", "observation", "alarm"]
    device, dose, note, alarm = events
    assert (device["subject"], device["event"], device["text"]) == ("sim", "connected", "ok")
    assert dose["time_utc"] == iso_utc(T0 + 10)
    assert (dose["subject"], dose["event"], dose["value"], dose["unit"]) == (
        "esketamine",
        "intranasal",
        "56",
        "mg",
    )
    assert (dose["lot"], dose["by"], dose["text"]) == ("LOT-7", "Nurse Rivera", "2 spray devices")
    assert (note["text"], note["by"]) == ("MOAA/S 4, calm", "Nurse Rivera")
    assert (alarm["subject"], alarm["event"], alarm["priority"]) == ("hr.high", "onset", "medium")
    assert (alarm["value"], alarm["unit"]) == ("121.0", "bpm")
    assert "limit 120" in alarm["text"]


def test_csv_pleth_blocks(store: SessionStore, tmp_path: Path) -> None:
    sid = record_session(store)
    out = tmp_path / "s.csv"
    write_csv(store, sid, out, pleth="blocks")
    _, rows = read_csv(out)
    [block] = [r for r in rows if r["kind"] == "pleth"]
    assert block["value"] == "" and block["status"].startswith("summary count=10 rate_hz=100")
    assert len(rows) == 9


def test_a_format_is_written_with_typed_options_as_the_cli_writes_it(
    store: SessionStore, tmp_path: Path
) -> None:
    """The registry serves any caller (the window too): options are an ExportOptions."""
    sid = record_session(store)
    out = tmp_path / "typed.csv"
    written = export_format("csv").load()(store, sid, out, ExportOptions(pleth="blocks"))
    assert written == [out, tmp_path / "typed-events.csv"]
    _, rows = read_csv(out)
    assert len([r for r in rows if r["kind"] == "pleth"]) == 1 and len(rows) == 9
    bundle_path = tmp_path / "every.json"
    export_format("fhir").load()(store, sid, bundle_path, ExportOptions(numerics="all"))
    every = json.loads(bundle_path.read_text(encoding="utf-8"))
    assert every == json.loads(json.dumps(build_bundle(store, sid, numerics="all")))


# -- FHIR -----------------------------------------------------------------------------------------


def resources(bundle: dict, resource_type: str) -> list[dict]:
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    ]


def codes(concept: dict) -> dict[str, str]:
    return {c["system"]: c["code"] for c in concept.get("coding", [])}


def test_fhir_bundle_every_value(store: SessionStore) -> None:
    sid = record_session(store)
    bundle = build_bundle(store, sid, numerics="all")
    validate_bundle(bundle)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"

    [patient] = resources(bundle, "Patient")
    assert patient["identifier"] == [{"system": "urn:katmonitor:client-id", "value": "C-042"}]
    assert set(patient) == {"resourceType", "id", "identifier"}  # nothing else about the client
    [encounter] = resources(bundle, "Encounter")
    assert encounter["status"] == "finished"
    assert encounter["period"] == {"start": iso_utc(T0), "end": iso_utc(T0 + 7200)}
    assert len(resources(bundle, "Device")) == 1

    observations = resources(bundle, "Observation")
    hr = [o for o in observations if codes(o["code"]).get("http://loinc.org") == "8867-4"]
    assert [o["valueQuantity"]["value"] for o in hr] == [72.0, 76.0, 80.5]  # the None is left out
    assert hr[0]["valueQuantity"] == {
        "value": 72.0,
        "unit": "bpm",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }
    assert codes(hr[0]["code"])["urn:iso:std:iso:11073:10101"] == "147842"
    assert hr[0]["effectiveDateTime"] == "2023-11-14T22:13:21.000Z"
    [spo2] = [o for o in observations if codes(o["code"]).get("http://loinc.org") == "59408-5"]
    assert spo2["valueQuantity"]["code"] == "%" and spo2["valueQuantity"]["value"] == 98.0

    [bp] = [o for o in observations if codes(o["code"]).get("http://loinc.org") == "85354-9"]
    parts = {codes(c["code"])["http://loinc.org"]: c["valueQuantity"] for c in bp["component"]}
    assert parts["8480-6"]["value"] == 128.0 and parts["8462-4"]["value"] == 82.0
    assert parts["8478-0"]["value"] == 97.0
    assert {q["code"] for q in parts.values()} == {"mm[Hg]"}
    assert bp["effectiveDateTime"] == iso_utc(T0 + 3)

    [note] = [o for o in observations if "valueString" in o]
    assert note["valueString"] == "MOAA/S 4, calm"
    assert note["performer"] == [{"display": "Nurse Rivera"}]
    # HR x3, SpO2, BP panel, note
    assert len(observations) == 6

    [admin] = resources(bundle, "MedicationAdministration")
    assert admin["status"] == "completed"
    assert admin["medicationCodeableConcept"] == {"text": "esketamine"}
    assert admin["dosage"]["dose"] == {
        "value": 56.0,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert codes(admin["dosage"]["route"]) == {"http://snomed.info/sct": "46713006"}
    assert {"text": "lot LOT-7"} in admin["note"]
    assert admin["performer"] == [{"actor": {"display": "Nurse Rivera"}}]
    assert admin["effectiveDateTime"] == iso_utc(T0 + 10)

    # References resolve inside the bundle.
    urls = {e["fullUrl"] for e in bundle["entry"]}
    assert encounter["subject"]["reference"] in urls
    assert all(o["subject"]["reference"] in urls for o in observations)
    assert hr[0]["device"]["reference"] in urls


def test_fhir_bundle_minute_medians(store: SessionStore) -> None:
    sid = record_session(store)
    bundle = build_bundle(store, sid)
    observations = resources(bundle, "Observation")
    hr = [o for o in observations if codes(o["code"]).get("http://loinc.org") == "8867-4"]
    # T0 is 20 s into its minute: 72 and 76 share a minute, 80.5 is in the next one.
    assert [o["valueQuantity"]["value"] for o in hr] == [74.0, 80.5]
    assert hr[0]["effectivePeriod"] == {
        "start": "2023-11-14T22:13:00.000Z",
        "end": "2023-11-14T22:14:00.000Z",
    }
    assert "median of 2" in hr[0]["note"][0]["text"]
    assert len([o for o in observations if "component" in o]) == 1


def test_an_invalid_bundle_fails_validation(store: SessionStore) -> None:
    bundle = build_bundle(store, record_session(store))
    bundle["entry"][0]["resource"]["bogus"] = 1
    with pytest.raises(FhirValidationError):
        validate_bundle(bundle)
    del bundle["entry"][0]["resource"]["bogus"]
    resources(bundle, "Encounter")[0]["period"]["start"] = "yesterday"
    with pytest.raises(FhirValidationError):
        validate_bundle(bundle)


# -- CLI ------------------------------------------------------------------------------------------


def test_cli_export_end_to_end(sqlite_url: str, tmp_path: Path) -> None:
    database = open_database(sqlite_url)
    try:
        sid = record_session(SessionStore(database))
    finally:
        database.close()

    out = tmp_path / "export.csv"
    result = katmonitor(
        "export", str(sid), "--format", "csv", "--out", str(out), "--db", sqlite_url
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(out), str(tmp_path / "export-events.csv")]
    assert len(read_csv(out)[1]) == 18

    fhir_out = tmp_path / "export.json"
    result = katmonitor(
        "export", str(sid), "--format", "FHIR", "--out", str(fhir_out), "--db", sqlite_url
    )
    assert result.returncode == 0, result.stderr
    bundle = json.loads(fhir_out.read_text(encoding="utf-8"))
    validate_bundle(bundle)
    assert len(resources(bundle, "MedicationAdministration")) == 1


def assert_clean_error(result, *phrases: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr


def test_cli_export_errors(sqlite_url: str, tmp_path: Path) -> None:
    out = str(tmp_path / "x.csv")
    assert_clean_error(
        katmonitor("export", "99", "--format", "csv", "--out", out, "--db", sqlite_url),
        "no session 99",
    )
    assert not (tmp_path / "x.csv").exists()
    assert_clean_error(
        katmonitor("export", "1", "--format", "pdfx", "--out", out, "--db", sqlite_url),
        "unknown export format 'pdfx'",
        "csv",
    )
    missing_dir = str(tmp_path / "nope" / "x.csv")
    assert_clean_error(
        katmonitor("export", "1", "--format", "fhir", "--out", missing_dir, "--db", sqlite_url),
        "does not exist",
    )
    assert_clean_error(
        katmonitor("export", "1", "--format", "csv", "--out", str(tmp_path), "--db", sqlite_url),
        "is a directory",
    )


def test_fhir_provenance_for_a_verified_signature_and_refusal_when_tampered(
    store: SessionStore,
) -> None:
    from sqlalchemy import text

    from katmonitor.accounts import AccountStore
    from katmonitor.base.errors import KatMonitorError
    from katmonitor.record_signing import sign_session

    sid = record_session(store)
    unsigned = build_bundle(store, sid)
    assert not [e for e in unsigned["entry"] if e["resource"]["resourceType"] == "Provenance"]
    add_account(AccountStore(store.database), "nina", "nurse", "provenance-pw-1", "Nina Nurse RN")
    sign_session(store, sid, "nina", "provenance-pw-1")
    bundle = build_bundle(store, sid)
    [provenance] = [e["resource"] for e in bundle["entry"]
                    if e["resource"]["resourceType"] == "Provenance"]
    encounter = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter")
    assert provenance["target"] == [{"reference": encounter["fullUrl"]}]
    assert provenance["reason"] == [{"text": "Monitored and reviewed"}]
    assert provenance["signature"][0]["who"]["display"] == "Nina Nurse RN (nurse)"
    with store.database.engine.begin() as conn:
        conn.execute(text("UPDATE dose_events SET lot = 'LOT999' WHERE session_id = :s"),
                     {"s": sid})
    with pytest.raises(KatMonitorError, match="does not match its signature"):
        build_bundle(store, sid)
