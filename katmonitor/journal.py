"""The write-ahead journal: recorded data the database cannot take yet, kept on local disk.

When a write fails for a passing reason (disk full, database locked, PostgreSQL down) the
recorder keeps the data in memory and retries; it also appends it here, fsynced, so that data
survives the process too (a kill, a power cut, the end of ``katmonitor record`` before the
database came back). The next start on the same database writes the journal back in order,
skipping what is stored already (a process can die between its database commit and clearing
the journal), and only then clears it.

One file per database (``data_dir()/journal/<hash of the URL>.jsonl``): a header line naming
the database, then one JSON line per batch. A torn last line (killed mid-write) is ignored:
its batch was never acknowledged as journaled. The file is bounded (:data:`MAX_JOURNAL_BYTES`);
beyond that the data stays in memory only and the recorder says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from katmonitor.alarms.model import AlarmEvent, Priority
from katmonitor.base.errors import KatMonitorError
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.config import data_dir
from katmonitor.storage.store import SessionStore
from katmonitor.storage.transaction import is_transient_failure

log = logging.getLogger(__name__)

JOURNAL_VERSION = 1
MAX_JOURNAL_BYTES = 512 * 1024 * 1024
"""About 40 hours of one monitor's numerics and pleth: far beyond any outage worth waiting for."""

Record = Sample | WaveformBlock | DeviceStatus | AlarmEvent
Entry = tuple[int, Record]


@dataclass(slots=True)
class Batches:
    """What the journal holds, split by kind as ``SessionStore.write_batch`` takes it."""

    samples: list[tuple[int, Sample]] = field(default_factory=list)
    blocks: list[tuple[int, WaveformBlock]] = field(default_factory=list)
    statuses: list[tuple[int, DeviceStatus]] = field(default_factory=list)
    alarms: list[tuple[int, AlarmEvent]] = field(default_factory=list)

    def add(self, session_id: int, record: Record) -> None:
        if isinstance(record, Sample):
            self.samples.append((session_id, record))
        elif isinstance(record, WaveformBlock):
            self.blocks.append((session_id, record))
        elif isinstance(record, DeviceStatus):
            self.statuses.append((session_id, record))
        else:
            self.alarms.append((session_id, record))

    def __len__(self) -> int:
        return len(self.samples) + len(self.blocks) + len(self.statuses) + len(self.alarms)


def journal_path(database_url: str, directory: Path | None = None) -> Path:
    """The journal of one database (the URL as given, password included, is only hashed)."""
    digest = hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]
    return (directory or data_dir() / "journal") / f"{digest}.jsonl"


def presession_path(database_url: str, directory: Path | None = None) -> Path:
    """Where the minutes before a session starts are kept (see ``Recorder.keep_presession``)."""
    return journal_path(database_url, directory or data_dir() / "presession")


class Journal:
    """An append-only, fsynced journal file."""

    def __init__(self, path: Path, database_name: str = "",
                 max_bytes: int = MAX_JOURNAL_BYTES) -> None:
        self.path = path
        self.database_name = database_name
        self.max_bytes = max_bytes

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, entries: Sequence[Entry]) -> bool:
        """Append one batch and fsync it; False (nothing written) when it would pass the bound.
        OSError when the disk refuses."""
        if not entries:
            return True
        line = json.dumps({"batch": [_encode(sid, record) for sid, record in entries]},
                          separators=(",", ":")) + "\n"
        data = line.encode("utf-8")
        size = self.size
        if size + len(data) > self.max_bytes:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as file:
            if size == 0:
                header = {"journal": JOURNAL_VERSION, "database": self.database_name}
                file.write(json.dumps(header).encode() + b"\n")
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        return True

    def batches(self) -> Iterator[list[Entry]]:
        """The journaled batches in order; a torn or damaged line ends the readable part."""
        try:
            file = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return
        with file:
            for number, raw in enumerate(file):
                if number == 0:
                    continue  # the header
                try:
                    yield [_decode(item) for item in json.loads(raw)["batch"]]
                except (ValueError, KeyError, TypeError, IndexError):
                    log.error("journal %s: line %d is damaged; the rest is not read",
                              self.path, number + 1)
                    return

    def rewrite(self, entries: Sequence[Entry]) -> None:
        """Replace the whole journal by ``entries`` as one batch (written beside it, fsynced,
        then renamed over it: a crash leaves the old or the new file, never half of one)."""
        if not entries:
            self.clear()
            return
        fresh = Journal(self.path.with_name(self.path.name + ".new"), self.database_name,
                        max_bytes=2**62)
        fresh.clear()
        fresh.append(entries)
        os.replace(fresh.path, self.path)

    def clear(self) -> None:
        """Forget everything journaled (it is all in the database now)."""
        self.path.unlink(missing_ok=True)


def replay_journal(store: SessionStore, journal: Journal) -> int:
    """Write what the journal holds back into the database, skipping what is already stored;
    clear it when all is written. Returns how many records were written. A batch the database
    refuses for good (e.g. its session was signed meanwhile) is moved to ``<journal>.refused``
    for a person to look at; a passing failure keeps the journal for the next start."""
    if journal.size == 0:
        return 0
    written = 0
    try:
        for batch in journal.batches():
            parts = Batches()
            for session_id, record in batch:
                parts.add(session_id, record)
            try:
                written += store.write_missing(
                    parts.samples, parts.blocks, parts.statuses, parts.alarms
                )
            except KatMonitorError as error:
                if is_transient_failure(error):
                    raise
                _set_aside(journal, batch, error)
    except KatMonitorError as error:
        log.warning("journal %s kept for the next start: %s", journal.path, error)
        return written
    journal.clear()
    if written:
        log.warning("wrote %d records kept in the journal back to the database", written)
    return written


def replay_quietly(store: SessionStore, journal: Journal | None) -> int:
    """Replay at start-up: an unreadable journal or database must not stop monitoring."""
    if journal is None:
        return 0
    try:
        return replay_journal(store, journal)
    except (KatMonitorError, OSError) as error:
        log.error("cannot write the journal %s back now: %s", journal.path, error)
        return 0


def _set_aside(journal: Journal, batch: list[Entry], error: Exception) -> None:
    refused = Journal(journal.path.with_suffix(".refused"), journal.database_name,
                      max_bytes=2**62)
    refused.append(batch)
    log.error("journal: %d records refused by the database (%s); kept in %s",
              len(batch), error, refused.path)


# -- the line format ----------------------------------------------------------------------


def _encode(session_id: int, record: Record) -> dict[str, Any]:
    if isinstance(record, Sample):
        return {"s": session_id, "t": "sample", "time": record.time, "source": record.source,
                "kind": str(record.kind), "value": record.value, "status": sorted(record.status)}
    if isinstance(record, WaveformBlock):
        values = np.asarray(record.values, dtype="<f4").tobytes()
        return {"s": session_id, "t": "block", "start": record.start_time,
                "rate": record.sample_rate_hz, "source": record.source,
                "kind": str(record.kind), "values": base64.b64encode(values).decode("ascii"),
                "status": sorted(record.status)}
    if isinstance(record, DeviceStatus):
        return {"s": session_id, "t": "status", "time": record.time, "source": record.source,
                "state": str(record.state), "conditions": sorted(record.conditions),
                "message": record.message}
    return {"s": session_id, "t": "alarm", "time": record.time, "alarm_id": record.alarm_id,
            "kind": record.kind,
            "priority": int(record.priority) if record.priority is not None else None,
            "event": record.event, "value": record.value, "limit": record.limit,
            "message": record.message, "technical": record.technical, "user": record.user,
            "reason": record.reason}


def _decode(item: dict[str, Any]) -> Entry:
    sid, tag = int(item["s"]), item["t"]
    if tag == "sample":
        return sid, Sample(float(item["time"]), str(item["source"]), VitalKind(item["kind"]),
                           None if item["value"] is None else float(item["value"]),
                           frozenset(item["status"]))
    if tag == "block":
        values = np.frombuffer(base64.b64decode(item["values"], validate=True), dtype="<f4")
        return sid, WaveformBlock(float(item["start"]), float(item["rate"]),
                                  str(item["source"]), VitalKind(item["kind"]),
                                  values.astype(np.float32), frozenset(item["status"]))
    if tag == "status":
        return sid, DeviceStatus(float(item["time"]), str(item["source"]),
                                 ConnectionState(item["state"]),
                                 frozenset(item["conditions"]), str(item["message"]))
    if tag == "alarm":
        priority = item["priority"]
        return sid, AlarmEvent(
            float(item["time"]), str(item["alarm_id"]), str(item["kind"]),
            Priority(int(priority)) if priority is not None else None, str(item["event"]),
            item["value"], item["limit"], str(item["message"]), bool(item["technical"]),
            str(item["user"]), str(item["reason"]),
        )
    raise ValueError(f"unknown journal record {tag!r}")
