"""VitalDB's .vital export (katmonitor/exports/vital_export.py), read back with vitaldb, on a
session recorded through the Recorder as a device delivers (bench/recording.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.recording import Plan, feed, new_session, quarters
from katmonitor.base.errors import NotFoundError
from katmonitor.base.vitals import VitalKind
from katmonitor.exports.vital_export import track_name, write_vital_export
from katmonitor.recorder import Recorder
from katmonitor.storage import SessionStore, open_database

vitaldb = pytest.importorskip("vitaldb")


def test_the_vital_file_holds_the_stored_numerics_and_pleth(sqlite_url: str,
                                                           tmp_path: Path) -> None:
    database = open_database(sqlite_url)
    try:
        store = SessionStore(database)
        sid = new_session(store, training=True)
        recorder = Recorder(store)
        try:
            feed(recorder, sid, quarters(Plan(seconds=20, nibp_every_s=10, dosed=False)))
        finally:
            recorder.stop()
        out = tmp_path / "session.vital"
        assert write_vital_export(store, sid, out) == [out]

        vital = vitaldb.VitalFile(str(out))
        hr = store.numerics(sid, [VitalKind.HR])[VitalKind.HR]
        recs = vital.trks[track_name(VitalKind.HR)].recs
        assert [r["dt"] for r in recs] == pytest.approx(list(hr.times))
        assert [r["val"] for r in recs] == pytest.approx(list(hr.values))
        assert track_name(VitalKind.NIBP_SYSTOLIC) in vital.trks
        pleth = store.waveform(sid)
        wave = vital.trks[track_name(VitalKind.PLETH)]
        assert wave.srate == 100
        points = np.concatenate([np.asarray(r["val"], dtype=np.float32) for r in wave.recs])
        assert np.array_equal(points, pleth.values.astype(np.float32))
        assert wave.recs[0]["dt"] == pytest.approx(pleth.times[0])
        with pytest.raises(NotFoundError):
            write_vital_export(store, 999, tmp_path / "none.vital")
    finally:
        database.close()
