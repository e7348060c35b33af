"""Exports of a recorded session: ``katmonitor export ID --format NAME --out PATH``.

Each format is one entry of :data:`FORMATS`: a name, a one-line description and the dotted path
of its writer ``write(store, session_id, out, options: ExportOptions) -> list[Path]`` (imported
only when that format is used, so heavy libraries never slow down other commands). A new format
registers itself with :func:`register_format`; the format-specific options are the fields of
:class:`ExportOptions` (the command line's are added in katmonitor/cli/export.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from katmonitor.base.errors import ConfigurationError

if TYPE_CHECKING:
    from katmonitor.storage.store import SessionStore

PlethRows = Literal["points", "blocks"]
NumericsDetail = Literal["minute", "all"]


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What a writer may be asked besides the session and the file; each writer reads only its
    own fields, so one value serves every format."""

    pleth: PlethRows = "points"
    """csv: one row per pleth point, or one summary row per block."""
    numerics: NumericsDetail = "minute"
    """fhir: continuous numerics as per-minute medians, or every value."""
    care_plan: Path | None = None
    """pdf, rems: the clinic's care plan TOML; None: the shipped plan."""
    overwrite: bool = False
    """Replace files that exist already (``--force``); without it such a file is refused."""


DEFAULT_OPTIONS = ExportOptions()

Writer = Callable[["SessionStore", int, Path, ExportOptions], list[Path]]


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
        "katmonitor.exports.bundle_export:write_bundle_export",
    )
)
register_format(
    ExportFormat(
        "vital",
        "VitalDB .vital file (numerics and 100 Hz pleth) for VitalDB's viewer and Python "
        "package; needs the vital extra",
        "katmonitor.exports.vital_export:write_vital_export",
    )
)


def export_format(name: str) -> ExportFormat:
    try:
        return FORMATS[name.strip().lower()]
    except KeyError:
        raise ConfigurationError(
            f"unknown export format {name!r}", f"choose one of: {', '.join(sorted(FORMATS))}"
        ) from None


def check_writable(out: Path) -> None:
    """Fail early, with a clear message, when ``out`` cannot be written."""
    if out.is_dir():
        raise ConfigurationError(f"{out} is a directory", "give a file name for --out")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigurationError(
            f"cannot write {out}: the directory {parent} does not exist", "create it first"
        )
