"""Nonin readings: what one packet or DF8 frame carries, its encoders (for the emulator and
the tests) and the value codes (511 / 127: no value) with the DF8 condition bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from devices.codec import DecodedSample
from devices.nonin.constants import (
    DF8_ARTIFACT,
    DF8_LOW_BATTERY,
    DF8_LOW_PERFUSION,
    DF8_MARGINAL_PERFUSION,
    DF8_OUT_OF_TRACK,
    DF8_SENSOR_ALARM,
    FIRMWARE_REVISION,
    FRAMES_PER_PACKET,
    INVALID,
    MISSING_HR,
    MISSING_SPO2,
    NO_VALUE,
    PERFUSION_BITS,
    SLOT_HR_LSB,
    SLOT_HR_MSB,
    SLOT_REVISION,
    SLOT_SPO2,
    SLOT_STAT2,
    SLOT_TIMER_LSB,
    SLOT_TIMER_MSB,
    SLOTS_HR_COPIES,
    SLOTS_SPO2_COPIES,
    STAT2_LOW_BATTERY,
    STATUS_ALWAYS,
    STATUS_ARTIFACT,
    STATUS_OUT_OF_TRACK,
    STATUS_SENSOR_ALARM,
    STATUS_SYNC,
    Perfusion,
)
from devices.nonin.framing import checksum
from katmonitor.base.plausibility import implausibility
from katmonitor.base.vitals import VitalKind


@dataclass(frozen=True, slots=True)
class NoninReading:
    """What the encoders put in one DF2/DF7 packet or one DF8 frame."""

    hr: int | None
    """Pulse rate in bpm; None is sent as 511."""
    spo2: int | None
    """SpO2 in %; None is sent as 127."""
    sensor_alarm: bool = False
    out_of_track: bool = False
    artifact: bool = False
    perfusion: Perfusion = "green"
    low_battery: bool = False


def _hr_code(hr: int | None) -> int:
    return MISSING_HR if hr is None else min(max(int(hr), 0), MISSING_HR - 1)


def _spo2_code(spo2: int | None) -> int:
    return MISSING_SPO2 if spo2 is None else min(max(int(spo2), 0), 100)


def _packet_floats(reading: NoninReading, timer: int) -> list[int]:
    hr = _hr_code(reading.hr)
    spo2 = _spo2_code(reading.spo2)
    floats = [0] * FRAMES_PER_PACKET
    for msb, lsb in ((SLOT_HR_MSB, SLOT_HR_LSB), *SLOTS_HR_COPIES):
        floats[msb], floats[lsb] = (hr >> 7) & 0x03, hr & 0x7F
    for slot in (SLOT_SPO2, *SLOTS_SPO2_COPIES):
        floats[slot] = spo2
    floats[SLOT_REVISION] = FIRMWARE_REVISION
    floats[SLOT_TIMER_MSB], floats[SLOT_TIMER_LSB] = (timer >> 7) & 0x7F, timer & 0x7F
    floats[SLOT_STAT2] = STAT2_LOW_BATTERY if reading.low_battery else 0
    return floats


def _packet_status(reading: NoninReading) -> int:
    status = STATUS_ALWAYS | PERFUSION_BITS[reading.perfusion]
    if reading.artifact:
        status |= STATUS_ARTIFACT
    if reading.out_of_track:
        status |= STATUS_OUT_OF_TRACK
    if reading.sensor_alarm:
        status |= STATUS_SENSOR_ALARM
    return status


def _pleth_points(pleth: Sequence[int] | np.ndarray, maximum: int) -> list[int]:
    points = [min(max(round(float(p)), 0), maximum) for p in pleth]
    if len(points) != FRAMES_PER_PACKET:
        raise ValueError(f"a packet carries {FRAMES_PER_PACKET} pleth points, not {len(points)}")
    return points


def encode_df2_packet(
    reading: NoninReading, pleth: Sequence[int] | np.ndarray, *, timer: int = 0
) -> bytes:
    """25 DF2 frames; ``pleth`` holds 25 points of 0-255."""
    status = _packet_status(reading)
    out = bytearray()
    for slot, (point, value) in enumerate(
        zip(_pleth_points(pleth, 0xFF), _packet_floats(reading, timer), strict=True)
    ):
        body = (0x01, status | (STATUS_SYNC if slot == 0 else 0), point, value)
        out += bytes((*body, checksum(body)))
    return bytes(out)


def encode_df7_packet(
    reading: NoninReading, pleth: Sequence[int] | np.ndarray, *, timer: int = 0
) -> bytes:
    """25 DF7 frames; ``pleth`` holds 25 points of 0-65535."""
    status = _packet_status(reading)
    out = bytearray()
    for slot, (point, value) in enumerate(
        zip(_pleth_points(pleth, 0xFFFF), _packet_floats(reading, timer), strict=True)
    ):
        body = (status | (STATUS_SYNC if slot == 0 else 0), point >> 8, point & 0xFF, value)
        out += bytes((*body, checksum(body)))
    return bytes(out)


def encode_df8_frame(reading: NoninReading) -> bytes:
    hr = _hr_code(reading.hr)
    status1 = 0x80 | ((hr >> 7) & 0x03)
    if reading.out_of_track:
        status1 |= DF8_OUT_OF_TRACK
    if reading.perfusion == "red":
        status1 |= DF8_LOW_PERFUSION
    elif reading.perfusion == "yellow":
        status1 |= DF8_MARGINAL_PERFUSION
    if reading.artifact:
        status1 |= DF8_ARTIFACT
    status2 = (DF8_SENSOR_ALARM if reading.sensor_alarm else 0) | (
        DF8_LOW_BATTERY if reading.low_battery else 0
    )
    return bytes((status1, hr & 0x7F, _spo2_code(reading.spo2), status2))


def _sample(kind: VitalKind, code: int, offset: int) -> DecodedSample:
    missing, maximum = (MISSING_SPO2, 100) if kind is VitalKind.SPO2 else (MISSING_HR, 510)
    if code == missing:
        return DecodedSample(kind, None, NO_VALUE, offset=offset)
    if code > maximum:
        return DecodedSample(kind, None, INVALID, offset=offset)
    return DecodedSample(kind, float(code), offset=offset)


def _implausible(kind: VitalKind, code: int) -> str | None:
    """Why a value code is outside the Nonin's documented range (a decode problem), or None."""
    sample = _sample(kind, code, 0)
    if sample.status == INVALID:
        return f"{kind} code {code} is not a Nonin value"
    return implausibility(kind, sample.value, "nonin-df8")


_DF8_STATUS1_BITS = DF8_OUT_OF_TRACK | DF8_LOW_PERFUSION | DF8_MARGINAL_PERFUSION | DF8_ARTIFACT
_DF8_STATUS2_BITS = DF8_SENSOR_ALARM | DF8_LOW_BATTERY
_PULSE_RATE = VitalKind.PULSE_RATE
_SPO2 = VitalKind.SPO2
# (value, status, problem) of every HR (9 bits) and SpO2 (7 bits) code: a code outside the
# Nonin's documented range has no value, status "invalid" and says why (a decode problem).
_Code = tuple[float | None, frozenset[str], str | None]


def _codes(kind: VitalKind, count: int) -> list[_Code]:
    out: list[_Code] = []
    for code in range(count):
        sample, why = _sample(kind, code, 0), _implausible(kind, code)
        out.append((None, INVALID, why) if why else (sample.value, sample.status, None))
    return out


_PULSE_RATE_CODES = _codes(_PULSE_RATE, 512)
_SPO2_CODES = _codes(_SPO2, 128)


def _df8_condition_words(status1: int, status2: int) -> frozenset[str]:
    flags = (
        (status1 & DF8_OUT_OF_TRACK, "out_of_track"),
        (status1 & DF8_LOW_PERFUSION, "low_perfusion"),
        (status1 & DF8_MARGINAL_PERFUSION, "marginal_perfusion"),
        (status1 & DF8_ARTIFACT, "artifact"),
        (status2 & DF8_SENSOR_ALARM, "sensor_off"),
        (status2 & DF8_LOW_BATTERY, "low_battery"),
    )
    return frozenset(name for bit, name in flags if bit)


# The conditions of every DF8 frame, by the bits that carry them (the key above): a lookup
# per frame instead of building a set.
# None for low and marginal perfusion at once, which a sound frame never says.
_BOTH_PERFUSION = DF8_LOW_PERFUSION | DF8_MARGINAL_PERFUSION
_DF8_CONDITIONS: dict[int, frozenset[str] | None] = {
    status1 | status2 << 8: (
        None
        if status1 & _BOTH_PERFUSION == _BOTH_PERFUSION
        else _df8_condition_words(status1, status2)
    )
    for status1 in range(_DF8_STATUS1_BITS + 1)
    if status1 & _DF8_STATUS1_BITS == status1
    for status2 in range(_DF8_STATUS2_BITS + 1)
    if status2 & _DF8_STATUS2_BITS == status2
}

# Both values of every DF8 (HR, SpO2) code pair, keyed by HR << 7 | SpO2: (pulse rate value,
# its status, SpO2 value, its status, why the pair is implausible or None). One lookup a frame.
_DF8_VALUES = [
    (hr[0], hr[1], spo2[0], spo2[1], hr[2] or spo2[2])
    for hr in _PULSE_RATE_CODES
    for spo2 in _SPO2_CODES
]
