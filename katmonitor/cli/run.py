"""``katmonitor run``: open the dosing-room window (the one place the core imports the UI)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from katmonitor.base.errors import ConfigurationError, KatMonitorError
from katmonitor.cli.common import open_workstation, with_capture
from katmonitor.config import DEFAULT_DEVICE

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands
    from katmonitor.workstation import Workstation


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    run = commands.add_parser("run", parents=[db], help="open the dosing-room window")
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


def cmd_run(args: argparse.Namespace) -> int:
    run_app = _load_user_interface()
    try:
        workstation = _open_run_workstation(args)
    except KatMonitorError as error:
        # Started from a desktop launcher nobody sees the console: say it in a window too
        # (then on stderr, as every command does) - when the window's code is what was loaded
        # (headless tests of this command load none).
        if getattr(run_app, "__module__", "") == "ui.app":
            from ui.dialogs import show_startup_error

            show_startup_error(error)
        raise
    return run_app(workstation)


def _open_run_workstation(args: argparse.Namespace) -> Workstation:
    specs = with_capture(run_device_specs(args.device), args.capture)
    try:
        return open_workstation(args.db, specs, care_plan=args.care_plan)
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
            "install Qt's system libraries: ./scripts/run installs them as root or prints the "
            "apt-get command (the list is in scripts/_system_packages.sh; Debian/Ubuntu: libgl1 "
            "libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libglib2.0-0 libdbus-1-3 "
            "libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 "
            "libxcb-shape0 libpulse0)",
        ) from None
    return run_app
