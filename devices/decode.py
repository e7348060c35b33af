"""Offline decoding of a raw capture (``katmonitor decode``): the same decoders the drivers
use, fed from a file, each result as one JSON-ready dict in the line format of
``katmonitor sessions show --samples``. Problems are returned, not raised: decode never
crashes on bad input."""

from __future__ import annotations

from collections.abc import Iterator

from devices.codec import DecodedSample, DecodedStatus, DecodedWaveform, DecodeProblem
from devices.protocols import ProtocolInfo
from katmonitor.base.samples import iso_utc
from katmonitor.base.vitals import spec_of

CHUNK_BYTES = 4096


def decode_capture(info: ProtocolInfo, data: bytes) -> Iterator[dict[str, object] | DecodeProblem]:
    options: dict[str, object] = {}
    if info.name == "hl7":
        # A capture is either the MLLP stream as received or plain CR-separated messages.
        options["mllp"] = b"\x0b" in data
    decoder = info.make_decoder(**options)
    for start in range(0, len(data), CHUNK_BYTES):
        for event in decoder.feed(data[start : start + CHUNK_BYTES]):
            yield from _lines(info.name, event)
    for event in decoder.flush():
        yield from _lines(info.name, event)


def _time(device_time: float | None) -> str | None:
    return iso_utc(device_time) if device_time is not None else None


def _lines(source: str, event: object) -> Iterator[dict[str, object] | DecodeProblem]:
    if isinstance(event, DecodedSample):
        yield {
            "time": _time(event.device_time),
            "source": source,
            "kind": str(event.kind),
            "value": event.value,
            "unit": spec_of(event.kind).unit,
            "status": sorted(event.status),
        }
    elif isinstance(event, DecodedWaveform):
        unit = spec_of(event.kind).unit
        for index, value in enumerate(event.values.tolist()):
            when = (
                event.device_time + index / event.sample_rate_hz
                if event.device_time is not None
                else None
            )
            yield {
                "time": _time(when),
                "source": source,
                "kind": str(event.kind),
                "value": float(value),
                "unit": unit,
                "status": sorted(event.status),
            }
    elif isinstance(event, DecodedStatus):
        yield {
            "time": _time(event.device_time),
            "source": source,
            "kind": "status",
            "value": None,
            "unit": None,
            "status": sorted(event.conditions),
            "message": event.message,
        }
    elif isinstance(event, DecodeProblem):
        yield event
