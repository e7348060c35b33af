"""The ``katmonitor`` command.

One module per command group (run, record, sessions, db, devices, alarms, care_plan, users,
audit, records, export); each adds its subcommands in ``register(commands, db)``, where ``db``
is the ``--db`` parent parser. Every command reports user-facing problems as one message plus a
hint on stderr with exit status 2 (never a traceback); unexpected failures exit 1 with the
details in the log file.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from katmonitor import __version__
from katmonitor.base.errors import KatMonitorError
from katmonitor.base.samples import iso_utc
from katmonitor.cli import (
    alarms,
    audit,
    care_plan,
    db,
    devices,
    export,
    record,
    records,
    review,
    run,
    sessions,
    users,
)
from katmonitor.cli.common import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USER_ERROR,
    db_option,
    print_error,
)
from katmonitor.config import data_dir

log = logging.getLogger("katmonitor")

# In the order `katmonitor --help` lists them.
COMMAND_GROUPS = (
    run, care_plan, record, sessions, db, devices, alarms, export, users, audit, records, review
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="katmonitor", description="KAT Monitor: vital-sign monitoring for KAT dosing sessions."
    )
    parser.add_argument("--version", action="version", version=f"katmonitor {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    database = db_option()
    for group in COMMAND_GROUPS:
        group.register(commands, database)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return handler(args)
    except KatMonitorError as error:
        print_error(error)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK  # e.g. `katmonitor sessions show 1 --samples | head`
    except Exception:
        log_path = _write_crash_log()
        print("katmonitor: internal error; this is a defect in KAT Monitor.", file=sys.stderr)
        print(
            f"Details were written to {log_path}" if log_path else traceback.format_exc(limit=1),
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _write_crash_log() -> Path | None:
    try:
        logs = data_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / "katmonitor-errors.log"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {iso_utc(time.time())}\n{traceback.format_exc()}\n")
        return path
    except OSError:
        return None
