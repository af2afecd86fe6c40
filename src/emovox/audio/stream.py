"""Block-wise reading: audio of any length in constant memory, as 16 kHz float32 blocks.

:func:`~emovox.audio.load.load_audio` decodes a whole input at once and refuses one longer
than an hour. :class:`AudioStream` reads a file block by block instead (soundfile blocks,
resampled by one ``soxr.ResampleStream``), so a timeline of a ten-hour recording holds a
few seconds of audio at a time and no upper limit on duration applies.

Each block is a float32 array ``(frames, outputs)`` at ``target_rate``: one output, the
channels averaged, with ``channels="mix"``; one output per channel with ``channels="each"``
(:attr:`AudioStream.names` names them ``mix`` or ``ch1``, ``ch2``, ...). The blocks
concatenated equal :func:`load_audio` of the same input (the same downmix in float64, the
same soxr HQ filter), sample for sample, and a test checks it, as librosa's stream tests
do against a whole-file load. Two things differ by design:

- float samples beyond full scale are kept as they are (a whole-file read rescales them,
  which needs the peak of the whole file first); a note says so;
- a file that cannot be read to its end is not an error: reading stops where it broke,
  :attr:`AudioStream.error` says where and why, and what came before is kept. A WAV whose
  header declares more audio than the file holds (a recording cut off) and a FLAC that
  loses sync midway are both caught this way.

As with librosa's ``stream``, the arguments are judged before the file is opened, and the
file is closed when the stream is closed (``with`` or :meth:`AudioStream.close`) or read
to its end; a generator abandoned half way holds the file until then. Arrays, bytes and
standard input are read as :func:`load_audio` reads them (into memory), then served in the
same blocks.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from types import TracebackType
from typing import Literal

import numpy as np
import soundfile as sf
import soxr

from emovox.audio.load import (
    _BLOCK_SAMPLES,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    SAMPLE_RATE,
    AudioSource,
    _Bytes,
    _channel_axis,
    _check_rate,
    _describe,
    _open_path,
    _seconds_text,
    load_audio,
)
from emovox.errors import AudioError, ParameterError

ChannelMode = Literal["mix", "each"]
CHANNEL_MODES: tuple[str, ...] = ("mix", "each")

DEFAULT_BLOCK = 4.0
"""Seconds of audio per block: 4 s at 48 kHz stereo is 1.5 MB of float32."""

PEAK_LIMIT = 1.5
"""Float samples beyond this are not rescaled here (see the module docstring)."""

_PLACEHOLDER_SIZES = {0, 0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000}
"""WAV data sizes that streaming writers leave in the header: not a truncation."""

_WAV_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def check_channels(channels: object) -> ChannelMode:
    """``channels`` if it is ``"mix"`` or ``"each"``, else :class:`ParameterError`."""
    if channels not in CHANNEL_MODES:
        raise ParameterError(
            f"channels must be 'mix' (average the channels) or 'each' (one timeline per "
            f"channel), got {channels!r}."
        )
    return channels  # type: ignore[return-value]


def channel_names(channels: ChannelMode, count: int) -> list[str]:
    """The names of the outputs: ``["mix"]``, or ``["ch1", "ch2", ...]`` (1-based)."""
    return ["mix"] if channels == "mix" else [f"ch{i + 1}" for i in range(count)]


class AudioStream:
    """An audio source read block by block (see the module docstring).

    >>> with AudioStream("call.wav", channels="each") as stream:
    ...     for block in stream:          # float32 (frames, len(stream.names)) at 16 kHz
    ...         ...
    ...     stream.error                  # None, or why reading stopped early

    ``source``: a path (``"-"``: standard input), the bytes of a file, or an array with its
    ``sample_rate``. ``block_duration``: seconds per block (at the source's rate). Raises
    :class:`AudioError` when the source cannot be opened as audio and
    :class:`ParameterError` for a bad argument (before opening anything).
    """

    def __init__(
        self,
        source: AudioSource,
        *,
        sample_rate: int | None = None,
        channels: ChannelMode = "mix",
        block_duration: float = DEFAULT_BLOCK,
        target_rate: int = SAMPLE_RATE,
    ) -> None:
        self.mode = check_channels(channels)
        if (
            isinstance(block_duration, bool)
            or not isinstance(block_duration, int | float)
            or not math.isfinite(block_duration)
            or block_duration <= 0
        ):
            raise ParameterError(
                f"block_duration must be a positive number of seconds, got {block_duration!r}."
            )
        self.target_rate = _check_rate("target_rate", target_rate)
        self.block_duration = float(block_duration)
        self.what = _describe(source)
        self.source_name = os.fspath(source) if isinstance(source, str | os.PathLike) else None
        self.error: str | None = None
        """Why reading stopped before the end of the source (None: read to its end)."""
        self.notes: list[str] = []
        """Other remarks about the input, one sentence each."""
        self._file: sf.SoundFile | None = None
        self._arrays: np.ndarray | None = None
        self._frames_read = 0
        self._started = False
        self._wav_declared: int | None = None
        if isinstance(source, np.ndarray):
            self._open_array(source, sample_rate)
        elif isinstance(source, str | os.PathLike | bytes | bytearray | memoryview):
            self._open_file(source)
        else:
            raise AudioError(
                f"Cannot read audio from a {type(source).__name__}; give a path, bytes or an array."
            )
        self.names = channel_names(self.mode, self.channels)
        """One name per output column of a block: ``mix``, or ``ch1``, ``ch2``, ..."""

    # -- opening -------------------------------------------------------------------------
    def _open_array(self, source: np.ndarray, sample_rate: int | None) -> None:
        """An array is converted whole by :func:`load_audio` (per channel with ``each``)."""
        if sample_rate is None:
            raise AudioError("An audio array needs its sample rate: pass sample_rate=.")
        rate = _check_rate("sample_rate", sample_rate)
        options = dict(
            sample_rate=rate,
            target_rate=self.target_rate,
            min_duration=0.0,
            max_duration=None,
            allow_silence=True,
            notes=self.notes,
        )
        if self.mode == "each" and source.ndim == 2:
            axis = _channel_axis(source.shape)
            columns = [np.take(source, c, axis=axis) for c in range(source.shape[axis])]
            outputs = [load_audio(column, **options) for column in columns]
        else:
            outputs = [load_audio(source, **options)]
        self.channels = len(outputs)
        self.sample_rate = rate
        self.frames: int | None = round(outputs[0].size * rate / self.target_rate)
        self._arrays = np.stack(outputs, axis=1)

    def _open_file(self, source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> None:
        if isinstance(source, bytes | bytearray | memoryview):
            if memoryview(source).nbytes == 0:
                raise AudioError("The audio given is empty (0 bytes).")
            handle: bytes | _Bytes = _Bytes(bytes(source))
        else:
            handle = _open_path(source)
        try:
            self._file = sf.SoundFile(handle)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OverflowError) as exc:
            reason = getattr(exc, "error_string", None) or str(exc)
            raise AudioError(
                f"Cannot decode {self.what} as audio ({reason.rstrip('.')}).",
                source=self.source_name,
            ) from None
        f = self._file
        if not MIN_SAMPLE_RATE <= f.samplerate <= MAX_SAMPLE_RATE:
            self.close()
            raise AudioError(
                f"{self.what} declares a sample rate of {f.samplerate} Hz, outside the "
                f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz of audio; the file is damaged or not "
                "audio.",
                source=self.source_name,
            )
        if f.frames <= 0:
            self.close()
            raise AudioError(f"{self.what} holds no audio samples.", source=self.source_name)
        self.channels = f.channels
        self.sample_rate = f.samplerate
        self.frames = f.frames
        self._wav_declared = _declared_wav_frames(f)

    # -- what is known -------------------------------------------------------------------
    @property
    def duration(self) -> float | None:
        """Seconds the source declares (a damaged file may hold less)."""
        declared = self._wav_declared or self.frames
        return None if declared is None else declared / self.sample_rate

    @property
    def position(self) -> float:
        """Seconds of the source read so far."""
        return self._frames_read / self.sample_rate

    # -- reading -------------------------------------------------------------------------
    def __iter__(self) -> Iterator[np.ndarray]:
        if self._started:
            raise ParameterError("An AudioStream can be read once; open a new one.")
        self._started = True
        if self._arrays is not None:
            return self._array_blocks()
        return self._file_blocks()

    def _array_blocks(self) -> Iterator[np.ndarray]:
        arrays = self._arrays
        assert arrays is not None
        step = max(1, round(self.block_duration * self.target_rate))
        try:
            for first in range(0, arrays.shape[0], step):
                block = arrays[first : first + step]
                done = (first + block.shape[0]) / self.target_rate
                self._frames_read = round(done * self.sample_rate)
                yield block
        finally:
            self._arrays = None

    def _file_blocks(self) -> Iterator[np.ndarray]:
        f = self._file
        assert f is not None
        outputs = len(self.names)
        # At most _BLOCK_SAMPLES values per read (as load_audio): a damaged header may
        # declare thousands of channels.
        size = max(
            1, min(round(self.block_duration * self.sample_rate), _BLOCK_SAMPLES // self.channels)
        )
        resampler = None
        if self.sample_rate != self.target_rate:
            resampler = soxr.ResampleStream(
                self.sample_rate, self.target_rate, outputs, dtype="float32", quality="HQ"
            )
        beyond_full_scale = 0.0
        try:
            while True:
                try:
                    data = f.read(size, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError, ValueError, OverflowError) as exc:
                    reason = getattr(exc, "error_string", None) or str(exc)
                    self._stop(reason.strip().rstrip(".") or type(exc).__name__)
                    break
                if data.shape[0] == 0:
                    break
                finite = np.isfinite(data).all(axis=1)
                if not finite.all():
                    data = data[: int(np.argmin(finite))]
                    self._frames_read += data.shape[0]
                    self._stop("it holds NaN or infinite samples from here on")
                    if data.shape[0] == 0:
                        break
                else:
                    self._frames_read += data.shape[0]
                beyond_full_scale = max(beyond_full_scale, float(np.max(np.abs(data))))
                out = self._mix(data)
                if resampler is not None:
                    out = resampler.resample_chunk(out).reshape(-1, outputs)
                if out.shape[0]:
                    yield out
                if self.error is not None:
                    break
            if resampler is not None:
                tail = resampler.resample_chunk(
                    np.zeros((0, outputs), dtype=np.float32), last=True
                ).reshape(-1, outputs)
                if tail.shape[0]:
                    yield tail
            if self.error is None:
                self._check_complete()
            if beyond_full_scale > PEAK_LIMIT:
                self.notes.append(
                    f"{self.what[0].upper()}{self.what[1:]} has float samples reaching "
                    f"{beyond_full_scale:.3g}, far outside the [-1, 1] range of audio; they "
                    "were used as they are (a whole-file read would rescale them)."
                )
        finally:
            self.close()

    def _mix(self, data: np.ndarray) -> np.ndarray:
        """One block as the outputs asked for, float32 (frames, outputs)."""
        if self.mode == "each" or data.shape[1] == 1:
            return np.ascontiguousarray(data)
        # As load_audio downmixes: the mean in float64, then float32.
        return data.mean(axis=1, dtype=np.float64).astype(np.float32)[:, None]

    def _stop(self, reason: str) -> None:
        at = _seconds_text(self.position)
        self.error = (
            f"Reading {self.what} stopped at {at} s ({reason}): the file is damaged or "
            f"truncated; only the audio before {at} s was used."
        )

    def _check_complete(self) -> None:
        """Say so when the header declared more audio than the file held."""
        declared = self._wav_declared or self.frames
        if self._arrays is None and declared is not None and self._frames_read < declared:
            read, whole = self.position, declared / self.sample_rate
            self.error = (
                f"{self.what[0].upper()}{self.what[1:]} declares {_seconds_text(whole)} s of "
                f"audio but ends after {_seconds_text(read)} s: the file is truncated; only "
                f"those {_seconds_text(read)} s were used."
            )

    # -- closing -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the file (if this stream opened one); safe to call more than once."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _declared_wav_frames(f: sf.SoundFile) -> int | None:
    """Frames a WAV header declares when libsndfile found fewer bytes in the file (it then
    reports the frames present and notes ``data : N (should be M)`` in its log)."""
    try:
        log = f.extra_info
    except (sf.LibsndfileError, RuntimeError):
        return None
    match = _WAV_DATA.search(log or "")
    if match is None:
        return None
    declared, present = int(match.group(1)), int(match.group(2))
    if declared in _PLACEHOLDER_SIZES or declared <= present or f.frames <= 0:
        return None
    bytes_per_frame = present / f.frames if present else 0
    if bytes_per_frame <= 0:
        return None
    return round(declared / bytes_per_frame)
