"""Run the benchmarks and print one table of every figure against its goal.

    python -m bench [--check] [--quick] [--runs N] [NAME ...]      (./scripts/bench)

Each module runs in a fresh process (``python -m bench.NAME --json FILE``), so one Qt
application or one module's warm caches never flatter the next. Its own lines stream through
while it runs; at the end one table shows every figure: goal, median (or p99) and spread over
the runs, and the verdict. With --check the exit status is 1 when a goal is missed (2 when a
benchmark failed to run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import ROOT, Figure, from_json, table

MODULES = ("ingest", "decode", "latency", "alarm_replay", "alarm_latency", "repaint",
           "startup", "sign_verify", "pdf_export", "memory", "fuzz",
           "review")


def run_module(name: str, passthrough: list[str]) -> list[Figure] | None:
    with tempfile.TemporaryDirectory(prefix="katmonitor-bench-") as tmp:
        out = Path(tmp) / "figures.json"
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT),
                                                             os.environ.get("PYTHONPATH"))))}
        result = subprocess.run([sys.executable, "-m", f"bench.{name}", "--json", str(out),
                                 *passthrough], cwd=ROOT, env=env, check=False)
        if not out.exists():
            print(f"bench.{name} failed (exit {result.returncode})", file=sys.stderr)
            return None
        return from_json(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench",
                                     description=__doc__.strip().splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"of {', '.join(MODULES)}")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--quick", action="store_true", help="fewer runs, a first look")
    parser.add_argument("--runs", type=int, help="runs per figure (overrides the defaults)")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(MODULES)}")
    passthrough = (["--quick"] if args.quick else []) + (
        ["--runs", str(args.runs)] if args.runs else [])
    figures: list[Figure] = []
    modules: list[str] = []
    failed: list[str] = []
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    for name in args.names or MODULES:
        print(f"== bench.{name}", flush=True)
        module_figures = run_module(name, passthrough)
        if module_figures is None:
            failed.append(name)
            continue
        modules += [name] * len(module_figures)
        figures += module_figures
    # Other work on the machine slows every figure: say how busy it was.
    print(f"\n== all figures ({time.perf_counter() - started:.0f} s"
          f"{', quick' if args.quick else ''}; {os.cpu_count()} CPUs, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after)")
    print(table(figures, modules))
    missed = [f.name for f in figures if f.met is False]
    if missed:
        print(f"goals missed: {len(missed)}")
    if failed:
        print(f"benchmarks that failed to run: {', '.join(failed)}")
        sys.exit(2)
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
