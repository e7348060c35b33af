"""The ``users``, ``sign`` and ``verify`` commands (added to the CLI by katmonitor/cli.py)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import iso_utc

EXIT_OK = 0
EXIT_NOT_VERIFIED = 3


def add_account_commands(commands: Any, db_option: argparse.ArgumentParser) -> None:
    users = commands.add_parser("users", help="user accounts: add, list, disable, reset password")
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[db_option], help="add a user")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, help="nurse, therapist, administrator or trainee")
    add.add_argument("--full-name", default="", help="printed name on signatures (default NAME)")
    _add_password_stdin(add)
    add.set_defaults(handler=cmd_users_add)
    listing = actions.add_parser("list", parents=[db_option], help="list the users")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_users_list)
    disable = actions.add_parser("disable", parents=[db_option], help="disable a user")
    disable.add_argument("name", metavar="NAME")
    disable.set_defaults(handler=cmd_users_disable)
    reset = actions.add_parser(
        "reset-password",
        parents=[db_option],
        help="set a new password (and a new signing key; old signatures still verify)",
    )
    reset.add_argument("name", metavar="NAME")
    _add_password_stdin(reset)
    reset.set_defaults(handler=cmd_users_reset_password)

    sign = commands.add_parser(
        "sign",
        parents=[db_option],
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
    _add_password_stdin(sign)
    sign.set_defaults(handler=cmd_sign)

    addendum = commands.add_parser(
        "addendum",
        parents=[db_option],
        help="add a signed correction (nurses) or note to a signed session",
    )
    addendum.add_argument("session_id", type=int, metavar="ID")
    addendum.add_argument("--user", required=True, metavar="NAME")
    addendum.add_argument("--kind", required=True, choices=("note", "correction"))
    addendum.add_argument("--text", required=True, help="what to add (quote it)")
    _add_password_stdin(addendum)
    addendum.set_defaults(handler=cmd_addendum)

    verify = commands.add_parser(
        "verify",
        parents=[db_option],
        help="check a signed session or bundle; exit 0 only when everything verifies",
    )
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("session_id", type=int, metavar="ID", nargs="?")
    which.add_argument("--file", type=Path, metavar="BUNDLE", help="a bundle from export")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=cmd_verify)


def _open(args: argparse.Namespace):  # -> Database
    from katmonitor.config import resolve_database_url
    from katmonitor.storage.database import open_database

    return open_database(resolve_database_url(args.db))


def read_password(from_stdin: bool, *, confirm: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise ConfigurationError("no password on stdin")
        return password.rstrip("\r")
    try:
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Repeat the password: ") != password:
            raise ConfigurationError("the passwords differ")
    except EOFError:
        raise ConfigurationError("no password given", "use --password-stdin to pipe it") from None
    return password


def cmd_users_add(args: argparse.Namespace) -> int:
    from katmonitor.accounts import AccountStore, check_password_policy, parse_role

    parse_role(args.role)  # a bad role fails before the password is asked
    password = read_password(args.password_stdin, confirm=True)
    check_password_policy(password)
    database = _open(args)
    try:
        user = AccountStore(database).add_user(args.name, args.role, password, args.full_name)
    finally:
        database.close()
    print(f"added {user.role.value} {user.name} ({user.full_name})")
    return EXIT_OK


def cmd_users_list(args: argparse.Namespace) -> int:
    from katmonitor.accounts import AccountStore

    database = _open(args)
    try:
        users = AccountStore(database).list_users()
    finally:
        database.close()
    rows = [
        {
            "name": u.name,
            "full_name": u.full_name,
            "role": u.role.value,
            "disabled": u.disabled,
            "created_at": iso_utc(u.created_at),
            "key_id": u.key_id,
        }
        for u in users
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("No users yet: katmonitor users add --role administrator NAME")
        return EXIT_OK
    print(f"{'NAME':<20} {'ROLE':<14} {'STATUS':<9} PRINTED NAME")
    for r in rows:
        status = "disabled" if r["disabled"] else "active"
        print(f"{r['name']:<20} {r['role']:<14} {status:<9} {r['full_name']}")
    return EXIT_OK


def cmd_users_disable(args: argparse.Namespace) -> int:
    from katmonitor.accounts import AccountStore

    database = _open(args)
    try:
        AccountStore(database).disable_user(args.name)
    finally:
        database.close()
    print(f"disabled {args.name}")
    return EXIT_OK


def cmd_users_reset_password(args: argparse.Namespace) -> int:
    from katmonitor.accounts import AccountStore, check_password_policy

    password = read_password(args.password_stdin, confirm=True)
    check_password_policy(password)
    database = _open(args)
    try:
        AccountStore(database).reset_password(args.name, password)
    finally:
        database.close()
    print(f"new password and signing key for {args.name}; the old key only verifies")
    return EXIT_OK


def cmd_sign(args: argparse.Namespace) -> int:
    from katmonitor.record_signing import sign_session
    from katmonitor.storage.store import SessionStore

    password = read_password(args.password_stdin, confirm=False)
    database = _open(args)
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
    database = _open(args)
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

        database = _open(args)
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


def _add_password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
