"""The generated alarm tones (a pure function): burst shapes from the waveform's envelope,
harmonic content from its spectrum."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from katmonitor.alarms.model import Priority
from ui.alarm_audio import (
    BURSTS,
    FUNDAMENTAL_HZ,
    SAMPLE_RATE,
    VOLUME_FLOOR,
    burst_waveform,
    clamp_volume,
    tone,
    wav_bytes,
)


def pulses(signal: np.ndarray, rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """(start, length) of each pulse, from a 5 ms RMS envelope."""
    window = round(0.005 * rate)
    n = len(signal) // window
    rms = np.sqrt(np.mean(signal[: n * window].reshape(n, window) ** 2, axis=1))
    on = rms > 0.1 * rms.max()
    edges = np.flatnonzero(np.diff(on.astype(int)))
    starts = edges[::2] + 1 if not on[0] else np.r_[0, edges[1::2] + 1]
    ends = edges[1::2] + 1 if not on[0] else edges[::2] + 1
    return [(s * window / rate, (e - s) * window / rate) for s, e in zip(starts, ends,
                                                                          strict=False)]


@pytest.mark.parametrize(("priority", "count", "length"), [
    (Priority.HIGH, 10, (0.08, 0.15)),
    (Priority.MEDIUM, 3, (0.13, 0.20)),
    (Priority.LOW, 1, (0.13, 0.20)),
])
def test_burst_pulse_count_and_length(priority: Priority, count: int,
                                      length: tuple[float, float]) -> None:
    signal = burst_waveform(priority)
    found = pulses(signal)
    assert len(found) == count
    for _, seconds in found:
        assert length[0] - 0.01 <= seconds <= length[1] + 0.01
    assert np.abs(signal).max() <= 1.0


def test_high_burst_is_two_groups_of_five_repeating_about_every_3_s() -> None:
    signal = burst_waveform(Priority.HIGH)
    starts = [s for s, _ in pulses(signal)]
    gaps = np.diff(starts)
    widest = int(np.argmax(gaps))
    assert widest == 4, "the longest pause splits the burst into 5 + 5"
    assert gaps[widest] > 1.5 * np.median(gaps)
    period = len(signal) / SAMPLE_RATE
    assert 2.5 <= period <= 3.8  # looping one period repeats the burst
    assert starts[-1] + 0.2 < period, "silence before the next burst"


def test_repeat_periods_follow_clinical_ranges() -> None:
    assert 2.6 <= BURSTS[Priority.MEDIUM].repeat_s <= 4.0
    assert BURSTS[Priority.LOW].repeat_s >= 10.0


def test_tone_has_fundamental_and_at_least_four_harmonics() -> None:
    signal = tone(1.0)
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(len(signal), 1 / SAMPLE_RATE)
    peaks = freqs[spectrum > 0.1 * spectrum.max()]
    assert 150 <= FUNDAMENTAL_HZ <= 1000
    assert abs(peaks.min() - FUNDAMENTAL_HZ) < 3
    harmonics = {round(f / FUNDAMENTAL_HZ) for f in peaks if 300 <= f <= 4000} - {1}
    assert len(harmonics) >= 4, harmonics


def test_wav_is_16_bit_mono_pcm_of_one_period() -> None:
    signal = burst_waveform(Priority.MEDIUM)
    with wave.open(io.BytesIO(wav_bytes(signal))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2,
                                                                               SAMPLE_RATE)
        assert wav.getnframes() == len(signal)


def test_volume_never_below_the_floor() -> None:
    assert clamp_volume(0.0) == VOLUME_FLOOR
    assert clamp_volume(-1) == VOLUME_FLOOR
    assert clamp_volume(0.9) == 0.9
    assert clamp_volume(5) == 1.0
