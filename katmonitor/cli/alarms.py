"""``katmonitor alarms replay|check-profile``: run a profile over recorded data, check a file."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from katmonitor.base.errors import ConfigurationError
from katmonitor.cli.common import EXIT_OK, open_database, session_id
from katmonitor.text import printable

if TYPE_CHECKING:
    from katmonitor.alarms.model import AlarmEvent
    from katmonitor.cli.common import Subcommands


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    alarms = commands.add_parser("alarms", help="alarm profiles: replay recorded data, check files")
    alarm_commands = alarms.add_subparsers(dest="alarms_command", metavar="ACTION", required=True)
    replay = alarm_commands.add_parser(
        "replay",
        parents=[db],
        help="run an alarm profile over samples; alarm events as JSON lines, then a summary",
        description="Input: JSON lines (as `katmonitor decode` or `katmonitor sessions show ID "
        "--samples` print; '-' reads stdin) or a stored session id. Output: one JSON object per "
        'alarm event on stdout, then one summary object ({"summary": true, ...}) as the last '
        "line.",
    )
    replay.add_argument(
        "--profile",
        default="default",
        help="shipped profile name (default, intranasal-esketamine, sublingual-ketamine, "
        "im-ketamine, iv-ketamine) or a .toml path; 'route' uses the session's route",
    )
    replay.add_argument("source", metavar="FILE_OR_SESSION_ID")
    replay.set_defaults(handler=cmd_alarms_replay)
    check = alarm_commands.add_parser("check-profile", help="load a profile and print its rules")
    check.add_argument("profile", metavar="NAME_OR_FILE")
    check.set_defaults(handler=cmd_alarms_check_profile)


def cmd_alarms_replay(args: argparse.Namespace) -> int:
    from katmonitor.alarms.engine import AlarmEngine
    from katmonitor.alarms.profile import load_profile
    from katmonitor.alarms.replay import (
        ROUTE_PROFILE,
        ReplaySummary,
        read_json_lines,
        replay,
        replay_stored_session,
    )

    summary = ReplaySummary()
    source: str = args.source
    if source.strip().isdigit() and not Path(source).exists():
        from katmonitor.storage.store import SessionStore

        try:
            stored_id = session_id(source)
        except argparse.ArgumentTypeError as error:
            raise ConfigurationError(str(error)) from None
        database = open_database(args.db)
        try:
            store = SessionStore(database)
            _emit_alarm_events(replay_stored_session(store, stored_id, args.profile, summary))
        finally:
            database.close()
    else:
        if args.profile == ROUTE_PROFILE:
            raise ConfigurationError("--profile route needs a stored session id")
        engine = AlarmEngine(load_profile(args.profile))
        try:
            if source == "-":
                _emit_alarm_events(replay(engine, read_json_lines(sys.stdin, "stdin"), summary))
            else:
                try:
                    handle = open(source, encoding="utf-8")  # noqa: SIM115 - closed below
                except OSError as error:
                    raise ConfigurationError(f"cannot read {source}: {error.strerror}") from None
                with handle:
                    _emit_alarm_events(replay(engine, read_json_lines(handle, source), summary))
        except UnicodeDecodeError as error:
            raise ConfigurationError(
                f"{source} is not a text file (not UTF-8 at byte {error.start} of a line)",
                "give JSON lines as `katmonitor sessions show ID --samples` prints them",
            ) from None
    sys.stdout.write(json.dumps(summary.to_json_dict()) + "\n")
    return EXIT_OK


def _emit_alarm_events(events: Iterable[AlarmEvent]) -> None:
    write = sys.stdout.write
    for event in events:
        write(json.dumps(event.to_json_dict()) + "\n")


def cmd_alarms_check_profile(args: argparse.Namespace) -> int:
    from katmonitor.alarms.profile import load_profile

    profile = load_profile(args.profile)
    print(f"profile {printable(profile.name)} ({printable(str(profile.path))}): OK")
    print(
        f"  latching {profile.latching}, audio pause {profile.audio_pause_s:g} s, "
        f"reminder {profile.reminder_s:g} s"
    )
    for kind, rule in profile.parameters.items():
        sides = []
        for side, limit in (("low", rule.low), ("high", rule.high)):
            if limit is None:
                continue
            text = f"{side} {limit.limit:g} {limit.priority.label}"
            if limit.high_priority_limit is not None:
                text += f" (high beyond {limit.high_priority_limit:g})"
            if limit.baseline_offset is not None:
                text += f" (or baseline {'+' if side == 'high' else '-'}{limit.baseline_offset:g})"
            sides.append(text)
        extra = f", delay {rule.delay_s:g} s, hysteresis {rule.hysteresis:g}"
        if rule.trend is not None:
            extra += f", trend +{rule.trend.rise:g} in {rule.trend.window_s:g} s"
        print(f"  {kind}: {'; '.join(sides)}{extra}")
    return EXIT_OK
