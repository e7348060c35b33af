"""Export files are written whole or not at all, and never over an existing file unasked.

The disk filling up is injected as the OSError (ENOSPC) a real full disk raises, after part of
the file was already written: that used to leave a truncated CSV or a 0-byte PDF behind.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from typing import IO, Any

import pytest
from cli_runner import katmonitor
from dosed_session import DosedSession, record_dosed_session

from katmonitor.base.errors import ConfigurationError
from katmonitor.exports.files import atomic_file, write_bytes_atomically

# format, file name, and the files a successful export writes (csv: the events file too)
FORMATS = [
    ("csv", "out.csv", ("out.csv", "out-events.csv")),
    ("fhir", "out.json", ("out.json",)),
    ("pdf", "out.pdf", ("out.pdf",)),
    ("rems", "form.json", ("form.json",)),
    ("rems", "form.pdf", ("form.pdf",)),
]


class FillingDisk:
    """A file handle on a disk with ``room`` bytes left: writing past that raises ENOSPC
    (the bytes before it were written, as on a real disk)."""

    def __init__(self, handle: IO[Any], room: int) -> None:
        self._handle, self._room = handle, room

    def write(self, data: Any) -> int:
        if len(data) > self._room:
            self._handle.write(data[: self._room])
            self._handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return int(self._handle.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> FillingDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every export file opened from now on runs out of space after 100 bytes."""
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> FillingDisk:
        return FillingDisk(real_fdopen(fd, *args, **kwargs), room=100)

    monkeypatch.setattr("katmonitor.exports.files.os.fdopen", fdopen)


def export(
    dosed: DosedSession, fmt: str, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return katmonitor(
        "export", str(dosed.session_id), "--format", fmt, "--out", str(out), "--db", dosed.url,
        *extra,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def contents(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.fixture(scope="module")
def dosed(tmp_path_factory: pytest.TempPathFactory) -> DosedSession:
    """One recorded session for the module: exports only read it."""
    path = tmp_path_factory.mktemp("dosed") / "katmonitor.sqlite3"
    return record_dosed_session(f"sqlite:///{path}")


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """Where the exports go (the session's database is in tmp_path itself)."""
    directory = tmp_path / "exports"
    directory.mkdir()
    return directory


@pytest.mark.parametrize(("fmt", "name", "written"), FORMATS, ids=lambda v: str(v))
def test_a_full_disk_leaves_no_partial_file(
    dosed: DosedSession, out_dir: Path, full_disk: None, fmt: str, name: str,
    written: tuple[str, ...],
) -> None:
    result = export(dosed, fmt, out_dir / name)
    assert_refused(result, f"cannot write {out_dir}", "no space left on device")
    assert result.stdout == ""
    assert contents(out_dir) == {}  # no truncated file, no 0-byte file, no temporary file


@pytest.mark.parametrize(("fmt", "name", "written"), FORMATS, ids=lambda v: str(v))
def test_an_existing_file_is_replaced_only_with_force(
    dosed: DosedSession, out_dir: Path, fmt: str, name: str, written: tuple[str, ...]
) -> None:
    out = out_dir / name
    out.write_bytes(b"the nurse's earlier export")
    before = contents(out_dir)
    result = export(dosed, fmt, out)
    assert_refused(result, f"{out} already exists", "--force")
    assert contents(out_dir) == before

    replaced = export(dosed, fmt, out, "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(written)
    assert out.read_bytes() != b"the nurse's earlier export" and out.stat().st_size > 0


def test_a_full_disk_while_replacing_keeps_the_previous_file(
    dosed: DosedSession, out_dir: Path, full_disk: None
) -> None:
    out = out_dir / "report.pdf"
    out.write_bytes(b"%PDF- the previous report")
    assert_refused(export(dosed, "pdf", out, "--force"), "no space left on device")
    assert contents(out_dir) == {"report.pdf": b"%PDF- the previous report"}


def test_csv_refuses_when_only_its_events_file_exists(dosed: DosedSession, out_dir: Path) -> None:
    events = out_dir / "out-events.csv"
    events.write_text("kept")
    assert_refused(export(dosed, "csv", out_dir / "out.csv"), f"{events} already exists")
    assert contents(out_dir) == {"out-events.csv": b"kept"}


def test_atomic_file_removes_its_temporary_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "data.csv"
    with pytest.raises(ZeroDivisionError), atomic_file(target) as handle:
        handle.write("half a row,")
        raise ZeroDivisionError  # any error of the writer itself
    assert list(tmp_path.iterdir()) == []


def test_write_bytes_atomically_writes_whole_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "bundle.json"
    assert write_bytes_atomically(target, b"{}") == target
    assert target.read_bytes() == b"{}"
    with pytest.raises(ConfigurationError, match="already exists"):
        write_bytes_atomically(target, b"[]")
    write_bytes_atomically(target, b"[]", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["bundle.json"]
    assert target.read_bytes() == b"[]"


def test_force_never_replaces_something_other_than_a_file(
    dosed: DosedSession, out_dir: Path
) -> None:
    target = out_dir / "report.pdf"
    target.mkdir()
    (target / "inside").write_text("kept")
    assert_refused(export(dosed, "pdf", target, "--force"), "is a directory")
    assert (target / "inside").read_text() == "kept"
    with pytest.raises(ConfigurationError, match="not a regular file"):
        write_bytes_atomically(target, b"x", overwrite=True)
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.pdf"]


def test_a_bundle_export_on_a_full_disk_leaves_no_partial_file(
    tmp_path: Path, out_dir: Path, full_disk: None
) -> None:
    from account_helpers import add_account
    from signing_helpers import recorded_session

    from katmonitor.accounts import AccountStore
    from katmonitor.checkpoints import CheckpointLog
    from katmonitor.record_signing import sign_session
    from katmonitor.storage.database import open_database
    from katmonitor.storage.store import SessionStore

    url = f"sqlite:///{tmp_path / 'signed.sqlite3'}"
    database = open_database(url)
    store = SessionStore(database)
    sid = recorded_session(store, minutes=1)
    add_account(AccountStore(database), "nina", "nurse", "correct horse")
    sign_session(store, sid, "nina", "correct horse",
                 checkpoints=CheckpointLog(tmp_path / "checkpoints"))
    database.close()

    result = katmonitor("export", str(sid), "--format", "bundle", "--out",
                        str(out_dir / "s.katbundle"), "--db", url)
    assert_refused(result, "no space left on device")
    assert contents(out_dir) == {}
