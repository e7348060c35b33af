"""``katmonitor users add|list|disable|enable|reset-password|set-role|unlock``: user accounts.

The database's first account is an administrator added without credentials; every later
account change needs ``--as ADMIN`` and that administrator's password (asked, or with
``--password-stdin`` on stdin's first line, the new account's password on the second).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from katmonitor.base.errors import AuthenticationError
from katmonitor.base.samples import iso_utc
from katmonitor.cli.common import EXIT_OK, add_password_stdin, open_database, read_password
from katmonitor.cli.keys import add_export_keys_command
from katmonitor.text import printable

if TYPE_CHECKING:
    from katmonitor.accounts import AccountStore, User
    from katmonitor.cli.common import Subcommands
    from katmonitor.storage.database import Database


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    users = commands.add_parser(
        "users",
        help="user accounts: add, list, disable, enable, reset password, role, unlock, "
        "export-keys"
    )
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = _change(actions, db, "add", "add a user (the first one: an administrator, no --as)",
                  cmd_users_add)
    add.add_argument("--role", required=True, help="nurse, therapist, administrator or trainee")
    add.add_argument("--full-name", default="",
                     help="printed name on signatures (default NAME); unique among active users")
    listing = actions.add_parser("list", parents=[db], help="list the users")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_users_list)
    _change(actions, db, "disable", "disable a user", cmd_users_disable)
    _change(actions, db, "enable", "enable a disabled user", cmd_users_enable)
    _change(actions, db, "reset-password",
            "set a new password (and a new signing key; old signatures still verify)",
            cmd_users_reset_password)
    set_role = _change(actions, db, "set-role", "change a user's role", cmd_users_set_role)
    set_role.add_argument("role", metavar="ROLE",
                          help="nurse, therapist, administrator or trainee")
    _change(actions, db, "unlock", "unlock an account locked by wrong passwords",
            cmd_users_unlock)
    add_export_keys_command(actions)


def _change(
    actions: Subcommands, db: argparse.ArgumentParser, name: str, help_text: str,
    handler: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, parents=[db], help=help_text)
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--as", dest="admin", metavar="ADMIN",
                        help="the administrator making the change (their password is asked)")
    add_password_stdin(parser, "read the administrator's password from stdin's first line"
                       " (and a new password from the second)")
    parser.set_defaults(handler=handler)
    return parser


def _admin_password(args: argparse.Namespace, what: str) -> tuple[str, str]:
    """The administrator's name and password; refused at once without ``--as``."""
    if not args.admin:
        raise AuthenticationError(
            f"an administrator's name and password are needed to {what}",
            "give --as ADMIN (the password is asked, or read from stdin with --password-stdin)",
        )
    return args.admin, read_password(
        args.password_stdin, confirm=False, prompt=f"Password of {args.admin}: "
    )


def cmd_users_add(args: argparse.Namespace) -> int:
    from katmonitor.accounts import (
        Role,
        check_password_policy,
        first_must_be_administrator,
        parse_role,
    )

    role = parse_role(args.role)  # a bad role fails before any password is asked
    database = open_database(args.db)
    try:
        accounts = _accounts(database)
        admin = admin_password = None
        if accounts.has_users() or args.admin:
            admin, admin_password = _admin_password(args, "add an account")
        elif role is not Role.ADMINISTRATOR:
            raise first_must_be_administrator()
        password = read_password(args.password_stdin, confirm=True,
                                 prompt=f"New password for {args.name}: ")
        check_password_policy(password)
        user = accounts.add_user(args.name, role, password, args.full_name,
                                 admin=admin, admin_password=admin_password)
    finally:
        database.close()
    print(f"added {user.role.value} {printable(user.name)} ({printable(user.full_name)})")
    return EXIT_OK


def cmd_users_list(args: argparse.Namespace) -> int:
    database = open_database(args.db)
    try:
        users = _accounts(database).list_users()
    finally:
        database.close()
    rows = [
        {
            "name": u.name,
            "full_name": u.full_name,
            "role": u.role.value,
            "disabled": u.disabled,
            "locked_until": iso_utc(u.locked_until) if u.locked_until is not None else None,
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
    now = time.time()
    for u, r in zip(users, rows, strict=True):
        status = "disabled" if u.disabled else "locked" if u.locked_at(now) else "active"
        print(f"{printable(str(r['name'])):<20} {r['role']:<14} {status:<9} "
              f"{printable(str(r['full_name']))}")
    return EXIT_OK


def cmd_users_disable(args: argparse.Namespace) -> int:
    admin, password = _admin_password(args, "disable an account")
    _with_accounts(args, lambda a: a.disable_user(args.name, admin=admin,
                                                  admin_password=password))
    print(f"disabled {printable(args.name)}")
    return EXIT_OK


def cmd_users_enable(args: argparse.Namespace) -> int:
    admin, password = _admin_password(args, "enable an account")
    _with_accounts(args, lambda a: a.enable_user(args.name, admin=admin,
                                                 admin_password=password))
    print(f"enabled {printable(args.name)}")
    return EXIT_OK


def cmd_users_set_role(args: argparse.Namespace) -> int:
    from katmonitor.accounts import parse_role

    role = parse_role(args.role)
    admin, password = _admin_password(args, "change a role")
    user = _with_accounts(args, lambda a: a.set_role(args.name, role, admin=admin,
                                                     admin_password=password))
    print(f"{printable(user.name)} is now a {user.role.value}")
    return EXIT_OK


def cmd_users_unlock(args: argparse.Namespace) -> int:
    admin, password = _admin_password(args, "unlock an account")
    _with_accounts(args, lambda a: a.unlock_user(args.name, admin=admin,
                                                 admin_password=password))
    print(f"unlocked {printable(args.name)}")
    return EXIT_OK


def cmd_users_reset_password(args: argparse.Namespace) -> int:
    from katmonitor.accounts import check_password_policy

    admin, admin_password = _admin_password(args, "reset a password")
    password = read_password(args.password_stdin, confirm=True,
                             prompt=f"New password for {args.name}: ")
    check_password_policy(password)
    _with_accounts(args, lambda a: a.reset_password(args.name, password, admin=admin,
                                                    admin_password=admin_password))
    print(f"new password and signing key for {printable(args.name)}; the old key only verifies")
    return EXIT_OK


def _accounts(database: Database) -> AccountStore:
    from katmonitor.accounts import AccountStore

    return AccountStore(database)


def _with_accounts(args: argparse.Namespace, change: Callable[[AccountStore], User]) -> User:
    database = open_database(args.db)
    try:
        return change(_accounts(database))
    finally:
        database.close()
