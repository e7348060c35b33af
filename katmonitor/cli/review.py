"""``katmonitor review [SESSION_ID]``: open the therapist review window, read-only, with no
device and no acquisition (the second place the core imports the UI, lazily)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from katmonitor.base.errors import ConfigurationError
from katmonitor.cli.common import open_database

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    review = commands.add_parser(
        "review", parents=[db],
        help="open the review window: recorded sessions, their timeline and summary",
    )
    review.add_argument("session", nargs="?", type=int, metavar="SESSION_ID",
                        help="open this session's timeline straight away")
    review.set_defaults(handler=cmd_review)


def cmd_review(args: argparse.Namespace) -> int:
    _require_display()
    database = open_database(args.db)
    try:
        if args.session is not None:
            from katmonitor.storage.store import SessionStore

            SessionStore(database).get_session(args.session)  # NotFoundError before a window
        return _load_review_window()(database, args.session)
    finally:
        database.close()


def _require_display() -> None:
    display_variables = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    if sys.platform.startswith("linux") and not any(os.environ.get(v) for v in display_variables):
        raise ConfigurationError(
            "there is no display to open the window on",
            "start it from a desktop session; `katmonitor sessions show ID` prints a session",
        )


def _load_review_window() -> Callable[..., int]:
    try:
        from ui.review_window import run_review
    except ImportError as error:
        raise ConfigurationError(
            f"the Qt user interface cannot be loaded: {error}",
            "install Qt's system libraries (see `katmonitor run`'s hint)",
        ) from None
    return run_review
