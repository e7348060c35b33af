"""Factories that turn a parsed device spec into a Device (looked up by devices/registry.py).

  sim:SCENARIO[?protocol=ge-dri&nibp_interval=S&seed=N&stop_after=S&...]  simulated, real bytes
  ge-dri:PORT[?baud=115200]          masimo:PORT         nonin-df2|df7|df8:PORT
  hl7:HOST:PORT                      replay:FILE?protocol=NAME[&speed=X]
Common options: ``name`` (the source name recorded with each sample), ``capture`` (tee the raw
bytes to a file for offline ``katmonitor decode`` or ``replay:``), ``primary`` (comma-separated
kinds this device is shown for when another device reports them too, e.g. ``primary=spo2``).

Every factory takes the device's ``clock`` (UTC epoch seconds: sample times, the simulator's
time) and ``timer`` (monotonic seconds: request and replay pacing); tests pass a manual clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from devices.base import Device
from devices.hl7_listener import Hl7ListenerDevice
from devices.noise import NoiseSettings, NoisyStream
from devices.protocols import protocol
from devices.registry import DeviceSpec
from devices.simulated import SCENARIOS, VitalsModel
from devices.stream_device import StreamDevice
from devices.transport import EmulatorTransport, FileReplayTransport, SerialTransport
from katmonitor.base.clock import steady_time
from katmonitor.base.errors import ConfigurationError

COMMON_OPTIONS = {"name", "capture", "primary"}
NOISE_OPTIONS = {
    "bit_errors",
    "drop_rate",
    "stop_after",
    "silence_at",
    "silence_for",
    "sensor_off_at",
    "sensor_off_for",
}


def _capture(spec: DeviceSpec) -> Path | None:
    raw = spec.options.get("capture")
    return Path(raw).expanduser() if raw else None


Clock = Callable[[], float]


def serial_device(
    spec: DeviceSpec, *, clock: Clock = steady_time, timer: Clock = time.monotonic
) -> Device:
    spec.check_options(COMMON_OPTIONS | {"baud"})
    info = protocol(spec.kind)
    if not spec.address:
        raise ConfigurationError(
            f"device spec {spec.text!r} names no serial port",
            f"e.g. {spec.kind}:/dev/ttyUSB0 (Linux) or {spec.kind}:COM3 (Windows)",
        )
    baud = spec.options.get("baud")
    settings = info.serial_settings(spec.option_int("baud", 0) if baud else None)
    return StreamDevice(
        spec.text,
        spec.options.get("name", spec.kind),
        SerialTransport(spec.address, settings),
        info.make_decoder,
        capture_path=_capture(spec),
        clock=clock,
        timer=timer,
    )


def hl7_device(
    spec: DeviceSpec, *, clock: Clock = steady_time, timer: Clock = time.monotonic
) -> Device:
    spec.check_options(COMMON_OPTIONS - {"capture"})
    host, sep, port_text = spec.address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigurationError(
            f"device spec {spec.text!r} needs HOST:PORT to listen on", "e.g. hl7:0.0.0.0:2575"
        )
    info = protocol("hl7")
    return Hl7ListenerDevice(
        spec.text,
        spec.options.get("name", "hl7"),
        host or "0.0.0.0",
        int(port_text),
        info.make_decoder,
        clock=clock,
        timer=timer,
    )


def replay_device(
    spec: DeviceSpec, *, clock: Clock = steady_time, timer: Clock = time.monotonic
) -> Device:
    spec.check_options({"name", "primary", "protocol", "speed"})
    if "protocol" not in spec.options:
        raise ConfigurationError(f"say which protocol {spec.address!r} holds: ?protocol=NAME")
    info = protocol(spec.options["protocol"])
    path = Path(spec.address).expanduser()
    if not path.is_file():
        raise ConfigurationError(f"capture file {path} does not exist")
    rate = info.wire_bytes_per_s() or 2000.0  # HL7 captures: a gateway's typical pace
    speed = spec.option_float("speed", 1.0, minimum=0.01)
    transport = FileReplayTransport(path, rate, speed, timer=timer)
    # A replayed recording is not a live client: it counts as training data.
    return StreamDevice(
        spec.text,
        spec.options.get("name", f"replay-{info.name}"),
        transport,
        info.make_decoder,
        simulated=True,
        clock=clock,
        timer=timer,
    )


def simulated_device(
    spec: DeviceSpec, *, clock: Clock = steady_time, timer: Clock = time.monotonic
) -> Device:
    spec.check_options(COMMON_OPTIONS | NOISE_OPTIONS | {"protocol", "nibp_interval", "seed"})
    scenario = spec.address or "normal"
    if scenario not in SCENARIOS:
        raise ConfigurationError(
            f"unknown simulator scenario {scenario!r}", f"choose one of: {', '.join(SCENARIOS)}"
        )
    info = protocol(spec.options.get("protocol", "ge-dri"))
    model = VitalsModel(scenario, spec.option_int("seed", 1))
    emulator = info.make_emulator(model, clock())
    if hasattr(emulator, "nibp_interval_s"):
        emulator.nibp_interval_s = spec.option_float("nibp_interval", 180.0, minimum=5.0)
    noise = noise_settings(spec)
    stream = NoisyStream(emulator, noise) if noise.active else emulator
    return StreamDevice(
        spec.text,
        spec.options.get("name", "sim"),
        EmulatorTransport(stream, clock),
        info.make_decoder,
        simulated=True,
        capture_path=_capture(spec),
        clock=clock,
        timer=timer,
    )


def noise_settings(spec: DeviceSpec) -> NoiseSettings:
    def optional(name: str) -> float | None:
        return spec.option_float(name, 0.0, minimum=0.0) if name in spec.options else None

    silence_at = optional("silence_at")
    if "stop_after" in spec.options:  # the feed falls silent for good, as with a pulled cable
        silence_at = optional("stop_after")
    return NoiseSettings(
        bit_error_rate=spec.option_float("bit_errors", 0.0, minimum=0.0),
        drop_rate=spec.option_float("drop_rate", 0.0, minimum=0.0),
        silence_at_s=silence_at,
        silence_for_s=spec.option_float("silence_for", 0.0, minimum=0.0),
        sensor_off_at_s=optional("sensor_off_at"),
        sensor_off_for_s=spec.option_float("sensor_off_for", 0.0, minimum=0.0),
        seed=spec.option_int("seed", 7),
    )
