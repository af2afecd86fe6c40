"""Audio in: decoding, downmixing and resampling (``load``) and microphone capture (``record``)."""

from emovox.audio.load import (
    MAX_DURATION,
    MIN_DURATION,
    SAMPLE_RATE,
    AudioSource,
    AudioWarning,
    load_audio,
    resample,
    to_mono,
)

__all__ = [
    "MAX_DURATION",
    "MIN_DURATION",
    "SAMPLE_RATE",
    "AudioSource",
    "AudioWarning",
    "load_audio",
    "resample",
    "to_mono",
]
