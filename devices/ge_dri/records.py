"""GE DRI records: the 40-byte header, the host's requests and the monitor's records as the
emulator and the tests build them.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from devices.ge_dri.constants import (
    _GROUP_HEADER,
    _HEADER,
    _HEADER_AND_TABLE,
    _I16,
    _PHDB_REQUEST,
    _PHDB_TAIL,
    _SR_DESC,
    _SR_FIELDS,
    _U32,
    _WAVE_REQUEST,
    _WF_HEADER,
    CLASS_BASIC,
    CLASS_DATA_SIZE,
    ECG_GROUP,
    ECG_HR,
    END_OF_LIST,
    HEADER_SIZE,
    INVALID,
    MAX_SUBRECORDS,
    MT_PHDB,
    MT_WAVE,
    NIBP_DIA,
    NIBP_GROUP,
    NIBP_MEAN,
    NIBP_PULSE,
    NIBP_SYS,
    PH_AUX_INFO,
    PH_DISPLAYED,
    PH_REQUEST,
    SPO2_GROUP,
    SPO2_IR_AMP,
    SPO2_PULSE,
    SPO2_VALUE,
    STATUS_ACTIVE,
    STATUS_EXISTS,
    WF_CMD,
    WF_PLETH,
    WF_REQ_CONT_START,
    WF_STATUS_GAP,
)
from devices.ge_dri.framing import escape_frame
from katmonitor.base.vitals import VitalKind


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
    nibp_label: int = 0,
) -> bytes:
    """A framed displayed-values record (basic class), with an aux subrecord when the NIBP
    measurement time is known; ``nibp_label``: the NIBP group's label bits (e.g. measuring)."""
    data = encode_basic_class(values, sensor_off=sensor_off, nibp_label=nibp_label)
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
