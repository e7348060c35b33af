"""Nonin serial settings, command bytes, status bits and FLOAT slots (9560 specification)."""

from __future__ import annotations

from typing import Literal

from devices.codec import SERIAL_9600_8N1

SERIAL_SETTINGS: dict[str, object] = dict(SERIAL_9600_8N1)  # Nonin: no flow control

FORMATS: dict[str, int] = {"df2": 0x02, "df7": 0x07, "df8": 0x08}
SELECTABLE_FORMATS = (0x02, 0x07, 0x08, 0x0D)  # 0x0D: DF13 spot-check records (not decoded)
STX = 0x02
ETX = 0x03
ACK = 0x06
NAK = 0x15

FRAMES_PER_PACKET = 25
FRAME_RATE_HZ = 75.0
PACKET_SECONDS = FRAMES_PER_PACKET / FRAME_RATE_HZ  # 1/3 s
MISSING_HR = 511
MISSING_SPO2 = 127

# DF2/DF7 STATUS bits.
STATUS_ALWAYS = 0x80
STATUS_NO_SENSOR = 0x40  # "sensor disconnect" on OEM III modules; reserved on the 9560
STATUS_ARTIFACT = 0x20
STATUS_OUT_OF_TRACK = 0x10
STATUS_SENSOR_ALARM = 0x08
STATUS_PERFUSION = 0x06  # 0x04 red, 0x02 green, both yellow; 0 outside a pulse
STATUS_SYNC = 0x01

# FLOAT slots in a packet (0-based frame index).
SLOT_HR_MSB, SLOT_HR_LSB, SLOT_SPO2, SLOT_REVISION = 0, 1, 2, 3
SLOT_TIMER_MSB, SLOT_TIMER_LSB, SLOT_STAT2 = 5, 6, 7
SLOTS_SPO2_COPIES = (8, 9, 10, 15, 16)  # SpO2-D, fast, beat-to-beat, E-SpO2, E-SpO2-D
SLOTS_HR_COPIES = ((13, 14), (19, 20), (21, 22))  # E-HR, HR-D, E-HR-D (MSB, LSB)
STAT2_LOW_BATTERY = 0x01

# DF8 bits.
DF8_OUT_OF_TRACK = 0x20
DF8_LOW_PERFUSION = 0x10
DF8_MARGINAL_PERFUSION = 0x08
DF8_ARTIFACT = 0x04
DF8_SENSOR_ALARM = 0x08
DF8_LOW_BATTERY = 0x01
DF8_TRUST_RUN = 3
"""DF8 (no checksum): after a bad byte or frame, values come again from the 3rd good frame."""
DF8_MAX_STEP_BPM = 12.0
DF8_MAX_STEP_SPO2 = 4.0
"""DF8: a display value moving more than this in one second waits for the next frame."""

FIRMWARE_REVISION = 0x30  # what the emulator reports in frame 4
MAX_SKIPPED = 125  # report a run of skipped bytes at least once per packet's worth

NO_VALUE = frozenset({"no_value"})
INVALID = frozenset({"invalid"})

Perfusion = Literal["none", "green", "yellow", "red"]
PERFUSION_BITS: dict[str, int] = {"none": 0x00, "green": 0x02, "red": 0x04, "yellow": 0x06}
PERFUSION_CONDITIONS: dict[int, str] = {0x04: "low_perfusion", 0x06: "marginal_perfusion"}
