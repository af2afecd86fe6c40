"""Whisper's log-mel spectrogram, without padding the input to 30 s, in numpy only.

Same recipe as ``whisper.audio.log_mel_spectrogram`` and faster-whisper's
``FeatureExtractor``: periodic Hann window of 400 samples, hop 160 (10 ms), centred
STFT with reflect padding, the last frame dropped, power spectrum, 80 Slaney mel
filters (the values of ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)``, computed
here so that prediction does not import librosa), ``log10`` of the energies clamped at
1e-10, values below ``max - 8`` raised to it, then ``(x + 4) / 4``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80
FRAME_MULTIPLE = 2
"""The encoder's second convolution has stride 2: frame counts are made even."""

_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's ``htk=False``)."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-30) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), hz)


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = N_MELS) -> np.ndarray:
    """The (n_mels, 201) Slaney-normalised mel filter bank Whisper was trained with.

    Follows ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=n_mels)`` step by step,
    float32 rounding included, so the values are the same.
    """
    fft_hz = np.linspace(0.0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_hz = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = np.subtract.outer(mel_hz, fft_hz)
    lower = -ramps[:n_mels] / widths[:n_mels, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)
    norm = 2.0 / (mel_hz[2 : n_mels + 2] - mel_hz[:n_mels])
    return (weights * norm[:, None]).astype(np.float32)


@lru_cache(maxsize=4)
def _bands(n_mels: int) -> tuple[tuple[int, int, np.ndarray], ...]:
    """Each mel filter as (first bin, end bin, its non-zero weights): at most 14 bins wide."""
    weights = mel_filters(n_mels)
    bands = []
    for row in weights:
        bins = np.flatnonzero(row)
        lo, hi = (int(bins[0]), int(bins[-1]) + 1) if bins.size else (0, 0)
        bands.append((lo, hi, row[lo:hi].copy()))
    return tuple(bands)


def _mel_energies(power: np.ndarray, n_mels: int) -> np.ndarray:
    """``mel_filters(n_mels) @ power.T``, band by band in numpy rather than through BLAS, whose
    float32 rounding depends on how many threads it runs: the same audio gives the same
    features on any machine and in any process (each filter spans at most 14 bins)."""
    out = np.empty((n_mels, power.shape[0]), dtype=np.float32)
    for m, (lo, hi, w) in enumerate(_bands(n_mels)):
        out[m] = (power[:, lo:hi] * w).sum(axis=1)
    return out


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(N_FFT + 1)[:-1].astype(np.float32)


def n_frames(n_samples: int) -> int:
    """Number of mel frames :func:`log_mel` returns for ``n_samples`` samples."""
    step = HOP_LENGTH * FRAME_MULTIPLE
    return -(-n_samples // step) * FRAME_MULTIPLE


def log_mel(signal16k: np.ndarray, *, n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, frames) float32 log-mel of a 16 kHz mono signal.

    ``frames`` is ``ceil(len / 320) * 2``: one frame per 10 ms, the end zero-padded to an
    even count (3 s -> 300 frames -> 150 encoder frames).
    """
    signal = np.asarray(signal16k, dtype=np.float32).reshape(-1)
    frames = n_frames(signal.size)
    target = frames * HOP_LENGTH
    if signal.size < target:
        signal = np.pad(signal, (0, target - signal.size))
    half = N_FFT // 2
    padded = np.pad(signal, (half, half), mode="reflect" if signal.size > half else "constant")
    strided = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH][:frames]
    spectrum = np.fft.rfft(strided * _window(), axis=-1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel = _mel_energies(power, n_mels)
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)
