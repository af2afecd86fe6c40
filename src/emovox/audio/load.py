"""Decode, downmix and resample audio in one place.

Every part of emovox (corpora, features, the recognizer, CLI and HTTP) turns its input
into a signal through :func:`load_audio`, so that a file, a byte string from an upload
and an array from a microphone are treated exactly alike: mono float32 at
:data:`SAMPLE_RATE` (16 kHz) unless another rate is asked for.
"""

from __future__ import annotations

import io
import math
import numbers
import os
import stat
import sys
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from emovox.errors import AudioError, AudioWarning, ParameterError

SAMPLE_RATE = 16_000
"""The canonical sample rate of every signal inside emovox."""

MIN_DURATION = 0.25
"""Shortest input accepted by default, in seconds (a word is rarely shorter)."""

MAX_DURATION = 3600.0
"""Longest input decoded by default, in seconds; longer input raises before decoding."""

SILENCE_PEAK = 1e-4
"""Inputs whose absolute peak stays below this (about -80 dBFS) count as silent."""

MIN_SAMPLE_RATE = 1_000
"""Lowest sample rate accepted, of an array or a file, in Hz."""

MAX_SAMPLE_RATE = 768_000
"""Highest sample rate accepted, of an array or a file, in Hz."""

MAX_ARRAY_CHANNELS = 16
"""A 2-D array whose both axes are longer than this has no recognisable channel axis."""

FLOAT_PEAK_LIMIT = 1.5
"""Float input peaking above this (+3.5 dBFS) is not scaled as audio and gets rescaled
with an :class:`AudioWarning`; a little over full scale is ordinary float headroom."""

MAX_STREAM_BYTES = 256 << 20
"""Most bytes read from standard input, a pipe or a device (256 MiB, over two hours of
16 kHz 16-bit mono): their length is not known in advance, unlike a regular file's."""

STDIN = "-"
"""The path that means standard input, as for any Unix tool (a file named ``-`` in the
current folder is still reachable as an absolute path)."""

_BLOCK_SAMPLES = 1 << 22
"""Samples (frames x channels) decoded at a time: memory follows the data actually read,
never a length declared in a header."""

_SUPPORTED = (
    "Supported formats are those of libsndfile: WAV, FLAC, OGG/Vorbis, Opus, AIFF, MP3 and more."
)


class _Bytes(io.BytesIO):
    """Bytes for libsndfile's virtual I/O that fail a bad seek as a file does: position
    -1, instead of raising inside soundfile's callback (which prints a traceback and
    answers 0)."""

    _failed = False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._failed = False
        try:
            return super().seek(offset, whence)
        except (ValueError, OverflowError):  # before the start, or beyond any size
            self._failed = True
            return -1

    def tell(self) -> int:
        if self._failed:  # soundfile answers a seek with tell()
            self._failed = False
            return -1
        return super().tell()


AudioSource = str | Path | bytes | bytearray | np.ndarray


def _quote(path: str | bytes) -> str:
    """A path for a message: quoted, control characters escaped, a huge one shortened."""
    text = os.fsdecode(path)
    if not text.isprintable():
        text = repr(text)[1:-1]
    if len(text) > 160:
        text = f"{text[:100]}...{text[-50:]}"
    return f"'{text}'"


def _describe(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        if _is_stdin(source):
            return "standard input"
        return _quote(os.fspath(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"the {memoryview(source).nbytes} bytes given"
    return "the array given"


def _is_stdin(source: object) -> bool:
    return isinstance(source, (str, os.PathLike)) and os.fspath(source) == STDIN


def _seconds_text(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 100 else f"{seconds:.3g}"


def _value_text(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- parameters -----------------------------------------------------------------------------


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_rate(name: str, value: object) -> int:
    """A sample rate given by a caller: a whole number of Hz within the audio range."""
    if not _is_real(value):
        raise ParameterError(
            f"{name} must be a whole number of Hz such as 16000, got "
            f"{_value_text(value)} (type {type(value).__name__})."
        )
    if isinstance(value, numbers.Integral):
        rate = int(value)
    else:
        as_float = float(value)  # type: ignore[arg-type]
        if not (math.isfinite(as_float) and as_float.is_integer()):
            raise ParameterError(f"{name} must be a whole number of Hz, got {_value_text(value)}.")
        rate = int(as_float)
    if rate <= 0:
        raise ParameterError(f"{name} must be a positive rate in Hz, got {rate}.")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise ParameterError(
            f"{name}={rate} Hz is outside the {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz that "
            "audio is recorded at; give the rate the samples were recorded at."
        )
    return rate


def _check_seconds(
    name: str, value: object, *, allow_none: bool = False, positive: bool = False
) -> float | None:
    """A duration or position in seconds: a finite number, >= 0 (> 0 when ``positive``).
    ``None`` and infinity mean "no limit" where ``allow_none``."""
    if value is None and allow_none:
        return None
    if not _is_real(value):
        raise ParameterError(
            f"{name} must be a number of seconds, got {_value_text(value)} "
            f"(type {type(value).__name__})."
        )
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except OverflowError:
        seconds = math.inf if value > 0 else -math.inf  # type: ignore[operator]
    if math.isnan(seconds) or seconds < 0 or (positive and seconds == 0):
        sign = "positive" if positive else "zero or positive"
        raise ParameterError(f"{name} must be a {sign} number of seconds, got {value}.")
    if math.isinf(seconds):
        if allow_none:
            return None
        raise ParameterError(f"{name} must be a finite number of seconds, got {value}.")
    return seconds


# --- arrays -----------------------------------------------------------------------------------


def _channel_axis(shape: tuple[int, ...]) -> int:
    """The channel axis of a 2-D shape: the short one, when it is short enough to be one."""
    if min(shape) > MAX_ARRAY_CHANNELS:
        raise AudioError(
            f"The audio array has shape {shape}: with more than {MAX_ARRAY_CHANNELS} along "
            "both axes, neither is clearly the channel axis. Give (frames, channels) or "
            f"(channels, frames) with at most {MAX_ARRAY_CHANNELS} channels, or downmix it "
            "to 1-D first."
        )
    # The short axis: (frames, channels) as from soundfile, or (channels, frames).
    return 1 if shape[0] >= shape[1] else 0


def to_mono(signal: np.ndarray, *, channel_axis: int | None = None) -> np.ndarray:
    """Average the channels of a (frames, channels) or (channels, frames) array.

    ``channel_axis`` says which axis holds the channels; by default it is the shorter one,
    and an array with more than :data:`MAX_ARRAY_CHANNELS` along both axes raises
    :class:`AudioError` (there is no telling which axis is which).
    """
    signal = np.asarray(signal)
    if signal.ndim == 1:
        return signal
    if signal.ndim != 2:
        raise AudioError(f"Expected a 1-D or 2-D audio array, got shape {signal.shape}.")
    axis = _channel_axis(signal.shape) if channel_axis is None else channel_axis
    return signal.mean(axis=axis)


def _pcm_bits(peak: float) -> int | None:
    """The narrowest usual PCM width whose integer range holds ``peak``."""
    for bits in (16, 24, 32):
        if peak <= 2 ** (bits - 1):
            return bits
    return None


def _float_scale(peak: float, integral: bool, what: str, notes: list[str]) -> float:
    """The factor that brings float samples peaking at ``peak`` to [-1, 1]: 1 for audio
    scaled as audio; else a guess, explained in ``notes``."""
    if peak <= FLOAT_PEAK_LIMIT:
        return 1.0
    bits = _pcm_bits(peak) if integral else None
    if bits is not None:
        full = float(2 ** (bits - 1))
        notes.append(
            f"{what} holds whole numbers up to {peak:.0f} as float samples: integer PCM "
            f"values, read as {bits}-bit audio (divided by {full:.0f}). Pass integer samples "
            "or scale them to [-1, 1] to avoid this warning."
        )
        return 1.0 / full
    notes.append(
        f"{what} has float samples reaching {peak:.3g}, far outside the [-1, 1] range of "
        "float audio: its scale is unknown, so it was normalised to peak 1.0 and the "
        "prediction may be off. Scale it to [-1, 1] to avoid this warning."
    )
    return 1.0 / peak


def _integer_samples(data: np.ndarray, notes: list[str]) -> np.ndarray:
    """Integer samples as float32 in [-1, 1]; integer values narrower than their dtype
    (int16 values in an int32 or int64 array) are read at their own width, with a warning."""
    info = np.iinfo(data.dtype)
    if info.min == 0:  # unsigned: offset binary, as 8-bit WAV
        half = (int(info.max) + 1) / 2
        return ((data.astype(np.float64) - half) / half).astype(np.float32)
    bits = info.bits
    peak = max(-int(data.min()), int(data.max()))  # Python ints: no overflow at -2**63
    if info.bits >= 32 and peak > 0:
        narrower = _pcm_bits(peak)
        if info.bits == 32 and narrower == 16:
            bits = 16  # as 32-bit audio, 16-bit values would be below -80 dBFS: silent
        elif info.bits == 64:
            bits = narrower or 64  # nobody records 64-bit PCM: it is NumPy's default int
        if bits != info.bits:
            notes.append(
                f"The {data.dtype} audio array holds values up to {peak}: read as "
                f"{bits}-bit PCM (divided by {2 ** (bits - 1)}). Pass int16 (or int32) "
                "samples, or floats in [-1, 1], to avoid this warning."
            )
    if bits == 64:  # values beyond 32-bit PCM: no known scale
        scale = _float_scale(float(peak), False, f"The {data.dtype} audio array", notes)
        return (data.astype(np.float64) * scale).astype(np.float32)
    return data.astype(np.float32) * np.float32(1.0 / 2 ** (bits - 1))


def _array_signal(
    source: np.ndarray,
    sample_rate: int | None,
    offset: float,
    duration: float | None,
    max_duration: float | None,
    notes: list[str],
) -> tuple[np.ndarray, int]:
    """Check an array, cut the part asked for and return it mono float32 with its rate."""
    if sample_rate is None:
        raise AudioError("An audio array needs its sample rate: pass sample_rate=.")
    dtype = source.dtype
    if dtype == np.bool_:
        raise AudioError("The audio array holds booleans, not samples; give numbers.")
    if np.issubdtype(dtype, np.complexfloating):
        raise AudioError(
            f"The audio array holds complex numbers ({dtype}); audio samples are real "
            "(pass .real if that is what you mean)."
        )
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise AudioError(
            f"The audio array has a non-numeric dtype ({dtype}); give float samples in "
            "[-1, 1] or integer PCM samples."
        )
    if source.ndim == 0:
        raise AudioError(
            "The audio array given is a single number (0-d), not a signal; give a 1-D "
            "array of samples."
        )
    if source.ndim > 2:
        raise AudioError(
            f"Expected a 1-D or 2-D audio array (frames, or frames and channels), got "
            f"shape {source.shape}."
        )
    if source.size == 0:
        raise AudioError("The audio array given is empty.")
    frame_axis = 0 if source.ndim == 1 else 1 - _channel_axis(source.shape)
    frames = source.shape[frame_axis]
    start = round(offset * sample_rate)
    if start >= frames:
        raise AudioError(
            f"offset={offset:g} s is beyond the end of the array given, which lasts "
            f"{_seconds_text(frames / sample_rate)} s."
        )
    stop = frames
    if duration is not None:
        stop = min(frames, start + max(1, round(duration * sample_rate)))
    _check_length(stop - start, sample_rate, max_duration, "the array given", offset, duration)
    part = source[start:stop] if frame_axis == 0 else source[:, start:stop]

    if np.issubdtype(dtype, np.integer):
        data = _integer_samples(part, notes)
    else:
        if not np.all(np.isfinite(part)):
            raise AudioError("the array given contains NaN or infinite samples.")
        peak = float(np.max(np.abs(part)))  # in its own dtype: 1e300 is finite in float64
        if peak > FLOAT_PEAK_LIMIT:
            integral = bool(np.array_equal(part, np.rint(part)))
            part = part * _float_scale(peak, integral, "The audio array", notes)
        data = part.astype(np.float32, copy=False)
    mono = data if data.ndim == 1 else data.mean(axis=1 - frame_axis, dtype=np.float64)
    return mono.astype(np.float32, copy=False), sample_rate


def _check_length(
    frames: int,
    rate: int,
    max_duration: float | None,
    what: str,
    offset: float,
    duration: float | None,
    source: str | None = None,
) -> None:
    """Refuse, before decoding, a part longer than ``max_duration``."""
    if max_duration is None or frames <= max_duration * rate:
        return
    whole = offset == 0 and duration is None
    subject = what if whole else f"the part of {what} asked for"
    raise AudioError(
        f"{subject} lasts {_seconds_text(frames / rate)} s, longer than the "
        f"{_seconds_text(max_duration)} s allowed; split it, read a part of it with offset= "
        "and duration=, or raise max_duration.",
        source=source,
    )


# --- files, bytes and streams -----------------------------------------------------------------


def _read_bounded(stream: BinaryIO, what: str) -> bytes:
    """Every byte of a stream whose length is unknown, refusing beyond MAX_STREAM_BYTES."""
    limit = MAX_STREAM_BYTES
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise AudioError(
                f"{what} gives more than {limit / 2**20:g} MiB, the most emovox reads from "
                "a pipe, device or standard input; save the audio to a file, or cut it."
            )
    return b"".join(chunks)


def _read_stdin() -> bytes:
    stream = sys.stdin
    if stream is None:
        raise AudioError("There is no standard input to read audio from.")
    try:
        interactive = stream.isatty()
    except (AttributeError, OSError, ValueError):
        interactive = False
    if interactive:
        raise AudioError(
            "Standard input is a terminal, not audio: pipe a file into it, e.g. "
            "`emovox predict - < speech.wav`."
        )
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        raise AudioError("Standard input is a text stream here; audio must come as bytes.")
    try:
        data = _read_bounded(buffer, "Standard input")
    except (OSError, ValueError) as exc:
        raise AudioError(f"Cannot read standard input ({exc}).") from None
    if not data:
        raise AudioError("Standard input is empty (0 bytes).")
    return data


def _os_error(path: str, exc: OSError | ValueError) -> AudioError:
    if isinstance(exc, PermissionError):
        return AudioError(f"Cannot read {_quote(path)}: permission denied.", source=path)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return AudioError(f"Cannot read {_quote(path)}: {reason}.", source=path)


def _open_path(source: str | os.PathLike[str]) -> bytes | io.BytesIO:
    """What libsndfile should open for a path: the path of a regular file, or the bytes
    of anything else that can be read (standard input, a FIFO, a device)."""
    if _is_stdin(source):
        return _Bytes(_read_stdin())
    text = os.fspath(source)
    if not text:
        raise AudioError("The path given is empty; name an audio file.")
    try:
        status = os.stat(text)
    except FileNotFoundError:
        raise AudioError(f"No such file: {_quote(text)}.", source=text) from None
    except (OSError, ValueError) as exc:  # permission, name too long, a NUL byte, a loop
        raise _os_error(text, exc) from None
    if stat.S_ISDIR(status.st_mode):
        raise AudioError(f"{_quote(text)} is a folder, not an audio file.", source=text)
    try:
        with open(text, "rb") as handle:
            if stat.S_ISREG(status.st_mode) and status.st_size > 0:
                # libsndfile reads it itself, seeking to what it needs; as bytes, a name
                # that is not valid UTF-8 reaches it unchanged.
                return os.fsencode(text)
            if handle.isatty():
                raise AudioError(f"{_quote(text)} is a terminal, not an audio file.", source=text)
            data = _read_bounded(handle, _quote(text))
    except OSError as exc:
        raise _os_error(text, exc) from None
    if not data:
        empty = "(0 bytes)" if stat.S_ISREG(status.st_mode) else "(0 bytes read from it)"
        raise AudioError(f"{_quote(text)} is empty {empty}.", source=text)
    return _Bytes(data)  # a pipe, a device, or a file whose size says 0 (as in /proc)


def _decode(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview,
    *,
    offset: float,
    duration: float | None,
    max_duration: float | None,
    notes: list[str],
) -> tuple[np.ndarray, int]:
    """Decode the part asked for of a path or bytes to mono float32, checking its length
    (from the header) before decoding a sample."""
    what = _describe(source)
    name = None if isinstance(source, (bytes, bytearray, memoryview)) else os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if memoryview(source).nbytes == 0:
            raise AudioError("The audio given is empty (0 bytes).")
        handle: bytes | io.BytesIO = _Bytes(bytes(source))
    else:
        handle = _open_path(source)
    try:
        with sf.SoundFile(handle) as f:
            rate, frames, channels = f.samplerate, f.frames, f.channels
            if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
                raise AudioError(
                    f"{what} declares a sample rate of {rate} Hz, outside the "
                    f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz of audio; the file is damaged "
                    "or not audio.",
                    source=name,
                )
            if frames <= 0:  # a header without samples
                raise AudioError(f"{what} holds no audio samples.", source=name)
            start = round(offset * rate)
            if start >= frames:
                raise AudioError(
                    f"offset={offset:g} s is beyond the end of {what}, which lasts "
                    f"{_seconds_text(frames / rate)} s.",
                    source=name,
                )
            count = frames - start
            if duration is not None:
                count = min(count, max(1, round(duration * rate)))
            _check_length(count, rate, max_duration, what, offset, duration, name)
            if start:
                f.seek(start)
            mono, peak, integral = _read_mono(f, count, channels)
    except AudioError:
        raise
    except MemoryError:
        raise AudioError(
            f"{what} is too large to decode in the memory available; read a part of it "
            "with offset= and duration=.",
            source=name,
        ) from None
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OverflowError) as exc:
        reason = getattr(exc, "error_string", None) or str(exc)
        raise AudioError(
            f"Cannot decode {what} as audio ({reason.rstrip('.')}). {_SUPPORTED}", source=name
        ) from None
    if mono.size == 0:
        raise AudioError(f"{what} holds no audio samples.", source=name)
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{what} contains NaN or infinite samples.", source=name)
    if peak > FLOAT_PEAK_LIMIT:
        mono *= np.float32(_float_scale(peak, integral, what[0].upper() + what[1:], notes))
    return mono, rate


def _read_mono(f: sf.SoundFile, count: int, channels: int) -> tuple[np.ndarray, float, bool]:
    """Read up to ``count`` frames block by block, downmixing each block: memory follows
    the samples actually there, not a length a (damaged) header declares. Also returns the
    peak before downmixing and whether every sample is a whole number."""
    block = max(1, _BLOCK_SAMPLES // channels)
    parts: list[np.ndarray] = []
    peak, integral, remaining = 0.0, True, count
    while remaining > 0:
        data = f.read(min(block, remaining), dtype="float32", always_2d=True)
        if data.shape[0] == 0:
            break
        remaining -= data.shape[0]
        with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf: refused below
            peak = max(peak, float(np.max(np.abs(data))))
            if integral:
                integral = bool(np.array_equal(data, np.rint(data)))
            parts.append(data[:, 0] if channels == 1 else data.mean(axis=1, dtype=np.float64))
    if not parts:
        return np.zeros(0, dtype=np.float32), peak, integral
    return np.concatenate(parts).astype(np.float32, copy=False), peak, integral


# --- the loader -------------------------------------------------------------------------------


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


def load_audio(
    source: AudioSource,
    *,
    sample_rate: int | None = None,
    target_rate: int = SAMPLE_RATE,
    offset: float = 0.0,
    duration: float | None = None,
    min_duration: float = MIN_DURATION,
    max_duration: float | None = MAX_DURATION,
    allow_silence: bool = False,
    notes: list[str] | None = None,
) -> np.ndarray:
    """Return ``source`` (or the part of it that ``offset`` and ``duration`` select) as a
    mono float32 signal at ``target_rate`` Hz.

    Args:
        source: a path, the bytes of an audio file, or an array (1-D, or 2-D with at most
            :data:`MAX_ARRAY_CHANNELS` channels on either axis) whose rate is
            ``sample_rate``. The path ``"-"`` reads standard input; FIFOs and devices are
            read too, up to :data:`MAX_STREAM_BYTES`.
        sample_rate: the rate of an array ``source`` in Hz (a whole number between
            :data:`MIN_SAMPLE_RATE` and :data:`MAX_SAMPLE_RATE`); required for arrays,
            ignored otherwise (a file's header gives its rate).
        target_rate: the rate of the returned signal.
        offset: where to start reading, in seconds from the start.
        duration: how many seconds to read from ``offset``; ``None`` reads to the end (and
            so does a duration past the end). Only that part of a file is decoded.
        min_duration: a shorter part read raises :class:`AudioError` (seconds).
        max_duration: a longer part read raises :class:`AudioError` before it is decoded;
            ``None`` accepts any length.
        allow_silence: accept input whose peak is below :data:`SILENCE_PEAK`.
        notes: a list to which the warnings about the input are appended (one sentence
            each) instead of being issued as :class:`AudioWarning`; for callers that
            report them with their result.

    Input not scaled as audio is detected where it can be, and used with a warning (an
    :class:`AudioWarning`, or a sentence in ``notes``; with ``warnings.simplefilter(
    "error", AudioWarning)`` and no ``notes``, such input is refused):

    * float samples (of an array or a float WAV) that are all whole numbers and peak above
      :data:`FLOAT_PEAK_LIMIT` are integer PCM values stored as floats (say int16 values in
      a float32 array): they are read at the narrowest of 16, 24 or 32 bits that holds them;
    * other float samples peaking above :data:`FLOAT_PEAK_LIMIT` have no known scale and
      are normalised to peak 1.0 (the level, itself a cue to emotion, is then a guess);
    * an int32 array whose values fit in 16 bits is read as 16-bit PCM, and an int64 array
      (NumPy's default for Python ints) at the narrowest PCM width that holds its values.

    What cannot be detected: a wrong ``sample_rate`` for an array (speech at the wrong rate
    is still a plausible signal, only faster or slower and higher or lower pitched), a
    file whose header declares a wrong rate, and samples too quiet by a constant factor.

    Raises:
        AudioError: for unreadable, empty, non-audio, too short, too long, silent or
            non-finite input, or an ``offset`` beyond its end, with a message meant for a
            person.
        ParameterError: for a bad argument: a sample rate that is not a whole number of Hz
            in range, a negative, NaN or non-numeric duration or offset.
    """
    target = _check_rate("target_rate", target_rate)
    rate_given = None if sample_rate is None else _check_rate("sample_rate", sample_rate)
    start = _check_seconds("offset", offset) or 0.0
    part = _check_seconds("duration", duration, allow_none=True, positive=True)
    shortest = _check_seconds("min_duration", min_duration) or 0.0
    longest = _check_seconds("max_duration", max_duration, allow_none=True, positive=True)
    if longest is not None and shortest > longest:
        raise ParameterError(
            f"min_duration ({shortest:g} s) is longer than max_duration ({longest:g} s)."
        )
    if not isinstance(allow_silence, (bool, np.bool_)):
        raise ParameterError(
            f"allow_silence must be True or False, got {_value_text(allow_silence)} "
            f"(type {type(allow_silence).__name__})."
        )
    if notes is not None and not isinstance(notes, list):
        raise ParameterError(
            f"notes must be a list to append warnings to, got a {type(notes).__name__}."
        )

    found: list[str] = []
    if isinstance(source, np.ndarray):
        mono, rate = _array_signal(source, rate_given, start, part, longest, found)
    elif isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
        mono, rate = _decode(source, offset=start, duration=part, max_duration=longest, notes=found)
    else:
        raise AudioError(
            f"Cannot read audio from a {type(source).__name__}; give a path, bytes or an array."
        )

    what = _describe(source)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    seconds = mono.size / rate
    if seconds < shortest:
        raise AudioError(
            f"{what} lasts {seconds:.2f} s; at least {shortest:.2f} s of "
            "speech is needed to recognise an emotion.",
            source=name,
        )
    if not allow_silence and float(np.max(np.abs(mono))) < SILENCE_PEAK:
        raise AudioError(f"{what} is silent (peak below -80 dBFS).", source=name)
    signal = resample(mono, sample_rate=rate, target_rate=target)
    if notes is not None:
        notes.extend(found)
    else:
        for message in found:
            warnings.warn(message, AudioWarning, stacklevel=2)
    return signal
