"""What the commands share: exit codes, the ``--db`` option, opening the database and the
workstation, reading a password, termination signals and argument types."""

from __future__ import annotations

import argparse
import getpass
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import quote

from katmonitor.base.errors import ConfigurationError, KatMonitorError
from katmonitor.config import resolve_database_url, uses_default_database
from katmonitor.session import Route, parse_route
from katmonitor.text import printable

if TYPE_CHECKING:
    from katmonitor.storage.database import Database
    from katmonitor.workstation import Workstation

    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
    """argparse's subparsers action: where each command module adds its commands."""

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER_ERROR = 2
EXIT_NOT_VERIFIED = 3
EXIT_NOT_TRUSTED = 4
"""``verify --file``: the signatures are intact, but a signer's key is not one the clinic
trusts."""
EXIT_DATA_NOT_STORED = 5
"""``record`` ended with data the database did not take: kept in the local journal (written
back by the next start on that database), or lost when even the journal could not take it."""


def print_error(error: KatMonitorError) -> None:
    """How every command shows an error: one line, then the hint."""
    # Messages may quote what was typed or read (a client id, a file's text): escaped.
    print(f"katmonitor: error: {printable(error.message)}", file=sys.stderr)
    if error.hint:
        print("\n".join(printable(line) for line in error.hint.split("\n")), file=sys.stderr)


def db_option() -> argparse.ArgumentParser:
    """The ``--db`` option, as a parent parser for every command that opens the database."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy database URL (default: $KATMONITOR_DB, else SQLite in the data directory)",
    )
    return parent


def open_database(cli_url: str | None, *, upgrade: bool = True) -> Database:
    """The database of ``--db``/``$KATMONITOR_DB``/the default. Refused: an empty or in-memory
    URL (each command is a new process: what it wrote would be gone) and a SQLite file in a
    directory that does not exist (only the default data directory is created)."""
    from katmonitor.storage.database import open_database as open_db

    return open_db(
        resolve_database_url(cli_url),
        upgrade=upgrade,
        allow_in_memory=False,
        create_directory=uses_default_database(cli_url),
    )


def open_workstation(
    cli_url: str | None, specs: Sequence[str], care_plan: Path | None = None
) -> Workstation:
    from devices.registry import open_device
    from katmonitor.care_plan import load_care_plan
    from katmonitor.workstation import Workstation, require_one_mode

    plan = load_care_plan(care_plan)  # a bad plan fails before devices or the db are touched
    devices = [open_device(spec) for spec in specs]  # bad specs fail before the db is touched
    require_one_mode(devices)
    return Workstation(open_database(cli_url), devices, care_plan=plan)


def with_capture(specs: Sequence[str], capture: Path | None) -> list[str]:
    """Add the raw-bytes capture option to the one device spec."""
    if capture is None:
        return list(specs)
    if len(specs) != 1:
        raise ConfigurationError(
            "--capture needs exactly one --device",
            "for several devices add ?capture=FILE to each spec instead",
        )
    spec = specs[0]
    separator = "&" if "?" in spec else "?"
    return [f"{spec}{separator}capture={quote(str(capture.expanduser().resolve()))}"]


def on_termination(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` on SIGTERM/SIGINT; returns a function restoring the old handlers."""

    def handle(signum: int, frame: FrameType | None) -> None:
        callback()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def read_password(from_stdin: bool, *, confirm: bool, prompt: str = "Password: ") -> str:
    """A password from stdin's next line, or asked at the terminal (``confirm``: twice)."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise ConfigurationError("no password on stdin")
        return password.rstrip("\r")
    try:
        password = getpass.getpass(prompt)
        if confirm and getpass.getpass("Repeat the password: ") != password:
            raise ConfigurationError("the passwords differ")
    except EOFError:
        raise ConfigurationError("no password given", "use --password-stdin to pipe it") from None
    return password


def add_password_stdin(
    parser: argparse.ArgumentParser, help_text: str = "read the password from stdin's first line"
) -> None:
    parser.add_argument("--password-stdin", action="store_true", help=help_text)


def local_time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s).strftime("%Y-%m-%d %H:%M:%S")


def route_arg(text: str) -> Route:
    try:
        return parse_route(text)
    except ConfigurationError as error:
        raise argparse.ArgumentTypeError(f"{error.message}; {error.hint}") from None


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


MAX_SESSION_ID = 2**63 - 1  # the database's BIGINT; larger ids cannot exist


def session_id(text: str) -> int:
    """A session id argument: a whole number from 1 to 2**63 - 1."""
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit():
        raise argparse.ArgumentTypeError(f"{printable(text)!r} is not a session id (a number)")
    if len(cleaned) > 19 or not 1 <= int(cleaned) <= MAX_SESSION_ID:
        raise argparse.ArgumentTypeError(
            f"{cleaned} is not a session id (ids run from 1 to {MAX_SESSION_ID})"
        )
    return int(cleaned)


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
