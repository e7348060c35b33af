"""Fuzzing every decoder: what damaged and random bytes can make of it.

    python -m bench.fuzz [--long] [--seed N] [--protocol NAME ...]

Per decoder (each on its emulator's genuine byte stream, 600 s of device time):

- crashes: exceptions out of ``feed``/``flush`` (goal 0), over hypothesis examples (random
  chunks; genuine windows with bit flips, inserted, deleted bytes and truncation, split at
  random points) and every trial below;
- values from pure random bytes, per MB (goal 0);
- damaged-frame trials: a window of the genuine stream (a few frames) with one bit flip,
  inserted byte, deleted byte or truncation; a value the damaged window gives beyond what the
  clean window gives (counted per kind and value) was never sent. Reported as a share of the
  values accepted in those trials (goal: 0 for checksummed protocols, <= 0.5 % for Masimo and
  DF8);
- a 1e-4 bit-error line over the whole stream (repeated until about 500 bits, 2000 long,
  were flipped):
  the share of genuine values still decoded (goal >= 99 %) and the values never sent.

The short profile (default; what ``pytest -m fuzz`` runs a smaller cut of) takes about a
minute on all decoders; ``--long`` runs the issue's sizes (10,000 trials, 4 MB of noise).
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import harness
from bench.decode import device_stream
from bench.harness import Figure, Options
from devices.codec import DecodedEvent, DecodedSample, DecodedWaveform, Decoder
from devices.protocols import PROTOCOLS, ProtocolInfo

CHECKSUMMED = frozenset({"ge-dri", "nonin-df2", "nonin-df7"})
STREAM_SECONDS = 600.0
WINDOW_SECONDS = 4.0
MIN_WINDOW_BYTES = 40  # DF8 sends 4 bytes a second: a window of 10 frames
BIT_ERROR_RATE = 1e-4
MAX_LINE_PASSES = 300
DAMAGES = ("flip", "insert", "delete", "truncate")


@dataclass(frozen=True, slots=True)
class Profile:
    trials: int
    random_bytes: int
    examples: int
    line_flips: int
    """About how many bits the bit-error line flips in all (the stream is sent again until)."""


SHORT = Profile(trials=2000, random_bytes=1 << 20, examples=200, line_flips=500)
LONG = Profile(trials=10_000, random_bytes=4 << 20, examples=2000, line_flips=2000)


@dataclass(slots=True)
class Report:
    protocol: str
    crashes: int = 0
    random_mb: float = 0.0
    random_values: int = 0
    random_waveforms: int = 0
    trials: int = 0
    trial_values: int = 0
    never_sent: int = 0
    genuine_values: int = 0
    kept_values: int = 0
    line_never_sent: int = 0
    first_crash: str = ""

    @property
    def random_values_per_mb(self) -> float:
        return self.random_values / self.random_mb if self.random_mb else 0.0

    @property
    def never_sent_share(self) -> float:
        return self.never_sent / self.trial_values if self.trial_values else 0.0

    @property
    def kept_share(self) -> float:
        return self.kept_values / self.genuine_values if self.genuine_values else 1.0


def _values(events: Iterable[DecodedEvent]) -> Counter[tuple[str, float, str]]:
    """The numeric values decoded, counted per (kind, value, channel)."""
    return Counter(
        (str(e.kind), round(e.value, 4), e.channel)
        for e in events
        if isinstance(e, DecodedSample) and e.value is not None
    )


class _Runner:
    """Feeds bytes to fresh decoders of one protocol, counting crashes instead of raising."""

    def __init__(self, info: ProtocolInfo, report: Report) -> None:
        self.info = info
        self.report = report
        self.options: dict[str, object] = {"mllp": True} if info.name == "hl7" else {}

    def decode(self, chunks: Iterable[bytes]) -> list[DecodedEvent]:
        decoder: Decoder = self.info.make_decoder(**self.options)
        events: list[DecodedEvent] = []
        try:
            for chunk in chunks:
                events += decoder.feed(chunk)
            events += decoder.flush()
        except Exception as error:  # the figure being measured: it must never happen
            self.report.crashes += 1
            if not self.report.first_crash:
                self.report.first_crash = f"{type(error).__name__}: {error}"
        return events


def damage(window: bytes, kind: str, rng: random.Random) -> bytes:
    """``window`` with one damage of ``kind`` at a random place."""
    if not window:
        return window
    at = rng.randrange(len(window))
    if kind == "flip":
        return window[:at] + bytes([window[at] ^ (1 << rng.randrange(8))]) + window[at + 1 :]
    if kind == "insert":
        return window[:at] + bytes([rng.randrange(256)]) + window[at:]
    if kind == "delete":
        return window[:at] + window[at + 1 :]
    return window[:at]  # truncate


def random_bytes(runner: _Runner, size: int, rng: random.Random) -> None:
    data = rng.randbytes(size)
    chunks = []
    at = 0
    while at < size:
        step = rng.randrange(1, 4096)
        chunks.append(data[at : at + step])
        at += step
    events = runner.decode(chunks)
    runner.report.random_mb += size / 1e6
    runner.report.random_values += sum(_values(events).values())
    runner.report.random_waveforms += sum(isinstance(e, DecodedWaveform) for e in events)


def damaged_trials(runner: _Runner, stream: bytes, trials: int, rng: random.Random) -> None:
    per_second = len(stream) / STREAM_SECONDS
    size = max(int(WINDOW_SECONDS * per_second), MIN_WINDOW_BYTES)
    for trial in range(trials):
        start = rng.randrange(len(stream) - size)
        window = stream[start : start + size]
        sent = _values(runner.decode([window]))
        damaged = damage(window, DAMAGES[trial % len(DAMAGES)], rng)
        cut = rng.randrange(len(damaged) + 1)
        got = _values(runner.decode([damaged[:cut], damaged[cut:]]))
        runner.report.trials += 1
        runner.report.trial_values += sum(got.values())
        runner.report.never_sent += sum((got - sent).values())


def bit_error_line(runner: _Runner, stream: bytes, flips: int, rng: random.Random) -> None:
    """The stream through a line flipping each bit with probability 1e-4, as many times as
    it takes for about ``flips`` flips in all (DF8 sends 19,000 bits in 600 s)."""
    sent = _values(runner.decode([stream]))
    expected = len(stream) * 8 * BIT_ERROR_RATE
    for _ in range(max(1, min(MAX_LINE_PASSES, round(flips / expected)))):
        data = bytearray(stream)
        position = int(rng.expovariate(BIT_ERROR_RATE))
        while position < len(data) * 8:
            data[position // 8] ^= 1 << (position % 8)
            position += 1 + int(rng.expovariate(BIT_ERROR_RATE))
        chunks = [bytes(data[i : i + 4096]) for i in range(0, len(data), 4096)]
        got = _values(runner.decode(chunks))
        runner.report.genuine_values += sum(sent.values())
        runner.report.kept_values += sum((got & sent).values())
        runner.report.line_never_sent += sum((got - sent).values())


def hypothesis_examples(runner: _Runner, stream: bytes, examples: int) -> None:
    """Random chunks, and genuine windows damaged and split anywhere, by hypothesis."""
    size = max(int(WINDOW_SECONDS * len(stream) / STREAM_SECONDS), MIN_WINDOW_BYTES)

    @st.composite
    def damaged_window(draw: st.DrawFn) -> list[bytes]:
        start = draw(st.integers(0, len(stream) - size))
        data = bytearray(stream[start : start + size])
        for _ in range(draw(st.integers(0, 4))):
            at = draw(st.integers(0, len(data)))
            kind = draw(st.sampled_from(DAMAGES))
            if kind == "flip" and at < len(data):
                data[at] ^= 1 << draw(st.integers(0, 7))
            elif kind == "insert":
                data[at:at] = bytes([draw(st.integers(0, 255))])
            elif kind == "delete":
                del data[at : at + 1]
            else:
                del data[at:]
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
        bounds = [0, *cuts, len(data)]
        return [bytes(data[a:b]) for a, b in itertools.pairwise(bounds)]

    chunks_of_noise = st.lists(st.binary(max_size=600), max_size=8)

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(chunks_of_noise, damaged_window()))
    def run(chunks: list[bytes]) -> None:
        runner.decode(chunks)

    run()


def fuzz(
    info: ProtocolInfo,
    profile: Profile,
    seed: int = 1,
    stream: bytes | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    report = Report(info.name)
    runner = _Runner(info, report)
    rng = random.Random(f"{seed}-{info.name}")
    stream = stream if stream is not None else device_stream(info, STREAM_SECONDS)
    started = time.perf_counter()
    hypothesis_examples(runner, stream, profile.examples)
    random_bytes(runner, profile.random_bytes, rng)
    damaged_trials(runner, stream, profile.trials, rng)
    bit_error_line(runner, stream, profile.line_flips, rng)
    if progress is not None:
        progress(f"{info.name}: {time.perf_counter() - started:.1f} s")
    return report


def table(reports: list[Report]) -> str:
    head = (
        "| decoder | crashes | values from random bytes | damaged-frame trials: values never "
        "sent | 1e-4 bit errors: genuine kept | never sent |\n|---|---|---|---|---|---|"
    )
    rows = [
        f"| {r.protocol} | {r.crashes} | {r.random_values_per_mb:.1f}/MB "
        f"({r.random_values} in {r.random_mb:.1f} MB; {r.random_waveforms} waveform blocks) | "
        f"{r.never_sent} of {r.trial_values} ({100 * r.never_sent_share:.2f} %) in "
        f"{r.trials} trials | {100 * r.kept_share:.2f} % of {r.genuine_values} | "
        f"{r.line_never_sent} |"
        for r in reports
    ]
    return "\n".join([head, *rows])


def collect(options: Options) -> list[Figure]:
    """For ``python -m bench``: the short profile (the quick one halves the trials)."""
    profile = SHORT if not options.quick else Profile(500, 1 << 18, 50, 200)
    figures = []
    for info in PROTOCOLS.values():
        r = fuzz(info, profile, progress=lambda line: print(line, flush=True))
        limit = 0.0 if info.name in CHECKSUMMED or info.name == "hl7" else 0.5
        figures += [
            Figure(f"fuzz {r.protocol} crashes", "crashes", 0.0, "at most", [r.crashes]),
            Figure(
                f"fuzz {r.protocol} values from random bytes",
                "/MB",
                0.0,
                "at most",
                [r.random_values_per_mb],
            ),
            Figure(
                f"fuzz {r.protocol} values never sent (damaged frames)",
                "%",
                limit,
                "at most",
                [100 * r.never_sent_share],
            ),
            Figure(
                f"fuzz {r.protocol} genuine values kept at 1e-4 BER",
                "%",
                99.0,
                "at least",
                [100 * r.kept_share],
            ),
        ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--long", action="store_true", help="the issue's sizes (minutes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--protocol", action="append", choices=sorted(PROTOCOLS))
    parser.add_argument("--json", help=argparse.SUPPRESS)  # python -m bench runs modules so
    args, _ = parser.parse_known_args()
    if args.json:
        harness.main(collect, __doc__)
        return
    profile = LONG if args.long else SHORT
    names = args.protocol or list(PROTOCOLS)
    reports = [
        fuzz(PROTOCOLS[name], profile, args.seed, progress=lambda line: print(line, flush=True))
        for name in names
    ]
    print(table(reports))
    for report in reports:
        if report.first_crash:
            print(f"{report.protocol}: first crash: {report.first_crash}")


if __name__ == "__main__":
    main()
