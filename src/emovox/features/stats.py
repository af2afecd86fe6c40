"""Utterance-level statistics: mean and std over time of MFCCs and their deltas (240 dims)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emovox.audio import SAMPLE_RATE
from emovox.errors import ParameterError
from emovox.features.base import Extractor, as_signal, register, require_positive
from emovox.features.logmel import frame_sizes


@register
@dataclass(frozen=True, kw_only=True)
class MfccStats(Extractor):
    """A fixed-length vector for classic classifiers (SVM, random forest, MLP).

    MFCCs (``n_mfcc`` of ``n_mels`` mel bands, 25 ms windows every 10 ms, up to 8 kHz),
    their deltas and delta-deltas (9-frame regression, narrower for very short clips);
    then the mean and the standard deviation of each over time. Output, float32, of
    ``6 * n_mfcc`` values (240 by default) in the order of :meth:`feature_names`:
    means of MFCC, delta, delta-delta, then their standard deviations.

    Deliberately MFCC only: prosody (pitch, energy, voicing) is what the ``egemaps``
    extractor is for.
    """

    name = "stats"

    n_mfcc: int = 40
    n_mels: int = 64
    win_ms: float = 25.0
    hop_ms: float = 10.0
    fmax: float = 8000.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(
            self,
            n_mfcc=self.n_mfcc,
            n_mels=self.n_mels,
            win_ms=self.win_ms,
            hop_ms=self.hop_ms,
            fmax=self.fmax,
        )
        if self.n_mfcc > self.n_mels:
            raise ParameterError(
                f"Extractor '{self.name}' needs n_mfcc <= n_mels, got {self.n_mfcc} > "
                f"{self.n_mels}."
            )
        if self.fmax > SAMPLE_RATE / 2:
            raise ParameterError(f"Extractor '{self.name}' needs fmax <= {SAMPLE_RATE // 2} Hz.")

    def feature_names(self) -> list[str]:
        """One name per output value, e.g. ``mfcc01_mean``, ``d_mfcc01_mean``, ``dd_mfcc40_std``."""
        return [
            f"{prefix}mfcc{i:02d}_{stat}"
            for stat in ("mean", "std")
            for prefix in ("", "d_", "dd_")
            for i in range(1, self.n_mfcc + 1)
        ]

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        import librosa

        win, hop, n_fft = frame_sizes(self.win_ms, self.hop_ms)
        mfcc = librosa.feature.mfcc(
            y=as_signal(signal),
            sr=SAMPLE_RATE,
            n_mfcc=self.n_mfcc,
            n_fft=n_fft,
            win_length=win,
            hop_length=hop,
            n_mels=self.n_mels,
            fmax=self.fmax,
        )
        frames = mfcc.shape[1]
        width = min(9, frames if frames % 2 else frames - 1)
        if width >= 3:
            delta = librosa.feature.delta(mfcc, width=width, order=1)
            delta2 = librosa.feature.delta(mfcc, width=width, order=2)
        else:
            delta = delta2 = np.zeros_like(mfcc)
        stacked = np.concatenate([mfcc, delta, delta2])
        return np.concatenate([stacked.mean(axis=1), stacked.std(axis=1)]).astype(np.float32)
