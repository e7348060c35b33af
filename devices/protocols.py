"""The protocols KAT Monitor speaks: for each, how to make its decoder and its emulator, and
its serial settings. Used by the device registry (drivers), ``katmonitor decode``,
``katmonitor simulate`` and the benchmarks. Modules are imported lazily."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from devices.codec import Decoder, Emulator
from katmonitor.base.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class ProtocolInfo:
    name: str
    title: str
    module: str
    decoder_class: str
    emulator_class: str
    transport: str  # "serial" | "tcp-listen"
    data_format: str | None = None  # Nonin's DF2/DF7/DF8 share one codec module
    default_baudrate: int = 9600

    def _load(self) -> Any:
        return importlib.import_module(self.module)

    def make_decoder(self, **options: Any) -> Decoder:
        cls = getattr(self._load(), self.decoder_class)
        if self.data_format is not None:
            return cls(self.data_format, **options)
        return cls(**options)

    def make_emulator(self, model: object, start_time: float) -> Emulator:
        cls = getattr(self._load(), self.emulator_class)
        if self.data_format is not None:
            return cls(model, start_time, self.data_format)
        return cls(model, start_time)

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


PROTOCOLS: dict[str, ProtocolInfo] = {
    p.name: p
    for p in (
        ProtocolInfo(
            "ge-dri",
            "GE Datex-Ohmeda S/5 / CARESCAPE computer interface (DRI)",
            "devices.ge_dri",
            "GeDriDecoder",
            "GeDriEmulator",
            "serial",
            default_baudrate=19200,
        ),
        ProtocolInfo(
            "hl7",
            "HL7 v2 ORU^R01 (IHE PCD-01) over MLLP",
            "devices.hl7_pcd01",
            "Hl7Decoder",
            "Hl7Emulator",
            "tcp-listen",
        ),
        ProtocolInfo(
            "masimo",
            "Masimo Rad-8/Radical-7 serial ASCII 1",
            "devices.masimo",
            "MasimoDecoder",
            "MasimoEmulator",
            "serial",
        ),
        ProtocolInfo(
            "nonin-df2",
            "Nonin data format 2",
            "devices.nonin",
            "NoninDecoder",
            "NoninEmulator",
            "serial",
            data_format="df2",
        ),
        ProtocolInfo(
            "nonin-df7",
            "Nonin data format 7 (16-bit pleth)",
            "devices.nonin",
            "NoninDecoder",
            "NoninEmulator",
            "serial",
            data_format="df7",
        ),
        ProtocolInfo(
            "nonin-df8",
            "Nonin data format 8",
            "devices.nonin",
            "NoninDecoder",
            "NoninEmulator",
            "serial",
            data_format="df8",
        ),
    )
}


def protocol(name: str) -> ProtocolInfo:
    info = PROTOCOLS.get(name.strip().lower())
    if info is None:
        raise ConfigurationError(
            f"unknown protocol {name!r}", f"protocols: {', '.join(sorted(PROTOCOLS))}"
        )
    return info
