"""Nonin frames: the checksum, the format-select command and the shape of DF2/DF7/DF8 frames."""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from typing import NamedTuple

from devices.nonin.constants import ETX, SELECTABLE_FORMATS, STX


def format_select_command(data_format: int) -> bytes:
    """The host command that switches the oximeter to ``data_format`` (2, 7, 8 or 13)."""
    if data_format not in SELECTABLE_FORMATS:
        raise ValueError(f"Nonin data format must be one of 2, 7, 8, 13, not {data_format}")
    return bytes((STX, 0x70, 0x02, 0x02, data_format, ETX))


def checksum(data: bytes | Sequence[int]) -> int:
    return sum(data) & 0xFF


class _Frame(NamedTuple):
    offset: int
    status: int
    pleth: int
    value: int  # the FLOAT byte


# A run of DF8 frames: STATUS1 with bit 7 set and reserved bit 6 clear, then HR bits 6-0,
# SpO2 0-100 or 127 and STATUS2 with bits 7-6 clear (it defines bits 0-5 only).
_DF8_FRAMES = re.compile(rb"(?:[\x80-\xbf][\x00-\x7f][\x00-\x64\x7f][\x00-\x3f])+")
_DF8_FRAME = struct.Struct("4B")
