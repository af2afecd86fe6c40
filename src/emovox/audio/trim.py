"""Trim leading and trailing silence, so pooled features describe speech, not room noise."""

from __future__ import annotations

import numpy as np

from emovox.audio.load import SAMPLE_RATE


def trim_silence(
    signal: np.ndarray,
    *,
    top_db: float = 30.0,
    margin: float = 0.1,
    min_duration: float = 0.25,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Cut the start and end quieter than ``top_db`` below the peak (25 ms frames).

    ``margin`` seconds are kept on each side. When the speech found is shorter than
    ``min_duration``, the signal is returned unchanged (better untrimmed than empty).
    """
    import librosa

    frame = int(0.025 * sample_rate)
    hop = int(0.010 * sample_rate)
    _, (start, end) = librosa.effects.trim(
        signal, top_db=top_db, frame_length=frame, hop_length=hop
    )
    if end - start < min_duration * sample_rate:
        return signal
    pad = int(margin * sample_rate)
    return signal[max(0, start - pad) : min(signal.size, end + pad)]
