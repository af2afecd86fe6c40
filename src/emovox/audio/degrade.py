"""Degradations for robustness tests: noise at a given SNR, telephone band, reverberation,
resampling, and conditions that no training augmentation uses (babble of other speakers,
low-bitrate codecs, image-method rooms, level changes, clipping).

Each degradation is a small frozen dataclass: calling it maps a mono 16 kHz float32 signal
to a degraded one, deterministically (random draws are seeded from ``seed`` and the
signal's length), and its :attr:`key` names it in caches and reports.

Which test conditions a model has met in training: :func:`training_match` compares a
condition with the transforms of an augmentation (:data:`AUGMENTATIONS`): ``"yes"`` when
the augmentation applies the same degradation (another random draw), ``"same kind"`` when
it applies the same degradation at another level (white noise at 10 dB SNR when training
used 20 and 30 dB), ``"no"`` otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from functools import lru_cache
from pathlib import PurePath
from typing import Any

import numpy as np
from scipy.signal import butter, fftconvolve, sosfiltfilt

from emovox.audio.load import SAMPLE_RATE, load_audio, resample
from emovox.errors import EmovoxError, ParameterError

NOISE_COLORS = ("white", "pink")


@dataclass(frozen=True)
class AddNoise:
    """Gaussian noise at ``snr_db`` relative to the signal's power.

    ``color``: ``"white"`` (flat spectrum) or ``"pink"`` (power falling as 1/f, closer to
    room and fan noise than white noise is; used to test on a noise the training
    augmentation did not use).
    """

    snr_db: float
    seed: int = 0
    color: str = "white"

    def __post_init__(self) -> None:
        if self.color not in NOISE_COLORS:
            raise EmovoxError(f"Noise color must be one of {NOISE_COLORS}, got {self.color!r}.")

    @property
    def key(self) -> str:
        color = "" if self.color == "white" else f"-{self.color}"  # white keys predate colors
        return f"noise{self.snr_db:g}dB-seed{self.seed}{color}"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng([self.seed, signal.size])
        noise = rng.standard_normal(signal.size)  # unit variance
        if self.color == "pink":
            spectrum = np.fft.rfft(noise)
            spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))  # power ~ 1/f
            spectrum[0] = 0.0
            noise = np.fft.irfft(spectrum, n=signal.size)
            noise /= np.sqrt(max(float(np.mean(noise**2)), 1e-20))
        power = float(np.mean(signal.astype(np.float64) ** 2))
        noise *= np.sqrt(power / 10 ** (self.snr_db / 10))
        return (signal + noise).astype(np.float32)


@dataclass(frozen=True)
class Telephone:
    """Narrow-band telephone speech: 300-3400 Hz band-pass at 8 kHz, then back to 16 kHz."""

    low_hz: float = 300.0
    high_hz: float = 3400.0

    @property
    def key(self) -> str:
        return f"telephone{self.low_hz:g}-{self.high_hz:g}"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        narrow = resample(signal, sample_rate=SAMPLE_RATE, target_rate=8000)
        sos = butter(4, [self.low_hz, self.high_hz], btype="bandpass", fs=8000, output="sos")
        narrow = sosfiltfilt(sos, narrow).astype(np.float32)
        return resample(narrow, sample_rate=8000, target_rate=SAMPLE_RATE)


@dataclass(frozen=True)
class Resampled:
    """A round trip through another rate (e.g. a 44.1 or 48 kHz recording read at 16 kHz)."""

    rate: int

    @property
    def key(self) -> str:
        return f"resampled{self.rate}"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        up = resample(signal, sample_rate=SAMPLE_RATE, target_rate=self.rate)
        return resample(up, sample_rate=self.rate, target_rate=SAMPLE_RATE)


@dataclass(frozen=True)
class SpeedPerturb:
    """Play the signal ``factor`` times faster (tempo and pitch together), as in Kaldi."""

    factor: float

    @property
    def key(self) -> str:
        return f"speed{self.factor:g}"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        rate = round(SAMPLE_RATE * self.factor)
        return resample(signal, sample_rate=rate, target_rate=SAMPLE_RATE)


@dataclass(frozen=True)
class Reverb:
    """Room reverberation: a synthetic impulse response (the direct sound, then
    exponentially decaying noise reaching -60 dB after ``rt60`` seconds, with
    direct-to-reverberant energy ratio ``drr_db``: 0 dB is a talker a metre or two from
    the microphone in an ordinary room). Loudness is kept."""

    rt60: float = 0.5
    drr_db: float = 0.0
    seed: int = 0

    @property
    def key(self) -> str:
        return f"reverb{self.rt60:g}s-drr{self.drr_db:g}dB-seed{self.seed}"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng([self.seed, signal.size])
        t = np.arange(1, int(self.rt60 * SAMPLE_RATE)) / SAMPLE_RATE
        tail = rng.standard_normal(t.size) * np.exp(-6.9 * t / self.rt60)
        tail *= np.sqrt(10 ** (-self.drr_db / 10) / float(np.sum(tail**2)))
        response = np.concatenate([[1.0], tail])
        wet = fftconvolve(signal.astype(np.float64), response)[: signal.size]
        rms_in = np.sqrt(np.mean(signal.astype(np.float64) ** 2))
        wet *= rms_in / max(float(np.sqrt(np.mean(wet**2))), 1e-20)
        return wet.astype(np.float32)


def _rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(signal, dtype=np.float64) ** 2)))


def _digest(value: object) -> str:
    """A short, stable hash of a JSON-able value, for keys."""
    return hashlib.sha1(json.dumps(value).encode()).hexdigest()[:10]


@lru_cache(maxsize=4096)
def _babble_source(path: str) -> np.ndarray:
    """One babble utterance: loaded at 16 kHz, leading and trailing silence cut."""
    from emovox.audio.trim import trim_silence

    signal = trim_silence(load_audio(path))
    signal.setflags(write=False)
    return signal


@dataclass(frozen=True)
class Babble:
    """Babble: ``n_talkers`` other people talking at once, mixed at ``snr_db`` below the
    signal (power over the whole clip, as :class:`AddNoise`).

    ``talkers`` holds one tuple of utterance paths per babble talker (see
    :func:`babble_talkers`); use talkers who are in neither the test nor the training data
    (another corpus). For each clip, ``n_talkers`` different talkers are drawn, and each
    talker's stream is made of their utterances (silence at both ends cut) drawn at random
    and joined, starting at a random point, cut to the clip's length; every stream is
    brought to the same power before they are summed. The draws depend on ``seed`` and
    the clip's length only, so a condition is the same babble on every run.
    """

    talkers: tuple[tuple[str, ...], ...]
    snr_db: float
    n_talkers: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.talkers, (str, bytes)) or not isinstance(self.talkers, Iterable):
            raise ParameterError(
                f"talkers must be a tuple of tuples of paths, one per talker, got "
                f"{type(self.talkers).__name__}."
            )
        talkers = tuple(
            (str(group),) if isinstance(group, (str, PurePath)) else tuple(map(str, group))
            for group in self.talkers
        )
        object.__setattr__(self, "talkers", talkers)  # lists in, hashable tuples kept
        if any(not group for group in talkers):
            raise ParameterError("Every babble talker needs at least one utterance path.")
        if isinstance(self.n_talkers, bool) or not 1 <= int(self.n_talkers) <= len(talkers):
            raise ParameterError(
                f"n_talkers must be between 1 and the {len(talkers)} talkers given, "
                f"got {self.n_talkers!r}."
            )

    @property
    def key(self) -> str:
        names = [[PurePath(p).name for p in group] for group in self.talkers]
        return (
            f"babble{self.n_talkers}of{len(self.talkers)}-{self.snr_db:g}dB-"
            f"{_digest(names)}-seed{self.seed}"
        )

    def babble(self, size: int) -> np.ndarray:
        """The babble added to a clip of ``size`` samples, at unit power (float64)."""
        rng = np.random.default_rng([self.seed, size])
        chosen = rng.choice(len(self.talkers), size=self.n_talkers, replace=False)
        mix = np.zeros(size)
        for talker in chosen:
            group = self.talkers[int(talker)]
            first = _babble_source(group[int(rng.integers(len(group)))])
            pieces = [first[int(rng.integers(first.size)) :]]
            filled = pieces[0].size
            while filled < size:
                pieces.append(_babble_source(group[int(rng.integers(len(group)))]))
                filled += pieces[-1].size
            stream = np.concatenate(pieces)[:size].astype(np.float64)
            mix += stream / max(_rms(stream), 1e-20)
        return mix / max(_rms(mix), 1e-20)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        power = float(np.mean(signal.astype(np.float64) ** 2))
        babble = self.babble(signal.size) * np.sqrt(power / 10 ** (self.snr_db / 10))
        return (signal + babble).astype(np.float32)


def babble_talkers(
    rows: Iterable[tuple[str, str]], *, per_talker: int | None = None, seed: int = 0
) -> tuple[tuple[str, ...], ...]:
    """:class:`Babble` talkers from ``(speaker, path)`` pairs (a corpus table's
    ``zip(table["speaker"], table["path"])``): one tuple of paths per speaker, speakers
    sorted, paths sorted; with ``per_talker``, at most that many paths per speaker, drawn
    with ``seed``."""
    groups: dict[str, list[str]] = {}
    for speaker, path in rows:
        groups.setdefault(str(speaker), []).append(str(path))
    if not groups:
        raise ParameterError("No (speaker, path) rows to make babble talkers from.")
    if per_talker is not None and (isinstance(per_talker, bool) or per_talker < 1):
        raise ParameterError(f"per_talker must be a positive count, got {per_talker!r}.")
    rng = np.random.default_rng(seed)
    talkers = []
    for speaker in sorted(groups):
        paths = sorted(groups[speaker])
        if per_talker is not None and len(paths) > per_talker:
            paths = sorted(rng.choice(paths, size=per_talker, replace=False).tolist())
        talkers.append(tuple(paths))
    return tuple(talkers)


CODECS = {"opus": ("OGG", "OPUS"), "mp3": ("MP3", "MPEG_LAYER_III")}
"""Lossy codecs :class:`Codec` offers: name -> libsndfile (format, subtype)."""

MP3_BITRATES_16K = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
"""The bitrates (kbps) of MPEG-2 Layer III, the MP3 flavour for 16-24 kHz audio."""


@dataclass(frozen=True)
class Codec:
    """A round trip through a lossy codec at a low bitrate: encoded at 16 kHz mono and
    decoded with libsndfile (through ``soundfile``; libsndfile 1.1 or later).

    ``"opus"`` (in an Ogg container) encodes 16 kHz input directly (one of Opus' native
    rates, no resampling). libsndfile sets its target bitrate from a compression level
    (``bitrate = (1 - level) * 250 + 6`` kbps, a level is chosen to give ``kbps``) and
    the encoder is variable-bitrate, so the bytes written vary with the signal (see
    :meth:`encode`; silence costs little). ``"mp3"`` is constant-bitrate MPEG-2 Layer III
    (LAME; ``kbps`` one of :data:`MP3_BITRATES_16K`). The decoder's delay (the MP3
    encoder and decoder delay, about 1100 samples) is measured once per setting and
    removed, so the output lines up with the input and keeps its length.
    """

    codec: str
    kbps: int

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ParameterError(f"codec must be one of {list(CODECS)}, got {self.codec!r}.")
        if isinstance(self.kbps, bool) or not isinstance(self.kbps, (int, np.integer)):
            raise ParameterError(f"kbps must be a whole number, got {self.kbps!r}.")
        if self.codec == "opus" and not 6 <= self.kbps <= 256:
            raise ParameterError(f"Opus bitrates run from 6 to 256 kbps, got {self.kbps}.")
        if self.codec == "mp3" and self.kbps not in MP3_BITRATES_16K:
            raise ParameterError(
                f"MP3 at 16 kHz (MPEG-2 Layer III) has the bitrates {MP3_BITRATES_16K} "
                f"kbps, got {self.kbps}."
            )

    @property
    def key(self) -> str:
        return f"{self.codec}{self.kbps}kbps"

    def encode(self, signal: np.ndarray) -> bytes:
        """The encoded file's bytes (its size over the duration is the bitrate reached)."""
        import soundfile as sf

        container, subtype = CODECS[self.codec]
        if self.codec == "opus":
            # libsndfile (ogg_opus.c): bitrate = int((1 - level) * 250000 + 6000) per channel
            level = 1.0 - (self.kbps * 1000 - 6000 + 0.5) / 250_000
            mode = None  # libsndfile offers no bitrate mode for Opus: VBR, libopus' default
        else:
            # libsndfile (mpeg_l3_encode.c), MPEG-2: bitrate = int(160 - level * 152) kbps
            level = (160 - self.kbps - 0.5) / 152
            mode = "CONSTANT"
        buffer = io.BytesIO()
        data = np.clip(np.asarray(signal, dtype=np.float32), -1.0, 1.0)
        try:
            sf.write(
                buffer,
                data,
                SAMPLE_RATE,
                format=container,
                subtype=subtype,
                compression_level=level,
                bitrate_mode=mode,
            )
        except (sf.LibsndfileError, TypeError, ValueError) as exc:
            raise EmovoxError(
                f"Cannot encode {self.codec} at {self.kbps} kbps with this soundfile/libsndfile "
                f"({sf.__libsndfile_version__}; needs 1.1 or later, built with {container}/"
                f"{subtype}): {exc}"
            ) from exc
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        """The decoded signal, before the codec's delay is removed."""
        import soundfile as sf

        decoded, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return decoded[:, 0]

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        delay = _codec_delay(self)
        decoded = self.decode(self.encode(signal))[delay : delay + signal.size]
        out = np.zeros(signal.size, dtype=np.float32)
        out[: decoded.size] = decoded
        return out


@lru_cache(maxsize=32)
def _codec_delay(codec: Codec) -> int:
    """Samples by which ``codec``'s decoded output lags its input, measured on a
    seeded noise burst (0 for Opus, whose Ogg header tells the decoder to skip it)."""
    rng = np.random.default_rng(0)
    probe = np.zeros(SAMPLE_RATE, dtype=np.float32)
    probe[4000:12000] = 0.3 * rng.standard_normal(8000)
    decoded = codec.decode(codec.encode(probe))
    n = probe.size + decoded.size
    xcorr = np.fft.irfft(np.fft.rfft(decoded, n) * np.conj(np.fft.rfft(probe, n)), n)
    max_lag = 4000
    return int(np.argmax(xcorr[: max_lag + 1]))


ROOMS = (
    (4.0, 3.0, 2.7, 0.27),
    (6.0, 4.5, 2.8, 0.37),
    (9.0, 7.0, 3.2, 0.52),
)
"""The default :class:`ShoeboxRooms`: (length, width, height in metres, RT60 in seconds
for Sabine's formula) of a small office, a living room and a classroom. The image method
in a shoebox with the same absorption on every wall decays more slowly than Sabine's
formula says: the RT60s measured on the default responses (Schroeder decay,
``pyroomacoustics.experimental.measure_rt60``) are about 0.3, 0.5 and 0.8 s."""


@dataclass(frozen=True)
class ShoeboxRooms:
    """Room reverberation from the image-source method (Allen and Berkley) in shoebox
    rooms, computed with pyroomacoustics: a family of measured-room-like impulse
    responses, unlike :class:`Reverb`'s synthetic decaying noise.

    For each room of ``rooms`` (length, width, height in metres; RT60 in seconds, from
    which the wall absorption follows by Sabine's formula), ``placements`` talker and
    microphone positions are drawn with ``seed``: the microphone 1.0-1.6 m high and the
    talker 1.3-1.8 m high, ``distance`` metres apart (drawn within the range), both at
    least 0.5 m from the walls. Each clip is convolved with one of these responses, drawn
    from the clip's length, starting at its direct sound; loudness is kept.
    """

    rooms: tuple[tuple[float, float, float, float], ...] = ROOMS
    placements: int = 3
    distance: tuple[float, float] = (1.0, 2.5)
    seed: int = 0

    def __post_init__(self) -> None:
        rooms = tuple(tuple(float(v) for v in room) for room in self.rooms)
        object.__setattr__(self, "rooms", rooms)
        object.__setattr__(self, "distance", tuple(float(d) for d in self.distance))
        if not rooms or any(len(room) != 4 for room in rooms):
            raise ParameterError(
                "rooms must be (length, width, height, rt60) tuples, at least one."
            )
        for length, width, height, rt60 in rooms:
            if min(length, width) < 2.0 or height < 2.0 or not 0.05 < rt60 <= 3.0:
                raise ParameterError(
                    f"A room needs length, width and height of at least 2 m and an RT60 "
                    f"between 0.05 and 3 s, got {(length, width, height, rt60)}."
                )
        near, far = self.distance
        inner = min(np.hypot(length - 1.0, width - 1.0) for length, width, _, _ in rooms)
        if not 0.1 <= near <= far <= 0.8 * inner:
            raise ParameterError(
                f"distance must be a (near, far) range in metres, 0.1 <= near <= far, far "
                f"at most {0.8 * inner:.2f} m (0.8 of the smallest room's floor diagonal "
                f"0.5 m from the walls), got {self.distance}."
            )
        if isinstance(self.placements, bool) or self.placements < 1:
            raise ParameterError(f"placements must be a positive count, got {self.placements}.")

    @property
    def key(self) -> str:
        digest = _digest([self.rooms, self.distance])
        return f"shoebox{len(self.rooms)}x{self.placements}-{digest}-seed{self.seed}"

    def responses(self) -> tuple[np.ndarray, ...]:
        """The impulse responses (16 kHz, from the direct sound), room by room, computed
        once per setting."""
        return _shoebox_responses(self)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        responses = self.responses()
        pick = int(np.random.default_rng([self.seed, signal.size]).integers(len(responses)))
        wet = fftconvolve(signal.astype(np.float64), responses[pick])[: signal.size]
        wet *= _rms(signal) / max(_rms(wet), 1e-20)
        return wet.astype(np.float32)


@lru_cache(maxsize=8)
def _shoebox_responses(rooms: ShoeboxRooms) -> tuple[np.ndarray, ...]:
    import pyroomacoustics as pra

    responses = []
    for index, (length, width, height, rt60) in enumerate(rooms.rooms):
        dims = np.array([length, width, height])
        absorption, max_order = pra.inverse_sabine(rt60, dims)
        for placement in range(rooms.placements):
            rng = np.random.default_rng([rooms.seed, index, placement])
            for _ in range(1000):
                mic = np.array([rng.uniform(0.5, length - 0.5), rng.uniform(0.5, width - 0.5), 0.0])
                mic[2] = rng.uniform(1.0, 1.6)
                distance = rng.uniform(*rooms.distance)
                angle = rng.uniform(0, 2 * np.pi)
                talker_height = rng.uniform(1.3, 1.8)
                flat = np.sqrt(max(distance**2 - (talker_height - mic[2]) ** 2, 0.0))
                source = np.array(
                    [mic[0] + flat * np.cos(angle), mic[1] + flat * np.sin(angle), talker_height]
                )
                if np.all(source[:2] >= 0.5) and np.all(source[:2] <= dims[:2] - 0.5):
                    break
            else:  # pragma: no cover - the distance check in __post_init__ prevents it
                raise EmovoxError(f"No talker position fits room {index} at that distance.")
            room = pra.ShoeBox(
                dims, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=max_order
            )
            room.add_source(source)
            room.add_microphone(mic)
            room.compute_rir()
            response = np.asarray(room.rir[0][0], dtype=np.float64)
            start = max(int(np.argmax(np.abs(response))) - 40, 0)  # 40: half the sinc filter
            response = response[start:]
            response.setflags(write=False)
            responses.append(response)
    return tuple(responses)


@dataclass(frozen=True)
class Gain:
    """A level change of ``gain_db`` decibels, then stored as ``bits``-bit PCM: rounded to
    that resolution and saturated at full scale (as a recording made at that level would
    be). A quiet recording (-30 dB) keeps fewer significant bits; a loud one (+20 dB)
    clips wherever the signal would exceed full scale."""

    gain_db: float
    bits: int = 16

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not 8 <= self.bits <= 32:
            raise ParameterError(f"bits must be between 8 and 32, got {self.bits!r}.")

    @property
    def key(self) -> str:
        return f"gain{self.gain_db:+g}dB-{self.bits}bit"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        full = 2.0 ** (self.bits - 1)
        scaled = signal.astype(np.float64) * 10 ** (self.gain_db / 20)
        return (np.clip(np.round(scaled * full), -full, full - 1) / full).astype(np.float32)


@dataclass(frozen=True)
class Clipping:
    """Hard clipping of the loudest ``fraction`` of the samples (over the whole clip,
    pauses included): the signal is cut at the level that ``fraction`` of its samples
    reach, then brought back to its original RMS, so that the condition measures the
    distortion, not a change of level (:class:`Gain` does that). As an overdriven input
    stage would: gain until ``fraction`` of the samples saturate, cut at full scale."""

    fraction: float

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise ParameterError(
                f"fraction is the share of samples clipped, between 0 and 1 (not "
                f"included), got {self.fraction!r}."
            )

    @property
    def key(self) -> str:
        return f"clip{100 * self.fraction:g}pct"

    def level(self, signal: np.ndarray) -> float:
        """The clipping level: the magnitude that ``fraction`` of the samples reach."""
        magnitude = np.abs(signal.astype(np.float64))
        count = min(max(round(self.fraction * magnitude.size), 1), magnitude.size)
        return float(np.partition(magnitude, magnitude.size - count)[magnitude.size - count])

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        level = self.level(signal)
        if level <= 0.0:  # silence: nothing to clip
            return signal.astype(np.float32)
        clipped = np.clip(signal.astype(np.float64), -level, level)
        clipped *= _rms(signal) / max(_rms(clipped), 1e-20)
        return clipped.astype(np.float32)


AUGMENTATIONS = {
    "speed": (SpeedPerturb(0.9), SpeedPerturb(1.1)),
    "noise": (AddNoise(15, seed=1),),
    "speed+noise": (SpeedPerturb(0.9), SpeedPerturb(1.1), AddNoise(15, seed=1)),
    "speed-wide": (SpeedPerturb(0.8), SpeedPerturb(0.9), SpeedPerturb(1.1), SpeedPerturb(1.2)),
    "speed+light-noise": (
        SpeedPerturb(0.9),
        SpeedPerturb(1.1),
        AddNoise(20, seed=3),
        AddNoise(30, seed=2),
    ),
}
"""Training-data augmentations by name: each adds one copy of every training file."""

ROBUSTNESS_CONDITIONS = {
    "noise 20 dB SNR": AddNoise(20),
    "noise 10 dB SNR": AddNoise(10),
    "noise 5 dB SNR": AddNoise(5),
    "pink noise 10 dB SNR": AddNoise(10, color="pink"),
    "telephone band (8 kHz)": Telephone(),
    "reverberation (RT60 0.5 s)": Reverb(0.5),
    "from 44.1 kHz": Resampled(44_100),
    "from 48 kHz": Resampled(48_000),
}
"""The conditions ``benchmarks/results_table.py`` reports, by display name (with those of
:func:`unseen_conditions`)."""


def unseen_conditions(talkers: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """Test conditions of a kind that no :data:`AUGMENTATIONS` entry applies, by display
    name: babble of ``talkers`` (:func:`babble_talkers`: people in neither the training
    nor the test data), low-bitrate Opus and MP3, image-method rooms, a quiet and a loud
    level, and clipping."""
    return {
        "babble, 5 talkers, 10 dB SNR": Babble(talkers, 10),
        "babble, 5 talkers, 5 dB SNR": Babble(talkers, 5),
        "Opus 16 kbps": Codec("opus", 16),
        "MP3 16 kbps": Codec("mp3", 16),
        "image-method rooms (RT60 0.3-0.8 s)": ShoeboxRooms(),
        "quiet: -30 dB (16-bit)": Gain(-30),
        "loud: +20 dB, saturating": Gain(20),
        "clipped: 20 % of samples": Clipping(0.2),
    }


LEVEL_FIELDS = ("snr_db", "gain_db")
"""Parameters that set how strong a degradation is, not what kind it is (see
:func:`same_kind`)."""


def _without(transform: object, names: tuple[str, ...]) -> object:
    if not is_dataclass(transform) or isinstance(transform, type):
        return transform
    present = {f.name for f in fields(transform)} & set(names)
    return replace(transform, **{name: 0 for name in present}) if present else transform


def same_but_seed(a: object, b: object) -> bool:
    """Whether transforms ``a`` and ``b`` are the same kind with the same parameters, seeds
    aside: the same distribution of degradation, drawn afresh (``AddNoise(20)`` and
    ``AddNoise(20, seed=3)``)."""
    if type(a) is not type(b):
        return False
    return _without(a, ("seed",)) == _without(b, ("seed",))


def same_kind(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` differ at most in seed and level (:data:`LEVEL_FIELDS`):
    the same kind of degradation, perhaps stronger or weaker (white noise at 10 and at
    20 dB SNR; not white and pink noise)."""
    if type(a) is not type(b):
        return False
    names = ("seed", *LEVEL_FIELDS)
    return _without(a, names) == _without(b, names)


def _check_augment(augment: str | None) -> None:
    if augment is not None and augment not in AUGMENTATIONS:
        raise ParameterError(
            f"Unknown augmentation '{augment}'; choose from {list(AUGMENTATIONS)}."
        )


TRAINING_MATCHES = ("yes", "same kind", "no")
"""What :func:`training_match` answers, from the closest to the farthest."""


def training_match(condition: object, augment: str | None) -> str:
    """How a test ``condition`` relates to the training augmentation ``augment``:
    ``"yes"`` when the augmentation applies it too, seeds aside (:func:`same_but_seed`: a
    matched condition, another random draw), ``"same kind"`` when it applies the same
    kind at another level (:func:`same_kind`), ``"no"`` otherwise (a condition the model
    never met in training)."""
    _check_augment(augment)
    if augment is None:
        return "no"
    transforms = AUGMENTATIONS[augment]
    if any(same_but_seed(condition, t) for t in transforms):
        return "yes"
    if any(same_kind(condition, t) for t in transforms):
        return "same kind"
    return "no"


def conditions_seen_in_training(
    augment: str | None, conditions: Mapping[str, Any] | None = None
) -> list[str]:
    """Names of the ``conditions`` (default :data:`ROBUSTNESS_CONDITIONS`) that a model
    trained with the augmentation ``augment`` has seen in training, seeds aside
    (:func:`same_but_seed`): results on them measure a matched condition, not robustness
    to an unseen one."""
    _check_augment(augment)
    conditions = ROBUSTNESS_CONDITIONS if conditions is None else conditions
    return [
        name
        for name, condition in conditions.items()
        if training_match(condition, augment) == "yes"
    ]
