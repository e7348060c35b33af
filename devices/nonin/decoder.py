"""The Nonin decoder: DF2, DF7 or DF8 bytes in; pulse rate, SpO2, pleth and conditions out.

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

import numpy as np

from devices.codec import (
    DecodedEvent,
    DecodedSample,
    DecodedStatus,
    DecodedWaveform,
    DecodeProblem,
    Decoder,
)
from devices.nonin.constants import (
    ACK,
    DF8_MAX_STEP_BPM,
    DF8_MAX_STEP_SPO2,
    DF8_SENSOR_ALARM,
    DF8_TRUST_RUN,
    FORMATS,
    FRAME_RATE_HZ,
    FRAMES_PER_PACKET,
    INVALID,
    MAX_SKIPPED,
    MISSING_HR,
    MISSING_SPO2,
    NAK,
    PERFUSION_CONDITIONS,
    SLOT_HR_LSB,
    SLOT_HR_MSB,
    SLOT_SPO2,
    SLOT_STAT2,
    STAT2_LOW_BATTERY,
    STATUS_ALWAYS,
    STATUS_ARTIFACT,
    STATUS_NO_SENSOR,
    STATUS_OUT_OF_TRACK,
    STATUS_PERFUSION,
    STATUS_SENSOR_ALARM,
    STATUS_SYNC,
)
from devices.nonin.framing import _DF8_FRAME, _DF8_FRAMES, _Frame, checksum, format_select_command
from devices.nonin.records import (
    _DF8_CONDITIONS,
    _DF8_STATUS1_BITS,
    _DF8_STATUS2_BITS,
    _DF8_VALUES,
    _PULSE_RATE,
    _SPO2,
    _implausible,
    _sample,
)
from katmonitor.base.vitals import VitalKind

_DF8_NO_VALUES = _DF8_VALUES[MISSING_HR << 7 | MISSING_SPO2]


def _near(value: float | None, other: float | None, step: float) -> bool:
    """Both no value, or both values at most ``step`` apart."""
    if value is None or other is None:
        return value is other
    return abs(value - other) <= step


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
        # DF8: well-formed frames in a row; a stream's first frames are trusted at once.
        self._df8_run = DF8_TRUST_RUN
        # DF8 (pulse rate, SpO2): the last values sent, and values held back for confirmation.
        self._df8_last: tuple[float | None, float | None] = (None, None)
        self._df8_held: tuple[float | None, float | None] = (None, None)
        self._df8_run_values: tuple[float | None, float | None] = (None, None)  # run's last

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
        self._df8_run = 0  # DF8: values are trusted again only after a run of good frames
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
            if hr_msb.value & ~0x03 or hr_lsb.value & 0x80:  # HR is 9 bits: 2 + 7
                self._bad_value(hr_msb.offset, "HR bytes with reserved bits set", events)
            else:
                hr = ((hr_msb.value & 0x03) << 7) | hr_lsb.value
                self._value(VitalKind.PULSE_RATE, hr, hr_msb.offset, events)
        if spo2 is not None:
            self._value(VitalKind.SPO2, spo2.value, spo2.offset, events)
        if len(good) == FRAMES_PER_PACKET:
            # Pleth only from whole packets, so points are evenly spaced at 75 Hz.
            points = np.array([f.pleth for f in good], dtype=np.float32)
            events.append(DecodedWaveform(VitalKind.PLETH, FRAME_RATE_HZ, points, offset=offset))

    def _value(self, kind: VitalKind, code: int, offset: int, events: list[DecodedEvent]) -> None:
        why = _implausible(kind, code)
        if why is None:
            events.append(_sample(kind, code, offset))
        else:
            self._bad_value(offset, why, events)
            events.append(DecodedSample(kind, None, INVALID, offset=offset))

    def _bad_value(self, offset: int, why: str, events: list[DecodedEvent]) -> None:
        events.append(DecodeProblem(offset, f"implausible value: {why}", 5))
        self.counters.bad += 1

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
        """Decode consecutive valid frames; ``offset``: the stream offset of the first.

        DF8 has no checksum, so a frame is trusted only as the third of a run of well-formed
        frames with agreeing values after any bad byte or frame (DF8_TRUST_RUN): a chance
        match in noise or a damaged frame that still looks well-formed rarely makes three in a
        row."""
        reported = self._reported
        append = events.append
        run = self._df8_run
        (last_hr, last_spo2), (held_hr, held_spo2) = self._df8_last, self._df8_held
        run_hr, run_spo2 = self._df8_run_values
        # Module constants as locals: this loop runs once per frame.
        values_of, conditions_of, no_values = _DF8_VALUES, _DF8_CONDITIONS, _DF8_NO_VALUES
        trust, step_bpm, step_spo2 = DF8_TRUST_RUN, DF8_MAX_STEP_BPM, DF8_MAX_STEP_SPO2
        sensor_alarm, status1_bits, status2_bits = (
            DF8_SENSOR_ALARM,
            _DF8_STATUS1_BITS,
            _DF8_STATUS2_BITS,
        )
        pulse_rate, saturation = _PULSE_RATE, _SPO2
        for status1, hr_low, spo2, status2 in _DF8_FRAME.iter_unpack(frames):
            if status2 & sensor_alarm:  # display values held after finger-out: not current
                codes = no_values
            else:
                codes = values_of[((status1 & 0x03) << 14) | (hr_low << 7) | spo2]
            conditions = conditions_of[(status1 & status1_bits) | (status2 & status2_bits) << 8]
            if conditions is None or codes[4]:
                # Out of range, or low and marginal perfusion at once: a damaged frame.
                why = codes[4] or "low and marginal perfusion both set"
                append(DecodeProblem(offset, f"implausible frame: {why}", 4))
                self.counters.bad += 1
                self.counters.good -= 1
                run = 0
                offset += 4
                continue
            hr_value, hr_words, spo2_value, spo2_words, _ = codes
            if run < trust:
                # Untrusted: the run counts only frames whose values agree with the previous
                # frame's (noise that looks like frames rarely does).
                if run and not (
                    _near(hr_value, run_hr, step_bpm) and _near(spo2_value, run_spo2, step_spo2)
                ):
                    run = 0
                run += 1
                run_hr, run_spo2 = hr_value, spo2_value
                if run < trust:
                    offset += 4
                    continue
                last_hr, last_spo2 = hr_value, spo2_value  # confirmed by the run
            if conditions != reported:
                reported = conditions
                append(DecodedStatus(conditions, offset=offset))
            # A display value (a 4-beat average, once a second) that jumps by more than the
            # step from the last one sent waits for the next frame to confirm it: a flipped
            # high bit of HR or SpO2 looks like such a jump.
            if (
                hr_value == last_hr
                or hr_value is None
                or last_hr is None
                or abs(hr_value - last_hr) <= step_bpm
                or (held_hr is not None and abs(hr_value - held_hr) <= step_bpm)
            ):
                last_hr, held_hr = hr_value, None
                append(DecodedSample(pulse_rate, hr_value, hr_words, None, offset))
            else:
                held_hr = hr_value
            if (
                spo2_value == last_spo2
                or spo2_value is None
                or last_spo2 is None
                or abs(spo2_value - last_spo2) <= step_spo2
                or (held_spo2 is not None and abs(spo2_value - held_spo2) <= step_spo2)
            ):
                last_spo2, held_spo2 = spo2_value, None
                append(DecodedSample(saturation, spo2_value, spo2_words, None, offset))
            else:
                held_spo2 = spo2_value
            offset += 4
        self._df8_run = run
        self._reported = reported
        self._df8_last = (last_hr, last_spo2)
        self._df8_held = (held_hr, held_spo2)
        self._df8_run_values = (run_hr, run_spo2)
