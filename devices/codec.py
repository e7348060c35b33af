"""What protocol decoders produce, and the interfaces every codec and emulator implements.

A decoder is a pure state machine over a byte stream: ``feed(chunk)`` takes bytes as they
arrive, split anywhere, and returns what the bytes completed. It does no I/O and reads no
clock; times in its output are the device's own timestamps (or None when the protocol carries
none), and offsets count bytes from the start of the stream. The driver layer adds the source
name and the arrival time, and turns these into the core's Sample / WaveformBlock /
DeviceStatus.

An emulator is the inverse: it produces the bytes a real device would send, from the
simulator's physiology, and answers the host's requests. The simulator, training mode and the
tests run the real decoders on real bytes through it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

import numpy as np

from katmonitor.base.plausibility import INVALID, implausibility
from katmonitor.base.vitals import VitalKind

# Status words used across protocols (lower_snake_case; a decoder may add protocol-specific ones):
# value-level (DecodedSample.status): invalid, not_updated, under_range, over_range,
#   not_calibrated, measuring, data_old (NIBP older than 60 s), questionable, no_value,
#   demo (demo or test data: katmonitor/base/plausibility.py)
# device-level (DecodedStatus.conditions): sensor_off, no_sensor, no_cable, defective_sensor,
#   unrecognized_sensor, low_perfusion, marginal_perfusion, pulse_search, interference,
#   ambient_light, low_signal_iq, artifact, out_of_track, lead_off, low_battery,
#   nibp_failed, alarm_silenced


# The pulse oximeters' link: 9600 baud, 8 data bits, no parity, 1 stop bit, no flow control.
SERIAL_9600_8N1: dict[str, object] = {
    "baudrate": 9600,
    "bytesize": 8,
    "parity": "N",
    "stopbits": 1,
    "rtscts": False,
}


@dataclass(frozen=True, slots=True)
class DecodedSample:
    kind: VitalKind
    value: float | None
    """None when the device sent the parameter without a valid value (reason in ``status``)."""
    status: frozenset[str] = frozenset()
    device_time: float | None = None
    """UTC epoch seconds from the device's own clock, when the protocol carries one."""
    offset: int = 0
    """Stream offset of the first byte of the frame this came from."""
    channel: str = ""
    """Which instance of the kind, when a device reports it twice (a second SpO2 sensor): the
    device's name for the channel; empty for the first one seen. The driver records each
    channel as its own source."""


@dataclass(frozen=True, slots=True, eq=False)
class DecodedWaveform:
    kind: VitalKind
    sample_rate_hz: float
    values: np.ndarray  # float32
    status: frozenset[str] = frozenset()
    device_time: float | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class DecodedStatus:
    """The device's own view of its sensors: e.g. {"sensor_off"}, {"no_cable"}, or empty when
    all is well. Emitted when it changes (decoders may repeat it; drivers de-duplicate)."""

    conditions: frozenset[str]
    message: str = ""
    device_time: float | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class DecodeProblem:
    """Bytes that could not be decoded (bad checksum, malformed frame); they were skipped."""

    offset: int
    message: str
    length: int = 0


@dataclass(frozen=True, slots=True)
class Reply:
    """Bytes the host must send back now (e.g. an HL7 ACK)."""

    data: bytes


DecodedEvent = DecodedSample | DecodedWaveform | DecodedStatus | DecodeProblem | Reply


def append_plausible(events: list[DecodedEvent], sample: DecodedSample, model: str) -> None:
    """Append ``sample``; when its value is outside ``model``'s plausible range
    (katmonitor/base/plausibility.py) it goes without its value, with status ``invalid``, after
    a DecodeProblem saying why (which the link health counts as a bad frame)."""
    why = implausibility(sample.kind, sample.value, model)
    if why is not None:
        events.append(DecodeProblem(sample.offset, why))
        sample = replace(sample, value=None, status=sample.status | {INVALID})
    events.append(sample)


@dataclass(slots=True)
class FrameCounters:
    """Good and bad frames seen, for the checksum-error-rate technical condition (judged by the
    link loop over a sliding window: devices/stream_device.py)."""

    good: int = 0
    bad: int = 0


class Decoder(ABC):
    """Bytes in, events out; no I/O, no clock, never raises on bad input."""

    protocol: str = ""

    def __init__(self) -> None:
        self.counters = FrameCounters()
        self.offset = 0
        """Bytes consumed so far: the stream offset of the next byte fed."""

    @abstractmethod
    def feed(self, chunk: bytes) -> list[DecodedEvent]:
        """Consume ``chunk`` (any length, split anywhere) and return the completed events."""

    def flush(self) -> list[DecodedEvent]:
        """At the end of a stream: what the last bytes completed (e.g. a CR-separated HL7
        message has no terminator) and problems with a cut-off frame. Nothing by default."""
        return []

    def requests_on_connect(self) -> bytes:
        """Bytes to send when the link comes up (e.g. GE's data request); none by default."""
        return b""

    def periodic_request(self) -> tuple[float, bytes] | None:
        """(interval_s, bytes) to re-send while connected, or None."""
        return None


@dataclass(slots=True)
class EmulatorState:
    """Conditions a training scenario or noise injection can switch on the emulated device."""

    sensor_off: bool = False
    demo: bool = False
    """The device is in demo mode (its protocol marks its values as demo data)."""


class Emulator(ABC):
    """Produces a device's byte stream (the inverse of its decoder).

    ``advance(now)`` returns the bytes the device sends between the previous call and ``now``
    (UTC epoch seconds, monotonically increasing); ``receive(data, now)`` takes bytes from the
    host and returns any immediate answer. Deterministic for a given model seed and call
    sequence.
    """

    protocol: str = ""
    #: True when the device only streams after the host asked (GE DRI).
    needs_request: bool = False

    def __init__(self, model: object, start_time: float) -> None:
        self.model = model  # devices.simulated.VitalsModel
        self.start_time = start_time
        self.state = EmulatorState()

    @abstractmethod
    def advance(self, now: float) -> bytes: ...

    def receive(self, data: bytes, now: float) -> bytes:
        return b""
