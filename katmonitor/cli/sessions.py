"""``katmonitor sessions list|show|close``: the recorded sessions."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from katmonitor.base.samples import Sample, WaveformBlock, iso_utc
from katmonitor.cli.common import EXIT_OK, local_time, open_database, session_id
from katmonitor.text import printable

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    sessions = commands.add_parser("sessions", help="list and show recorded sessions")
    session_commands = sessions.add_subparsers(
        dest="sessions_command", metavar="ACTION", required=True
    )
    listing = session_commands.add_parser("list", parents=[db], help="list sessions")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_sessions_list)
    show = session_commands.add_parser("show", parents=[db], help="show one session")
    show.add_argument("session_id", type=session_id, metavar="ID")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.add_argument(
        "--samples", action="store_true", help="print every sample as one JSON object per line"
    )
    show.add_argument(
        "--pleth",
        action="store_true",
        help="with --samples: every pleth point instead of one line per block",
    )
    show.set_defaults(handler=cmd_sessions_show)
    close = session_commands.add_parser(
        "close",
        parents=[db],
        help="end an interrupted session (its recorder was stopped or killed) so it can be signed",
        description="End a session whose recording stopped without the nurse ending it (the app "
        "was killed, the power failed). The reason and the time of the last stored data are "
        "recorded in the session's audit chain; the session can then be signed.",
    )
    close.add_argument("session_id", type=session_id, metavar="ID")
    close.add_argument("--reason", required=True, help='why it was not ended, e.g. "power lost"')
    close.set_defaults(handler=cmd_sessions_close)


def cmd_sessions_list(args: argparse.Namespace) -> int:
    from katmonitor.record_signing import is_signed
    from katmonitor.storage.store import SessionStore

    database = open_database(args.db)
    try:
        store = SessionStore(database)
        sessions = store.list_sessions()
        signed = {s.id: is_signed(store, s.id) for s in sessions}
    finally:
        database.close()
    if args.json:
        print(json.dumps([{**s.to_json_dict(), "signed": signed[s.id]} for s in sessions],
                         indent=2))
        return EXIT_OK
    if not sessions:
        print("No sessions recorded yet.")
        return EXIT_OK
    header = (
        f"{'ID':>5}  {'CLIENT':<16} {'STARTED (local)':<19}  {'ENDED':<19}  {'STATUS':<11} "
        f"{'MODE':<8}  RECORD"
    )
    print(header)
    for s in sessions:
        ended = local_time(s.ended_at) if s.ended_at else "-"
        mode = "training" if s.training else "clinical"
        client = printable(s.client_id)
        print(
            f"{s.id:>5}  {client:<16.16} {local_time(s.started_at):<19}  {ended:<19}  "
            f"{s.status.value:<11} {mode:<8}  {'signed' if signed[s.id] else 'unsigned'}"
        )
    return EXIT_OK


def cmd_sessions_show(args: argparse.Namespace) -> int:
    from katmonitor.session_summary import summarize_session
    from katmonitor.storage.store import SessionStore

    database = open_database(args.db)
    try:
        store = SessionStore(database)
        if args.samples:
            session = store.get_session(args.session_id)
            _print_samples(store.iter_samples(session.id), expand_pleth=args.pleth, out=sys.stdout)
            return EXIT_OK
        summary = summarize_session(store, args.session_id).to_json_dict()
    finally:
        database.close()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return EXIT_OK


def cmd_sessions_close(args: argparse.Namespace) -> int:
    import time

    from katmonitor.journal import Journal, journal_path, replay_journal
    from katmonitor.recovery import close_interrupted_session
    from katmonitor.storage.store import SessionStore

    database = open_database(args.db)
    try:
        store = SessionStore(database)
        # What the killed recorder left in the journal goes in before the session is closed.
        replay_journal(store, Journal(journal_path(database.url), database.display_url))
        session = close_interrupted_session(store, args.session_id, args.reason, time.time())
    finally:
        database.close()
    ended = local_time(session.ended_at) if session.ended_at else "-"
    print(f"Session {session.id} closed (last stored data {ended}); it can now be signed.")
    return EXIT_OK


def _print_samples(
    items: Iterable[Sample | WaveformBlock], *, expand_pleth: bool, out: TextIO
) -> None:
    for item in items:
        if isinstance(item, Sample):
            out.write(json.dumps(item.to_json_dict()) + "\n")
        elif isinstance(item, WaveformBlock):
            if expand_pleth:
                for point in item.to_samples():
                    out.write(json.dumps(point.to_json_dict()) + "\n")
            else:
                out.write(json.dumps(_block_summary_json(item)) + "\n")


def _block_summary_json(block: WaveformBlock) -> dict[str, object]:
    """One line standing for a block of waveform points (use --pleth for every point)."""
    line = Sample(
        block.start_time, block.source, block.kind, None, block.status | {"summary"}
    ).to_json_dict()
    line.update(
        count=block.count,
        rate_hz=block.sample_rate_hz,
        end_time=iso_utc(block.end_time),
        min=float(block.values.min()) if block.count else None,
        max=float(block.values.max()) if block.count else None,
    )
    return line


def _print_summary(summary: dict[str, Any]) -> None:
    print(f"Session {summary['id']}  ({'TRAINING' if summary['training'] else 'clinical'})")
    for key in ("client", "medicine", "route", "status", "started_at", "ended_at", "workstation"):
        print(f"  {key:<12} {_shown(summary[key])}")
    print(f"  {'devices':<12} {printable(', '.join(summary['devices']))}")
    print("  samples:")
    for kind, count in sorted(summary["sample_counts"].items()):
        print(f"    {kind:<16} {count}")
    for gap in summary["gaps"]:
        end = gap["end"] or "the end"
        closed = f"; closed: {printable(gap['closed_reason'])}" if gap["closed_reason"] else ""
        print(f"  not recorded {gap['start']} to {end} ({gap['why']}{closed})")
    print(f"  dose events: {len(summary['dose_events'])}")
    for d in summary["dose_events"]:
        print(
            f"    {d['time']}  {d['dose_mg']:g} mg x{d['unit_count']}  lot {_shown(d['lot'])}"
            f"  by {_shown(d['given_by'])}"
        )
    print(f"  observations: {len(summary['observations'])}")
    for o in summary["observations"]:
        print(f"    {o['time']}  {_shown(o['author'])}: {_shown(o['summary'])}")
    print(f"  workflow steps: {len(summary['workflow_events'])}")
    for e in summary["workflow_events"]:
        print(f"    {e['time']}  {e['kind']:<15} by {_shown(e['user'])}")
    if "addenda" in summary:
        print(f"  addenda: {len(summary['addenda'])}")
        for a in summary["addenda"]:
            print(
                f"    {a['time']}  {a['kind']} by {_shown(a['printed_name'])} ({a['role']}): "
                f"{_shown(a['text'])}"
            )


def _shown(value: object) -> str:
    """A stored value as one safe line: '-' for none, control characters escaped."""
    return "-" if value is None or value == "" else printable(str(value))
