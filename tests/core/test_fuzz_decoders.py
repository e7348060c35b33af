"""The fuzz suite's short cut (``pytest -m fuzz``; ``python -m bench.fuzz [--long]`` for the
figures): per decoder, no crash, no value from random bytes, and damaged frames rarely (with a
checksum: never) give a value that was not sent."""

from __future__ import annotations

import functools

import pytest

from bench.decode import device_stream
from bench.fuzz import CHECKSUMMED, Profile, fuzz
from devices.protocols import PROTOCOLS

pytestmark = pytest.mark.fuzz

CUT = Profile(trials=200, random_bytes=1 << 16, examples=20, line_flips=20)
SECONDS = 120.0


@functools.cache
def stream(name: str) -> bytes:
    return device_stream(PROTOCOLS[name], SECONDS)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_decoder_survives_random_and_damaged_bytes(name: str) -> None:
    data = stream(name)
    report = fuzz(PROTOCOLS[name], CUT, seed=3, stream=data)
    assert report.crashes == 0, report.first_crash
    assert report.random_values == 0
    if name in CHECKSUMMED:
        assert report.never_sent == 0
    else:  # no checksum (Masimo, DF8; HL7 relies on TCP's): only undetectable digit flips
        assert report.never_sent_share <= 0.01
    assert report.trials == CUT.trials
