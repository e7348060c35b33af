"""The Masimo decoder: CR/LF-terminated ASCII 1 lines in, samples and sensor conditions out."""

from __future__ import annotations

import re

from devices.codec import (
    DecodedEvent,
    DecodedSample,
    DecodedStatus,
    DecodeProblem,
    Decoder,
)
from devices.masimo.constants import (
    ALARM_CONDITIONS,
    EXC_CONDITIONS,
    FIELD_KINDS,
    MAX_LINE,
    NO_VALUE,
)
from devices.masimo.lines import (
    _FIELD,
    _BadLine,
    _conditions,
    _parse_bits,
    _parse_time,
    _parse_value,
)

_LINE_END = re.compile(rb"[\r\n]")


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
