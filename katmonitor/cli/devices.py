"""``katmonitor devices``, ``decode`` and ``simulate``: device types, this workstation's
devices, raw captures and simulated byte streams."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from devices.protocols import PROTOCOLS
from katmonitor.base.errors import ConfigurationError
from katmonitor.cli.common import EXIT_OK, non_negative_float, on_termination, positive_float
from katmonitor.config import DEFAULT_DEVICE
from katmonitor.text import printable

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    protocol_names = ", ".join(sorted(PROTOCOLS))
    devices = commands.add_parser(
        "devices",
        help="list the device types and serial ports; show or set this workstation's devices",
        description="Without ACTION: list the device types and the serial ports.",
    )
    devices.set_defaults(handler=cmd_devices)
    device_commands = devices.add_subparsers(dest="devices_command", metavar="ACTION")
    devices_show = device_commands.add_parser(
        "show", help="show the devices `run` uses on this workstation"
    )
    devices_show.set_defaults(handler=cmd_devices_show)
    devices_set = device_commands.add_parser(
        "set", help="save the devices `run` uses on this workstation"
    )
    devices_set.add_argument("specs", nargs="+", metavar="SPEC", help="device spec, in order")
    devices_set.set_defaults(handler=cmd_devices_set)

    decode = commands.add_parser(
        "decode", help="decode a raw capture; one JSON object per line (problems on stderr)"
    )
    decode.add_argument("--protocol", required=True, help=f"one of: {protocol_names}")
    decode.add_argument("file", metavar="FILE", type=Path)
    decode.set_defaults(handler=cmd_decode)

    simulate = commands.add_parser(
        "simulate", help="emit a simulated device's real byte stream (pty, port, TCP or file)"
    )
    simulate.add_argument("--protocol", required=True, help=f"one of: {protocol_names}")
    simulate.add_argument(
        "--scenario", default="normal", help="normal, hypertensive or desaturation"
    )
    where = simulate.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--pty", action="store_true", help="create a pseudo-terminal and print its path"
    )
    where.add_argument("--port", metavar="PATH", help="write to this serial port")
    where.add_argument("--tcp", metavar="HOST:PORT", help="connect to an HL7 listener")
    where.add_argument("--out", metavar="FILE", type=Path, help="write a capture file")
    simulate.add_argument(
        "--speed", type=positive_float, default=1.0, help="simulated seconds per real second"
    )
    simulate.add_argument(
        "--duration",
        type=positive_float,
        metavar="SECONDS",
        help="simulated seconds to run (default: until stopped; 60 for --out)",
    )
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--nibp-interval", type=positive_float, default=180.0, metavar="SECONDS")
    noise = simulate.add_argument_group("noise injection")
    noise.add_argument(
        "--bit-errors",
        type=non_negative_float,
        default=0.0,
        metavar="RATE",
        help="probability of a flipped bit per byte",
    )
    noise.add_argument(
        "--drop-rate",
        type=non_negative_float,
        default=0.0,
        metavar="RATE",
        help="probability of a lost byte",
    )
    noise.add_argument("--silence-at", type=non_negative_float, metavar="S")
    noise.add_argument(
        "--silence-for",
        type=non_negative_float,
        default=0.0,
        metavar="S",
        help="0: silent for good",
    )
    noise.add_argument("--sensor-off-at", type=non_negative_float, metavar="S")
    noise.add_argument("--sensor-off-for", type=non_negative_float, default=0.0, metavar="S")
    simulate.set_defaults(handler=cmd_simulate)


def cmd_devices(args: argparse.Namespace) -> int:
    from serial.tools import list_ports

    from devices.registry import DESCRIPTIONS, available_kinds

    print("Device types (--device SPEC):")
    for kind in available_kinds():
        print(f"  {DESCRIPTIONS.get(kind, kind)}")
    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    print("Serial ports:" if ports else "Serial ports: none found")
    for port in ports:
        print(f"  {printable(port.device)}  {printable(port.description)}")
    return EXIT_OK


def cmd_devices_show(args: argparse.Namespace) -> int:
    from katmonitor.settings import load_settings, settings_path

    settings = load_settings()
    print(f"Workstation settings: {settings_path()}")
    if not settings.devices:
        print(f"Devices: none saved; `run` uses {DEFAULT_DEVICE} (simulated, training)")
    for spec in settings.devices:
        print(f"  {printable(spec)}")
    return EXIT_OK


def cmd_devices_set(args: argparse.Namespace) -> int:
    from devices.registry import open_device
    from katmonitor.settings import WorkstationSettings, save_settings
    from katmonitor.workstation import require_one_mode

    specs = [spec.strip() for spec in args.specs]
    require_one_mode([open_device(spec) for spec in specs])  # created, never started
    path = save_settings(WorkstationSettings(devices=specs))
    print(f"Saved {len(specs)} device(s) to {path}; `katmonitor run` uses them from now on.")
    return EXIT_OK


def cmd_decode(args: argparse.Namespace) -> int:
    from devices.codec import DecodeProblem
    from devices.decode import decode_capture
    from devices.protocols import protocol

    info = protocol(args.protocol)
    try:
        data = args.file.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"cannot read {args.file}: {error.strerror}") from None
    problems = 0
    for line in decode_capture(info, data):
        if isinstance(line, DecodeProblem):
            problems += 1
            print(f"{args.file}: offset {line.offset}: {line.message}", file=sys.stderr)
        else:
            sys.stdout.write(json.dumps(line) + "\n")
    if problems:
        print(
            f"{args.file}: {problems} problem(s); the bytes concerned were skipped", file=sys.stderr
        )
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from devices.noise import NoiseSettings, NoisyStream
    from devices.protocols import protocol
    from devices.simulated import VitalsModel
    from devices.simulator import SimulationTarget, run_simulation

    info = protocol(args.protocol)
    tcp = _host_port(args.tcp) if args.tcp else None
    if tcp is not None and info.transport != "tcp-listen":
        raise ConfigurationError(f"{info.name} is a serial protocol: use --pty or --port")
    emulator = info.make_emulator(VitalsModel(args.scenario, args.seed), time.time())
    if hasattr(emulator, "nibp_interval_s"):
        emulator.nibp_interval_s = args.nibp_interval
    noise = NoiseSettings(
        bit_error_rate=args.bit_errors,
        drop_rate=args.drop_rate,
        silence_at_s=args.silence_at,
        silence_for_s=args.silence_for,
        sensor_off_at_s=args.sensor_off_at,
        sensor_off_for_s=args.sensor_off_for,
        seed=args.seed,
    )
    stream = NoisyStream(emulator, noise) if noise.active else emulator
    stop = threading.Event()
    restore = on_termination(stop.set)
    try:
        run_simulation(
            info,
            stream,
            SimulationTarget(args.pty, args.port, tcp, args.out),
            speed=args.speed,
            duration_s=args.duration,
            stop=stop.is_set,
            announce=lambda text: print(text, flush=True),
        )
    finally:
        restore()
    return EXIT_OK


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigurationError(f"{text!r} is not HOST:PORT")
    return host or "127.0.0.1", int(port)
