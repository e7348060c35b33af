"""The ``katmonitor`` command.

Every command reports user-facing problems as one message plus a hint on stderr with exit
status 2 (never a traceback); unexpected failures exit 1 with the details in the log file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TextIO
from urllib.parse import quote

from katmonitor import __version__
from katmonitor.base.errors import ConfigurationError, KatMonitorError
from katmonitor.base.samples import DeviceStatus, Sample, WaveformBlock, iso_utc
from katmonitor.config import DEFAULT_DEVICE, data_dir, resolve_database_url
from katmonitor.session import DoseEvent, Observation, Route, Session, parse_route

log = logging.getLogger("katmonitor")

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER_ERROR = 2
PROTOCOL_NAMES = "ge-dri, hl7, masimo, nonin-df2, nonin-df7, nonin-df8"


def build_parser() -> argparse.ArgumentParser:
    db_option = argparse.ArgumentParser(add_help=False)
    db_option.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy database URL (default: $KATMONITOR_DB, else SQLite in the data directory)",
    )
    parser = argparse.ArgumentParser(
        prog="katmonitor", description="KAT Monitor: vital-sign monitoring for KAT dosing sessions."
    )
    parser.add_argument("--version", action="version", version=f"katmonitor {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", parents=[db_option], help="open the dosing-room window")
    run.add_argument(
        "--device",
        action="append",
        metavar="SPEC",
        help=f"device spec, repeatable (default: {DEFAULT_DEVICE})",
    )
    run.add_argument(
        "--capture",
        metavar="FILE",
        type=Path,
        help="also write the device's raw bytes to FILE (one device only)",
    )
    run.add_argument(
        "--care-plan",
        metavar="FILE",
        type=Path,
        help="the clinic's care plan (TOML merged over the shipped one; see docs/workflow.md)",
    )
    run.set_defaults(handler=cmd_run)

    care_plan = commands.add_parser(
        "care-plan", help="show the care plan in force: eligibility, gate, schedule per route"
    )
    care_plan.add_argument("file", nargs="?", type=Path, help="a clinic's care plan TOML")
    care_plan.set_defaults(handler=cmd_care_plan)

    record = commands.add_parser(
        "record", parents=[db_option], help="record a session headless; prints the new session's id"
    )
    record.add_argument(
        "--device",
        action="append",
        metavar="SPEC",
        required=True,
        help="device spec, repeatable (e.g. sim:normal)",
    )
    record.add_argument("--client", default="UNSPECIFIED", help="client identifier")
    record.add_argument("--medicine", default="ketamine", help="planned medicine")
    record.add_argument(
        "--route",
        default="sublingual",
        type=_route_arg,
        help="intranasal, sublingual, oral, im or iv (default sublingual)",
    )
    record.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="stop after this long (default: until SIGTERM/Ctrl-C)",
    )
    record.add_argument(
        "--baseline",
        type=_non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="collect this long before the session starts (pre-dose baseline)",
    )
    record.add_argument(
        "--capture",
        metavar="FILE",
        type=Path,
        help="also write the device's raw bytes to FILE (one device only)",
    )
    record.set_defaults(handler=cmd_record)

    sessions = commands.add_parser("sessions", help="list and show recorded sessions")
    session_commands = sessions.add_subparsers(
        dest="sessions_command", metavar="ACTION", required=True
    )
    listing = session_commands.add_parser("list", parents=[db_option], help="list sessions")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_sessions_list)
    show = session_commands.add_parser("show", parents=[db_option], help="show one session")
    show.add_argument("session_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.add_argument(
        "--samples", action="store_true", help="print every sample as one JSON object per line"
    )
    show.add_argument(
        "--pleth",
        action="store_true",
        help="with --samples: every pleth point instead of one line per block",
    )
    show.set_defaults(handler=cmd_sessions_show)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_commands.add_parser(
        "upgrade", parents=[db_option], help="create or upgrade the schema to this version"
    )
    upgrade.set_defaults(handler=cmd_db_upgrade)
    current = db_commands.add_parser(
        "current", parents=[db_option], help="print the schema revision"
    )
    current.set_defaults(handler=cmd_db_current)

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
    decode.add_argument("--protocol", required=True, help=f"one of: {PROTOCOL_NAMES}")
    decode.add_argument("file", metavar="FILE", type=Path)
    decode.set_defaults(handler=cmd_decode)

    simulate = commands.add_parser(
        "simulate", help="emit a simulated device's real byte stream (pty, port, TCP or file)"
    )
    simulate.add_argument("--protocol", required=True, help=f"one of: {PROTOCOL_NAMES}")
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
        "--speed", type=_positive_float, default=1.0, help="simulated seconds per real second"
    )
    simulate.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="simulated seconds to run (default: until stopped; 60 for --out)",
    )
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--nibp-interval", type=_positive_float, default=180.0, metavar="SECONDS")
    noise = simulate.add_argument_group("noise injection")
    noise.add_argument(
        "--bit-errors",
        type=_non_negative_float,
        default=0.0,
        metavar="RATE",
        help="probability of a flipped bit per byte",
    )
    noise.add_argument(
        "--drop-rate",
        type=_non_negative_float,
        default=0.0,
        metavar="RATE",
        help="probability of a lost byte",
    )
    noise.add_argument("--silence-at", type=_non_negative_float, metavar="S")
    noise.add_argument(
        "--silence-for",
        type=_non_negative_float,
        default=0.0,
        metavar="S",
        help="0: silent for good",
    )
    noise.add_argument("--sensor-off-at", type=_non_negative_float, metavar="S")
    noise.add_argument("--sensor-off-for", type=_non_negative_float, default=0.0, metavar="S")
    simulate.set_defaults(handler=cmd_simulate)

    alarms = commands.add_parser("alarms", help="alarm profiles: replay recorded data, check files")
    alarm_commands = alarms.add_subparsers(dest="alarms_command", metavar="ACTION", required=True)
    replay = alarm_commands.add_parser(
        "replay",
        parents=[db_option],
        help="run an alarm profile over samples; alarm events as JSON lines, then a summary",
        description="Input: JSON lines (as `katmonitor decode` or `katmonitor sessions show ID "
        "--samples` print; '-' reads stdin) or a stored session id. Output: one JSON object per "
        'alarm event on stdout, then one summary object ({"summary": true, ...}) as the last '
        "line.",
    )
    replay.add_argument(
        "--profile",
        default="default",
        help="shipped profile name (default, intranasal-esketamine, sublingual-ketamine, "
        "im-ketamine, iv-ketamine) or a .toml path; 'route' uses the session's route",
    )
    replay.add_argument("source", metavar="FILE_OR_SESSION_ID")
    replay.set_defaults(handler=cmd_alarms_replay)
    check = alarm_commands.add_parser("check-profile", help="load a profile and print its rules")
    check.add_argument("profile", metavar="NAME_OR_FILE")
    check.set_defaults(handler=cmd_alarms_check_profile)

    from katmonitor.exports import add_export_command

    add_export_command(commands, db_option)  # formats: katmonitor/exports/__init__.py

    from katmonitor.signing_cli import add_account_commands

    add_account_commands(commands, db_option)  # users, sign, addendum, verify
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return handler(args)
    except KatMonitorError as error:
        print(f"katmonitor: error: {error.message}", file=sys.stderr)
        if error.hint:
            print(error.hint, file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK  # e.g. `katmonitor sessions show 1 --samples | head`
    except Exception:
        log_path = _write_crash_log()
        print("katmonitor: internal error; this is a defect in KAT Monitor.", file=sys.stderr)
        print(
            f"Details were written to {log_path}" if log_path else traceback.format_exc(limit=1),
            file=sys.stderr,
        )
        return EXIT_INTERNAL


# -- commands -----------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    run_app = _load_user_interface()
    specs = _with_capture(run_device_specs(args.device), args.capture)
    try:
        workstation = _open_workstation(args.db, specs, care_plan=args.care_plan)
    except ConfigurationError as error:
        if args.device:
            raise
        from katmonitor.settings import settings_path

        # The bad spec came from the saved settings: say where, and how to change them.
        raise ConfigurationError(
            f"{error.message} (saved in {settings_path()})",
            "change the saved devices with `katmonitor devices set SPEC...`, or start with "
            "`katmonitor run --device SPEC` and use Devices… (Ctrl+Shift+D)",
        ) from None
    return run_app(workstation)


def run_device_specs(cli_devices: Sequence[str] | None) -> list[str]:
    """The devices `run` opens: --device if given, else this workstation's saved devices,
    else the default simulated monitor."""
    if cli_devices:
        return list(cli_devices)
    from katmonitor.settings import load_settings

    return load_settings().effective_devices()


def _load_user_interface() -> Callable[..., int]:
    """Import the Qt window (only here: the core stays headless), or say why it cannot open."""
    display_variables = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    if sys.platform.startswith("linux") and not any(os.environ.get(v) for v in display_variables):
        raise ConfigurationError(
            "there is no display to open the window on",
            "start it from a desktop session; for headless recording use `katmonitor record`",
        )
    try:
        from ui.app import run_app
    except ImportError as error:
        raise ConfigurationError(
            f"the Qt user interface cannot be loaded: {error}",
            "install Qt's system libraries (Debian/Ubuntu: libgl1 libegl1 libxkbcommon0 "
            "libfontconfig1 libglib2.0-0 libdbus-1-3)",
        ) from None
    return run_app


def cmd_record(args: argparse.Namespace) -> int:
    workstation = _open_workstation(args.db, _with_capture(args.device, args.capture))
    stop = threading.Event()
    restore = _on_termination(lambda: stop.set())
    try:
        workstation.start()
        if args.baseline and stop.wait(args.baseline):
            workstation.shutdown()
            return EXIT_OK
        session = workstation.start_session(args.client, args.medicine, args.route)
        print(session.id, flush=True)
        stop.wait(args.duration)
        if stop.is_set():
            workstation.shutdown()  # interrupted: the session stays reopenable
        else:
            workstation.end_session()
            workstation.shutdown()
    finally:
        restore()
        workstation.shutdown()
        workstation.database.close()
    return EXIT_OK


def cmd_sessions_list(args: argparse.Namespace) -> int:
    from katmonitor.storage.store import SessionStore

    database = _open_database(args.db)
    try:
        sessions = SessionStore(database).list_sessions()
    finally:
        database.close()
    if args.json:
        print(json.dumps([_session_json(s) for s in sessions], indent=2))
        return EXIT_OK
    if not sessions:
        print("No sessions recorded yet.")
        return EXIT_OK
    header = (
        f"{'ID':>5}  {'CLIENT':<16} {'STARTED (local)':<19}  {'ENDED':<19}  {'STATUS':<11} MODE"
    )
    print(header)
    for s in sessions:
        ended = _local(s.ended_at) if s.ended_at else "-"
        mode = "training" if s.training else "clinical"
        print(
            f"{s.id:>5}  {s.client_id:<16.16} {_local(s.started_at):<19}  {ended:<19}  "
            f"{s.status.value:<11} {mode}"
        )
    return EXIT_OK


def cmd_care_plan(args: argparse.Namespace) -> int:
    from katmonitor.care_plan import load_care_plan

    plan = load_care_plan(args.file)
    print(f"Care plan {plan.name!r} ({plan.source})")
    print(f"  pre-dose gate: {plan.gate.describe()}; NIBP at most "
          f"{plan.gate.max_reading_age_s / 60:g} min old")
    print(f"  prompts: due {plan.due_lead_s / 60:g} min early, overdue after "
          f"{plan.overdue_after_s / 60:g} min, escalated after {plan.escalate_after_s / 60:g} min")
    print(f"  dissociation scale: {plan.cadss_form}")
    print("  eligibility (a different answer blocks the dose until a reason is recorded):")
    for item in plan.eligibility:
        rems = f"  [REMS: {item.rems}]" if item.rems else ""
        print(f"    {item.id:<26} {item.question} -> {'yes' if item.acceptable else 'no'}{rems}")
    print("  schedule per route (minutes after the first dose):")
    for route, r in plan.routes.items():
        parts = [f"observe >= {r.observation_minimum_s / 60:g}"]
        if r.bp_recheck_s is not None:
            parts.append(f"BP re-check {r.bp_recheck_s / 60:g}")
        if r.nibp_cycle_s is not None:
            parts.append(f"NIBP every {r.nibp_cycle_s / 60:g}")
        if r.assessment_every_s is not None:
            parts.append(f"MOAA/S+CADSS every {r.assessment_every_s / 60:g}")
        if r.spray_rest_s is not None:
            parts.append(f"{r.spray_device_mg:g} mg devices, rest {r.spray_rest_s / 60:g}")
        print(f"    {route.value:<11} {', '.join(parts)}")
    return EXIT_OK


def cmd_sessions_show(args: argparse.Namespace) -> int:
    from katmonitor.addenda import list_addenda
    from katmonitor.storage.store import SessionStore

    database = _open_database(args.db)
    try:
        store = SessionStore(database)
        session = store.get_session(args.session_id)
        if args.samples:
            _print_samples(store.iter_samples(session.id), expand_pleth=args.pleth, out=sys.stdout)
            return EXIT_OK
        summary = _session_json(session)
        summary["sample_counts"] = store.sample_counts(session.id)
        summary["dose_events"] = [_dose_json(d) for d in store.doses(session.id)]
        summary["observations"] = [_observation_json(o) for o in store.observations(session.id)]
        summary["device_events"] = [s.to_json_dict() for s in store.device_events(session.id)]
        summary["addenda"] = [a.to_json_dict() for a in list_addenda(store, session.id)]
        summary["workflow_events"] = [
            {"id": e.id, "time": iso_utc(e.time), "kind": e.kind.value, "user": e.user,
             "data": e.data, "recorded_at": iso_utc(e.recorded_at)}
            for e in store.workflow_events(session.id)
        ]
    finally:
        database.close()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    database = _open_database(args.db)
    try:
        print(f"database at {_display_url(database)} is at schema {database.schema_revision()}")
    finally:
        database.close()
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace) -> int:
    database = _open_database(args.db, upgrade=False)
    try:
        print(database.schema_revision() or "empty (no schema yet)")
    finally:
        database.close()
    return EXIT_OK


def cmd_devices(args: argparse.Namespace) -> int:
    from serial.tools import list_ports

    from devices.registry import DESCRIPTIONS, available_kinds

    print("Device types (--device SPEC):")
    for kind in available_kinds():
        print(f"  {DESCRIPTIONS.get(kind, kind)}")
    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    print("Serial ports:" if ports else "Serial ports: none found")
    for port in ports:
        print(f"  {port.device}  {port.description}")
    return EXIT_OK


def cmd_devices_show(args: argparse.Namespace) -> int:
    from katmonitor.settings import load_settings, settings_path

    settings = load_settings()
    print(f"Workstation settings: {settings_path()}")
    if not settings.devices:
        print(f"Devices: none saved; `run` uses {DEFAULT_DEVICE} (simulated, training)")
    for spec in settings.devices:
        print(f"  {spec}")
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
    restore = _on_termination(stop.set)
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


def cmd_alarms_replay(args: argparse.Namespace) -> int:
    from katmonitor.alarms.engine import AlarmEngine
    from katmonitor.alarms.profile import load_profile, profile_for_route
    from katmonitor.alarms.replay import ReplaySummary, read_json_lines, replay

    summary = ReplaySummary()
    source: str = args.source
    if source.isdigit() and not Path(source).exists():
        from katmonitor.alarms.baseline import compute_baseline
        from katmonitor.storage.store import SessionStore

        database = _open_database(args.db)
        try:
            store = SessionStore(database)
            session = store.get_session(int(source))
            name = profile_for_route(session.route) if args.profile == "route" else args.profile
            engine = AlarmEngine(load_profile(name))
            doses = store.doses(session.id)
            anchor = doses[0].time if doses else session.started_at
            items = _stored_items(store, session.id)
            before = [i for i in items if i.time <= anchor]
            after = [i for i in items if i.time > anchor]
            _emit_alarm_events(replay(engine, before, summary))
            # As live: the pre-dose baseline is set at the first dose (or the session start).
            samples = [i for i in before if isinstance(i, Sample)]
            _emit_alarm_events(engine.set_baseline(compute_baseline(samples, anchor), anchor))
            _emit_alarm_events(replay(engine, after, summary))
        finally:
            database.close()
    else:
        if args.profile == "route":
            raise ConfigurationError("--profile route needs a stored session id")
        engine = AlarmEngine(load_profile(args.profile))
        if source == "-":
            _emit_alarm_events(replay(engine, read_json_lines(sys.stdin, "stdin"), summary))
        else:
            try:
                handle = open(source, encoding="utf-8")  # noqa: SIM115 - closed below
            except OSError as error:
                raise ConfigurationError(f"cannot read {source}: {error.strerror}") from None
            with handle:
                _emit_alarm_events(replay(engine, read_json_lines(handle, source), summary))
    sys.stdout.write(json.dumps(summary.to_json_dict()) + "\n")
    return EXIT_OK


def _stored_items(store, session_id: int) -> list:  # -> list[Sample | DeviceStatus]
    samples = [i for i in store.iter_samples(session_id) if isinstance(i, Sample)]
    return sorted([*samples, *store.device_events(session_id)], key=_item_time)


def _item_time(item: Sample | DeviceStatus) -> float:
    return item.time


def _emit_alarm_events(events) -> None:
    write = sys.stdout.write
    for event in events:
        write(json.dumps(event.to_json_dict()) + "\n")


def cmd_alarms_check_profile(args: argparse.Namespace) -> int:
    from katmonitor.alarms.profile import load_profile

    profile = load_profile(args.profile)
    print(f"profile {profile.name} ({profile.path}): OK")
    print(
        f"  latching {profile.latching}, audio pause {profile.audio_pause_s:g} s, "
        f"reminder {profile.reminder_s:g} s"
    )
    for kind, rule in profile.parameters.items():
        sides = []
        for side, limit in (("low", rule.low), ("high", rule.high)):
            if limit is None:
                continue
            text = f"{side} {limit.limit:g} {limit.priority.label}"
            if limit.high_priority_limit is not None:
                text += f" (high beyond {limit.high_priority_limit:g})"
            if limit.baseline_offset is not None:
                text += f" (or baseline {'+' if side == 'high' else '-'}{limit.baseline_offset:g})"
            sides.append(text)
        extra = f", delay {rule.delay_s:g} s, hysteresis {rule.hysteresis:g}"
        if rule.trend is not None:
            extra += f", trend +{rule.trend.rise:g} in {rule.trend.window_s:g} s"
        print(f"  {kind}: {'; '.join(sides)}{extra}")
    return EXIT_OK


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigurationError(f"{text!r} is not HOST:PORT")
    return host or "127.0.0.1", int(port)


# -- helpers ------------------------------------------------------------------------------------


def _open_database(cli_url: str | None, *, upgrade: bool = True):  # -> Database
    from katmonitor.storage.database import open_database

    return open_database(resolve_database_url(cli_url), upgrade=upgrade)


def _open_workstation(
    cli_url: str | None, specs: Sequence[str], care_plan: Path | None = None
):  # -> Workstation
    from devices.registry import open_device
    from katmonitor.care_plan import load_care_plan
    from katmonitor.workstation import Workstation, require_one_mode

    plan = load_care_plan(care_plan)  # a bad plan fails before devices or the db are touched
    devices = [open_device(spec) for spec in specs]  # bad specs fail before the db is touched
    require_one_mode(devices)
    return Workstation(_open_database(cli_url), devices, care_plan=plan)


def _with_capture(specs: Sequence[str], capture: Path | None) -> list[str]:
    """Add the raw-bytes capture option to the one device spec."""
    if capture is None:
        return list(specs)
    if len(specs) != 1:
        raise ConfigurationError(
            "--capture needs exactly one --device",
            "for several devices add ?capture=FILE to each spec instead",
        )
    spec = specs[0]
    separator = "&" if "?" in spec else "?"
    return [f"{spec}{separator}capture={quote(str(capture.expanduser().resolve()))}"]


def _display_url(database: object) -> str:
    engine = getattr(database, "engine", None)
    if engine is None:
        return str(getattr(database, "url", "?"))
    return engine.url.render_as_string(hide_password=True)


def _on_termination(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` on SIGTERM/SIGINT; returns a function restoring the old handlers."""

    def handle(signum: int, frame: FrameType | None) -> None:
        callback()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _print_samples(items, *, expand_pleth: bool, out: TextIO) -> None:
    for item in items:
        if isinstance(item, Sample):
            out.write(json.dumps(item.to_json_dict()) + "\n")
        elif isinstance(item, WaveformBlock):
            if expand_pleth:
                for point in item.to_samples():
                    out.write(json.dumps(point.to_json_dict()) + "\n")
            else:
                out.write(json.dumps(_block_summary_json(item)) + "\n")


def _block_summary_json(block: WaveformBlock) -> dict[str, object]:
    """One line standing for a block of waveform points (use --pleth for every point)."""
    line = Sample(
        block.start_time, block.source, block.kind, None, block.status | {"summary"}
    ).to_json_dict()
    line.update(
        count=block.count,
        rate_hz=block.sample_rate_hz,
        end_time=iso_utc(block.end_time),
        min=float(block.values.min()) if block.count else None,
        max=float(block.values.max()) if block.count else None,
    )
    return line


def _session_json(s: Session) -> dict[str, object]:
    return {
        "id": s.id,
        "uuid": s.uuid,
        "client": s.client_id,
        "medicine": s.medicine,
        "route": s.route.value,
        "started_at": iso_utc(s.started_at),
        "ended_at": iso_utc(s.ended_at) if s.ended_at is not None else None,
        "status": s.status.value,
        "training": s.training,
        "devices": list(s.devices),
        "workstation": s.workstation,
    }


def _dose_json(d: DoseEvent) -> dict[str, object]:
    return {
        "id": d.id,
        "time": iso_utc(d.time),
        "medicine": d.medicine,
        "route": d.route.value,
        "dose_mg": d.dose_mg,
        "unit_count": d.unit_count,
        "lot": d.lot,
        "given_by": d.given_by,
        "recorded_at": iso_utc(d.recorded_at),
        "note": d.note,
        "weight_kg": d.weight_kg,
    }


def _observation_json(o: Observation) -> dict[str, object]:
    return {
        "id": o.id,
        "time": iso_utc(o.time),
        "text": o.text,
        "assessment": o.assessment.to_dict(),
        "summary": o.summary(),
        "author": o.author,
        "recorded_at": iso_utc(o.recorded_at),
    }


def _print_summary(summary: dict) -> None:
    print(f"Session {summary['id']}  ({'TRAINING' if summary['training'] else 'clinical'})")
    for key in ("client", "medicine", "route", "status", "started_at", "ended_at", "workstation"):
        print(f"  {key:<12} {summary[key] if summary[key] is not None else '-'}")
    print(f"  {'devices':<12} {', '.join(summary['devices'])}")
    print("  samples:")
    for kind, count in sorted(summary["sample_counts"].items()):
        print(f"    {kind:<16} {count}")
    print(f"  dose events: {len(summary['dose_events'])}")
    for d in summary["dose_events"]:
        print(
            f"    {d['time']}  {d['dose_mg']:g} mg x{d['unit_count']}  lot {d['lot'] or '-'}"
            f"  by {d['given_by']}"
        )
    print(f"  observations: {len(summary['observations'])}")
    for o in summary["observations"]:
        print(f"    {o['time']}  {o['author']}: {o['summary']}")
    print(f"  workflow steps: {len(summary['workflow_events'])}")
    for e in summary["workflow_events"]:
        print(f"    {e['time']}  {e['kind']:<15} by {e['user']}")
    if "addenda" in summary:
        print(f"  addenda: {len(summary['addenda'])}")
        for a in summary["addenda"]:
            print(f"    {a['time']}  {a['kind']} by {a['printed_name']} ({a['role']}): {a['text']}")


def _local(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s).strftime("%Y-%m-%d %H:%M:%S")


def _route_arg(text: str) -> Route:
    try:
        return parse_route(text)
    except ConfigurationError as error:
        raise argparse.ArgumentTypeError(f"{error.message}; {error.hint}") from None


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _write_crash_log() -> Path | None:
    try:
        logs = data_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / "katmonitor-errors.log"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {iso_utc(time.time())}\n{traceback.format_exc()}\n")
        return path
    except OSError:
        return None
