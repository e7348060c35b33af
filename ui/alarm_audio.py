"""Audible alarms: generated IEC 60601-1-8 style bursts, played with QtMultimedia.

The tone synthesis (:func:`burst_waveform`) is a pure numpy function: a fundamental with
harmonics, shaped into the standard's bursts (high: 10 pulses in two groups of 5; medium: 3;
low: 1), one repeat period per waveform so that looping it repeats the burst. Figures from
``../shared/docs/clinical.md`` ("Alarm systems").

:class:`AlarmAudio` only follows ``Workstation.audio_state()``: which priority sounds, and
whether audio is paused, are the core's decisions. If the sound cannot play - QtMultimedia
missing, no output device, an output error - it never raises into the UI: it reports a
technical alarm through ``Workstation.report_audio_unavailable`` and the visual alarm goes on.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QLoggingCategory, QObject, QUrl

from katmonitor.alarms.model import AudioState, Priority
from katmonitor.workstation import Workstation

SAMPLE_RATE = 22_050
FUNDAMENTAL_HZ = 523.0  # C5: inside 150 Hz - 1 kHz
HARMONICS = (1.0, 0.6, 0.45, 0.35, 0.25)  # amplitudes of f, 2f .. 5f: 4 harmonics <= 2.6 kHz
RAMP_S = 0.015  # pulse rise/fall: no clicks, still a crisp onset
VOLUME_FLOOR = 0.3  # never silent: the lowest volume the setting allows
DEFAULT_VOLUME = 0.8


@dataclass(frozen=True, slots=True)
class BurstShape:
    """Pulse timing of one priority's burst (seconds)."""

    groups: tuple[int, ...]  # pulses per group
    pulse_s: float
    gap_s: float  # silence between pulses of a group
    group_gap_s: float  # silence between groups
    repeat_s: float  # burst start to next burst start

    @property
    def pulses(self) -> int:
        return sum(self.groups)

    def onsets(self) -> list[float]:
        """Start time of each pulse within the period."""
        t, out = 0.0, []
        for index, count in enumerate(self.groups):
            if index:
                t += self.group_gap_s - self.gap_s
            for _ in range(count):
                out.append(t)
                t += self.pulse_s + self.gap_s
        return out


# High: pulses 80-150 ms, repeat 2.5-3.8 s; medium: 130-200 ms, 2.6-4 s; low: ~16 s.
BURSTS: dict[Priority, BurstShape] = {
    Priority.HIGH: BurstShape((5, 5), pulse_s=0.10, gap_s=0.08, group_gap_s=0.40, repeat_s=3.0),
    Priority.MEDIUM: BurstShape((3,), pulse_s=0.17, gap_s=0.12, group_gap_s=0.0, repeat_s=3.2),
    Priority.LOW: BurstShape((1,), pulse_s=0.17, gap_s=0.0, group_gap_s=0.0, repeat_s=16.0),
}


def tone(duration_s: float, *, sample_rate: int = SAMPLE_RATE,
         fundamental_hz: float = FUNDAMENTAL_HZ,
         harmonics: tuple[float, ...] = HARMONICS) -> np.ndarray:
    """A pulse: the fundamental plus harmonics, with raised-cosine rise and fall."""
    n = round(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    wave_ = sum(a * np.sin(2 * np.pi * fundamental_hz * (k + 1) * t)
                for k, a in enumerate(harmonics))
    ramp = min(round(RAMP_S * sample_rate), n // 2)
    envelope = np.ones(n)
    if ramp:
        edge = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, ramp))
        envelope[:ramp] = edge
        envelope[n - ramp:] = edge[::-1]
    return np.asarray(wave_ * envelope / sum(harmonics), dtype=np.float64)


def burst_waveform(priority: Priority, *, sample_rate: int = SAMPLE_RATE,
                   fundamental_hz: float = FUNDAMENTAL_HZ,
                   harmonics: tuple[float, ...] = HARMONICS) -> np.ndarray:
    """One repeat period of a priority's burst (pulses then silence), float32 in [-1, 1]."""
    shape = BURSTS[priority]
    out = np.zeros(round(shape.repeat_s * sample_rate), dtype=np.float64)
    pulse = tone(shape.pulse_s, sample_rate=sample_rate, fundamental_hz=fundamental_hz,
                 harmonics=harmonics)
    for onset in shape.onsets():
        start = round(onset * sample_rate)
        out[start:start + len(pulse)] = pulse
    return out.astype(np.float32)


def wav_bytes(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM WAV."""
    pcm = np.clip(samples, -1.0, 1.0)
    data = (pcm * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(data)
    return buffer.getvalue()


def clamp_volume(volume: float) -> float:
    """The volume setting never goes below the floor (an alarm must never be silent)."""
    return min(1.0, max(VOLUME_FLOOR, float(volume)))


class AlarmAudio(QObject):
    """Plays the tone of ``audio_state().sounding``; reports when it cannot."""

    def __init__(self, workstation: Workstation, *, volume: float = DEFAULT_VOLUME,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workstation = workstation
        self._volume = clamp_volume(volume)
        self._effects: dict[Priority, Any] = {}
        self._playing: Priority | None = None
        self._problem: str | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._devices: Any = None
        try:
            self._setup()
        except Exception as error:  # no audio problem may ever stop the app
            self._fail(f"audio unavailable: {error}")

    # -- state -------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._problem is None

    @property
    def problem(self) -> str | None:
        return self._problem

    @property
    def playing(self) -> Priority | None:
        """The priority whose tone is playing (None: silent or unavailable)."""
        return self._playing

    @property
    def volume(self) -> float:
        return self._volume

    def set_volume(self, volume: float) -> float:
        self._volume = clamp_volume(volume)
        for effect in self._effects.values():
            effect.setVolume(self._volume)
        return self._volume

    # -- following the core --------------------------------------------------------------------

    def follow(self, state: AudioState) -> None:
        """Called on every UI tick; does work only when what should sound changes."""
        wanted = state.sounding if self.available else None
        if wanted == self._playing:
            return
        try:
            if self._playing is not None:
                self._effects[self._playing].stop()
            self._playing = None
            if wanted is not None:
                effect = self._effects[wanted]
                effect.play()
                self._playing = wanted
        except Exception as error:  # e.g. a backend error: reported, never raised
            self._fail(f"alarm tone could not play: {error}")

    def stop(self) -> None:
        for effect in self._effects.values():
            with contextlib.suppress(Exception):  # closing: nothing left to report to
                effect.stop()
        self._playing = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    # -- internals -------------------------------------------------------------------------------

    def _setup(self) -> None:
        # Qt multimedia logs backend errors (no PulseAudio...) on every attempt: we report the
        # condition ourselves, once, as a technical alarm.
        QLoggingCategory.setFilterRules("qt.multimedia.*=false")
        try:
            from PySide6.QtMultimedia import QMediaDevices, QSoundEffect
        except ImportError as error:  # pyside6-addons or libpulse0 missing
            self._fail(f"audio unavailable: QtMultimedia cannot load ({error})")
            return
        self._devices = QMediaDevices(self)
        self._devices.audioOutputsChanged.connect(self._outputs_changed)
        self._dir = tempfile.TemporaryDirectory(prefix="katmonitor-tones-")
        for priority in BURSTS:
            path = Path(self._dir.name) / f"{priority.label}.wav"
            path.write_bytes(wav_bytes(burst_waveform(priority)))
            effect = QSoundEffect(self)
            effect.setSource(QUrl.fromLocalFile(str(path)))
            effect.setLoopCount(QSoundEffect.Loop.Infinite.value)
            effect.setVolume(self._volume)
            effect.statusChanged.connect(
                lambda p=priority, e=effect: self._status_changed(p, e))
            self._effects[priority] = effect
        if not QMediaDevices.audioOutputs():
            self._fail("audio unavailable: no audio output device")
            return
        for priority, effect in self._effects.items():
            self._status_changed(priority, effect)

    def _status_changed(self, priority: Priority, effect: Any) -> None:
        from PySide6.QtMultimedia import QSoundEffect

        if effect.status() == QSoundEffect.Status.Error:
            self._fail(f"audio unavailable: the {priority.label}-priority tone cannot play")

    def _outputs_changed(self) -> None:
        # A headset plugged in later: clear the technical alarm (and the reverse).
        from PySide6.QtMultimedia import QMediaDevices

        if QMediaDevices.audioOutputs():
            if self._problem is not None and not any(
                    e.status().name == "Error" for e in self._effects.values()):
                self._problem = None
                self.workstation.report_audio_available()
        else:
            self._fail("audio unavailable: no audio output device")

    def _fail(self, message: str) -> None:
        if self._problem is not None:
            return  # one report is enough; the technical alarm stays until audio returns
        self._problem = message
        self._playing = None
        with contextlib.suppress(Exception):  # the visual alarm must go on regardless
            self.workstation.report_audio_unavailable(message)
