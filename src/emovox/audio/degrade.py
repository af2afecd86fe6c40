"""Degradations for robustness tests: noise at a given SNR, telephone band, reverberation,
resampling.

Each degradation is a small frozen dataclass: calling it maps a mono 16 kHz float32 signal
to a degraded one, deterministically (noise is seeded from the signal's length), and its
:attr:`key` names it in caches and reports.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace

import numpy as np
from scipy.signal import butter, fftconvolve, sosfiltfilt

from emovox.audio.load import SAMPLE_RATE, resample
from emovox.errors import EmovoxError

NOISE_COLORS = ("white", "pink")


@dataclass(frozen=True)
class AddNoise:
    """Gaussian noise at ``snr_db`` relative to the signal's power.

    ``color``: ``"white"`` (flat spectrum) or ``"pink"`` (power falling as 1/f, closer to
    room and fan noise than white noise is; used to test on a noise the training
    augmentation did not use).
    """

    snr_db: float
    seed: int = 0
    color: str = "white"

    def __post_init__(self) -> None:
        if self.color not in NOISE_COLORS:
            raise EmovoxError(f"Noise color must be one of {NOISE_COLORS}, got {self.color!r}.")

    @property
    def key(self) -> str:
        color = "" if self.color == "white" else f"-{self.color}"  # white keys predate colors
        return f"noise{self.snr_db:g}dB-seed{self.seed}{color}"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng([self.seed, signal.size])
        noise = rng.standard_normal(signal.size)  # unit variance
        if self.color == "pink":
            spectrum = np.fft.rfft(noise)
            spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))  # power ~ 1/f
            spectrum[0] = 0.0
            noise = np.fft.irfft(spectrum, n=signal.size)
            noise /= np.sqrt(max(float(np.mean(noise**2)), 1e-20))
        power = float(np.mean(signal.astype(np.float64) ** 2))
        noise *= np.sqrt(power / 10 ** (self.snr_db / 10))
        return (signal + noise).astype(np.float32)


@dataclass(frozen=True)
class Telephone:
    """Narrow-band telephone speech: 300-3400 Hz band-pass at 8 kHz, then back to 16 kHz."""

    low_hz: float = 300.0
    high_hz: float = 3400.0

    @property
    def key(self) -> str:
        return f"telephone{self.low_hz:g}-{self.high_hz:g}"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        narrow = resample(signal, sample_rate=SAMPLE_RATE, target_rate=8000)
        sos = butter(4, [self.low_hz, self.high_hz], btype="bandpass", fs=8000, output="sos")
        narrow = sosfiltfilt(sos, narrow).astype(np.float32)
        return resample(narrow, sample_rate=8000, target_rate=SAMPLE_RATE)


@dataclass(frozen=True)
class Resampled:
    """A round trip through another rate (e.g. a 44.1 or 48 kHz recording read at 16 kHz)."""

    rate: int

    @property
    def key(self) -> str:
        return f"resampled{self.rate}"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        up = resample(signal, sample_rate=SAMPLE_RATE, target_rate=self.rate)
        return resample(up, sample_rate=self.rate, target_rate=SAMPLE_RATE)


@dataclass(frozen=True)
class SpeedPerturb:
    """Play the signal ``factor`` times faster (tempo and pitch together), as in Kaldi."""

    factor: float

    @property
    def key(self) -> str:
        return f"speed{self.factor:g}"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        rate = round(SAMPLE_RATE * self.factor)
        return resample(signal, sample_rate=rate, target_rate=SAMPLE_RATE)


@dataclass(frozen=True)
class Reverb:
    """Room reverberation: a synthetic impulse response (the direct sound, then
    exponentially decaying noise reaching -60 dB after ``rt60`` seconds, with
    direct-to-reverberant energy ratio ``drr_db``: 0 dB is a talker a metre or two from
    the microphone in an ordinary room). Loudness is kept."""

    rt60: float = 0.5
    drr_db: float = 0.0
    seed: int = 0

    @property
    def key(self) -> str:
        return f"reverb{self.rt60:g}s-drr{self.drr_db:g}dB-seed{self.seed}"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng([self.seed, signal.size])
        t = np.arange(1, int(self.rt60 * SAMPLE_RATE)) / SAMPLE_RATE
        tail = rng.standard_normal(t.size) * np.exp(-6.9 * t / self.rt60)
        tail *= np.sqrt(10 ** (-self.drr_db / 10) / float(np.sum(tail**2)))
        response = np.concatenate([[1.0], tail])
        wet = fftconvolve(signal.astype(np.float64), response)[: signal.size]
        rms_in = np.sqrt(np.mean(signal.astype(np.float64) ** 2))
        wet *= rms_in / max(float(np.sqrt(np.mean(wet**2))), 1e-20)
        return wet.astype(np.float32)


AUGMENTATIONS = {
    "speed": (SpeedPerturb(0.9), SpeedPerturb(1.1)),
    "noise": (AddNoise(15, seed=1),),
    "speed+noise": (SpeedPerturb(0.9), SpeedPerturb(1.1), AddNoise(15, seed=1)),
    "speed-wide": (SpeedPerturb(0.8), SpeedPerturb(0.9), SpeedPerturb(1.1), SpeedPerturb(1.2)),
    "speed+light-noise": (
        SpeedPerturb(0.9),
        SpeedPerturb(1.1),
        AddNoise(20, seed=3),
        AddNoise(30, seed=2),
    ),
}
"""Training-data augmentations by name: each adds one copy of every training file."""

ROBUSTNESS_CONDITIONS = {
    "noise 20 dB SNR": AddNoise(20),
    "noise 10 dB SNR": AddNoise(10),
    "noise 5 dB SNR": AddNoise(5),
    "pink noise 10 dB SNR": AddNoise(10, color="pink"),
    "telephone band (8 kHz)": Telephone(),
    "reverberation (RT60 0.5 s)": Reverb(0.5),
    "from 44.1 kHz": Resampled(44_100),
    "from 48 kHz": Resampled(48_000),
}
"""The conditions ``benchmarks/results_table.py`` reports, by display name."""


def same_but_seed(a: object, b: object) -> bool:
    """Whether transforms ``a`` and ``b`` are the same kind with the same parameters, seeds
    aside: the same distribution of degradation, drawn afresh (``AddNoise(20)`` and
    ``AddNoise(20, seed=3)``)."""
    if type(a) is not type(b):
        return False
    if is_dataclass(a) and "seed" in {f.name for f in fields(a)}:
        a, b = replace(a, seed=0), replace(b, seed=0)
    return a == b


def conditions_seen_in_training(augment: str | None) -> list[str]:
    """Names of the :data:`ROBUSTNESS_CONDITIONS` that a model trained with the augmentation
    ``augment`` has seen in training, seeds aside (:func:`same_but_seed`): results on them
    measure a matched condition, not robustness to an unseen one."""
    if augment is None:
        return []
    if augment not in AUGMENTATIONS:
        raise EmovoxError(f"Unknown augmentation '{augment}'; choose from {list(AUGMENTATIONS)}.")
    return [
        name
        for name, condition in ROBUSTNESS_CONDITIONS.items()
        if any(same_but_seed(condition, t) for t in AUGMENTATIONS[augment])
    ]
