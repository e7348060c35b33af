"""Decode throughput per protocol on one core, against the device's wire rate.

    python -m bench.decode [--quick] [--runs N]

For each protocol, the emulator produces 600 s of a device's byte stream (what the
simulator sends); the decoder then consumes it in 4 KiB chunks, timed over passes of at least
0.3 s; each run is one such measurement. Goal: >= 1000x the wire
rate (GE DRI at 115200 baud 8E1, Nonin and Masimo at 9600 8N1); HL7 >= 5,000 ORU messages/s.
"""

from __future__ import annotations

import statistics
import time

from bench import harness
from bench.harness import Figure, Options
from devices.protocols import PROTOCOLS, ProtocolInfo
from devices.simulated import VitalsModel

CHUNK = 4096
START = 1_800_000_000.0
SECONDS = 600.0


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


def collect(options: Options) -> list[Figure]:
    runs = options.count(full=5, quick=3)
    figures = []
    for info in PROTOCOLS.values():
        data = device_stream(info, SECONDS)
        rates = []
        events = 0
        for _ in range(runs):
            rate, events = time_decode(info, data, min_seconds=0.3)
            rates.append(rate)
        print(f"{info.name}: {len(data):,} bytes, {events} events per {SECONDS:g} s of "
              f"device time, {statistics.median(rates):,.0f} bytes/s", flush=True)
        if info.name == "hl7":
            messages = data.count(b"\x0b")
            figures.append(Figure("decode hl7", "ORU/s", 5000.0, "at least",
                                  [messages * rate / len(data) for rate in rates]))
            continue
        # GE DRI is measured against its fastest link (115200 baud on CARESCAPE).
        baud = 115200 if info.name == "ge-dri" else None
        wire = info.wire_bytes_per_s(baud)
        figures.append(Figure(f"decode {info.name}", "x wire", 1000.0, "at least",
                              [rate / wire for rate in rates],
                              note=f"{baud or 9600} baud"))
    return figures


if __name__ == "__main__":
    harness.main(collect, __doc__)
