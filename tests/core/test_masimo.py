"""Masimo ASCII 1: the decoder against the published line shapes, the encoder and the emulator."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.codec import DecodedEvent, DecodedSample, DecodedStatus, DecodeProblem
from devices.masimo import (
    MAX_LINE,
    SERIAL_SETTINGS,
    MasimoDecoder,
    MasimoEmulator,
    format_ascii1_line,
)
from devices.simulated import VitalsModel
from katmonitor.base.vitals import VitalKind

# Line shapes from the Rad-8 operator's manual, as restated in docs protocols.md section 3.
RAD8 = (
    b"02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-% "
    b"DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800\r\n"
)
RADICAL5 = b"SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800\r\n"
RAD8_TIME = datetime(2016, 2, 22, 22, 47, 45, tzinfo=UTC).timestamp()


def samples(events: list[DecodedEvent]) -> dict[VitalKind, DecodedSample]:
    return {e.kind: e for e in events if isinstance(e, DecodedSample)}


def statuses(events: list[DecodedEvent]) -> list[DecodedStatus]:
    return [e for e in events if isinstance(e, DecodedStatus)]


def problems(events: list[DecodedEvent]) -> list[DecodeProblem]:
    return [e for e in events if isinstance(e, DecodeProblem)]


def test_serial_settings_are_9600_8n1_without_handshake() -> None:
    assert SERIAL_SETTINGS == {
        "baudrate": 9600,
        "bytesize": 8,
        "parity": "N",
        "stopbits": 1,
        "rtscts": False,
    }


def test_rad8_example_line_decodes_values_time_and_conditions() -> None:
    decoder = MasimoDecoder()
    events = decoder.feed(RAD8)
    got = samples(events)
    assert got[VitalKind.SPO2].value == 98
    assert got[VitalKind.PULSE_RATE].value == 97
    assert got[VitalKind.PERFUSION_INDEX].value == 3.6
    assert set(got) == {VitalKind.SPO2, VitalKind.PULSE_RATE, VitalKind.PERFUSION_INDEX}
    assert all(s.device_time == RAD8_TIME and s.offset == 0 for s in got.values())
    assert all(s.status == frozenset() for s in got.values())
    # First line always reports the conditions; EXC 0x800 ("Masimo SET") is not a fault.
    assert statuses(events) == [DecodedStatus(frozenset(), device_time=RAD8_TIME, offset=0)]
    assert decoder.counters.good == 1 and decoder.counters.bad == 0
    assert decoder.offset == len(RAD8)


def test_radical5_short_line_has_no_time_and_reports_silenced_alarm() -> None:
    decoder = MasimoDecoder()
    events = decoder.feed(RAD8 + RADICAL5)
    second = [e for e in events if getattr(e, "offset", 0) == len(RAD8)]
    got = samples(second)
    assert got[VitalKind.SPO2].value == 97
    assert got[VitalKind.PULSE_RATE].value == 64
    assert got[VitalKind.PERFUSION_INDEX].value == 11.82
    assert all(s.device_time is None for s in got.values())
    assert statuses(second) == [DecodedStatus(frozenset({"alarm_silenced"}), offset=len(RAD8))]


def test_radical7_line_with_pvi_and_reordered_missing_fields() -> None:
    decoder = MasimoDecoder()
    line = b"01/02/24 03:04:05 PVI=012 BPM=071 SN=1 PI=--.--% EXC=000800 SPO2=099% ALARM=0000\r\n"
    got = samples(decoder.feed(line))
    assert got[VitalKind.PERFUSION_INDEX].value is None
    assert got[VitalKind.SPO2].value == 99
    assert got[VitalKind.PULSE_RATE].value == 71
    assert got[VitalKind.SPO2].device_time == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()


def test_dash_filled_fields_have_no_value() -> None:
    decoder = MasimoDecoder()
    line = b"02/22/16 22:47:45 SN=1 SPO2=---% BPM=--- PI=--.--% ALARM=0000 EXC=000820\r\n"
    events = decoder.feed(line)
    got = samples(events)
    for kind in (VitalKind.SPO2, VitalKind.PULSE_RATE, VitalKind.PERFUSION_INDEX):
        assert got[kind].value is None
        assert got[kind].status == frozenset({"no_value", "sensor_off"})
    assert statuses(events)[0].conditions == {"sensor_off"}
    assert decoder.counters.good == 1


def test_exc_and_alarm_bits_map_to_conditions_and_changes_are_reported() -> None:
    decoder = MasimoDecoder()
    base = "SPO2=098% BPM=070 PI=02.00% ALARM={alarm} EXC={exc}\r\n"

    def feed(alarm: int, exc: int) -> list[DecodedStatus]:
        return statuses(decoder.feed(base.format(alarm=f"{alarm:04X}", exc=f"{exc:06X}").encode()))

    assert [s.conditions for s in feed(0, 0x800)] == [frozenset()]
    assert feed(0, 0x800) == []  # unchanged: nothing new
    every_exc = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x400 | 0x1000 | 0x800
    assert [s.conditions for s in feed(0x0020 | 0x0040 | 0x0001 | 0x0010, every_exc)] == [
        {
            "alarm_silenced",
            "low_battery",
            "no_sensor",
            "defective_sensor",
            "low_perfusion",
            "pulse_search",
            "interference",
            "sensor_off",
            "ambient_light",
            "unrecognized_sensor",
            "low_signal_iq",
            "no_cable",
        }
    ]
    assert [s.conditions for s in feed(0, 0x1000)] == [{"no_cable"}]
    assert [s.conditions for s in feed(0, 0x800)] == [frozenset()]


def test_bare_lf_and_bare_cr_line_ends_are_accepted() -> None:
    decoder = MasimoDecoder()
    line = "SPO2=09{}% BPM=--- PI=--.--% ALARM=20 EXC=800"
    events = decoder.feed(f"{line.format(1)}\n{line.format(2)}\r{line.format(3)}\r\n\r\n".encode())
    events = [e for e in events if isinstance(e, DecodedSample) and e.kind is VitalKind.SPO2]
    assert [e.value for e in events if isinstance(e, DecodedSample)] == [91, 92, 93]
    assert decoder.counters.good == 3 and decoder.counters.bad == 0


def test_unparseable_lines_are_problems_at_their_offset() -> None:
    decoder = MasimoDecoder()
    bad_lines = [
        b"hello world\r\n",  # no KEY=value fields
        b"SPO2=09\xff% BPM=070\r\n",  # non-ASCII
        b"SPO2=0x8% BPM=070 PI=01.00% ALARM=0000 EXC=000800\r\n",  # garbled number
        b"SPO2=098% BPM=070 PI=01.00% ALARM=0000 EXC=0008G0\r\n",  # garbled hex
    ]
    stream = RAD8 + b"".join(bad_lines) + RAD8
    events = decoder.feed(stream)
    offsets = [len(RAD8)]
    for line in bad_lines[:-1]:
        offsets.append(offsets[-1] + len(line))
    assert [p.offset for p in problems(events)] == offsets
    assert decoder.counters.bad == 4 and decoder.counters.good == 2
    assert sum(isinstance(e, DecodedSample) for e in events) == 6


def test_overlong_line_is_a_problem_and_the_next_line_decodes() -> None:
    decoder = MasimoDecoder()
    junk = b"X" * (MAX_LINE + 100)
    events = decoder.feed(junk[:300]) + decoder.feed(junk[300:] + b"\r\n" + RADICAL5)
    assert problems(events) == [DecodeProblem(0, f"no line end within {MAX_LINE} bytes", 513)]
    assert samples(events)[VitalKind.SPO2].offset == len(junk) + 2
    assert decoder.counters.bad == 1 and decoder.counters.good == 1


def test_encoder_reproduces_the_published_line_exactly() -> None:
    values = {VitalKind.SPO2: 98.0, VitalKind.PULSE_RATE: 97.0, VitalKind.PERFUSION_INDEX: 3.6}
    assert format_ascii1_line(RAD8_TIME, values) == RAD8


# Two-digit years are read with the POSIX pivot (00-68 -> 2000-2068).
Y2000 = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
Y2069 = int(datetime(2069, 1, 1, tzinfo=UTC).timestamp())


@given(
    st.integers(Y2000, Y2069 - 1),
    st.one_of(st.none(), st.integers(1, 100)),  # the Rad-8's measurement ranges
    st.one_of(st.none(), st.integers(25, 240)),
    st.one_of(st.none(), st.integers(2, 2000).map(lambda v: v / 100)),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFF),
)
def test_encoder_round_trip(
    t: int, spo2: int | None, bpm: int | None, pi: float | None, alarm: int, exc: int
) -> None:
    values: dict[VitalKind, float | None] = {
        VitalKind.SPO2: spo2,
        VitalKind.PULSE_RATE: bpm,
        VitalKind.PERFUSION_INDEX: pi,
    }
    events = MasimoDecoder().feed(format_ascii1_line(float(t), values, alarm=alarm, exc=exc))
    got = samples(events)
    sensor_on = not exc & 0x10A3  # no sensor, defective, off, unrecognised, no cable
    for kind, value in values.items():
        assert got[kind].value == (value if sensor_on else None)
        assert got[kind].device_time == t
    assert ("sensor_off" in statuses(events)[0].conditions) == bool(exc & 0x20)
    assert ("low_battery" in statuses(events)[0].conditions) == bool(alarm & 0x40)


STREAM = (
    RAD8
    + RADICAL5
    + b"garbage\r\n"
    + b"02/22/16 22:47:46 SPO2=---% BPM=--- PI=--.--% ALARM=0000 EXC=000821\n"
    + RAD8
)


@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_chunking_anywhere_gives_identical_events(cuts: list[int]) -> None:
    whole = MasimoDecoder().feed(STREAM)
    decoder = MasimoDecoder()
    pieces: list[DecodedEvent] = []
    bounds = [0, *sorted(cuts), len(STREAM)]
    for start, end in itertools.pairwise(bounds):
        pieces += decoder.feed(STREAM[start:end])
    assert pieces == whole
    assert decoder.offset == len(STREAM)


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=700), max_size=6))
def test_random_bytes_never_raise(chunks: list[bytes]) -> None:
    decoder = MasimoDecoder()
    for chunk in chunks:
        for event in decoder.feed(chunk):
            assert isinstance(event, DecodedSample | DecodedStatus | DecodeProblem)
    assert decoder.offset == sum(map(len, chunks))


@given(st.lists(st.sampled_from([b"SPO2=", b"9", b"-", b"%", b" ", b"\r", b"\n", b"EXC=", b"F"])))
def test_near_miss_text_never_raises(parts: list[bytes]) -> None:
    MasimoDecoder().feed(b"".join(parts))


def test_emulator_sends_one_line_per_second_that_decodes_to_the_model() -> None:
    start = 1_700_000_000.0
    emulator = MasimoEmulator(VitalsModel("normal", seed=2), start)
    expected = VitalsModel("normal", seed=2)
    decoder = MasimoDecoder()
    data = emulator.advance(start) + emulator.advance(start + 2.5)
    assert data.count(b"\r\n") == 3  # t = 0, 1, 2
    events = decoder.feed(data)
    spo2 = [e for e in events if isinstance(e, DecodedSample) and e.kind is VitalKind.SPO2]
    assert [e.device_time for e in spo2] == [start, start + 1, start + 2]
    assert [e.value for e in spo2] == [
        expected.numerics(float(t))[VitalKind.SPO2] for t in range(3)
    ]
    assert emulator.advance(start + 2.9) == b""


def test_emulator_sensor_off_sends_dashes_and_the_sensor_off_bit() -> None:
    start = 1_700_000_000.0
    emulator = MasimoEmulator(VitalsModel("normal"), start)
    decoder = MasimoDecoder()
    decoder.feed(emulator.advance(start))
    emulator.state.sensor_off = True
    events = decoder.feed(emulator.advance(start + 1))
    assert statuses(events)[0].conditions == {"sensor_off"}
    assert all(
        s.value is None and s.status == {"no_value", "sensor_off"} for s in samples(events).values()
    )
    assert len(samples(events)) == 3


# Damaged copies of the Rad-8 line: with no checksum, only the line's shape can reveal them.
DAMAGED = [
    RAD8.replace(b"SPO2=098%", b"SPO2=08%"),  # a lost byte
    RAD8.replace(b"BPM=097", b"BPM=0973"),  # a byte too many
    RAD8.replace(b"SPO2=098%", b"SPO2=098 "),  # bit flip % -> space (0x25 -> 0x20 + 0x05)
    RAD8.replace(b"PI=03.60%", b"PI=03.6%"),  # lost digit
    RAD8.replace(b"SN=", b"SM="),  # unknown key
    RAD8.replace(b"02/22/16", b"02/32/16"),  # impossible date
    RAD8.replace(b"ALARM=0000", b"ALARM=00"),  # widths of two different models
    RAD8.replace(b" EXC=000800", b""),  # required field lost
    RAD8.replace(b"SPO2=098% ", b"SPO2=098% SPO2=098% "),  # repeated key
]


def test_damaged_lines_are_problems_never_values() -> None:
    decoder = MasimoDecoder()
    for line in DAMAGED:
        events = decoder.feed(line)
        assert [e for e in events if isinstance(e, DecodedSample)] == [], line
        assert len(problems(events)) == 1, line
    assert decoder.counters.bad == len(DAMAGED) and decoder.counters.good == 0


def test_impossible_number_makes_the_whole_line_invalid() -> None:
    decoder = MasimoDecoder()
    events = decoder.feed(RAD8.replace(b"BPM=097", b"BPM=873"))
    assert "pulse_rate 873 outside the plausible range 25-240" in problems(events)[0].message
    assert all(s.value is None and "invalid" in s.status for s in samples(events).values())
    events = decoder.feed(RAD8.replace(b"SPO2=098%", b"SPO2=000%"))  # Masimo: SpO2 1-100 %
    assert samples(events)[VitalKind.SPO2].status == {"invalid"}


def test_sensor_off_and_pulse_search_are_statuses_of_the_lines_values() -> None:
    decoder = MasimoDecoder()
    off = samples(decoder.feed(RAD8.replace(b"EXC=000800", b"EXC=000820")))
    assert all(s.value is None and s.status == {"no_value", "sensor_off"} for s in off.values())
    searching = samples(decoder.feed(RAD8.replace(b"EXC=000800", b"EXC=000808")))
    assert searching[VitalKind.SPO2].value == 98
    assert searching[VitalKind.SPO2].status == {"pulse_search"}


def test_radical7_full_line_with_pvi_and_sphb_decodes() -> None:
    line = (
        b"12/06/13 14:53:17 SN=0000063012 SPO2=097% BPM=061 PI=02.10% SPCO=--.-% SPMET=01.2% "
        b"SPHB=13.4 DESAT=-- PIDELTA=+-- PVI=014 ALARM=0000 EXC=000800\r\n"
    )
    got = samples(MasimoDecoder().feed(line))
    assert (got[VitalKind.SPO2].value, got[VitalKind.PULSE_RATE].value) == (97, 61)
