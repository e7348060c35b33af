"""Try a device spec for a few seconds and say in one sentence whether its data arrive.

Used by the device settings ("Test connection") before a device is put to use: it opens the
device exactly as the workstation would (same driver, same decoder), collects what arrives, and
stops it again. Nothing is recorded. It blocks for up to ``seconds``: call it off the UI thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.base import Device
from devices.protocols import PROTOCOLS
from devices.registry import open_device, parse_spec
from devices.stream_device import describe_conditions
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind, spec_of

# Problems that do not go away by waiting a few more seconds.
FATAL_REASONS = frozenset({"missing", "permission", "busy", "unreachable", "ended"})
FATAL_GRACE_S = 1.0  # a port may be appearing (USB adapter enumerating) just as we look
ENOUGH_DATA_S = 2.0  # once numerics arrive, a little longer to see the pleth and its rate
POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    ok: bool
    """True when the device's data arrived and were decoded."""
    summary: str
    """One sentence for the engineer: what arrived, or what is wrong and what to check."""
    statuses: list[DeviceStatus] = field(default_factory=list)
    kinds: dict[str, float | None] = field(default_factory=dict)
    """Last value per numeric kind (``"hr"``: 72.0); None when the device sent no valid value."""
    pleth_points: int = 0


class _ProbeSink:
    """Collects what a device delivers (from its thread) for the checking thread to read."""

    def __init__(self, timer: Callable[[], float]) -> None:
        self.timer = timer
        self.lock = threading.Lock()
        self.statuses: list[DeviceStatus] = []
        self.kinds: dict[str, float | None] = {}
        self.pleth_points = 0
        self.pleth_rate_hz = 0.0
        self.fatal_since: float | None = None

    def on_sample(self, sample: Sample) -> None:
        with self.lock:
            self.kinds[str(sample.kind)] = sample.value

    def on_waveform(self, block: WaveformBlock) -> None:
        with self.lock:
            if block.kind is VitalKind.PLETH:
                self.pleth_points += block.count
                self.pleth_rate_hz = block.sample_rate_hz

    def on_status(self, status: DeviceStatus) -> None:
        with self.lock:
            self.statuses.append(status)
            if status.state is ConnectionState.DISCONNECTED and status.conditions & FATAL_REASONS:
                if self.fatal_since is None:
                    self.fatal_since = self.timer()
            elif status.state is not ConnectionState.STOPPED:
                self.fatal_since = None


def check_connection(
    spec: str,
    seconds: float = 5.0,
    *,
    stop: Callable[[], bool] | None = None,
    timer: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    opener: Callable[[str], Device] = open_device,
) -> ConnectionReport:
    """Run the device of ``spec`` for up to ``seconds`` and report what arrived.

    Returns early once numeric values have arrived (after at least 2 s), when a problem that
    waiting will not cure persists (port missing, busy, no permission), or when ``stop()``
    turns true. ConfigurationError if the spec itself is wrong.

    ``timer`` (monotonic seconds) and ``sleep`` measure and pass the time, ``opener`` makes the
    device: a test passes a manual clock, a sleep that moves it, and a device on that clock.
    """
    device = opener(spec)
    sink = _ProbeSink(timer)
    started = timer()
    cancelled = False
    device.start(sink)
    try:
        while (elapsed := timer() - started) < seconds:
            if stop is not None and stop():
                cancelled = True
                break
            with sink.lock:
                has_numerics = bool(sink.kinds)
                fatal_since = sink.fatal_since
            if has_numerics and elapsed >= ENOUGH_DATA_S:
                break
            if fatal_since is not None and timer() - fatal_since >= FATAL_GRACE_S:
                break
            sleep(POLL_S)
    finally:
        device.stop(timeout_s=3.0)
    with sink.lock:
        return _report(spec, sink, seconds, cancelled)


def same_resource(spec_a: str, spec_b: str) -> bool:
    """True when two specs need the same serial port or TCP port, so one cannot be tested
    while the other runs (the port would show as busy)."""
    key_a, key_b = _resource(spec_a), _resource(spec_b)
    return key_a is not None and key_a == key_b


def _resource(text: str) -> tuple[str, str] | None:
    spec = parse_spec(text)
    if spec.kind in ("sim", "replay"):
        return None  # in-process or a file: any number can run at once
    if spec.kind == "hl7":
        return ("tcp", spec.address.rpartition(":")[2])
    return ("serial", spec.address)


def _report(spec: str, sink: _ProbeSink, seconds: float, cancelled: bool) -> ConnectionReport:
    statuses = list(sink.statuses)
    kinds = dict(sink.kinds)

    def report(ok: bool, summary: str) -> ConnectionReport:
        return ConnectionReport(ok, summary, statuses, kinds, sink.pleth_points)

    if kinds or sink.pleth_points:
        return report(True, _receiving(kinds, sink.pleth_points, sink.pleth_rate_hz, statuses))
    if cancelled:
        return report(False, "Test cancelled before any data arrived")
    parsed = parse_spec(spec)
    last = next((s for s in reversed(statuses) if s.state is not ConnectionState.STOPPED), None)
    if parsed.kind == "hl7" and (last is None or not last.conditions & FATAL_REASONS):
        return report(
            False,
            f"Listening on {parsed.address} but no gateway sent data in {seconds:g} s: check "
            "that the gateway sends to this workstation's address and port",
        )
    if last is None:
        return report(False, f"No response from the device in {seconds:g} s")
    if last.state is ConnectionState.DISCONNECTED:
        return report(False, _sentence(last.message or "Disconnected"))
    settings = _serial_settings_text(parsed.kind, parsed.options.get("baud"))
    if "checksum_errors" in last.conditions:
        return report(
            False,
            "Data arrive but cannot be decoded: check the protocol and the monitor's interface "
            f"settings{settings}",
        )
    where = f"Serial port {parsed.address}" if parsed.address else "Connection"
    return report(
        False,
        f"{where} open but no data in {seconds:g} s: check the monitor's interface "
        f"settings{settings} and the cable",
    )


def _receiving(
    kinds: dict[str, float | None], pleth_points: int, rate_hz: float, statuses: list[DeviceStatus]
) -> str:
    parts: list[str] = []
    missing: list[str] = []
    for kind in VitalKind:  # a stable, familiar order: HR, PR, SpO2, NIBP...
        if str(kind) not in kinds:
            continue
        vital = spec_of(kind)
        value = kinds[str(kind)]
        if value is None:
            if not vital.intermittent:  # NIBP has no value until the first measurement
                missing.append(vital.label)
        else:
            parts.append(f"{vital.label} {value:.{vital.decimals}f} {vital.unit}")
    if pleth_points:
        parts.append(f"pleth {rate_hz:g} Hz" if rate_hz else "pleth")
    if missing:
        parts.append(f"no valid value for {', '.join(missing)}")
    summary = "Receiving: " + (", ".join(parts) or "no valid values yet")
    connected = [s for s in statuses if s.state is ConnectionState.CONNECTED]
    if connected and connected[-1].conditions:
        summary += f" ({describe_conditions(connected[-1].conditions)})"
    return summary


def _serial_settings_text(kind: str, baud: str | None) -> str:
    """`` (baud 19200 8E1)`` for a serial protocol, else ""."""
    info = PROTOCOLS.get(kind)
    if info is None or info.transport != "serial":
        return ""
    settings = info.serial_settings(int(baud) if baud and baud.isdigit() else None)
    rate = settings.get("baudrate", info.default_baudrate)
    bits, parity = settings.get("bytesize", 8), settings.get("parity", "N")
    return f" (baud {rate} {bits}{parity}{settings.get('stopbits', 1)})"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
