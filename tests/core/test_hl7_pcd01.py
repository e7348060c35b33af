"""HL7 v2 ORU^R01 (IHE PCD-01) over MLLP: decoding, ACKs, framing, encoder and emulator."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.codec import DecodedEvent, DecodedSample, DecodeProblem, Reply
from devices.hl7_pcd01 import (
    Hl7Decoder,
    Hl7Emulator,
    build_ack,
    build_oru,
    format_dtm,
    mllp_frame,
    parse_dtm,
)
from devices.simulated import VitalsModel
from katmonitor.base.vitals import VitalKind

K = VitalKind


def utc(*parts: int | float) -> float:
    """UTC epoch seconds for (year, month, day, hour, minute, second[, fraction])."""
    *whole, second = parts
    return datetime(*(int(p) for p in whole), int(second), tzinfo=UTC).timestamp() + (
        second - int(second)
    )


def segments(*lines: str) -> str:
    return "\r".join(lines) + "\r"


# A bedside monitor behind a PCD-01 gateway (EUI-64 sender, Central European Summer Time),
# original-mode ACK (MSH-15/16 empty). Group 1: the monitor's own VMDs with OBX-14 times.
# Group 2: a stand-alone NIBP device reporting with the 150021 family, times only in OBR-7.
PCD01_MESSAGE = segments(
    "MSH|^~\\&|AcmeGW^ACDE48234567ABCD^EUI-64|ICU-GW|KATMONITOR|DOSING-ROOM|"
    "20240515143000.123+0200||ORU^R01^ORU_R01|MSG0001|P|2.6|||||||||"
    "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO",
    "PID|||12345^^^Clinic^PI||Doe^Jane^^^^^L||19800101|F",
    "PV1||I|DOSING^^1",
    "OBR|1|MSG0001^AcmeGW^ACDE48234567ABCD^EUI-64|MSG0001^AcmeGW^ACDE48234567ABCD^EUI-64|"
    "182777000^monitoring of patient^SNOMED-CT|||20240515142959+0200",
    "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||"
    "ACDE48234567ABCD^EUI-64",
    "OBX|2|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|68|264864^MDC_DIM_BEAT_PER_MIN^MDC|"
    "50-120||||R|||20240515142959+0200",
    "OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.2|97|262688^MDC_DIM_PERCENT^MDC|"
    "90-100||||R|||20240515142959.5+0200",
    "OBX|4|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.3.1.1|67|264864^MDC_DIM_BEAT_PER_MIN^MDC|"
    "||||R|||20240515142959+0200",
    "OBX|5|NM|150488^MDC_PULS_OXIM_PERF_REL^MDC|1.3.1.3|-999|262688^MDC_DIM_PERCENT^MDC|"
    "||||R|||20240515142959+0200",
    "OBX|6|NM|150301^MDC_PRESS_CUFF_SYS^MDC|1.2.1.1|118|266016^MDC_DIM_MMHG^MDC|"
    "||||R|||20240515142930+0200|||^APERIODIC",
    "OBX|7|NM|150302^MDC_PRESS_CUFF_DIA^MDC|1.2.1.2|76|266016^MDC_DIM_MMHG^MDC|"
    "||||R|||20240515142930+0200|||^APERIODIC",
    "OBX|8|NM|150303^MDC_PRESS_CUFF_MEAN^MDC|1.2.1.3||266016^MDC_DIM_MMHG^MDC|"
    "||||R|||20240515142930+0200|||^APERIODIC",
    "OBX|9|NM|150344^MDC_TEMP^MDC|1.4.1.1|36.8|268192^MDC_DIM_DEGC^MDC|||||R",
    "OBR|2|MSG0001-2^AcmeGW^ACDE48234567ABCD^EUI-64||182777000^monitoring of patient^SNOMED-CT"
    "|||20240515122700+0000",
    "OBX|10|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.5.1.1|121|266016^MDC_DIM_MMHG^MDC|||||R",
    "OBX|11|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.5.1.2|79|266016^MDC_DIM_MMHG^MDC|||||R",
    "OBX|12|NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.5.1.3|93|266016^MDC_DIM_MMHG^MDC|||||R",
    "OBX|13|NM|149546^MDC_PULS_RATE_NON_INV^MDC|1.5.1.4|70|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R",
)


def decode(data: bytes, **options: object) -> tuple[Hl7Decoder, list[DecodedEvent]]:
    decoder = Hl7Decoder(**options)  # type: ignore[arg-type]
    events = decoder.feed(data)
    events += decoder.flush()
    return decoder, events


def samples_of(events: list[DecodedEvent]) -> list[DecodedSample]:
    return [e for e in events if isinstance(e, DecodedSample)]


def problems_of(events: list[DecodedEvent]) -> list[DecodeProblem]:
    return [e for e in events if isinstance(e, DecodeProblem)]


def acks_of(events: list[DecodedEvent]) -> list[hl7.Message]:
    """Each Reply unframed and parsed by the hl7 library (an independent parser)."""
    out = []
    for event in events:
        if isinstance(event, Reply):
            assert event.data.startswith(b"\x0b") and event.data.endswith(b"\x1c\r")
            out.append(hl7.parse(event.data[1:-2].decode()))
    return out


def oru(control_id: str = "1", obx: tuple[str, ...] = (), msh_15: str = "") -> str:
    return segments(
        f"MSH|^~\\&|GW|FAC|KATMONITOR|ROOM|20240101120000+0000||ORU^R01^ORU_R01|{control_id}"
        f"|P|2.6|||{msh_15}",
        "OBR|1|||182777000^monitoring of patient^SCT|||20240101120000+0000",
        *obx,
    )


SPO2_OBX = "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.1|96|262688^MDC_DIM_PERCENT^MDC|||||R"
BAD_UNIT_OBX = "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||96|266016^MDC_DIM_MMHG^MDC|||||R"


# --- the realistic message ---------------------------------------------------------------


def test_pcd01_message_gives_exact_samples_in_utc() -> None:
    decoder, events = decode(mllp_frame(PCD01_MESSAGE))
    monitor = utc(2024, 5, 15, 12, 29, 59)
    cuff = utc(2024, 5, 15, 12, 29, 30)
    standalone = utc(2024, 5, 15, 12, 27, 0)
    assert samples_of(events) == [
        DecodedSample(K.HR, 68.0, frozenset(), monitor),
        DecodedSample(K.SPO2, 97.0, frozenset(), monitor + 0.5),
        DecodedSample(K.PULSE_RATE, 67.0, frozenset(), monitor),
        DecodedSample(K.PERFUSION_INDEX, None, frozenset({"no_value"}), monitor),
        DecodedSample(K.NIBP_SYSTOLIC, 118.0, frozenset(), cuff),
        DecodedSample(K.NIBP_DIASTOLIC, 76.0, frozenset(), cuff),
        DecodedSample(K.NIBP_MEAN, None, frozenset({"no_value"}), cuff),
        # OBR-7 time; 3 min before MSH-7, so flagged as old; the NIBP pulse rate (149546) is
        # dropped because the oximeter's is better; the temperature is not ours.
        DecodedSample(K.NIBP_SYSTOLIC, 121.0, frozenset({"data_old"}), standalone),
        DecodedSample(K.NIBP_DIASTOLIC, 79.0, frozenset({"data_old"}), standalone),
        DecodedSample(K.NIBP_MEAN, 93.0, frozenset({"data_old"}), standalone),
    ]
    assert problems_of(events) == []
    assert (decoder.counters.good, decoder.counters.bad) == (1, 0)
    assert decoder.offset == len(mllp_frame(PCD01_MESSAGE))


def test_ack_fields_for_an_accepted_message() -> None:
    _, events = decode(mllp_frame(PCD01_MESSAGE))
    assert isinstance(events[-1], Reply)
    (ack,) = acks_of(events)
    assert str(ack.segment("MSH")(1)) == "|"
    assert ack["MSH.F3"] == "KATMONITOR"
    assert ack["MSH.F4"] == "DOSING-ROOM"  # the facility the message was sent to
    assert str(ack.segment("MSH")(5)) == "AcmeGW^ACDE48234567ABCD^EUI-64"
    assert ack["MSH.F6"] == "ICU-GW"
    assert ack["MSH.F7"] == "20240515143000.123+0200"  # echoed: deterministic, no clock
    assert str(ack.segment("MSH")(9)) == "ACK^R01^ACK"
    assert ack["MSH.F10"] == "ACKMSG0001"
    assert ack["MSH.F11"] == "P"
    assert ack["MSH.F12"] == "2.6"
    assert ack["MSA.F1"] == "AA"
    assert ack["MSA.F2"] == "MSG0001"
    with pytest.raises(KeyError):
        ack.segment("ERR")


def test_non_oru_message_gets_ae_with_reason() -> None:
    adt = segments(
        "MSH|^~\\&|ADT|HOSP|KATMONITOR|ROOM|20240101120000||ADT^A01^ADT_A01|A7|P|2.5",
        "PID|||1^^^H^MR||Doe^John",
    )
    decoder, events = decode(mllp_frame(adt))
    (ack,) = acks_of(events)
    assert ack["MSA.F1"] == "AE"
    assert ack["MSA.F2"] == "A7"
    assert "ADT^A01" in ack["MSA.F3"]  # escaped as \S\ on the wire, read back by hl7
    assert str(ack.segment("ERR")(3)) == "200^Unsupported message type^HL70357"
    assert ack["ERR.F4"] == "E"
    assert "ADT^A01" in ack["ERR.F8"]
    assert str(ack.segment("MSH")(9)) == "ACK^A01^ACK"
    assert samples_of(events) == []
    assert len(problems_of(events)) == 1
    assert decoder.counters.good == 1  # a well-formed message: the link is fine


def test_oru_with_only_observations_we_do_not_chart_is_still_accepted() -> None:
    # A gateway forwards every device; an AE would make some hold and retry their queue.
    temperature = "OBX|1|NM|150344^MDC_TEMP^MDC|1.1.1.1|36.8|268192^MDC_DIM_DEGC^MDC|||||R"
    _, events = decode(mllp_frame(oru("9", (temperature,))))
    (ack,) = acks_of(events)
    assert (ack["MSA.F1"], ack["MSA.F2"]) == ("AA", "9")
    assert samples_of(events) == []


def test_oru_whose_known_observations_are_all_unusable_gets_ae() -> None:
    wrong_unit = "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||96|266016^MDC_DIM_MMHG^MDC|||||R"
    wrong_type = "OBX|2|ST|147842^MDC_ECG_HEART_RATE^MDC||high|264864^MDC_DIM_BEAT_PER_MIN^MDC"
    _, events = decode(mllp_frame(oru("10", (wrong_unit, wrong_type))))
    (ack,) = acks_of(events)
    assert ack["MSA.F1"] == "AE"
    assert ack["ERR.F3"] == "102"
    assert "expected %" in ack["MSA.F3"] and "value type ST" in ack["MSA.F3"]
    assert samples_of(events) == []


def test_one_unusable_observation_is_reported_and_the_rest_accepted() -> None:
    wrong_unit = "OBX|2|NM|147842^MDC_ECG_HEART_RATE^MDC||60|262688^MDC_DIM_PERCENT^MDC|||||R"
    _, events = decode(mllp_frame(oru("11", (SPO2_OBX, wrong_unit))))
    assert [s.kind for s in samples_of(events)] == [K.SPO2]
    (problem,) = problems_of(events)
    assert "OBX 2" in problem.message and problem.offset == 0
    assert acks_of(events)[0]["MSA.F1"] == "AA"


@pytest.mark.parametrize(
    ("accept_ack", "obx", "expected"),
    [
        ("AL", (SPO2_OBX,), "CA"),
        ("AL", (BAD_UNIT_OBX,), "CE"),
        ("SU", (SPO2_OBX,), "CA"),
        ("SU", (BAD_UNIT_OBX,), None),
        ("ER", (SPO2_OBX,), None),
        ("ER", (BAD_UNIT_OBX,), "CE"),
        ("NE", (SPO2_OBX,), None),
        ("", (BAD_UNIT_OBX,), "AE"),
    ],
)
def test_enhanced_mode_sends_commit_acks_as_msh15_asks(
    accept_ack: str, obx: tuple[str, ...], expected: str | None
) -> None:
    _, events = decode(mllp_frame(oru("5", obx, msh_15=accept_ack)))
    codes = [ack["MSA.F1"] for ack in acks_of(events)]
    assert codes == ([expected] if expected else [])


def test_garbage_inside_a_frame_is_reported_without_ack() -> None:
    decoder, events = decode(b"\x0bthis is not HL7\rat all\x1c\r")
    assert events == [DecodeProblem(0, "no readable MSH segment", 22)]
    assert (decoder.counters.good, decoder.counters.bad) == (0, 1)


def test_unreadable_frame_with_a_header_later_gets_ar() -> None:
    frame = b"\x0b\x00\xff junk\r" + PCD01_MESSAGE.encode() + b"\x1c\r"
    decoder, events = decode(frame)
    (ack,) = acks_of(events)
    assert (ack["MSA.F1"], ack["MSA.F2"], ack["ERR.F3"]) == ("AR", "MSG0001", "101")
    assert samples_of(events) == []
    assert decoder.counters.bad == 1


def test_message_without_control_id_is_not_acked() -> None:
    message = segments("MSH|^~\\&|GW||||20240101||ORU^R01||P|2.6", SPO2_OBX)
    _, events = decode(mllp_frame(message))
    assert acks_of(events) == []
    assert [p.message for p in problems_of(events)] == ["MSH-9/MSH-10 missing"]


def test_build_ack_rewrites_a_sender_with_other_encoding_characters() -> None:
    message = "MSH|*~\\&|APP*EUI*EUI-64|FAC|KAT|ROOM|20240101||ORU*R01|X^1|P|2.6\rOBX|1"
    ack = hl7.parse(build_ack(message, "AE", "bad | thing"))
    assert str(ack.segment("MSH")(5)) == "APP^EUI^EUI-64"
    assert str(ack.segment("MSH")(9)) == "ACK^R01^ACK"
    assert ack["MSA.F2"] == "X^1"  # a literal ^ for that sender, escaped for us
    assert ack["MSA.F3"] == "bad | thing"
    with pytest.raises(ValueError):
        build_ack("PID|1", "AA")


# --- OBX details ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obx", "value", "status"),
    [
        ("OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^99LOCAL||95|262688", 95.0, set()),
        ("OBX|1|NM|^MDC_PULS_OXIM_SAT_O2^MDC||95|%^%^UCUM", 95.0, set()),
        ("OBX|1|NM|0002-4bb8^SpO2^MDIL||95|0004-0220^%^MDIL|||||F", 95.0, set()),
        ("OBX|1|NM|X1^SpO2^LOCAL^150456^MDC_PULS_OXIM_SAT_O2^MDC||95", 95.0, set()),
        ("OBX|1|NM|150456||95.5", 95.5, set()),
        ("OBX|1|NM|150456||abc|262688", None, {"no_value"}),
        ("OBX|1|NM|150456||-999.0|262688", None, {"no_value"}),
        ("OBX|1|NM|150456||nan|262688", None, {"no_value"}),
        ("OBX|1|NM|150456||95|262688|||||X", None, {"no_value"}),
        ("OBX|1|NM|150456||95|262688||questionable", 95.0, {"questionable"}),
        ("OBX|1|NM|150456||95|262688||H~msmt-ongoing", 95.0, {"measuring"}),
        ("OBX|1|NM|150456|||262688||NAV", None, {"no_value"}),
        ("OBX|1|NM|150456|||262688||PINF", None, {"over_range"}),
        ("OBX|1||150456|||||||X", None, {"no_value"}),
        ("OBX|1|NM|150301^MDC_PRESS_CUFF_SYS^MDC||16|265987^MDC_DIM_KILO_PASCAL^MDC", 120.0, set()),
    ],
)
def test_observation_variants(obx: str, value: float | None, status: set[str]) -> None:
    _, events = decode(mllp_frame(oru("1", (obx,))))
    (sample,) = samples_of(events)
    assert (sample.value, sample.status) == (value, frozenset(status))
    assert sample.device_time == utc(2024, 1, 1, 12, 0, 0)  # from OBR-7


@pytest.mark.parametrize(
    "obx",
    [
        "OBX|1|NM|150456||95|262688|||||D",  # deleted
        "OBX|1|NA|150452^MDC_PULS_OXIM_PLETH^MDC||1^2^3|262656",  # waveform: not handled
        "OBX|1|NM|150344^MDC_TEMP^MDC||36.6",
        "OBX|1|NM|999999^MDC_PULS_OXIM_SAT_O2^MDC||95",  # an explicit code decides
        "OBX",
    ],
)
def test_observations_that_are_ignored(obx: str) -> None:
    _, events = decode(mllp_frame(oru("1", (obx,))))
    assert samples_of(events) == []


def test_pulse_rate_from_nibp_only_until_a_better_source_appears() -> None:
    nibp_pr = "OBX|1|NM|149546^MDC_PULS_RATE_NON_INV^MDC||70|264864|||||R"
    oxim_pr = "OBX|2|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC||66|264864|||||R"
    decoder = Hl7Decoder()
    values = []
    for control_id, obx in (("1", (nibp_pr,)), ("2", (nibp_pr, oxim_pr)), ("3", (nibp_pr,))):
        events = decoder.feed(mllp_frame(oru(control_id, obx)))
        values.append([s.value for s in samples_of(events)])
    assert values == [[70.0], [66.0], []]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20240515142959+0200", utc(2024, 5, 15, 12, 29, 59)),
        ("20240515142959.25-0330", utc(2024, 5, 15, 18, 0, 59.25)),
        ("20240515142959-0030", utc(2024, 5, 15, 15, 0, 59)),
        ("20240515142959", utc(2024, 5, 15, 14, 29, 59)),
        ("202405151429", utc(2024, 5, 15, 14, 29, 0)),
        ("2024", utc(2024, 1, 1, 0, 0, 0)),
        ("20240515142959+0000^S", utc(2024, 5, 15, 14, 29, 59)),
        ("", None),
        ("2024051", None),
        ("20241315", None),
        ("20240515142959+2500", None),
        ("２０２４", None),
    ],
)
def test_parse_dtm(text: str, expected: float | None) -> None:
    assert parse_dtm(text) == (pytest.approx(expected) if expected is not None else None)


def test_times_without_zone_use_the_configured_offset() -> None:
    message = segments(
        "MSH|^~\\&|GW||||20240101120000||ORU^R01|1|P|2.6",
        "OBX|1|NM|150456||95|262688|||||R|||20240101115959",
    )
    _, events = decode(mllp_frame(message), local_utc_offset_s=3600.0)
    assert samples_of(events)[0].device_time == utc(2024, 1, 1, 10, 59, 59)


def test_format_dtm() -> None:
    assert format_dtm(utc(2024, 5, 15, 12, 29, 59)) == "20240515122959+0000"
    assert format_dtm(utc(2024, 5, 15, 12, 29, 59.25)) == "20240515122959.250+0000"
    assert parse_dtm(format_dtm(1_700_000_000.125)) == 1_700_000_000.125


# --- framing -------------------------------------------------------------------------------

STREAM_MESSAGES = [
    oru("1", (SPO2_OBX,)),
    PCD01_MESSAGE,
    oru("3", ("OBX|1|NM|150344^MDC_TEMP^MDC||36.6",), msh_15="AL"),
]


def stream(junk: bytes = b"") -> bytes:
    return junk.join(mllp_frame(m) for m in STREAM_MESSAGES)


def chunked(data: bytes, cuts: list[int], **options: object) -> list[DecodedEvent]:
    decoder = Hl7Decoder(**options)  # type: ignore[arg-type]
    events: list[DecodedEvent] = []
    bounds = [0, *sorted(cuts), len(data)]
    for start, end in itertools.pairwise(bounds):
        events += decoder.feed(data[start:end])
    return events + decoder.flush()


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_chunking_anywhere_gives_identical_events(data: st.DataObject) -> None:
    whole = stream(b"\r\nNOISE\x00\r\n")
    cuts = data.draw(st.lists(st.integers(0, len(whole)), max_size=30))
    assert chunked(whole, cuts) == chunked(whole, [])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_raw_capture_chunking_anywhere_gives_identical_events(data: st.DataObject) -> None:
    whole = "\r\n".join(STREAM_MESSAGES).encode()
    cuts = data.draw(st.lists(st.integers(0, len(whole)), max_size=30))
    assert chunked(whole, cuts, mllp=False) == chunked(whole, [], mllp=False)


def test_garbage_between_frames_is_reported_with_its_offset() -> None:
    first = mllp_frame(STREAM_MESSAGES[0])
    decoder, events = decode(first + b"\r\n  JUNK!\r\n" + mllp_frame(STREAM_MESSAGES[1]))
    junk_at = len(first) + 4  # after the frame's CR and the blank "\r\n  "
    assert problems_of(events) == [DecodeProblem(junk_at, "skipped 7 bytes between frames", 7)]
    second = [s for s in samples_of(events) if s.offset != 0]
    assert second and all(s.offset == len(first) + 11 for s in second)
    assert (decoder.counters.good, decoder.counters.bad) == (2, 1)


def test_blank_bytes_between_frames_are_not_a_problem() -> None:
    decoder, events = decode(stream(b"\r\n\n"))
    assert not any("skipped" in p.message for p in problems_of(events))
    assert decoder.counters.bad == 0


def test_truncated_frame_yields_nothing_until_completed() -> None:
    frame = mllp_frame(STREAM_MESSAGES[0])
    decoder = Hl7Decoder()
    assert decoder.feed(frame[:-2]) == []
    events = decoder.feed(frame[-2:])
    assert [s.kind for s in samples_of(events)] == [K.SPO2]
    assert decoder.flush() == []


def test_frame_cut_short_by_a_new_frame() -> None:
    partial = mllp_frame(STREAM_MESSAGES[0])[:40]
    _, events = decode(partial + mllp_frame(STREAM_MESSAGES[0]))
    assert problems_of(events) == [DecodeProblem(0, "frame cut short by a new frame", 40)]
    assert len(samples_of(events)) == 1


def test_unfinished_frame_at_end_of_stream() -> None:
    _, events = decode(b"\x0bMSH|^~\\&|GW")
    assert events == [DecodeProblem(0, "unfinished frame at end", 12)]


junk_pieces = st.sampled_from(
    [b"\x0b", b"\x1c", b"\r", b"\n", b"MSH|^~\\&|", b"|", b"^", b"~", b"\\", b"OBX|1|NM|150456|",
     b"ORU^R01", b"||||||||", b"\\X00\\", b"\\.sp9x\\", b"\xff\xfe", b"MSH", b"-999", b"+0200"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.binary(max_size=40), junk_pieces), max_size=40),
    st.booleans(),
)
def test_random_bytes_never_raise(pieces: list[bytes], mllp: bool) -> None:
    data = b"".join(pieces)
    decoder = Hl7Decoder(mllp=mllp)
    events = decoder.feed(data[: len(data) // 2])
    events += decoder.feed(data[len(data) // 2 :])
    events += decoder.flush()
    assert decoder.offset == len(data)
    assert all(isinstance(e, DecodedSample | DecodeProblem | Reply) for e in events)


def test_raw_capture_without_mllp() -> None:
    capture = ("garbage line\n" + "\n".join(m.rstrip("\r") for m in STREAM_MESSAGES[:2])).encode()
    decoder = Hl7Decoder(mllp=False)
    first = decoder.feed(capture)
    # The first message ends where the second begins; the second only at flush.
    assert [s.kind for s in samples_of(first)] == [K.SPO2]
    assert problems_of(first) == [DecodeProblem(0, "skipped 12 bytes before a message header", 12)]
    rest = decoder.flush()
    assert len(samples_of(rest)) == 10
    assert samples_of(rest)[0].offset == capture.index(b"MSH|^~\\&|AcmeGW")
    assert not any(isinstance(e, Reply) for e in first + rest)  # a capture has no peer
    assert decoder.last_ack is not None and "MSA|AA|MSG0001" in decoder.last_ack


# --- encoder round trip ----------------------------------------------------------------------


@pytest.mark.parametrize("family", ["cuff", "noninv"])
def test_build_oru_round_trip(family: str) -> None:
    values: dict[VitalKind, float | None] = {
        K.HR: 72.0,
        K.PULSE_RATE: 71.0,
        K.SPO2: None,
        K.PERFUSION_INDEX: 3.21,
        K.NIBP_SYSTOLIC: 128.0,
        K.NIBP_DIASTOLIC: 82.0,
        K.NIBP_MEAN: 97.0,
    }
    t = 1_700_000_000.5
    message = build_oru("77", t, values, nibp_time=t - 20, nibp_family=family, enhanced=False)
    parsed = hl7.parse(message)  # what we send is valid for an independent parser
    assert str(parsed.segment("MSH")(9)) == "ORU^R01^ORU_R01"
    assert len(parsed.segments("OBX")) == 8
    code = "150301" if family == "cuff" else "150021"
    (systolic,) = [s for s in parsed.segments("OBX") if s.extract_field(1, 3) == code]
    assert str(systolic(17)) == "^APERIODIC" and str(systolic(4)) == f"1.2.1.{code}"

    _, events = decode(mllp_frame(message))
    got = {s.kind: (s.value, s.status, s.device_time) for s in samples_of(events)}
    assert got == {
        kind: (
            value,
            frozenset() if value is not None else frozenset({"no_value"}),
            t - 20 if kind.name.startswith("NIBP") else t,
        )
        for kind, value in values.items()
    }
    assert acks_of(events)[0]["MSA.F1"] == "AA"


def test_build_oru_rejects_what_it_cannot_send() -> None:
    with pytest.raises(ValueError):
        build_oru("1", 0.0, {K.PLETH: 1.0})
    with pytest.raises(ValueError):
        build_oru("1", 0.0, {K.HR: 60.0}, nibp_family="arterial")


# --- emulator --------------------------------------------------------------------------------

START = 1_700_000_000.0


def test_emulator_sends_one_oru_per_second_and_nibp_on_its_cycle() -> None:
    emulator = Hl7Emulator(VitalsModel("normal", seed=3), START)
    decoder = Hl7Decoder()
    first = decoder.feed(emulator.advance(START + 2.5))  # seconds 0, 1, 2
    assert len(acks_of(first)) == 3
    assert [s.device_time for s in samples_of(first)] == [
        START + i for i in range(3) for _ in "1234"
    ]
    assert emulator.advance(START + 2.9) == b""
    at_three = samples_of(decoder.feed(emulator.advance(START + 3.0)))
    kinds = [s.kind for s in at_three]
    assert kinds == [K.HR, K.PULSE_RATE, K.SPO2, K.PERFUSION_INDEX, *NIBP]
    assert all(s.device_time == START + 3 and s.value is not None for s in at_three)
    later = samples_of(decoder.feed(emulator.advance(START + 183.0)))
    nibp_times = [s.device_time for s in later if s.kind == K.NIBP_SYSTOLIC]
    assert nibp_times == [START + 183.0]
    assert decoder.counters.bad == 0 and emulator.sent == 184


NIBP = (K.NIBP_SYSTOLIC, K.NIBP_DIASTOLIC, K.NIBP_MEAN)


def test_emulator_sensor_off_sends_no_oximeter_values() -> None:
    emulator = Hl7Emulator(VitalsModel("normal"), START)
    emulator.state.sensor_off = True
    samples = samples_of(Hl7Decoder().feed(emulator.advance(START + 1)))
    oximeter = [s for s in samples if s.kind in (K.SPO2, K.PULSE_RATE, K.PERFUSION_INDEX)]
    assert len(oximeter) == 6
    assert all(s.value is None and s.status == {"no_value"} for s in oximeter)
    assert all(s.value is not None for s in samples if s.kind == K.HR)


def test_emulator_tracks_acks() -> None:
    emulator = Hl7Emulator(VitalsModel("normal"), START)
    decoder = Hl7Decoder()
    for second in range(3):
        for event in decoder.feed(emulator.advance(START + second)):
            if isinstance(event, Reply):
                assert emulator.receive(event.data, START + second) == b""
    assert (emulator.sent, emulator.acked) == (3, 3)
    assert (emulator.last_ack_code, emulator.last_acked_id) == ("CA", "3")
    emulator.receive(b"\x0bnot an ack\x1c\r", START + 3)
    assert emulator.acked == 3


def test_emulator_is_deterministic() -> None:
    def run() -> bytes:
        emulator = Hl7Emulator(VitalsModel("hypertensive", seed=7), START)
        return emulator.advance(START + 10)

    assert run() == run()


def test_escape_sequences_and_other_encoding_characters() -> None:
    escaped = "OBX|1|NM|150456^SpO2 \\T\\ pulse^MDC||\\X3935\\|262688^MDC_DIM_PERCENT^MDC|||||R"
    _, events = decode(mllp_frame(oru("1", (escaped,))))
    assert [s.value for s in samples_of(events)] == [95.0]  # \X3935\ is "95" in hex

    other = segments(
        "MSH#*~\\&#GW#FAC#KAT#ROOM#20240101120000+0100##ORU*R01#42#P#2.6",
        "OBX#1#NM#150456*MDC_PULS_OXIM_SAT_O2*MDC##94#262688*MDC_DIM_PERCENT*MDC#####R",
    )
    _, events = decode(mllp_frame(other))
    assert [(s.value, s.device_time) for s in samples_of(events)] == [
        (94.0, utc(2024, 1, 1, 11, 0, 0))
    ]
    (ack,) = acks_of(events)
    assert (ack["MSA.F1"], ack["MSA.F2"], ack["MSH.F7"]) == ("AA", "42", "20240101120000+0100")


# --- what real monitors send: sentinels, demo flags, disagreeing codes, channels ---------------


@pytest.mark.parametrize(
    ("obx", "status"),
    [
        ("OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.1|-100|262688|||||R", {"no_value"}),
        ("OBX|1|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.3.1.2|-100|264864|||||R", {"no_value"}),
        ("OBX|1|NM|150456|1.3.1.1|-5|262688|||||R", {"invalid"}),
        ("OBX|1|NM|150302|1.2.1.2|20260101120000|266016|||||R", {"invalid"}),
    ],
)
def test_sentinels_and_impossible_values_never_become_values(obx: str, status: set[str]) -> None:
    _, events = decode(mllp_frame(oru("1", (obx,))))
    (sample,) = samples_of(events)
    assert sample.value is None and sample.status == status
    if "invalid" in status:
        assert "outside the plausible range" in problems_of(events)[0].message


@pytest.mark.parametrize(
    "obx",
    [
        "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.1|97|262688||DEMO|||R",
        "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.1|97|262688||D|||R",
        "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.1|97|262688||demo-data|||R",
        "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.1|97|262688|||||T",
    ],
)
def test_demo_and_test_flags_mark_the_value_demo(obx: str) -> None:
    _, events = decode(mllp_frame(oru("1", (obx,))))
    (sample,) = samples_of(events)
    assert (sample.value, sample.status) == (97.0, {"demo"})


def test_a_training_processing_id_marks_every_value_demo() -> None:
    message = oru("1", (SPO2_OBX,)).replace("|P|2.6|", "|T|2.6|")
    _, events = decode(mllp_frame(message))
    assert samples_of(events)[0].status == {"demo"}


def test_code_disagreeing_with_name_and_obx4_is_resolved_by_majority_and_reported() -> None:
    obx = (
        "OBX|1|NM|150031^MDC_PRESS_CUFF_SYS^MDC|1.2.1.150301|118|266016|||||R",
        "OBX|2|NM|150302^MDC_PRESS_CUFF_DIA^MDC|1.2.1.150302|76|266016|||||R",
    )
    _, events = decode(mllp_frame(oru("1", obx)))
    assert [(s.kind, s.value) for s in samples_of(events)] == [
        (VitalKind.NIBP_SYSTOLIC, 118.0),
        (VitalKind.NIBP_DIASTOLIC, 76.0),
    ]
    [problem] = problems_of(events)
    assert "disagree" in problem.message and "MDC_PRESS_CUFF_SYS" in problem.message
    assert acks_of(events)[0].segment("MSA")[1][0] == "AA"


def test_a_second_spo2_channel_is_its_own_channel() -> None:
    obx = (
        "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.150456|97|262688|||||R",
        "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.2.150456|91|262688|||||R",
    )
    _, events = decode(mllp_frame(oru("1", obx)) + mllp_frame(oru("2", obx[::-1])))
    got = [(s.value, s.channel) for s in samples_of(events)]
    # A new channel counts from its second message (a damaged OBX-4 must not make a source).
    assert got == [(97.0, ""), (91.0, "1.3.2"), (97.0, "")]
    assert "new channel '1.3.2.150456'" in problems_of(events)[0].message


def test_philips_pleth_pulse_rate_is_decoded() -> None:
    obx = "OBX|1|NM|0002-4822^NOM_PLETH_PULS_RATE^MDIL|1.3.1|72|0004-0aa0^bpm^MDIL|||||F"
    _, events = decode(mllp_frame(oru("1", (obx,))))
    [sample] = samples_of(events)
    assert (sample.kind, sample.value) == (VitalKind.PULSE_RATE, 72.0)


def test_samples_of_a_message_without_any_time_take_the_receive_time() -> None:
    message = segments(
        "MSH|^~\\&|GW|FAC|KATMONITOR|ROOM|||ORU^R01^ORU_R01|9|P|2.6",
        "OBR|1|||182777000^monitoring of patient^SCT",
        SPO2_OBX,
    )
    _, events = decode(mllp_frame(message))
    [sample] = samples_of(events)
    assert sample.device_time is None  # the link gives it the arrival time


def test_emulator_in_demo_mode_marks_every_value_demo() -> None:
    emulator = Hl7Emulator(VitalsModel("normal"), START)
    emulator.state.demo = True
    data = emulator.advance(START + 1)
    assert b"||DEMO|" in data
    samples = samples_of(Hl7Decoder().feed(data))
    assert samples and all(s.status == {"demo"} and s.value is not None for s in samples)


def test_emulator_sending_minus_100_for_no_value_gives_no_values() -> None:
    emulator = Hl7Emulator(VitalsModel("normal"), START, no_value="-100")
    emulator.state.sensor_off = True
    data = emulator.advance(START + 1)
    assert b"|-100|" in data
    oximeter = [s for s in samples_of(Hl7Decoder().feed(data)) if s.kind == K.SPO2]
    assert oximeter and all(s.value is None and s.status == {"no_value"} for s in oximeter)


def test_emulator_second_spo2_channel_is_decoded_as_its_own_channel() -> None:
    emulator = Hl7Emulator(VitalsModel("normal"), START, second_spo2_offset=-3.0)
    spo2 = [
        s for s in samples_of(Hl7Decoder().feed(emulator.advance(START + 2))) if s.kind == K.SPO2
    ]
    first = [s.value for s in spo2 if s.channel == ""]
    second = [s.value for s in spo2 if s.channel == "1.3.2"]
    assert (len(first), len(second)) == (3, 2)  # the new channel counts from its second message
    first = first[1:]
    assert all(b == a - 3.0 for a, b in zip(first, second, strict=True))
