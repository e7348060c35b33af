"""One ASCII 1 line: its KEY=value fields read by a strict grammar (all or nothing) and
written."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from devices.masimo.constants import EXC_MASIMO_SET
from katmonitor.base.vitals import VitalKind

_TIMESTAMP = re.compile(r"(\d{2})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})")
_TIMESTAMP_LENGTH = 17

# The strict grammar of a line: every field's key, its fixed width and allowed characters (a
# line without a checksum can only be trusted by its shape). A field that breaks it, an unknown
# or repeated key, or a missing required key makes the whole line a decode problem.
_PERCENT_1 = r"(?:\d{2}\.\d|--\.-)%"  # SpCO, SpMet: 2.1 digits
_FIELD_SHAPES: dict[str, re.Pattern[str]] = {
    key: re.compile(shape)
    for key, shape in {
        "SN": r"[0-9A-Z]{1,12}|-{1,12}",
        "SPO2": r"\d{3}%|---%",
        "BPM": r"\d{3}|---",
        "PI": r"\d{2}\.\d{2}%|--\.--%",
        "SPCO": _PERCENT_1,
        "SPMET": _PERCENT_1,
        "SPHB": r"\d{2}\.\d|--\.-",  # Radical-7 with rainbow sensors (g/dl)
        "SPOC": r"\d{2}\.\d|--\.-",
        "PVI": r"\d{3}|---",  # Radical-7
        "DESAT": r"\d{2}|--",
        "PIDELTA": r"[+-](?:\d{2}|--)",
        "ALARM": r"[0-9A-F]{4}|[0-9A-F]{2}",  # Rad-8 / Radical-7: 4 digits; Radical-5: 2
        "EXC": r"[0-9A-F]{6}|[0-9A-F]{3}",  # Rad-8 / Radical-7: 6 digits; Radical-5: 3
    }.items()
}
REQUIRED_KEYS = frozenset({"SPO2", "BPM", "PI", "ALARM", "EXC"})
# Radical-5 lines pair 2-digit ALARM with 3-digit EXC; the newer models 4 with 6.
_WIDTH_PAIRS = {(2, 3), (4, 6)}


class _BadLine(ValueError):
    """A line that cannot be trusted; the message says why."""


@dataclass(frozen=True, slots=True)
class Line:
    """The fields of one line that passed the grammar."""

    device_time: float | None
    values: dict[str, float | None]
    """SPO2, BPM, PI: None where the device sent dashes."""
    alarm: int
    exc: int


def parse_line(text: str) -> Line:
    """One line (without its line end) read by the strict grammar; raises _BadLine."""
    device_time = None
    if text[:1].isdigit():
        device_time = _parse_time(text[:_TIMESTAMP_LENGTH])
        text = text[_TIMESTAMP_LENGTH:]
        if text[:1] != " ":
            raise _BadLine("no space after the timestamp")
    fields: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        shape = _FIELD_SHAPES.get(key)
        if not sep or shape is None:
            raise _BadLine(f"unknown field {token[:20]!r}")
        if key in fields:
            raise _BadLine(f"{key} appears twice")
        if not shape.fullmatch(value):
            raise _BadLine(f"{key}={value[:20]!r} does not have the field's shape")
        fields[key] = value
    missing = REQUIRED_KEYS - fields.keys()
    if missing:
        raise _BadLine(f"no {', '.join(sorted(missing))} field")
    alarm, exc = fields["ALARM"], fields["EXC"]
    if (len(alarm), len(exc)) not in _WIDTH_PAIRS:
        raise _BadLine(f"ALARM={alarm} and EXC={exc} are of different models")
    values = {key: _number(fields[key]) for key in ("SPO2", "BPM", "PI")}
    return Line(device_time, values, int(alarm, 16), int(exc, 16))


def _number(text: str) -> float | None:
    text = text.removesuffix("%")
    return None if text[0] == "-" else float(text)


def _parse_time(text: str) -> float:
    """MM/DD/YY HH:MM:SS read as UTC (the device clock has no zone)."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise _BadLine("garbled timestamp")
    month, day, year, hour, minute, second = (int(g) for g in match.groups())
    year += 1900 if year >= 69 else 2000  # the POSIX %y pivot: 69-99 -> 1969-1999
    try:
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise _BadLine("impossible date or time") from None
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
