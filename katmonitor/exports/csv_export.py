"""CSV export: the samples at ``--out`` and the events in ``<stem>-events.csv`` beside it.

Both files start with a block of ``#`` comment lines (session, units, "times are UTC
ISO-8601"; ``pandas.read_csv(..., comment="#")`` skips it), then one header row.

Samples: ``time_utc, source, kind, value, unit, status`` in time order, streamed from the store
(a 4-hour session at 100 Hz pleth is never held in memory). A numeric with no valid value has an
empty ``value`` and the reason in ``status`` (several reasons are joined with ``;``). Pleth is one
row per point by default; with ``pleth="blocks"`` one row per block with an empty value and
``status`` ``summary count=N rate_hz=R min=A max=B``.

Events: ``time_utc, type, subject, event, value, unit, priority, by, lot, text`` where ``type`` is
``dose``, ``observation`` (event ``note`` or ``assessment``: the findings then the text),
``device``, ``alarm``, ``workflow`` (event: the step's kind; text: its data as JSON) or
``recording`` for a recording gap (the recording stopped: the app was killed, the power failed,
the window was closed during the session): event ``gap_start`` at the last data before it, and
``gap_end`` at the reopening when it was reopened; text: what was not recorded and why (and the
reason given when it was closed instead). Both headers also list each gap (``recording_gap:``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from katmonitor.base.samples import Sample, WaveformBlock, iso_utc
from katmonitor.base.vitals import VITALS, VitalKind, spec_of
from katmonitor.dose_totals import unit_count_text
from katmonitor.exports import DEFAULT_OPTIONS, ExportOptions
from katmonitor.exports.files import atomic_file, refuse_existing
from katmonitor.recovery import RecordingGap, recording_gaps
from katmonitor.session import Session
from katmonitor.storage.store import SessionStore

SAMPLE_COLUMNS = ("time_utc", "source", "kind", "value", "unit", "status")
EVENT_COLUMNS = (
    "time_utc",
    "type",
    "subject",
    "event",
    "value",
    "unit",
    "priority",
    "by",
    "lot",
    "text",
)


def events_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}-events.csv")


def write_csv_export(
    store: SessionStore, session_id: int, out: Path, options: ExportOptions = DEFAULT_OPTIONS
) -> list[Path]:
    return write_csv(store, session_id, out, pleth=options.pleth, overwrite=options.overwrite)


def write_csv(
    store: SessionStore,
    session_id: int,
    out: Path,
    *,
    pleth: str = "points",
    overwrite: bool = False,
) -> list[Path]:
    """Write both files; returns their paths (samples first)."""
    if pleth not in ("points", "blocks"):
        raise ValueError(f"pleth must be 'points' or 'blocks', not {pleth!r}")
    session = store.get_session(session_id)
    gaps = recording_gaps(store, session_id)
    events_out = events_path(out)
    refuse_existing([out, events_out], overwrite=overwrite)  # both or neither
    # Both files are written before either is put in place: a failure while writing leaves
    # neither (only a failure between the two final renames could leave the events file alone).
    with (
        atomic_file(out, overwrite=overwrite, newline="") as samples,
        atomic_file(events_out, overwrite=overwrite, newline="") as events,
    ):
        _write_header(samples, session, "samples", events_out.name, pleth, gaps)
        writer = csv.writer(samples)
        writer.writerow(SAMPLE_COLUMNS)
        writer.writerows(sample_rows(store.iter_samples(session_id), pleth=pleth))
        _write_header(events, session, "events", out.name, pleth, gaps)
        writer = csv.writer(events)
        writer.writerow(EVENT_COLUMNS)
        writer.writerows(event_rows(store, session_id, gaps))
    return [out, events_out]


def sample_rows(
    items: Iterable[Sample | WaveformBlock], *, pleth: str = "points"
) -> Iterator[tuple[str, ...]]:
    for item in items:
        if isinstance(item, Sample):
            yield (
                iso_utc(item.time),
                item.source,
                str(item.kind),
                "" if item.value is None else repr(float(item.value)),
                spec_of(item.kind).unit,
                _status(item.status),
            )
        elif pleth == "blocks":
            yield (
                iso_utc(item.start_time),
                item.source,
                str(item.kind),
                "",
                spec_of(item.kind).unit,
                _block_summary(item),
            )
        else:
            unit = spec_of(item.kind).unit
            status = _status(item.status)
            kind = str(item.kind)
            for t, v in zip(item.times().tolist(), item.values.tolist(), strict=True):
                yield (iso_utc(t), item.source, kind, format(v, ".7g"), unit, status)


def event_rows(store: SessionStore, session_id: int,
               gaps: Iterable[RecordingGap] = ()) -> list[tuple[str, ...]]:
    rows: list[tuple[float, int, tuple[str, ...]]] = []
    for gap in gaps:
        text = gap.text(iso_utc)
        rows.append((gap.start, 5, (iso_utc(gap.start), "recording", "", "gap_start", "", "",
                                    "", "", "", text)))
        if gap.end is not None:
            rows.append((gap.end, 5, (iso_utc(gap.end), "recording", "", "gap_end", "", "", "",
                                      "", "", "recorded again (reopened)")))
    for d in store.doses(session_id):
        text = unit_count_text(d.route, d.unit_count) + (f"; {d.note}" if d.note else "")
        if d.weight_kg:
            text += f"; weight {d.weight_kg:g} kg ({d.mg_per_kg:.3g} mg/kg)"
        rows.append(
            (
                d.time,
                0,
                (
                    iso_utc(d.time),
                    "dose",
                    d.medicine,
                    d.route.value,
                    f"{d.dose_mg:g}",
                    "mg",
                    "",
                    d.given_by,
                    d.lot,
                    text,
                ),
            )
        )
    for o in store.observations(session_id):
        rows.append(
            (
                o.time,
                1,
                (iso_utc(o.time), "observation", "", "assessment" if not o.assessment.is_empty
                 else "note", "", "", "", o.author, "", o.summary()),
            )
        )
    for w in store.workflow_events(session_id):
        data = json.dumps(w.data, sort_keys=True, ensure_ascii=False)
        rows.append(
            (w.time, 4, (iso_utc(w.time), "workflow", "", w.kind.value, "", "", "", w.user, "",
                         data))
        )
    for s in store.device_events(session_id):
        text = "; ".join([*sorted(s.conditions), *([s.message] if s.message else [])])
        rows.append(
            (
                s.time,
                2,
                (iso_utc(s.time), "device", s.source, str(s.state), "", "", "", "", "", text),
            )
        )
    for a in store.alarm_events(session_id):
        unit = VITALS[VitalKind(a.kind)].unit if a.kind in VitalKind._value2member_map_ else ""
        details = [a.message] if a.message else []
        if a.limit is not None:
            details.append(f"limit {a.limit:g}")
        if a.reason:
            details.append(f"reason: {a.reason}")
        rows.append(
            (
                a.time,
                3,
                (
                    iso_utc(a.time),
                    "alarm",
                    a.alarm_id,
                    a.event,
                    "" if a.value is None else repr(float(a.value)),
                    unit,
                    a.priority.label if a.priority is not None else "",
                    a.user,
                    "",
                    "; ".join(details),
                ),
            )
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in rows]


def _write_header(handle: IO[str], session: Session, part: str, other: str, pleth: str,
                  gaps: Iterable[RecordingGap] = ()) -> None:
    units = ", ".join(f"{k.value}={s.unit}" for k, s in VITALS.items())
    lines = [
        f"KAT Monitor session export ({part})",
        "times are UTC ISO-8601 (e.g. 2024-01-01T09:00:00.000Z)",
        f"session_id: {session.id}",
        f"session_uuid: {session.uuid}",
        f"client_id: {session.client_id}",
        f"medicine: {session.medicine}",
        f"route: {session.route.value}",
        f"started_at: {iso_utc(session.started_at)}",
        f"ended_at: {iso_utc(session.ended_at) if session.ended_at is not None else ''}",
        f"status: {session.status.value}",
        f"mode: {'training' if session.training else 'clinical'}",
        f"devices: {', '.join(session.devices)}",
        f"workstation: {session.workstation}",
        f"units: {units}; dose in mg",
        *(f"recording_gap: {gap.text(iso_utc)}" for gap in gaps),
    ]
    if part == "samples":
        lines.append(
            "pleth: one row per point"
            if pleth == "points"
            else "pleth: one summary row per block (count, rate_hz, min, max in status)"
        )
        lines.append(f"events: {other}")
    else:
        lines.append(f"samples: {other}")
    for line in lines:
        handle.write("# " + " ".join(line.splitlines()) + "\n")


def _status(words: frozenset[str]) -> str:
    return ";".join(sorted(words))


def _block_summary(block: WaveformBlock) -> str:
    parts = ["summary", f"count={block.count}", f"rate_hz={block.sample_rate_hz:g}"]
    if block.count:
        parts += [f"min={float(block.values.min()):.7g}", f"max={float(block.values.max()):.7g}"]
    parts += sorted(block.status)
    return " ".join(parts)
