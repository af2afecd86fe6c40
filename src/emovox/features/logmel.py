"""Log-mel spectrogram: ``(n_mels, frames)`` with 25 ms windows every 10 ms, any length."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emovox.audio import SAMPLE_RATE
from emovox.errors import ParameterError
from emovox.features.base import Extractor, as_signal, register, require_positive


def frame_sizes(win_ms: float, hop_ms: float) -> tuple[int, int, int]:
    """Window and hop in samples at 16 kHz, and the FFT size (next power of two >= window)."""
    win = round(win_ms * SAMPLE_RATE / 1000)
    hop = round(hop_ms * SAMPLE_RATE / 1000)
    n_fft = 1 << max(win - 1, 1).bit_length()
    return win, hop, n_fft


@register
@dataclass(frozen=True, kw_only=True)
class LogMel(Extractor):
    """Natural log of a power mel spectrogram plus ``eps``, float32 ``(n_mels, frames)``.

    Frames are centred (librosa's default): a signal of ``n`` samples gives
    ``1 + n // hop`` frames, 101 per second at the default 10 ms hop. The FFT size is the
    next power of two of the window (512 for 25 ms). ``log(power + 1e-6)`` rather than
    ``power_to_db(ref=max)`` keeps the absolute level, so loudness is not normalised away.
    """

    name = "logmel"

    n_mels: int = 64
    win_ms: float = 25.0
    hop_ms: float = 10.0
    fmin: float = 0.0
    fmax: float = 8000.0
    eps: float = 1e-6

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(
            self, n_mels=self.n_mels, win_ms=self.win_ms, hop_ms=self.hop_ms, eps=self.eps
        )
        if not 0 <= self.fmin < self.fmax <= SAMPLE_RATE / 2:
            raise ParameterError(
                f"Extractor '{self.name}' needs 0 <= fmin < fmax <= {SAMPLE_RATE // 2} Hz, "
                f"got fmin={self.fmin}, fmax={self.fmax}."
            )

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        import librosa

        win, hop, n_fft = frame_sizes(self.win_ms, self.hop_ms)
        mel = librosa.feature.melspectrogram(
            y=as_signal(signal),
            sr=SAMPLE_RATE,
            n_fft=n_fft,
            win_length=win,
            hop_length=hop,
            n_mels=self.n_mels,
            fmin=self.fmin,
            fmax=self.fmax,
            power=2.0,
        )
        return np.log(mel + self.eps).astype(np.float32)
