"""A GE monitor on the computer interface, for the simulator: silent until asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np

from devices.codec import Emulator
from devices.ge_dri.constants import (
    INTERVAL_ONCE,
    INTERVAL_STOP,
    MIN_DISPLAYED_INTERVAL_S,
    NIBP_LABEL_MEASURING,
    PH_DISPLAYED,
    PLETH_RATE_HZ,
    WF_PLETH,
    WF_REQ_CONT_START,
)
from devices.ge_dri.framing import Deframer
from devices.ge_dri.records import (
    PhdbRequest,
    WaveRequest,
    build_displayed_values_frame,
    build_pleth_frame,
    parse_request,
)
from katmonitor.base.vitals import VitalKind

if TYPE_CHECKING:
    from devices.simulated import VitalsModel


NIBP_CYCLE_S = 180.0
FIRST_NIBP_AFTER_S = 3.0
NIBP_FINAL_AFTER_S = 2.5
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
        # Like an S/5, a new NIBP result is first sent with the measuring bit set, which
        # clears about 2 s later (so in the next record at the 5 s rate).
        measuring = self._nibp_time is not None and at - self._nibp_time < NIBP_FINAL_AFTER_S
        frame = build_displayed_values_frame(
            int(at),
            values,
            nibp_time=self._nibp_time,
            sensor_off=self.state.sensor_off,
            record_number=self._next_record_number(),
            nibp_label=NIBP_LABEL_MEASURING if measuring else 0,
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
