"""The clinical report of one session as a PDF (fpdf2: pure Python, vector drawing).

Sections: the session; doses (route, mg, devices/tablets, lot, mg/kg, swallow/spit); the
pre-dose steps (identity check, eligibility answers, the gate's values and any override with
its reason); the vital-sign plots (HR and PR, SpO2, NIBP) with dose and alarm markers and the
NIBP readings; observations and assessments; the schedule's compliance (reconstructed from the
record); alarms; discharge; the signature's manifestation and its status at export time
(VERIFIED / UNSIGNED / INVALID). Every page's header names the session (id, uuid) and the client
and says whether the record is signed; a training session says TRAINING on every page.

Plots are reduced to what the page can show: each plot column (0.3 mm) draws the lowest and
highest valid value in its time span, so a 4-hour session costs the same as a short one. The
pleth waveform is not plotted (the CSV export has every point). Times are the workstation's
local time with the UTC offset stated; the signature and the session's start and end are also
given in UTC.

Text uses the PDF core font (Helvetica, Windows-1252): a character outside it (e.g. CJK in a
name) is printed as ``<U+XXXX>`` rather than dropped.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import cast

import numpy as np
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from katmonitor.alarms.model import ACKNOWLEDGE, END, ONSET, AlarmEvent, Priority
from katmonitor.assessments import RESPIRATORY_LABELS
from katmonitor.base.vitals import VitalKind
from katmonitor.discharge import (
    DISSOCIATION_RESOLVED,
    ESCORT_TRANSPORT,
    MOAAS_5,
    OBSERVATION_MINIMUM,
    RESPIRATORY_NORMAL,
    VITALS_WITHIN_LIMITS,
)
from katmonitor.dose_totals import dose_total_text, unit_count_text
from katmonitor.exports import DEFAULT_OPTIONS, ExportOptions
from katmonitor.exports.files import write_bytes_atomically
from katmonitor.exports.report_data import (
    ReportData,
    Series,
    load_report,
    local,
    local_clock,
    local_text,
    utc_offset,
    utc_text,
)
from katmonitor.readings import format_age
from katmonitor.session import Route, WorkflowEvent, WorkflowKind
from katmonitor.storage.store import SessionStore

PAGE_FORMAT = "letter"
MARGIN = 12.0
COLUMN_MM = 0.3
"""Width of one plot column: each draws the min and max of its time span."""
GAP_S = 30.0
"""A trend line breaks where no valid value was recorded for this long."""
MAX_ALARM_ROWS = 200
CRITERIA_ORDER = (
    OBSERVATION_MINIMUM,
    VITALS_WITHIN_LIMITS,
    MOAAS_5,
    DISSOCIATION_RESOLVED,
    RESPIRATORY_NORMAL,
    ESCORT_TRANSPORT,
)

INK = (20, 20, 20)
GREY = (120, 120, 120)
LIGHT = (215, 215, 215)
RED = (200, 0, 0)
DOSE = (120, 40, 160)
PRIORITY_COLOURS = {
    Priority.HIGH: (210, 0, 0),
    Priority.MEDIUM: (235, 150, 0),
    Priority.LOW: (0, 160, 200),
}
SERIES_COLOURS = {
    VitalKind.HR: (0, 120, 0),
    VitalKind.PULSE_RATE: (0, 90, 200),
    VitalKind.SPO2: (0, 90, 200),
}
PLOT_KINDS = {
    "hr": (VitalKind.HR, VitalKind.PULSE_RATE),
    "spo2": (VitalKind.SPO2,),
    "nibp": (VitalKind.NIBP_SYSTOLIC, VitalKind.NIBP_DIASTOLIC, VitalKind.NIBP_MEAN),
}
ALARM_PLOT = {
    "hr": "hr",
    "pulse_rate": "hr",
    "spo2": "spo2",
    "nibp_systolic": "nibp",
    "nibp_diastolic": "nibp",
    "nibp_mean": "nibp",
}


def write_pdf_export(
    store: SessionStore, session_id: int, out: Path, options: ExportOptions = DEFAULT_OPTIONS
) -> list[Path]:
    report = load_report(store, session_id, care_plan=options.care_plan)
    return [write_pdf(report, out, overwrite=options.overwrite)]


def write_pdf(report: ReportData, out: Path, *, overwrite: bool = False) -> Path:
    return write_bytes_atomically(out, render(report), overwrite=overwrite)


def render(report: ReportData) -> bytes:
    pdf = ReportPdf(report)
    pdf.add_page()
    _summary(pdf, report)
    _doses(pdf, report)
    _predose(pdf, report)
    _vitals(pdf, report)
    _observations(pdf, report)
    _schedule(pdf, report)
    _alarms(pdf, report)
    _discharge(pdf, report)
    _signature(pdf, report)
    return bytes(pdf.output())


# -- the document ------------------------------------------------------------------------------


def clean(text: object) -> str:
    """Text the core font can print: Windows-1252, anything else as ``<U+XXXX>``."""
    s = str(text)
    try:
        s.encode("cp1252")
        return s
    except UnicodeEncodeError:
        out = []
        for ch in s:
            try:
                ch.encode("cp1252")
                out.append(ch)
            except UnicodeEncodeError:
                out.append(f"<U+{ord(ch):04X}>")
        return "".join(out)


class ReportPdf(FPDF):
    def __init__(self, report: ReportData, title: str = "session report") -> None:
        super().__init__(orientation="P", unit="mm", format=PAGE_FORMAT)
        self.report = report
        self.report_title = title
        self.core_fonts_encoding = "windows-1252"
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=14)
        s = report.session
        self.set_title(clean(f"KAT Monitor {title}: session {s.id}, client {s.client_id}"))
        self.set_author("KAT Monitor")
        self.set_creator("KAT Monitor")
        self.set_creation_date(local(report.exported_at))
        self.alias_nb_pages()

    def header(self) -> None:
        r = self.report
        s = r.session
        self.set_text_color(*INK)
        self.set_font("helvetica", "B", 10)
        self.cell(0, 5, clean(f"KAT Monitor - {self.report_title}"), new_x=XPos.LMARGIN,
                  new_y=YPos.TOP)
        self.set_font("helvetica", "", 9)
        self.cell(0, 5, clean(f"Session {s.id}   Client ID {s.client_id}"), align="R",
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("helvetica", "", 7.5)
        self.cell(0, 4, clean(f"uuid {s.uuid}"), new_x=XPos.LMARGIN, new_y=YPos.TOP)
        signature = r.signature
        self.set_font("helvetica", "B", 7.5)
        if signature.status != "verified":
            self.set_text_color(*RED)
        self.cell(0, 4, clean(f"Record: {signature.label}"), align="R",
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        if s.training:
            self.set_fill_color(*RED)
            self.set_text_color(255, 255, 255)
            self.set_font("helvetica", "B", 11)
            self.cell(0, 6, "TRAINING SESSION - not a clinical record", align="C", fill=True,
                      new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_text_color(*INK)
        self.set_draw_color(*GREY)
        self.set_line_width(0.2)
        self.line(MARGIN, self.get_y() + 1, self.w - MARGIN, self.get_y() + 1)
        self.ln(3)

    def footer(self) -> None:
        r = self.report
        self.set_y(-11)
        self.set_font("helvetica", "", 7)
        self.set_text_color(*GREY)
        mode = "TRAINING - " if r.session.training else ""
        self.cell(0, 4, clean(
            f"{mode}Exported {utc_text(r.exported_at)} = {local_text(r.exported_at)}. "
            f"Local times are {utc_offset(r.exported_at)} unless marked UTC."),
            new_x=XPos.LMARGIN, new_y=YPos.TOP)
        self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(*INK)

    # -- building blocks -----------------------------------------------------------------------

    @property
    def width(self) -> float:
        return self.w - 2 * MARGIN

    def heading(self, text: str, *, new_page: bool = False) -> None:
        if new_page or self.get_y() > self.h - 40:
            self.add_page()
        else:
            self.ln(3)
        self.set_font("helvetica", "B", 12)
        self.set_text_color(*INK)
        self.cell(0, 7, clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def subheading(self, text: str) -> None:
        if self.get_y() > self.h - 30:
            self.add_page()
        self.ln(1)
        self.set_font("helvetica", "B", 9.5)
        self.cell(0, 5.5, clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def para(self, text: str, *, size: float = 8.5, bold: bool = False,
             colour: tuple[int, int, int] = INK) -> None:
        self.set_font("helvetica", "B" if bold else "", size)
        self.set_text_color(*colour)
        self.multi_cell(0, size * 0.48, clean(text), align="L", new_x=XPos.LMARGIN,
                        new_y=YPos.NEXT)
        self.set_text_color(*INK)

    def fields(self, pairs: Sequence[tuple[str, object]], *, key_width: float = 45) -> None:
        """Label: value lines."""
        for key, value in pairs:
            self.set_font("helvetica", "B", 8.5)
            self.cell(key_width, 4.4, clean(key), new_x=XPos.RIGHT, new_y=YPos.TOP)
            self.set_font("helvetica", "", 8.5)
            self.multi_cell(0, 4.4, clean(value if value not in (None, "") else "-"),
                            align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def ruled_table(self, header: Sequence[str], rows: Iterable[Sequence[object]],
              widths: Sequence[float], *, size: float = 7.5) -> None:
        """A ruled table with wrapped cells and the header repeated on each page.

        Drawn with the low-level text and line operators and our own word wrap: fpdf2's
        ``table()`` lays out every cell with ``multi_cell`` (about 1 ms a cell), which made a
        long alarm list cost seconds."""
        texts = [[clean("-" if v is None or v == "" else v) for v in values] for values in rows]
        if not texts:
            return
        scale = self.width / sum(widths)
        widths = [w * scale for w in widths]
        pad = 0.8
        line_h = size * 0.42
        self.set_draw_color(*LIGHT)
        self.set_line_width(0.2)
        self.set_text_color(*INK)

        def draw(cells: list[list[str]], bold: bool) -> None:
            height = max(len(c) for c in cells) * line_h + 2 * pad
            if self.get_y() + height > self.page_break_trigger:
                self.add_page()
                if not bold:
                    draw(head, True)
            y = self.get_y()
            x = self.l_margin
            if bold:
                self.set_fill_color(235, 235, 235)
                self.rect(x, y, self.width, height, style="DF")
            self.set_font("helvetica", "B" if bold else "", size)
            for lines, w in zip(cells, widths, strict=True):
                self.rect(x, y, w, height)
                for i, line in enumerate(lines):
                    self.text(x + pad, y + pad + (i + 0.78) * line_h, line)
                x += w
            self.set_y(y + height)

        self.set_font("helvetica", "B", size)
        head = [self.wrap(str(h), w - 2 * pad) for h, w in zip(header, widths, strict=True)]
        draw(head, True)
        self.set_font("helvetica", "", size)
        for values in texts:
            draw([self.wrap(v, w - 2 * pad) for v, w in zip(values, widths, strict=True)], False)
        self.set_draw_color(*INK)
        self.set_x(self.l_margin)

    def text_width(self, text: str) -> float:
        """Width of ``text`` in the current core font (the font's metrics, no fpdf2 call)."""
        font = self.current_font
        assert font is not None, "a font is set before text is measured"
        # Character widths keyed by the character (fpdf2's annotation says int; it is str).
        cw = cast(dict[str, float], font.cw)
        encoded = text.encode("cp1252", "replace").decode("latin-1")
        return sum(cw.get(ch, 500) for ch in encoded) * self.font_size / 1000

    def wrap(self, text: str, width: float) -> list[str]:
        """Greedy word wrap to ``width`` mm; a word longer than the width is cut."""
        lines: list[str] = []
        space = self.text_width(" ")
        for paragraph in text.splitlines() or [""]:
            line, used = "", 0.0
            for word in paragraph.split(" "):
                w = self.text_width(word)
                while w > width and len(word) > 1:  # cut a long word (uuids, hashes)
                    cut = len(word)
                    while cut > 1 and self.text_width(word[:cut]) > width:
                        cut -= 1
                    if line:
                        lines.append(line)
                    lines.append(word[:cut])
                    line, used = "", 0.0
                    word = word[cut:]
                    w = self.text_width(word)
                if line and used + space + w > width:
                    lines.append(line)
                    line, used = word, w
                elif line:
                    line, used = f"{line} {word}", used + space + w
                else:
                    line, used = word, w
            lines.append(line)
        return lines


# -- sections ----------------------------------------------------------------------------------


def _minutes_after(report: ReportData, t: float | None) -> str:
    anchor = report.first_dose_at
    if t is None or anchor is None:
        return "-"
    m = (t - anchor) / 60
    return f"{m:+.0f} min" if abs(m) >= 0.5 else "0 min"


def _summary(pdf: ReportPdf, r: ReportData) -> None:
    s = r.session
    pdf.heading("Session")
    end = r.end_time
    duration = format_age(end - s.started_at) if end is not None else "not ended"
    anchor = r.first_dose_at
    care_plan = next(
        (e.data.get("care_plan") for e in reversed(r.workflow) if e.data.get("care_plan")), None
    )
    pdf.fields(
        [
            ("Client ID", s.client_id),
            ("Session", f"{s.id} (uuid {s.uuid})"),
            ("Mode", "TRAINING (not a clinical record)" if s.training else "Clinical"),
            ("Medicine / route", f"{s.medicine}, {s.route.label}"),
            ("Status", s.status.value),
            ("Workstation", s.workstation),
            ("Devices", ", ".join(s.devices) or "none"),
            ("Started", f"{local_text(s.started_at)} = {utc_text(s.started_at)}"),
            ("Ended", f"{local_text(end)} = {utc_text(end)}" if end is not None else "not ended"),
            ("Duration", duration),
            ("First dose", local_text(anchor) if anchor is not None else "no dose recorded"),
            ("Care plan", care_plan or "not recorded"),
            ("Signature", _signature_line(r)),
            *(("Recording gap", gap.text(local_text)) for gap in r.gaps),
            *(("Handover", _handover_text(r, e)) for e in r.events(WorkflowKind.HANDOVER)),
        ]
    )


def _handover_text(r: ReportData, event: WorkflowEvent) -> str:
    """A shift change: from when the next nurse was responsible for the session."""
    d = event.data
    note = f"; note: {d['note']}" if d.get("note") else ""
    before = r.full_name(d["from"]) if d.get("from") else "nobody"
    return f"{local_clock(event.time)} {before} -> {r.full_name(event.user)}{note}"


def _signature_line(r: ReportData) -> str:
    sig = r.signature
    if sig.status == "unsigned":
        return sig.label
    who = f"{sig.printed_name} ({sig.role}), {utc_text(sig.signed_at)}"
    if sig.status == "verified":
        return f"VERIFIED at export: signed by {who}"
    return f"INVALID at export ({len(sig.problems)} problem(s)); signed by {who}"


def _doses(pdf: ReportPdf, r: ReportData) -> None:
    pdf.heading("Doses")
    if not r.doses:
        pdf.para("No dose recorded.")
        return
    rows = []
    for i, d in enumerate(r.doses, 1):
        mg_kg = f"{d.mg_per_kg:.2f} mg/kg ({d.weight_kg:g} kg)" if d.mg_per_kg else "-"
        oral = "-"
        if d.route in (Route.SUBLINGUAL, Route.ORAL):
            done = r.oral_completion(d)
            oral = (f"{done.data.get('action')} at {local_clock(done.time)} "
                    f"({format_age(done.time - d.time)})" if done is not None
                    else "not recorded")
        rows.append((
            i, local_clock(d.time), _minutes_after(r, d.time), d.medicine, d.route.label,
            f"{d.dose_mg:g}", unit_count_text(d.route, d.unit_count), d.lot or "-", mg_kg,
            oral, d.given_by, d.note,
        ))
    pdf.ruled_table(
        ("#", "Time", "After 1st", "Medicine", "Route", "mg", "Devices/tablets", "Lot",
         "mg/kg", "Swallow/spit", "Given by", "Note"),
        rows, (5, 13, 12, 17, 18, 8, 20, 16, 17, 18, 20, 28),
    )
    events = f"{len(r.doses)} dose event" + ("s" if len(r.doses) != 1 else "")
    pdf.para(f"Total: {dose_total_text(r.doses)} ({events}).", bold=True)


def _yes_no(value: object) -> str:
    return "Yes" if value is True else "No" if value is False else "-"


def _predose(pdf: ReportPdf, r: ReportData) -> None:
    pdf.heading("Before the first dose")
    pdf.subheading("Identity check")
    checks = r.events(WorkflowKind.IDENTITY_CHECK)
    if not checks:
        pdf.para("No identity check recorded.", colour=RED)
    for e in checks:
        note = f"; note: {e.data.get('note')}" if e.data.get("note") else ""
        pdf.para(f"{local_clock(e.time)} by {r.full_name(e.user)}: client {e.data.get('client_id')}"
                 f" checked by {e.data.get('method')}{note}")
    pdf.subheading("Eligibility checklist")
    checklists = r.events(WorkflowKind.ELIGIBILITY)
    if not checklists:
        pdf.para("No eligibility checklist recorded.", colour=RED)
    in_force = r.eligibility
    for e in checklists:
        label = "in force at the first dose" if e is in_force else "superseded"
        pdf.para(f"{local_clock(e.time)} by {r.full_name(e.user)} ({label}; care plan "
                 f"{e.data.get('care_plan', '-')})")
        answers = e.data.get("answers", {})
        questions = e.data.get("questions", {})
        concerns = set(e.data.get("concerns", []))
        order = {item.id: i for i, item in enumerate(r.plan.eligibility)}
        ids = sorted(answers, key=lambda k: (order.get(k, len(order)), k))
        pdf.ruled_table(
            ("Question", "Answer", "Concern"),
            [(questions.get(k, k), _yes_no(answers[k]), "CONCERN" if k in concerns else "")
             for k in ids],
            (150, 20, 22),
        )
        if concerns:
            reason = e.data.get("override_reason") or "none recorded"
            pdf.para(f"Concerns: {', '.join(sorted(concerns))}. Override reason: {reason}",
                     bold=True)
    pdf.subheading("Pre-dose gate")
    gate = r.gate
    if gate is None:
        pdf.para("No pre-dose gate recorded." if r.doses else "Not reached (no dose).",
                 colour=RED if r.doses else INK)
        return
    d = gate.data
    bp = ("not measured" if d.get("systolic") is None
          else f"{d['systolic']:.0f}/{d['diastolic']:.0f} mmHg at {local_clock(d.get('nibp_time'))}"
          if d.get("diastolic") is not None else f"{d['systolic']:.0f}/- mmHg")
    hr = "-" if d.get("heart_rate") is None else f"{d['heart_rate']:.0f}/min"
    result = "PASSED" if d.get("passed") else "NOT PASSED - dose given with an override"
    rows = [
        ("Evaluated", f"{local_clock(gate.time)} by {r.full_name(gate.user)} (at the first dose)"),
        ("Blood pressure", bp),
        ("Heart rate", hr),
        ("Limits", d.get("limits", "-")),
        ("Result", result),
    ]
    if d.get("problems"):
        rows.append(("Problems", "; ".join(d["problems"])))
    if d.get("override_reason"):
        rows.append(("Override reason", d["override_reason"]))
    pdf.fields(rows)


def _vitals(pdf: ReportPdf, r: ReportData) -> None:
    pdf.heading("Vital signs", new_page=True)
    # Readings kept from just before the start (the pre-session baseline) are on the axis too.
    t0 = min([s.times[0] for s in r.numerics.values() if len(s)] + [r.session.started_at])
    last = max([s.times[-1] for s in r.numerics.values() if len(s)] + [t0])
    t1 = r.end_time if r.end_time is not None else last
    t1 = max(t1, last, t0 + 60)
    span = t1 - t0
    width = pdf.width - 14
    columns = max(1, int(width / COLUMN_MM))
    pdf.para(
        f"{local_text(t0, seconds=False)} to {local_clock(t1)[:5]}. Each plot column shows the "
        f"lowest and highest valid value in its {span / columns:.0f} s; NIBP readings as bars "
        "from diastolic to systolic with the mean as a tick. Doses: purple dashed lines; alarm "
        "onsets: triangles (red high, orange medium, cyan low; grey technical). The pleth "
        "waveform is not plotted in this report (the CSV export has every point).",
        size=7.5,
    )
    pdf.ln(1)
    x = MARGIN + 12
    height = 52
    onsets = [a for a in r.alarms if a.event == ONSET]
    for key, title, unit in (("hr", "Heart rate", "/min"), ("spo2", "SpO2", "%"),
                             ("nibp", "NIBP", "mmHg")):
        y = pdf.get_y() + 4
        series = [r.numerics[k] for k in PLOT_KINDS[key] if k in r.numerics]
        alarms = [a for a in onsets if ALARM_PLOT.get(a.kind) == key]
        _plot(pdf, r, key, title, unit, series, alarms, x, y, width, height, t0, t1, columns)
        pdf.set_y(y + height + 8)
    others = [a for a in onsets if a.kind not in ALARM_PLOT]
    if others:
        y = pdf.get_y()
        pdf.set_font("helvetica", "", 7)
        pdf.set_xy(MARGIN, y)
        pdf.cell(12, 4, "Other")
        pdf.set_draw_color(*LIGHT)
        pdf.rect(x, y, width, 5)
        for a in others:
            _alarm_marker(pdf, a, x + (a.time - t0) / span * width, y + 0.5)
        pdf.set_y(y + 7)
        pdf.para("Other: alarms about devices or the alarm system (technical).", size=7)
    _nibp_table(pdf, r)


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _y_range(key: str, series: Sequence[Series]) -> tuple[float, float]:
    values = [s.values for s in series if len(s)]
    if not values:
        return {"hr": (40, 120), "spo2": (85, 100), "nibp": (40, 180)}[key]
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    if key == "spo2":
        return min(lo - 2, 90), 100.5
    pad = max((hi - lo) * 0.1, 5)
    return lo - pad, hi + pad


def reduce_columns(
    times: np.ndarray, values: np.ndarray, t0: float, t1: float, columns: int
) -> tuple[np.ndarray, ...]:
    """Per occupied plot column: its index, min, max, first and last time (times sorted)."""
    col = ((times - t0) / (t1 - t0) * columns).astype(np.int64).clip(0, columns - 1)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    ends = np.r_[starts[1:] - 1, times.size - 1]
    return (
        col[starts],
        np.minimum.reduceat(values, starts),
        np.maximum.reduceat(values, starts),
        times[starts],
        times[ends],
    )


def _plot(
    pdf: ReportPdf, r: ReportData, key: str, title: str, unit: str, series: Sequence[Series],
    alarms: Sequence[AlarmEvent], x: float, y: float, w: float, h: float, t0: float, t1: float,
    columns: int,
) -> None:
    span = t1 - t0
    lo, hi = _y_range(key, series)

    def ty(v: float) -> float:
        return y + h - (v - lo) / (hi - lo) * h

    def tx(t: float) -> float:
        return x + (t - t0) / span * w

    pdf.set_font("helvetica", "B", 8.5)
    pdf.set_xy(x, y - 4.5)
    names = {VitalKind.HR: "HR", VitalKind.PULSE_RATE: "PR (oximeter)", VitalKind.SPO2: "SpO2"}
    legend = ", ".join(names[s.kind] for s in series if s.kind in names)
    pdf.cell(w, 4, clean(f"{title} ({unit})" + (f": {legend}" if legend and key == "hr" else "")))
    # grid and axes
    pdf.set_line_width(0.15)
    pdf.set_draw_color(*LIGHT)
    pdf.set_font("helvetica", "", 6.5)
    step = _nice_step(hi - lo, 5)
    v = math.ceil(lo / step) * step
    while v <= hi:
        pdf.line(x, ty(v), x + w, ty(v))
        pdf.set_xy(x - 11, ty(v) - 1.5)
        pdf.cell(10, 3, f"{v:g}", align="R")
        v += step
    tick = _nice_step(span / 60, 8) * 60
    tick = min((m * 60 for m in (1, 2, 5, 10, 15, 20, 30, 60, 120) if m * 60 >= tick),
               default=tick)
    offset = local(t0).utcoffset()
    shift = offset.total_seconds() if offset is not None else 0.0
    t = math.ceil((t0 + shift) / tick) * tick - shift
    while t <= t1:
        pdf.line(tx(t), y, tx(t), y + h)
        pdf.set_xy(tx(t) - 6, y + h + 0.3)
        pdf.cell(12, 3, local_clock(t)[:5], align="C")
        t += tick
    pdf.set_draw_color(*GREY)
    pdf.rect(x, y, w, h)
    # doses
    pdf.set_draw_color(*DOSE)
    pdf.set_text_color(*DOSE)
    pdf.set_line_width(0.3)
    with pdf.local_context():
        pdf.set_dash_pattern(1.2, 0.8)
        for d in r.doses:
            pdf.line(tx(d.time), y, tx(d.time), y + h)
    if key == "hr":
        pdf.set_font("helvetica", "", 6.5)
        row_ends: list[float] = []  # labels of close doses go on the next row down
        for i, d in enumerate(r.doses, 1):
            label = clean(f"D{i} {d.dose_mg:g} mg")
            left = tx(d.time) + 0.5
            row = next((k for k, end in enumerate(row_ends) if left > end), len(row_ends))
            if row == len(row_ends):
                row_ends.append(0.0)
            row_ends[row] = left + pdf.get_string_width(label) + 1
            pdf.set_xy(left, y + 0.5 + row * 3)
            pdf.cell(pdf.get_string_width(label) + 1, 3, label)
    pdf.set_text_color(*INK)
    # data
    if key == "nibp":
        _draw_nibp(pdf, r, tx, ty)
    else:
        for s in series:
            _draw_series(pdf, s, t0, t1, columns, x, w, ty)
    if not any(len(s) for s in series):
        pdf.set_xy(x, y + h / 2 - 2)
        pdf.set_font("helvetica", "I", 8)
        pdf.cell(w, 4, "no valid values recorded", align="C")
    for a in alarms:
        _alarm_marker(pdf, a, tx(a.time), y + 0.3)


def _draw_series(pdf: ReportPdf, s: Series, t0: float, t1: float, columns: int, x: float,
                 w: float, ty) -> None:
    if not len(s):
        return
    cols, mins, maxs, first, last = reduce_columns(s.times, s.values, t0, t1, columns)
    xs = x + (cols + 0.5) / columns * w
    y_min = [ty(v) for v in mins.tolist()]
    y_max = [ty(v) for v in maxs.tolist()]
    breaks = np.flatnonzero(first[1:] - last[:-1] > GAP_S) + 1
    pdf.set_draw_color(*SERIES_COLOURS.get(s.kind, INK))
    pdf.set_line_width(0.25)
    bounds = [0, *breaks.tolist(), len(cols)]
    xs_list = xs.tolist()
    for a, b in itertools.pairwise(bounds):
        points: list[tuple[float, float]] = []
        for i in range(a, b):
            points.append((xs_list[i], y_min[i]))
            if y_max[i] != y_min[i]:
                points.append((xs_list[i], y_max[i]))
        if len(points) == 1:
            px, py = points[0]
            pdf.line(px - 0.4, py, px + 0.4, py)
        else:
            pdf.polyline(points)


def _draw_nibp(pdf: ReportPdf, r: ReportData, tx, ty) -> None:
    pdf.set_draw_color(180, 0, 0)
    for reading in r.nibp:
        px = tx(reading.time)
        top = ty(reading.systolic)
        bottom = ty(reading.diastolic) if reading.diastolic is not None else top
        pdf.set_line_width(0.5)
        pdf.line(px, top, px, bottom)
        pdf.set_line_width(0.3)
        pdf.line(px - 0.9, top, px + 0.9, top)
        pdf.line(px - 0.9, bottom, px + 0.9, bottom)
        if reading.mean is not None:
            pdf.line(px - 0.6, ty(reading.mean), px + 0.6, ty(reading.mean))


def _alarm_marker(pdf: ReportPdf, alarm: AlarmEvent, px: float, top: float) -> None:
    colour = GREY if alarm.technical or alarm.priority is None else PRIORITY_COLOURS[
        alarm.priority]
    pdf.set_fill_color(*colour)
    pdf.set_draw_color(*colour)
    pdf.set_line_width(0.1)
    pdf.polygon([(px - 1.1, top), (px + 1.1, top), (px, top + 1.9)], style="F")


def _nibp_table(pdf: ReportPdf, r: ReportData) -> None:
    pdf.subheading("NIBP readings")
    if not r.nibp:
        pdf.para("No NIBP reading recorded.")
        return
    pdf.ruled_table(
        ("Time", "After 1st dose", "Systolic/diastolic (mean)", "Source"),
        [(local_clock(n.time), _minutes_after(r, n.time), n.text(), n.source) for n in r.nibp],
        (30, 30, 70, 62),
    )


def _observations(pdf: ReportPdf, r: ReportData) -> None:
    pdf.heading("Observations and assessments", new_page=True)
    if not r.observations:
        pdf.para("No observation recorded.")
        return
    rows = []
    for o in r.observations:
        a = o.assessment
        cadss = "-"
        if a.cadss:
            form = "CADSS-6" if a.cadss_form == "cadss6" else "CADSS"
            items = ", ".join(f"{k}:{v}" for k, v in sorted(a.cadss.items()))
            cadss = f"{form} {a.cadss_total} ({items})"
        rows.append((
            local_clock(o.time), _minutes_after(r, o.time), o.author,
            "-" if a.moaas is None else a.moaas, cadss, a.nausea or "-", a.anxiety or "-",
            RESPIRATORY_LABELS[a.respiratory] if a.respiratory else "-",
            a.therapist_present or "-", o.text or "-",
        ))
    pdf.ruled_table(
        ("Time", "After 1st", "By", "MOAA/S", "CADSS", "Nausea", "Anxiety", "Respiratory",
         "Therapist present", "Text"),
        rows, (13, 12, 20, 13, 26, 14, 14, 20, 20, 40),
    )


def _schedule(pdf: ReportPdf, r: ReportData) -> None:
    pdf.heading("Schedule compliance")
    rows = r.schedule()
    if not rows:
        pdf.para("No schedule: no dose was given.")
        return
    route, recorded = r.route_plan()

    def minutes(value: float | None) -> str:
        return "-" if value is None else f"{value / 60:g} min"

    source = ("recorded at the first dose" if recorded
              else f"not in the record: care plan {r.plan.name!r} used")
    pdf.para(
        f"Schedule values ({source}): BP re-check {minutes(route.bp_recheck_s)} after the first "
        f"dose, NIBP every {minutes(route.nibp_cycle_s)}, MOAA/S and CADSS every "
        f"{minutes(route.assessment_every_s)}, observation minimum "
        f"{minutes(route.observation_minimum_s)}. Reconstructed from the stored NIBP readings, "
        f"assessments and recorded completions; LATE means done more than "
        f"{r.plan.overdue_after_s / 60:g} min after due.",
        size=7.5,
    )
    counts = Counter(row.status.split(" ")[0] for row in rows)
    pdf.para(", ".join(f"{n} {k}" for k, n in sorted(counts.items())), bold=True)
    pdf.ruled_table(
        ("Prompt", "Due", "Done at", "By", "Status", "Note"),
        [
            (
                row.prompt.label,
                f"{local_clock(row.prompt.due_at)} ({_minutes_after(r, row.prompt.due_at)})",
                local_clock(row.prompt.completion.time) if row.prompt.completion else "-",
                r.full_name(row.prompt.completion.by) if row.prompt.completion else "-",
                row.status,
                row.note,
            )
            for row in rows
        ],
        (44, 30, 18, 28, 30, 42),
    )


def _alarms(pdf: ReportPdf, r: ReportData) -> None:
    pdf.heading("Alarms")
    onsets = [a for a in r.alarms if a.event == ONSET]
    if not r.alarms:
        pdf.para("No alarm events recorded.")
        return
    by_priority = Counter(
        "technical" if a.technical else (a.priority.label if a.priority else "-") for a in onsets
    )
    pdf.para(
        f"{len(onsets)} alarm onset(s)"
        + (": " + ", ".join(f"{n} {k}" for k, n in sorted(by_priority.items())) if onsets else "")
        + ".",
        bold=True,
    )
    end_time = r.end_time
    summary: dict[str, dict] = {}
    started: dict[str, float] = {}
    for a in r.alarms:
        entry = summary.setdefault(a.alarm_id, {"priority": None, "onsets": 0, "first": None,
                                                "active": 0.0, "ack": 0, "open": False})
        if a.priority is not None and (entry["priority"] is None or a.priority > entry["priority"]):
            entry["priority"] = a.priority
        if a.event == ONSET:
            entry["onsets"] += 1
            entry["first"] = entry["first"] or a.time
            started[a.alarm_id] = a.time
        elif a.event == END and a.alarm_id in started:
            entry["active"] += a.time - started.pop(a.alarm_id)
        elif a.event == ACKNOWLEDGE:
            entry["ack"] += 1
    for alarm_id, t in started.items():
        if end_time is not None:
            summary[alarm_id]["active"] += max(0.0, end_time - t)
        summary[alarm_id]["open"] = True
    rows = [
        (alarm_id, e["priority"].label if e["priority"] else "-", e["onsets"],
         local_clock(e["first"]), format_age(e["active"]) + (" (active at end)" if e["open"]
                                                              else ""), e["ack"])
        for alarm_id, e in summary.items() if e["onsets"]
    ]
    pdf.ruled_table(("Alarm", "Priority", "Onsets", "First onset", "Time active", "Acknowledged"),
              rows, (50, 22, 18, 28, 44, 30))
    pdf.subheading("Alarm events")
    shown = r.alarms[:MAX_ALARM_ROWS]
    pdf.ruled_table(
        ("Time", "Alarm", "Event", "Priority", "Value", "Limit", "By", "Message / reason"),
        [
            (local_clock(a.time), a.alarm_id, a.event, a.priority.label if a.priority else "-",
             "-" if a.value is None else f"{a.value:g}", "-" if a.limit is None else f"{a.limit:g}",
             a.user, "; ".join(p for p in (a.message, a.reason and f"reason: {a.reason}") if p))
            for a in shown
        ],
        (15, 26, 20, 15, 12, 12, 22, 70),
    )
    if len(r.alarms) > len(shown):
        pdf.para(f"{len(r.alarms) - len(shown)} more alarm event(s) are not listed here; the CSV "
                 "export has all of them.", bold=True)


def _discharge(pdf: ReportPdf, r: ReportData) -> None:
    pdf.heading("Discharge")
    event = r.discharge
    end = r.end_time
    if event is None:
        pdf.para("No discharge recorded."
                 + (f" The session ended at {local_text(end)}." if end is not None else
                    " The session has not ended."), colour=RED)
        return
    d = event.data
    ready = d.get("ready_to_leave_at")
    anchor = d.get("first_dose_at")
    pdf.fields([
        ("Discharged", f"{local_text(event.time)} by {r.full_name(event.user)}"),
        ("Ready to leave", local_text(ready) + (f" ({_minutes_after(r, ready)} after the first "
                                                "dose)" if ready is not None else "")),
        ("End of monitoring", local_text(end)),
        ("First dose to end", f"{d['minutes_first_dose_to_end']:g} min"
         if d.get("minutes_first_dose_to_end") is not None else "-"),
        ("First dose", local_text(anchor)),
    ], key_width=35)
    criteria = d.get("criteria", {})
    ids = sorted(criteria, key=lambda k: (
        CRITERIA_ORDER.index(k) if k in CRITERIA_ORDER else len(CRITERIA_ORDER), k))
    pdf.ruled_table(
        ("Criterion", "Met", "How", "Detail"),
        [
            (criteria[cid].get("label", cid), _yes_no(criteria[cid].get("met")),
             "confirmed by the nurse" if criteria[cid].get("confirmed_by_nurse")
             else "from the record",
             criteria[cid].get("detail", ""))
            for cid in ids
        ],
        (70, 12, 38, 72),
    )
    if d.get("unmet"):
        pdf.para("Not met: " + "; ".join(d["unmet"]), bold=True, colour=RED)
    if d.get("exception_reason"):
        pdf.para(f"Exception reason: {d['exception_reason']}", bold=True)


def _signature(pdf: ReportPdf, r: ReportData) -> None:
    pdf.heading("Signature")
    sig = r.signature
    pdf.set_font("helvetica", "B", 13)
    pdf.set_text_color(*(RED if sig.status != "verified" else (0, 110, 0)))
    pdf.cell(0, 8, clean(sig.label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.para(f"Verification status at export time ({utc_text(r.exported_at)}).", size=7.5)
    if sig.status == "unsigned":
        pdf.para("No nurse has signed this session: the record can still change and this report "
                 "is not a signed record.")
        return
    signed = sig.signed_at
    pdf.fields([
        ("Printed name", sig.printed_name),
        ("Role", sig.role),
        ("User", sig.user),
        ("Meaning", sig.meaning),
        ("Signed (UTC)", utc_text(signed)),
        ("Signed (local)", local_text(signed)),
        ("Key", f"id {sig.key_id}, fingerprint {sig.key_fingerprint}"),
    ], key_width=35)
    if sig.problems:
        pdf.subheading("Verification problems")
        for problem in sig.problems[:30]:
            pdf.para(f"- {problem}", colour=RED)
        if len(sig.problems) > 30:
            pdf.para(f"... and {len(sig.problems) - 30} more (katmonitor verify lists them).")
