"""``katmonitor export ID --format NAME --out PATH [--force]``: the formats are
katmonitor/exports/; an existing file is replaced only with ``--force``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from katmonitor.cli.common import EXIT_OK, open_database, session_id
from katmonitor.exports import FORMATS, ExportOptions, check_writable, export_format
from katmonitor.exports.files import refuse_existing

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    export = commands.add_parser(
        "export",
        parents=[db],
        help="export a recorded session (" + ", ".join(sorted(FORMATS)) + ")",
        description="Formats: " + "; ".join(f"{f.name}: {f.description}" for f in FORMATS.values()),
    )
    export.add_argument("session_id", type=session_id, metavar="ID")
    # Not argparse `choices`: an unknown format gets the same one-message error as the rest.
    export.add_argument("--format", required=True, metavar="FORMAT", dest="export_format")
    export.add_argument("--out", required=True, type=Path, metavar="PATH")
    export.add_argument(
        "--force", action="store_true", help="replace the output file(s) if they exist already"
    )
    csv_options = export.add_argument_group("csv")
    csv_options.add_argument(
        "--pleth",
        choices=("points", "blocks"),
        default="points",
        help="points: one row per pleth point (default); blocks: one summary row per block",
    )
    fhir_options = export.add_argument_group("fhir")
    fhir_options.add_argument(
        "--numerics",
        choices=("minute", "all"),
        default="minute",
        help="continuous numerics (HR, PR, SpO2, PI): per-minute medians (default) or every "
        "value; NIBP readings are always all included",
    )
    report_options = export.add_argument_group("pdf, rems")
    report_options.add_argument(
        "--care-plan",
        type=Path,
        metavar="FILE",
        help="the clinic's care plan TOML (as for `katmonitor run`): REMS fields of the "
        "eligibility questions and the schedule's timing; default: the shipped plan",
    )
    export.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from katmonitor.storage.store import SessionStore

    fmt = export_format(args.export_format)
    out: Path = args.out.expanduser()
    check_writable(out)
    refuse_existing([out], overwrite=args.force)  # before the database is opened
    options = ExportOptions(
        pleth=args.pleth, numerics=args.numerics, care_plan=args.care_plan, overwrite=args.force
    )
    database = open_database(args.db)
    try:
        store = SessionStore(database)
        store.get_session(args.session_id)  # NotFoundError before anything is written
        written = fmt.load()(store, args.session_id, out, options)
    finally:
        database.close()
    for path in written:
        print(path)
    return EXIT_OK
