"""The seed system's MFCC "image": a fixed-size (39, 216) MFCC matrix of a 2.5 s excerpt."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emovox.audio import SAMPLE_RATE, resample
from emovox.errors import ParameterError
from emovox.features.base import Extractor, as_signal, register, require_positive

MIN_AFTER_OFFSET = 0.5
"""Seconds of audio needed after ``offset`` for the excerpt to start there (else at 0)."""


@register
@dataclass(frozen=True, kw_only=True)
class MfccImage(Extractor):
    """MFCCs of a fixed excerpt, shaped ``(n_mfcc, n_frames)`` (39 x 216 by default).

    Reproduces the seed system, which did::

        X, _ = librosa.load(path, res_type="kaiser_fast", sr=44100, offset=0.5, duration=2.5)
        librosa.feature.mfcc(y=X, sr=44100, n_mfcc=39)   # n_fft 2048, hop 512, centred

    and zero-filled missing frames (a DataFrame's ``fillna(0)``). Here:

    1. **Excerpt.** From the 16 kHz input, take ``duration`` seconds starting at ``offset``.
       If the input is shorter than ``offset + 0.5 s`` (less than half a second would be
       left after the offset), the excerpt starts at 0 instead, so that short clips still
       give their speech rather than a near-empty excerpt. Inputs shorter than the excerpt
       give a shorter excerpt; nothing is padded in the audio.
    2. **Resample** the excerpt to ``sample_rate`` (44.1 kHz) with
       :func:`emovox.audio.resample` (soxr HQ).
    3. **MFCC** with librosa's defaults (128 mels, n_fft 2048, hop 512, centred frames).
    4. **Fix the width**: frames beyond ``n_frames`` are dropped; missing frames are zeros
       appended at the END of the time axis, in feature space, as the seed's ``fillna(0)``.
       A 2.5 s excerpt gives exactly 216 frames, so only short clips are padded.

    Unlike the seed, which read RAVDESS at 48 kHz, the input here is band-limited to 8 kHz
    (emovox's canonical rate), so the upper mel bands hold little energy: features match
    the seed's in layout, not bit for bit, and seed-trained weights need retraining.
    """

    name = "mfcc_image"

    offset: float = 0.5
    duration: float = 2.5
    sample_rate: int = 44_100
    n_mfcc: int = 39
    n_frames: int = 216

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(
            self,
            duration=self.duration,
            sample_rate=self.sample_rate,
            n_mfcc=self.n_mfcc,
            n_frames=self.n_frames,
        )
        if self.offset < 0:
            raise ParameterError(f"Parameter 'offset' of extractor '{self.name}' must be >= 0.")

    def excerpt(self, signal: np.ndarray) -> np.ndarray:
        """The part of the 16 kHz ``signal`` that is analysed, resampled to ``sample_rate``."""
        signal = as_signal(signal)
        seconds = signal.size / SAMPLE_RATE
        start = self.offset if seconds >= self.offset + MIN_AFTER_OFFSET else 0.0
        first = round(start * SAMPLE_RATE)
        last = first + round(self.duration * SAMPLE_RATE)
        return resample(signal[first:last], sample_rate=SAMPLE_RATE, target_rate=self.sample_rate)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        import librosa

        mfcc = librosa.feature.mfcc(y=self.excerpt(signal), sr=self.sample_rate, n_mfcc=self.n_mfcc)
        image = np.zeros((self.n_mfcc, self.n_frames), dtype=np.float32)
        width = min(mfcc.shape[1], self.n_frames)
        image[:, :width] = mfcc[:, :width]
        return image
