"""The therapist review's read model (katmonitor/review.py) on sessions recorded through the
real write path: the dosing workflow on a Workstation (dosed_session.py) and, for the pleth,
the Recorder fed as a device delivers (bench/recording.py)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from account_helpers import add_account
from dosed_session import LOTS, NIBP_AFTER_DOSE, NURSE, DosedSession, record_dosed_session
from workflow_helpers import NURSE_PASSWORD

from bench.recording import Plan, feed, new_session, quarters
from katmonitor.accounts import AccountStore
from katmonitor.addenda import add_addendum
from katmonitor.base.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    SessionStateError,
)
from katmonitor.base.vitals import VitalKind
from katmonitor.record_signing import sign_session
from katmonitor.recorder import Recorder
from katmonitor.review import (
    NOTE_AT_PREFIX,
    NUMERIC_KINDS,
    Category,
    Priority,
    add_note_at,
    course,
    load_review,
    verify,
)
from katmonitor.session import SessionStatus
from katmonitor.storage import SessionStore, open_database
from katmonitor.storage.review_queries import numerics_columns, session_overviews

MIN = 60.0
THERAPIST = "theo"
THERAPIST_PASSWORD = "integration-session"


@pytest.fixture
def store(dosed: DosedSession) -> Iterator[SessionStore]:
    database = open_database(dosed.url)
    yield SessionStore(database)
    database.close()


def test_numerics_at_the_cursor_are_the_stored_samples(
    store: SessionStore, dosed: DosedSession
) -> None:
    review = load_review(store, dosed.session_id)
    stored = store.readings(dosed.session_id, [VitalKind.HR])
    probe = stored[100].time + 2.5  # between two samples: the earlier one, not interpolated
    assert review.value_at(VitalKind.HR, probe) == (stored[100].time, stored[100].value)
    assert review.value_at(VitalKind.HR, stored[100].time) == (stored[100].time, stored[100].value)
    assert review.value_at(VitalKind.HR, stored[0].time - 1) is None
    assert review.value_at(VitalKind.PULSE_RATE, probe) is None  # never recorded


def test_the_timeline_holds_doses_nibp_assessments_and_workflow(
    store: SessionStore, dosed: DosedSession
) -> None:
    review = load_review(store, dosed.session_id)
    assert [d.lot for d in review.doses] == list(LOTS)
    assert review.anchor == dosed.first_dose_at
    after = {round((r.time - dosed.first_dose_at) / MIN): (r.systolic, r.diastolic)
             for r in review.nibp if r.time > dosed.first_dose_at}
    assert after == {m: (float(s), float(d)) for m, (s, d) in NIBP_AFTER_DOSE.items()}
    assert review.nibp_at(dosed.first_dose_at + 31 * MIN).systolic == 150  # type: ignore[union-attr]
    moaas = [(round(review.minutes_after_dose(a.time) or 0), a.moaas) for a in review.assessments]
    assert moaas == [(20, 4), (60, 5), (100, 5)]
    assert [a.cadss_total for a in review.assessments] == [3, 0, 0]
    labels = [e.label for e in review.events if e.category is Category.WORKFLOW]
    assert any("gate overridden: prescriber reviewed" in label for label in labels)
    assert labels[-1] == "discharge"
    assert {c.status for c in review.schedule} >= {"done", "missed"}


def test_alarm_spans_and_navigation_land_on_the_stored_onset(
    store: SessionStore, dosed: DosedSession
) -> None:
    review = load_review(store, dosed.session_id)
    stored = [e for e in store.alarm_events(dosed.session_id)
              if e.alarm_id == "spo2.low" and e.event in ("onset", "end")]
    span = next(s for s in review.alarm_spans if s.alarm_id == "spo2.low")
    assert (span.onset, span.end, span.priority) == (stored[0].time, stored[1].time,
                                                     Priority.MEDIUM)
    assert not span.technical
    technical = [s for s in review.alarm_spans if s.technical]
    assert technical and all(s.kind == "device" for s in technical)

    jump = review.next_event(review.start, Category.ALARM)
    assert jump is not None and jump.time == stored[0].time
    assert review.previous_event(jump.time, Category.ALARM) is None
    back = review.previous_event(review.end, Category.DOSE)
    assert back is not None and back.time == review.doses[1].time
    assert "lot LOT-B2" in back.label


def test_summary_baseline_extremes_time_outside_limits_and_alarm_counts(
    store: SessionStore, dosed: DosedSession
) -> None:
    summary = load_review(store, dosed.session_id).summary
    sys = summary.parameters[VitalKind.NIBP_SYSTOLIC]
    assert sys.baseline == 152  # the pre-dose readings the alarm engine used
    assert sys.peak is not None and (sys.peak.value, sys.peak.minutes_after_dose) == (150, 30)
    spo2 = summary.parameters[VitalKind.SPO2]
    assert spo2.lowest is not None and spo2.lowest.value == 86
    assert spo2.lowest.minutes_after_dose == pytest.approx(25, abs=0.1)
    stored = [e.time for e in store.alarm_events(dosed.session_id) if e.alarm_id == "spo2.low"
              and e.event in ("onset", "end")]
    assert spo2.seconds_outside_limits == pytest.approx(stored[1] - stored[0])
    assert summary.parameters[VitalKind.HR].seconds_outside_limits == 0
    assert summary.alarms == {"high": 0, "medium": 1, "low": 0}
    assert summary.technical_alarms >= 1
    assert summary.total_mg == 56


def _sign_and_add_therapist(store: SessionStore, session_id: int) -> None:
    sign_session(store, session_id, NURSE, NURSE_PASSWORD)
    add_account(AccountStore(store.database), THERAPIST, "therapist", THERAPIST_PASSWORD,
                                          full_name="Theo Therapist")


def test_a_therapist_note_is_a_signed_addendum_placed_at_its_time(
    store: SessionStore, dosed: DosedSession
) -> None:
    _sign_and_add_therapist(store, dosed.session_id)
    at = dosed.first_dose_at + 33 * MIN + 0.5
    addendum = add_note_at(store, dosed.session_id, at, THERAPIST, THERAPIST_PASSWORD,
                           "client described floating, calm")
    assert addendum.text.startswith(NOTE_AT_PREFIX)
    review = load_review(store, dosed.session_id)
    note = next(n for n in review.notes if n.addendum_id == addendum.id)
    assert (note.time, note.text, note.author) == (at, "client described floating, calm",
                                                   "Theo Therapist")
    jump = review.next_event(at - 1, Category.NOTE)
    assert jump is not None and jump.time == at
    assert verify(store, dosed.session_id).status == "verified"


def test_a_note_is_refused_on_a_wrong_password_or_an_unsigned_session(
    store: SessionStore, dosed: DosedSession
) -> None:
    add_account(AccountStore(store.database), THERAPIST, "therapist", THERAPIST_PASSWORD)
    with pytest.raises(SessionStateError, match="not signed"):
        add_note_at(store, dosed.session_id, dosed.first_dose_at, THERAPIST,
                    THERAPIST_PASSWORD, "calm")
    sign_session(store, dosed.session_id, NURSE, NURSE_PASSWORD)
    with pytest.raises(AuthenticationError):
        add_note_at(store, dosed.session_id, dosed.first_dose_at, THERAPIST, "wrong", "calm")
    assert [n for n in load_review(store, dosed.session_id).notes if n.addendum_id] == []


def test_reviewing_writes_nothing(store: SessionStore, dosed: DosedSession) -> None:
    with store.reading("count") as tx:
        before = len(tx.chain.entries(dosed.session_id))
    counts = store.sample_counts(dosed.session_id)
    review = load_review(store, dosed.session_id)
    review.pleth(review.start, review.end, 800)
    assert verify(store, dosed.session_id).status == "unsigned"
    with store.reading("count") as tx:
        assert len(tx.chain.entries(dosed.session_id)) == before
    assert store.sample_counts(dosed.session_id) == counts
    assert store.get_session(dosed.session_id).status is SessionStatus.ENDED


def test_a_missing_session_is_not_found(store: SessionStore) -> None:
    with pytest.raises(NotFoundError):
        load_review(store, 999)


def test_pleth_is_full_resolution_zoomed_in_and_min_max_per_pixel_zoomed_out(
    sqlite_url: str,
) -> None:
    database = open_database(sqlite_url)
    try:
        store = SessionStore(database)
        session_id = new_session(store, training=True)
        recorder = Recorder(store)  # the writer's turns driven by feed(), one per 0.25 s
        try:
            feed(recorder, session_id, quarters(Plan(seconds=30, dosed=False)))
        finally:
            recorder.stop()
        review = load_review(store, session_id)
        stored = store.waveform(session_id)
        assert len(stored) == 3000  # 30 s at 100 Hz
        t0, t1 = float(stored.times[500]), float(stored.times[899])
        window = review.pleth(t0, t1)
        assert np.array_equal(window.values, stored.values[500:900])
        reduced = review.pleth(review.start, review.end, pixels=100)
        assert len(reduced) <= 200
        assert reduced.values.max() == stored.values.max()
        assert reduced.values.min() == stored.values.min()
        assert set(reduced.times) <= set(stored.times)  # stored points, not averages
    finally:
        database.close()


def test_the_browser_overview_has_each_sessions_figures(
    store: SessionStore, dosed: DosedSession
) -> None:
    training = new_session(store, training=True)
    clinical = session_overviews(store.database, training=False)
    assert [o.session.id for o in clinical] == [dosed.session_id]
    row = clinical[0]
    assert (row.peak_systolic, row.lowest_spo2, row.dose_count, row.total_mg) == (152, 86, 2, 56)
    assert row.nurse == "Lee Park, RN"
    assert row.alarms == {"high": 0, "medium": 1, "low": 0}
    assert not row.signed
    assert [o.session.id for o in session_overviews(store.database, training=True)] == [training]


def test_the_columnar_read_gives_the_stores_numerics(database_url: str) -> None:
    """On SQLite and PostgreSQL: the driver's cursor, not the store's, reads the same values."""
    dosed = record_dosed_session(database_url)
    database = open_database(database_url)
    try:
        store = SessionStore(database)
        fast = numerics_columns(database, dosed.session_id, NUMERIC_KINDS)
        expected = store.numerics(dosed.session_id, NUMERIC_KINDS)
        assert fast.keys() == expected.keys() and VitalKind.HR in fast
        for kind, series in expected.items():
            assert np.array_equal(fast[kind].times, series.times)
            assert np.array_equal(fast[kind].values, series.values)
    finally:
        database.close()


def test_a_note_about_a_span_keeps_both_ends_and_plain_addenda_stay_at_their_time(
    store: SessionStore, dosed: DosedSession
) -> None:
    _sign_and_add_therapist(store, dosed.session_id)
    at, until = dosed.first_dose_at + 20 * MIN, dosed.first_dose_at + 35 * MIN
    with pytest.raises(ConfigurationError, match="span"):
        add_note_at(store, dosed.session_id, until, THERAPIST, THERAPIST_PASSWORD, "x",
                    until=at)
    span = add_note_at(store, dosed.session_id, at, THERAPIST, THERAPIST_PASSWORD,
                       "quiet, eyes closed", until=until)
    plain = add_addendum(store, dosed.session_id, THERAPIST, THERAPIST_PASSWORD, "note",
                         "[at yesterday] follow-up call went well")
    notes = {n.addendum_id: n for n in load_review(store, dosed.session_id).notes}
    assert (notes[span.id].time, notes[span.id].until) == (at, until)
    assert notes[span.id].text == "quiet, eyes closed"
    assert notes[plain.id].time == plain.created_at and notes[plain.id].until is None
    assert notes[plain.id].text == plain.text  # no prefix of ours: shown as written


def test_the_course_lists_a_clients_clinical_sessions_with_their_figures(
    store: SessionStore, dosed: DosedSession
) -> None:
    second = record_dosed_session(dosed.url)
    new_session(store, training=True)  # client BENCH: another client, and training
    rows = course(store, "C-200")
    assert [r.session.id for r in rows] == [dosed.session_id, second.session_id]
    first = rows[0]
    assert (first.total_mg, first.peak_systolic, first.peak_diastolic) == (56, 150, 94)
    assert (first.lowest_spo2, first.deepest_moaas, first.highest_cadss) == (86, 4, 3)
    assert first.alarms["medium"] == 1
    assert course(store, "BENCH") == []  # training sessions are not a course
