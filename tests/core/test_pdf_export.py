"""The PDF session report: a real dosed session recorded through the Workstation workflow,
exported and read back with pypdf, checked field by field; signed, tampered and training
records; the plot reduction; `katmonitor export --format pdf` end to end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cli_runner import katmonitor
from dosed_session import (
    ELIGIBILITY_OVERRIDE,
    GATE_OVERRIDE,
    LOTS,
    MIN,
    NURSE,
    NURSE_NAME,
    READY_MIN,
    DosedSession,
)
from pypdf import PdfReader
from sqlalchemy import text as sql
from workflow_helpers import NURSE_PASSWORD

from katmonitor.base.samples import Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.exports.pdf_export import clean, reduce_columns, write_pdf_export
from katmonitor.exports.report_data import local_clock, local_text, utc_text
from katmonitor.record_signing import sign_session
from katmonitor.session import Route, SessionStatus
from katmonitor.storage import SessionStore, open_database


@pytest.fixture
def store(dosed: DosedSession) -> Iterator[SessionStore]:
    database = open_database(dosed.url)
    yield SessionStore(database)
    database.close()


def pages_of(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def line_with(text: str, *needles: str) -> str:
    """The one extracted line holding every needle."""
    found = [line for line in text.splitlines() if all(n in line for n in needles)]
    assert len(found) == 1, (needles, found)
    return found[0]


def test_the_report_of_a_dosed_session_field_by_field(
    dosed: DosedSession, store: SessionStore, tmp_path: Path
) -> None:
    sid = dosed.session_id
    anchor = dosed.first_dose_at
    session = store.get_session(sid)
    out = tmp_path / "report.pdf"
    assert write_pdf_export(store, sid, out) == [out]
    pages = pages_of(out)
    text = "\n".join(pages)

    # every page: the session, the client, the page number, unsigned
    for number, page in enumerate(pages, 1):
        assert f"Session {sid}" in page and "Client ID C-200" in page
        assert f"uuid {session.uuid}" in page
        assert f"Page {number} of {len(pages)}" in page
        assert "Record: UNSIGNED — not a signed record" in page
        assert "TRAINING" not in page

    # the session
    assert line_with(text, "Started") == (
        f"Started {local_text(session.started_at)} = {utc_text(session.started_at)}"
    )
    assert f"First dose {local_text(anchor)}" in text
    assert "Medicine / route esketamine, Intranasal spray" in text

    # doses: time, mg, devices, lot, given by; the override is in the first dose's note
    # (cells are extracted in drawing order, so a row reads whole once whitespace is folded)
    flat = " ".join(text.split())
    assert (f"1 {local_clock(anchor)} 0 min esketamine Intranasal spray 28 1 spray device "
            f"{LOTS[0]} - - {NURSE_NAME} override: {GATE_OVERRIDE} (systolic 152") in flat
    assert (f"2 {local_clock(anchor + 5 * MIN)} +5 min esketamine Intranasal spray 28 1 spray "
            f"device {LOTS[1]} - - {NURSE_NAME} -") in flat
    assert "Total: 56 mg: 2 × 28 mg spray devices (2 dose events)." in text

    # pre-dose steps
    assert "checked by name and date of birth against photo ID; note: wristband on" in text
    assert line_with(text, "Taking benzodiazepines?") == "Taking benzodiazepines? Yes CONCERN"
    assert line_with(text, "Taking psychostimulants?") == "Taking psychostimulants? No -"
    assert f"Concerns: benzodiazepines. Override reason: {ELIGIBILITY_OVERRIDE}" in text
    assert f"Blood pressure 152/96 mmHg at {local_clock(anchor)}" in text
    assert "Heart rate 88/min" in text
    assert "Result NOT PASSED - dose given with an override" in text
    assert "Problems systolic 152 mmHg is above 140; diastolic 96 mmHg is above 90" in text
    assert f"Override reason {GATE_OVERRIDE}" in text

    # vitals: plots are described, pleth is not plotted; the NIBP readings are listed
    assert "The pleth waveform is not\nplotted in this report" in text
    assert "D1 28 mg" in text and "D2 28 mg" in text
    assert line_with(text, local_clock(anchor + 42 * MIN), "mmHg") == (
        f"{local_clock(anchor + 42 * MIN)} +42 min 148/92 (111) mmHg monitor"
    )

    # assessments: MOAA/S, CADSS, nausea, anxiety, respiratory, therapist, text
    assert (f"{local_clock(anchor + 20 * MIN)} +20 min {NURSE_NAME} 4 CADSS-6 3 (1:2, 2:1) "
            "nausea mild Normal Dr Kim calm, eyes closed") in flat
    assert (f"{local_clock(anchor + 60 * MIN)} +60 min {NURSE_NAME} 5 CADSS-6 0 (1:0) - - "
            "Normal - talking, oriented") in flat
    assert (f"{local_clock(anchor + 100 * MIN)} +100 min {NURSE_NAME} 5 CADSS-6 0 (1:0) - none "
            "Normal - -") in flat

    # schedule compliance, reconstructed from the record
    assert "3 MISSED, 12 done" in text
    assert line_with(text, "BP re-check 40 min after dose") == (
        f"BP re-check 40 min after dose {local_clock(anchor + 40 * MIN)} (+40 min) "
        f"{local_clock(anchor + 42 * MIN)} NIBP reading done -"
    )
    assert line_with(text, "MOAA/S and CADSS at 40 min").endswith("- - MISSED -")
    assert line_with(text, "MOAA/S and CADSS at 20 min").endswith("assessment done -")

    # alarms: the SpO2 dip, and the reminder for the 40-min assessment left undone
    assert "2 alarm onset(s): 1 medium, 1 technical." in text
    assert line_with(text, "tech.schedule.prompt_escalated low 1")
    assert line_with(text, "spo2.low", "onset").startswith(
        f"{local_clock(anchor + 25 * MIN + 10)} spo2.low onset medium 86 90"
    )

    # discharge
    end = session.ended_at
    assert f"Discharged {local_text(end)} by {NURSE_NAME}" in text
    assert (f"Ready to leave {local_text(anchor + READY_MIN * MIN)} (+60 min after the first "
            "dose)") in text
    assert f"End of monitoring {local_text(end)}" in text
    assert "First dose to end 121 min" in text
    assert line_with(text, "Escort or safe transport") == (
        "Escort or safe transport arranged (no driving today) Yes confirmed by the nurse -"
    )
    assert line_with(text, "Vital signs within limits").startswith(
        "Vital signs within limits Yes from the record"
    )

    # signature: unsigned
    assert "UNSIGNED — not a signed record\nVerification status at export time" in text
    assert "Printed name" not in text


def test_a_signed_record_shows_the_signature_manifestation(
    dosed: DosedSession, store: SessionStore, tmp_path: Path
) -> None:
    sig = sign_session(store, dosed.session_id, NURSE, NURSE_PASSWORD)
    out = tmp_path / "signed.pdf"
    write_pdf_export(store, dosed.session_id, out)
    pages = pages_of(out)
    text = "\n".join(pages)
    assert "UNSIGNED" not in text
    assert all("Record: VERIFIED" in page for page in pages)
    assert f"Printed name {NURSE_NAME}" in text
    assert "Role nurse" in text and f"User {NURSE}" in text
    assert "Meaning Monitored and reviewed" in text
    assert f"Signed (UTC) {utc_text(sig['signed_at'])}" in text
    assert f"Signed (local) {local_text(sig['signed_at'])}" in text
    fingerprint = re.search(r"Key id (\S+), fingerprint ([0-9a-f]{16})", text)
    assert fingerprint is not None and fingerprint[1] == str(sig["key_id"])
    assert f"Signature VERIFIED at export: signed by {NURSE_NAME} (nurse)" in text


def test_a_record_changed_after_signing_is_marked_invalid(
    dosed: DosedSession, store: SessionStore, tmp_path: Path
) -> None:
    sign_session(store, dosed.session_id, NURSE, NURSE_PASSWORD)
    with store.database.engine.begin() as conn:  # behind the store's back, as an attacker would
        conn.execute(sql("UPDATE dose_events SET lot = 'LOT-ZZ' WHERE lot = 'LOT-B2'"))
    out = tmp_path / "tampered.pdf"
    write_pdf_export(store, dosed.session_id, out)
    pages = pages_of(out)
    text = "\n".join(pages)
    assert all("Record: INVALID — the record does not match its signature" in p for p in pages)
    assert "lot 'LOT-B2' -> 'LOT-ZZ'" in text.replace("\n", " ")
    assert f"Printed name {NURSE_NAME}" in text


def test_a_training_session_is_marked_on_every_page(sqlite_url: str, tmp_path: Path) -> None:
    database = open_database(sqlite_url)
    store = SessionStore(database)
    t0 = 1_800_000_000.0
    session = store.create_session(client_id="T-1", medicine="esketamine",
                                   route=Route.INTRANASAL, started_at=t0, training=True,
                                   devices=("sim:normal",), workstation="room 2")
    # long enough for the alarm list to run over several pages
    samples = [(session.id, Sample(t0 + i, "sim", VitalKind.HR, 70.0 + i % 9))
               for i in range(3600)]
    blocks = [(session.id, WaveformBlock(t0, 100.0, "sim", VitalKind.PLETH,
                                         np.zeros(100, np.float32)))]
    store.write_batch(samples, blocks, [])
    for i in range(40):
        store.add_observation(session.id, time=t0 + 60 * i, text=f"note {i} " + "word " * 30,
                              author="trainee", recorded_at=t0 + 60 * i)
    store.set_status(session.id, SessionStatus.ENDED, t0 + 3600)
    out = tmp_path / "training.pdf"
    write_pdf_export(store, session.id, out)
    database.close()
    pages = pages_of(out)
    assert len(pages) >= 4
    for page in pages:
        assert "TRAINING SESSION - not a clinical record" in page
        assert f"Session {session.id}" in page and "Client ID T-1" in page
    text = "\n".join(pages)
    assert "No dose recorded." in text and "No schedule: no dose was given." in text
    assert "No discharge recorded. The session ended at" in text
    assert "note 39" in text


def test_plots_keep_the_lowest_and_highest_value_of_each_column() -> None:
    times = np.arange(0.0, 100.0, 1.0)
    values = np.arange(100.0)
    values[37] = 500.0  # a spike survives the reduction
    cols, mins, maxs, first, last = reduce_columns(times, values, 0.0, 100.0, 10)
    assert cols.tolist() == list(range(10))
    assert mins.tolist() == [float(10 * c) for c in range(10)]
    assert maxs[3] == 500.0 and maxs[4] == 49.0
    assert first.tolist() == [10.0 * c for c in range(10)]
    assert last.tolist() == [10.0 * c + 9 for c in range(10)]
    # 14,400 values on 600 columns: 600 pairs, whatever the session's length
    long = reduce_columns(np.arange(14_400.0), np.ones(14_400), 0.0, 14_400.0, 600)
    assert len(long[0]) == 600


def test_text_outside_the_core_font_is_shown_not_dropped() -> None:
    assert clean("Zoë — 5 µg") == "Zoë — 5 µg"
    assert clean("李 Lee") == "<U+674E> Lee"


def test_cli_export_pdf_end_to_end(dosed: DosedSession, tmp_path: Path) -> None:
    out = tmp_path / "cli.pdf"
    done = katmonitor("export", str(dosed.session_id), "--format", "pdf", "--out", str(out),
                      "--db", dosed.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    text = "\n".join(pages_of(out))
    assert LOTS[0] in text and GATE_OVERRIDE in text and "UNSIGNED" in text

    missing = tmp_path / "no" / "such" / "dir" / "report.pdf"
    bad = katmonitor("export", str(dosed.session_id), "--format", "pdf", "--out", str(missing),
                     "--db", dosed.url)
    assert bad.returncode == 2
    assert f"cannot write {missing}: the directory {missing.parent} does not exist" in bad.stderr
    assert "Traceback" not in bad.stderr and not missing.parent.exists()

    unknown = katmonitor("export", "999", "--format", "pdf", "--out", str(tmp_path / "x.pdf"),
                         "--db", dosed.url)
    assert unknown.returncode == 2 and "no session 999" in unknown.stderr
    assert not (tmp_path / "x.pdf").exists()
