"""The checkpoint file: signed checkpoints of session chain heads, kept outside the database.

Each signature and addendum appends one line (a :class:`~katmonitor.records.checkpoint.
Checkpoint` as JSON, signed with the signer's key) to ``checkpoints.jsonl`` in the checkpoint
directory: ``KATMONITOR_CHECKPOINT_DIR``, else ``checkpoints/`` in the data directory
(:func:`katmonitor.config.data_dir`). The line is flushed and fsynced before the signature is
reported done. Nothing ever rewrites the file; a clinic can make it append-only
(``chattr +a``) or put the directory on storage that people who can write the database cannot
change, which is what makes it an anchor.

A checkpoint directory that is missing or not writable is a clear error at signing, never a
silent skip: the signature is not stored without its checkpoint.
"""

from __future__ import annotations

import json
import os
import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from katmonitor.base.errors import ConfigurationError
from katmonitor.config import data_dir
from katmonitor.records.checkpoint import Checkpoint

CHECKPOINT_DIR_ENV = "KATMONITOR_CHECKPOINT_DIR"
FILE_NAME = "checkpoints.jsonl"


def checkpoint_dir() -> Path:
    override = os.environ.get(CHECKPOINT_DIR_ENV)
    return Path(override) if override else data_dir() / "checkpoints"


def make_checkpoint(
    private_key: Ed25519PrivateKey,
    key_id: int,
    user: str,
    event: str,
    session_uuid: str,
    entry_count: int,
    head: str,
) -> Checkpoint:
    unsigned = Checkpoint(
        session_uuid, entry_count, head, round(_time.time(), 3), event, user, key_id, b""
    )
    return Checkpoint(
        unsigned.session_uuid,
        unsigned.entry_count,
        unsigned.head,
        unsigned.at,
        unsigned.event,
        unsigned.user,
        unsigned.key_id,
        private_key.sign(unsigned.payload()),
    )


@dataclass(slots=True)
class Found:
    """A session's checkpoints in the file, and what is wrong with the file for it."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class CheckpointLog:
    """The checkpoint file in ``directory`` (default: :func:`checkpoint_dir`)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else checkpoint_dir()
        self.path = self.directory / FILE_NAME

    def open_for_append(self) -> CheckpointWriter:
        """Open the file for appending (creating the directory): done before anything is
        signed, so a missing or read-only location stops signing with a clear message."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            handle = self.path.open("ab")
        except OSError as error:
            raise ConfigurationError(
                f"cannot write the checkpoint file {self.path}: {error.strerror or error}",
                f"signing needs a writable checkpoint directory; set {CHECKPOINT_DIR_ENV} to "
                "one (see docs/records.md)",
            ) from None
        if created:
            _sync_directory(self.directory)
        return CheckpointWriter(self.path, handle)

    def of_session(self, session_uuid: str) -> Found:
        """The checkpoints of one session. A line that mentions the session but is not a
        checkpoint is a problem (someone edited it); other sessions' lines are not read."""
        found = Found()
        try:
            with self.path.open("rb") as f:
                needle = session_uuid.encode()
                for number, line in enumerate(f, start=1):
                    if needle not in line:
                        continue
                    try:
                        found.checkpoints.append(Checkpoint.from_json(json.loads(line)))
                    except (ValueError, RecursionError) as error:
                        found.problems.append(
                            f"line {number} of the checkpoint file {self.path} is damaged: "
                            f"{error}"
                        )
        except FileNotFoundError:
            pass
        except OSError as error:
            found.problems.append(
                f"cannot read the checkpoint file {self.path}: {error.strerror or error}"
            )
        found.checkpoints = [c for c in found.checkpoints if c.session_uuid == session_uuid]
        return found


def _sync_directory(directory: Path) -> None:
    """Make a new file's directory entry durable (POSIX; other systems cannot open a
    directory, and their file systems journal it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class CheckpointWriter:
    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self._handle = handle

    def write(self, checkpoint: Checkpoint) -> None:
        """Append one line and make it durable (flush and fsync)."""
        line = json.dumps(checkpoint.to_json(), sort_keys=True, separators=(",", ":")) + "\n"
        try:
            self._handle.write(line.encode())
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:
            raise ConfigurationError(
                f"cannot write the checkpoint file {self.path}: {error.strerror or error}"
            ) from None

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> CheckpointWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
