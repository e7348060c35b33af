"""A Rad-8 in ASCII 1 mode for the simulator: one line per second."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.codec import Emulator
from devices.masimo.constants import EXC_MASIMO_SET, EXC_SENSOR_OFF, FIELD_KINDS
from devices.masimo.lines import format_ascii1_line
from katmonitor.base.vitals import VitalKind

if TYPE_CHECKING:
    from devices.simulated import VitalsModel


class MasimoEmulator(Emulator):
    """A Rad-8 in ASCII 1 mode: one line per second of ``now``, from the simulator's model."""

    protocol = "masimo"

    def __init__(self, model: VitalsModel, start_time: float) -> None:
        super().__init__(model, start_time)
        self.model: VitalsModel = model
        self._lines_sent = 0

    def advance(self, now: float) -> bytes:
        out = bytearray()
        # Line n is due at start_time + n: count lines, never accumulate float seconds.
        while self.start_time + self._lines_sent <= now:
            elapsed = float(self._lines_sent)
            self._lines_sent += 1
            out += self._line(elapsed)
        return bytes(out)

    def _line(self, elapsed: float) -> bytes:
        numerics = self.model.numerics(elapsed)
        exc = EXC_MASIMO_SET
        values: dict[VitalKind, float | None] = {
            kind: numerics[kind] for kind in FIELD_KINDS.values()
        }
        if self.state.sensor_off:
            exc |= EXC_SENSOR_OFF
            values = dict.fromkeys(values)
        return format_ascii1_line(self.start_time + elapsed, values, exc=exc)
