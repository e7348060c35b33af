"""Simulated devices on a manual clock: seconds of device time in milliseconds, in step.

The emulators, the link loop and the connection check take their time from an injected clock.
:class:`VirtualTime` opens simulated devices on a :class:`~katmonitor.base.clock.ManualClock`
and moves it in small steps; after each step it waits (on an event, not a fixed sleep) until
every running device's link loop has read and handled what its emulator sent up to then. Five
seconds of a GE monitor then take a fraction of a second, and a busy machine only makes a test
slower, never different. Used by the tests (``sleep`` and ``timer`` fit
:func:`devices.connection_check.check_connection`).
"""

from __future__ import annotations

from devices.base import Device
from devices.registry import open_device
from devices.stream_device import StreamDevice
from devices.transport import EmulatorTransport
from katmonitor.base.clock import ManualClock

STEP_S = 0.05
HANDLED_TIMEOUT_S = 30.0  # generous: only a stuck device thread takes this long


class VirtualTime:
    def __init__(self, start: float = 1_800_000_000.0, step_s: float = STEP_S) -> None:
        self.clock = ManualClock(start)
        self.step_s = step_s
        self.devices: list[StreamDevice] = []

    def now(self) -> float:
        return self.clock.now()

    def open(self, spec: str) -> Device:
        """The device of a ``sim:`` spec, running on this clock (not started)."""
        device = open_device(spec, clock=self.clock.now, timer=self.clock.now)
        if not isinstance(device, StreamDevice) or not isinstance(
            device.transport, EmulatorTransport
        ):
            raise ValueError(f"{spec!r} is not a simulated device: it cannot run on a manual clock")
        self.devices.append(device)
        return device

    def sleep(self, seconds: float) -> None:
        """Move the clock ``seconds`` on, step by step, each step handled by every device."""
        start = self.clock.now()
        steps = max(1, round(seconds / self.step_s))
        for index in range(1, steps + 1):
            self.clock.set(start + seconds * index / steps)
            self.settle()

    def settle(self) -> None:
        """Wait until the running devices have handled everything up to now."""
        for device in self.devices:
            transport = device.transport
            assert isinstance(transport, EmulatorTransport)
            if device.running and not transport.step(self.clock.now(), HANDLED_TIMEOUT_S):
                raise TimeoutError(f"{device.spec} did not keep up with the manual clock")
