"""``katmonitor sign``, ``addendum`` and ``verify``: the signed session record."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import iso_utc
from katmonitor.cli.common import (
    EXIT_NOT_VERIFIED,
    EXIT_OK,
    add_password_stdin,
    open_database,
    read_password,
)

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    sign = commands.add_parser(
        "sign",
        parents=[db],
        help="sign an ended session (nurses only); it becomes read-only",
    )
    sign.add_argument("session_id", type=int, metavar="ID")
    sign.add_argument("--user", required=True, metavar="NAME")
    sign.add_argument("--meaning", default="Monitored and reviewed")
    sign.add_argument(
        "--seal-unchained",
        action="store_true",
        help="a session recorded before events were chained as they happened: seal it as it "
        "is now (the record says so)",
    )
    add_password_stdin(sign)
    sign.set_defaults(handler=cmd_sign)

    addendum = commands.add_parser(
        "addendum",
        parents=[db],
        help="add a signed correction (nurses) or note to a signed session",
    )
    addendum.add_argument("session_id", type=int, metavar="ID")
    addendum.add_argument("--user", required=True, metavar="NAME")
    addendum.add_argument("--kind", required=True, choices=("note", "correction"))
    addendum.add_argument("--text", required=True, help="what to add (quote it)")
    add_password_stdin(addendum)
    addendum.set_defaults(handler=cmd_addendum)

    verify = commands.add_parser(
        "verify",
        parents=[db],
        help="check a signed session or bundle; exit 0 only when everything verifies",
    )
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("session_id", type=int, metavar="ID", nargs="?")
    which.add_argument("--file", type=Path, metavar="BUNDLE", help="a bundle from export")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=cmd_verify)


def cmd_sign(args: argparse.Namespace) -> int:
    from katmonitor.record_signing import sign_session
    from katmonitor.storage.store import SessionStore

    password = read_password(args.password_stdin, confirm=False)
    database = open_database(args.db)
    try:
        sig = sign_session(
            SessionStore(database),
            args.session_id,
            args.user,
            password,
            args.meaning,
            seal_unchained=args.seal_unchained,
        )
    finally:
        database.close()
    print(
        f"session {args.session_id} signed by {sig['printed_name']} ({sig['role']}) at "
        f"{iso_utc(sig['signed_at'])}: {sig['meaning']}"
    )
    print(f"chain head {sig['chain_head']} ({sig['entry_count']} entries)")
    return EXIT_OK


def cmd_addendum(args: argparse.Namespace) -> int:
    from katmonitor.addenda import add_addendum, parse_kind
    from katmonitor.storage.store import SessionStore

    parse_kind(args.kind)
    if not args.text.strip():
        raise ConfigurationError("an addendum needs some text")
    password = read_password(args.password_stdin, confirm=False)
    database = open_database(args.db)
    try:
        added = add_addendum(
            SessionStore(database), args.session_id, args.user, password, args.kind, args.text
        )
    finally:
        database.close()
    print(
        f"addendum {added.id} ({added.kind.value}) to session {args.session_id} signed by "
        f"{added.printed_name} ({added.role}) at {iso_utc(added.created_at)}"
    )
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from katmonitor.record_signing import verify_bundle, verify_session

    if args.file is not None:
        report = verify_bundle(args.file)
    else:
        from katmonitor.storage.store import SessionStore

        database = open_database(args.db)
        try:
            report = verify_session(SessionStore(database), args.session_id)
        finally:
            database.close()
    if args.json:
        print(
            json.dumps(
                {
                    "record": report.session,
                    "status": report.status,
                    "problems": report.problems,
                    "signer": report.signer,
                    "entries": report.entry_count,
                    "notes": report.notes,
                    "addenda": report.addenda,
                },
                indent=2,
            )
        )
    else:
        for line in report.lines():
            print(line)
    return EXIT_OK if report.ok else EXIT_NOT_VERIFIED
