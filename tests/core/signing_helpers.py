"""A recorded, ended session with doses, observations, device and alarm events and pleth."""

from __future__ import annotations

import numpy as np

from katmonitor.alarms.model import AlarmEvent, Priority
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.session import Route, SessionStatus
from katmonitor.storage.store import SessionStore

T0 = 1_760_000_000.0  # a whole minute


def recorded_session(
    store: SessionStore, *, minutes: int = 3, rate_hz: float = 100.0, block_s: float = 1.0
) -> int:
    session = store.create_session(
        client_id="C-1",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=T0,
        training=False,
        devices=("sim:normal",),
        workstation="room 1",
    )
    sid = session.id
    n = int(minutes * 60 / block_s)
    per_block = int(rate_hz * block_s)
    wave = (np.sin(np.arange(per_block) / 10.0) * 50 + 50).astype(np.float32)
    samples = []
    for i in range(minutes * 60):
        t = T0 + i
        samples.append((sid, Sample(t, "sim", VitalKind.HR, 70.0 + i % 5)))
        samples.append((sid, Sample(t, "sim", VitalKind.SPO2, 97.0)))
    blocks = [
        (sid, WaveformBlock(T0 + k * block_s, rate_hz, "sim", VitalKind.PLETH, wave))
        for k in range(n)
    ]
    statuses = [(sid, DeviceStatus(T0, "sim", ConnectionState.CONNECTED))]
    alarms = [
        (
            sid,
            AlarmEvent(
                T0 + 30, "spo2.low", "spo2", Priority.MEDIUM, "onset", 89.0, 90.0, "SpO2 low"
            ),
        )
    ]
    store.write_batch(samples, blocks, statuses, alarms)
    store.add_dose(
        sid,
        time=T0 + 5,
        medicine="esketamine",
        route=Route.INTRANASAL,
        dose_mg=28.0,
        unit_count=1,
        lot="LOT123",
        given_by="nina",
        recorded_at=T0 + 6,
    )
    store.add_observation(sid, time=T0 + 40, text="MOAA/S 5", author="nina", recorded_at=T0 + 41)
    store.set_status(sid, SessionStatus.ENDED, T0 + minutes * 60)
    return sid
