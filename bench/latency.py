"""Latency from the last byte of a frame written to a pseudo-terminal to the decoded sample
reaching the pipeline, through the real driver (serial transport, link loop, decoder).

    python -m bench.latency [--quick]

300 frames per protocol (100 with --quick). Goal: p99 <= 10 ms.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import tty

from bench import harness
from bench.harness import Figure, Options
from devices.ge_dri import PH_DISPLAYED, phdb_request
from devices.protocols import protocol
from devices.registry import open_device
from devices.simulated import VitalsModel
from katmonitor.base.samples import DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind


class TimingSink:
    def __init__(self, kind: VitalKind) -> None:
        self.kind = kind
        self.arrivals: list[float] = []
        self.event = threading.Event()

    def on_sample(self, sample: Sample) -> None:
        if sample.kind is self.kind:
            self.arrivals.append(time.perf_counter())
            self.event.set()

    def on_waveform(self, block: WaveformBlock) -> None:
        pass

    def on_status(self, status: DeviceStatus) -> None:
        pass


def measure(name: str, kind: VitalKind, frames: int, step_s: float = 1.0) -> list[float]:
    info = protocol(name)
    master, slave = os.openpty()
    tty.setraw(slave)
    tty.setraw(master)
    device = open_device(f"{name}:{os.ttyname(slave)}")
    sink = TimingSink(kind)
    device.start(sink)
    start = time.time()
    emulator = info.make_emulator(VitalsModel("normal", seed=5), start)
    if emulator.needs_request:
        # Numerics only (no waveform), so each step writes exactly the frame being timed.
        emulator.receive(phdb_request(PH_DISPLAYED, 5, 0), start)
    time.sleep(0.3)
    latencies: list[float] = []
    now = start
    deadline = time.monotonic() + 120.0
    try:
        while len(latencies) < frames and time.monotonic() < deadline:
            now += step_s  # device output up to the next frame that carries the numeric
            data = emulator.advance(now)
            if not data:
                continue
            sink.event.clear()
            before = len(sink.arrivals)
            os.write(master, data)
            written = time.perf_counter()
            if sink.event.wait(1.0) and len(sink.arrivals) > before:
                latencies.append((sink.arrivals[before] - written) * 1000.0)
            time.sleep(0.01)
    finally:
        device.stop()
        os.close(master)
        os.close(slave)
    return latencies


def collect(options: Options) -> list[Figure]:
    frames = 100 if options.quick else 300  # one run; the frames are the samples
    figures = []
    for name, kind in (
        ("masimo", VitalKind.SPO2),
        ("nonin-df8", VitalKind.SPO2),
        ("ge-dri", VitalKind.HR),
    ):
        latencies = measure(name, kind, frames)
        print(f"{name}: {len(latencies)} frames, median {statistics.median(latencies):.2f} ms, "
              f"max {max(latencies):.2f} ms", flush=True)
        figures.append(Figure(f"pty frame -> sample, {name}", "ms", 10.0, "at most", latencies,
                              statistic="p99"))
    return figures


if __name__ == "__main__":
    harness.main(collect, __doc__)
