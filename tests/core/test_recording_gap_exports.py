"""A recording gap (issue 12: "the gap is marked on the timeline and in exports") is in the CSV
and FHIR exports and in the review's read model, for a session interrupted twice: reopened after
the first interruption, closed with a reason after the second."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from interrupted_session import TwiceInterrupted, record_twice_interrupted

from katmonitor.base.samples import iso_utc
from katmonitor.exports.csv_export import events_path, write_csv
from katmonitor.exports.fhir_export import RECORD_EVENT_SYSTEM, build_bundle
from katmonitor.review import load_review
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore


@pytest.fixture
def store(sqlite_url: str) -> Iterator[SessionStore]:
    database = open_database(sqlite_url)
    yield SessionStore(database)
    database.close()


@pytest.fixture
def gapped(store: SessionStore) -> TwiceInterrupted:
    return record_twice_interrupted(store)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def test_the_csv_marks_each_gap_in_the_events_and_both_headers(
        store: SessionStore, gapped: TwiceInterrupted, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    write_csv(store, gapped.session_id, out)
    gaps = [r for r in _rows(events_path(out)) if r["type"] == "recording"]
    assert [(r["event"], r["time_utc"]) for r in gaps[:1]] == [
        ("gap_start", iso_utc(gapped.first_last_data))]
    assert gaps[1]["event"] == "gap_end" and gaps[1]["time_utc"] >= iso_utc(gapped.reopened_after)
    assert gaps[2]["event"] == "gap_start"
    assert gaps[2]["time_utc"] == iso_utc(gapped.second_last_data)
    assert len(gaps) == 3  # the second gap was closed, never reopened: no end row
    assert "has ended" in gaps[0]["text"] and "closed: power lost" in gaps[2]["text"]
    # Every row of the events file stays in time order with the gaps among them.
    times = [r["time_utc"] for r in _rows(events_path(out))]
    assert times == sorted(times)
    for path in (out, events_path(out)):
        header = [line for line in path.read_text().splitlines()
                  if line.startswith("# recording_gap:")]
        assert len(header) == 2 and "closed: power lost" in header[1]


def test_a_session_without_gaps_has_no_gap_rows(store: SessionStore, tmp_path: Path) -> None:
    from katmonitor.session import Route

    session = store.create_session(client_id="C-1", medicine="esketamine",
                                   route=Route.INTRANASAL, started_at=1_760_000_000.0,
                                   training=False, devices=("sim:normal",), workstation="r")
    out = tmp_path / "n.csv"
    write_csv(store, session.id, out)
    assert not [r for r in _rows(events_path(out)) if r["type"] == "recording"]
    assert "recording_gap" not in out.read_text()


def test_the_fhir_bundle_has_each_gap_as_data_absent(
        store: SessionStore, gapped: TwiceInterrupted) -> None:
    bundle = build_bundle(store, gapped.session_id)  # validated with fhir.resources
    gaps = [e["resource"] for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"
            and e["resource"]["code"].get("coding", [{}])[0].get("system") == RECORD_EVENT_SYSTEM]
    assert len(gaps) == 2
    first, second = gaps
    assert first["effectivePeriod"]["start"] == iso_utc(gapped.first_last_data)
    assert first["effectivePeriod"]["end"] >= iso_utc(gapped.reopened_after)
    assert first["dataAbsentReason"]["coding"][0]["code"] == "error"
    assert "has ended" in first["dataAbsentReason"]["text"]
    assert not [key for key in first if key.startswith("value")]  # absent, not a value
    # Closed at its last data: the record (and the gap) ends there.
    assert second["effectivePeriod"] == {"start": iso_utc(gapped.second_last_data),
                                         "end": iso_utc(gapped.second_last_data)}
    assert "closed: power lost" in second["note"][0]["text"]


def test_the_review_places_the_gaps(store: SessionStore, gapped: TwiceInterrupted) -> None:
    review = load_review(store, gapped.session_id)
    first, second = review.gaps
    assert first.start == gapped.first_last_data and first.end is not None
    assert review.gap_at(first.start + 1.0) == first
    assert review.gap_at(gapped.first_last_data - 1.0) is None
    assert second.end is None and second.closed_reason == "power lost"
    assert review.gap_end(second) == max(review.end, second.start)
