"""What every benchmark shares: a figure with its goal, its table, and the command line.

Each module in bench/ has ``collect(options) -> list[Figure]`` and ends with
``harness.main(collect, __doc__)``, so ``python -m bench.NAME`` prints its own table and
``python -m bench`` (``./scripts/bench``) runs them all into one table. A figure keeps every
measured sample; the table shows the statistic the goal is about (the median, or the p99 of a
latency distribution) with the spread of the samples, never the best run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]

Direction = Literal["at most", "at least"]
Statistic = Literal["median", "p99"]


@dataclass(frozen=True, slots=True)
class Options:
    """How hard to measure: ``quick`` asks for fewer runs (a first look, not a figure to
    publish); ``runs`` overrides each module's own number of runs."""

    quick: bool = False
    runs: int | None = None

    def count(self, full: int, quick: int) -> int:
        if self.runs is not None:
            return self.runs
        return quick if self.quick else full


@dataclass(slots=True)
class Figure:
    """One measured figure: ``samples`` are the runs (or, for latencies, every event)."""

    name: str
    unit: str
    goal: float | None  # None: reported for context, no verdict
    direction: Direction
    samples: list[float]
    statistic: Statistic = "median"
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def value(self) -> float:
        if not self.samples:
            return math.nan
        if self.statistic == "p99":
            return percentile(self.samples, 0.99)
        return statistics.median(self.samples)

    @property
    def spread(self) -> tuple[float, float, str]:
        """(low, high, label): p10-p90 over at least 10 samples, else min-max."""
        if len(self.samples) >= 10:
            return percentile(self.samples, 0.10), percentile(self.samples, 0.90), "p10-p90"
        return min(self.samples), max(self.samples), "min-max"

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        if not self.samples:
            return False
        if self.direction == "at most":
            return self.value <= self.goal
        return self.value >= self.goal

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "-"}[self.met]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(figures: Sequence[Figure], modules: Sequence[str] | None = None) -> str:
    """A Markdown table: (bench,) figure, goal, measured statistic, spread, n, verdict."""
    rows: list[tuple[str, ...]] = [("figure", "goal", "measured", "spread", "n", "verdict")]
    for f in figures:
        goal = "-" if f.goal is None else f"{'<=' if f.direction == 'at most' else '>='} " \
            f"{_number(f.goal)} {f.unit}"
        if f.samples:
            low, high, label = f.spread
            stat = "" if f.statistic == "median" else f"{f.statistic} "
            measured = f"{stat}{_number(f.value)} {f.unit}"
            spread = f"{_number(low)}-{_number(high)} ({label})"
        else:
            measured, spread = "no data", "-"
        name = f.name + (f" ({f.note})" if f.note else "")
        rows.append((name, goal, measured, spread, str(len(f.samples)), f.verdict))
    if modules is not None:
        rows = [(module, *row) for module, row in zip(("bench", *modules), rows, strict=True)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def to_json(figures: Sequence[Figure]) -> str:
    return json.dumps([asdict(f) for f in figures])


def from_json(text: str) -> list[Figure]:
    return [Figure(**item) for item in json.loads(text)]


def main(collect: Callable[[Options], list[Figure]], doc: str | None) -> None:
    """The command line every module shares: ``[--quick] [--runs N] [--json FILE]``."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, a first look")
    parser.add_argument("--runs", type=int, help="runs per figure (overrides the default)")
    parser.add_argument("--json", type=Path, help="also write the figures to FILE as JSON")
    args = parser.parse_args()
    figures = collect(Options(quick=args.quick, runs=args.runs))
    print(table(figures), flush=True)
    if args.json is not None:
        args.json.write_text(to_json(figures))
    if any(f.met is False for f in figures):
        sys.exit(1)


# -- cached databases -----------------------------------------------------------------------

def cache_dir() -> Path:
    """Where generated databases are kept between runs (KATMONITOR_BENCH_CACHE overrides)."""
    path = Path(os.environ.get("KATMONITOR_BENCH_CACHE")
                or Path(tempfile.gettempdir()) / "katmonitor-bench-cache")
    path.mkdir(parents=True, exist_ok=True)
    return path


def code_digest() -> str:
    """A digest of the core's source: a cached database is rebuilt whenever the code that
    writes it changes, so a figure is never measured on data an older write path laid out
    (the storage layer's, the Recorder's, the schema's)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "katmonitor").rglob("*")):
        if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    # ... and so is a change to how the benchmarks simulate and record a session.
    extra = [ROOT / "bench" / "recording.py", ROOT / "devices" / "simulated.py"]
    for path in [*sorted((ROOT / "migrations").rglob("*.py")), *extra]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_path(kind: str, parameters: dict[str, object], suffix: str = ".sqlite3") -> Path:
    """The cache file for ``kind`` built with ``parameters`` by the current code."""
    key = json.dumps(parameters, sort_keys=True) + code_digest()
    name = f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}{suffix}"
    return cache_dir() / name
