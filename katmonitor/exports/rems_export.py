"""The Spravato REMS Patient Monitoring Form's fields, filled from a recorded intranasal
esketamine session: ``katmonitor export ID --format rems --out FORM.json`` (or ``FORM.pdf``).

The output is chosen by the extension of ``--out``: ``.json`` writes the fields as JSON (stable
names, documented in docs/records.md), ``.pdf`` writes a one-page PDF of the same fields for the
person who submits the form. Any other extension is refused. Sessions of other routes (or other
medicines) are refused with a clear error: the form is for intranasal esketamine only.

Every value comes from the record; what is not recorded is ``null`` and its field is named in
``missing`` (never guessed). How each value is derived is in :func:`build_rems` and in
docs/records.md; ``notes`` says which reading or step a value came from where that matters.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fpdf.enums import XPos, YPos

from katmonitor.base.errors import ConfigurationError, KatMonitorError
from katmonitor.base.samples import iso_utc, parse_iso_utc
from katmonitor.base.vitals import VitalKind
from katmonitor.exports import DEFAULT_OPTIONS, ExportOptions
from katmonitor.exports.files import write_bytes_atomically
from katmonitor.exports.pdf_export import INK, RED, ReportPdf, clean
from katmonitor.exports.report_data import (
    NibpReading,
    ReportData,
    load_report,
    local,
    local_iso,
    local_text,
    utc_offset,
    utc_text,
)
from katmonitor.session import Route
from katmonitor.storage.store import SessionStore

FORMAT = "katmonitor-rems-patient-monitoring"
VERSION = 1
MEDICATION_FIELDS = (
    "concomitant_benzodiazepines",
    "concomitant_non_benzodiazepine_hypnotics",
    "concomitant_psychostimulants",
    "concomitant_maois",
)
BP_40_MIN_S = 40 * 60.0
BP_40_WINDOW_S = 15 * 60.0
"""The "BP at 40 min" is the NIBP reading nearest to first spray + 40 min, within +-15 min."""
DOSE_CATEGORIES = {56.0: "56 mg", 84.0: "84 mg"}
ESKETAMINE_NAMES = ("esketamine", "spravato")

LABELS: dict[str, str] = {
    "concomitant_benzodiazepines": "Concomitant benzodiazepines",
    "concomitant_non_benzodiazepine_hypnotics": "Concomitant non-benzodiazepine hypnotics",
    "concomitant_psychostimulants": "Concomitant psychostimulants",
    "concomitant_maois": "Concomitant MAOIs",
    "monitoring_provider": "Monitoring provider",
    "monitoring_setting": "Monitoring setting (workstation)",
    "date": "Date of treatment",
    "dose_mg": "Dose (mg)",
    "dose_category": "Dose (56 mg, 84 mg or other)",
    "spray_devices": "Spray devices",
    "lot_numbers": "Lot number(s)",
    "first_spray_at_local": "First spray",
    "end_of_monitoring_at_local": "End of monitoring",
    "total_minutes_first_spray_to_end": "Total minutes, first spray to end of monitoring",
    "ready_to_leave_at_local": "Patient would have been ready to leave at",
    "vitals_acceptable_before_dosing": "Vital signs acceptable before dosing",
    "vitals_acceptable_before_leaving": "Vital signs acceptable before leaving",
    "bp_before_dosing": "BP before dosing",
    "bp_at_40_min": "BP at about 40 minutes",
    "bp_before_leaving": "BP before leaving",
    "sedation": "Sedation (any MOAA/S < 5)",
    "dissociation": "Dissociation (any CADSS > 0)",
    "respiratory_depression": "Respiratory status other than normal",
    "pulse_oximetry_used": "Pulse oximetry used (SpO2 recorded)",
}


class NotApplicableError(KatMonitorError):
    """The session is not one the REMS form is about."""


def write_rems_export(
    store: SessionStore, session_id: int, out: Path, options: ExportOptions = DEFAULT_OPTIONS
) -> list[Path]:
    kind = output_kind(out)
    check_applicable(store.get_session(session_id))
    report = load_report(store, session_id, care_plan=options.care_plan)
    fields = build_rems(report)
    if kind == "json":
        text = json.dumps(fields, indent=1, ensure_ascii=False) + "\n"
        write_bytes_atomically(out, text.encode(), overwrite=options.overwrite)
    else:
        write_bytes_atomically(out, render_pdf(report, fields), overwrite=options.overwrite)
    return [out]


def output_kind(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix not in (".json", ".pdf"):
        raise ConfigurationError(
            f"cannot tell what to write to {out}: the REMS export writes JSON or PDF",
            "give --out a name ending in .json or .pdf",
        )
    return suffix[1:]


def check_applicable(session: Any) -> None:
    medicine = session.medicine.lower()
    if session.route is not Route.INTRANASAL or not any(n in medicine for n in ESKETAMINE_NAMES):
        raise NotApplicableError(
            f"session {session.id} is {session.medicine} by the {session.route.value} route: "
            "the REMS Patient Monitoring Form is for intranasal esketamine (Spravato) only",
            "use --format pdf for the session report",
        )


# -- the fields ----------------------------------------------------------------------------------


def _bp(reading: NibpReading | None, anchor: float | None, what: str) -> dict[str, Any] | None:
    if reading is None:
        return None
    return {
        "systolic": reading.systolic,
        "diastolic": reading.diastolic,
        "mean": reading.mean,
        "time_utc": iso_utc(reading.time),
        "time_local": local_iso(reading.time),
        "minutes_after_first_spray": None if anchor is None
        else round((reading.time - anchor) / 60, 1),
        "reading": what,
    }


def _minutes_text(seconds: float) -> str:
    return f"{seconds / 60:+.0f} min"


def build_rems(report: ReportData) -> dict[str, Any]:
    """The form's fields as a JSON-ready dict (see docs/records.md for each one)."""
    s = report.session
    notes: list[str] = []
    out: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "session_id": s.id,
        "session_uuid": s.uuid,
        "client_id": s.client_id,
        "training": s.training,
        "record_status": report.signature.status,
        "exported_at_utc": iso_utc(report.exported_at),
    }
    if s.training:
        notes.append("TRAINING session: not a clinical record; do not submit.")
    if report.signature.status != "verified":
        notes.append(f"Record status at export time: {report.signature.label}.")

    # concomitant medicines: the eligibility answers the care plan maps to REMS fields
    eligibility = report.eligibility
    answers = eligibility.data.get("answers", {}) if eligibility is not None else {}
    mapped = {item.rems: item.id for item in report.plan.eligibility if item.rems}
    for name in MEDICATION_FIELDS:
        question = mapped.get(name)
        value = answers.get(question) if question is not None else None
        out[name] = value if isinstance(value, bool) else None
        if question is None:
            notes.append(f"{name}: the care plan {report.plan.name!r} has no question for it.")
    if eligibility is None:
        notes.append("No eligibility checklist recorded.")

    # provider and setting
    discharge = report.discharge
    gate = report.gate
    provider_event = discharge or gate
    if provider_event is not None:
        out["monitoring_provider"] = report.full_name(provider_event.user)
        out["monitoring_provider_user"] = provider_event.user
    elif report.doses:
        out["monitoring_provider"] = report.doses[0].given_by
        out["monitoring_provider_user"] = None
    else:
        out["monitoring_provider"] = out["monitoring_provider_user"] = None
    out["monitoring_setting"] = s.workstation or None

    # dose
    sprays = [d for d in report.doses if d.route is Route.INTRANASAL]
    anchor = sprays[0].time if sprays else None
    out["date"] = local(anchor).date().isoformat() if anchor is not None else None
    total = sum(d.dose_mg for d in sprays) if sprays else None
    out["dose_mg"] = total
    out["dose_category"] = (None if total is None
                            else DOSE_CATEGORIES.get(round(total, 3), "other"))
    out["spray_devices"] = sum(d.unit_count for d in sprays) if sprays else None
    lots = list(dict.fromkeys(d.lot for d in sprays if d.lot))
    out["lot_numbers"] = lots or None

    # times
    end = report.end_time
    out["first_spray_at_utc"] = iso_utc(anchor) if anchor is not None else None
    out["first_spray_at_local"] = local_iso(anchor)
    out["end_of_monitoring_at_utc"] = iso_utc(end) if end is not None else None
    out["end_of_monitoring_at_local"] = local_iso(end)
    out["total_minutes_first_spray_to_end"] = (
        math.floor((end - anchor) / 60 + 0.5) if anchor is not None and end is not None else None
    )
    ready = discharge.data.get("ready_to_leave_at") if discharge is not None else None
    out["ready_to_leave_at_utc"] = iso_utc(ready) if ready is not None else None
    out["ready_to_leave_at_local"] = local_iso(ready)

    # vital signs
    if gate is not None:
        out["vitals_acceptable_before_dosing"] = bool(gate.data.get("passed"))
        if not gate.data.get("passed"):
            notes.append(
                "Pre-dose gate not passed: " + "; ".join(gate.data.get("problems", []))
                + f"; dosed with an override: {gate.data.get('override_reason') or '-'}"
            )
    else:
        out["vitals_acceptable_before_dosing"] = None
    criteria = discharge.data.get("criteria", {}) if discharge is not None else {}
    vitals = criteria.get("vitals_within_limits")
    out["vitals_acceptable_before_leaving"] = (
        bool(vitals.get("met")) if isinstance(vitals, dict) and "met" in vitals else None
    )

    before = None
    if gate is not None and gate.data.get("systolic") is not None:
        t = gate.data.get("nibp_time")
        before = {
            "systolic": gate.data.get("systolic"),
            "diastolic": gate.data.get("diastolic"),
            "mean": None,
            "time_utc": iso_utc(t) if t is not None else None,
            "time_local": local_iso(t),
            "minutes_after_first_spray": None if t is None or anchor is None
            else round((t - anchor) / 60, 1),
            "reading": "the NIBP reading checked by the pre-dose gate",
        }
        if t is not None:
            match = report.nibp_nearest(t, 1.0)
            if match is not None:
                before["mean"] = match.mean
    elif anchor is not None:
        before = _bp(report.nibp_before(anchor), anchor,
                     "the last NIBP reading before the first spray (no gate recorded)")
    out["bp_before_dosing"] = before

    at_40 = None
    if anchor is not None:
        reading = report.nibp_nearest(anchor + BP_40_MIN_S, BP_40_WINDOW_S)
        if reading is not None:
            at_40 = _bp(reading, anchor,
                        f"the NIBP reading nearest to 40 min after the first spray "
                        f"(within {BP_40_WINDOW_S / 60:.0f} min): taken "
                        f"{_minutes_text(reading.time - anchor)[1:]} after it")
        else:
            recheck = [e for e in report.workflow if e.data.get("prompt_id") == "bp_recheck"
                       and e.data.get("note")]
            notes.append(
                f"No NIBP reading within {BP_40_WINDOW_S / 60:.0f} min of 40 min after the first "
                "spray." + (f" BP re-check note: {recheck[-1].data['note']}" if recheck else "")
            )
    out["bp_at_40_min"] = at_40
    last = report.nibp_before(end) if end is not None else None
    if last is not None and anchor is not None and last.time < anchor:
        notes.append("The last NIBP reading before the end was taken before the first spray.")
    out["bp_before_leaving"] = _bp(last, anchor, "the last NIBP reading before the end of "
                                                 "monitoring")

    # assessments after the first spray
    after = [o.assessment for o in report.observations
             if anchor is not None and o.time >= anchor]
    moaas = [a.moaas for a in after if a.moaas is not None]
    cadss = [a.cadss_total for a in after if a.cadss_total is not None]
    respiratory = [a.respiratory for a in after if a.respiratory is not None]
    # The clinical rules (MOAA/S < 5, CADSS > 0) are the assessment's own.
    sedated = [a.sedated for a in after if a.sedated is not None]
    dissociated = [a.dissociated for a in after if a.dissociated is not None]
    out["sedation"] = any(sedated) if sedated else None
    out["lowest_moaas"] = min(moaas) if moaas else None
    out["dissociation"] = any(dissociated) if dissociated else None
    out["highest_cadss_total"] = max(cadss) if cadss else None
    out["respiratory_depression"] = (
        any(r != "normal" for r in respiratory) if respiratory else None
    )
    out["respiratory_statuses"] = sorted(set(respiratory)) or None
    spo2 = report.numerics.get(VitalKind.SPO2)
    out["pulse_oximetry_used"] = True if spo2 is not None and len(spo2) else None
    out["lowest_spo2"] = float(spo2.values.min()) if spo2 is not None and len(spo2) else None

    out["missing"] = [name for name in LABELS if out.get(name) is None]
    out["notes"] = notes
    return out


# -- the PDF -------------------------------------------------------------------------------------


def _value_text(name: str, value: Any, fields: dict[str, Any]) -> str:
    if value is None:
        return "MISSING (not recorded)"
    if isinstance(value, bool):
        text = "Yes" if value else "No"
        extra = {"sedation": ("lowest MOAA/S", "lowest_moaas"),
                 "dissociation": ("highest CADSS total", "highest_cadss_total"),
                 "pulse_oximetry_used": ("lowest SpO2 %", "lowest_spo2")}.get(name)
        if extra is not None and fields.get(extra[1]) is not None:
            text += f" ({extra[0]} {fields[extra[1]]:g})"
        return text
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):  # a BP reading
        dia = "-" if value["diastolic"] is None else f"{value['diastolic']:.0f}"
        text = f"{value['systolic']:.0f}/{dia} mmHg"
        when = value.get("time_local")
        if when:
            text += f" at {when[11:19]}"
        return f"{text} ({value['reading']})"
    if name.endswith("_local"):
        return local_text(_epoch(fields[name.replace("_local", "_utc")]))
    if name == "dose_mg":
        return f"{value:g} mg"
    return str(value)


def _epoch(utc: str) -> float:
    return parse_iso_utc(utc)


def render_pdf(report: ReportData, fields: dict[str, Any]) -> bytes:
    pdf = ReportPdf(report, title="REMS Patient Monitoring Form fields")
    pdf.add_page()
    pdf.heading("Spravato REMS Patient Monitoring Form: fields from the record")
    pdf.para(
        "Filled from the recorded session for transcription to the REMS form; every value is as "
        "recorded, and MISSING means it was not recorded. Times are local "
        f"({utc_offset(report.exported_at)}).",
        size=8,
    )
    pdf.ln(1)
    for name, label in LABELS.items():
        text = _value_text(name, fields.get(name), fields)
        pdf.set_font("helvetica", "B", 8.5)
        pdf.cell(70, 5, clean(label), new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.set_font("helvetica", "B" if text.startswith("MISSING") else "", 8.5)
        pdf.set_text_color(*(RED if text.startswith("MISSING") else INK))
        pdf.multi_cell(0, 5, clean(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(*INK)
    if fields["missing"]:
        pdf.ln(2)
        pdf.para("Missing: " + ", ".join(fields["missing"]), bold=True, colour=RED)
    if fields["notes"]:
        pdf.subheading("Notes")
        for note in fields["notes"]:
            pdf.para(f"- {note}")
    pdf.ln(2)
    pdf.para(f"Session {report.session.id} ({report.session.uuid}), client "
             f"{report.session.client_id}; record {report.signature.label} at export "
             f"({utc_text(report.exported_at)}).", size=7.5)
    return bytes(pdf.output())
