"""VitalDB's .vital file of a recorded session (``katmonitor export ID --format vital``).

Written with the ``vitaldb`` package (an optional dependency: the ``vital`` extra). One device,
"KATMonitor", with a numeric track per recorded vital (HR, PR, SpO2, PI, NIBP systolic,
diastolic and mean; each value at its stored time) and the pleth as a wave track at its stored
sample rate, one record per contiguous run of points of at most a second. Times are the
stored UTC epoch seconds, as VitalDB keeps them. Values are read through the storage layer's
columnar reads; nothing is resampled.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from katmonitor.base.errors import ConfigurationError
from katmonitor.base.vitals import VitalKind, spec_of
from katmonitor.exports import DEFAULT_OPTIONS, ExportOptions
from katmonitor.exports.files import write_bytes_atomically
from katmonitor.storage.review_queries import numerics_columns

if TYPE_CHECKING:
    from katmonitor.storage.store import SessionStore

DEVICE = "KATMonitor"
NUMERIC_TRACKS: dict[VitalKind, str] = {
    VitalKind.HR: "HR",
    VitalKind.PULSE_RATE: "PLETH_HR",
    VitalKind.SPO2: "PLETH_SPO2",
    VitalKind.PERFUSION_INDEX: "PLETH_PI",
    VitalKind.NIBP_SYSTOLIC: "NIBP_SBP",
    VitalKind.NIBP_DIASTOLIC: "NIBP_DBP",
    VitalKind.NIBP_MEAN: "NIBP_MBP",
}
PLETH_TRACK = "PLETH"
RECORD_S = 1.0


def track_name(kind: VitalKind) -> str:
    return f"{DEVICE}/{PLETH_TRACK if kind is VitalKind.PLETH else NUMERIC_TRACKS[kind]}"


def write_vital_export(store: SessionStore, session_id: int, out: Path,
                       options: ExportOptions = DEFAULT_OPTIONS) -> list[Path]:
    try:
        import vitaldb  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigurationError(
            "the .vital format needs the vitaldb package",
            "install KAT Monitor with the vital extra: pip install 'katmonitor[vital]'",
        ) from None
    store.get_session(session_id)  # NotFoundError for a missing session
    vital = vitaldb.VitalFile()
    numerics = numerics_columns(store.database, session_id, NUMERIC_TRACKS)
    for kind, series in numerics.items():
        recs = [{"dt": float(t), "val": float(v)}
                for t, v in zip(series.times, series.values, strict=True)]
        vital.add_track(track_name(kind), recs, unit=spec_of(kind).unit)
    pleth = store.waveform(session_id, VitalKind.PLETH)
    if len(pleth):
        rate = _rate(pleth.times)
        vital.add_track(track_name(VitalKind.PLETH), _wave_records(pleth.times, pleth.values, rate),
                        srate=rate)
    # vitaldb writes a file by name: into a private directory first, then all-or-nothing to
    # ``out`` like every export (never a partial file, never an unasked overwrite).
    with tempfile.TemporaryDirectory(prefix="katmonitor-vital-") as scratch:
        written = Path(scratch) / "session.vital"
        try:
            vital.to_vital(str(written))
            data = written.read_bytes()
        except OSError as error:
            raise ConfigurationError(f"cannot write the .vital file: {error.strerror}") from None
    write_bytes_atomically(out, data, overwrite=options.overwrite)
    return [out]


def _rate(times: np.ndarray) -> float:
    """The sample rate of the stored points (the median spacing; the recorder's is fixed)."""
    if times.size < 2:
        return 100.0
    return float(round(1.0 / float(np.median(np.diff(times))), 2))  # epoch times: ~1e-7 s


def _wave_records(times: np.ndarray, values: np.ndarray, rate: float) -> list[dict[str, Any]]:
    """Contiguous runs of points (a gap starts a new one), cut into records of RECORD_S."""
    breaks = np.flatnonzero(np.diff(times) > 1.5 / rate) + 1
    per_record = max(1, round(RECORD_S * rate))
    records = []
    for start, end in zip(np.r_[0, breaks], np.r_[breaks, times.size], strict=True):
        for a in range(int(start), int(end), per_record):
            b = min(a + per_record, int(end))
            records.append({"dt": float(times[a]), "val": values[a:b].astype(np.float32)})
    return records
