"""The core's event hub, and what the workstation, pipeline and recorder publish to it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import OperationalError
from workflow_helpers import sign_in_nurse

from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.events import (
    ALARM_EVENTS,
    DEVICE_STATUS,
    RECORDER_ERROR,
    SESSION_CHANGED,
    EventHub,
)
from katmonitor.recorder import Recorder
from katmonitor.session import Route, SessionStatus
from katmonitor.storage import SessionStore, open_database


def test_subscribers_get_what_is_published_on_their_topic_until_they_unsubscribe() -> None:
    hub = EventHub()
    got: list[object] = []
    other: list[object] = []
    unsubscribe = hub.subscribe("a", got.append)
    hub.subscribe("b", other.append)
    hub.publish("a", 1)
    hub.publish("b", 2)
    unsubscribe()
    hub.publish("a", 3)
    assert got == [1] and other == [2]


def test_a_failing_subscriber_stops_neither_the_others_nor_the_publisher() -> None:
    hub = EventHub()
    got: list[object] = []

    def broken(_payload: object) -> None:
        raise RuntimeError("bug in a subscriber")

    hub.subscribe("a", broken)
    hub.subscribe("a", got.append)
    hub.publish("a", "x")
    assert got == ["x"]


def test_publishing_from_many_threads_reaches_every_subscriber() -> None:
    hub = EventHub()
    got: list[object] = []
    lock = threading.Lock()

    def collect(payload: object) -> None:
        with lock:
            got.append(payload)

    hub.subscribe("a", collect)
    threads = [threading.Thread(target=lambda i=i: [hub.publish("a", (i, n)) for n in range(200)])
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got) == sorted((i, n) for i in range(4) for n in range(200))


def test_the_workstation_publishes_session_changes_alarms_and_device_status(ws) -> None:
    sessions: list[object] = []
    alarms: list[object] = []
    statuses: list[object] = []
    ws.events.subscribe(SESSION_CHANGED, sessions.append)
    ws.events.subscribe(ALARM_EVENTS, alarms.append)
    ws.events.subscribe(DEVICE_STATUS, statuses.append)
    sign_in_nurse(ws)
    session = ws.start_session("C-1", "esketamine", Route.INTRANASAL)
    assert sessions == [session]

    ws.pipeline.on_status(DeviceStatus(ws.clock.now(), "monitor", ConnectionState.CONNECTED))
    assert [s.source for s in statuses] == ["monitor"]  # type: ignore[attr-defined]
    for i in range(30):  # SpO2 low long enough for the alarm
        ws.pipeline.on_sample(Sample(ws.clock.now() + i, "monitor", VitalKind.SPO2, 85.0))
    onsets = [e for batch in alarms for e in batch  # type: ignore[attr-defined]
              if e.event == "onset"]
    assert any(e.alarm_id == "spo2.low" for e in onsets)

    ended = ws.end_session()
    assert sessions[-1] == ended and ended.status is SessionStatus.ENDED


class FlakyStore(SessionStore):
    """Fails the first ``failures`` writes the way a locked database does."""

    failures = 0

    def write_batch(self, samples: Sequence[tuple[int, Sample]],
                    blocks: Sequence[tuple[int, WaveformBlock]],
                    statuses: Sequence[tuple[int, DeviceStatus]]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))
        super().write_batch(samples, blocks, statuses)


def test_the_recorder_publishes_when_it_cannot_store_and_when_it_stores_again(
        tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    store = FlakyStore(database)
    session_id = store.create_session(client_id="C-1", medicine="esketamine",
                                      route=Route.INTRANASAL, started_at=0.0, training=False,
                                      devices=[], workstation="ws").id
    hub = EventHub()
    errors: list[object] = []
    hub.subscribe(RECORDER_ERROR, errors.append)
    recorder = Recorder(store, flush_interval_s=0.02, events=hub)
    store.failures = 1
    recorder.start()
    try:
        recorder.submit_sample(session_id, Sample(1.0, "monitor", VitalKind.HR, 70.0))
        assert recorder.flush(timeout_s=7.0)  # retried after the failure
    finally:
        recorder.stop()
        database.close()
    assert len(errors) == 2
    assert "database is locked" in str(errors[0]) and errors[1] is None
