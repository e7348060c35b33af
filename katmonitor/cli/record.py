"""``katmonitor record``: record a session headless."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from katmonitor.cli.common import (
    EXIT_OK,
    non_negative_float,
    on_termination,
    open_workstation,
    positive_float,
    route_arg,
    with_capture,
)

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


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
    record.set_defaults(handler=cmd_record)


def cmd_record(args: argparse.Namespace) -> int:
    from devices.preflight import check_devices_reachable

    specs = with_capture(args.device, args.capture)
    check_devices_reachable(specs)  # a port or host that does not exist: no empty session
    workstation = open_workstation(args.db, specs)
    stop = threading.Event()
    restore = on_termination(lambda: stop.set())
    try:
        workstation.start()
        if args.baseline and stop.wait(args.baseline):
            workstation.shutdown()
            return EXIT_OK
        session = workstation.start_session(args.client, args.medicine, args.route)
        print(session.id, flush=True)
        stop.wait(args.duration)
        if stop.is_set():
            workstation.shutdown()  # interrupted: the session stays reopenable
        else:
            workstation.end_session()
            workstation.shutdown()
    finally:
        restore()
        workstation.shutdown()
        workstation.database.close()
    return EXIT_OK
