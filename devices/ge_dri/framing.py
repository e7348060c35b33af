"""GE DRI framing: one record per frame ``7E <escaped record + checksum> 7E``.

The checksum is the 8-bit sum of the unescaped record bytes; inside the frame 0x7E is
sent as 7D 5E and 0x7D as 7D 5D (the checksum is escaped too). Unescaping is
``7D XX -> XX ^ 0x20`` (HDLC style; the OR-0x7C shortcut of one open implementation
only happens to work for 5E and 5D).
"""

from __future__ import annotations

from dataclasses import dataclass
from zlib import adler32

from devices.ge_dri.constants import _I16, _MAX_FRAME_BYTES, ESCAPE, ESCAPE_XOR, FLAG, HEADER_SIZE


def checksum(record: bytes) -> int:
    return sum(record) & 0xFF


def escape_frame(record: bytes) -> bytes:
    """``record`` + its checksum, escaped and wrapped in flags: the bytes on the wire."""
    out = bytearray([FLAG])
    for byte in record + bytes([checksum(record)]):
        if byte in (FLAG, ESCAPE):
            out += bytes([ESCAPE, byte ^ ESCAPE_XOR])
        else:
            out.append(byte)
    out.append(FLAG)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Frame:
    """One deframed unit: a record whose checksum and length checked out, or a problem."""

    offset: int
    """Stream offset of the frame's opening flag (or of the first skipped byte)."""
    length: int
    record: bytes | None
    problem: str = ""
    bad: bool = False
    """True for a damaged frame (counts toward the checksum-error rate)."""


class Deframer:
    """Incremental 0x7E framing: feed any chunks, get complete frames (good or bad).

    Splits each chunk at its flags in one call (bytes.split) rather than walking it byte by
    byte: decoding keeps up with a 115200-baud link more than a thousand times over.
    """

    def __init__(self) -> None:
        self._offset = 0  # stream offset of the next byte
        self._synced = False
        self._start = 0
        self._raw = bytearray()  # escaped bytes since the opening flag
        self._skipped = 0  # bytes seen outside any frame (before the first flag, after a resync)

    def feed(self, chunk: bytes) -> list[Frame]:
        return [Frame(*frame) for frame in self._scan(chunk)]

    def _scan(self, chunk: bytes) -> list[_FrameTuple]:
        """What :meth:`feed` returns, as plain (offset, length, record, problem, bad) tuples:
        the decoder's hot path, which would otherwise build a Frame per record."""
        frames: list[_FrameTuple] = []
        at = self._offset  # stream offset of the current segment
        self._offset += len(chunk)
        synced, start, raw, skipped = self._synced, self._start, self._raw, self._skipped
        segments = chunk.split(_FLAG_BYTE)
        tail = segments.pop()  # the bytes after the last flag: no flag closes them yet
        for segment in segments:  # each one ends at a flag
            if not segment and not raw and not skipped:
                # The empty run between frames (7E 7E): this flag only opens the next frame.
                synced = True
                start = at
                at += 1
                continue
            size = len(segment)
            # The frame's escaped bytes, when this flag closes one.
            escaped: bytes | bytearray | None = None
            if size and synced:
                if raw:
                    raw += segment
                    escaped = raw
                else:
                    escaped = segment  # the usual case: a whole frame inside the chunk
                if len(escaped) > _MAX_FRAME_BYTES:
                    # A lost end flag: drop what we have and wait for the next flag.
                    frames.append((start, at + size - start, None, "frame too long", True))
                    synced = False
                    escaped = None
            elif size:
                skipped += size
            elif synced and raw:
                escaped = raw
            at += size  # now the flag's offset
            if skipped:
                message = f"{skipped} bytes outside a frame skipped"
                frames.append((at - skipped, skipped, None, message, False))
                skipped = 0
            elif escaped is not None:
                frames.append(_check_frame(escaped, start, at - start + 1))
            # Every flag may open a frame: frames either share flags or come as 7E..7E 7E..7E.
            synced = True
            start = at
            if raw:
                raw.clear()
            at += 1
        if tail:
            if synced:
                raw += tail
                if len(raw) > _MAX_FRAME_BYTES:
                    frames.append((start, at + len(tail) - start, None, "frame too long", True))
                    synced = False
                    raw.clear()
            else:
                skipped += len(tail)
        self._synced, self._start, self._skipped = synced, start, skipped
        return frames


# (offset, length, record, problem, bad): a Frame's fields, without building the object.
_FrameTuple = tuple[int, int, "bytes | None", str, bool]


def _check_frame(escaped: bytes | bytearray, start: int, length: int) -> _FrameTuple:
    """Unescape one frame's bytes and check them: a good record or a bad frame."""
    # ESCAPE, an int: `bytes in bytes` first tries its operand as an int (raising and clearing
    # a TypeError), which costs more than the search itself.
    if ESCAPE in escaped:
        data = _unescape(escaped)
        if data is None:
            return (start, length, None, "escape byte before the end flag", True)
    else:
        data = bytes(escaped)  # copies only a frame that spanned chunks (a bytearray)
    size = len(data) - 1  # without the checksum
    if size < HEADER_SIZE:
        return (start, length, None, f"frame too short ({size + 1} bytes)", True)
    record, received = data[:-1], data[-1]
    computed = _byte_sum(record) & 0xFF
    if computed != received:
        message = f"bad checksum (got {received:#04x}, computed {computed:#04x})"
        return (start, length, None, message, True)
    # The length field guards against a damaged escape that leaves the sum intact.
    (r_len,) = _I16.unpack_from(record, 0)
    if r_len != size:
        message = f"record length field {r_len} but {size} bytes received"
        return (start, length, None, message, True)
    return (start, length, record, "", False)


def _byte_sum(data: bytes) -> int:
    """sum(data), without a Python-level loop over the bytes: the low half of Adler-32 is
    1 + sum(data) mod 65521, exact up to 256 bytes (1 + 255 * 256 < 65521), and zlib
    computes it in C. Longer data is summed 256 bytes at a time."""
    if len(data) <= _ADLER_EXACT_BYTES:
        return (adler32(data) & 0xFFFF) - 1
    total = 0
    for at in range(0, len(data), _ADLER_EXACT_BYTES):
        total += (adler32(data[at : at + _ADLER_EXACT_BYTES]) & 0xFFFF) - 1
    return total


_ADLER_EXACT_BYTES = 256
_FLAG_BYTE = bytes([FLAG])
_ESCAPE_BYTE = bytes([ESCAPE])


def _unescape(raw: bytes | bytearray) -> bytes | None:
    """7D XX -> XX ^ 0x20 (not XX | 0x7C); None when the frame ends inside an escape."""
    escapes = raw.count(_ESCAPE_BYTE)
    if not escapes:
        return bytes(raw)
    if escapes == raw.count(_ESCAPED_FLAG) + raw.count(_ESCAPED_ESCAPE):
        # Every 7D starts a 7D 5E or 7D 5D pair (the usual case): substituting the pairs in
        # C gives the same bytes as the loop below.
        return bytes(raw.replace(_ESCAPED_FLAG, _FLAG_BYTE).replace(_ESCAPED_ESCAPE, _ESCAPE_BYTE))
    out = bytearray()
    position = 0
    while True:
        escape = raw.find(_ESCAPE_BYTE, position)
        if escape < 0:
            out += raw[position:]
            return bytes(out)
        out += raw[position:escape]
        if escape + 1 >= len(raw):
            return None
        out.append(raw[escape + 1] ^ ESCAPE_XOR)
        position = escape + 2


_ESCAPED_FLAG = bytes([ESCAPE, FLAG ^ ESCAPE_XOR])
_ESCAPED_ESCAPE = bytes([ESCAPE, ESCAPE ^ ESCAPE_XOR])
