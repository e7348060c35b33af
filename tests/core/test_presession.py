"""The minutes before "Start session" are the pre-dose baseline: they reach the disk as they
arrive, so a crash before the session starts does not lose them, and they are dropped once a
session holds them or they are older than the baseline window."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.journal import Journal, presession_path
from katmonitor.session import Route
from katmonitor.storage.database import open_database
from katmonitor.workstation import Workstation

T0 = 1_760_000_000.0


def _before_session(station: Workstation, clock: ManualClock, seconds: int) -> None:
    """The monitor delivers HR once a second and pleth; the writer takes a turn each second."""
    for _ in range(seconds):
        now = clock.now()
        station.pipeline.on_sample(Sample(now, "sim", VitalKind.HR, 80.0))
        station.pipeline.on_waveform(WaveformBlock(now, 100.0, "sim", VitalKind.PLETH,
                                                   np.zeros(100, dtype=np.float32)))
        station.recorder.write_queued()
        clock.advance(1.0)


def _presession_file(url: str, data_dir: Path) -> Journal:
    return Journal(presession_path(url, data_dir / "presession"))


def test_a_crash_before_the_session_starts_keeps_the_baseline(
    sqlite_url: str, isolated_data_dir: Path
) -> None:
    clock = ManualClock(T0)
    first = Workstation(open_database(sqlite_url), [], clock=clock)
    _before_session(first, clock, 120)
    assert _presession_file(sqlite_url, isolated_data_dir).size > 0
    first.database.close()  # killed before "Start session": nothing shut down

    clock.advance(30)  # the restart
    second = Workstation(open_database(sqlite_url), [], clock=clock)
    second.start()
    try:
        assert second.readings()[VitalKind.HR].sample is not None  # history is back
        session = second.start_session("C-1", "esketamine", Route.INTRANASAL)
        second.recorder.flush()
        hr = second.store.numerics(session.id, [VitalKind.HR])[VitalKind.HR]
        assert hr.times.size >= 118 and hr.times[0] < T0 + 2  # the minutes before the crash
        assert second.store.sample_counts(session.id)["pleth"] >= 11_800
        assert _presession_file(sqlite_url, isolated_data_dir).size == 0  # in the session now
    finally:
        second.shutdown()
        second.database.close()


def test_only_the_baseline_window_is_kept(sqlite_url: str, isolated_data_dir: Path) -> None:
    clock = ManualClock(T0)
    station = Workstation(open_database(sqlite_url), [], clock=clock, baseline_window_s=300)
    _before_session(station, clock, 900)  # 15 minutes before any session
    kept = [record for batch in _presession_file(sqlite_url, isolated_data_dir).batches()
            for _, record in batch if isinstance(record, Sample)]
    newest = max(s.time for s in kept)
    assert newest == T0 + 899
    assert min(s.time for s in kept) >= newest - 300 - 60  # pruned about once a minute
    station.database.close()
