"""The ``bundle`` export: the signed record as one JSON file for ``katmonitor verify --file``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from katmonitor.exports import DEFAULT_OPTIONS, ExportOptions
from katmonitor.exports.files import write_bytes_atomically
from katmonitor.record_signing import export_bundle

if TYPE_CHECKING:
    from katmonitor.storage.store import SessionStore


def write_bundle_export(
    store: SessionStore, session_id: int, out: Path, options: ExportOptions = DEFAULT_OPTIONS
) -> list[Path]:
    def write(path: Path, data: bytes) -> None:
        write_bytes_atomically(path, data, overwrite=options.overwrite)

    return [export_bundle(store, session_id, out, write=write)]
