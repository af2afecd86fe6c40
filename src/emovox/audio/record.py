"""Microphone capture through PortAudio (the optional ``sounddevice`` package).

:func:`record` reads from any *stream*: an object used as a context manager whose
``read(frames)`` returns ``(array of shape (frames, channels), overflowed)``. The real
path opens ``sounddevice.InputStream``; tests inject a fake through ``stream_factory``,
and both go through the same reading and downmixing code.

An interface checks in this order, so that nothing is announced that cannot happen:

1. :func:`check_options` rejects a bad duration, sample rate or channel count
   (:class:`ParameterError`) before anything is opened;
2. :func:`ensure_input_device` finds the device, or says precisely what is missing
   (:class:`DeviceError`): the ``sounddevice`` package (``pip install 'emovox[record]'``),
   the PortAudio library (``libportaudio2``), or any microphone at all;
3. :func:`record` calls its ``on_start`` hook once the stream has really opened, which is
   the moment to say "speak now".
"""

from __future__ import annotations

import importlib
import logging
import math
import numbers
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import soundfile as sf

from emovox.audio.load import SAMPLE_RATE, resample, to_mono
from emovox.errors import AudioError, DeviceError, ParameterError

log = logging.getLogger(__name__)

MAX_RECORD_SECONDS = 600.0
"""Longest recording :func:`record` accepts, in seconds."""

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000

BLOCK_SECONDS = 0.1
"""Frames are read from the stream in blocks of this length."""

_LIST_HINT = "Run `emovox record --list-devices` to see the input devices."


class InputStreamLike(Protocol):
    """The small part of ``sounddevice.InputStream`` that :func:`record` uses."""

    def __enter__(self) -> InputStreamLike: ...

    def __exit__(self, *exc: object) -> Any: ...

    def read(self, frames: int) -> tuple[np.ndarray, bool]: ...


StreamFactory = Callable[..., InputStreamLike]
"""Called as ``factory(samplerate=, channels=, dtype="float32", device=)``."""


@dataclass(frozen=True)
class InputDevice:
    """One audio input device as PortAudio reports it."""

    index: int
    name: str
    max_input_channels: int
    default_samplerate: float
    is_default: bool


def portaudio_advice(platform: str | None = None) -> str:
    """How to install the PortAudio library on ``platform`` (default: this one)."""
    platform = sys.platform if platform is None else platform
    if platform == "darwin":
        return "install it with `brew install portaudio`"
    if platform.startswith("win"):
        # Windows wheels of sounddevice bundle PortAudio: a missing one is a broken install.
        return "reinstall sounddevice (`pip install --force-reinstall sounddevice`)"
    return (
        "install it with `sudo apt-get install libportaudio2` (Debian/Ubuntu), "
        "`sudo dnf install portaudio` (Fedora) or your system's PortAudio package"
    )


def _sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing package or PortAudio into a DeviceError."""
    try:
        return importlib.import_module("sounddevice")
    except ImportError:
        raise DeviceError(
            "Recording needs the 'sounddevice' package, which is not installed: "
            "pip install 'emovox[record]'."
        ) from None
    except OSError as exc:  # raised by sounddevice when libportaudio is absent
        raise DeviceError(
            f"Recording needs the PortAudio library, which is not installed ({exc}); "
            f"{portaudio_advice()}."
        ) from None


def _default_input_index(sd: ModuleType) -> int | None:
    try:
        return int(sd.query_devices(kind="input")["index"])
    except Exception:  # PortAudioError (no default input) or an old dict without 'index'
        return None


def list_input_devices() -> list[InputDevice]:
    """The devices PortAudio can record from; empty when there is no microphone.

    Raises:
        DeviceError: when sounddevice or the PortAudio library is not installed.
    """
    sd = _sounddevice()
    try:
        devices = list(sd.query_devices())
    except sd.PortAudioError as exc:
        raise DeviceError(f"Cannot list audio devices ({exc}).") from None
    default = _default_input_index(sd)
    return [
        InputDevice(
            index=index,
            name=str(info["name"]),
            max_input_channels=int(info["max_input_channels"]),
            default_samplerate=float(info["default_samplerate"]),
            is_default=index == default,
        )
        for index, info in enumerate(devices)
        if int(info["max_input_channels"]) > 0
    ]


def _describe_devices(devices: list[InputDevice]) -> str:
    return "; ".join(f"{d.index}: '{d.name}'" for d in devices)


def _no_microphone(detail: str = "") -> DeviceError:
    detail = f" ({detail})" if detail else ""
    return DeviceError(
        f"No microphone (input device) found{detail}. Plug one in or check the system's "
        f"sound settings; use `emovox record --list-devices` to see the input devices."
    )


def resolve_device(device: int | str | None, devices: list[InputDevice]) -> InputDevice:
    """Pick the input device meant by an index, a name (or part of one), or None (default)."""
    if not devices:
        raise _no_microphone()
    if device is None:
        for d in devices:
            if d.is_default:
                return d
        raise _no_microphone("there are input devices but no default one; choose one by name")
    if isinstance(device, bool) or not isinstance(device, (int, str)):
        raise DeviceError(f"A device is an index or a name, not a {type(device).__name__}.")
    if isinstance(device, int):
        for d in devices:
            if d.index == device:
                return d
        raise DeviceError(
            f"There is no input device number {device}. Input devices: "
            f"{_describe_devices(devices)}."
        )
    exact = [d for d in devices if d.name == device]
    if exact:
        return exact[0]
    partial = [d for d in devices if device.lower() in d.name.lower()]
    if len(partial) == 1:
        return partial[0]
    if not partial:
        raise DeviceError(
            f"No input device is named '{device}'. Input devices: {_describe_devices(devices)}."
        )
    raise DeviceError(
        f"'{device}' matches several input devices ({_describe_devices(partial)}); "
        "give its full name or its number."
    )


def check_options(*, duration: float, sample_rate: int = SAMPLE_RATE, channels: int = 1) -> int:
    """Check :func:`record`'s options without opening anything; the frames to record.

    Raises:
        ParameterError: for a duration that is not a number of seconds in
            (0, :data:`MAX_RECORD_SECONDS`] (0, negative, NaN, infinite, too long), a sample
            rate that is not an integer from :data:`MIN_SAMPLE_RATE` to
            :data:`MAX_SAMPLE_RATE` Hz, or a channel count below 1.
    """
    if isinstance(duration, bool) or not isinstance(duration, numbers.Real):
        raise ParameterError(f"duration must be a number of seconds, not {duration!r}.")
    if not math.isfinite(duration) or duration <= 0:
        raise ParameterError(f"duration must be a positive number of seconds, got {duration}.")
    if duration > MAX_RECORD_SECONDS:
        raise ParameterError(
            f"duration {duration:g} s is longer than the {MAX_RECORD_SECONDS:.0f} s a "
            "single recording may last."
        )
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral):
        raise ParameterError(f"sample_rate must be an integer number of Hz, not {sample_rate!r}.")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise ParameterError(
            f"sample_rate must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz, "
            f"got {sample_rate}."
        )
    if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or channels < 1:
        raise ParameterError(f"channels must be a positive integer, got {channels!r}.")
    return max(1, round(float(duration) * int(sample_rate)))


def ensure_input_device(device: int | str | None = None, *, channels: int = 1) -> InputDevice:
    """The input device :func:`record` would use, checked without recording anything.

    Call it before announcing a recording: everything that can be known to fail before a
    stream is opened fails here (opening can still fail, e.g. on a device in use).

    Raises:
        DeviceError: when the ``sounddevice`` package is missing (``pip install
            'emovox[record]'``), the PortAudio library is missing (``libportaudio2``),
            there is no input device (see ``emovox record --list-devices``), ``device``
            names none or several, or it has fewer than ``channels`` channels.
    """
    chosen = resolve_device(device, list_input_devices())
    if channels > chosen.max_input_channels:
        raise DeviceError(
            f"'{chosen.name}' records at most {chosen.max_input_channels} channel(s), "
            f"not {channels}."
        )
    return chosen


def _read(stream: InputStreamLike, frames: int, *, channels: int, block: int) -> np.ndarray:
    """Read ``frames`` frames from an open stream, as float32 (frames, channels)."""
    chunks: list[np.ndarray] = []
    remaining, overflows = frames, 0
    while remaining > 0:
        data, overflowed = stream.read(min(block, remaining))
        data = np.asarray(data, dtype=np.float32)
        if data.ndim == 1:
            data = data[:, None]
        if data.ndim != 2 or data.shape[1] != channels:
            raise DeviceError(
                f"The input stream returned audio of shape {data.shape}; "
                f"expected (frames, {channels})."
            )
        if data.shape[0] == 0:
            raise DeviceError("The input stream stopped delivering audio.")
        chunks.append(data[:remaining])
        remaining -= data.shape[0]
        overflows += bool(overflowed)
    if overflows:
        log.warning("Input overflow in %d block(s): some audio was lost.", overflows)
    return np.concatenate(chunks, axis=0)


def _capture(
    factory: StreamFactory,
    *,
    frames: int,
    sample_rate: int,
    channels: int,
    device: int | str | None,
    open_errors: tuple[type[BaseException], ...],
    on_start: Callable[[], object] | None = None,
) -> np.ndarray:
    block = max(1, round(BLOCK_SECONDS * sample_rate))
    try:
        stream = factory(samplerate=sample_rate, channels=channels, dtype="float32", device=device)
        with stream:
            if on_start is not None:
                on_start()
            data = _read(stream, frames, channels=channels, block=block)
    except open_errors as exc:
        raise DeviceError(
            f"Cannot record from the microphone ({exc}). {_LIST_HINT} "
            "Choose another device or a rate it supports."
        ) from None
    # Downmix (frames, channels): the channel axis is known, never guessed.
    return to_mono(data, channel_axis=1)


def _real_capture(
    *,
    frames: int,
    sample_rate: int,
    channels: int,
    device: int | str | None,
    on_start: Callable[[], object] | None,
) -> np.ndarray:
    chosen = ensure_input_device(device, channels=channels)
    sd = _sounddevice()
    device_rate = sample_rate
    try:
        sd.check_input_settings(
            device=chosen.index, channels=channels, dtype="float32", samplerate=device_rate
        )
    except sd.PortAudioError:
        # Many devices only run at their native rate: record at it and resample.
        device_rate = round(chosen.default_samplerate)
        log.info(
            "'%s' does not support %d Hz; recording at %d Hz.",
            chosen.name,
            sample_rate,
            device_rate,
        )
    mono = _capture(
        sd.InputStream,
        frames=max(1, round(frames * device_rate / sample_rate)),
        sample_rate=device_rate,
        channels=channels,
        device=chosen.index,
        open_errors=(sd.PortAudioError,),
        on_start=on_start,
    )
    return resample(mono, sample_rate=device_rate, target_rate=sample_rate)


def record(
    *,
    duration: float,
    sample_rate: int = SAMPLE_RATE,
    device: int | str | None = None,
    channels: int = 1,
    stream_factory: StreamFactory | None = None,
    on_start: Callable[[], object] | None = None,
) -> np.ndarray:
    """Record ``duration`` seconds from a microphone; return mono float32 at ``sample_rate``.

    Args:
        duration: seconds to record, more than 0 and at most :data:`MAX_RECORD_SECONDS`.
        sample_rate: rate of the returned signal in Hz. A device that cannot run at it
            records at its own rate and the signal is resampled.
        device: an input device number or name (a unique part of it is enough); ``None``
            is the system's default input.
        channels: channels to capture; more than one are averaged into mono.
        stream_factory: replaces ``sounddevice.InputStream`` (for tests); called as
            ``factory(samplerate=, channels=, dtype="float32", device=)``.
        on_start: called with no arguments once the stream has opened and started, just
            before the first samples are read (the moment to say "speak now"); never
            called when the options, the device or the stream fail.

    Raises:
        ParameterError: for an invalid duration, sample rate or channel count (checked
            first, see :func:`check_options`).
        DeviceError: when sounddevice or PortAudio is missing, there is no microphone, the
            device is unknown, or it cannot be opened (see :func:`ensure_input_device`).
    """
    frames = check_options(duration=duration, sample_rate=sample_rate, channels=channels)
    sample_rate, channels = int(sample_rate), int(channels)
    if stream_factory is not None:
        mono = _capture(
            stream_factory,
            frames=frames,
            sample_rate=sample_rate,
            channels=channels,
            device=device,
            open_errors=(),
            on_start=on_start,
        )
    else:
        mono = _real_capture(
            frames=frames,
            sample_rate=sample_rate,
            channels=channels,
            device=device,
            on_start=on_start,
        )
    mono = np.asarray(mono, dtype=np.float32)
    if mono.size != frames:  # resampling can be off by a frame or two
        mono = np.pad(mono[:frames], (0, max(0, frames - mono.size)))
    return mono


def save_wav(path: str | Path, signal: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write ``signal`` (mono, or (frames, channels)) as 16-bit PCM WAV; create folders.

    Float samples outside [-1, 1] are clipped; int16 is written as is. Returns the path.
    """
    data = np.asarray(signal)
    if data.ndim not in (1, 2) or data.size == 0:
        raise AudioError(f"Cannot save an audio array of shape {data.shape} as WAV.")
    if data.dtype == np.int16:
        pass  # written sample for sample
    elif np.issubdtype(data.dtype, np.integer):
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    elif not np.issubdtype(data.dtype, np.floating):
        raise AudioError(f"Cannot save an audio array of dtype {data.dtype} as WAV.")
    if not np.all(np.isfinite(data)):
        raise AudioError("Cannot save audio with NaN or infinite samples as WAV.")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ParameterError(f"sample_rate must be a positive integer, got {sample_rate!r}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if data.dtype != np.int16:
        data = np.clip(data, -1.0, 1.0)
    sf.write(path, data, sample_rate, subtype="PCM_16", format="WAV")
    return path
