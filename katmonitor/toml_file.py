"""Reading a configuration TOML file (alarm profile, care plan) so that errors can point at it.

:func:`read_toml` turns every way a file can be unreadable (missing, no permission, binary or
not UTF-8, not TOML) into one ConfigurationError naming the file; :meth:`TomlFile.line_of`
finds the line a dotted key (``parameters.spo2.delay_s``, ``eligibility[2].rems``) is written
on, so that "unknown key" and "out of range" messages say where to look.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from katmonitor.base.errors import ConfigurationError

MAX_BYTES = 1024 * 1024  # a profile or care plan is a few KiB; this is something else

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


@dataclass(frozen=True, slots=True)
class TomlFile:
    path: Path
    text: str
    data: dict[str, Any]

    def line_of(self, dotted_key: str) -> int | None:
        """The 1-based line that sets ``dotted_key`` (or the table or inline table holding
        it); None when the key is not written in this file."""
        best: tuple[int, int] | None = None  # (matched parts, line)
        wanted = _split(dotted_key)
        prefix: list[str] = []
        arrays: dict[str, int] = {}
        for number, line in enumerate(self.text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                name = ".".join(_split(header.group(2)))
                if header.group(1) == "[[":
                    arrays[name] = arrays.get(name, -1) + 1
                    prefix = _split(f"{name}[{arrays[name]}]")
                else:
                    prefix = _split(name)
                candidate = prefix
            else:
                assignment = _ASSIGNMENT.match(line)
                if not assignment:
                    continue
                candidate = prefix + _split(assignment.group(1))
                rest = wanted[len(candidate) :]
                if wanted[: len(candidate)] == candidate and len(rest) == 1:
                    pattern = r"[{,]\s*" + re.escape(rest[0]) + r"\s*="
                    if re.search(pattern, line):  # low = { limit = 90, ... }
                        return number
            if wanted[: len(candidate)] == candidate and (best is None or len(candidate) > best[0]):
                best = (len(candidate), number)
                if len(candidate) == len(wanted):
                    return number
        return best[1] if best else None

    def where(self, dotted_key: str) -> str:
        """``FILE, line N`` (or just ``FILE`` when the key is not written in it)."""
        line = self.line_of(dotted_key)
        return f"{self.path}, line {line}" if line else str(self.path)


def read_toml(path: Path, what: str) -> TomlFile:
    """The file's TOML; ConfigurationError ("<what> FILE ...") when it cannot be read as such."""
    try:
        if path.exists() and not path.is_file():  # a directory, /dev/zero, a pipe
            raise ConfigurationError(f"{what} {path} is not a regular file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigurationError(f"{what} {path} does not exist") from None
    except OSError as error:
        raise ConfigurationError(f"cannot read {what} {path}: {error.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigurationError(
            f"{what} {path} is larger than {MAX_BYTES // 1024} KiB: not a configuration file",
            "give the TOML file itself",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigurationError(
            f"{what} {path} is not a text file (not UTF-8 at byte {error.start})",
            "give the TOML file itself; save it as UTF-8 text",
        ) from None
    if "\x00" in text:
        raise ConfigurationError(
            f"{what} {path} is not a text file (it holds NUL bytes)",
            "give the TOML file itself",
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: not valid TOML: {error}") from None
    return TomlFile(path, text, data)


def _split(dotted: str) -> list[str]:
    """``a."b.c".d[2]`` -> ``["a", "b.c", "d[2]"]`` (quotes removed, spaces trimmed)."""
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', dotted)
    return [part.strip().strip("\"'") for part in parts if part.strip()]
