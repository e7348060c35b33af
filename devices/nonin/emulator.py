"""A Nonin oximeter for the simulator: DF2/DF7 packets every 1/3 s or a DF8 frame a second."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from devices.codec import Emulator
from devices.nonin.constants import (
    ACK,
    ETX,
    FORMATS,
    FRAME_RATE_HZ,
    FRAMES_PER_PACKET,
    NAK,
    PACKET_SECONDS,
    STX,
)
from devices.nonin.records import (
    NoninReading,
    encode_df2_packet,
    encode_df7_packet,
    encode_df8_frame,
)
from katmonitor.base.vitals import VitalKind

if TYPE_CHECKING:
    from devices.simulated import VitalsModel


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
