"""Decode throughput per protocol on one core, against the device's wire rate.

    python -m bench.decode [--seconds 600]

For each protocol, the emulator produces ``--seconds`` of a device's byte stream (what the
simulator sends); the decoder then consumes it in 4 KiB chunks, timed. Goal: >= 1000x the wire
rate (GE DRI at 115200 baud 8E1, Nonin and Masimo at 9600 8N1); HL7 >= 5,000 ORU messages/s.
"""

from __future__ import annotations

import argparse
import time

from devices.protocols import PROTOCOLS, ProtocolInfo
from devices.simulated import VitalsModel

CHUNK = 4096
START = 1_800_000_000.0


def device_stream(info: ProtocolInfo, seconds: float) -> bytes:
    emulator = info.make_emulator(VitalsModel("normal", seed=3), START)
    if emulator.needs_request:
        emulator.receive(info.make_decoder().requests_on_connect(), START)
    parts = [emulator.advance(START + step * 0.05) for step in range(1, int(seconds / 0.05) + 1)]
    return b"".join(parts)


def time_decode(info: ProtocolInfo, data: bytes, min_seconds: float = 0.5) -> tuple[float, int]:
    """(bytes decoded per second, events per pass)."""
    passes, events, started = 0, 0, time.perf_counter()
    while True:
        decoder = info.make_decoder()
        events = 0
        for offset in range(0, len(data), CHUNK):
            events += len(decoder.feed(data[offset : offset + CHUNK]))
        passes += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return passes * len(data) / elapsed, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args()
    print(f"{'protocol':<10} {'stream':>10} {'decoded/s':>12} {'wire/s':>9} {'x wire':>8}  notes")
    for info in PROTOCOLS.values():
        data = device_stream(info, args.seconds)
        rate, events = time_decode(info, data)
        # GE DRI is measured against its fastest link (115200 baud on CARESCAPE).
        wire = info.wire_bytes_per_s(115200 if info.name == "ge-dri" else None)
        note = f"{events} events per {args.seconds:g} s of device time"
        if info.name == "hl7":
            messages = data.count(b"\x0b")
            per_s = messages * rate / len(data)
            print(
                f"{info.name:<10} {len(data):>10,} {rate:>12,.0f} {'-':>9} {'-':>8}  "
                f"{per_s:,.0f} ORU messages/s (goal >= 5,000); {note}"
            )
            continue
        print(
            f"{info.name:<10} {len(data):>10,} {rate:>12,.0f} {wire:>9,.0f} {rate / wire:>8,.0f}  "
            f"{note}"
        )


if __name__ == "__main__":
    main()
