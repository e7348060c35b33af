"""The Masimo decoder: CR/LF-terminated ASCII 1 lines in, samples and sensor conditions out."""

from __future__ import annotations

import re
from dataclasses import replace

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
    NO_READING_WORDS,
    NO_VALUE,
    SENSOR_WORDS,
)
from devices.masimo.lines import _BadLine, _conditions, parse_line
from katmonitor.base.plausibility import INVALID, implausibility

_LINE_END = re.compile(rb"[\r\n]")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


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
        if not raw.isascii() or _CONTROL.search(raw):
            raise _BadLine("non-ASCII or control bytes")
        line = parse_line(raw.decode("ascii"))
        device_time = line.device_time
        self._alarm_conditions = _conditions(line.alarm, ALARM_CONDITIONS)
        self._exc_conditions = _conditions(line.exc, EXC_CONDITIONS)
        conditions = frozenset(self._alarm_conditions | self._exc_conditions)
        if conditions != self._reported:
            self._reported = conditions
            events.append(DecodedStatus(conditions, device_time=device_time, offset=offset))
        # The line's own values carry its sensor state; with no sensor on a finger a number
        # is not a reading (it may be held), so it goes without its value.
        sensor = frozenset(self._exc_conditions & SENSOR_WORDS)
        no_reading = bool(sensor & NO_READING_WORDS)
        samples = []
        for key, kind in FIELD_KINDS.items():
            value = line.values[key]
            if value is None or no_reading:
                samples.append(DecodedSample(kind, None, NO_VALUE | sensor, device_time, offset))
            else:
                samples.append(DecodedSample(kind, value, sensor, device_time, offset))
        why = [w for s in samples if (w := implausibility(s.kind, s.value, self.protocol))]
        if why:
            # One impossible number means the line was damaged: none of its numbers is trusted.
            events.append(DecodeProblem(offset, "; ".join(why), len(raw)))
            samples = [replace(s, value=None, status=s.status | {INVALID}) for s in samples]
        events += samples
