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

Modules: ``constants`` (serial settings, record layouts and codes), ``framing`` (flags,
escaping, checksum), ``records`` (record header, host requests, the monitor's records),
``decoder`` (bytes in, events out) and ``emulator`` (a monitor for the simulator).
"""

from __future__ import annotations

from devices.ge_dri.constants import (
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
)
from devices.ge_dri.decoder import GeDriDecoder
from devices.ge_dri.emulator import GeDriEmulator
from devices.ge_dri.framing import (
    Deframer,
    escape_frame,
)
from devices.ge_dri.records import (
    PhdbRequest,
    WaveRequest,
    aux_subrecord,
    build_displayed_values_frame,
    build_pleth_frame,
    build_record,
    encode_basic_class,
    parse_header,
    parse_request,
    phdb_request,
    phdb_subrecord,
    pleth_subrecord,
    waveform_request,
)

__all__ = [
    "ALL_CLASSES",
    "CLASS_EXT1",
    "ECG_GROUP",
    "ECG_HR",
    "INVALID",
    "MT_PHDB",
    "MT_WAVE",
    "NIBP_GROUP",
    "NIBP_LABEL_DATA_OLD",
    "NIBP_LABEL_MEASURING",
    "PH_AUX_INFO",
    "PH_DISPLAYED",
    "PH_TREND_60S",
    "SERIAL_SETTINGS",
    "SPO2_GROUP",
    "SPO2_VALUE",
    "STATUS_ACTIVE",
    "STATUS_EXISTS",
    "WF_PLETH",
    "WF_REQ_CONT_STOP",
    "WF_STATUS_GAP",
    "WF_STATUS_LEAD_OFF",
    "Deframer",
    "GeDriDecoder",
    "GeDriEmulator",
    "PhdbRequest",
    "WaveRequest",
    "aux_subrecord",
    "build_displayed_values_frame",
    "build_pleth_frame",
    "build_record",
    "encode_basic_class",
    "escape_frame",
    "parse_header",
    "parse_request",
    "phdb_request",
    "phdb_subrecord",
    "pleth_subrecord",
    "waveform_request",
]
