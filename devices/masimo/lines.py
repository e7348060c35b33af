"""One ASCII 1 line: its KEY=value fields read (all or nothing) and written."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from devices.masimo.constants import EXC_MASIMO_SET
from katmonitor.base.vitals import VitalKind

_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9]*)=(\S*)")
_TIMESTAMP = re.compile(r"(\d{2})/(\d{2})/(\d{2})\s+(\d{2}):(\d{2}):(\d{2})")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_HEX = re.compile(r"[0-9A-Fa-f]+")


class _BadLine(ValueError):
    """A line that cannot be trusted; the message says why."""


def _is_dashes(text: str) -> bool:
    """'---', '--.-', '+--': the device's way of saying "no value"."""
    return "-" in text and all(c in "-+." for c in text)


def _parse_value(key: str, raw: str) -> float | None:
    text = raw.removesuffix("%")
    if _is_dashes(text):
        return None
    if not _NUMBER.fullmatch(text):
        raise _BadLine(f"{key}={raw!r} is not a number")
    return float(text)


def _parse_bits(key: str, raw: str) -> int | None:
    if _is_dashes(raw):
        return None
    if not _HEX.fullmatch(raw):
        raise _BadLine(f"{key}={raw!r} is not hexadecimal")
    return int(raw, 16)


def _parse_time(text: str) -> float | None:
    """MM/DD/YY HH:MM:SS read as UTC (the device clock has no zone), or None."""
    match = _TIMESTAMP.search(text)
    if match is None:
        return None
    month, day, year, hour, minute, second = (int(g) for g in match.groups())
    year += 1900 if year >= 69 else 2000  # the POSIX %y pivot: 69-99 -> 1969-1999
    try:
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None  # a garbled clock is no reason to drop the readings
    return stamp.timestamp()


def _conditions(bits: int, table: dict[int, str]) -> set[str]:
    return {name for bit, name in table.items() if bits & bit}


def _field(value: float | None, fmt: str, missing: str) -> str:
    if value is None or not math.isfinite(value):
        return missing
    return format(value, fmt)


def format_ascii1_line(
    device_time: float,
    values: dict[VitalKind, float | None],
    *,
    alarm: int = 0,
    exc: int = EXC_MASIMO_SET,
    serial_number: str = "0000056661",
) -> bytes:
    """One Rad-8 ASCII 1 line, CR LF included; a kind absent or None is sent as dashes."""
    stamp = datetime.fromtimestamp(device_time, UTC).strftime("%m/%d/%y %H:%M:%S")
    spo2 = values.get(VitalKind.SPO2)
    bpm = values.get(VitalKind.PULSE_RATE)
    pi = values.get(VitalKind.PERFUSION_INDEX)
    spo2_text = _field(None if spo2 is None else round(spo2), "03d", "---")
    bpm_text = _field(None if bpm is None else round(bpm), "03d", "---")
    pi_text = _field(pi, "05.2f", "--.--")
    line = (
        f"{stamp} SN={serial_number} SPO2={spo2_text}% BPM={bpm_text} PI={pi_text}% "
        f"SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM={alarm:04X} EXC={exc:06X}\r\n"
    )
    return line.encode("ascii")
