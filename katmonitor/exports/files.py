"""Writing an export file whole or not at all, and never over an existing file unasked.

:func:`atomic_file` writes into a temporary file in the target's directory (same file system,
so the final rename is atomic), flushes it to disk and renames it over the target only when
everything was written. A failure (a full disk, a lost mount, an error while rendering) removes
the temporary file and leaves the target as it was: absent, or the previous file untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from katmonitor.base.errors import ConfigurationError

WRITE_HINT = "choose a writable location with enough free space for --out"


def refuse_existing(paths: Iterable[Path], *, overwrite: bool) -> None:
    """ConfigurationError when one of ``paths`` exists and ``overwrite`` was not asked for, or
    is something other than a regular file (a device, a directory) that would be replaced."""
    for path in paths:
        if overwrite:
            if path.exists() and not path.is_file():  # never replace a device or a directory
                raise ConfigurationError(
                    f"{path} is not a regular file; it was left unchanged", "give a file name"
                )
            continue
        if path.exists() or path.is_symlink():
            raise ConfigurationError(
                f"{path} already exists; it was left unchanged",
                "give another --out, or add --force to replace it",
            )


@contextlib.contextmanager
def atomic_file(
    path: Path,
    mode: str = "w",
    *,
    overwrite: bool = False,
    encoding: str | None = None,
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """A handle (``mode`` "w" or "wb") whose content becomes ``path`` when the block ends
    without an error. Errors writing are ConfigurationErrors naming ``path``."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_file writes a new file: mode 'w' or 'wb', not {mode!r}")
    refuse_existing([path], overwrite=overwrite)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        # O_EXCL: never reuse a file someone else put there; 0o666 lets the umask decide.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise _cannot_write(path, error) from None
    try:
        with os.fdopen(
            descriptor, mode, encoding=None if "b" in mode else (encoding or "utf-8"),
            newline=newline,
        ) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        refuse_existing([path], overwrite=overwrite)  # appeared while we were writing
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        raise _cannot_write(path, error) from None
    except BaseException:
        _remove(temporary)
        raise
    _sync_directory(path.parent)


def write_bytes_atomically(path: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """``path.write_bytes(data)``, whole or not at all (see :func:`atomic_file`)."""
    with atomic_file(path, "wb", overwrite=overwrite) as handle:
        handle.write(data)
    return path


def _cannot_write(path: Path, error: OSError) -> ConfigurationError:
    return ConfigurationError(
        f"cannot write {path}: {(error.strerror or str(error)).lower()}; nothing was written",
        WRITE_HINT,
    )


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); where a directory cannot be opened, skip it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
