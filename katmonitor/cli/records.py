"""``katmonitor sign``, ``addendum`` and ``verify``: the signed session record."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import iso_utc
from katmonitor.cli.common import (
    EXIT_NOT_TRUSTED,
    EXIT_NOT_VERIFIED,
    EXIT_OK,
    add_password_stdin,
    open_database,
    read_password,
    session_id,
)
from katmonitor.config import DB_ENV, default_database_url

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands
    from katmonitor.trusted_keys import TrustedKeys

# Everything verifies, but a signer's key is not one the clinic trusts (or was not valid when
# it signed): distinct from EXIT_NOT_VERIFIED (unsigned, invalid or damaged).

VERIFY_EPILOG = """\
exit status: 0 verified; 3 unsigned, invalid or a damaged bundle; 4 every signature is intact
but a signer's key is not trusted by this clinic (not in the database or the trusted-keys
file, or not valid when it signed); 2 a usage error (a file that cannot be read, a damaged
trusted-keys file).

A bundle's signers are trusted only when their exact public keys are in the database given by
--db (or $KATMONITOR_DB, or this workstation's own database) or in --trusted-keys FILE (from
`katmonitor users export-keys`). The chain is also compared with the checkpoints of its head
kept outside the database ($KATMONITOR_CHECKPOINT_DIR, default checkpoints/ in the data
directory)."""


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    sign = commands.add_parser(
        "sign",
        parents=[db],
        help="sign an ended session (nurses only); it becomes read-only",
    )
    sign.add_argument("session_id", type=session_id, metavar="ID")
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
    addendum.add_argument("session_id", type=session_id, metavar="ID")
    addendum.add_argument("--user", required=True, metavar="NAME")
    addendum.add_argument("--kind", required=True, choices=("note", "correction"))
    addendum.add_argument("--text", required=True, help="what to add (quote it)")
    add_password_stdin(addendum)
    addendum.set_defaults(handler=cmd_addendum)

    verify = commands.add_parser(
        "verify",
        parents=[db],
        help="check a signed session or bundle; exit 0 only when everything verifies",
        epilog=VERIFY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("session_id", type=session_id, metavar="ID", nargs="?")
    which.add_argument("--file", type=Path, metavar="BUNDLE", help="a bundle from export")
    verify.add_argument(
        "--trusted-keys",
        type=Path,
        metavar="FILE",
        help="with --file: trust the keys of this file (from users export-keys) instead of a "
        "database's",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=cmd_verify)


def cmd_sign(args: argparse.Namespace) -> int:
    from katmonitor.record_signing import sign_session
    from katmonitor.storage.store import SessionStore

    database = open_database(args.db)
    try:
        # A session that does not exist is said before the password is asked for.
        SessionStore(database).get_session(args.session_id)
        password = read_password(args.password_stdin, confirm=False)
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
    database = open_database(args.db)
    try:
        SessionStore(database).get_session(args.session_id)  # before asking the password
        password = read_password(args.password_stdin, confirm=False)
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


def _trusted_keys(args: argparse.Namespace) -> TrustedKeys:
    """The keys a bundle's signers must have: the trusted-keys file's, or the database's."""
    from katmonitor.storage.store import SessionStore
    from katmonitor.trusted_keys import load_trusted_keys, trusted_keys_of

    if args.trusted_keys is not None:
        if args.db:
            raise ConfigurationError("give either --db or --trusted-keys, not both")
        return load_trusted_keys(args.trusted_keys)
    if not args.db and not os.environ.get(DB_ENV):
        default = default_database_url().removeprefix("sqlite:///")
        if not Path(default).exists():
            raise ConfigurationError(
                "verify --file needs the keys this clinic trusts",
                "give the clinic's database (--db URL) or its keys file (--trusted-keys FILE, "
                "from katmonitor users export-keys)",
            )
    database = open_database(args.db)
    try:
        return trusted_keys_of(SessionStore(database), f"the database {database.display_url}")
    finally:
        database.close()


def _require_bundle(path: Path) -> None:
    """Refuse, as a usage error, a file that is plainly not a bundle (a PDF or CSV export, a
    keys file given by mistake); a damaged bundle goes on to be reported as damaged."""
    from katmonitor.records.bundle import is_plainly_not_a_bundle

    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror}") from None
    if is_plainly_not_a_bundle(raw):
        raise ConfigurationError(
            f"{path} is not a bundle (a signed session record exported by KAT Monitor)",
            "make one with `katmonitor export ID --format bundle --out FILE`",
        )


def cmd_verify(args: argparse.Namespace) -> int:
    from katmonitor.checkpoints import CheckpointLog
    from katmonitor.record_signing import verify_bundle, verify_session

    if args.file is not None:
        _require_bundle(args.file)
        report = verify_bundle(args.file, _trusted_keys(args), CheckpointLog())
    else:
        if args.trusted_keys is not None:
            raise ConfigurationError(
                "--trusted-keys is for bundles (--file); verify ID uses the database's keys"
            )
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
                    "untrusted": report.untrusted,
                },
                indent=2,
            )
        )
    else:
        for line in report.lines():
            print(line)
    if report.ok:
        return EXIT_OK
    return EXIT_NOT_TRUSTED if report.status == "untrusted" else EXIT_NOT_VERIFIED
