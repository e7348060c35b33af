"""``katmonitor db upgrade|current``: database maintenance."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from katmonitor.cli.common import EXIT_OK, open_database

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    maintenance = commands.add_parser("db", help="database maintenance")
    actions = maintenance.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = actions.add_parser(
        "upgrade", parents=[db], help="create or upgrade the schema to this version"
    )
    upgrade.set_defaults(handler=cmd_db_upgrade)
    current = actions.add_parser("current", parents=[db], help="print the schema revision")
    current.set_defaults(handler=cmd_db_current)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    database = open_database(args.db)
    try:
        print(f"database at {_display_url(database)} is at schema {database.schema_revision()}")
    finally:
        database.close()
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace) -> int:
    database = open_database(args.db, upgrade=False)
    try:
        print(database.schema_revision() or "empty (no schema yet)")
    finally:
        database.close()
    return EXIT_OK


def _display_url(database: object) -> str:
    engine = getattr(database, "engine", None)
    if engine is None:
        return str(getattr(database, "url", "?"))
    return str(engine.url.render_as_string(hide_password=True))
