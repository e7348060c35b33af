"""Therapist review: open a recorded session and draw its whole timeline (goals: 4 h <= 300 ms,
8 h <= 600 ms on SQLite), pan/zoom redraws (p99 <= 16 ms at 1600x900), and the session
browser's search as you type over 10,000 sessions (<= 50 ms per keystroke).

    python -m bench.review [--quick] [--runs N]

The sessions are recorded through the real write path (bench.recording: numerics at 1 Hz,
100 Hz pleth in 10-point blocks, a Recorder commit per 0.25 s of session time, NIBP every
5 min, dosed, ended; cached between runs). "Open + draw" times, on an open database:
``load_review`` (numerics, NIBP, doses, alarms, workflow, observations, addenda, the summary;
read through the store's windowed columnar reads) plus ``ReviewTimeline.set_review`` and a
full render of the 1600x900 timeline (``grab()``). The signature check is not in it (the
window runs it afterwards in the background; bench.sign_verify times it). "+ pleth envelope"
adds the whole session's 100 Hz pleth (1.44 M points for 4 h) reduced to min/max per pixel
column (``SessionReview.pleth``), which the timeline reads only once zoomed in to 5 min or
less. Pan/zoom: each step moves or zooms the view (whole session down to 1 min, pans of a
tenth of the view) and paints the timeline synchronously; with the view at 5 min or less the
pleth window is on the plot. The browser: 10,000 generated sessions in memory (the list is
read once, off the GUI thread), each keystroke of a search filters and repaints the table.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from bench import harness
from bench.harness import Figure, Options
from bench.recording import CachedSession, Plan, cached_session
from katmonitor.base.vitals import VitalKind
from katmonitor.exports.vital_export import NUMERIC_TRACKS, track_name, write_vital_export
from katmonitor.review import load_review
from katmonitor.session import Route, Session, SessionStatus
from katmonitor.storage import SessionStore, open_database
from katmonitor.storage.review_queries import SessionOverview, numerics_columns
from ui.review_timeline import PLETH_MAX_SPAN_S, ReviewTimeline
from ui.session_browser import SessionBrowser
from ui.theme import apply_theme

WIDTH, HEIGHT = 1600, 900
HOURS = (4, 8)
GOAL_MS = {4: 300.0, 8: 600.0}
SPANS_S = (None, 7200.0, 1800.0, 300.0, 60.0)  # None: the whole session


def _timeline() -> ReviewTimeline:
    timeline = ReviewTimeline()
    timeline.resize(WIDTH, HEIGHT)
    timeline.show()
    QApplication.processEvents()
    return timeline


def open_runs(session: CachedSession, runs: int, *, pleth: bool) -> list[float]:
    database = open_database(session.url)
    timeline = _timeline()
    try:
        store = SessionStore(database)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            review = load_review(store, session.session_id)
            timeline.set_review(review)
            if pleth:
                review.pleth(review.start, review.end, WIDTH)
            timeline.grab()
            times.append((time.perf_counter() - started) * 1000.0)
        return times
    finally:
        timeline.close()
        timeline.deleteLater()
        database.close()


def pan_zoom_runs(session: CachedSession, rounds: int) -> list[float]:
    database = open_database(session.url)
    timeline = _timeline()
    try:
        review = load_review(SessionStore(database), session.session_id)
        timeline.set_review(review)
        QApplication.processEvents()
        viewport = timeline.graphics.viewport()
        times: list[float] = []
        middle = (review.start + review.end) / 2
        for _ in range(rounds):
            for span in SPANS_S:
                t0, t1 = ((review.start, review.end) if span is None
                          else (middle - span / 2, middle + span / 2))
                if span is not None and span <= PLETH_MAX_SPAN_S:  # as drawn once settled
                    timeline._show_pleth(review.pleth(t0 - span, t1 + span, WIDTH))
                else:
                    timeline._show_pleth(None)
                steps = [(t0, t1)] + [(t0 + k * (t1 - t0) / 10, t1 + k * (t1 - t0) / 10)
                                      for k in (1, 2, 1, 0, -1)]
                for a, b in steps:
                    started = time.perf_counter()
                    timeline.set_window(a, b)
                    viewport.repaint()
                    times.append((time.perf_counter() - started) * 1000.0)
        return times
    finally:
        timeline.close()
        timeline.deleteLater()
        database.close()


def generated_overviews(count: int) -> list[SessionOverview]:
    routes = list(Route)
    out = []
    for i in range(count):
        session = Session(i + 1, f"uuid-{i}", f"C-{i % 1500:04d}", "esketamine",
                          routes[i % len(routes)], 1_700_000_000.0 + i * 3 * 3600, None,
                          SessionStatus.ENDED, False)
        out.append(SessionOverview(session, 120 + i % 60, 88 + i % 12, 2, 56.0,
                                   f"Nurse {i % 40}", {"high": 0, "medium": i % 3, "low": 1},
                                   i % 2, i % 4 == 0))
    return out


def browser_keystrokes(runs: int, text: str = "c-1234 nurse 3") -> list[float]:
    browser = SessionBrowser(database=None)  # type: ignore[arg-type]  # fed in memory
    browser.resize(WIDTH, HEIGHT)
    browser.show()
    browser.set_overviews(generated_overviews(10_000))
    QApplication.processEvents()
    times = []
    try:
        for _ in range(runs):
            browser.search.clear()
            QApplication.processEvents()
            for n in range(1, len(text) + 1):
                started = time.perf_counter()
                browser.search.setText(text[:n])
                browser.table.viewport().repaint()
                times.append((time.perf_counter() - started) * 1000.0)
        return times
    finally:
        browser.close()
        browser.deleteLater()


def vitaldb_runs(session: CachedSession, runs: int, tmp: Path
                 ) -> tuple[list[float], list[float], list[float]]:
    """Side by side, alternating: (ours ms, vitaldb ms, vitaldb parse-only ms). Ours: every
    numeric and the full 100 Hz pleth from the store into numpy. VitalDB: the same session's
    .vital file (written by our export, not timed) read with ``VitalFile`` and turned into
    numpy with ``to_numpy`` at the pleth's 100 Hz (its own way of reading into arrays)."""
    import vitaldb

    database = open_database(session.url)
    try:
        store = SessionStore(database)
        path = tmp / "session.vital"
        write_vital_export(store, session.session_id, path)
        tracks = [track_name(k) for k in (*NUMERIC_TRACKS, VitalKind.PLETH)]
        ours, theirs, parse = [], [], []
        for _ in range(runs):
            started = time.perf_counter()
            numerics_columns(database, session.session_id, NUMERIC_TRACKS)
            store.waveform(session.session_id, VitalKind.PLETH)
            ours.append((time.perf_counter() - started) * 1000.0)
            started = time.perf_counter()
            vitaldb.VitalFile(str(path)).to_numpy(tracks, 0.01)
            theirs.append((time.perf_counter() - started) * 1000.0)
            started = time.perf_counter()
            vitaldb.VitalFile(str(path))
            parse.append((time.perf_counter() - started) * 1000.0)
        return ours, theirs, parse
    finally:
        database.close()


def collect(options: Options) -> list[Figure]:
    app = QApplication.instance() or QApplication([])
    apply_theme(app)  # type: ignore[arg-type]
    runs = options.count(15, 5)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="katmonitor-bench-review-") as tmp:
        for hours in HOURS:
            session = cached_session(Plan(seconds=hours * 3600)).copy_to(Path(tmp))
            print(f"{hours} h session: {session.points:,} samples and pleth points", flush=True)
            open_runs(session, 1, pleth=True)  # warm the file cache
            figures.append(Figure(f"open + draw whole timeline, {hours} h", "ms",
                                  GOAL_MS[hours], "at most", open_runs(session, runs,
                                                                       pleth=False),
                                  note="SQLite"))
            figures.append(Figure(f"... + whole pleth min/max per pixel, {hours} h", "ms",
                                  None, "at most", open_runs(session, runs, pleth=True),
                                  note=f"{session.points:,} points"))
            if hours == 4:
                figures.append(Figure("pan/zoom redraw at 1600x900, 4 h", "ms", 16.0,
                                      "at most", pan_zoom_runs(session, options.count(6, 2)),
                                      statistic="p99"))
                ours, theirs, parse = vitaldb_runs(session, options.count(7, 3), Path(tmp))
                figures += [
                    Figure("read 4 h into numpy: our store", "ms", None, "at most", ours,
                           note="numerics + 100 Hz pleth"),
                    Figure("read 4 h into numpy: vitaldb .vital + to_numpy", "ms", None,
                           "at most", theirs),
                    Figure("read 4 h: vitaldb VitalFile() alone", "ms", None, "at most", parse),
                    Figure("vitaldb time / our time (same run)", "x", 2.0, "at least",
                           [t / o for t, o in zip(theirs, ours, strict=True)]),
                ]
    figures.append(Figure("browser search, per keystroke, 10,000 sessions", "ms", 50.0,
                          "at most", browser_keystrokes(options.count(10, 3)),
                          statistic="p99"))
    return figures


if __name__ == "__main__":
    harness.main(collect, __doc__)
