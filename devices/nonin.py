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

Framing and resynchronisation
  DF2/DF7: a frame is valid when its STATUS has bit 7 set, its checksum matches and (DF2) it
  starts with 01. Values are read only inside a packet that began with a valid SYNC frame and
  is counted frame by frame from there; a valid frame is never searched for inside a packet.
  A frame that fails where one was due is a bad frame: reported, counted, its slot left empty
  and the count carried on (a flipped bit keeps the alignment). A second failure in a row, a
  SYNC frame where none was due or no SYNC where one was due means the alignment is lost: the
  packet so far is dropped and the decoder hunts byte by byte for the next valid SYNC frame.
  Requiring SYNC matters most for DF7, whose frames have no fixed lead byte.
  DF8: a frame starts at a byte with bit 7 set and its other 3 bytes have bit 7 clear (HR bits
  6-0 and SpO2 <= 127 cannot set it; STATUS2 only defines bits 0-5), and SpO2 must be 0-100 or
  127. Anything else is skipped byte by byte.

Values: PULSE_RATE (a pulse oximeter's HR is a pulse rate) and SPO2 from the standard 4-beat
averages (frames 1-3), not the extended or display (-D) values; 511 / 127 mean "no value".
DF8 only carries display values, which Nonin holds for 10 s after the finger comes out; while
the sensor alarm is set they are reported as "no value" so a held number never looks current.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np

from devices.codec import (
    SERIAL_9600_8N1,
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

FIRMWARE_REVISION = 0x30  # what the emulator reports in frame 4
MAX_SKIPPED = 125  # report a run of skipped bytes at least once per packet's worth

NO_VALUE = frozenset({"no_value"})
INVALID = frozenset({"invalid"})

Perfusion = Literal["none", "green", "yellow", "red"]
PERFUSION_BITS: dict[str, int] = {"none": 0x00, "green": 0x02, "red": 0x04, "yellow": 0x06}
PERFUSION_CONDITIONS: dict[int, str] = {0x04: "low_perfusion", 0x06: "marginal_perfusion"}


def format_select_command(data_format: int) -> bytes:
    """The host command that switches the oximeter to ``data_format`` (2, 7, 8 or 13)."""
    if data_format not in SELECTABLE_FORMATS:
        raise ValueError(f"Nonin data format must be one of 2, 7, 8, 13, not {data_format}")
    return bytes((STX, 0x70, 0x02, 0x02, data_format, ETX))


def checksum(data: bytes | Sequence[int]) -> int:
    return sum(data) & 0xFF


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


class _Frame(NamedTuple):
    offset: int
    status: int
    pleth: int
    value: int  # the FLOAT byte


def _sample(kind: VitalKind, code: int, offset: int) -> DecodedSample:
    missing, maximum = (MISSING_SPO2, 100) if kind is VitalKind.SPO2 else (MISSING_HR, 510)
    if code == missing:
        return DecodedSample(kind, None, NO_VALUE, offset=offset)
    if code > maximum:
        return DecodedSample(kind, None, INVALID, offset=offset)
    return DecodedSample(kind, float(code), offset=offset)


class NoninDecoder(Decoder):
    """DF2, DF7 or DF8 bytes in; pulse rate, SpO2, pleth (DF2/DF7) and conditions out.

    The first 0x06 / 0x15 byte that cannot be part of a frame is taken as the oximeter's answer
    to :meth:`requests_on_connect`: ACK is dropped silently; NAK becomes a DecodeProblem (not
    counted as a bad frame), since the device then keeps streaming its current format and the
    frames that follow will not decode.
    """

    def __init__(self, data_format: str) -> None:
        super().__init__()
        if data_format not in FORMATS:
            raise ValueError(f"Nonin data format must be one of {', '.join(FORMATS)}")
        self.data_format = data_format
        self.protocol = f"nonin-{data_format}"
        self._buf = bytearray()
        self._pos = 0  # next unread byte in _buf
        self._buf_offset = 0  # stream offset of _buf[0]
        self._reply_pending = True
        self._skipped_from: int | None = None  # start of a run of skipped bytes
        self._skipped = 0
        # DF2/DF7 packet assembly: slots filled so far (None: bad frame), None when hunting.
        self._packet: list[_Frame | None] | None = None
        self._last_good = False
        # Conditions held between packets.
        self._pulse_bits = 0  # perfusion and artifact bits of the last frame inside a pulse
        self._low_battery = False
        self._reported: frozenset[str] | None = None

    def requests_on_connect(self) -> bytes:
        """Select this decoder's format; a device already in it just ACKs. Some models NAK the
        command (or ignore it) and keep streaming their configured format."""
        return format_select_command(FORMATS[self.data_format])

    def feed(self, chunk: bytes) -> list[DecodedEvent]:
        self._buf += chunk
        self.offset += len(chunk)
        events: list[DecodedEvent] = []
        if self.data_format == "df8":
            self._feed_df8(events)
        else:
            self._feed_packets(events)
        del self._buf[: self._pos]
        self._buf_offset += self._pos
        self._pos = 0
        return events

    # -- byte bookkeeping ----------------------------------------------------------------

    @property
    def _here(self) -> int:
        return self._buf_offset + self._pos

    def _available(self) -> int:
        return len(self._buf) - self._pos

    def _take_reply(self, events: list[DecodedEvent]) -> bool:
        """Consume an ACK/NAK answer at the read position, if one is expected there."""
        byte = self._buf[self._pos]
        if not self._reply_pending or byte not in (ACK, NAK):
            return False
        self._end_skip(events)
        self._reply_pending = False
        if byte == NAK:
            events.append(
                DecodeProblem(
                    self._here,
                    "oximeter refused the format select (NAK) and keeps its current format",
                    1,
                )
            )
        self._pos += 1
        return True

    def _skip_byte(self, events: list[DecodedEvent]) -> None:
        if self._skipped_from is None:
            self._skipped_from, self._skipped = self._here, 0
        self._pos += 1
        self._skipped += 1
        if self._skipped >= MAX_SKIPPED:
            self._end_skip(events)

    def _end_skip(self, events: list[DecodedEvent]) -> None:
        if self._skipped_from is not None:
            events.append(
                DecodeProblem(
                    self._skipped_from, f"skipped {self._skipped} bytes (no frame)", self._skipped
                )
            )
            self.counters.bad += 1
            self._skipped_from = None

    # -- DF2 / DF7 -----------------------------------------------------------------------

    def _read_frame(self) -> _Frame | None:
        """The frame at the read position if it is valid (5 bytes must be available)."""
        raw = self._buf[self._pos : self._pos + 5]
        if checksum(raw[:4]) != raw[4]:
            return None
        if self.data_format == "df2":
            lead, status, pleth, value = raw[0], raw[1], raw[2], raw[3]
            if lead != 0x01:
                return None
        else:
            status, pleth, value = raw[0], (raw[1] << 8) | raw[2], raw[3]
        if not status & STATUS_ALWAYS:
            return None
        return _Frame(self._here, status, pleth, value)

    def _feed_packets(self, events: list[DecodedEvent]) -> None:
        while self._available() >= 5:
            frame = self._read_frame()
            if frame is not None:
                self._end_skip(events)
                self._pos += 5
                self.counters.good += 1
                self._place(frame, events)
            elif self._take_reply(events):
                continue
            elif self._packet is not None and self._last_good:
                # A frame was due here and is corrupt: keep its slot, use nothing from it.
                events.append(DecodeProblem(self._here, "bad frame (checksum or status)", 5))
                self.counters.bad += 1
                self._pos += 5
                self._last_good = False
                self._fill_slot(None, events)
            else:
                self._packet = None  # alignment lost: drop the partial packet, hunt
                self._skip_byte(events)

    def _place(self, frame: _Frame, events: list[DecodedEvent]) -> None:
        sync = bool(frame.status & STATUS_SYNC)
        if self._packet is None:
            if sync:
                self._packet, self._last_good = [frame], True
            # A frame before the first SYNC has no known place in its packet: ignore it.
            return
        if sync != (len(self._packet) == 0):
            # Frames were lost or gained without a checksum error: the slot count is wrong.
            if sync:
                message = f"packet start after {len(self._packet)} frames; packet dropped"
            else:
                message = "no packet start (SYNC) where one was due; resynchronising"
            events.append(DecodeProblem(frame.offset, message, 5))
            self._packet = [frame] if sync else None
            self._last_good = sync
            return
        self._last_good = True
        self._fill_slot(frame, events)

    def _fill_slot(self, frame: _Frame | None, events: list[DecodedEvent]) -> None:
        assert self._packet is not None
        self._packet.append(frame)
        if len(self._packet) == FRAMES_PER_PACKET:
            self._packet_done(self._packet, events)
            self._packet = []  # aligned: the next frame must start a packet

    def _packet_done(self, frames: list[_Frame | None], events: list[DecodedEvent]) -> None:
        good = [f for f in frames if f is not None]
        if not good:
            return
        first = next(i for i, f in enumerate(frames) if f is not None)
        offset = good[0].offset - 5 * first  # where the packet's first frame began
        self._report_conditions(self._packet_conditions(frames, good), offset, events)
        hr_msb, hr_lsb, spo2 = frames[SLOT_HR_MSB], frames[SLOT_HR_LSB], frames[SLOT_SPO2]
        if hr_msb is not None and hr_lsb is not None:
            hr = ((hr_msb.value & 0x03) << 7) | (hr_lsb.value & 0x7F)
            events.append(_sample(VitalKind.PULSE_RATE, hr, hr_msb.offset))
        if spo2 is not None:
            events.append(_sample(VitalKind.SPO2, spo2.value, spo2.offset))
        if len(good) == FRAMES_PER_PACKET:
            # Pleth only from whole packets, so points are evenly spaced at 75 Hz.
            points = np.array([f.pleth for f in good], dtype=np.float32)
            events.append(DecodedWaveform(VitalKind.PLETH, FRAME_RATE_HZ, points, offset=offset))

    def _packet_conditions(self, frames: list[_Frame | None], good: list[_Frame]) -> frozenset[str]:
        # Perfusion and artifact are reported only during a pulse (0 between pulses), so the
        # last pulse's bits are held; otherwise the condition would flicker with every beat.
        for frame in good:
            if frame.status & (STATUS_PERFUSION | STATUS_ARTIFACT):
                self._pulse_bits = frame.status & (STATUS_PERFUSION | STATUS_ARTIFACT)
        sensor_alarm = any(f.status & STATUS_SENSOR_ALARM for f in good)
        if sensor_alarm:
            self._pulse_bits = 0  # no pulses to judge with the finger out
        stat2 = frames[SLOT_STAT2]
        if stat2 is not None:
            self._low_battery = bool(stat2.value & STAT2_LOW_BATTERY)
        conditions: set[str] = set()
        if sensor_alarm:
            conditions.add("sensor_off")
        if any(f.status & STATUS_NO_SENSOR for f in good):
            conditions.add("no_sensor")
        if any(f.status & STATUS_OUT_OF_TRACK for f in good):
            conditions.add("out_of_track")
        if self._pulse_bits & STATUS_ARTIFACT:
            conditions.add("artifact")
        perfusion = PERFUSION_CONDITIONS.get(self._pulse_bits & STATUS_PERFUSION)
        if perfusion:
            conditions.add(perfusion)
        if self._low_battery:
            conditions.add("low_battery")
        return frozenset(conditions)

    def _report_conditions(
        self, conditions: frozenset[str], offset: int, events: list[DecodedEvent]
    ) -> None:
        if conditions != self._reported:
            self._reported = conditions
            events.append(DecodedStatus(conditions, offset=offset))

    # -- DF8 -----------------------------------------------------------------------------

    def _feed_df8(self, events: list[DecodedEvent]) -> None:
        # Runs of valid frames are found with one regex search and decoded in a tight loop;
        # the bytes between runs (rare) go through the byte-by-byte rules of _df8_gap.
        buf = self._buf
        while self._pos < len(buf):
            run = _DF8_FRAMES.search(buf, self._pos)
            if run is None:
                self._df8_gap(len(buf), events)
                return
            self._df8_gap(run.start(), events)
            self._end_skip(events)
            self._pos = run.end()
            self.counters.good += (run.end() - run.start()) // 4
            self._df8_frames(buf[run.start() : run.end()], self._buf_offset + run.start(), events)

    def _df8_gap(self, stop: int, events: list[DecodedEvent]) -> None:
        """Consume the bytes before ``stop``, where no valid frame starts: each is the
        oximeter's reply, or skipped. Stops early at a possible frame start too close to the
        end of the buffer to check (fewer than 4 bytes)."""
        while self._pos < stop:
            if not self._buf[self._pos] & 0x80:
                if not self._take_reply(events):
                    self._skip_byte(events)
            elif self._available() < 4:
                return
            else:
                self._skip_byte(events)

    def _df8_frames(self, frames: bytearray, offset: int, events: list[DecodedEvent]) -> None:
        """Decode consecutive valid frames; ``offset``: the stream offset of the first."""
        reported = self._reported
        append = events.append
        for status1, hr_low, spo2, status2 in _DF8_FRAME.iter_unpack(frames):
            key = (status1 & _DF8_STATUS1_BITS) | (status2 & _DF8_STATUS2_BITS) << 8
            conditions = _DF8_CONDITIONS[key]
            if conditions != reported:
                reported = conditions
                append(DecodedStatus(conditions, offset=offset))
            hr = ((status1 & 0x03) << 7) | hr_low
            if status2 & DF8_SENSOR_ALARM:  # display values held after finger-out: not current
                hr, spo2 = MISSING_HR, MISSING_SPO2
            value, words = _PULSE_RATE_CODES[hr]
            append(DecodedSample(_PULSE_RATE, value, words, None, offset))
            value, words = _SPO2_CODES[spo2]
            append(DecodedSample(_SPO2, value, words, None, offset))
            offset += 4
        self._reported = reported


# A run of DF8 frames: STATUS1 with bit 7 set, then HR bits 6-0, SpO2 0-100 or 127 and
# STATUS2 with bit 7 clear.
_DF8_FRAMES = re.compile(rb"(?:[\x80-\xff][\x00-\x7f][\x00-\x64\x7f][\x00-\x7f])+")
_DF8_FRAME = struct.Struct("4B")
_DF8_STATUS1_BITS = DF8_OUT_OF_TRACK | DF8_LOW_PERFUSION | DF8_MARGINAL_PERFUSION | DF8_ARTIFACT
_DF8_STATUS2_BITS = DF8_SENSOR_ALARM | DF8_LOW_BATTERY
_PULSE_RATE = VitalKind.PULSE_RATE
_SPO2 = VitalKind.SPO2
# (value, status) of every HR (9 bits) and SpO2 (7 bits) code, by _sample's rules.
_PULSE_RATE_CODES = [(s.value, s.status) for s in (_sample(_PULSE_RATE, c, 0) for c in range(512))]
_SPO2_CODES = [(s.value, s.status) for s in (_sample(_SPO2, c, 0) for c in range(128))]


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
_DF8_CONDITIONS = {
    status1 | status2 << 8: _df8_condition_words(status1, status2)
    for status1 in range(_DF8_STATUS1_BITS + 1)
    if status1 & _DF8_STATUS1_BITS == status1
    for status2 in range(_DF8_STATUS2_BITS + 1)
    if status2 & _DF8_STATUS2_BITS == status2
}


class NoninEmulator(Emulator):
    """A Nonin oximeter streaming DF2/DF7 packets every 1/3 s or a DF8 frame every second.

    ``receive`` answers the format-select command with ACK and switches format from the next
    packet, or NAK for a format it cannot produce (DF13 spot-check records are not emulated)
    and for any other command.
    """

    def __init__(self, model: VitalsModel, start_time: float, data_format: str = "df2") -> None:
        super().__init__(model, start_time)
        if data_format not in FORMATS:
            raise ValueError(f"Nonin data format must be one of {', '.join(FORMATS)}")
        self.model: VitalsModel = model
        self.data_format = data_format
        self.protocol = f"nonin-{data_format}"
        # Emissions are due at _epoch + n * period; counting avoids float drift.
        self._epoch = start_time
        self._sent = 0
        self._timer = 0  # the 1/3 s packet counter sent in frames 6-7
        self._second = -1
        self._reading = NoninReading(None, None)
        self._rx = bytearray()

    @property
    def _period(self) -> float:
        return 1.0 if self.data_format == "df8" else PACKET_SECONDS

    def _due(self) -> float:
        return self._epoch + self._sent * self._period

    def advance(self, now: float) -> bytes:
        out = bytearray()
        while self._due() <= now:
            out += self._emit(self._due() - self.start_time)
            self._sent += 1
        return bytes(out)

    def _current_reading(self, elapsed: float) -> NoninReading:
        if self.state.sensor_off:
            return NoninReading(None, None, sensor_alarm=True, perfusion="none")
        second = int(elapsed)
        if second != self._second:  # the model's numerics change once a second
            self._second = second
            numerics = self.model.numerics(float(second))
            self._reading = NoninReading(
                round(numerics[VitalKind.PULSE_RATE]), round(numerics[VitalKind.SPO2])
            )
        return self._reading

    def _emit(self, elapsed: float) -> bytes:
        reading = self._current_reading(elapsed)
        if self.data_format == "df8":
            return encode_df8_frame(reading)
        wave = self.model.pleth(elapsed, FRAMES_PER_PACKET, FRAME_RATE_HZ)
        if self.state.sensor_off:
            wave = np.zeros(FRAMES_PER_PACKET, dtype=np.float32)
        timer, self._timer = self._timer, (self._timer + 1) & 0x3FFF
        # The model's pleth spans about 0-50; scale it to use most of each format's range.
        if self.data_format == "df2":
            return encode_df2_packet(reading, wave * 4.0, timer=timer)
        return encode_df7_packet(reading, wave * 1000.0, timer=timer)

    def receive(self, data: bytes, now: float) -> bytes:
        # Host commands are STX, op code, length, that many bytes, ETX.
        self._rx += data
        replies = bytearray()
        while True:
            start = self._rx.find(STX)
            if start < 0:
                self._rx.clear()
                break
            del self._rx[:start]
            if len(self._rx) < 3:
                break
            end = 3 + self._rx[2]  # where the ETX belongs
            if len(self._rx) <= end:
                break
            if self._rx[end] != ETX:
                replies.append(NAK)  # not a command: refuse, look for the next STX
                del self._rx[:1]
                continue
            op, body = self._rx[1], bytes(self._rx[3:end])
            del self._rx[: end + 1]
            is_format_select = op == 0x70 and len(body) == 2 and body[0] == 0x02
            replies.append(self._select(body[1]) if is_format_select else NAK)
        return bytes(replies)

    def _select(self, code: int) -> int:
        for name, format_code in FORMATS.items():
            if code == format_code:
                if name != self.data_format:
                    # Switch after what was already sent, keeping the stream's time base.
                    self._epoch, self._sent = self._due(), 0
                    self.data_format, self.protocol = name, f"nonin-{name}"
                return ACK
        return NAK
