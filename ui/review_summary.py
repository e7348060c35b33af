"""The review's summary panel: what a session amounted to, beside its timeline.

Doses, the signature's status (checked when the session is opened: verified / unsigned /
invalid), per parameter the pre-dose baseline, the peak and lowest values after the first dose
with their times and minutes after it, and the time outside limits; alarms by priority with
the mean time to acknowledge; the schedule's compliance; assessments and notes; each recording
gap (what was not recorded, and why). Everything is
decided in :mod:`katmonitor.review`; this only renders it.
"""

from __future__ import annotations

import html
from datetime import datetime

from PySide6.QtWidgets import QTextBrowser, QWidget

from katmonitor.base.vitals import VitalKind, spec_of
from katmonitor.record_signing import VerificationReport
from katmonitor.review import Extreme, SessionReview, dose_label
from ui import theme

SIGNATURE_COLOURS = {"verified": theme.WORKFLOW_OK, "unsigned": theme.TEXT_DIM,
                     "invalid": theme.ALARM, "untrusted": theme.TECHNICAL_ALARM}


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%H:%M:%S")


def _value(kind: VitalKind, value: float | None) -> str:
    if value is None:
        return "-"
    spec = spec_of(kind)
    return f"{value:.{spec.decimals}f}"


def _extreme(kind: VitalKind, e: Extreme | None) -> str:
    if e is None:
        return "-"
    when = (_clock(e.time) if e.minutes_after_dose is None
            else f"{e.minutes_after_dose:+.0f} min")
    return f"<b>{_value(kind, e.value)}</b> {when}"


def signature_text(report: VerificationReport | None) -> str:
    if report is None:
        return "checking…"
    if report.status == "verified":
        s = report.signer or {}
        return f"VERIFIED - signed by {s.get('printed_name') or s.get('user')}"
    if report.status == "invalid":
        return f"INVALID - {report.problems[0] if report.problems else 'does not verify'}"
    if report.status == "untrusted":
        return ("NOT TRUSTED - intact, but signed with a key this clinic does not trust"
                + (f" ({report.untrusted[0]})" if report.untrusted else ""))
    return "UNSIGNED"


def summary_html(review: SessionReview, report: VerificationReport | None) -> str:
    s, summary = review.session, review.summary
    e = html.escape
    colour = SIGNATURE_COLOURS.get(report.status if report else "", theme.TEXT_DIM)
    out = [
        f"<h3>Session {s.id} · client {e(s.client_id)}</h3>",
        f"<p>{datetime.fromtimestamp(s.started_at):%Y-%m-%d %H:%M} · {e(s.route.label)} · "
        f"{e(s.status.value)}{' · TRAINING' if s.training else ''}</p>",
        f"<p>Signature: <b style='color:{colour}'>{e(signature_text(report))}</b></p>",
        *(f"<p style='color:{theme.TECHNICAL_ALARM}'>Recording gap: {e(g.text(_clock))}</p>"
          for g in review.gaps),
        "<h4>Doses</h4><ul>",
        *(f"<li>{_clock(d.time)} {e(dose_label(d))} (by {e(d.given_by)})</li>"
          for d in review.doses),
        "</ul>" if review.doses else "</ul><p>No dose recorded.</p>",
        f"<p>Total {summary.total_mg:g} mg</p>",
        "<h4>Vitals</h4><p>Peak and lowest after the first dose (minutes after it); "
        "outside limits: time with a low/high limit alarm on.</p>",
        "<table cellspacing='4'><tr><th align='left'></th><th>baseline</th><th>peak</th>"
        "<th>lowest</th><th>outside limits</th></tr>",
    ]
    for kind, p in summary.parameters.items():
        if p.peak is None and p.baseline is None:
            continue
        out.append(
            f"<tr><td>{e(spec_of(kind).label)}</td><td>{_value(kind, p.baseline)}</td>"
            f"<td>{_extreme(kind, p.peak)}</td><td>{_extreme(kind, p.lowest)}</td>"
            f"<td>{p.seconds_outside_limits / 60:.1f} min</td></tr>"
        )
    out.append("</table>")
    a = summary.alarms
    ack = summary.mean_seconds_to_acknowledge
    out += [
        "<h4>Alarms</h4>",
        f"<p>high {a['high']} · medium {a['medium']} · low {a['low']} · technical "
        f"{summary.technical_alarms}"
        + ("" if ack is None else f" · acknowledged after {ack:.0f} s on average") + "</p>",
        "<h4>Schedule</h4>",
        f"<p>done {summary.schedule_done} · late {summary.schedule_late} · missed "
        f"{summary.schedule_missed}</p><ul>",
        *(f"<li>{e(c.label)}: {e(c.status)}</li>" for c in review.schedule
          if c.status != "done"),
        "</ul><h4>Assessments</h4><ul>",
        *(f"<li>{_clock(x.time)} {e(x.summary)}</li>" for x in review.assessments),
        "</ul><h4>Notes</h4><ul>",
        *(f"<li>{_clock(n.time)} {e(n.text)} - {e(n.author)}"
          f"{' (signed addendum)' if n.addendum_id else ''}</li>" for n in review.notes),
        "</ul>",
    ]
    return "".join(out)


class ReviewSummaryPanel(QTextBrowser):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(420)
        self.review: SessionReview | None = None
        self.report: VerificationReport | None = None

    def show_review(self, review: SessionReview, report: VerificationReport | None) -> None:
        self.review, self.report = review, report
        self.setHtml(summary_html(review, report))

    def show_signature(self, report: VerificationReport) -> None:
        if self.review is not None:
            self.show_review(self.review, report)
