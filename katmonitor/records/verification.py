"""Checking stored rows against the chain: links and hashes, the session row, event rows and
the recorded data's digests. Each problem names what differs (table, row, field, minute)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from katmonitor.records.columns import LAYOUTS, Recorded
from katmonitor.records.digests import (
    SEAL_STRIDE,
    Digester,
    group_rows,
    minutes_of,
    samples_body,
    why_ungrouped,
)
from katmonitor.records.entries import (
    EVENT_KINDS,
    GENESIS,
    SAMPLES_KIND,
    SESSION_KIND,
    STATUS_KIND,
    Entry,
    canonical,
    chain_hash,
    describe,
    entry_body,
)

StoredEntry = Mapping[str, Any]
"""A stored chain entry: seq, kind, row_id, entry (canonical JSON), prev_hash, hash."""


def recomputed_hashes(stored: Sequence[StoredEntry]) -> list[str]:
    """Each entry's hash recomputed from the genesis."""
    out = []
    prev = GENESIS
    for row in stored:
        prev = chain_hash(prev, row["entry"].encode())
        out.append(prev)
    return out


def check_links(stored: Sequence[StoredEntry]) -> tuple[str, list[str]]:
    """Each stored entry's sequence number, link and hash; returns the recomputed head."""
    problems = []
    prev = GENESIS
    for i, row in enumerate(stored):
        seq = row["seq"]
        what = describe(row["kind"], row["row_id"])
        if seq != i:
            problems.append(f"chain entry {seq} ({what}) is at position {i}: entries are missing")
        if row["prev_hash"] != prev:
            problems.append(f"chain entry {seq} ({what}): link to the previous entry is broken")
        digest = chain_hash(prev, row["entry"].encode())
        if digest != row["hash"]:
            problems.append(f"chain entry {seq} ({what}): the audit log entry was altered")
        prev = digest
    return prev, problems


def _changes(signed: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    changed = sorted(k for k in set(signed) | set(now) if signed.get(k) != now.get(k))
    return ", ".join(f"{k} {signed.get(k)!r} -> {now.get(k)!r}" for k in changed)


def check_session_row(
    stored: Sequence[StoredEntry], session_id: int, row: Mapping[str, Any]
) -> list[str]:
    """The session row against its creation entry with the chained status changes applied."""
    created = [r for r in stored if r["kind"] == SESSION_KIND]
    if not created:
        return [f"{describe(SESSION_KIND, session_id)} is not in the audit log"]
    expected = {k: v for k, v in entry_body(created[0]["entry"]).items() if k != "type"}
    first: int = created[0]["seq"]
    set_by: dict[str, int] = dict.fromkeys(expected, first)
    for r in stored:
        if r["kind"] == STATUS_KIND:
            body = entry_body(r["entry"])
            for field_name in ("status", "ended_at"):
                expected[field_name] = body.get(field_name)
                set_by[field_name] = r["seq"]
    problems = []
    for seq in sorted({set_by.get(k, first) for k in set(expected) | set(row)}):
        fields = {
            k
            for k in set(expected) | set(row)
            if set_by.get(k, first) == seq and expected.get(k) != row.get(k)
        }
        if fields:
            details = _changes(
                {k: expected.get(k) for k in fields}, {k: row.get(k) for k in fields}
            )
            problems.append(
                f"chain entry {seq} mismatch: {describe(SESSION_KIND, session_id)} changed: "
                f"{details}"
            )
    return problems


def check_event_rows(
    stored: Sequence[StoredEntry],
    current: Sequence[Entry],
    kinds: Collection[str] = EVENT_KINDS,
) -> list[str]:
    """Rows of the tables ``kinds`` (doses, observations, ...) against their entries: changed,
    deleted, added."""
    problems = []
    now = {(e.kind, e.key): e for e in current if e.kind in kinds}
    seen = set()
    for row in stored:
        if row["kind"] not in kinds:
            continue
        ident = (row["kind"], row["row_id"])
        seen.add(ident)
        what = describe(*ident)
        entry = now.get(ident)
        if entry is None:
            problems.append(f"chain entry {row['seq']} mismatch: {what} was deleted")
        elif entry.encoded().decode() != row["entry"]:
            details = _changes(entry_body(row["entry"]), entry.body) or "content changed"
            problems.append(f"chain entry {row['seq']} mismatch: {what} changed: {details}")
    for ident in now:
        if ident not in seen:
            problems.append(f"{describe(*ident)} is not in the audit log")
    return problems


def check_recorded(
    stored: Sequence[StoredEntry],
    samples: Recorded,
    blocks: Recorded,
    *,
    recording: bool = False,
) -> list[str]:
    """The recorded data against the chain's samples entries: each entry's digest recomputed
    from the rows of its seal and minute; rows the chain holds nowhere; rows with no time.
    ``recording``: the session is active, so rows after the last seal are still to be sealed
    (the newest minute), not a difference."""
    problems: list[str] = []
    entries = []
    for row in stored:
        if row["kind"] != SAMPLES_KIND:
            continue
        body = entry_body(row["entry"])
        try:
            ranges = {t: (int(body["ids"][t][0]), int(body["ids"][t][1])) for t in LAYOUTS}
            entries.append((row["seq"], int(body["minute"]), ranges, row["entry"]))
        except (KeyError, TypeError, ValueError, IndexError):
            problems.append(f"chain entry {row['seq']}: not a samples entry of KAT Monitor")
    seals: dict[tuple[tuple[int, int], ...], int] = {}
    for _, _, ranges, _ in entries:
        seals.setdefault(tuple(ranges[t] for t in LAYOUTS), len(seals))
    groups = []
    missing: dict[int, list[int]] = {}  # minute -> rows per table not held by the chain
    for t, (name, recorded) in enumerate(zip(LAYOUTS, (samples, blocks), strict=True)):
        spans: dict[tuple[int, int], int] = {}
        for seal_key, seal_id in seals.items():
            lo, hi = seal_key[t]
            if hi > lo:
                spans.setdefault((lo, hi), seal_id)
        ordered = sorted(spans.items())
        los = np.array([lo for (lo, _), _ in ordered], dtype=np.int64)
        his = np.array([hi for (_, hi), _ in ordered], dtype=np.int64)
        seal_ids = np.array([s for _, s in ordered], dtype=np.int64)
        ids = recorded.ids
        at = np.searchsorted(los, ids, side="left") - 1
        inside = at >= 0
        if len(ordered):
            at_ok = np.clip(at, 0, len(ordered) - 1)
            inside &= ids <= his[at_ok]
            seal_of = seal_ids[at_ok]
        else:
            seal_of = np.zeros(len(ids), dtype=np.int64)
        minutes = minutes_of(recorded)
        no_time = np.isnan(minutes)
        whole = np.where(no_time, 0, minutes).astype(np.int64)
        outside = ~inside & ~no_time
        if recording:  # the rows after every seal wait for theirs
            outside &= ids <= (his.max() if len(his) else np.iinfo(np.int64).min)
        for i in np.flatnonzero(outside):
            missing.setdefault(int(whole[i]), [0, 0])[t] += 1
        problems += [
            f"{name} row {int(ids[i])}: {why_ungrouped(recorded, int(i))}"
            for i in np.flatnonzero(no_time)
        ]
        groups.append(group_rows(recorded, seal_of * SEAL_STRIDE + whole, ~inside | no_time))
    digester = Digester(groups[0].recorded, groups[1].recorded)
    held = set()
    for seq, minute, ranges, text in entries:
        group = seals[tuple(ranges[t] for t in LAYOUTS)] * SEAL_STRIDE + minute
        held.add(group)
        digest = digester.digest(
            groups[0].ranges.get(group, (0, 0)), groups[1].ranges.get(group, (0, 0))
        )
        body = samples_body(minute, {t: list(r) for t, r in ranges.items()}, digest)
        if canonical(body).decode() != text:
            problems.append(
                f"chain entry {seq} mismatch: samples digest mismatch in "
                f"{describe(SAMPLES_KIND, minute)}"
            )
    for t, grouped in enumerate(groups):
        for group, (lo, hi) in grouped.ranges.items():
            if group not in held:
                missing.setdefault(group % SEAL_STRIDE, [0, 0])[t] += hi - lo
    for minute, (n_samples, n_blocks) in sorted(missing.items()):
        problems.append(
            f"{describe(SAMPLES_KIND, minute)}: {n_samples} sample(s) and {n_blocks} waveform "
            "block(s) are not in the audit log"
        )
    return problems
