"""Damaging a bundle: single-byte flips and structural mutations (delete, retype, nest junk,
wrong-length keys, huge numbers), and the verdict each must get. Shared by the tests
(``test_bundle_damage.py``) and the full fuzz run (``python -m bench.bundle_fuzz``)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from katmonitor.record_signing import VerificationReport, verify_bundle
from katmonitor.trusted_keys import TrustedKeys

SAFETY_NET = "could not be checked"
# Replacement values that are of another type or out of range wherever they land.
JUNK: list[Any] = [
    None,
    True,
    -1,
    10**40,
    1e308,
    "x",
    "",
    [],
    {},
    [[[[["deep"]]]]],
    {"junk": {"junk": [1, {"x": None}]}},
    "zz" * 33,
]


def flipped(original: bytes, rng: random.Random) -> tuple[int, bytes]:
    """One byte replaced by a different random byte."""
    at = rng.randrange(len(original))
    new = rng.choice([b for b in range(256) if b != original[at]])
    return at, original[:at] + bytes([new]) + original[at + 1 :]


def same_content(original: bytes, changed: bytes) -> bool:
    """A change that leaves the JSON value as it was (trailing whitespace; an escape such as
    \\u00e9 written \\u00E9): the bundle is the same, and verifying it is right."""
    try:
        return bool(json.loads(changed) == json.loads(original))
    except ValueError:
        return False


def _paths(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path of the bundle's objects; of a list, its first and last item."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield (*path, key)
            yield from _paths(value, (*path, key))
    elif isinstance(obj, list) and obj:
        for i in sorted({0, len(obj) - 1}):
            yield (*path, i)
            yield from _paths(obj[i], (*path, i))


def structural_mutations(bundle: dict[str, Any]) -> list[tuple[str, Callable[[Any], None]]]:
    """(description, change) for each key path: delete it, retype it (junk of every kind by
    turns), nest junk inside it; and, for the keys, a wrong length."""
    mutations: list[tuple[str, Callable[[Any], None]]] = []
    for n, path in enumerate(_paths(bundle)):
        parent_path, key = path[:-1], path[-1]

        def at(obj: Any, parent_path: tuple[Any, ...] = parent_path) -> Any:
            for p in parent_path:
                obj = obj[p]
            return obj

        def delete(obj: Any, key: Any = key, at: Callable[[Any], Any] = at) -> None:
            del at(obj)[key]

        def retype(obj: Any, key: Any = key, at: Callable[[Any], Any] = at, n: int = n) -> None:
            parent = at(obj)
            junk = JUNK[n % len(JUNK)]
            if type(junk) is type(parent[key]):
                junk = JUNK[(n + 5) % len(JUNK)]
            parent[key] = junk

        def nest(obj: Any, key: Any = key, at: Callable[[Any], Any] = at) -> None:
            parent = at(obj)
            parent[key] = {"nested": parent[key], "junk": [[{"a": [None]}]]}

        mutations += [(f"delete {path}", delete), (f"retype {path}", retype)]
        mutations.append((f"nest {path}", nest))
    for name in ("public_key",):
        for size in (0, 31, 33, 64):

            def resize(obj: Any, name: str = name, size: int = size) -> None:
                obj[name] = (bytes.fromhex(obj[name]) * 3)[:size].hex()

            mutations.append((f"{name} of {size} bytes", resize))
    return mutations


def check_verdict(path: Path, data: bytes, trusted: TrustedKeys) -> VerificationReport:
    """Verify ``data`` written to ``path``: a report, never an exception."""
    path.write_bytes(data)
    return verify_bundle(path, trusted)


def is_clear_refusal(report: VerificationReport) -> bool:
    """Not verified, with at least one named reason, and not caught only by the safety net."""
    reasons = report.problems + report.untrusted
    return (
        not report.ok
        and bool(reasons)
        and not any(SAFETY_NET in r for r in reasons)
        and report.status in ("invalid", "untrusted")
    )


def mutated(original: bytes, change: Callable[[Any], None]) -> bytes:
    bundle = json.loads(original)
    change(bundle)
    return json.dumps(bundle).encode()
