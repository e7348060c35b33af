"""``katmonitor users add|list|disable|reset-password``: user accounts."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from katmonitor.base.samples import iso_utc
from katmonitor.cli.common import EXIT_OK, add_password_stdin, open_database, read_password
from katmonitor.cli.keys import add_export_keys_command

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    users = commands.add_parser("users", help="user accounts: add, list, disable, reset password")
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[db], help="add a user")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, help="nurse, therapist, administrator or trainee")
    add.add_argument("--full-name", default="", help="printed name on signatures (default NAME)")
    add_password_stdin(add)
    add.set_defaults(handler=cmd_users_add)
    listing = actions.add_parser("list", parents=[db], help="list the users")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_users_list)
    disable = actions.add_parser("disable", parents=[db], help="disable a user")
    disable.add_argument("name", metavar="NAME")
    disable.set_defaults(handler=cmd_users_disable)
    reset = actions.add_parser(
        "reset-password",
        parents=[db],
        help="set a new password (and a new signing key; old signatures still verify)",
    )
    reset.add_argument("name", metavar="NAME")
    add_password_stdin(reset)
    reset.set_defaults(handler=cmd_users_reset_password)
    add_export_keys_command(actions)  # TEMP (trust): the lead adds this line when merging


def cmd_users_add(args: argparse.Namespace) -> int:
    from katmonitor.accounts import AccountStore, check_password_policy, parse_role

    parse_role(args.role)  # a bad role fails before the password is asked
    password = read_password(args.password_stdin, confirm=True)
    check_password_policy(password)
    database = open_database(args.db)
    try:
        user = AccountStore(database).add_user(args.name, args.role, password, args.full_name)
    finally:
        database.close()
    print(f"added {user.role.value} {user.name} ({user.full_name})")
    return EXIT_OK


def cmd_users_list(args: argparse.Namespace) -> int:
    from katmonitor.accounts import AccountStore

    database = open_database(args.db)
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

    database = open_database(args.db)
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
    database = open_database(args.db)
    try:
        AccountStore(database).reset_password(args.name, password)
    finally:
        database.close()
    print(f"new password and signing key for {args.name}; the old key only verifies")
    return EXIT_OK
