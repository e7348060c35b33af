"""The review's reads that the store has no form of: the session browser's list, and a
session's numerics straight from the driver into numpy.

The browser's list is one statement: each session with its peak systolic, lowest SpO2,
doses (count, total mg, who gave the first), physiological alarm onsets per priority,
technical alarm onsets, and whether it is signed. Each figure is a correlated subquery that the
per-session indexes serve (samples by (session, kind, time), events by session), so the list
costs what the sessions hold, never a scan of every sample in the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import and_, bindparam, exists, func, select

from katmonitor.base.vitals import VitalKind
from katmonitor.session import Session
from katmonitor.storage import mappers, transaction
from katmonitor.storage.database import Database
from katmonitor.storage.models import ALARM_EVENTS, DOSES, SAMPLES, SESSIONS, SIGNATURES
from katmonitor.storage.series import TimeSeries

PRIORITY_LABELS = ("high", "medium", "low")


@dataclass(frozen=True, slots=True)
class SessionOverview:
    """One row of the session browser."""

    session: Session
    peak_systolic: float | None
    lowest_spo2: float | None
    dose_count: int
    total_mg: float | None
    nurse: str
    """Who gave the first dose ("" when no dose was given)."""
    alarms: dict[str, int]
    """Physiological alarm onsets per priority label (high, medium, low)."""
    technical_alarms: int
    signed: bool


def _extreme(kind: VitalKind, reduce: Any) -> Any:
    s = SAMPLES
    return (
        select(reduce(s.c.value))
        .where(s.c.session_id == SESSIONS.c.id, s.c.kind == str(kind), s.c.value.is_not(None))
        .scalar_subquery()
    )


def _onsets(condition: Any) -> Any:
    a = ALARM_EVENTS
    return (
        select(func.count())
        .where(a.c.session_id == SESSIONS.c.id, a.c.event == "onset", condition)
        .scalar_subquery()
    )


def session_overviews(database: Database, *, training: bool | None = None,
                      client_id: str | None = None) -> list[SessionOverview]:
    """Every session (only training ones, only clinical ones, or all; of one client or all),
    newest first."""
    d = DOSES
    first_giver = (
        select(d.c.given_by)
        .where(d.c.session_id == SESSIONS.c.id)
        .order_by(d.c.time, d.c.id)
        .limit(1)
        .scalar_subquery()
    )
    a = ALARM_EVENTS
    columns = [
        _extreme(VitalKind.NIBP_SYSTOLIC, func.max).label("peak_systolic"),
        _extreme(VitalKind.SPO2, func.min).label("lowest_spo2"),
        select(func.count()).where(d.c.session_id == SESSIONS.c.id).scalar_subquery()
        .label("dose_count"),
        select(func.sum(d.c.dose_mg)).where(d.c.session_id == SESSIONS.c.id).scalar_subquery()
        .label("total_mg"),
        first_giver.label("nurse"),
        *(
            _onsets(and_(a.c.technical.is_(False), a.c.priority == label)).label(f"n_{label}")
            for label in PRIORITY_LABELS
        ),
        _onsets(a.c.technical.is_(True)).label("n_technical"),
        exists().where(SIGNATURES.c.session_id == SESSIONS.c.id).label("signed"),
    ]
    query = select(SESSIONS, *columns)
    if training is not None:
        query = query.where(SESSIONS.c.training == training)
    if client_id is not None:
        query = query.where(SESSIONS.c.client_id == client_id)
    query = query.order_by(SESSIONS.c.started_at.desc(), SESSIONS.c.id.desc())
    with transaction.reading(database, "list the sessions") as conn:
        rows = conn.execute(query).mappings().all()
    return [
        SessionOverview(
            session=mappers.session(row),
            peak_systolic=_number(row["peak_systolic"]),
            lowest_spo2=_number(row["lowest_spo2"]),
            dose_count=int(row["dose_count"] or 0),
            total_mg=_number(row["total_mg"]),
            nurse=str(row["nurse"] or ""),
            alarms={label: int(row[f"n_{label}"] or 0) for label in PRIORITY_LABELS},
            technical_alarms=int(row["n_technical"] or 0),
            signed=bool(row["signed"]),
        )
        for row in rows
    ]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if number == number else None  # NaN: no value


_NUMERICS = (
    select(SAMPLES.c.time, SAMPLES.c.value)
    .where(SAMPLES.c.session_id == bindparam("sid"), SAMPLES.c.kind == bindparam("kind"),
           SAMPLES.c.value.is_not(None))
    .order_by(SAMPLES.c.time, SAMPLES.c.id)
)


def numerics_columns(database: Database, session_id: int, kinds: Iterable[VitalKind]
                     ) -> dict[VitalKind, TimeSeries]:
    """The same values as ``SessionStore.numerics`` for a whole session (each kind with a
    finite value, all sources, time order), read along the (session, kind, time) index with the
    driver's own cursor: plain tuples into numpy, without a result row object per sample (a
    4-hour session holds some 15,000 values per kind, and the review reads them all)."""
    out: dict[VitalKind, TimeSeries] = {}
    with transaction.reading(database, "read the samples") as conn:
        compiled = _NUMERICS.compile(dialect=conn.dialect)
        cursor = conn.connection.cursor()
        try:
            for kind in kinds:
                params = compiled.construct_params({"sid": session_id, "kind": str(kind)})
                if conn.dialect.positional:
                    names = compiled.positiontup or ()
                    cursor.execute(str(compiled), tuple(params[n] for n in names))
                else:
                    cursor.execute(str(compiled), params)
                rows = cursor.fetchall()
                if not rows:
                    continue
                both = np.array(rows, dtype=np.float64).reshape(-1, 2)
                keep = np.isfinite(both[:, 1])
                if keep.any():
                    out[kind] = TimeSeries(np.ascontiguousarray(both[keep, 0]),
                                           np.ascontiguousarray(both[keep, 1]))
        finally:
            cursor.close()
    return out
