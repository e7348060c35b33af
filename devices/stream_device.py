"""The driver loop shared by every byte-stream device: open the transport, send the protocol's
requests, feed what arrives to its decoder, turn decoded events into the core's samples, and
keep the link healthy (reconnect, checksum error rate, device clock drift).

Sample times: a device's own timestamps are mapped onto the workstation clock with an offset
estimated from continuous parameters (the median of arrival minus device time), so an NIBP
measured three minutes ago keeps its real time while a device clock set wrong does not put data
in the wrong place. A clock more than ``CLOCK_DRIFT_LIMIT_S`` off is a technical condition.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from devices.base import Device
from devices.codec import (
    DecodedEvent,
    DecodedSample,
    DecodedStatus,
    DecodedWaveform,
    DecodeProblem,
    Decoder,
    Reply,
)
from devices.transport import READ_TIMEOUT_S, Transport, TransportError
from katmonitor.base.clock import steady_time
from katmonitor.base.plausibility import DEMO, DEMO_DATA
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, SampleSink, WaveformBlock
from katmonitor.base.vitals import VitalKind, spec_of

CLOCK_DRIFT_LIMIT_S = 60.0
RECONNECT_INTERVAL_S = 2.0
WAVE_JITTER_S = 1.0
# Checksum errors: judged over a sliding window of recent frames.
ERROR_WINDOW_FRAMES = 200
ERROR_RATE_LIMIT = 0.05
ERROR_MIN_BAD = 3

CONDITION_TEXT = {
    "sensor_off": "sensor off",
    "no_sensor": "no sensor",
    "no_cable": "no cable",
    "defective_sensor": "defective sensor",
    "unrecognized_sensor": "unrecognised sensor",
    "low_perfusion": "low perfusion",
    "marginal_perfusion": "marginal perfusion",
    "pulse_search": "pulse search",
    "interference": "interference",
    "ambient_light": "ambient light",
    "low_signal_iq": "low signal quality",
    "artifact": "artifact",
    "out_of_track": "out of track",
    "lead_off": "lead off",
    "low_battery": "low battery",
    "nibp_failed": "NIBP measurement failed",
    "checksum_errors": "many corrupted frames (check cable/settings)",
    "clock_drift": "device clock differs from the workstation's",
    DEMO_DATA: "the device sends demo or test data, not the client's",
}


def describe_conditions(conditions: frozenset[str]) -> str:
    return ", ".join(CONDITION_TEXT.get(c, c.replace("_", " ")) for c in sorted(conditions))


class EventConverter:
    """Decoded events of one link -> Sample / WaveformBlock / DeviceStatus for the sink."""

    def __init__(self, source: str, sink: SampleSink) -> None:
        self.source = source
        self.sink = sink
        self._offsets: deque[float] = deque(maxlen=31)
        self._device_conditions: frozenset[str] = frozenset()
        self._link_conditions: set[str] = set()
        self._reported: DeviceStatus | None = None
        self._next_wave_start: dict[VitalKind, float] = {}
        self._last_intermittent: dict[VitalKind, tuple[object, ...]] = {}
        self._frames: deque[bool] = deque(maxlen=ERROR_WINDOW_FRAMES)
        self._good_seen = 0

    @property
    def clock_offset_s(self) -> float | None:
        return statistics.median(self._offsets) if self._offsets else None

    def connected(self, now: float, description: str) -> None:
        self._report(now, description, force=True)

    def handle(self, events: list[DecodedEvent], decoder: Decoder, now: float) -> list[bytes]:
        """Deliver events; returns bytes to send back (replies)."""
        replies: list[bytes] = []
        for event in events:
            if isinstance(event, DecodedSample):
                self._sample(event, now)
            elif isinstance(event, DecodedWaveform):
                self._waveform(event, now)
            elif isinstance(event, DecodedStatus):
                self._device_conditions = event.conditions
                self._report(now, event.message)
            elif isinstance(event, DecodeProblem):
                self._frames.append(False)
            elif isinstance(event, Reply):
                replies.append(event.data)
        self._track_errors(decoder, now)
        return replies

    def _time(self, device_time: float | None, now: float, continuous: bool) -> float:
        if device_time is None:
            return now
        if continuous:
            self._offsets.append(now - device_time)
            drifting = abs(self.clock_offset_s or 0.0) > CLOCK_DRIFT_LIMIT_S
            self._set_link_condition("clock_drift", drifting, now)
        offset = self.clock_offset_s
        if offset is None:
            # No estimate yet: trust the device clock only if it is plausible.
            return device_time if abs(now - device_time) < CLOCK_DRIFT_LIMIT_S * 10 else now
        return min(device_time + offset, now)

    def _sample(self, event: DecodedSample, now: float) -> None:
        continuous = not spec_of(event.kind).intermittent
        if not continuous and event.device_time is not None:
            # Some monitors repeat the last NIBP in every message: one measurement, one sample.
            # A changed status is news: a reading "measuring" that became final is sent again.
            key = (event.device_time, event.value, event.status, event.channel)
            if self._last_intermittent.get(event.kind) == key:
                return
            self._last_intermittent[event.kind] = key
        when = self._time(event.device_time, now, continuous)
        source = f"{self.source}/{event.channel}" if event.channel else self.source
        self.sink.on_sample(Sample(when, source, event.kind, event.value, event.status))
        # Demo or test data from a device: a technical condition of the link while it lasts.
        if DEMO in event.status:
            self._set_link_condition(DEMO_DATA, True, now)
        elif event.value is not None:
            self._set_link_condition(DEMO_DATA, False, now)

    def _waveform(self, event: DecodedWaveform, now: float) -> None:
        count = int(event.values.shape[0])
        if count == 0:
            return
        duration = count / event.sample_rate_hz
        # Waveform points are placed by arrival: device clocks tick in whole seconds (GE DRI),
        # too coarse for 100 Hz. Blocks are chained end to start while arrival jitter stays
        # under WAVE_JITTER_S; a longer gap (device silent) starts a new run.
        estimate = now - duration
        expected = self._next_wave_start.get(event.kind)
        start = (
            expected
            if expected is not None and abs(estimate - expected) < WAVE_JITTER_S
            else estimate
        )
        self._next_wave_start[event.kind] = start + duration
        values = np.asarray(event.values, dtype=np.float32)
        self.sink.on_waveform(
            WaveformBlock(
                start, event.sample_rate_hz, self.source, event.kind, values, event.status
            )
        )

    def _track_errors(self, decoder: Decoder, now: float) -> None:
        good = decoder.counters.good - self._good_seen
        self._good_seen = decoder.counters.good
        self._frames.extend([True] * min(good, ERROR_WINDOW_FRAMES))
        bad = self._frames.count(False)
        rate = bad / len(self._frames) if self._frames else 0.0
        if "checksum_errors" in self._link_conditions:
            self._set_link_condition("checksum_errors", rate > ERROR_RATE_LIMIT / 2, now)
        else:
            self._set_link_condition(
                "checksum_errors", bad >= ERROR_MIN_BAD and rate > ERROR_RATE_LIMIT, now
            )

    def _set_link_condition(self, name: str, active: bool, now: float) -> None:
        if active == (name in self._link_conditions):
            return
        if active:
            self._link_conditions.add(name)
        else:
            self._link_conditions.discard(name)
        self._report(now, "")

    def _report(self, now: float, message: str, *, force: bool = False) -> None:
        conditions = self._device_conditions | frozenset(self._link_conditions)
        if not force and self._reported is not None and self._reported.conditions == conditions:
            return
        text = describe_conditions(conditions) if conditions else message
        status = DeviceStatus(now, self.source, ConnectionState.CONNECTED, conditions, text)
        self._reported = status
        self.sink.on_status(status)


def run_link(
    transport: Transport,
    decoder: Decoder,
    sink: SampleSink,
    source: str,
    stopping: Callable[[], bool],
    *,
    capture: BinaryIO | None = None,
    clock: Callable[[], float] = steady_time,
    timer: Callable[[], float] = time.monotonic,
) -> None:
    """Serve one open link until it fails (TransportError propagates) or ``stopping()``.

    ``clock`` (UTC epoch seconds) stamps what arrives; ``timer`` (monotonic seconds) paces the
    periodic requests. Tests pass a manual clock for both."""
    converter = EventConverter(source, sink)
    converter.connected(clock(), transport.description)
    transport.write(decoder.requests_on_connect())
    periodic = decoder.periodic_request()
    next_request = timer() + periodic[0] if periodic else None
    while not stopping():
        data = transport.read(READ_TIMEOUT_S)
        if data:
            if capture is not None:
                capture.write(data)
                capture.flush()
            for reply in converter.handle(decoder.feed(data), decoder, clock()):
                transport.write(reply)
        if periodic and next_request is not None and timer() >= next_request:
            transport.write(periodic[1])
            next_request = timer() + periodic[0]


class StreamDevice(Device):
    """A device behind one transport (serial port, pty, capture file, in-process emulator)."""

    def __init__(
        self,
        spec: str,
        source: str,
        transport: Transport,
        decoder_factory: Callable[[], Decoder],
        *,
        simulated: bool = False,
        capture_path: Path | None = None,
        reconnect_interval_s: float = RECONNECT_INTERVAL_S,
        clock: Callable[[], float] = steady_time,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(spec, source)
        self.transport = transport
        self.decoder_factory = decoder_factory
        self.simulated = simulated
        self.capture_path = capture_path
        self.reconnect_interval_s = reconnect_interval_s
        self.clock = clock
        self.timer = timer

    def _run(self, sink: SampleSink) -> None:
        capture = self.capture_path.open("ab") if self.capture_path else None
        last_problem = ""
        try:
            while not self.stopping:
                try:
                    self.transport.open()
                    last_problem = ""
                    # A fresh decoder per connection: no half frame survives a replug.
                    run_link(
                        self.transport,
                        self.decoder_factory(),
                        sink,
                        self.source,
                        lambda: self.stopping,
                        capture=capture,
                        clock=self.clock,
                        timer=self.timer,
                    )
                except TransportError as error:
                    if error.message != last_problem:  # each distinct problem once, not per retry
                        last_problem = error.message
                        sink.on_status(
                            DeviceStatus(
                                self.clock(),
                                self.source,
                                ConnectionState.DISCONNECTED,
                                frozenset({error.reason}),
                                error.message,
                            )
                        )
                    if error.reason == "ended":  # a capture played to its end: idle until stopped
                        while not self.wait(3600.0):
                            pass
                        break
                    self.wait(self.reconnect_interval_s)
                finally:
                    self.transport.close()
        finally:
            if capture is not None:
                capture.close()
            sink.on_status(DeviceStatus(self.clock(), self.source, ConnectionState.STOPPED))
