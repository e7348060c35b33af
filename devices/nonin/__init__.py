"""Nonin pulse oximeters, serial data formats 2, 7 and 8: decoder, encoders and emulator.

Source: Nonin "9560 Bluetooth Specification" (docs protocols.md section 4). 9600 8N1, no flow
control; the oximeter streams by itself.

DF2, 75 frames/s in packets of 25 frames (one packet every 1/3 s)::

    01  STATUS  PLETH(8 bit)  FLOAT  CHK          CHK = sum of the first 4 bytes mod 256

DF7 is the same without the leading 01 and with a 16-bit pleth: STATUS, PLETH MSB, PLETH LSB,
FLOAT, CHK. STATUS always has bit 7 set; bit 0 (SYNC) marks frame 1 of a packet. FLOAT carries
a different value in each frame of the packet (HR MSB/LSB in frames 1-2, SpO2 in frame 3, STAT2
in frame 8, ...). The DF7 FLOAT layout is taken to be DF2's (inferred, not seen in a capture).

DF8, 4 bytes once a second, no checksum: STATUS1 (bit 7 set; HR bits 8-7 in bits 1-0), HR
bits 6-0, SpO2-D, STATUS2.

Modules: ``constants`` (serial settings, status bits, FLOAT slots), ``framing`` (checksum,
format-select command, frame shapes), ``records`` (readings, their encoders and the value
codes), ``decoder`` (bytes in, events out; its docstring states the framing and value rules)
and ``emulator`` (an oximeter for the simulator).
"""

from __future__ import annotations

from devices.nonin.constants import (
    ACK,
    NAK,
    SERIAL_SETTINGS,
)
from devices.nonin.decoder import NoninDecoder
from devices.nonin.emulator import NoninEmulator
from devices.nonin.framing import (
    checksum,
    format_select_command,
)
from devices.nonin.records import (
    NoninReading,
    encode_df2_packet,
    encode_df7_packet,
    encode_df8_frame,
)

__all__ = [
    "ACK",
    "NAK",
    "SERIAL_SETTINGS",
    "NoninDecoder",
    "NoninEmulator",
    "NoninReading",
    "checksum",
    "encode_df2_packet",
    "encode_df7_packet",
    "encode_df8_frame",
    "format_select_command",
]
