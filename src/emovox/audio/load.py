"""Decode, downmix and resample audio in one place.

Every part of emovox (corpora, features, the recognizer, CLI and HTTP) turns its input
into a signal through :func:`load_audio`, so that a file, a byte string from an upload
and an array from a microphone are treated exactly alike: mono float32 at
:data:`SAMPLE_RATE` (16 kHz) unless another rate is asked for.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from emovox.errors import AudioError, ParameterError

SAMPLE_RATE = 16_000
"""The canonical sample rate of every signal inside emovox."""

MIN_DURATION = 0.25
"""Shortest input accepted by default, in seconds (a word is rarely shorter)."""

MAX_DURATION = 3600.0
"""Longest input decoded by default, in seconds; longer input raises before decoding."""

SILENCE_PEAK = 1e-4
"""Inputs whose absolute peak stays below this (about -80 dBFS) count as silent."""

AudioSource = str | Path | bytes | bytearray | np.ndarray


def _describe(source: AudioSource) -> str:
    if isinstance(source, (str, Path)):
        return f"'{source}'"
    if isinstance(source, (bytes, bytearray)):
        return f"the {len(source)} bytes given"
    return "the array given"


def to_mono(signal: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) or (channels, frames) array."""
    signal = np.asarray(signal)
    if signal.ndim == 1:
        return signal
    if signal.ndim != 2:
        raise AudioError(f"Expected a 1-D or 2-D audio array, got shape {signal.shape}.")
    # Treat the short axis as channels: (frames, channels) from soundfile, or (channels, frames).
    axis = 1 if signal.shape[0] >= signal.shape[1] else 0
    return signal.mean(axis=axis)


def resample(signal: np.ndarray, *, sample_rate: int, target_rate: int) -> np.ndarray:
    """Resample a mono signal from ``sample_rate`` to ``target_rate`` with soxr (high
    quality); a no-op when the rates agree."""
    if sample_rate <= 0 or target_rate <= 0:
        raise ParameterError(f"Sample rates must be positive, got {sample_rate} and {target_rate}.")
    if sample_rate == target_rate:
        return signal.astype(np.float32, copy=False)
    return soxr.resample(
        signal.astype(np.float32, copy=False), sample_rate, target_rate, quality="HQ"
    )


def _decode(source: AudioSource, max_duration: float | None) -> tuple[np.ndarray, int]:
    """Read a path or bytes with soundfile, checking the length before decoding."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise AudioError(f"No such file: '{path}'.")
        if path.is_dir():
            raise AudioError(f"'{path}' is a folder, not an audio file.")
        if path.stat().st_size == 0:
            raise AudioError(f"'{path}' is empty (0 bytes).")
        handle: str | io.BytesIO = str(path)
    else:
        if len(source) == 0:
            raise AudioError("The audio given is empty (0 bytes).")
        handle = io.BytesIO(bytes(source))
    try:
        with sf.SoundFile(handle) as f:
            rate = f.samplerate
            if max_duration is not None and f.frames > max_duration * rate:
                raise AudioError(
                    f"{_describe(source)} lasts {f.frames / rate:.0f} s, longer than the "
                    f"{max_duration:.0f} s allowed; split it or raise max_duration."
                )
            data = f.read(dtype="float32", always_2d=True)
        if data.shape[0] == 0:  # a header without samples; to_mono would make it one NaN
            raise AudioError(f"{_describe(source)} holds no audio samples.")
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(
            f"Cannot decode {_describe(source)} as audio ({exc}). Supported formats are "
            "those of libsndfile: WAV, FLAC, OGG/Vorbis, Opus, AIFF, MP3 and more."
        ) from None
    return data, rate


def load_audio(
    source: AudioSource,
    *,
    sample_rate: int | None = None,
    target_rate: int = SAMPLE_RATE,
    min_duration: float = MIN_DURATION,
    max_duration: float | None = MAX_DURATION,
    allow_silence: bool = False,
) -> np.ndarray:
    """Return ``source`` as a mono float32 signal at ``target_rate`` Hz.

    Args:
        source: a path, the bytes of an audio file, or an array (1-D, or 2-D with channels
            on either axis) whose rate is ``sample_rate``.
        sample_rate: the rate of an array ``source``; required for arrays, ignored otherwise.
        target_rate: the rate of the returned signal.
        min_duration: shorter input raises :class:`AudioError` (seconds).
        max_duration: longer input raises :class:`AudioError` before it is decoded;
            ``None`` accepts any length.
        allow_silence: accept input whose peak is below :data:`SILENCE_PEAK`.

    Raises:
        AudioError: for unreadable, empty, non-audio, too short, too long, silent or
            non-finite input, with a message meant for a person.
    """
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise AudioError("An audio array needs its sample rate: pass sample_rate=.")
        if sample_rate <= 0:
            raise AudioError(f"sample_rate must be a positive rate in Hz, got {sample_rate}.")
        if source.size == 0:
            raise AudioError("The audio array given is empty.")
        if not np.issubdtype(source.dtype, np.number):
            raise AudioError(f"The audio array has a non-numeric dtype ({source.dtype}).")
        data, rate = source, int(sample_rate)
        if max_duration is not None and max(data.shape) > max_duration * rate:
            raise AudioError(f"The audio array is longer than the {max_duration:.0f} s allowed.")
        if np.issubdtype(data.dtype, np.unsignedinteger):
            info = np.iinfo(data.dtype)
            data = (data.astype(np.float32) - (info.max + 1) / 2) / ((info.max + 1) / 2)
        elif np.issubdtype(data.dtype, np.integer):
            data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    elif isinstance(source, (str, Path, bytes, bytearray)):
        data, rate = _decode(source, max_duration)
    else:
        raise AudioError(
            f"Cannot read audio from a {type(source).__name__}; give a path, bytes or an array."
        )

    mono = to_mono(np.asarray(data, dtype=np.float32))
    if mono.size == 0:
        raise AudioError(f"{_describe(source)} holds no audio samples.")
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{_describe(source)} contains NaN or infinite samples.")
    duration = mono.size / rate
    if duration < min_duration:
        raise AudioError(
            f"{_describe(source)} lasts {duration:.2f} s; at least {min_duration:.2f} s of "
            "speech is needed to recognise an emotion."
        )
    if not allow_silence and float(np.max(np.abs(mono))) < SILENCE_PEAK:
        raise AudioError(f"{_describe(source)} is silent (peak below -80 dBFS).")
    return resample(mono, sample_rate=rate, target_rate=target_rate)
