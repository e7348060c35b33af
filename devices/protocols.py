"""The protocols KAT Monitor speaks, one descriptor each: its name, what it is, its device
spec syntax, how to make its decoder and emulator, and its serial settings.

This is the one place a protocol is registered: the device registry (driver kinds and their
descriptions), ``katmonitor decode``, ``katmonitor simulate``, the CLI's ``--protocol`` help
and the benchmarks all read :data:`PROTOCOLS`. Protocol packages are imported lazily.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from katmonitor.base.errors import ConfigurationError

if TYPE_CHECKING:
    from devices.codec import Decoder, Emulator

SERIAL_DRIVER = "devices.drivers:serial_device"
HL7_DRIVER = "devices.drivers:hl7_device"


@dataclass(frozen=True, slots=True)
class ProtocolInfo:
    name: str
    """The spec-string kind and ``--protocol`` value: ``ge-dri``."""
    title: str
    """What the devices are, as ``katmonitor devices`` and the device settings list them."""
    spec_help: str
    """The device spec syntax: ``ge-dri:PORT[?baud=115200]``."""
    module: str
    """The protocol's package (imported on first use)."""
    decoder_class: str
    emulator_class: str
    transport: str  # "serial" | "tcp-listen"
    driver: str = SERIAL_DRIVER
    """``module:factory`` that opens a device of this kind (devices/drivers.py)."""
    data_format: str | None = None  # Nonin's DF2/DF7/DF8 share one codec package
    default_baudrate: int = 9600

    @property
    def description(self) -> str:
        """Spec syntax and title, as one line of ``katmonitor devices``."""
        return f"{self.spec_help}  {self.title}"

    def _load(self) -> Any:
        return importlib.import_module(self.module)

    def make_decoder(self, **options: Any) -> Decoder:
        cls = getattr(self._load(), self.decoder_class)
        decoder: Decoder = (
            cls(self.data_format, **options) if self.data_format is not None else cls(**options)
        )
        return decoder

    def make_emulator(self, model: object, start_time: float) -> Emulator:
        cls = getattr(self._load(), self.emulator_class)
        emulator: Emulator = (
            cls(model, start_time, self.data_format)
            if self.data_format is not None
            else cls(model, start_time)
        )
        return emulator

    def serial_settings(self, baudrate: int | None = None) -> dict[str, Any]:
        settings = dict(getattr(self._load(), "SERIAL_SETTINGS", {}))
        if baudrate is not None:
            settings["baudrate"] = baudrate
        return settings

    def wire_bytes_per_s(self, baudrate: int | None = None) -> float:
        """Bytes per second the link can carry (start + data + parity + stop bits per byte)."""
        if self.transport != "serial":
            return 0.0
        settings = self.serial_settings(baudrate)
        bits = 1 + int(settings.get("bytesize", 8)) + int(settings.get("stopbits", 1))
        bits += 0 if settings.get("parity", "N") == "N" else 1
        return float(settings.get("baudrate", self.default_baudrate)) / bits


def _nonin(data_format: str, title: str) -> ProtocolInfo:
    return ProtocolInfo(
        f"nonin-{data_format}",
        f"Nonin pulse oximeter, {title}",
        f"nonin-{data_format}:PORT",
        "devices.nonin",
        "NoninDecoder",
        "NoninEmulator",
        "serial",
        data_format=data_format,
    )


PROTOCOLS: dict[str, ProtocolInfo] = {
    p.name: p
    for p in (
        ProtocolInfo(
            "ge-dri",
            "GE Datex-Ohmeda S/5, CARESCAPE (DRI)",
            "ge-dri:PORT[?baud=115200]",
            "devices.ge_dri",
            "GeDriDecoder",
            "GeDriEmulator",
            "serial",
            default_baudrate=19200,
        ),
        ProtocolInfo(
            "hl7",
            "HL7 PCD-01 listener for monitor gateways (MLLP)",
            "hl7:HOST:PORT",
            "devices.hl7_pcd01",
            "Hl7Decoder",
            "Hl7Emulator",
            "tcp-listen",
            driver=HL7_DRIVER,
        ),
        ProtocolInfo(
            "masimo",
            "Masimo Rad-8 / Radical-7, serial ASCII 1",
            "masimo:PORT",
            "devices.masimo",
            "MasimoDecoder",
            "MasimoEmulator",
            "serial",
        ),
        _nonin("df2", "data format 2"),
        _nonin("df7", "data format 7 (pleth)"),
        _nonin("df8", "data format 8"),
    )
}
"""Every protocol by name (the keys are the ``--protocol`` choices)."""


def protocol(name: str) -> ProtocolInfo:
    info = PROTOCOLS.get(name.strip().lower())
    if info is None:
        raise ConfigurationError(
            f"unknown protocol {name!r}", f"protocols: {', '.join(sorted(PROTOCOLS))}"
        )
    return info
