"""Exports of a recorded session: ``katmonitor export ID --format NAME --out PATH``.

Each format is one entry of :data:`FORMATS`: a name, a one-line description and the dotted path
of its writer ``write(store, session_id, out, options) -> list[Path]`` (imported only when that
format is used, so heavy libraries never slow down other commands). A new format (e.g. the signed
``bundle``) registers itself with :func:`register_format`; format-specific options are added in
:func:`add_export_command`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from katmonitor.base.errors import ConfigurationError

if TYPE_CHECKING:
    from katmonitor.storage.store import SessionStore

Writer = Callable[["SessionStore", int, Path, argparse.Namespace], list[Path]]


@dataclass(frozen=True, slots=True)
class ExportFormat:
    name: str
    description: str
    writer: str
    """``"package.module:function"``; the function is a :data:`Writer`."""

    def load(self) -> Writer:
        module_name, _, function = self.writer.partition(":")
        writer: Writer = getattr(importlib.import_module(module_name), function)
        return writer


FORMATS: dict[str, ExportFormat] = {}


def register_format(fmt: ExportFormat) -> None:
    FORMATS[fmt.name] = fmt


register_format(
    ExportFormat(
        "csv",
        "samples CSV at PATH plus <stem>-events.csv beside it (UTC times, units in the header)",
        "katmonitor.exports.csv_export:write_csv_export",
    )
)
register_format(
    ExportFormat(
        "fhir",
        "FHIR R4 Bundle (JSON, type collection) validated with fhir.resources",
        "katmonitor.exports.fhir_export:write_fhir_export",
    )
)

register_format(
    ExportFormat(
        "pdf",
        "clinical report (PDF): doses, pre-dose steps, vitals plots, assessments, schedule "
        "compliance, alarms, discharge, signature status",
        "katmonitor.exports.pdf_export:write_pdf_export",
    )
)
register_format(
    ExportFormat(
        "rems",
        "Spravato REMS Patient Monitoring Form fields (intranasal esketamine only): JSON when "
        "PATH ends in .json, PDF when it ends in .pdf",
        "katmonitor.exports.rems_export:write_rems_export",
    )
)

register_format(
    ExportFormat(
        "bundle",
        "signed record (JSON: record, samples, signature, key) for `katmonitor verify --file`",
        "katmonitor.record_signing:write_bundle_export",
    )
)


def export_format(name: str) -> ExportFormat:
    try:
        return FORMATS[name.strip().lower()]
    except KeyError:
        raise ConfigurationError(
            f"unknown export format {name!r}", f"choose one of: {', '.join(sorted(FORMATS))}"
        ) from None


def add_export_command(commands: Any, db_option: argparse.ArgumentParser) -> None:
    """Add ``export`` to the CLI's subcommands (``commands`` is argparse's subparsers action)."""
    export = commands.add_parser(
        "export",
        parents=[db_option],
        help="export a recorded session (" + ", ".join(sorted(FORMATS)) + ")",
        description="Formats: " + "; ".join(f"{f.name}: {f.description}" for f in FORMATS.values()),
    )
    export.add_argument("session_id", type=int, metavar="ID")
    # Not argparse `choices`: an unknown format gets the same one-message error as the rest.
    export.add_argument("--format", required=True, metavar="FORMAT", dest="export_format")
    export.add_argument("--out", required=True, type=Path, metavar="PATH")
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
    from katmonitor.config import resolve_database_url
    from katmonitor.storage.database import open_database
    from katmonitor.storage.store import SessionStore

    fmt = export_format(args.export_format)
    out: Path = args.out.expanduser()
    check_writable(out)
    database = open_database(resolve_database_url(args.db))
    try:
        store = SessionStore(database)
        store.get_session(args.session_id)  # NotFoundError before anything is written
        written = fmt.load()(store, args.session_id, out, args)
    finally:
        database.close()
    for path in written:
        print(path)
    return 0


def check_writable(out: Path) -> None:
    """Fail early, with a clear message, when ``out`` cannot be written."""
    if out.is_dir():
        raise ConfigurationError(f"{out} is a directory", "give a file name for --out")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigurationError(
            f"cannot write {out}: the directory {parent} does not exist", "create it first"
        )


def open_for_writing(path: Path, **kwargs: Any) -> Any:
    """``path.open("w")`` with OSError turned into a user-facing error."""
    try:
        return path.open("w", **kwargs)
    except OSError as error:
        raise ConfigurationError(
            f"cannot write {path}: {error.strerror or error}",
            "choose a writable location for --out",
        ) from None
