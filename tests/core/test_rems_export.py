"""The Spravato REMS Patient Monitoring Form fields from a real dosed session recorded through
the Workstation workflow: JSON field by field, the PDF of the same fields, missing data
reported as missing, other routes refused, and the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import katmonitor
from dosed_session import (
    END_MIN,
    LOTS,
    MIN,
    NURSE,
    NURSE_NAME,
    READY_MIN,
    DosedSession,
    record_dosed_session,
)
from pypdf import PdfReader

from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import Sample, iso_utc
from katmonitor.base.vitals import VitalKind
from katmonitor.exports.rems_export import (
    LABELS,
    NotApplicableError,
    build_rems,
    write_rems_export,
)
from katmonitor.exports.report_data import load_report, local, local_iso, local_text
from katmonitor.session import Route, SessionStatus
from katmonitor.storage import SessionStore, open_database


@pytest.fixture
def store(dosed: DosedSession) -> Iterator[SessionStore]:
    database = open_database(dosed.url)
    yield SessionStore(database)
    database.close()


def test_the_rems_fields_of_a_dosed_session(
    dosed: DosedSession, store: SessionStore, tmp_path: Path
) -> None:
    sid = dosed.session_id
    anchor = dosed.first_dose_at
    session = store.get_session(sid)
    out = tmp_path / "rems.json"
    assert write_rems_export(store, sid, out) == [out]
    form = json.loads(out.read_text(encoding="utf-8"))

    assert form["format"] == "katmonitor-rems-patient-monitoring" and form["version"] == 1
    assert (form["session_id"], form["session_uuid"], form["client_id"]) == (
        sid, session.uuid, "C-200")
    assert form["training"] is False and form["record_status"] == "unsigned"

    # concomitant medicines from the eligibility answers the care plan maps to REMS fields
    assert form["concomitant_benzodiazepines"] is True
    assert form["concomitant_non_benzodiazepine_hypnotics"] is False
    assert form["concomitant_psychostimulants"] is False
    assert form["concomitant_maois"] is False

    assert form["monitoring_provider"] == NURSE_NAME
    assert form["monitoring_provider_user"] == NURSE
    assert form["monitoring_setting"] == session.workstation
    assert form["date"] == local(anchor).date().isoformat()

    # dose: the two 28 mg devices
    assert (form["dose_mg"], form["dose_category"], form["spray_devices"]) == (56, "56 mg", 2)
    assert form["lot_numbers"] == list(LOTS)

    # times
    assert form["first_spray_at_utc"] == iso_utc(anchor)
    assert form["first_spray_at_local"] == local_iso(anchor)
    assert form["end_of_monitoring_at_utc"] == iso_utc(session.ended_at)
    assert session.ended_at == anchor + END_MIN * MIN
    assert form["total_minutes_first_spray_to_end"] == 121
    assert form["ready_to_leave_at_utc"] == iso_utc(anchor + READY_MIN * MIN)

    # vital signs: the gate was overridden, the discharge vitals were within limits
    assert form["vitals_acceptable_before_dosing"] is False
    assert form["vitals_acceptable_before_leaving"] is True
    before = form["bp_before_dosing"]
    assert (before["systolic"], before["diastolic"]) == (152, 96)
    assert before["time_utc"] == iso_utc(anchor)
    assert before["reading"] == "the NIBP reading checked by the pre-dose gate"
    at_40 = form["bp_at_40_min"]  # readings at 30 and 42 min: 42 is nearest to 40
    assert (at_40["systolic"], at_40["diastolic"], at_40["mean"]) == (148, 92, 111)
    assert at_40["time_utc"] == iso_utc(anchor + 42 * MIN)
    assert at_40["minutes_after_first_spray"] == 42.0
    assert "nearest to 40 min after the first spray" in at_40["reading"]
    leaving = form["bp_before_leaving"]
    assert (leaving["systolic"], leaving["diastolic"]) == (122, 78)
    assert leaving["minutes_after_first_spray"] == 120.0

    # sedation, dissociation, respiratory status, pulse oximetry
    assert form["sedation"] is True and form["lowest_moaas"] == 4
    assert form["dissociation"] is True and form["highest_cadss_total"] == 3
    assert form["respiratory_depression"] is False
    assert form["respiratory_statuses"] == ["normal"]
    assert form["pulse_oximetry_used"] is True and form["lowest_spo2"] == 86

    assert form["missing"] == []
    assert any("Pre-dose gate not passed" in note for note in form["notes"])
    assert any("UNSIGNED" in note for note in form["notes"])


def test_the_rems_pdf_holds_the_same_fields(
    dosed: DosedSession, store: SessionStore, tmp_path: Path
) -> None:
    anchor = dosed.first_dose_at
    out = tmp_path / "rems.pdf"
    write_rems_export(store, dosed.session_id, out)
    text = "\n".join(page.extract_text() for page in PdfReader(out).pages)
    assert "Spravato REMS Patient Monitoring Form" in text
    assert "Concomitant benzodiazepines Yes" in text
    assert "Concomitant MAOIs No" in text
    assert f"Monitoring provider {NURSE_NAME}" in text
    assert f"Lot number(s) {LOTS[0]}, {LOTS[1]}" in text
    assert "Dose (56 mg, 84 mg or other) 56 mg" in text
    assert "Total minutes, first spray to end of monitoring 121" in text
    assert f"ready to leave at {local_text(anchor + READY_MIN * MIN)}" in text
    assert "BP at about 40 minutes 148/92 mmHg" in text
    assert "Sedation (any MOAA/S < 5) Yes (lowest MOAA/S 4)" in text
    assert "Vital signs acceptable before dosing No" in text
    assert "MISSING (not recorded)" not in text
    assert "UNSIGNED — not a signed record" in text


def test_missing_data_is_reported_as_missing(sqlite_url: str, tmp_path: Path) -> None:
    """A session recorded without the workflow: a dose, one pre-dose NIBP, no gate, no
    assessments, no discharge."""
    database = open_database(sqlite_url)
    store = SessionStore(database)
    t0 = 1_800_000_000.0
    session = store.create_session(client_id="C-9", medicine="Spravato",
                                   route=Route.INTRANASAL, started_at=t0, training=False,
                                   devices=(), workstation="room 3")
    store.write_batch([
        (session.id, Sample(t0 + 60, "m", VitalKind.NIBP_SYSTOLIC, 130.0)),
        (session.id, Sample(t0 + 60, "m", VitalKind.NIBP_DIASTOLIC, 85.0)),
        (session.id, Sample(t0 + 300 + 70 * 60, "m", VitalKind.NIBP_SYSTOLIC, 125.0)),
    ], [], [])
    store.add_dose(session.id, time=t0 + 300, medicine="Spravato", route=Route.INTRANASAL,
                   dose_mg=84.0, unit_count=3, lot="", given_by="A. Nurse", recorded_at=t0)
    store.set_status(session.id, SessionStatus.ENDED, t0 + 300 + 125 * 60)
    form = build_rems(load_report(store, session.id))
    write_rems_export(store, session.id, tmp_path / "form.pdf")
    database.close()
    text = "\n".join(page.extract_text() for page in PdfReader(tmp_path / "form.pdf").pages)
    assert "Lot number(s) MISSING (not recorded)" in text
    assert "BP at about 40 minutes MISSING (not recorded)" in text
    assert "Missing: concomitant_benzodiazepines," in text

    assert form["dose_mg"] == 84 and form["dose_category"] == "84 mg"
    assert form["total_minutes_first_spray_to_end"] == 125
    assert form["monitoring_provider"] == "A. Nurse"
    assert form["lot_numbers"] is None
    for name in ("concomitant_benzodiazepines", "vitals_acceptable_before_dosing",
                 "vitals_acceptable_before_leaving", "bp_at_40_min", "ready_to_leave_at_local",
                 "sedation", "dissociation", "respiratory_depression", "pulse_oximetry_used"):
        assert form[name] is None, name
    assert form["bp_before_dosing"]["systolic"] == 130  # the last reading before the spray
    assert "no gate recorded" in form["bp_before_dosing"]["reading"]
    assert form["bp_before_leaving"]["systolic"] == 125
    assert form["bp_before_leaving"]["diastolic"] is None
    assert form["missing"] == [
        "concomitant_benzodiazepines", "concomitant_non_benzodiazepine_hypnotics",
        "concomitant_psychostimulants", "concomitant_maois", "lot_numbers",
        "ready_to_leave_at_local", "vitals_acceptable_before_dosing",
        "vitals_acceptable_before_leaving", "bp_at_40_min", "sedation", "dissociation",
        "respiratory_depression", "pulse_oximetry_used",
    ]
    assert set(form["missing"]) <= set(LABELS)
    assert "No eligibility checklist recorded." in form["notes"]
    assert any("No NIBP reading within 15 min of 40 min" in n for n in form["notes"])


def test_other_routes_are_refused(sqlite_url: str, tmp_path: Path) -> None:
    dosed = record_dosed_session(sqlite_url, route=Route.SUBLINGUAL)
    database = open_database(sqlite_url)
    store = SessionStore(database)
    out = tmp_path / "rems.json"
    with pytest.raises(NotApplicableError, match="for intranasal esketamine"):
        write_rems_export(store, dosed.session_id, out)
    database.close()
    assert not out.exists()
    done = katmonitor("export", str(dosed.session_id), "--format", "rems", "--out", str(out),
                      "--db", sqlite_url)
    assert done.returncode == 2
    assert (f"session {dosed.session_id} is ketamine by the sublingual route: the REMS Patient "
            "Monitoring Form is for intranasal esketamine (Spravato) only") in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


def test_the_output_is_chosen_by_the_extension(
    dosed: DosedSession, store: SessionStore, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="JSON or PDF"):
        write_rems_export(store, dosed.session_id, tmp_path / "rems.txt")
    assert not (tmp_path / "rems.txt").exists()


def test_cli_export_rems_end_to_end(dosed: DosedSession, tmp_path: Path) -> None:
    for name in ("form.json", "form.pdf"):
        out = tmp_path / name
        done = katmonitor("export", str(dosed.session_id), "--format", "rems", "--out",
                          str(out), "--db", dosed.url)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(out)
    form = json.loads((tmp_path / "form.json").read_text(encoding="utf-8"))
    assert form["concomitant_benzodiazepines"] is True and form["lot_numbers"] == list(LOTS)
    assert (tmp_path / "form.pdf").read_bytes().startswith(b"%PDF")
    bad = katmonitor("export", str(dosed.session_id), "--format", "rems", "--out",
                     str(tmp_path / "form.csv"), "--db", dosed.url)
    assert bad.returncode == 2 and "give --out a name ending in .json or .pdf" in bad.stderr
