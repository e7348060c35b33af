"""GE DRI codec: official request vectors, framing, decoding rules, robustness and the emulator."""

from __future__ import annotations

import itertools
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from devices.codec import (
    DecodedEvent,
    DecodedSample,
    DecodedStatus,
    DecodedWaveform,
    DecodeProblem,
)
from devices.ge_dri import (
    ALL_CLASSES,
    CLASS_EXT1,
    ECG_GROUP,
    ECG_HR,
    INVALID,
    MT_PHDB,
    MT_WAVE,
    NIBP_GROUP,
    NIBP_LABEL_DATA_OLD,
    NIBP_LABEL_MEASURING,
    PH_AUX_INFO,
    PH_DISPLAYED,
    PH_TREND_60S,
    SERIAL_SETTINGS,
    SPO2_GROUP,
    SPO2_VALUE,
    STATUS_ACTIVE,
    STATUS_EXISTS,
    WF_PLETH,
    WF_REQ_CONT_STOP,
    WF_STATUS_GAP,
    WF_STATUS_LEAD_OFF,
    Deframer,
    GeDriDecoder,
    GeDriEmulator,
    PhdbRequest,
    WaveRequest,
    aux_subrecord,
    build_displayed_values_frame,
    build_pleth_frame,
    build_record,
    encode_basic_class,
    escape_frame,
    parse_header,
    parse_request,
    phdb_request,
    phdb_subrecord,
    pleth_subrecord,
    waveform_request,
)
from devices.simulated import VitalsModel
from katmonitor.base.vitals import VitalKind

T0 = 1_700_000_000

# Official vector (S/5 Computer Interface Specification): displayed values every 10 s, all
# classes. Class bits 0x0E = EXT1 | EXT2 | EXT3; basic is always included.
OFFICIAL_DISPLAYED_10S = bytes.fromhex(
    "7e31" + "00" * 20 + "ff" + "00" * 18 + "010a000e0000000000" + "497e"
)

VALUES: dict[VitalKind, float | None] = {
    VitalKind.HR: 126.0,  # 0x7E in the data: must be escaped
    VitalKind.PULSE_RATE: 125.0,  # 0x7D in the data
    VitalKind.SPO2: 97.5,
    VitalKind.PERFUSION_INDEX: 3.21,
    VitalKind.NIBP_SYSTOLIC: 120.0,
    VitalKind.NIBP_DIASTOLIC: 80.0,
    VitalKind.NIBP_MEAN: 93.33,
}


def decode(data: bytes, decoder: GeDriDecoder | None = None) -> list[DecodedEvent]:
    return (decoder or GeDriDecoder()).feed(data)


def samples_of(events: list[DecodedEvent], kind: VitalKind) -> list[DecodedSample]:
    return [e for e in events if isinstance(e, DecodedSample) and e.kind is kind]


def statuses(events: list[DecodedEvent]) -> list[frozenset[str]]:
    return [e.conditions for e in events if isinstance(e, DecodedStatus)]


def frame_from_class_data(class_data: bytes, *, time_s: int = T0) -> bytes:
    record = build_record(MT_PHDB, [(PH_DISPLAYED, phdb_subrecord(time_s, class_data))])
    return escape_frame(record)


def with_int16(class_data: bytes, offset: int, raw: int) -> bytes:
    data = bytearray(class_data)
    struct.pack_into("<h", data, offset, raw)
    return bytes(data)


def with_group_status(class_data: bytes, group: int, status: int) -> bytes:
    data = bytearray(class_data)
    struct.pack_into("<I", data, group, status)
    return bytes(data)


def unescape(body: bytes) -> bytes | None:
    """Independent reference unescaping (None when an escape byte ends the body)."""
    out = bytearray()
    escaped = False
    for byte in body:
        if escaped:
            out.append(byte ^ 0x20)
            escaped = False
        elif byte == 0x7D:
            escaped = True
        else:
            out.append(byte)
    return None if escaped else bytes(out)


def frame_is_valid_at(stream: bytes, offset: int) -> bool:
    """True when a frame opening at ``offset`` has a good checksum and length field."""
    if stream[offset] != 0x7E:
        return False
    end = stream.find(b"\x7e", offset + 1)
    if end < 0:
        return False
    data = unescape(stream[offset + 1 : end])
    if data is None or len(data) < 41:
        return False
    record, received = data[:-1], data[-1]
    return sum(record) & 0xFF == received and struct.unpack_from("<h", record)[0] == len(record)


def normalized(events: list[DecodedEvent]) -> list[object]:
    out: list[object] = []
    for e in events:
        if isinstance(e, DecodedWaveform):
            values = tuple(np.nan_to_num(e.values, nan=-1e9).tolist())
            out.append(
                ("wave", e.kind, e.sample_rate_hz, values, e.status, e.device_time, e.offset)
            )
        else:
            out.append(e)
    return out


def _stream() -> tuple[bytes, list[tuple[int, int]]]:
    """A realistic stream and the (start, end) offsets of each frame in it."""
    frames = [
        build_displayed_values_frame(T0, VALUES, nibp_time=T0 - 30, sensor_off=False),
        build_pleth_frame(T0, np.linspace(0.0, 60.0, 25, dtype=np.float32)),
        build_displayed_values_frame(T0 + 5, VALUES, nibp_time=T0 - 30, sensor_off=True),
        build_pleth_frame(T0 + 5, np.zeros(25, dtype=np.float32), gap=True),
        build_displayed_values_frame(
            T0 + 10, {**VALUES, VitalKind.NIBP_SYSTOLIC: 131.0}, nibp_time=T0 + 8, sensor_off=False
        ),
    ]
    spans = []
    position = 0
    for frame in frames:
        spans.append((position, position + len(frame) - 1))
        position += len(frame)
    return b"".join(frames), spans


STREAM, SPANS = _stream()


# --- Serial settings and requests ----------------------------------------------------------------


def test_serial_settings_are_19200_8e1_with_hardware_flow_control() -> None:
    assert SERIAL_SETTINGS == {
        "baudrate": 19200,
        "bytesize": 8,
        "parity": "E",
        "stopbits": 1,
        "rtscts": True,
    }


def test_displayed_values_request_matches_the_official_vector_byte_for_byte() -> None:
    assert phdb_request(PH_DISPLAYED, 10, ALL_CLASSES) == OFFICIAL_DISPLAYED_10S
    assert len(OFFICIAL_DISPLAYED_10S) == 49 + 3  # 49-byte record, checksum, two flags


def test_60s_trend_request_sends_its_0x7d_checksum_escaped() -> None:
    frame = phdb_request(PH_TREND_60S, 60, ALL_CLASSES)
    assert frame == bytes.fromhex(
        "7e31" + "00" * 20 + "ff" + "00" * 18 + "033c000e0000000000" + "7d5d7e"
    )
    (decoded,) = Deframer().feed(frame)
    assert decoded.record is not None and sum(decoded.record) & 0xFF == 0x7D


def test_checksum_0x7e_is_escaped_too() -> None:
    frame = phdb_request(PH_DISPLAYED, 63, ALL_CLASSES)  # sum works out to 0x7E
    assert frame.endswith(bytes.fromhex("7d5e7e"))
    assert frame.count(0x7E) == 2  # only the flags
    assert parse_request(Deframer().feed(frame)[0].record or b"") == PhdbRequest(1, 63, 0x0E)


def test_waveform_request_asks_for_pleth_in_a_72_byte_record() -> None:
    (frame,) = Deframer().feed(waveform_request())
    assert frame.record is not None
    header = parse_header(frame.record)
    assert (header.r_len, header.maintype, header.subrecords) == (72, MT_WAVE, ((0, 0),))
    assert frame.record[40:44] == bytes(4)  # req_type 0 = continuous start, res 0
    assert frame.record[44:52] == bytes([WF_PLETH]) + b"\xff" * 7
    assert parse_request(frame.record) == WaveRequest(0, (WF_PLETH,))
    stop = Deframer().feed(waveform_request((), WF_REQ_CONT_STOP))[0].record
    assert parse_request(stop or b"") == WaveRequest(WF_REQ_CONT_STOP, ())


def test_decoder_asks_for_basic_displayed_values_every_5s_and_pleth_and_repeats_it() -> None:
    decoder = GeDriDecoder()
    requests = decoder.requests_on_connect()
    assert requests == phdb_request(PH_DISPLAYED, 5, 0) + waveform_request((WF_PLETH,))
    parsed = [parse_request(f.record or b"") for f in Deframer().feed(requests)]
    assert parsed == [PhdbRequest(1, 5, 0), WaveRequest(0, (WF_PLETH,))]
    assert decoder.periodic_request() == (60.0, requests)
    assert decoder.protocol == "ge-dri"


# --- Framing -------------------------------------------------------------------------------------


def test_escape_and_unescape_of_flag_and_escape_bytes_inside_data() -> None:
    record = build_record(MT_PHDB, [(PH_AUX_INFO, bytes([0x7E, 0x7D, 0x5E, 0x5D, 0x20]) * 3)])
    frame = escape_frame(record)
    assert frame[0] == frame[-1] == 0x7E and frame.count(0x7E) == 2
    assert bytes.fromhex("7d5e7d5d5e5d20") in frame
    (decoded,) = Deframer().feed(frame)
    assert decoded.record == record and decoded.offset == 0 and decoded.length == len(frame)


def test_unescape_is_xor_0x20_not_or_0x7c() -> None:
    # Escaping an ordinary byte is legal: 7D 11 stands for 0x31. OR-ing 0x7C would give 0x7D.
    frame = OFFICIAL_DISPLAYED_10S
    assert frame[1] == 0x31
    respelled = frame[:1] + bytes([0x7D, 0x31 ^ 0x20]) + frame[2:]
    (decoded,) = Deframer().feed(respelled)
    assert decoded.record == Deframer().feed(frame)[0].record


def test_values_containing_0x7e_and_0x7d_survive_the_round_trip() -> None:
    frame = build_displayed_values_frame(T0, VALUES, nibp_time=None, sensor_off=False)
    events = decode(frame)
    assert samples_of(events, VitalKind.HR)[0].value == 126.0
    assert samples_of(events, VitalKind.PULSE_RATE)[0].value == 125.0


def test_bad_checksum_gives_a_problem_at_the_frame_offset_and_no_values() -> None:
    good = build_displayed_values_frame(T0, VALUES, nibp_time=None, sensor_off=False)
    damaged = bytearray(good)
    damaged[60] ^= 0x01
    assert damaged[60] not in (0x7E, 0x7D)
    stream = good + bytes(damaged) + good
    decoder = GeDriDecoder()
    events = decoder.feed(stream)
    problems = [e for e in events if isinstance(e, DecodeProblem)]
    assert [(p.offset, p.length) for p in problems] == [(len(good), len(good))]
    assert "checksum" in problems[0].message
    hr_offsets = [s.offset for s in samples_of(events, VitalKind.HR)]
    assert hr_offsets == [0, 2 * len(good)]
    assert (decoder.counters.good, decoder.counters.bad) == (2, 1)
    assert decoder.offset == len(stream)


def test_a_length_field_mismatch_is_a_bad_frame_even_with_a_good_sum() -> None:
    # 7D 5E (0x7E) respelled as 20 5E keeps the byte sum but adds a byte.
    record = build_record(MT_PHDB, [(PH_AUX_INFO, bytes([0x7E]) + bytes(10))])
    frame = escape_frame(record)
    index = frame.index(bytes.fromhex("7d5e"))
    respelled = frame[:index] + b"\x20" + frame[index + 1 :]
    decoder = GeDriDecoder()
    (problem,) = decoder.feed(respelled)
    assert isinstance(problem, DecodeProblem) and "length" in problem.message
    assert decoder.counters.bad == 1


def test_joining_mid_stream_skips_the_partial_frame_and_resyncs() -> None:
    frame = build_displayed_values_frame(T0, VALUES, nibp_time=None, sensor_off=False)
    decoder = GeDriDecoder()
    events = decoder.feed(frame[100:] + frame)
    assert isinstance(events[0], DecodeProblem) and events[0].offset == 0
    assert [s.offset for s in samples_of(events, VitalKind.HR)] == [len(frame) - 100]
    assert decoder.counters.bad == 0  # not damage, just where we joined


def test_over_long_frame_without_end_flag_is_dropped_and_the_next_one_decodes() -> None:
    frame = build_displayed_values_frame(T0, VALUES, nibp_time=None, sensor_off=False)
    decoder = GeDriDecoder()
    events = decoder.feed(b"\x7e" + b"\x01" * 5000 + frame)
    assert any(isinstance(e, DecodeProblem) and "too long" in e.message for e in events)
    assert len(samples_of(events, VitalKind.HR)) == 1


# --- Physiological data --------------------------------------------------------------------------


def test_displayed_values_round_trip_with_units_and_times() -> None:
    frame = build_displayed_values_frame(T0, VALUES, nibp_time=T0 - 42, sensor_off=False)
    events = decode(frame)
    got = {e.kind: e for e in events if isinstance(e, DecodedSample)}
    assert set(got) == set(VALUES)
    for kind, value in VALUES.items():
        assert got[kind].value == value
        assert got[kind].status == frozenset()
    assert got[VitalKind.HR].device_time == float(T0)
    for kind in (VitalKind.NIBP_SYSTOLIC, VitalKind.NIBP_DIASTOLIC, VitalKind.NIBP_MEAN):
        assert got[kind].device_time == float(T0 - 42)  # the measurement's own time
    assert statuses(events) == [frozenset()]


def test_values_are_sent_in_hundredths() -> None:
    data = encode_basic_class(VALUES)
    assert struct.unpack_from("<h", data, 124)[0] == 9750  # SpO2 97.5 %
    assert struct.unpack_from("<h", data, 128)[0] == 321  # PI 3.21 %
    assert struct.unpack_from("<hhh", data, 78) == (12000, 8000, 9333)  # mmHg
    assert struct.unpack_from("<h", data, 6)[0] == 126  # HR in beats/min
    assert struct.unpack_from("<h", data, 126)[0] == 125  # PR in beats/min


@given(
    hr=st.integers(15, 300),  # the plausible ranges of a GE monitor
    spo2=st.integers(0, 10000),
    pi=st.integers(0, 2000),
    systolic=st.integers(2500, 29000),
)
@settings(max_examples=50, deadline=None)
def test_any_value_round_trips_at_its_resolution(
    hr: int, spo2: int, pi: int, systolic: int
) -> None:
    values: dict[VitalKind, float | None] = {
        VitalKind.HR: float(hr),
        VitalKind.SPO2: spo2 / 100,
        VitalKind.PERFUSION_INDEX: pi / 100,
        VitalKind.NIBP_SYSTOLIC: systolic / 100,
    }
    events = decode(build_displayed_values_frame(T0, values, nibp_time=None, sensor_off=False))
    for kind, value in values.items():
        assert samples_of(events, kind)[0].value == value


@pytest.mark.parametrize(
    ("code", "word"),
    [
        (-32767, "invalid"),
        (-32766, "not_updated"),
        (-32764, "under_range"),
        (-32763, "over_range"),
        (-32762, "not_calibrated"),
        (-32765, "invalid"),
        (-32001, "invalid"),
    ],
)
def test_value_codes_map_to_none_with_a_reason(code: int, word: str) -> None:
    data = with_int16(encode_basic_class(VALUES), ECG_HR, code)
    (hr,) = samples_of(decode(frame_from_class_data(data)), VitalKind.HR)
    assert hr.value is None and hr.status == frozenset({word})


def test_minus_32000_is_not_a_code_but_an_implausible_value() -> None:
    data = with_int16(encode_basic_class(VALUES), ECG_HR, -32000)
    events = decode(frame_from_class_data(data))
    (hr,) = samples_of(events, VitalKind.HR)
    assert hr.value is None and hr.status == {"invalid"}
    problems = [e.message for e in events if isinstance(e, DecodeProblem)]
    assert any("hr -32000 outside the plausible range 15-300" in p for p in problems)


def test_sensor_off_is_inferred_from_spo2_codes_and_clears_when_values_return() -> None:
    decoder = GeDriDecoder()
    seen: list[frozenset[str]] = []
    spo2: list[DecodedSample] = []
    for off in (False, True, True, False):
        events = decoder.feed(
            build_displayed_values_frame(T0, VALUES, nibp_time=None, sensor_off=off)
        )
        seen += statuses(events)
        spo2 += samples_of(events, VitalKind.SPO2)
    assert seen == [frozenset(), frozenset({"sensor_off"}), frozenset()]
    assert [s.value for s in spo2] == [97.5, None, None, 97.5]
    assert spo2[1].status == frozenset({"invalid"})


def test_no_sensor_off_inference_when_the_spo2_module_is_not_active() -> None:
    data = with_int16(encode_basic_class(VALUES), SPO2_VALUE, INVALID)
    data = with_group_status(data, SPO2_GROUP, STATUS_EXISTS)  # exists, not active
    events = decode(frame_from_class_data(data))
    assert statuses(events) == []
    assert samples_of(events, VitalKind.SPO2)[0].value is None


def test_groups_of_absent_modules_are_skipped() -> None:
    data = with_group_status(encode_basic_class(VALUES), ECG_GROUP, 0)
    data = with_group_status(data, NIBP_GROUP, 0)
    events = decode(frame_from_class_data(data))
    kinds = {e.kind for e in events if isinstance(e, DecodedSample)}
    assert kinds == {VitalKind.SPO2, VitalKind.PULSE_RATE, VitalKind.PERFUSION_INDEX}


def test_hr_from_the_pleth_is_marked() -> None:
    status = STATUS_EXISTS | STATUS_ACTIVE | (6 << 3)
    data = with_group_status(encode_basic_class(VALUES), ECG_GROUP, status)
    (hr,) = samples_of(decode(frame_from_class_data(data)), VitalKind.HR)
    assert hr.value == 126.0 and hr.status == frozenset({"source_pleth"})


def test_class_comes_from_cl_drilvl_subt_not_from_the_subrecord_position() -> None:
    ext1 = with_int16(bytes(270), ECG_HR, 150)  # would read as HR 150 if taken for basic
    ext1 = with_group_status(ext1, ECG_GROUP, STATUS_EXISTS | STATUS_ACTIVE)
    basic = encode_basic_class({VitalKind.HR: 70.0})
    first_ext = build_record(
        MT_PHDB,
        [
            (PH_DISPLAYED, phdb_subrecord(T0, ext1, phdb_class=CLASS_EXT1)),
            (PH_DISPLAYED, phdb_subrecord(T0, basic)),
        ],
    )
    only_ext = build_record(MT_PHDB, [(PH_DISPLAYED, phdb_subrecord(T0, ext1, phdb_class=1))])
    events = decode(escape_frame(first_ext) + escape_frame(only_ext))
    assert [s.value for s in samples_of(events, VitalKind.HR)] == [70.0]
    assert struct.unpack_from("<H", phdb_subrecord(T0, ext1, phdb_class=1), 276)[0] == 0x0100


def test_nibp_is_emitted_once_per_measurement_with_its_time() -> None:
    decoder = GeDriDecoder()
    values = dict(VALUES)
    first = decoder.feed(
        build_displayed_values_frame(T0, values, nibp_time=T0 - 5, sensor_off=False)
    )
    again = decoder.feed(
        build_displayed_values_frame(T0 + 5, values, nibp_time=T0 - 5, sensor_off=False)
    )
    same_values_new_time = decoder.feed(
        build_displayed_values_frame(T0 + 10, values, nibp_time=T0 + 8, sensor_off=False)
    )
    assert [s.device_time for s in samples_of(first, VitalKind.NIBP_MEAN)] == [T0 - 5]
    assert samples_of(again, VitalKind.NIBP_MEAN) == []
    assert len(samples_of(again, VitalKind.HR)) == 1  # continuous values every record
    assert [s.device_time for s in samples_of(same_values_new_time, VitalKind.NIBP_MEAN)] == [
        T0 + 8
    ]


def test_nibp_sent_measuring_is_sent_again_when_final() -> None:
    decoder = GeDriDecoder()
    sent = [
        (T0, NIBP_LABEL_MEASURING),
        (T0 + 5, 0),  # the bit clears: the final reading
        (T0 + 10, 0),  # unchanged: not repeated
    ]
    emitted = []
    for at, label in sent:
        data = encode_basic_class(VALUES, nibp_label=label)
        record = build_record(
            MT_PHDB,
            [(PH_DISPLAYED, phdb_subrecord(at, data)), (PH_AUX_INFO, aux_subrecord(T0 - 2))],
        )
        emitted += samples_of(decoder.feed(escape_frame(record)), VitalKind.NIBP_SYSTOLIC)
    assert [(s.value, s.status, s.device_time) for s in emitted] == [
        (120.0, frozenset({"measuring"}), T0 - 2),
        (120.0, frozenset(), T0 - 2),
    ]


def test_nibp_without_aux_uses_the_subrecord_time_and_label_flags() -> None:
    label = NIBP_LABEL_MEASURING | NIBP_LABEL_DATA_OLD
    data = encode_basic_class(VALUES, nibp_label=label)
    events = decode(frame_from_class_data(data, time_s=T0 + 3))
    (systolic,) = samples_of(events, VitalKind.NIBP_SYSTOLIC)
    assert systolic.device_time == T0 + 3
    assert systolic.status == frozenset({"measuring", "data_old"})


def test_aux_subrecord_may_come_first() -> None:
    record = build_record(
        MT_PHDB,
        [
            (PH_AUX_INFO, aux_subrecord(T0 - 60)),
            (PH_DISPLAYED, phdb_subrecord(T0, encode_basic_class(VALUES))),
        ],
    )
    events = decode(escape_frame(record))
    assert samples_of(events, VitalKind.NIBP_DIASTOLIC)[0].device_time == T0 - 60


def test_subrecord_offsets_outside_the_record_are_reported_not_raised() -> None:
    record = bytearray(build_record(MT_PHDB, [(PH_DISPLAYED, bytes(10))]))
    decoder = GeDriDecoder()
    events = decoder.feed(escape_frame(bytes(record)))
    assert len(events) == 1 and isinstance(events[0], DecodeProblem)
    assert decoder.counters.good == 1


# --- Waveforms -----------------------------------------------------------------------------------


def test_pleth_round_trip_in_percent_at_100_hz() -> None:
    values = np.linspace(-5.0, 80.0, 25).astype(np.float32)
    (wave,) = decode(build_pleth_frame(T0, values))
    assert isinstance(wave, DecodedWaveform)
    assert wave.kind is VitalKind.PLETH and wave.sample_rate_hz == 100.0
    assert wave.values.dtype == np.float32
    np.testing.assert_allclose(wave.values, values, atol=0.005 + 1e-6)
    assert wave.device_time == float(T0) and wave.status == frozenset()


def test_pleth_status_bits_and_invalid_samples() -> None:
    values = np.array([1.0, np.nan, 2.5], dtype=np.float32)
    sub = pleth_subrecord(values, status=WF_STATUS_GAP | WF_STATUS_LEAD_OFF)
    ecg = pleth_subrecord(np.ones(3, dtype=np.float32))
    record = build_record(MT_WAVE, [(1, ecg), (WF_PLETH, sub)], time_s=T0)
    (wave,) = decode(escape_frame(record))  # the ECG subrecord is ignored
    assert isinstance(wave, DecodedWaveform)
    assert wave.status == frozenset({"gap", "lead_off"})
    assert wave.values[0] == pytest.approx(1.0) and np.isnan(wave.values[1])
    assert struct.unpack_from("<h", sub, 0)[0] == 3  # act_len counts samples


# --- Robustness (property tests) -----------------------------------------------------------------


@given(cuts=st.lists(st.integers(0, len(STREAM)), max_size=30))
@settings(max_examples=80, deadline=None)
def test_splitting_the_stream_anywhere_gives_the_same_events(cuts: list[int]) -> None:
    whole = GeDriDecoder()
    expected = normalized(whole.feed(STREAM))
    decoder = GeDriDecoder()
    events: list[DecodedEvent] = []
    bounds = [0, *sorted(cuts), len(STREAM)]
    for start, end in itertools.pairwise(bounds):
        events += decoder.feed(STREAM[start:end])
    assert normalized(events) == expected
    assert decoder.counters == whole.counters and decoder.offset == len(STREAM)


def test_the_reference_stream_decodes_cleanly() -> None:
    decoder = GeDriDecoder()
    events = decoder.feed(STREAM)
    assert decoder.counters.bad == 0 and decoder.counters.good == len(SPANS)
    assert not any(isinstance(e, DecodeProblem) for e in events)
    assert statuses(events) == [frozenset(), frozenset({"sensor_off"}), frozenset()]
    waves = [e for e in events if isinstance(e, DecodedWaveform)]
    assert [w.status for w in waves] == [frozenset(), frozenset({"gap"})]


@given(data=st.data())
@settings(max_examples=100, deadline=None)
def test_one_damaged_byte_loses_only_its_own_frame(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(SPANS) - 1))
    start, end = SPANS[index]
    position = data.draw(st.integers(start + 1, end - 1))  # inside, not a flag
    mask = data.draw(st.integers(1, 255))
    damaged = bytearray(STREAM)
    damaged[position] ^= mask
    decoder = GeDriDecoder()
    events = decoder.feed(bytes(damaged))
    values = [e for e in events if isinstance(e, DecodedSample | DecodedWaveform)]
    assert not any(start <= e.offset <= end for e in values)
    assert any(isinstance(e, DecodeProblem) and start <= e.offset <= end for e in events)
    assert decoder.counters.bad >= 1
    others = {s for i, (s, _) in enumerate(SPANS) if i != index}
    assert {e.offset for e in values} == others  # every other frame still decodes


_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 10_000), st.sampled_from([0x7E, 0x7D, 0x00, 0xFF])),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.integers(1, 50)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=20)),
)


@given(mutations=st.lists(_mutation, min_size=1, max_size=6), keep=st.integers(0, len(STREAM)))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_streams_never_raise_nor_yield_values_from_bad_frames(
    mutations: list[tuple[str, int, object]], keep: int
) -> None:
    stream = bytearray(STREAM[:keep] if keep > 0 else STREAM)
    for action, where, argument in mutations:
        if not stream:
            break
        position = where % len(stream)
        if action == "flip":
            stream[position] ^= 1 << int(argument)  # type: ignore[call-overload]
        elif action == "set":
            stream[position] = int(argument)  # type: ignore[call-overload]
        elif action == "delete":
            del stream[position : position + int(argument)]  # type: ignore[call-overload]
        else:
            stream[position:position] = argument  # type: ignore[assignment]
    mutated = bytes(stream)
    assume(mutated != STREAM)
    decoder = GeDriDecoder()
    events = decoder.feed(mutated)
    for event in events:
        if isinstance(event, DecodedSample | DecodedWaveform):
            assert frame_is_valid_at(mutated, event.offset)
    assert decoder.offset == len(mutated)


@given(noise=st.binary(max_size=3000))
@settings(max_examples=150, deadline=None)
def test_random_bytes_never_raise(noise: bytes) -> None:
    decoder = GeDriDecoder()
    events = decoder.feed(noise)
    assert decoder.offset == len(noise)
    assert all(not isinstance(e, DecodedSample | DecodedWaveform) for e in events)


@given(noise=st.lists(st.sampled_from([0x7E, 0x7D, 0x5E, 0x5D, 0x31, 0x00, 0xFF]), max_size=2000))
@settings(max_examples=100, deadline=None)
def test_random_flag_and_escape_soup_never_raises(noise: list[int]) -> None:
    decoder = GeDriDecoder()
    decoder.feed(bytes(noise))
    decoder.feed(STREAM)  # and the decoder still works afterwards
    assert decoder.offset == len(noise) + len(STREAM)


# --- Emulator ------------------------------------------------------------------------------------


def test_emulator_is_silent_until_asked() -> None:
    emulator = GeDriEmulator(VitalsModel("normal", seed=1), float(T0))
    assert emulator.needs_request and emulator.protocol == "ge-dri"
    assert emulator.advance(T0 + 30.0) == b""
    assert emulator.receive(b"\x7e garbage \x7e", T0 + 31.0) == b""
    assert emulator.advance(T0 + 60.0) == b""


def test_emulator_streams_what_the_model_says_after_the_request() -> None:
    emulator = GeDriEmulator(VitalsModel("normal", seed=4), float(T0))
    decoder = GeDriDecoder()
    for byte in decoder.requests_on_connect():  # requests may arrive a byte at a time
        emulator.receive(bytes([byte]), float(T0))
    events = decoder.feed(emulator.advance(T0 + 200.0))
    assert decoder.counters.bad == 0

    # The same model, driven in the emulator's order: values every 5 s, NIBP at 3 s and 183 s.
    twin = VitalsModel("normal", seed=4)
    expected: dict[VitalKind, list[float]] = {k: [] for k in VALUES}
    nibp: list[tuple[float, float, float]] = []
    for t in range(0, 201, 5):
        for measured in (3, 183):
            if t - 5 < measured <= t:
                nibp.append(twin.nibp(float(measured)))
        for kind, value in twin.numerics(float(t)).items():
            expected[kind].append(value)
    for kind in (VitalKind.HR, VitalKind.SPO2, VitalKind.PULSE_RATE, VitalKind.PERFUSION_INDEX):
        assert [s.value for s in samples_of(events, kind)] == expected[kind]
    assert [s.device_time for s in samples_of(events, VitalKind.HR)][:3] == [T0, T0 + 5, T0 + 10]
    systolic = samples_of(events, VitalKind.NIBP_SYSTOLIC)
    measuring, final = frozenset({"measuring"}), frozenset()
    assert [(s.value, s.device_time, s.status) for s in systolic] == [
        (None, float(T0), frozenset({"invalid"})),  # no measurement yet at connection
        (nibp[0][0], T0 + 3.0, measuring),  # first sent while measuring, then final
        (nibp[0][0], T0 + 3.0, final),
        (nibp[1][0], T0 + 183.0, measuring),
        (nibp[1][0], T0 + 183.0, final),
    ]
    assert [s.value for s in samples_of(events, VitalKind.NIBP_MEAN)][1::2] == [m[2] for m in nibp]

    waves = [e for e in events if isinstance(e, DecodedWaveform)]
    assert len(waves) == 800 and all(len(w.values) == 25 for w in waves)  # 200 s at 100 Hz
    pleth = np.concatenate([w.values for w in waves])
    twin_pleth = np.concatenate([twin.pleth(i * 0.25, 25, 100.0) for i in range(800)])
    np.testing.assert_allclose(pleth, twin_pleth, atol=0.005 + 1e-5)


def test_emulator_stops_on_interval_0_and_on_waveform_stop() -> None:
    emulator = GeDriEmulator(VitalsModel("normal", seed=1), float(T0))
    emulator.receive(phdb_request(PH_DISPLAYED, 10, 0) + waveform_request(), float(T0))
    decoder = GeDriDecoder()
    events = decoder.feed(emulator.advance(T0 + 20.0))
    assert len(samples_of(events, VitalKind.HR)) == 3  # 0, 10, 20 s
    emulator.receive(phdb_request(PH_DISPLAYED, 0, 0), T0 + 20.0)
    events = decoder.feed(emulator.advance(T0 + 40.0))
    assert samples_of(events, VitalKind.HR) == []
    assert any(isinstance(e, DecodedWaveform) for e in events)  # waveforms are separate
    emulator.receive(waveform_request((), WF_REQ_CONT_STOP), T0 + 40.0)
    assert emulator.advance(T0 + 60.0) == b""


def test_emulator_keeps_its_rhythm_when_the_request_is_repeated() -> None:
    emulator = GeDriEmulator(VitalsModel("normal", seed=1), float(T0))
    emulator.receive(phdb_request(PH_DISPLAYED, 5, 0), float(T0))
    decoder = GeDriDecoder()
    decoder.feed(emulator.advance(T0 + 7.0))  # 0 and 5 s
    emulator.receive(phdb_request(PH_DISPLAYED, 5, 0), T0 + 7.0)
    events = decoder.feed(emulator.advance(T0 + 12.0))
    assert [s.device_time for s in samples_of(events, VitalKind.HR)] == [T0 + 10.0]


def test_emulator_sensor_off_sends_invalid_oximetry_and_a_flat_gapped_pleth() -> None:
    emulator = GeDriEmulator(VitalsModel("normal", seed=1), float(T0))
    decoder = GeDriDecoder()
    emulator.receive(decoder.requests_on_connect(), float(T0))
    first = decoder.feed(emulator.advance(T0 + 1.0))
    emulator.state.sensor_off = True
    off = decoder.feed(emulator.advance(T0 + 6.0))
    emulator.state.sensor_off = False
    back = decoder.feed(emulator.advance(T0 + 11.0))
    assert statuses(first) == [frozenset()]
    assert statuses(off) == [frozenset({"sensor_off"})]
    assert statuses(back) == [frozenset()]
    for kind in (VitalKind.SPO2, VitalKind.PULSE_RATE, VitalKind.PERFUSION_INDEX):
        (sample,) = samples_of(off, kind)
        assert sample.value is None and sample.status == frozenset({"invalid"})
    assert samples_of(off, VitalKind.HR)[0].value is not None  # ECG is unaffected
    off_waves = [e for e in off if isinstance(e, DecodedWaveform)]
    assert off_waves and all(w.status == frozenset({"gap"}) for w in off_waves)
    assert all(not w.values.any() for w in off_waves)
