"""``katmonitor record``: record a session headless."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from katmonitor.base.errors import KatMonitorError
from katmonitor.cli.common import (
    EXIT_DATA_NOT_STORED,
    EXIT_OK,
    non_negative_float,
    on_termination,
    open_workstation,
    positive_float,
    print_error,
    route_arg,
    with_capture,
)

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands
    from katmonitor.recorder import Recorder


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    record = commands.add_parser(
        "record", parents=[db], help="record a session headless; prints the new session's id"
    )
    record.add_argument(
        "--device",
        action="append",
        metavar="SPEC",
        required=True,
        help="device spec, repeatable (e.g. sim:normal)",
    )
    record.add_argument("--client", default="UNSPECIFIED", help="client identifier")
    record.add_argument("--medicine", default="ketamine", help="planned medicine")
    record.add_argument(
        "--route",
        default="sublingual",
        type=route_arg,
        help="intranasal, sublingual, oral, im or iv (default sublingual)",
    )
    record.add_argument(
        "--duration",
        type=positive_float,
        metavar="SECONDS",
        help="stop after this long (default: until SIGTERM/Ctrl-C)",
    )
    record.add_argument(
        "--baseline",
        type=non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="collect this long before the session starts (pre-dose baseline)",
    )
    record.add_argument(
        "--capture",
        metavar="FILE",
        type=Path,
        help="also write the device's raw bytes to FILE (one device only)",
    )
    record.epilog = (
        f"exit status {EXIT_DATA_NOT_STORED}: the database did not take all recorded data; "
        "what it lacks is kept in the local journal and written back by the next start on "
        "the same database (katmonitor record, run, or sessions close)"
    )
    record.set_defaults(handler=cmd_record)


def cmd_record(args: argparse.Namespace) -> int:
    from devices.preflight import check_devices_reachable

    specs = with_capture(args.device, args.capture)
    check_devices_reachable(specs)  # a port or host that does not exist: no empty session
    workstation = open_workstation(args.db, specs)
    stop = threading.Event()
    restore = on_termination(lambda: stop.set())
    failure: KatMonitorError | None = None
    try:
        workstation.start()
        if args.baseline and stop.wait(args.baseline):
            return EXIT_OK
        session = workstation.start_session(args.client, args.medicine, args.route)
        print(session.id, flush=True)
        stop.wait(args.duration)
        if not stop.is_set():
            workstation.end_session()
        # Interrupted (SIGTERM, Ctrl-C): shutdown leaves the session reopenable.
    except KatMonitorError as error:
        failure = error
    finally:
        restore()
        workstation.shutdown()
        workstation.database.close()
    unstored = _unstored(workstation.recorder)
    if failure is not None and not unstored:
        raise failure
    if failure is not None:
        print_error(failure)
    if unstored:  # what matters most comes last and decides the exit status
        print(f"katmonitor: {unstored}", file=sys.stderr)
        return EXIT_DATA_NOT_STORED
    return EXIT_OK


def _unstored(recorder: Recorder) -> str:
    """What the database did not take by the end, in words; "" when it took everything."""
    left = recorder.pending
    if not left and not recorder.journaled:
        return ""
    why = recorder.last_error or "the database did not answer in time"
    if recorder.journaled and recorder.journal is not None:
        return (f"not all data reached the database ({why}); it is kept in "
                f"{recorder.journal.path} and written back by the next start on this database")
    return f"{left} records could not be stored ({why}) and are lost"
