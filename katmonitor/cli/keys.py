"""``katmonitor users export-keys``: the clinic's trusted public keys as a file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from katmonitor.cli.common import EXIT_OK, db_option, open_database

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


def add_export_keys_command(users_subcommands: Subcommands) -> None:
    """Add ``export-keys`` to the ``users`` command's subcommands."""
    export = users_subcommands.add_parser(
        "export-keys",
        parents=[db_option()],
        help="write the clinic's trusted public keys (every user's keys, with when each was "
        "valid) for verify --file --trusted-keys",
        description="Write every public signing key of the database, retired ones included, "
        "with its user, printed name, role, key id, fingerprint and when it was valid. "
        "`katmonitor verify --file BUNDLE --trusted-keys FILE` trusts a bundle's signers only "
        "when their keys are in it. Give the file to whoever checks bundles by a channel that "
        "people who can write the database do not control, and record the SHA-256 printed.",
    )
    export.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="where to write (clinic-keys.json)"
    )
    export.set_defaults(handler=cmd_export_keys)


def cmd_export_keys(args: argparse.Namespace) -> int:
    from katmonitor.trusted_keys import export_trusted_keys

    database = open_database(args.db)
    try:
        path, digest, count = export_trusted_keys(database, args.out)
    finally:
        database.close()
    print(f"wrote {count} public key(s) to {path}")
    print(f"sha256 {digest}")
    return EXIT_OK
