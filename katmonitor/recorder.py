"""Recorder: one writer thread that stores what the devices deliver, in batched commits.

Device threads call ``submit_*``; that only appends to a queue under a short lock, so
acquisition never waits for the database. The writer thread wakes every ``flush_interval_s``
and commits everything queued in one transaction, so at most about a second of data is ever
held only in memory. Contiguous waveform blocks are joined before they are stored (100 Hz pleth
arriving as 10-point blocks becomes a few rows per second).

Nothing is dropped silently. When a write fails for a passing reason (database locked, disk
full, server gone) the data is kept and retried with backoff, and ``last_error`` says why; it
is also appended to the local journal (:mod:`katmonitor.journal`, fsynced) so that it survives
the process too, and the journal is cleared once the database has taken it. When
the database refuses particular records (a constraint, a value it cannot take), the batch is
written in halves so that only the refused records are set aside; they are logged and counted
in ``rejected``, and everything else is stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from katmonitor.alarms.model import AlarmEvent
from katmonitor.base.samples import DeviceStatus, Sample, WaveformBlock
from katmonitor.events import RECORDER_ERROR, EventHub
from katmonitor.journal import Entry, Journal
from katmonitor.records.waveform_runs import MAX_BLOCK_POINTS, continues
from katmonitor.storage.store import SessionStore
from katmonitor.storage.transaction import is_transient_failure

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 5.0


@dataclass(slots=True)
class _Run:
    """Contiguous waveform blocks of one stream, to be stored as one block."""

    session_id: int
    first: WaveformBlock
    parts: list[np.ndarray] = field(default_factory=list)
    count: int = 0
    submitted: int = 0  # how many submitted blocks were joined in (for ``pending``)

    def add(self, block: WaveformBlock) -> None:
        self.parts.append(block.values)
        self.count += block.count
        self.submitted += 1

    def accepts(self, session_id: int, block: WaveformBlock) -> bool:
        first = self.first
        rate = first.sample_rate_hz
        return (
            session_id == self.session_id
            and block.source == first.source
            and block.kind == first.kind
            and block.sample_rate_hz == rate
            and block.status == first.status
            and continues(first.start_time, self.count, rate, block.start_time)
            and self.count + block.count <= MAX_BLOCK_POINTS
        )

    def block(self) -> WaveformBlock:
        values = np.concatenate(self.parts).astype(np.float32, copy=False)
        return replace(self.first, values=values)


@dataclass(slots=True)
class _Seal:
    """A seal() request: chain the digests of a session's recorded data once it is written."""

    session_id: int
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False


class _DropPresession:
    """A session started: what was kept from before it is in the session now."""


PRESESSION = 0
"""The session id data from before any session is queued under (real ids start at 1)."""
PRESESSION_APPEND_S = 1.0
"""Pre-session data reaches the disk at least this often (by its own time)."""
PRESESSION_PRUNE_S = 60.0
"""How often (by data time) the pre-session file drops what is older than the window."""

# What waits to be written: a numeric sample or device status with its session id, or a run.
_Item = tuple[int, Sample | DeviceStatus | AlarmEvent] | _Run
# What device threads enqueue; an Event is a flush() marker.
_Entry = (tuple[int, Sample | WaveformBlock | DeviceStatus | AlarmEvent] | threading.Event
          | _Seal | _DropPresession)


class Recorder:
    def __init__(self, store: SessionStore, *, flush_interval_s: float = 0.25,
                 events: EventHub | None = None, journal: Journal | None = None,
                 presession: Journal | None = None,
                 presession_window_s: float = 600.0) -> None:
        """``events``: where a change of ``last_error`` is published (on the writer thread).
        ``journal``: where data the database cannot take yet is kept on disk (None: memory
        only). ``presession``: where the last ``presession_window_s`` of data from before a
        session starts are kept on disk (the pre-dose baseline survives a crash)."""
        self._store = store
        self.journal = journal
        self.presession = presession
        self.presession_window_s = presession_window_s
        self.events = events or EventHub()
        self._interval = flush_interval_s
        self._cond = threading.Condition()
        # Guarded by _cond:
        self._queue: deque[_Entry] = deque()
        self._pending = 0
        self._wake = False
        self._closed = False
        self._stop_deadline = 0.0
        self._warned_closed = False
        self._ran_here = False
        # Used by the writer thread only:
        self._buffer: list[_Item] = []
        self._open_runs: dict[tuple[int, str, str], _Run] = {}
        self._waiters: list[threading.Event] = []
        self._seals: list[_Seal] = []
        self._last_logged_error: str | None = None
        self._journaled = 0  # how many items at the front of _buffer are in the journal
        self._journal_dirty = False  # the journal holds data the database has not taken
        self._journal_problem: str | None = None
        self._presession_new: list[Entry] = []  # not on disk yet
        self._presession_written_to = float("-inf")  # data time of the last append
        self._presession_pruned_at = float("-inf")
        self._presession_problem = False

        self._thread: threading.Thread | None = None
        self._last_error: str | None = None
        self._rejected = 0

    # -- producer side (any thread) --------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread; after stop(), start() records again (nothing kept is lost)."""
        with self._cond:
            if self._thread is not None and not self._closed:
                return  # running
            previous = self._thread
        if previous is not None and previous is not threading.current_thread():
            previous.join()  # a stopped writer ends by its stop deadline
        with self._cond:
            self._closed = False
            self._warned_closed = False
            self._ran_here = False
            # Daemon: a forgotten stop() must not hang the app at exit.
            self._thread = threading.Thread(
                target=self._run, name="katmonitor-recorder", daemon=True
            )
            self._thread.start()

    def submit_sample(self, session_id: int, sample: Sample) -> None:
        self._submit((session_id, sample))

    def submit_waveform(self, session_id: int, block: WaveformBlock) -> None:
        self._submit((session_id, block))

    def submit_status(self, session_id: int, status: DeviceStatus) -> None:
        self._submit((session_id, status))

    def submit_alarm_event(self, session_id: int, event: AlarmEvent) -> None:
        self._submit((session_id, event))

    def submit_presession(self, item: Sample | WaveformBlock) -> None:
        """Data from before any session: kept on disk for the pre-dose baseline."""
        self._submit((PRESESSION, item))

    def drop_presession(self) -> None:
        """A session started (its baseline was submitted to it): forget the pre-session
        data on disk, after what was submitted before this call."""
        with self._cond:
            self._queue.append(_DropPresession())
            self._wake = True
            self._cond.notify()

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything submitted before this call is committed; False on timeout."""
        marker = threading.Event()
        with self._cond:
            if self._pending == 0:
                return True
            if self._closed or self._thread is None:
                return False  # no writer will take it
            self._queue.append(marker)
            self._wake = True
            self._cond.notify()
        return marker.wait(timeout_s)

    def seal(self, session_id: int, timeout_s: float = 5.0) -> bool:
        """Flush, then chain the digests of all the session's recorded data, even of its
        unfinished last minute, on the writer thread (the store's audit log; call before ending
        a session). False on timeout or failure: ending the session seals the rest anyway."""
        request = _Seal(session_id)
        with self._cond:
            here = self._closed or self._thread is None
            if not here:
                self._queue.append(request)
                self._wake = True
                self._cond.notify()
        if here:
            self._seal(request)
            return request.ok
        return request.done.wait(timeout_s) and request.ok

    def stop(self, timeout_s: float = 10.0) -> None:
        """Store what is left (retrying until ``timeout_s``), then end the writer thread."""
        with self._cond:
            if not self._closed:
                self._closed = True
                self._stop_deadline = time.monotonic() + timeout_s
                self._wake = True
                self._cond.notify()
        if self._thread is None:
            with self._cond:
                run_here, self._ran_here = not self._ran_here, True
            if run_here:
                self._run()  # never started: do the final write in this thread
        elif self._thread is not threading.current_thread():
            self._thread.join(timeout_s + 1.0)

    @property
    def last_error(self) -> str | None:
        """Why the last write failed; None once a write succeeds again."""
        return self._last_error

    @property
    def pending(self) -> int:
        """Submitted samples, blocks and statuses not yet committed."""
        with self._cond:
            return self._pending

    @property
    def journaled(self) -> bool:
        """True while some data is in the journal and not yet in the database."""
        return self._journal_dirty

    @property
    def rejected(self) -> int:
        """Records the database refused (each logged as an error); normally 0."""
        return self._rejected

    def _submit(self, entry: _Entry) -> None:
        with self._cond:
            if not self._closed:
                self._queue.append(entry)
                self._pending += 1
                return
            warn, self._warned_closed = not self._warned_closed, True
        if warn:
            log.error("data submitted after the recorder was stopped is not stored")

    # -- writer thread ---------------------------------------------------------------------

    def write_queued(self) -> bool:
        """Commit what was submitted, in the calling thread: one turn of the writer thread's
        loop, for a recorder that was not started (benchmarks and tests drive it on their own
        clock instead of waiting for the thread's interval). True when nothing is left to
        write; on a failure the data is kept for the next call, as the thread keeps it."""
        with self._cond:
            if self._thread is not None and not self._closed:
                raise RuntimeError("the recorder's writer thread is running: use flush()")
        return self._write_turn()

    def _run(self) -> None:
        delay = self._interval
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._wake, timeout=delay)
                self._wake = False
                closing = self._closed
            if self._write_turn():
                delay = self._interval
            else:
                delay = min(max(delay, self._interval) * 2, MAX_BACKOFF_S)
            if closing:
                with self._cond:
                    left = self._pending
                if left == 0:
                    return
                remaining = self._stop_deadline - time.monotonic()
                if remaining <= 0:
                    log.error(
                        "recorder stopped with %d records not stored: %s", left, self._last_error
                    )
                    return
                delay = min(delay, remaining)

    def _write_turn(self) -> bool:
        """Take what is queued and commit it; then release flush() waiters and run seals."""
        with self._cond:
            incoming, self._queue = self._queue, deque()
        try:
            for entry in incoming:
                if isinstance(entry, threading.Event):
                    self._waiters.append(entry)
                elif isinstance(entry, _Seal):
                    self._seals.append(entry)
                elif isinstance(entry, _DropPresession):
                    self._drop_presession()
                elif entry[0] == PRESESSION:
                    self._presession_new.append(entry)
                else:
                    self._absorb(entry)
            self._keep_presession()
            done = self._write_buffer()
        except Exception:  # a bug here must not end recording
            log.exception("recorder: unexpected error; the data is kept and retried")
            done = False
        if done:
            for waiter in self._waiters:
                waiter.set()
            self._waiters.clear()
            for request in self._seals:
                self._seal(request)
            self._seals.clear()
        return done

    def _seal(self, request: _Seal) -> None:
        try:
            self._store.seal_recorded(request.session_id)
            request.ok = True
        except Exception as exc:  # the session's end seals what is left
            log.warning("recorder: cannot seal session %d yet: %s", request.session_id, exc)
        finally:
            request.done.set()

    def _absorb(
        self, entry: tuple[int, Sample | WaveformBlock | DeviceStatus | AlarmEvent]
    ) -> None:
        session_id, item = entry
        if not isinstance(item, WaveformBlock):
            self._buffer.append((session_id, item))
            return
        key = (session_id, item.source, str(item.kind))
        run = self._open_runs.get(key)
        if run is None or not run.accepts(session_id, item):
            run = _Run(session_id, item)
            self._buffer.append(run)
            self._open_runs[key] = run
        run.add(item)

    def _write_buffer(self) -> bool:
        """Try to commit the buffer; True when nothing is left to write."""
        if not self._buffer:
            return True
        try:
            self._write(self._buffer)
        except Exception as exc:
            if is_transient_failure(exc):
                self._journal_buffer()
                self._note_failure(exc)
                return False
            self._set_aside_refused()
            if self._buffer:
                self._journal_buffer()
                return False
            self._journal_written()
            return True
        self._written(self._buffer)
        self._buffer = []
        self._open_runs.clear()
        self._journal_written()
        return True

    def _keep_presession(self) -> None:
        """Append the new pre-session data to its file about once a second (of data time),
        and drop what is older than the window about once a minute."""
        new = self._presession_new
        if not new:
            return
        newest = max(_data_time(record) for _, record in new)
        with self._cond:
            closing = self._closed
        if newest - self._presession_written_to < PRESESSION_APPEND_S and not closing:
            return
        self._presession_new = []
        self._release(len(new))
        if self.presession is None:
            return
        try:
            if newest - self._presession_pruned_at >= PRESESSION_PRUNE_S:
                horizon = newest - self.presession_window_s
                kept = [entry for batch in self.presession.batches() for entry in batch
                        if _data_time(entry[1]) >= horizon]
                self.presession.rewrite(kept + [e for e in new if _data_time(e[1]) >= horizon])
                self._presession_pruned_at = newest
            else:
                self.presession.append(new)
            self._presession_written_to = newest
            self._presession_problem = False
        except OSError as error:  # the baseline is still in memory; only a crash loses it
            if not self._presession_problem:
                log.warning("recorder: cannot keep the pre-session data on disk: %s", error)
            self._presession_problem = True

    def _drop_presession(self) -> None:
        self._release(len(self._presession_new))
        self._presession_new = []
        self._presession_written_to = self._presession_pruned_at = float("-inf")
        if self.presession is not None:
            try:
                self.presession.clear()
            except OSError as error:
                log.warning("recorder: cannot clear the pre-session data: %s", error)

    def _journal_buffer(self) -> None:
        """Append what is kept and not journaled yet to the journal (fsynced)."""
        if self.journal is None or self._journaled >= len(self._buffer):
            return
        fresh: list[Entry] = [
            (item.session_id, item.block()) if isinstance(item, _Run) else item
            for item in self._buffer[self._journaled :]
        ]
        try:
            stored = self.journal.append(fresh)
            problem = None if stored else f"the journal {self.journal.path} is full"
        except OSError as error:
            problem = f"the journal {self.journal.path} cannot be written: {error.strerror}"
        if problem is None:
            self._journaled = len(self._buffer)
            self._journal_dirty = True
            self._open_runs.clear()  # a journaled run must not grow any more
        elif problem != self._journal_problem:
            log.error("recorder: %s; data is kept in memory only", problem)
        self._journal_problem = problem

    def _journal_written(self) -> None:
        """Everything kept was written: the journal holds nothing the database lacks."""
        self._journaled = 0
        self._journal_problem = None
        if self._journal_dirty and self.journal is not None:
            try:
                self.journal.clear()
            except OSError as error:  # a stale journal is only written back once more
                log.warning("recorder: cannot clear the journal: %s", error.strerror)
        self._journal_dirty = False

    def _set_aside_refused(self) -> None:
        """Write the buffer in halves until only the records the database refuses are left."""
        stack = [self._buffer]
        refused: list[tuple[_Item, Exception]] = []
        kept: list[_Item] = []
        while stack:
            part = stack.pop()
            try:
                self._write(part)
            except Exception as exc:
                if is_transient_failure(exc):
                    # Keep this part and everything not tried yet for the next attempt.
                    kept = part + [item for rest in reversed(stack) for item in rest]
                    self._note_failure(exc)
                    break
                if len(part) == 1:
                    refused.append((part[0], exc))
                    continue
                middle = len(part) // 2
                stack.extend((part[middle:], part[:middle]))
            else:
                self._written(part)
        self._buffer = kept
        self._journaled = 0  # what is kept may be partly journaled: journal it again
        self._open_runs.clear()
        if refused:
            items = [item for item, _ in refused]
            count = _count(items)
            self._rejected += count
            self._release(count)  # no longer pending: they are not retried
            self._set_error(f"the database refused {count} records: {refused[0][1]}")
            log.error(
                "recorder: the database refused %d records (not stored), e.g. %s: %s",
                count,
                _describe(items[0]),
                refused[0][1],
            )

    def _write(self, items: list[_Item]) -> None:
        samples: list[tuple[int, Sample]] = []
        blocks: list[tuple[int, WaveformBlock]] = []
        statuses: list[tuple[int, DeviceStatus]] = []
        alarms: list[tuple[int, AlarmEvent]] = []
        for item in items:
            if isinstance(item, _Run):
                blocks.append((item.session_id, item.block()))
                continue
            session_id, record = item
            if isinstance(record, Sample):
                samples.append((session_id, record))
            elif isinstance(record, AlarmEvent):
                alarms.append((session_id, record))
            else:
                statuses.append((session_id, record))
        if alarms:
            self._store.write_batch(samples, blocks, statuses, alarms)
        else:  # the plain call, as stores without alarm events know it
            self._store.write_batch(samples, blocks, statuses)

    def _written(self, items: list[_Item]) -> None:
        self._release(_count(items))
        if self._last_error is not None and self._last_logged_error is not None:
            log.info("recorder: writing works again; the kept data is stored")
        self._set_error(None)
        self._last_logged_error = None

    def _release(self, count: int) -> None:
        with self._cond:
            self._pending -= count

    def _note_failure(self, exc: Exception) -> None:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self._journal_problem is not None:
            message += f" ({self._journal_problem}: data kept in memory only)"
        elif self._journal_dirty:
            message += " (data kept in the local journal until the database takes it)"
        self._set_error(message)
        if message != self._last_logged_error:  # once per distinct error, not every retry
            log.warning("recorder: cannot store data yet (kept, will retry): %s", message)
            self._last_logged_error = message


    def _set_error(self, message: str | None) -> None:
        changed = message != self._last_error
        self._last_error = message
        if changed:
            self.events.publish(RECORDER_ERROR, message)


def _data_time(record: Sample | WaveformBlock | DeviceStatus | AlarmEvent) -> float:
    return record.start_time if isinstance(record, WaveformBlock) else record.time


def _describe(item: _Item) -> str:
    if isinstance(item, _Run):
        first = item.first
        return (
            f"{item.count} {first.kind} points from {first.source} at {first.start_time} "
            f"for session {item.session_id}"
        )
    session_id, record = item
    return f"{record!r} for session {session_id}"


def _count(items: list[_Item]) -> int:
    return sum(item.submitted if isinstance(item, _Run) else 1 for item in items)
