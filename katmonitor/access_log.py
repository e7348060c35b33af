"""The access log: who signed in, failed to, locked, handed over, changed an account, signed,
added an addendum, exported or opened a record, and when.

One log per database, hash-chained like a session's record (each entry's hash is
SHA-256(previous hash + canonical JSON of the entry)), so an entry changed or removed in the
middle breaks the chain and :meth:`AccessLog.verify` names where. Appends are serialised by
storage, so two workstations on one PostgreSQL database never fork it. Reading it is for
administrators (:func:`katmonitor.policy.require_user_manager`); ``katmonitor audit`` prints it.

Recording is never optional: a failure to write the log is an error of the action it records
(the caller's transaction for that action has already committed, so the action is not undone,
but the person sees the failure).
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from katmonitor.base.samples import iso_utc
from katmonitor.config import workstation_name
from katmonitor.records.entries import GENESIS, canonical, chain_hash
from katmonitor.storage.access_log import AccessLogRepository
from katmonitor.storage.database import Database


class Action(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    LOCK = "lock"
    UNLOCK = "unlock"
    HANDOVER = "handover"
    ACCOUNT_ADD = "account_add"
    ACCOUNT_RESET_PASSWORD = "account_reset_password"
    ACCOUNT_CHANGE_PASSWORD = "account_change_password"
    ACCOUNT_DISABLE = "account_disable"
    ACCOUNT_ENABLE = "account_enable"
    ACCOUNT_ROLE = "account_role"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_UNLOCK = "account_unlock"
    ADMIN_CHECK = "admin_check"  # an administrator's password asked again, e.g. by a dialog
    SIGN = "sign"
    ADDENDUM = "addendum"
    EXPORT = "export"
    OPEN_RECORD = "open_record"
    READ_ACCESS_LOG = "read_access_log"
    EXPORT_KEYS = "export_keys"


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"  # wrong credentials or the action failed
    REFUSED = "refused"  # not permitted, or the account is locked or disabled


@dataclass(frozen=True, slots=True)
class AccessEntry:
    seq: int
    time: float
    user: str
    action: str
    target: str
    outcome: str
    detail: str
    workstation: str

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "time": iso_utc(self.time),
            "user": self.user,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "detail": self.detail,
            "workstation": self.workstation,
            "seq": self.seq,
        }


def _entry_fields(entry: AccessEntry) -> dict[str, Any]:
    """What the hash covers: every field, as stored."""
    return {
        "seq": entry.seq,
        "at": entry.time,
        "user": entry.user,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "detail": entry.detail,
        "workstation": entry.workstation,
    }


def _from_row(row: dict[str, Any]) -> AccessEntry:
    return AccessEntry(
        seq=int(row["seq"]),
        time=float(row["at"]),
        user=row["user_name"],
        action=row["action"],
        target=row["target"],
        outcome=row["outcome"],
        detail=row["detail"],
        workstation=row["workstation"],
    )


class AccessLog:
    """The database's access log."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], float] = _time.time,
        workstation: str | None = None,
    ) -> None:
        self._rows = AccessLogRepository(database)
        self.clock = clock
        self.workstation = workstation or workstation_name()

    def record(
        self,
        user: str,
        action: Action,
        target: str = "",
        outcome: Outcome = Outcome.OK,
        detail: str = "",
    ) -> AccessEntry:
        """Append one entry (``user``: the account name acting, or who tried to)."""
        now = round(self.clock(), 3)

        def make_row(seq: int, prev_hash: str | None) -> dict[str, Any]:
            entry = AccessEntry(
                seq, now, user[:128], str(action), target[:255], str(outcome), detail,
                self.workstation[:128],
            )
            data = canonical(_entry_fields(entry))
            prev = prev_hash if prev_hash is not None else GENESIS
            return {
                "seq": entry.seq,
                "at": entry.time,
                "user_name": entry.user,
                "action": entry.action,
                "target": entry.target,
                "outcome": entry.outcome,
                "detail": entry.detail,
                "workstation": entry.workstation,
                "entry": data.decode(),
                "prev_hash": prev,
                "hash": chain_hash(prev, data),
            }

        return _from_row(self._rows.append(make_row))

    def entries(
        self, *, user: str | None = None, since: float | None = None
    ) -> Iterator[AccessEntry]:
        """Entries in order; only ``user``'s, or from ``since`` (epoch seconds) on."""
        for row in self._rows.rows(user_name=user, since=since):
            yield _from_row(row)

    def verify(self) -> list[str]:
        """What is wrong with the chain (empty when intact): an entry whose fields differ from
        what was hashed, a changed hash, a gap in the sequence, a broken link."""
        problems: list[str] = []
        prev, expected_seq = GENESIS, 0
        for row in self._rows.rows():
            entry = _from_row(row)
            seq = entry.seq
            if seq != expected_seq:
                problems.append(
                    f"access log entries {expected_seq}..{seq - 1} are missing"
                    if seq > expected_seq else f"access log entry {seq} is out of order"
                )
            data = canonical(_entry_fields(entry))
            if data.decode() != row["entry"]:
                problems.append(f"access log entry {seq} was changed after it was written")
            if row["prev_hash"] != prev:
                problems.append(f"access log entry {seq} does not follow the one before it")
            if chain_hash(row["prev_hash"], row["entry"].encode()) != row["hash"]:
                problems.append(f"access log entry {seq} has a wrong hash")
            prev, expected_seq = row["hash"], seq + 1
        return problems

    def head(self) -> tuple[int, str]:
        """The number of entries and the last hash (what a checkpoint anchors)."""
        tail = self._rows.tail()
        return (tail[0] + 1, tail[1]) if tail is not None else (0, GENESIS)
