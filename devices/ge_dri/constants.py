"""GE DRI's serial settings, frame bytes, record layouts and the codes of the basic
physiological class and the pleth waveform (restated from the specification).
"""

from __future__ import annotations

import struct

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
