"""Nonin DF2 / DF7 / DF8: published vectors, encoder round trips, resync and the emulator."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.codec import (
    DecodedEvent,
    DecodedSample,
    DecodedStatus,
    DecodedWaveform,
    DecodeProblem,
)
from devices.nonin import (
    ACK,
    NAK,
    SERIAL_SETTINGS,
    NoninDecoder,
    NoninEmulator,
    NoninReading,
    checksum,
    encode_df2_packet,
    encode_df7_packet,
    encode_df8_frame,
    format_select_command,
)
from devices.simulated import VitalsModel
from katmonitor.base.vitals import VitalKind

# Public DF2 vector: the 25-frame packet of pez-globo/pufferfish-software,
# firmware/.../Driver/Serial/Nonin/TestNoninOEM3.cpp ("Validate NoninOEM3 for valid packet
# data"), which decodes to HR 72 and SpO2 97. Frame by frame: HR MSB, HR LSB, SpO2, REV,
# 4 reserved, SpO2-D, SpO2 fast, SpO2 B-B, 2 reserved, E-HR MSB/LSB, E-SpO2, E-SpO2-D,
# 2 reserved, HR-D MSB/LSB, E-HR-D MSB/LSB, 2 reserved.
PUFFERFISH_PACKET = bytes.fromhex(
    "0181010083 01800148CA 01800161E3 01800130B2"
    "0180010082 0180010082 0180010082 0180010082"
    "01800161E3 01800161E3 01800161E3 0180010082 0180010082"
    "0180010082 01800148CA 01800161E3 01800161E3 0180010082 0180010082"
    "0180010082 01800148CA 0180010082 01800148CA 0180010082 0180010082"
)

# A DF2 capture listed in mattjlewis/NoninPulseOx, DataFormat2FrameSerialiser.java (a 9560):
# 4 frames ending a packet, a whole packet from the SYNC frame (status 81), and the next SYNC.
MATTJLEWIS_CAPTURE = bytes.fromhex(
    "01804900CA 0180464A11 01804400C5 01804300C4 01814300C5 0180434A0E 0180436024"
    "0180439458 01804300C4 01804100C2 01803E17D6 01803C04C1 018039601A 0180366017"
    "0180356016 01803400B5 01803400B5 01803400B5 0180354A00 0180366017 0180376018"
    "01803A00BB 01804000C1 01804A00CB 0180574A22 01806900EA 01807C4A47 0180900011"
    "0180A10022 0181AF0031"
)

WAVE = list(range(10, 260, 10))  # 25 distinct points
READING = NoninReading(72, 97)


def samples(events: list[DecodedEvent], kind: VitalKind) -> list[DecodedSample]:
    return [e for e in events if isinstance(e, DecodedSample) and e.kind is kind]


def values(events: list[DecodedEvent], kind: VitalKind) -> list[float | None]:
    return [s.value for s in samples(events, kind)]


def waves(events: list[DecodedEvent]) -> list[DecodedWaveform]:
    return [e for e in events if isinstance(e, DecodedWaveform)]


def statuses(events: list[DecodedEvent]) -> list[frozenset[str]]:
    return [e.conditions for e in events if isinstance(e, DecodedStatus)]


def problems(events: list[DecodedEvent]) -> list[DecodeProblem]:
    return [e for e in events if isinstance(e, DecodeProblem)]


def comparable(events: list[DecodedEvent]) -> list[object]:
    """Events as comparable values (DecodedWaveform compares by identity)."""
    return [
        (e.kind, e.sample_rate_hz, e.values.tolist(), e.offset)
        if isinstance(e, DecodedWaveform)
        else e
        for e in events
    ]


def feed_in_pieces(decoder: NoninDecoder, data: bytes, cuts: list[int]) -> list[DecodedEvent]:
    bounds = [0, *sorted(cuts), len(data)]
    events: list[DecodedEvent] = []
    for start, end in itertools.pairwise(bounds):
        events += decoder.feed(data[start:end])
    return events


# -- the basics ------------------------------------------------------------------------------


def test_serial_settings_and_format_select_command() -> None:
    assert SERIAL_SETTINGS["baudrate"] == 9600
    assert (SERIAL_SETTINGS["bytesize"], SERIAL_SETTINGS["parity"]) == (8, "N")
    assert SERIAL_SETTINGS["stopbits"] == 1 and SERIAL_SETTINGS["rtscts"] is False
    assert format_select_command(2) == bytes.fromhex("027002020203")
    assert format_select_command(7) == bytes.fromhex("027002020703")
    assert format_select_command(8) == bytes.fromhex("027002020803")
    assert format_select_command(13) == bytes.fromhex("027002020D03")
    with pytest.raises(ValueError):
        format_select_command(3)
    for fmt, code in (("df2", 2), ("df7", 7), ("df8", 8)):
        decoder = NoninDecoder(fmt)
        assert decoder.protocol == f"nonin-{fmt}"
        assert decoder.requests_on_connect() == format_select_command(code)
    with pytest.raises(ValueError):
        NoninDecoder("df13")


def test_checksum_is_the_sum_of_the_first_four_bytes_mod_256() -> None:
    assert checksum(bytes.fromhex("01810100")) == 0x83
    assert checksum(bytes.fromhex("01800148")) == 0xCA
    assert checksum([0xFF, 0xFF, 0xFF, 0xFF]) == 0xFC
    frames = [PUFFERFISH_PACKET[i : i + 5] for i in range(0, 125, 5)]
    assert all(checksum(f[:4]) == f[4] for f in frames)


def test_public_df2_vector_decodes_to_hr_72_spo2_97() -> None:
    decoder = NoninDecoder("df2")
    events = decoder.feed(PUFFERFISH_PACKET)
    assert values(events, VitalKind.PULSE_RATE) == [72]
    assert values(events, VitalKind.SPO2) == [97]
    assert samples(events, VitalKind.PULSE_RATE)[0].offset == 0  # frame 1 carries HR MSB
    assert samples(events, VitalKind.SPO2)[0].offset == 10  # frame 3 carries SpO2
    assert statuses(events) == [frozenset()]
    [wave] = waves(events)
    assert wave.sample_rate_hz == 75.0 and wave.values.dtype == np.float32
    assert wave.values.tolist() == [1.0] * 25
    assert decoder.counters.good == 25 and decoder.counters.bad == 0
    assert problems(events) == []


def test_published_df2_capture_starting_mid_packet() -> None:
    decoder = NoninDecoder("df2")
    events = decoder.feed(MATTJLEWIS_CAPTURE)
    assert problems(events) == []  # frames before the first SYNC are skipped quietly
    assert values(events, VitalKind.PULSE_RATE) == [74]
    assert values(events, VitalKind.SPO2) == [96]
    [wave] = waves(events)
    assert wave.offset == 20
    assert wave.values[:6].tolist() == [0x43, 0x43, 0x43, 0x43, 0x43, 0x41]
    assert wave.values[-1] == 0xA1
    # Frame 8 (STAT2) is 0x04 there: bit 0 clear, so no low battery.
    assert statuses(events) == [frozenset()]


# -- encoders and round trips ----------------------------------------------------------------

readings = st.builds(
    NoninReading,
    hr=st.one_of(st.none(), st.integers(18, 321)),  # the documented range (9560: 18-321 bpm)
    spo2=st.one_of(st.none(), st.integers(0, 100)),
    sensor_alarm=st.booleans(),
    out_of_track=st.booleans(),
    artifact=st.booleans(),
    perfusion=st.sampled_from(["none", "green", "yellow", "red"]),
    low_battery=st.booleans(),
)


def expected_conditions(r: NoninReading) -> set[str]:
    """For packets whose every frame carries the same status (as the encoders send them)."""
    out = set()
    if r.sensor_alarm:
        out.add("sensor_off")
    else:  # the perfusion / artifact of the last pulse is held, and reset when the finger is out
        if r.artifact:
            out.add("artifact")
        if r.perfusion == "red":
            out.add("low_perfusion")
        if r.perfusion == "yellow":
            out.add("marginal_perfusion")
    if r.out_of_track:
        out.add("out_of_track")
    if r.low_battery:
        out.add("low_battery")
    return out


@given(readings, st.lists(st.integers(0, 255), min_size=25, max_size=25), st.integers(0, 0x3FFF))
def test_df2_round_trip(reading: NoninReading, pleth: list[int], timer: int) -> None:
    events = NoninDecoder("df2").feed(encode_df2_packet(reading, pleth, timer=timer))
    assert values(events, VitalKind.PULSE_RATE) == [reading.hr]
    assert values(events, VitalKind.SPO2) == [reading.spo2]
    [wave] = waves(events)
    assert wave.values.tolist() == pleth
    assert statuses(events) == [expected_conditions(reading)]


@given(readings, st.lists(st.integers(0, 0xFFFF), min_size=25, max_size=25))
def test_df7_round_trip(reading: NoninReading, pleth: list[int]) -> None:
    events = NoninDecoder("df7").feed(encode_df7_packet(reading, pleth))
    assert values(events, VitalKind.PULSE_RATE) == [reading.hr]
    assert values(events, VitalKind.SPO2) == [reading.spo2]
    [wave] = waves(events)
    assert wave.values.tolist() == pleth
    assert statuses(events) == [expected_conditions(reading)]


@given(readings)
def test_df8_round_trip(reading: NoninReading) -> None:
    frame = encode_df8_frame(reading)
    assert len(frame) == 4 and frame[0] & 0x80 and not any(b & 0x80 for b in frame[1:])
    events = NoninDecoder("df8").feed(frame)
    held = reading.sensor_alarm  # display values are not reported while the sensor alarm is on
    assert values(events, VitalKind.PULSE_RATE) == [None if held else reading.hr]
    assert values(events, VitalKind.SPO2) == [None if held else reading.spo2]
    conditions = {
        "sensor_off" if reading.sensor_alarm else "",
        "out_of_track" if reading.out_of_track else "",
        "artifact" if reading.artifact else "",
        "low_battery" if reading.low_battery else "",
        {"red": "low_perfusion", "yellow": "marginal_perfusion"}.get(reading.perfusion, ""),
    } - {""}
    assert statuses(events) == [conditions]
    assert waves(events) == []


def test_df8_published_bit_layout() -> None:
    # HR 300 = 0b1_0010_1100: bits 8-7 (0b10) in byte 1, bits 6-0 (0x2C) in byte 2.
    frame = bytes((0x80 | 0x20 | 0x02, 0x2C, 95, 0x01))
    events = NoninDecoder("df8").feed(frame)
    assert values(events, VitalKind.PULSE_RATE) == [300]
    assert values(events, VitalKind.SPO2) == [95]
    assert statuses(events) == [{"out_of_track", "low_battery"}]


def test_missing_values_511_and_127_have_no_value() -> None:
    for fmt, data in (
        ("df2", encode_df2_packet(NoninReading(None, None), WAVE)),
        ("df7", encode_df7_packet(NoninReading(None, None), WAVE)),
        ("df8", encode_df8_frame(NoninReading(None, None))),
    ):
        events = NoninDecoder(fmt).feed(data)
        for kind in (VitalKind.PULSE_RATE, VitalKind.SPO2):
            [sample] = samples(events, kind)
            assert sample.value is None and sample.status == {"no_value"}, fmt
    raw = encode_df8_frame(NoninReading(None, None))
    assert ((raw[0] & 0x03) << 7 | raw[1], raw[2]) == (511, 127)


def test_status_bits_of_hand_built_df2_frames() -> None:
    def packet(status: int, stat2: int = 0) -> bytes:
        out = bytearray()
        for slot in range(25):
            value = {0: 0, 1: 72, 2: 97, 7: stat2}.get(slot, 0)
            body = (0x01, status | (1 if slot == 0 else 0), 50, value)
            out += bytes((*body, checksum(body)))
        return bytes(out)

    decoder = NoninDecoder("df2")
    assert statuses(decoder.feed(packet(0x80 | 0x02))) == [frozenset()]  # green: all well
    assert statuses(decoder.feed(packet(0x80 | 0x04))) == [{"low_perfusion"}]  # red
    assert statuses(decoder.feed(packet(0x80 | 0x06))) == [{"marginal_perfusion"}]  # yellow
    # Between pulses (no perfusion bits) the last pulse's perfusion is held: no flicker.
    assert statuses(decoder.feed(packet(0x80))) == []
    assert statuses(decoder.feed(packet(0x80 | 0x02 | 0x20))) == [{"artifact"}]
    assert statuses(decoder.feed(packet(0x80 | 0x10 | 0x02))) == [{"out_of_track"}]
    assert statuses(decoder.feed(packet(0x80 | 0x08))) == [{"sensor_off"}]
    assert statuses(decoder.feed(packet(0x80 | 0x02, stat2=0x01))) == [{"low_battery"}]
    assert statuses(decoder.feed(packet(0x80 | 0x02))) == [frozenset()]


# -- corruption, resync and chunking ---------------------------------------------------------


def three_packets(fmt: str) -> bytes:
    readings = [NoninReading(70, 98), NoninReading(71, 97), NoninReading(72, 96)]
    if fmt == "df2":
        return b"".join(encode_df2_packet(r, WAVE, timer=i) for i, r in enumerate(readings))
    if fmt == "df7":
        wave = [w * 200 for w in WAVE]
        return b"".join(encode_df7_packet(r, wave, timer=i) for i, r in enumerate(readings))
    return b"".join(encode_df8_frame(r) for r in readings)


@pytest.mark.parametrize("fmt", ["df2", "df7"])
@pytest.mark.parametrize("byte_in_frame", range(5))
def test_corrupt_spo2_frame_yields_no_spo2_and_a_problem_at_its_offset(
    fmt: str, byte_in_frame: int
) -> None:
    data = bytearray(three_packets(fmt))
    spo2_frame = 125 + 2 * 5  # second packet, frame 3
    data[spo2_frame + byte_in_frame] ^= 0x10
    decoder = NoninDecoder(fmt)
    events = decoder.feed(bytes(data))
    assert [p.offset for p in problems(events)] == [spo2_frame]
    assert values(events, VitalKind.SPO2) == [98, 96]  # nothing from the second packet
    assert values(events, VitalKind.PULSE_RATE) == [70, 71, 72]  # its HR frames were fine
    assert len(waves(events)) == 2  # no pleth from a packet with a hole in it
    assert decoder.counters.bad == 1 and decoder.counters.good == 74


@pytest.mark.parametrize("fmt", ["df2", "df7"])
def test_dropped_byte_loses_only_that_packet(fmt: str) -> None:
    data = bytearray(three_packets(fmt))
    del data[125 + 42]  # inside the second packet
    events = NoninDecoder(fmt).feed(bytes(data))
    assert values(events, VitalKind.SPO2) == [98, 96]
    assert len(waves(events)) == 2
    assert problems(events)


@pytest.mark.parametrize("fmt", ["df2", "df7", "df8"])
@given(garbage=st.binary(max_size=300))
def test_valid_packets_after_garbage_decode(fmt: str, garbage: bytes) -> None:
    data = three_packets(fmt)
    events = NoninDecoder(fmt).feed(garbage + data + data + data)
    # Garbage may swallow at most the first packet (e.g. when it ends like a frame prefix);
    # DF8 trusts values again from the third good frame after it.
    spo2 = values(events, VitalKind.SPO2)
    assert spo2[-5:] == [97, 96, 98, 97, 96]


@pytest.mark.parametrize("fmt", ["df2", "df7", "df8"])
@given(cuts=st.lists(st.integers(0, 400), max_size=15), noise=st.binary(max_size=20))
def test_chunking_anywhere_gives_identical_events(fmt: str, cuts: list[int], noise: bytes) -> None:
    data = noise + three_packets(fmt)[7:] + noise + three_packets(fmt)
    cuts = [c for c in cuts if c <= len(data)]
    whole = NoninDecoder(fmt).feed(data)
    decoder = NoninDecoder(fmt)
    assert comparable(feed_in_pieces(decoder, data, cuts)) == comparable(whole)
    assert decoder.offset == len(data)


@settings(max_examples=150)
@pytest.mark.parametrize("fmt", ["df2", "df7"])
@given(
    flips=st.lists(st.tuples(st.integers(0, 374), st.integers(1, 255)), max_size=6),
    truncate=st.integers(0, 375),
)
def test_bit_flips_and_truncation_never_raise_nor_yield_values_from_bad_frames(
    fmt: str, flips: list[tuple[int, int]], truncate: int
) -> None:
    data = bytearray(three_packets(fmt))
    for position, mask in flips:
        data[position] ^= mask
    data = data[: len(data) - truncate]
    events = NoninDecoder(fmt).feed(bytes(data))
    original = three_packets(fmt)

    def intact(offset: int) -> bool:
        """The frame at ``offset`` passes the checks (two flips may cancel in the checksum)."""
        frame = data[offset : offset + 5]
        status = frame[1] if fmt == "df2" else frame[0]
        lead_ok = frame[0] == 0x01 if fmt == "df2" else True
        return (
            len(frame) == 5 and checksum(frame[:4]) == frame[4] and bool(status & 0x80) and lead_ok
        )

    for sample in samples(events, VitalKind.SPO2):
        # Every SpO2 comes from frame 3 of a packet that passed its checks.
        assert sample.offset % 125 == 10 and intact(sample.offset)
        if data[sample.offset : sample.offset + 5] == original[sample.offset : sample.offset + 5]:
            assert sample.value == original[sample.offset + 3]
    for sample in samples(events, VitalKind.PULSE_RATE):
        assert sample.offset % 125 == 0
        assert intact(sample.offset) and intact(sample.offset + 5)


@settings(max_examples=200)
@pytest.mark.parametrize("fmt", ["df2", "df7", "df8"])
@given(chunks=st.lists(st.binary(max_size=200), max_size=5))
def test_random_noise_never_raises(fmt: str, chunks: list[bytes]) -> None:
    decoder = NoninDecoder(fmt)
    for chunk in chunks:
        for event in decoder.feed(chunk):
            if isinstance(event, DecodedSample) and event.value is not None:
                assert 0 <= event.value <= 510
    assert decoder.offset == sum(map(len, chunks))


# -- format-select replies and the emulator ----------------------------------------------------


def test_decoder_takes_ack_silently_and_reports_nak() -> None:
    packet = encode_df2_packet(READING, WAVE)
    events = NoninDecoder("df2").feed(bytes([ACK]) + packet)
    assert problems(events) == [] and values(events, VitalKind.SPO2) == [97]
    # An ACK arriving between frames of a stream already in the right format keeps the lock.
    events = NoninDecoder("df2").feed(packet[:60] + bytes([ACK]) + packet[60:])
    assert problems(events) == [] and values(events, VitalKind.SPO2) == [97]
    events = NoninDecoder("df8").feed(bytes([NAK]) + encode_df8_frame(READING))
    [problem] = problems(events)
    assert problem.offset == 0 and "NAK" in problem.message
    assert values(events, VitalKind.SPO2) == [97]


def test_decoder_reports_a_stream_in_another_format() -> None:
    decoder = NoninDecoder("df2")
    events = decoder.feed(b"".join(encode_df8_frame(READING) for _ in range(100)))
    assert problems(events) and decoder.counters.bad >= 2
    assert values(events, VitalKind.SPO2) == []


START = 1_700_000_000.0


@pytest.mark.parametrize("fmt", ["df2", "df7"])
def test_emulator_streams_packets_at_75_hz_from_the_model(fmt: str) -> None:
    emulator = NoninEmulator(VitalsModel("normal", seed=4), START, fmt)
    expected = VitalsModel("normal", seed=4).numerics(0.0)
    data = emulator.advance(START) + emulator.advance(START + 0.99)
    assert len(data) == 3 * 125  # packets at 0, 1/3, 2/3 s
    decoder = NoninDecoder(fmt)
    events = decoder.feed(data)
    assert values(events, VitalKind.PULSE_RATE) == [expected[VitalKind.PULSE_RATE]] * 3
    assert values(events, VitalKind.SPO2) == [expected[VitalKind.SPO2]] * 3
    pleth = np.concatenate([w.values for w in waves(events)])
    assert len(pleth) == 75 and pleth.max() > pleth.min()
    assert decoder.counters.bad == 0 and problems(events) == []
    assert len(emulator.advance(START + 1.0)) == 125


def test_emulator_df8_sends_a_frame_per_second() -> None:
    emulator = NoninEmulator(VitalsModel("normal"), START, "df8")
    data = emulator.advance(START + 2.5)
    assert len(data) == 12
    events = NoninDecoder("df8").feed(data)
    assert len(values(events, VitalKind.SPO2)) == 3


def test_emulator_sensor_off_sends_alarm_and_missing_values() -> None:
    emulator = NoninEmulator(VitalsModel("normal"), START, "df2")
    decoder = NoninDecoder("df2")
    decoder.feed(emulator.advance(START))
    emulator.state.sensor_off = True
    events = decoder.feed(emulator.advance(START + 0.34))
    assert statuses(events) == [{"sensor_off"}]
    assert values(events, VitalKind.PULSE_RATE) == [None]
    assert values(events, VitalKind.SPO2) == [None]


def test_emulator_acks_format_select_and_switches_format() -> None:
    emulator = NoninEmulator(VitalsModel("normal"), START, "df8")
    decoder = NoninDecoder("df2")
    stream = bytearray(emulator.advance(START + 1.2))  # DF8 frames at 0 and 1 s
    stream += emulator.receive(decoder.requests_on_connect(), START + 1.2)
    assert stream[-1] == ACK and emulator.protocol == "nonin-df2"
    stream += emulator.advance(START + 2.9)  # DF2 from the next due time (2 s): 3 packets
    events = decoder.feed(bytes(stream))
    assert len(values(events, VitalKind.SPO2)) == 3
    assert len(waves(events)) == 3


def test_emulator_naks_unknown_formats_and_other_commands() -> None:
    emulator = NoninEmulator(VitalsModel("normal"), START, "df2")
    assert emulator.receive(format_select_command(13), START) == bytes([NAK])
    assert emulator.receive(bytes.fromhex("0270020203"), START) == b""  # incomplete: waits
    assert emulator.receive(bytes.fromhex("03"), START) == bytes([NAK])  # format 3
    assert emulator.receive(bytes.fromhex("027202020203"), START) == bytes([NAK])  # other op
    assert emulator.protocol == "nonin-df2"
    # Split anywhere, the command still gets its ACK.
    command = format_select_command(7)
    assert emulator.receive(command[:2], START) + emulator.receive(command[2:], START) == bytes(
        [ACK]
    )
    assert emulator.protocol == "nonin-df7"
    no_etx = NoninEmulator(VitalsModel("normal"), START, "df2")
    assert no_etx.receive(bytes.fromhex("027002020704"), START) == bytes([NAK])
    assert no_etx.protocol == "nonin-df2"


# -- strict decoding: reserved bits, documented ranges, DF8 runs ------------------------------


def test_df8_frames_with_reserved_bits_set_are_skipped_not_decoded() -> None:
    good = bytes((0x80, 72, 97, 0x00))
    for bad in (
        bytes((0xC0, 72, 97, 0x00)),  # STATUS1 bit 6 is reserved
        bytes((0x80, 72, 97, 0x40)),  # STATUS2 bits 6-7 are reserved
    ):
        events = NoninDecoder("df8").feed(bad)
        assert values(events, VitalKind.SPO2) == []
        events = NoninDecoder("df8").feed(bad + good * 3)
        assert values(events, VitalKind.SPO2) == [97], bad.hex()  # only the third good frame
        assert problems(events)


def test_df8_out_of_range_values_are_problems_and_restart_the_trust_run() -> None:
    frame = encode_df8_frame(NoninReading(72, 97))
    too_slow = bytes((0x80, 5, 97, 0x00))  # HR 5: below the Nonin's 18 bpm
    decoder = NoninDecoder("df8")
    events = decoder.feed(frame + too_slow + frame + frame + frame)
    assert "pulse_rate 5 outside the plausible range 18-321" in problems(events)[0].message
    # The first frame (start of stream) and the third after the bad one give values.
    assert values(events, VitalKind.PULSE_RATE) == [72, 72]
    assert decoder.counters.bad == 1 and decoder.counters.good == 4


def test_df8_random_bytes_give_no_values() -> None:
    noise = np.random.default_rng(7).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    decoder = NoninDecoder("df8")
    events = decoder.feed(b"\x00" + noise)  # a bad byte first: nothing is trusted yet
    assert values(events, VitalKind.SPO2) == [] and values(events, VitalKind.PULSE_RATE) == []


def test_df2_hr_out_of_range_or_with_reserved_bits_is_a_problem_not_a_value() -> None:
    def packet(hr_msb: int, hr_lsb: int) -> bytes:
        out = bytearray()
        for slot in range(25):
            value = {0: hr_msb, 1: hr_lsb, 2: 97}.get(slot, 0)
            body = (0x01, 0x80 | (1 if slot == 0 else 0), 50, value)
            out += bytes((*body, checksum(body)))
        return bytes(out)

    for msb, lsb, why in (
        (0x00, 10, "18-321"),
        (0x04, 72, "reserved bits"),
        (0x02, 0x7F, "18-321"),
    ):
        events = NoninDecoder("df2").feed(packet(msb, lsb))
        assert why in problems(events)[0].message
        assert values(events, VitalKind.PULSE_RATE) in ([None], [])
        assert values(events, VitalKind.SPO2) == [97]  # the checked SpO2 frame still counts


def test_df8_jump_waits_for_the_next_frame_to_confirm_it() -> None:
    def frame(hr: int, spo2: int) -> bytes:
        return encode_df8_frame(NoninReading(hr, spo2))

    # 97 -> 33 is SpO2 with bit 6 flipped: held back, and the next frame shows it was noise.
    events = NoninDecoder("df8").feed(frame(72, 97) + frame(72, 33) + frame(72, 97))
    assert values(events, VitalKind.SPO2) == [97, 97]
    # A real change is confirmed by the frame after it and sent one second late.
    events = NoninDecoder("df8").feed(frame(72, 97) + frame(110, 97) + frame(111, 97))
    assert values(events, VitalKind.PULSE_RATE) == [72, 111]


def test_df8_trust_comes_back_only_with_frames_that_agree() -> None:
    def frame(hr: int, spo2: int) -> bytes:
        return encode_df8_frame(NoninReading(hr, spo2))

    after_bad_byte = b"\x00" + frame(72, 97) + frame(140, 60) + frame(72, 97) + frame(73, 97)
    decoder = NoninDecoder("df8")
    assert values(decoder.feed(after_bad_byte), VitalKind.PULSE_RATE) == []
    assert values(decoder.feed(frame(73, 98)), VitalKind.PULSE_RATE) == [73]
