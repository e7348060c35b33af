"""GE Datex-Ohmeda S/5 / CARESCAPE computer interface ("DRI"): codec and emulated monitor.

Sources: GE "S/5 Computer Interface Specification" (M1017617) and "Datex-Ohmeda Record (DRI)
Specification" (8005313), as restated in docs/protocols.md section 1.

Wire format: each record travels in one frame ``7E <escaped record + checksum> 7E``. The checksum
is the 8-bit sum of the unescaped record bytes; inside the frame 0x7E is sent as 7D 5E and 0x7D
as 7D 5D (the checksum is escaped too). Unescaping is ``7D XX -> XX ^ 0x20`` (HDLC style; the
OR-0x7C shortcut of one open implementation only happens to work for 5E and 5D).

A record is a 40-byte little-endian header (length, number, DRI level, plug id, Unix time,
main type, 8 subrecord descriptors) followed by its subrecords. Nothing is sent until the host
asks: :func:`phdb_request` for numerics, :func:`waveform_request` for waveforms.

Decoding choices (documented here because the specification leaves them to the host):
- Only *displayed values* subrecords (type 1) of the *basic* class produce samples; the class is
  read from ``cl_drilvl_subt`` bits 8-11, never from the subrecord's position.
- A group is skipped when its status says the module does not exist (bit 0).
- HR is the monitor's displayed HR whatever its source; when the ECG status says the source is
  the pleth (bits 3-6 == 6) the sample carries ``source_pleth``, so consumers can tell that HR
  and PULSE_RATE are then the same measurement.
- NIBP is repeated in every record; it is emitted once per measurement (keyed by the aux
  ``nibp_time`` when the record carries one, else by the values), with ``device_time`` = the
  measurement time, so a 3-minute-old reading never looks fresh.
- SpO2 has no probe-off bit. When the SpO2 module exists and is active but the SpO2 value is
  "invalid" or "not updated", we infer ``sensor_off`` (DecodedStatus), and clear it when a value
  returns. This is an inference, not a device flag.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from zlib import adler32

import numpy as np

from devices.codec import (
    DecodedEvent,
    DecodedSample,
    DecodedStatus,
    DecodedWaveform,
    DecodeProblem,
    Decoder,
    Emulator,
)
from katmonitor.base.vitals import VitalKind

if TYPE_CHECKING:
    from devices.simulated import VitalsModel

# --- Serial link -------------------------------------------------------------------------------

SERIAL_SETTINGS: dict[str, int | str | bool] = {
    "baudrate": 19200,
    "bytesize": 8,
    "parity": "E",
    "stopbits": 1,
    "rtscts": True,
}
FAST_BAUDRATE = 115200  # CARESCAPE software v3 and later can be set to this

# --- Framing -----------------------------------------------------------------------------------

FLAG = 0x7E
ESCAPE = 0x7D
ESCAPE_XOR = 0x20
MAX_RECORD_BYTES = 1490  # 40-byte header + 1450 bytes of subrecords
_MAX_FRAME_BYTES = 2 * MAX_RECORD_BYTES  # unescaped; longer means a lost flag: resync

# --- Record header -----------------------------------------------------------------------------

HEADER_SIZE = 40
MAX_SUBRECORDS = 8
END_OF_LIST = 0xFF
MT_PHDB = 0  # physiological data (and its requests)
MT_WAVE = 1  # waveforms (and their requests)

_HEADER = struct.Struct("<hBBHIB3xh")  # r_len .. r_maintype: 16 bytes
_SR_DESC = struct.Struct("<hB")  # sr_offset (from the start of the data area), sr_type
_HEADER_AND_TABLE = struct.Struct(_HEADER.format + "hB" * MAX_SUBRECORDS)  # all 40 bytes
_SR_FIELDS = range(7, 7 + 2 * MAX_SUBRECORDS, 2)  # (sr_offset, sr_type) at [i], [i + 1]
_U32 = struct.Struct("<I")
_I16 = struct.Struct("<h")

# --- Physiological data --------------------------------------------------------------------------

PH_REQUEST = 0  # subrecord type of a host request
PH_DISPLAYED = 1
PH_TREND_10S = 2
PH_TREND_60S = 3
PH_AUX_INFO = 4

CLASS_BASIC = 0
CLASS_EXT1 = 1
CLASS_EXT2 = 2
CLASS_EXT3 = 3
# phdb_class_bf bits: basic is always sent (unless denied with bit 0); these add classes.
CLASS_BITS_EXT1 = 0x02
CLASS_BITS_EXT2 = 0x04
CLASS_BITS_EXT3 = 0x08
ALL_CLASSES = CLASS_BITS_EXT1 | CLASS_BITS_EXT2 | CLASS_BITS_EXT3  # 0x0E, the official vector

MIN_DISPLAYED_INTERVAL_S = 5
INTERVAL_ONCE = -1
INTERVAL_STOP = 0

_PHDB_REQUEST = struct.Struct("<BhIh")  # phdb_rcrd_type, tx_ival, phdb_class_bf, reserved
PHDB_SUBRECORD_SIZE = 278  # time u32, 270 bytes class data, marker, reserved, cl_drilvl_subt
CLASS_DATA_SIZE = 270
_PHDB_TAIL = struct.Struct("<BBH")
_GROUP_HEADER = struct.Struct("<IH")  # status, label

# Basic class, offsets within the 270 bytes of class data.
ECG_GROUP = 0
ECG_HR = 6
NIBP_GROUP = 72
NIBP_SYS = 78
NIBP_DIA = 80
NIBP_MEAN = 82
NIBP_PULSE = 84
SPO2_GROUP = 118
SPO2_VALUE = 124
SPO2_PULSE = 126
SPO2_IR_AMP = 128

STATUS_EXISTS = 0x01
STATUS_ACTIVE = 0x02
HR_SOURCE_SHIFT = 3
HR_SOURCE_MASK = 0x0F
HR_SOURCE_PLETH = 6
NIBP_LABEL_MEASURING = 1 << 5
NIBP_LABEL_DATA_OLD = 1 << 8  # data older than 60 s
_NIBP_LABEL_WORDS = ((NIBP_LABEL_MEASURING, "measuring"), (NIBP_LABEL_DATA_OLD, "data_old"))

# Values <= -32001 are codes, not measurements.
INVALID = -32767
NOT_UPDATED = -32766
UNDER_RANGE = -32764
OVER_RANGE = -32763
NOT_CALIBRATED = -32762
_LAST_CODE = -32001
_CODE_REASONS = {
    INVALID: "invalid",
    NOT_UPDATED: "not_updated",
    UNDER_RANGE: "under_range",
    OVER_RANGE: "over_range",
    NOT_CALIBRATED: "not_calibrated",
}
_NO_VALUE_REASONS = frozenset({"invalid", "not_updated"})  # what we read as "probe off"

# --- Waveforms ---------------------------------------------------------------------------------

WF_CMD = 0  # subrecord type of a waveform request
WF_PLETH = 8
WF_REQ_CONT_START = 0
WF_REQ_CONT_STOP = 1
PLETH_RATE_HZ = 100.0
# Waveform request subrecord: req_type int16, res int16, type[8] u8 (0xFF ends the list),
# reserved int16[10] = 32 bytes. This is our reading of the DRI specification, shared by three
# open implementations (VSCapture, icu_devices, monitor_serial); one other declares an extra
# addl_type[16] field. We could not check it against an official byte vector.
_WAVE_REQUEST = struct.Struct("<hh8s20x")
_WF_HEADER = struct.Struct("<hHH")  # act_len (samples), status, label
WF_STATUS_GAP = 0x01
WF_STATUS_LEAD_OFF = 0x08


# --- Framing -----------------------------------------------------------------------------------


def checksum(record: bytes) -> int:
    return sum(record) & 0xFF


def escape_frame(record: bytes) -> bytes:
    """``record`` + its checksum, escaped and wrapped in flags: the bytes on the wire."""
    out = bytearray([FLAG])
    for byte in record + bytes([checksum(record)]):
        if byte in (FLAG, ESCAPE):
            out += bytes([ESCAPE, byte ^ ESCAPE_XOR])
        else:
            out.append(byte)
    out.append(FLAG)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Frame:
    """One deframed unit: a record whose checksum and length checked out, or a problem."""

    offset: int
    """Stream offset of the frame's opening flag (or of the first skipped byte)."""
    length: int
    record: bytes | None
    problem: str = ""
    bad: bool = False
    """True for a damaged frame (counts toward the checksum-error rate)."""


class Deframer:
    """Incremental 0x7E framing: feed any chunks, get complete frames (good or bad).

    Splits each chunk at its flags in one call (bytes.split) rather than walking it byte by
    byte: decoding keeps up with a 115200-baud link more than a thousand times over.
    """

    def __init__(self) -> None:
        self._offset = 0  # stream offset of the next byte
        self._synced = False
        self._start = 0
        self._raw = bytearray()  # escaped bytes since the opening flag
        self._skipped = 0  # bytes seen outside any frame (before the first flag, after a resync)

    def feed(self, chunk: bytes) -> list[Frame]:
        return [Frame(*frame) for frame in self._scan(chunk)]

    def _scan(self, chunk: bytes) -> list[_FrameTuple]:
        """What :meth:`feed` returns, as plain (offset, length, record, problem, bad) tuples:
        the decoder's hot path, which would otherwise build a Frame per record."""
        frames: list[_FrameTuple] = []
        at = self._offset  # stream offset of the current segment
        self._offset += len(chunk)
        synced, start, raw, skipped = self._synced, self._start, self._raw, self._skipped
        segments = chunk.split(_FLAG_BYTE)
        tail = segments.pop()  # the bytes after the last flag: no flag closes them yet
        for segment in segments:  # each one ends at a flag
            if not segment and not raw and not skipped:
                # The empty run between frames (7E 7E): this flag only opens the next frame.
                synced = True
                start = at
                at += 1
                continue
            size = len(segment)
            escaped = None  # the frame's escaped bytes, when this flag closes one
            if size and synced:
                if raw:
                    raw += segment
                    escaped = raw
                else:
                    escaped = segment  # the usual case: a whole frame inside the chunk
                if len(escaped) > _MAX_FRAME_BYTES:
                    # A lost end flag: drop what we have and wait for the next flag.
                    frames.append((start, at + size - start, None, "frame too long", True))
                    synced = False
                    escaped = None
            elif size:
                skipped += size
            elif synced and raw:
                escaped = raw
            at += size  # now the flag's offset
            if skipped:
                message = f"{skipped} bytes outside a frame skipped"
                frames.append((at - skipped, skipped, None, message, False))
                skipped = 0
            elif escaped is not None:
                frames.append(_check_frame(escaped, start, at - start + 1))
            # Every flag may open a frame: frames either share flags or come as 7E..7E 7E..7E.
            synced = True
            start = at
            if raw:
                raw.clear()
            at += 1
        if tail:
            if synced:
                raw += tail
                if len(raw) > _MAX_FRAME_BYTES:
                    frames.append((start, at + len(tail) - start, None, "frame too long", True))
                    synced = False
                    raw.clear()
            else:
                skipped += len(tail)
        self._synced, self._start, self._skipped = synced, start, skipped
        return frames


# (offset, length, record, problem, bad): a Frame's fields, without building the object.
_FrameTuple = tuple[int, int, "bytes | None", str, bool]


def _check_frame(escaped: bytes | bytearray, start: int, length: int) -> _FrameTuple:
    """Unescape one frame's bytes and check them: a good record or a bad frame."""
    # ESCAPE, an int: `bytes in bytes` first tries its operand as an int (raising and clearing
    # a TypeError), which costs more than the search itself.
    if ESCAPE in escaped:
        data = _unescape(escaped)
        if data is None:
            return (start, length, None, "escape byte before the end flag", True)
    else:
        data = bytes(escaped)  # copies only a frame that spanned chunks (a bytearray)
    size = len(data) - 1  # without the checksum
    if size < HEADER_SIZE:
        return (start, length, None, f"frame too short ({size + 1} bytes)", True)
    record, received = data[:-1], data[-1]
    computed = _byte_sum(record) & 0xFF
    if computed != received:
        message = f"bad checksum (got {received:#04x}, computed {computed:#04x})"
        return (start, length, None, message, True)
    # The length field guards against a damaged escape that leaves the sum intact.
    (r_len,) = _I16.unpack_from(record, 0)
    if r_len != size:
        message = f"record length field {r_len} but {size} bytes received"
        return (start, length, None, message, True)
    return (start, length, record, "", False)


def _byte_sum(data: bytes) -> int:
    """sum(data), without a Python-level loop over the bytes: the low half of Adler-32 is
    1 + sum(data) mod 65521, exact up to 256 bytes (1 + 255 * 256 < 65521), and zlib
    computes it in C. Longer data is summed 256 bytes at a time."""
    if len(data) <= _ADLER_EXACT_BYTES:
        return (adler32(data) & 0xFFFF) - 1
    total = 0
    for at in range(0, len(data), _ADLER_EXACT_BYTES):
        total += (adler32(data[at : at + _ADLER_EXACT_BYTES]) & 0xFFFF) - 1
    return total


_ADLER_EXACT_BYTES = 256
_FLAG_BYTE = bytes([FLAG])
_ESCAPE_BYTE = bytes([ESCAPE])


def _unescape(raw: bytes | bytearray) -> bytes | None:
    """7D XX -> XX ^ 0x20 (not XX | 0x7C); None when the frame ends inside an escape."""
    escapes = raw.count(_ESCAPE_BYTE)
    if not escapes:
        return bytes(raw)
    if escapes == raw.count(_ESCAPED_FLAG) + raw.count(_ESCAPED_ESCAPE):
        # Every 7D starts a 7D 5E or 7D 5D pair (the usual case): substituting the pairs in
        # C gives the same bytes as the loop below.
        return bytes(raw.replace(_ESCAPED_FLAG, _FLAG_BYTE).replace(_ESCAPED_ESCAPE, _ESCAPE_BYTE))
    out = bytearray()
    position = 0
    while True:
        escape = raw.find(_ESCAPE_BYTE, position)
        if escape < 0:
            out += raw[position:]
            return bytes(out)
        out += raw[position:escape]
        if escape + 1 >= len(raw):
            return None
        out.append(raw[escape + 1] ^ ESCAPE_XOR)
        position = escape + 2


_ESCAPED_FLAG = bytes([ESCAPE, FLAG ^ ESCAPE_XOR])
_ESCAPED_ESCAPE = bytes([ESCAPE, ESCAPE ^ ESCAPE_XOR])


# --- Records -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordHeader:
    r_len: int
    r_nbr: int
    dri_level: int
    plug_id: int
    r_time: int
    maintype: int
    subrecords: tuple[tuple[int, int], ...]
    """(sr_offset from the start of the data area, sr_type), up to the 0xFF terminator."""


def build_record(
    maintype: int,
    subrecords: Sequence[tuple[int, bytes]],
    *,
    time_s: int = 0,
    record_number: int = 0,
    dri_level: int = 0,
    plug_id: int = 0,
) -> bytes:
    """An unframed record: header (with subrecord offsets) + the (sr_type, data) subrecords."""
    if len(subrecords) > MAX_SUBRECORDS:
        raise ValueError(f"at most {MAX_SUBRECORDS} subrecords per record")
    body = b"".join(data for _, data in subrecords)
    header = bytearray(HEADER_SIZE)
    length = HEADER_SIZE + len(body)
    number = record_number & 0xFF
    _HEADER.pack_into(header, 0, length, number, dri_level, plug_id, time_s, 0, maintype)
    offset = 0
    for index, (sr_type, data) in enumerate(subrecords):
        _SR_DESC.pack_into(header, _HEADER.size + index * _SR_DESC.size, offset, sr_type)
        offset += len(data)
    if len(subrecords) < MAX_SUBRECORDS:
        _SR_DESC.pack_into(header, _HEADER.size + len(subrecords) * _SR_DESC.size, 0, END_OF_LIST)
    return bytes(header) + body


def parse_header(record: bytes) -> RecordHeader:
    """The header of an unframed record (ValueError when shorter than a header)."""
    if len(record) < HEADER_SIZE:
        raise ValueError(f"record of {len(record)} bytes is shorter than its header")
    fields = _HEADER_AND_TABLE.unpack_from(record, 0)
    r_len, r_nbr, dri_level, plug_id, r_time, _subnet, maintype = fields[:7]
    return RecordHeader(r_len, r_nbr, dri_level, plug_id, r_time, maintype, _subrecords(fields))


def _subrecords(fields: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """The (sr_offset, sr_type) pairs of unpacked header ``fields``, up to the terminator."""
    subrecords: list[tuple[int, int]] = []
    for index in _SR_FIELDS:
        if fields[index + 1] == END_OF_LIST:
            break
        subrecords.append((fields[index], fields[index + 1]))
    return tuple(subrecords)


# --- Requests (host -> monitor) ----------------------------------------------------------------


def phdb_request(
    record_type: int = PH_DISPLAYED, interval_s: int = 10, class_bits: int = 0
) -> bytes:
    """Framed physiological-data request. ``interval_s``: >= 5 for displayed values, -1 once,
    0 stop. ``class_bits``: ALL_CLASSES (0x0E) adds EXT1-3 to the always-sent basic class."""
    payload = _PHDB_REQUEST.pack(record_type, interval_s, class_bits, 0)
    return escape_frame(build_record(MT_PHDB, [(PH_REQUEST, payload)]))


def waveform_request(types: Sequence[int] = (WF_PLETH,), request: int = WF_REQ_CONT_START) -> bytes:
    """Framed waveform request (continuous start, or stop) for up to 8 waveform subtypes."""
    if len(types) > 8:
        raise ValueError("at most 8 waveforms per request")
    listed = bytes(types) + bytes([END_OF_LIST]) * (8 - len(types))
    payload = _WAVE_REQUEST.pack(request, 0, listed)
    return escape_frame(build_record(MT_WAVE, [(WF_CMD, payload)]))


@dataclass(frozen=True, slots=True)
class PhdbRequest:
    record_type: int
    interval_s: int
    class_bits: int


@dataclass(frozen=True, slots=True)
class WaveRequest:
    request: int
    types: tuple[int, ...]


def parse_request(record: bytes) -> PhdbRequest | WaveRequest | None:
    """A host request carried by an unframed record, or None if it is not one."""
    try:
        header = parse_header(record)
        data = record[HEADER_SIZE:]
        for sr_offset, sr_type in header.subrecords:
            if header.maintype == MT_PHDB and sr_type == PH_REQUEST:
                record_type, interval, class_bits, _ = _PHDB_REQUEST.unpack_from(data, sr_offset)
                return PhdbRequest(record_type, interval, class_bits)
            if header.maintype == MT_WAVE and sr_type == WF_CMD:
                request, _, listed = _WAVE_REQUEST.unpack_from(data, sr_offset)
                types = listed.split(bytes([END_OF_LIST]))[0]
                return WaveRequest(request, tuple(types))
    except (ValueError, struct.error):
        return None
    return None


# --- Monitor records (encoder side, used by the emulator and tests) ----------------------------


def _raw(value: float | None, scale: float) -> int:
    """A value in DRI units (value * scale), or INVALID for a missing one."""
    if value is None or value != value:  # None or NaN
        return INVALID
    return max(-32000, min(32767, round(value * scale)))


def encode_basic_class(
    values: dict[VitalKind, float | None], *, sensor_off: bool = False, nibp_label: int = 0
) -> bytes:
    """270 bytes of basic-class data with the ECG, NIBP and SpO2 groups present and active.

    Kinds missing from ``values`` (or None) are sent as INVALID; ``sensor_off`` sends SpO2, PR
    and PI as INVALID, as a monitor does with the probe off.
    """
    data = bytearray(CLASS_DATA_SIZE)
    present = STATUS_EXISTS | STATUS_ACTIVE
    for group in (ECG_GROUP, NIBP_GROUP, SPO2_GROUP):
        _GROUP_HEADER.pack_into(data, group, present, nibp_label if group == NIBP_GROUP else 0)
    oximetry = {VitalKind.SPO2, VitalKind.PULSE_RATE, VitalKind.PERFUSION_INDEX}
    fields = (
        (VitalKind.HR, ECG_HR, 1),
        (VitalKind.NIBP_SYSTOLIC, NIBP_SYS, 100),
        (VitalKind.NIBP_DIASTOLIC, NIBP_DIA, 100),
        (VitalKind.NIBP_MEAN, NIBP_MEAN, 100),
        (VitalKind.SPO2, SPO2_VALUE, 100),
        (VitalKind.PULSE_RATE, SPO2_PULSE, 1),
        (VitalKind.PERFUSION_INDEX, SPO2_IR_AMP, 100),
    )
    for kind, offset, scale in fields:
        value = None if sensor_off and kind in oximetry else values.get(kind)
        _I16.pack_into(data, offset, _raw(value, scale))
    _I16.pack_into(data, NIBP_PULSE, INVALID)
    return bytes(data)


def phdb_subrecord(time_s: int, class_data: bytes, *, phdb_class: int = CLASS_BASIC) -> bytes:
    """A 278-byte physiological subrecord; the class goes to cl_drilvl_subt bits 8-11."""
    if len(class_data) != CLASS_DATA_SIZE:
        raise ValueError(f"class data must be {CLASS_DATA_SIZE} bytes")
    return _U32.pack(time_s) + class_data + _PHDB_TAIL.pack(0, 0, (phdb_class & 0x0F) << 8)


def aux_subrecord(nibp_time: int) -> bytes:
    """Auxiliary information (aux_phdb_info, 114 bytes): nibp_time first, the rest zero."""
    return _U32.pack(nibp_time) + bytes(110)


def build_displayed_values_frame(
    time_s: int,
    values: dict[VitalKind, float | None],
    *,
    nibp_time: int | None,
    sensor_off: bool,
    record_number: int = 0,
) -> bytes:
    """A framed displayed-values record (basic class), with an aux subrecord when the NIBP
    measurement time is known."""
    data = encode_basic_class(values, sensor_off=sensor_off)
    subrecords = [(PH_DISPLAYED, phdb_subrecord(time_s, data))]
    if nibp_time is not None:
        subrecords.append((PH_AUX_INFO, aux_subrecord(nibp_time)))
    return escape_frame(
        build_record(MT_PHDB, subrecords, time_s=time_s, record_number=record_number, dri_level=10)
    )


def pleth_subrecord(values: np.ndarray, *, status: int = 0) -> bytes:
    """Waveform subrecord: 6-byte header + int16 samples in 1/100 % (NaN -> INVALID)."""
    scaled = np.asarray(values, dtype=np.float64) * 100.0
    raw = np.where(np.isnan(scaled), INVALID, np.clip(np.round(scaled), -32000, 32767))
    return _WF_HEADER.pack(len(raw), status, 0) + raw.astype("<i2").tobytes()


def build_pleth_frame(
    time_s: int, values: np.ndarray, *, gap: bool = False, record_number: int = 0
) -> bytes:
    """A framed waveform record holding one pleth subrecord (100 samples/s)."""
    sub = pleth_subrecord(values, status=WF_STATUS_GAP if gap else 0)
    record = build_record(
        MT_WAVE, [(WF_PLETH, sub)], time_s=time_s, record_number=record_number, dri_level=10
    )
    return escape_frame(record)


# --- Decoder -----------------------------------------------------------------------------------


def _sample(
    kind: VitalKind,
    block: bytes,
    at: int,
    scale: float,
    extra: frozenset[str],
    device_time: float | None,
    offset: int,
) -> DecodedSample:
    """The int16 at ``at`` in DRI units (value * scale); codes <= -32001 give value None."""
    (raw,) = _I16.unpack_from(block, at)
    if raw <= _LAST_CODE:
        reason = _CODE_REASONS.get(raw, "invalid")
        return DecodedSample(kind, None, extra | {reason}, device_time, offset)
    return DecodedSample(kind, raw / scale, extra, device_time, offset)


class GeDriDecoder(Decoder):
    protocol = "ge-dri"

    def __init__(self) -> None:
        super().__init__()
        self._deframer = Deframer()
        self._last_nibp: tuple[int | None, int, int, int] | None = None
        self._sensor_off: bool | None = None  # None until the first SpO2 group says

    def requests_on_connect(self) -> bytes:
        # Basic class at the fastest displayed-values rate, then the pleth waveform.
        return phdb_request(PH_DISPLAYED, MIN_DISPLAYED_INTERVAL_S, 0) + waveform_request()

    def periodic_request(self) -> tuple[float, bytes] | None:
        # A monitor that restarted forgets requests; re-asking keeps (or resumes) the stream.
        return 60.0, self.requests_on_connect()

    def feed(self, chunk: bytes) -> list[DecodedEvent]:
        events: list[DecodedEvent] = []
        pleth = _PlethBatch()
        counters = self.counters
        for offset, length, record, problem, bad in self._deframer._scan(chunk):
            if record is None:
                if bad:
                    counters.bad += 1
                events.append(DecodeProblem(offset, problem, length))
                continue
            counters.good += 1
            try:
                # Waveform records are most of the stream: straight to their decoder, with no
                # RecordHeader object (the deframer only passes records of >= 40 bytes).
                fields = _HEADER_AND_TABLE.unpack_from(record, 0)
                if fields[6] == MT_WAVE:
                    self._decode_wave(fields, record, offset, events, pleth)
                else:
                    events += self._decode_record(record, offset)
            except (ValueError, struct.error) as error:  # a well-framed but malformed record
                events.append(DecodeProblem(offset, f"malformed record: {error}", length))
        pleth.finish(events)
        self.offset += len(chunk)
        return events

    def _decode_record(self, record: bytes, offset: int) -> list[DecodedEvent]:
        header = parse_header(record)
        events: list[DecodedEvent] = []
        if header.maintype == MT_PHDB:
            events = self._decode_phdb(header, record[HEADER_SIZE:], offset)
        elif header.maintype == MT_WAVE:
            pleth = _PlethBatch()
            self._decode_wave(
                _HEADER_AND_TABLE.unpack_from(record, 0), record, offset, events, pleth
            )
            pleth.finish(events)
        return events  # other main types (alarms, network management): not used

    def _decode_phdb(self, header: RecordHeader, data: bytes, offset: int) -> list[DecodedEvent]:
        events: list[DecodedEvent] = []
        nibp_time: int | None = None
        for sr_offset, sr_type in header.subrecords:
            if sr_type == PH_AUX_INFO:
                if 0 <= sr_offset <= len(data) - _U32.size:
                    nibp_time = _U32.unpack_from(data, sr_offset)[0] or None
                else:
                    events.append(DecodeProblem(offset, "aux subrecord outside the record"))
        for sr_offset, sr_type in header.subrecords:
            if sr_type != PH_DISPLAYED:
                continue  # trends are not requested; aux handled above
            if not 0 <= sr_offset <= len(data) - PHDB_SUBRECORD_SIZE:
                events.append(DecodeProblem(offset, "physiological subrecord outside the record"))
                continue
            sub = data[sr_offset : sr_offset + PHDB_SUBRECORD_SIZE]
            (sub_time,) = _U32.unpack_from(sub, 0)
            _marker, _reserved, cl_drilvl_subt = _PHDB_TAIL.unpack_from(sub, 4 + CLASS_DATA_SIZE)
            if (cl_drilvl_subt >> 8) & 0x0F != CLASS_BASIC:
                continue
            time = sub_time or header.r_time
            device_time = float(time) if time else None
            block = sub[4 : 4 + CLASS_DATA_SIZE]
            events.extend(self._decode_basic(block, device_time, nibp_time, offset))
        return events

    def _decode_basic(
        self, block: bytes, device_time: float | None, nibp_time: int | None, offset: int
    ) -> list[DecodedEvent]:
        events: list[DecodedEvent] = []
        none: frozenset[str] = frozenset()

        ecg_status, _ = _GROUP_HEADER.unpack_from(block, ECG_GROUP)
        if ecg_status & STATUS_EXISTS:
            source = (ecg_status >> HR_SOURCE_SHIFT) & HR_SOURCE_MASK
            words = frozenset({"source_pleth"}) if source == HR_SOURCE_PLETH else none
            events.append(_sample(VitalKind.HR, block, ECG_HR, 1, words, device_time, offset))

        nibp_status, nibp_label = _GROUP_HEADER.unpack_from(block, NIBP_GROUP)
        key = (nibp_time, *struct.unpack_from("<hhh", block, NIBP_SYS))
        if nibp_status & STATUS_EXISTS and key != self._last_nibp:
            self._last_nibp = key  # once per measurement, not once per record
            words = frozenset(word for bit, word in _NIBP_LABEL_WORDS if nibp_label & bit)
            when = float(nibp_time) if nibp_time else device_time
            for kind, at in (
                (VitalKind.NIBP_SYSTOLIC, NIBP_SYS),
                (VitalKind.NIBP_DIASTOLIC, NIBP_DIA),
                (VitalKind.NIBP_MEAN, NIBP_MEAN),
            ):
                events.append(_sample(kind, block, at, 100, words, when, offset))

        spo2_status, _ = _GROUP_HEADER.unpack_from(block, SPO2_GROUP)
        if spo2_status & STATUS_EXISTS:
            spo2 = _sample(VitalKind.SPO2, block, SPO2_VALUE, 100, none, device_time, offset)
            if spo2_status & STATUS_ACTIVE:
                off = spo2.value is None and bool(spo2.status & _NO_VALUE_REASONS)
                if off != self._sensor_off:
                    self._sensor_off = off
                    conditions = frozenset({"sensor_off"}) if off else none
                    message = "SpO2 has no value: probe off (inferred)" if off else ""
                    events.append(DecodedStatus(conditions, message, device_time, offset))
            events.append(spo2)
            for kind, at, scale in (
                (VitalKind.PULSE_RATE, SPO2_PULSE, 1),
                (VitalKind.PERFUSION_INDEX, SPO2_IR_AMP, 100),
            ):
                events.append(_sample(kind, block, at, scale, none, device_time, offset))
        return events

    def _decode_wave(
        self,
        fields: tuple[int, ...],
        record: bytes,
        offset: int,
        events: list[DecodedEvent],
        pleth: _PlethBatch,
    ) -> None:
        """The pleth subrecords of a waveform record, whose header unpacked (with
        _HEADER_AND_TABLE) to ``fields``: problems go to ``events`` now, waveforms to
        ``pleth``, which puts them in ``events`` when it is finished."""
        r_time = fields[4]
        device_time = float(r_time) if r_time else None
        data_size = len(record) - HEADER_SIZE  # sr_offset counts from the data area
        for index in _SR_FIELDS:
            sr_type = fields[index + 1]
            if sr_type == END_OF_LIST:
                break
            if sr_type != WF_PLETH:
                continue
            sr_offset = fields[index]
            if not 0 <= sr_offset <= data_size - _WF_HEADER.size:
                events.append(DecodeProblem(offset, "waveform subrecord outside the record"))
                continue
            count, status, _label = _WF_HEADER.unpack_from(record, HEADER_SIZE + sr_offset)
            start = sr_offset + _WF_HEADER.size
            if count < 0 or start + 2 * count > data_size:
                events.append(DecodeProblem(offset, f"waveform of {count} samples overruns"))
                continue
            start += HEADER_SIZE
            pleth.samples.append(record[start : start + 2 * count])
            pleth.pending.append(
                (len(events), count, _WAVE_STATUS[status & _WAVE_BITS], device_time, offset)
            )
            events.append(_PENDING)


class _PlethBatch:
    """The pleth subrecords of one chunk, turned into values with one numpy call rather than
    two per 25-sample record (numpy's per-call cost is most of the work on arrays this small).
    Each one holds a place in the events until :meth:`finish` puts its DecodedWaveform there.
    """

    __slots__ = ("pending", "samples")

    def __init__(self) -> None:
        self.samples: list[bytes] = []  # each subrecord's int16 samples, as sent
        self.pending: list[tuple[int, int, frozenset[str], float | None, int]] = []
        """(index in the events, sample count, status, device_time, offset) per subrecord."""

    def finish(self, events: list[DecodedEvent]) -> None:
        if not self.pending:
            return
        values = _PLETH_VALUES.take(np.frombuffer(b"".join(self.samples), dtype="<u2"))
        start = 0
        for index, count, status, device_time, offset in self.pending:
            end = start + count
            events[index] = DecodedWaveform(
                _PLETH,
                PLETH_RATE_HZ,
                values[start:end].copy(),  # each waveform owns its array, as if made alone
                status,
                device_time,
                offset,
            )
            start = end


_PENDING = cast("DecodedEvent", None)  # an event's place, until _PlethBatch.finish fills it
_PLETH = VitalKind.PLETH


def _pleth_values() -> np.ndarray:
    """The pleth value of every int16 sample, indexed by its bit pattern: 1/100 %, codes
    (<= -32001) as NaN. One lookup (take) replaces scaling, then masking where codes were."""
    samples = np.arange(1 << 16, dtype=np.uint16).view(np.int16)
    values = samples * np.float32(0.01)  # the same float32 arithmetic, done once for all
    values[samples <= _LAST_CODE] = np.nan
    values.flags.writeable = False
    return values


_PLETH_VALUES = _pleth_values()
_WAVE_BITS = WF_STATUS_GAP | WF_STATUS_LEAD_OFF
_WAVE_STATUS = {
    bits: frozenset(
        word
        for bit, word in ((WF_STATUS_GAP, "gap"), (WF_STATUS_LEAD_OFF, "lead_off"))
        if bits & bit
    )
    for bits in range(_WAVE_BITS + 1)
    if bits & ~_WAVE_BITS == 0
}


# --- Emulator ----------------------------------------------------------------------------------

NIBP_CYCLE_S = 180.0
FIRST_NIBP_AFTER_S = 3.0
PLETH_BLOCK_POINTS = 25  # one waveform record every 0.25 s
_PLETH_BLOCK_S = PLETH_BLOCK_POINTS / PLETH_RATE_HZ


class GeDriEmulator(Emulator):
    """A GE monitor on the computer interface: silent until asked, then displayed values every
    ``interval`` seconds (NIBP = the last cycle measurement, with its time) and, if requested,
    the pleth waveform in 25-sample records. Trend requests are ignored."""

    protocol = "ge-dri"
    needs_request = True

    def __init__(self, model: object, start_time: float) -> None:
        super().__init__(model, start_time)
        self._deframer = Deframer()
        self._interval: float | None = None  # displayed values: None = not sending
        self._once = False
        self._next_values = start_time
        self._pleth_on = False
        self._next_pleth = start_time  # start of the next pleth block
        self._next_nibp = start_time + FIRST_NIBP_AFTER_S
        self._nibp: tuple[float, float, float] | None = None
        self._nibp_time: int | None = None
        self._record_number = 0
        self.nibp_interval_s = NIBP_CYCLE_S
        """The monitor's automatic NIBP cycle (the simulator's --nibp-interval)."""

    def receive(self, data: bytes, now: float) -> bytes:
        for frame in self._deframer.feed(data):
            request = parse_request(frame.record) if frame.record is not None else None
            if isinstance(request, PhdbRequest) and request.record_type == PH_DISPLAYED:
                self._on_phdb_request(request.interval_s, now)
            elif isinstance(request, WaveRequest):
                wanted = request.request == WF_REQ_CONT_START and WF_PLETH in request.types
                if wanted and not self._pleth_on:
                    self._next_pleth = now
                self._pleth_on = wanted
        return b""  # DRI has no acknowledgements

    def _on_phdb_request(self, interval_s: int, now: float) -> None:
        if interval_s == INTERVAL_STOP:
            self._interval = None
            return
        self._once = interval_s == INTERVAL_ONCE
        interval = float(max(interval_s, MIN_DISPLAYED_INTERVAL_S))
        if self._once or interval != self._interval:  # a repeated request keeps the rhythm
            self._next_values = now
        self._interval = interval

    def advance(self, now: float) -> bytes:
        out = bytearray()
        while True:
            due: list[tuple[float, int]] = []
            if self._interval is not None:
                due.append((self._next_values, 0))
            if self._pleth_on:
                due.append((self._next_pleth + _PLETH_BLOCK_S, 1))
            if not due or min(due)[0] > now:
                return bytes(out)
            at, which = min(due)
            if which == 0:
                out += self._values_frame(at)
                if self._once:
                    self._interval = None
                else:
                    self._next_values = at + (self._interval or MIN_DISPLAYED_INTERVAL_S)
            else:
                out += self._pleth_frame(self._next_pleth)
                self._next_pleth += _PLETH_BLOCK_S

    def _values_frame(self, at: float) -> bytes:
        model = cast("VitalsModel", self.model)
        while self._next_nibp <= at:  # the monitor's own NIBP cycle
            self._nibp = model.nibp(self._next_nibp - self.start_time)
            self._nibp_time = int(self._next_nibp)
            self._next_nibp += self.nibp_interval_s
        values: dict[VitalKind, float | None] = dict(model.numerics(at - self.start_time))
        if self._nibp is not None:
            values[VitalKind.NIBP_SYSTOLIC] = self._nibp[0]
            values[VitalKind.NIBP_DIASTOLIC] = self._nibp[1]
            values[VitalKind.NIBP_MEAN] = self._nibp[2]
        frame = build_displayed_values_frame(
            int(at),
            values,
            nibp_time=self._nibp_time,
            sensor_off=self.state.sensor_off,
            record_number=self._next_record_number(),
        )
        return frame

    def _pleth_frame(self, start: float) -> bytes:
        model = cast("VitalsModel", self.model)
        values = model.pleth(start - self.start_time, PLETH_BLOCK_POINTS, PLETH_RATE_HZ)
        off = self.state.sensor_off
        if off:  # probe off: a flat line, flagged as a gap
            values = np.zeros(PLETH_BLOCK_POINTS, dtype=np.float32)
        return build_pleth_frame(
            int(start), values, gap=off, record_number=self._next_record_number()
        )

    def _next_record_number(self) -> int:
        self._record_number = (self._record_number + 1) & 0xFF
        return self._record_number
