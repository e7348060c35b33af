"""Device drivers addressed by spec strings: ``KIND:ADDRESS[?option=value&...]``.

``sim:normal?nibp_interval=60`` is the simulated monitor and ``replay:`` plays a capture back;
every protocol of devices/protocols.py is a kind too (``ge-dri:/dev/ttyUSB0``, ``masimo:...``,
``nonin-df7:...``, ``hl7:0.0.0.0:2575``), with its driver and description taken from its
descriptor. Drivers are imported lazily, by module path, so a missing optional dependency of
one driver never breaks the others (the idea python-can uses for its bus backends).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from devices.base import Device
from devices.protocols import PROTOCOLS
from katmonitor.base.clock import steady_time
from katmonitor.base.errors import ConfigurationError
from katmonitor.base.vitals import VitalKind

# Driver kinds that are not a protocol of their own: kind -> (factory, spec syntax and title).
_OTHER_KINDS: dict[str, tuple[str, str]] = {
    "sim": (
        "devices.drivers:simulated_device",
        "sim:SCENARIO[?protocol=ge-dri&nibp_interval=S&...]  simulated monitor (training)",
    ),
    "replay": (
        "devices.drivers:replay_device",
        "replay:FILE?protocol=NAME[&speed=X]  play back a raw capture (training)",
    ),
}

# kind -> "module:factory"; the factory takes a DeviceSpec and returns a Device.
DRIVERS: dict[str, str] = {
    **{name: info.driver for name, info in PROTOCOLS.items()},
    **{kind: factory for kind, (factory, _) in _OTHER_KINDS.items()},
}

# kind -> "SPEC-SYNTAX  what it is", as `katmonitor devices` lists it.
DESCRIPTIONS: dict[str, str] = {
    **{name: info.description for name, info in PROTOCOLS.items()},
    **{kind: description for kind, (_, description) in _OTHER_KINDS.items()},
}


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    text: str
    kind: str
    address: str
    options: dict[str, str] = field(default_factory=dict)

    def option_float(self, name: str, default: float, minimum: float | None = None) -> float:
        raw = self.options.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigurationError(
                f"device option {name}={raw!r} in {self.text!r} is not a number"
            ) from None
        if minimum is not None and value < minimum:
            raise ConfigurationError(
                f"device option {name} in {self.text!r} must be >= {minimum:g}"
            )
        return value

    def option_int(self, name: str, default: int) -> int:
        raw = self.options.get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(
                f"device option {name}={raw!r} in {self.text!r} is not a whole number"
            ) from None

    def check_options(self, known: set[str]) -> None:
        unknown = sorted(set(self.options) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown option(s) {', '.join(unknown)} in device spec {self.text!r}",
                f"options for {self.kind}: {', '.join(sorted(known)) or 'none'}",
            )


def available_kinds() -> list[str]:
    return sorted(DRIVERS)


def parse_spec(text: str) -> DeviceSpec:
    cleaned = text.strip()
    kind, sep, rest = cleaned.partition(":")
    if not sep or not kind:
        raise ConfigurationError(f"cannot understand device spec {text!r}", _spec_hint())
    address, _, query = rest.partition("?")
    try:
        options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise ConfigurationError(f"cannot read the options in device spec {text!r}") from None
    return DeviceSpec(cleaned, kind.lower(), address, options)


def open_device(
    text: str,
    *,
    clock: Callable[[], float] = steady_time,
    timer: Callable[[], float] = time.monotonic,
) -> Device:
    """Create (not start) the device for a spec string; ConfigurationError if it is unknown.

    ``clock`` (UTC epoch seconds) stamps its samples and runs a simulator; ``timer`` (monotonic
    seconds) paces its requests. Tests pass a manual clock for both."""
    spec = parse_spec(text)
    target = DRIVERS.get(spec.kind)
    if target is None:
        raise ConfigurationError(f"unknown device type {spec.kind!r} in {text!r}", _spec_hint())
    module_name, _, factory_name = target.partition(":")
    module = importlib.import_module(module_name)
    device: Device = getattr(module, factory_name)(spec, clock=clock, timer=timer)
    device.primary_kinds = _primary_kinds(spec)
    return device


def _primary_kinds(spec: DeviceSpec) -> frozenset[VitalKind]:
    raw = spec.options.get("primary", "")
    try:
        return frozenset(VitalKind(k.strip()) for k in raw.split(",") if k.strip())
    except ValueError:
        kinds = ", ".join(k.value for k in VitalKind)
        raise ConfigurationError(f"unknown kind in primary={raw!r}", f"kinds: {kinds}") from None


def _spec_hint() -> str:
    lines = ["device specs look like TYPE:ADDRESS; available types:"]
    lines += [f"  {DESCRIPTIONS.get(kind, kind)}" for kind in available_kinds()]
    return "\n".join(lines)
