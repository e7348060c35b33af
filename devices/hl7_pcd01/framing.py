"""Cutting an HL7 byte stream into messages: MLLP frames (0x0B + message + 0x1C 0x0D), or
the CR/LF-separated lines of a raw capture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devices.codec import DecodeProblem
from devices.hl7_pcd01.constants import END_BLOCK, MAX_FRAME_BYTES, MLLP_TRAILER, START_BLOCK

_EOL = re.compile(rb"[\r\n]")


def mllp_frame(message: str) -> bytes:
    """One MLLP frame: start block, the message (UTF-8), end block and CR."""
    return b"\x0b" + message.encode("utf-8") + MLLP_TRAILER


@dataclass(frozen=True, slots=True)
class _Frame:
    offset: int
    data: bytes


class _JunkRun:
    """Bytes skipped between messages, reported once per run from its first non-blank byte."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.end = 0

    def skip(self, offset: int, data: bytes) -> None:
        if self.first is None:
            visible = data.lstrip(b" \t\r\n")
            if visible:
                self.first = offset + len(data) - len(visible)
        self.end = offset + len(data)

    def report(self, out: list[_Frame | DecodeProblem], what: str) -> None:
        if self.first is not None:
            length = self.end - self.first
            out.append(DecodeProblem(self.first, f"skipped {length} bytes {what}", length))
            self.first = None


class MllpDeframer:
    """Cuts an MLLP byte stream, split anywhere, into frames; reports what it skips."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.offset = 0
        self._junk = _JunkRun()
        self._frame_start: int | None = None  # stream offset of the open frame's start block
        self._buffer = bytearray()
        self._oversized = False

    def feed(self, chunk: bytes) -> list[_Frame | DecodeProblem]:
        out: list[_Frame | DecodeProblem] = []
        base, i, n = self.offset, 0, len(chunk)
        self.offset += n
        while i < n:
            if self._frame_start is None:
                start = chunk.find(START_BLOCK, i)
                if start < 0:
                    self._junk.skip(base + i, chunk[i:])
                    break
                if start > i:
                    self._junk.skip(base + i, chunk[i:start])
                self._junk.report(out, "between frames")
                self._frame_start, self._oversized = base + start, False
                self._buffer.clear()
                i = start + 1
                continue
            end = chunk.find(END_BLOCK, i)
            restart = chunk.find(START_BLOCK, i, end if end >= 0 else n)
            if restart >= 0:  # the sender started over: drop the unfinished frame
                length = base + restart - self._frame_start
                out.append(
                    DecodeProblem(self._frame_start, "frame cut short by a new frame", length)
                )
                self._frame_start = None
                i = restart
                continue
            self._append(chunk[i : end if end >= 0 else n])
            if end < 0:
                break
            if self._oversized:
                length = base + end + 1 - self._frame_start
                out.append(DecodeProblem(self._frame_start, f"frame of {length} bytes", length))
            else:
                out.append(_Frame(self._frame_start, bytes(self._buffer)))
            self._frame_start = None
            i = end + 1
        return out

    def _append(self, data: bytes) -> None:
        if not self._oversized:
            self._buffer += data
            if len(self._buffer) > self.max_frame_bytes:
                self._oversized = True  # keep counting its length, stop storing it
                self._buffer.clear()

    def flush(self) -> list[_Frame | DecodeProblem]:
        """End of stream: report an unfinished frame and trailing junk."""
        out: list[_Frame | DecodeProblem] = []
        if self._frame_start is not None:
            length = self.offset - self._frame_start
            out.append(DecodeProblem(self._frame_start, "unfinished frame at end", length))
            self._frame_start = None
        self._junk.report(out, "at end")
        return out


class LineSplitter:
    """Cuts a raw capture (CR- or LF-separated segments, no MLLP) into messages, a new one at
    each line starting with "MSH". A message is complete when the next begins, or at flush."""

    def __init__(self) -> None:
        self.offset = 0
        self._junk = _JunkRun()
        self._line = bytearray()
        self._line_start: int | None = None
        self._message: list[bytes] = []
        self._message_start: int | None = None

    def feed(self, chunk: bytes) -> list[_Frame | DecodeProblem]:
        out: list[_Frame | DecodeProblem] = []
        base, i = self.offset, 0
        self.offset += len(chunk)
        while i < len(chunk):
            eol = _EOL.search(chunk, i)
            stop = eol.start() if eol else len(chunk)
            if self._line_start is None:
                self._line_start = base + i
            self._line += chunk[i:stop]
            if eol is None:
                break
            self._end_line(out)
            i = stop + 1
        return out

    def _end_line(self, out: list[_Frame | DecodeProblem]) -> None:
        line, start = bytes(self._line), self._line_start or 0
        self._line.clear()
        self._line_start = None
        if not line.strip():
            return
        if line.startswith(b"MSH"):
            self._emit(out)
            self._junk.report(out, "before a message header")
            self._message, self._message_start = [line], start
        elif self._message_start is not None:
            self._message.append(line)
        else:
            self._junk.skip(start, line)

    def _emit(self, out: list[_Frame | DecodeProblem]) -> None:
        if self._message_start is not None:
            out.append(_Frame(self._message_start, b"\r".join(self._message)))
            self._message, self._message_start = [], None

    def flush(self) -> list[_Frame | DecodeProblem]:
        out: list[_Frame | DecodeProblem] = []
        if self._line_start is not None:
            self._end_line(out)
        self._emit(out)
        self._junk.report(out, "at end")
        return out
