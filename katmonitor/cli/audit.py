"""``katmonitor audit``: the access log (who signed in, changed accounts, signed, exported...),
for administrators only; reading it is itself logged, and the log's hash chain is checked."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from katmonitor.cli.common import (
    EXIT_NOT_VERIFIED,
    EXIT_OK,
    add_password_stdin,
    local_time,
    open_database,
    read_password,
)
from katmonitor.text import printable

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    audit = commands.add_parser(
        "audit", parents=[db], help="print the access log (administrators only)",
        description="Print the access log and check its hash chain (exit 3 if it is broken).",
    )
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.add_argument("--user", metavar="NAME", help="only this account's entries")
    audit.add_argument("--since", metavar="TIME", type=since_time,
                       help="only entries from TIME on: 2026-12-04, 2026-12-04T08:00 (local"
                            " time unless it ends in Z or +HH:MM)")
    audit.add_argument("--as", dest="admin", metavar="ADMIN", required=True,
                       help="the administrator reading the log (their password is asked)")
    add_password_stdin(audit, "read the administrator's password from stdin's first line")
    audit.set_defaults(handler=cmd_audit)


def since_time(text: str) -> float:
    """An ISO date or date and time (local unless it names its offset) as epoch seconds."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time like 2026-12-04 or 2026-12-04T08:00"
        ) from None
    return moment.timestamp()  # naive: local time


def cmd_audit(args: argparse.Namespace) -> int:
    from katmonitor.access_log import Action
    from katmonitor.accounts import AccountStore
    from katmonitor.policy import require_access_log_reader

    password = read_password(args.password_stdin, confirm=False,
                             prompt=f"Password of {args.admin}: ")
    database = open_database(args.db)
    try:
        accounts = AccountStore(database)
        log = accounts.access_log
        reader = require_access_log_reader(accounts.verify_administrator(
            args.admin, password, purpose=Action.READ_ACCESS_LOG
        ))
        log.record(reader.name, Action.READ_ACCESS_LOG, detail=_filters(args))
        entries = list(log.entries(user=args.user, since=args.since))
        problems = log.verify()
    finally:
        database.close()
    for entry in entries:
        if args.json:
            print(json.dumps(entry.to_json_dict()))
        else:
            # A failed sign-in logs the name as typed: escaped like all untrusted text.
            detail = f"  {printable(entry.detail)}" if entry.detail else ""
            line = (f"{local_time(entry.time)}  {printable(entry.user) or '-':<16} "
                    f"{entry.action:<24} {printable(entry.target) or '-':<16} "
                    f"{entry.outcome:<8}{detail}")
            print(line.rstrip())
    if problems:
        print("the access log's chain is broken: it was changed outside KAT Monitor",
              file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    if not args.json:
        print(f"{len(entries)} entries; the access log's chain verifies")
    return EXIT_OK


def _filters(args: argparse.Namespace) -> str:
    parts = []
    if args.user:
        parts.append(f"user {args.user}")
    if args.since is not None:
        parts.append(f"since {local_time(args.since)}")
    return ", ".join(parts)
