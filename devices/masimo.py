"""Masimo Rad-8 / Radical-7 serial "ASCII 1": decoder, line encoder and emulator.

The oximeter streams one text line per second, CR LF terminated, at 9600 8N1 (Rad-8 operator's
manual; see docs protocols.md section 3)::

    02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-%
        DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800          (one line, wrapped here)

Models differ in which fields they send (Radical-7 adds ``PVI=``; older Radical-5 lines are
``SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800`` without a timestamp), so fields are read by key.
A field filled with '-' has no value. ``ALARM`` and ``EXC`` are hex bit sets.

The device clock carries no time zone: its timestamp is read as if it were UTC. The driver layer
compares device time with arrival time and handles the offset, so the zone never matters here.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from devices.codec import (
    SERIAL_9600_8N1,
    DecodedEvent,
    DecodedSample,
    DecodedStatus,
    DecodeProblem,
    Decoder,
    Emulator,
)
from katmonitor.base.vitals import VitalKind

if TYPE_CHECKING:
    from devices.simulated import VitalsModel

SERIAL_SETTINGS: dict[str, object] = dict(SERIAL_9600_8N1)  # Masimo: no flow control

MAX_LINE = 512
"""Longest line accepted; real lines are ~130 bytes, so more means a lost line end or noise."""

# Fields emitted as samples, in output order.
FIELD_KINDS: dict[str, VitalKind] = {
    "SPO2": VitalKind.SPO2,
    "BPM": VitalKind.PULSE_RATE,
    "PI": VitalKind.PERFUSION_INDEX,
}

# ALARM bits that describe the device rather than the client. The SpO2/PR limit bits (0x01-0x10)
# are the oximeter's own alarms; KAT Monitor applies its own limits, so they are not mapped.
ALARM_CONDITIONS: dict[int, str] = {
    0x0020: "alarm_silenced",
    0x0040: "low_battery",
}

# EXC bits. 0x800 ("Masimo SET") is informational, not a fault, so it maps to nothing.
EXC_CONDITIONS: dict[int, str] = {
    0x000001: "no_sensor",
    0x000002: "defective_sensor",
    0x000004: "low_perfusion",
    0x000008: "pulse_search",
    0x000010: "interference",
    0x000020: "sensor_off",
    0x000040: "ambient_light",
    0x000080: "unrecognized_sensor",
    0x000400: "low_signal_iq",
    0x001000: "no_cable",
}
EXC_SENSOR_OFF = 0x000020
EXC_MASIMO_SET = 0x000800

NO_VALUE = frozenset({"no_value"})

_LINE_END = re.compile(rb"[\r\n]")
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


class MasimoDecoder(Decoder):
    """ASCII 1 lines in, SpO2 / pulse rate / PI samples and sensor conditions out."""

    protocol = "masimo"

    def __init__(self) -> None:
        super().__init__()
        self._buf = bytearray()
        self._buf_offset = 0  # stream offset of _buf[0]
        self._discarding = False  # inside an overlong line: drop bytes until its end
        # Conditions from each field, kept separately so a line without EXC keeps the last EXC.
        self._alarm_conditions: set[str] = set()
        self._exc_conditions: set[str] = set()
        self._reported: frozenset[str] | None = None

    def feed(self, chunk: bytes) -> list[DecodedEvent]:
        self._buf += chunk
        self.offset += len(chunk)
        events: list[DecodedEvent] = []
        pos = 0
        while True:
            match = _LINE_END.search(self._buf, pos)
            if self._discarding:
                if match is None:
                    pos = len(self._buf)
                    break
                pos = match.end()
                self._discarding = False
                continue
            if match is None:
                if len(self._buf) - pos > MAX_LINE:
                    events.append(self._overlong(self._buf_offset + pos))
                    pos = len(self._buf)
                    self._discarding = True
                break
            start, end = pos, match.start()
            pos = match.end()
            if end - start > MAX_LINE:
                events.append(self._overlong(self._buf_offset + start))
            elif self._buf[start:end].strip():
                self._line(bytes(self._buf[start:end]), self._buf_offset + start, events)
        del self._buf[:pos]
        self._buf_offset += pos
        return events

    def _overlong(self, offset: int) -> DecodeProblem:
        self.counters.bad += 1
        return DecodeProblem(offset, f"no line end within {MAX_LINE} bytes", MAX_LINE + 1)

    def _line(self, raw: bytes, offset: int, events: list[DecodedEvent]) -> None:
        try:
            self._parse(raw, offset, events)
        except _BadLine as exc:
            self.counters.bad += 1
            events.append(DecodeProblem(offset, f"unreadable line: {exc}", len(raw)))
        else:
            self.counters.good += 1

    def _parse(self, raw: bytes, offset: int, events: list[DecodedEvent]) -> None:
        # All-or-nothing: a line without a checksum that is partly garbled is not trusted at all.
        if any(b >= 0x7F or (b < 0x20 and b != 0x09) for b in raw):
            raise _BadLine("non-ASCII or control bytes")
        text = raw.decode("ascii")
        fields = {key.upper(): value for key, value in _FIELD.findall(text)}
        if not fields:
            raise _BadLine("no KEY=value fields")
        values = {
            kind: _parse_value(key, fields[key])
            for key, kind in FIELD_KINDS.items()
            if key in fields
        }
        alarm = _parse_bits("ALARM", fields["ALARM"]) if "ALARM" in fields else None
        exc = _parse_bits("EXC", fields["EXC"]) if "EXC" in fields else None
        device_time = _parse_time(text)

        if alarm is not None:
            self._alarm_conditions = _conditions(alarm, ALARM_CONDITIONS)
        if exc is not None:
            self._exc_conditions = _conditions(exc, EXC_CONDITIONS)
        conditions = frozenset(self._alarm_conditions | self._exc_conditions)
        if conditions != self._reported:
            self._reported = conditions
            events.append(DecodedStatus(conditions, device_time=device_time, offset=offset))
        for kind, value in values.items():
            status = NO_VALUE if value is None else frozenset()
            events.append(DecodedSample(kind, value, status, device_time, offset))


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


class MasimoEmulator(Emulator):
    """A Rad-8 in ASCII 1 mode: one line per second of ``now``, from the simulator's model."""

    protocol = "masimo"

    def __init__(self, model: VitalsModel, start_time: float) -> None:
        super().__init__(model, start_time)
        self.model: VitalsModel = model
        self._lines_sent = 0

    def advance(self, now: float) -> bytes:
        out = bytearray()
        # Line n is due at start_time + n: count lines, never accumulate float seconds.
        while self.start_time + self._lines_sent <= now:
            elapsed = float(self._lines_sent)
            self._lines_sent += 1
            out += self._line(elapsed)
        return bytes(out)

    def _line(self, elapsed: float) -> bytes:
        numerics = self.model.numerics(elapsed)
        exc = EXC_MASIMO_SET
        values: dict[VitalKind, float | None] = {
            kind: numerics[kind] for kind in FIELD_KINDS.values()
        }
        if self.state.sensor_off:
            exc |= EXC_SENSOR_OFF
            values = dict.fromkeys(values)
        return format_ascii1_line(self.start_time + elapsed, values, exc=exc)
