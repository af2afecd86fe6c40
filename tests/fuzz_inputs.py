"""Malformed audio and odd Python-API inputs, and a runner that survives whatever they do.

:func:`generate_cases` is deterministic: case ``i`` of seed ``s`` is the same bytes, array
and arguments whatever the number of cases asked for, so a failure is reproduced from its
seed and index alone (``python benchmarks/fuzz.py --seed S --only I``). Families:

* ``valid``: well-formed files in every container and codec libsndfile writes, at odd
  rates, channel counts and lengths;
* ``wav-fields``: hand-built RIFF/WAVE headers with absurd rates, channel counts, bit
  depths, format tags, chunk sizes and chunk orders;
* ``declared-size``: tiny and huge declared lengths (WAV data, RF64 ds64, AIFF COMM, AU,
  FLAC STREAMINFO), absurd AIFF 80-bit rates, with ``max_duration=None`` at times;
* ``truncated`` and ``mutated``: valid files cut short, or with bytes overwritten, inserted
  or removed (mostly in the header);
* ``magic-random``: random bytes behind a valid RIFF/FLAC/OGG/ID3/AIFF/AU/CAF magic, or none;
* ``extreme-values``: well-formed float files and arrays holding NaN, infinities, values
  far outside [-1, 1], int16 values as floats, denormals, DC, full-scale square waves;
* ``array``: arrays of every dtype and rank, odd shapes and sample rates;
* ``api-params``: odd values for every keyword of ``load_audio`` and ``Recognizer.predict``;
* ``paths`` and ``source-types``: missing files, folders, FIFOs, devices, standard input,
  odd names and links; lists, dicts, numbers and None as the source.

:func:`run_cases` runs each case through ``load_audio`` and ``Recognizer.predict`` in a
worker process (one case at a time, under a time limit, with its peak memory measured and
its address space capped) and a subset through the ``emovox predict`` CLI in fresh
processes. Each run ends as one :data:`OUTCOMES`: the first two are what a case may do,
the others are failures.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

OUTCOMES = (
    "accepted",  # a signal (load_audio) or a prediction (predict, CLI exit 0)
    "clear error",  # an emovox error with a one-line message (CLI exit 1 or 2)
    "unclear error",  # an emovox error whose message is empty, multi-line or leaks a repr
    "invalid result",  # accepted, but the signal or prediction breaks its contract
    "traceback",  # any other exception (CLI: a traceback on stderr or another exit code)
    "hang",  # past the time limit
    "crash",  # the process died (a signal, or exited without answering)
    "memory",  # MemoryError, or peak memory growth above the limit
)
PASSING = ("accepted", "clear error")
TARGETS = ("load_audio", "predict", "cli")

FAMILIES: dict[str, int] = {  # family: weight
    "valid": 8,
    "wav-fields": 14,
    "declared-size": 10,
    "truncated": 10,
    "mutated": 12,
    "magic-random": 10,
    "extreme-values": 7,
    "array": 14,
    "api-params": 10,
    "paths": 4,
    "source-types": 2,
}


@dataclass
class Case:
    """One input: what to pass as the source and with which arguments."""

    seed: int
    index: int
    family: str
    what: str
    kind: str  # "bytes", "file" (the bytes as a file named *suffix), "array", "special",
    # "object", or "selftest" (a run that hangs, crashes or raises on purpose: see
    # :func:`selftest_case`; never generated)
    data: bytes = b""
    suffix: str = ".wav"
    value: Any = None  # the array, or the object given as source
    special: str = ""  # for kind "special": which odd path
    load_kwargs: dict[str, Any] = field(default_factory=dict)
    predict_kwargs: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None  # seconds per run, when not the runner's

    @property
    def name(self) -> str:
        return f"{self.seed}:{self.index}"

    @property
    def cli_ready(self) -> bool:
        """Whether the CLI can be given this case: a file, or standard input."""
        if self.kind in ("bytes", "file"):
            return True
        return self.kind == "special" and self.special in CLI_SPECIALS


# --- encodings --------------------------------------------------------------------------------

# container, subtype, suffix
ENCODINGS = [
    ("WAV", "PCM_16", ".wav"),
    ("WAV", "PCM_U8", ".wav"),
    ("WAV", "PCM_24", ".wav"),
    ("WAV", "PCM_32", ".wav"),
    ("WAV", "FLOAT", ".wav"),
    ("WAV", "DOUBLE", ".wav"),
    ("WAV", "ULAW", ".wav"),
    ("WAV", "ALAW", ".wav"),
    ("WAV", "IMA_ADPCM", ".wav"),
    ("WAV", "MS_ADPCM", ".wav"),
    ("WAV", "GSM610", ".wav"),
    ("WAVEX", "PCM_16", ".wav"),
    ("FLAC", "PCM_16", ".flac"),
    ("FLAC", "PCM_24", ".flac"),
    ("OGG", "VORBIS", ".ogg"),
    ("OGG", "OPUS", ".opus"),
    ("MP3", "MPEG_LAYER_III", ".mp3"),
    ("AIFF", "PCM_16", ".aiff"),
    ("AIFF", "FLOAT", ".aiff"),
    ("AU", "PCM_16", ".au"),
    ("AU", "FLOAT", ".au"),
    ("CAF", "PCM_16", ".caf"),
    ("CAF", "ALAC_16", ".caf"),
    ("W64", "PCM_16", ".w64"),
    ("RF64", "PCM_16", ".rf64"),
    ("NIST", "PCM_16", ".nist"),
    ("VOC", "PCM_16", ".voc"),
    ("IRCAM", "PCM_16", ".sf"),
    ("MAT5", "DOUBLE", ".mat"),
    ("SVX", "PCM_16", ".8svx"),
    ("PAF", "PCM_16", ".paf"),
    ("XI", "DPCM_16", ".xi"),
    ("AVR", "PCM_16", ".avr"),
    ("HTK", "PCM_16", ".htk"),
]
RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000]

_OGG_CRC_TABLE = []
for _i in range(256):
    _crc = _i << 24
    for _ in range(8):
        _crc = ((_crc << 1) ^ 0x04C11DB7) if _crc & 0x80000000 else (_crc << 1)
    _OGG_CRC_TABLE.append(_crc & 0xFFFFFFFF)


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC_TABLE[((crc >> 24) ^ byte) & 0xFF]
    return crc


def _fixed_ogg_serial(data: bytes) -> bytes:
    """Ogg pages with a fixed stream serial number (libsndfile draws it at random), their
    checksums recomputed: the same signal then always encodes to the same bytes."""
    out = bytearray(data)
    pos = 0
    while pos + 27 <= len(out) and out[pos : pos + 4] == b"OggS":
        segments = out[pos + 26]
        size = 27 + segments + sum(out[pos + 27 : pos + 27 + segments])
        if pos + size > len(out):
            break
        out[pos + 14 : pos + 18] = struct.pack("<I", 0x454D4F56)  # "EMOV"
        out[pos + 22 : pos + 26] = b"\0\0\0\0"
        out[pos + 22 : pos + 26] = struct.pack("<I", _ogg_crc(bytes(out[pos : pos + size])))
        pos += size
    return bytes(out)


def pick(rng: np.random.Generator, options: Any) -> Any:
    """One of ``options``, as it is (``rng.choice`` would turn it into a NumPy value)."""
    return options[int(rng.integers(len(options)))]


def _signal(rng: np.random.Generator, rate: int, seconds: float, channels: int) -> np.ndarray:
    """A voiced-sounding tone with noise, float32 (frames, channels) peaking near 0.5."""
    t = np.arange(max(1, round(rate * seconds))) / rate
    f0 = rng.uniform(90, 300)
    tone = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 6))
    tone = 0.4 * tone / max(1e-9, float(np.max(np.abs(tone))))
    out = np.stack([tone + 0.02 * rng.standard_normal(t.size) for _ in range(channels)], axis=1)
    return out.astype(np.float32)


def encode(signal: np.ndarray, rate: int, container: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, rate, format=container, subtype=subtype)
    data = buffer.getvalue()
    if container == "OGG":
        return _fixed_ogg_serial(data)
    return _fixed_peak_time(data) if container in ("WAV", "WAVEX", "RF64") else data


def _fixed_peak_time(data: bytes) -> bytes:
    """Zero the timestamp libsndfile writes into a WAV PEAK chunk (float subtypes), so that
    the same case gives the same bytes in any second."""
    at = data.find(b"PEAK", 12)
    if at < 0 or len(data) < at + 16:
        return data
    # PEAK: id, size (4), version (4), timestamp (4), then per-channel values.
    return data[: at + 12] + b"\x00\x00\x00\x00" + data[at + 16 :]


def _valid_file(
    rng: np.random.Generator, *, seconds: float | None = None, signal: np.ndarray | None = None
) -> tuple[bytes, str, str]:
    """A well-formed file in a random encoding: (bytes, suffix, description). Encodings
    that refuse the rate or channel count drawn fall back to 16-bit WAV."""
    container, subtype, suffix = ENCODINGS[rng.integers(len(ENCODINGS))]
    rate = int(pick(rng, RATES))
    channels = int(pick(rng, [1, 1, 1, 2, 2, 3, 6]))
    if signal is None:
        seconds = float(pick(rng, [0.3, 0.8, 1.5, 3.0])) if seconds is None else seconds
        signal = _signal(rng, rate, seconds, channels)
    try:
        data = encode(signal, rate, container, subtype)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        container, subtype, suffix = "WAV", "PCM_16", ".wav"
        data = encode(signal, rate, container, subtype)
    what = f"{container}/{subtype} {rate} Hz x{signal.shape[1]} {signal.shape[0] / rate:.2f} s"
    return data, suffix, what


# --- hand-built headers -----------------------------------------------------------------------


def _u32(value: int) -> bytes:
    return struct.pack("<I", value & 0xFFFFFFFF)


def riff_wave(
    *,
    rate: int = 16000,
    channels: int = 1,
    bits: int = 16,
    tag: int = 1,
    payload: bytes = b"",
    data_size: int | None = None,
    fmt_size: int = 16,
    riff_size: int | None = None,
    extra: bytes = b"",
    extra_first: bool = True,
    extensible_tag: int | None = None,
) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack(
        "<HHII",
        tag & 0xFFFF,
        channels & 0xFFFF,
        rate & 0xFFFFFFFF,
        (rate * block) & 0xFFFFFFFF,
    ) + struct.pack("<HH", block & 0xFFFF, bits & 0xFFFF)
    if extensible_tag is not None:  # WAVE_FORMAT_EXTENSIBLE: cbSize, bits, mask, GUID
        guid = struct.pack("<H", extensible_tag) + bytes.fromhex("000000001000800000aa00389b71")
        fmt += struct.pack("<HHI", 22, bits & 0xFFFF, 3) + guid
    if fmt_size < len(fmt):  # a short fmt chunk: cut
        fmt = fmt[:fmt_size]
    elif fmt_size > len(fmt):  # a longer one: a little padding, and maybe a lie
        fmt = fmt.ljust(min(fmt_size, len(fmt) + 24), b"\0")
    fmt_chunk = b"fmt " + _u32(fmt_size) + fmt
    data_chunk = b"data" + _u32(len(payload) if data_size is None else data_size) + payload
    chunks = extra + fmt_chunk + data_chunk if extra_first else fmt_chunk + data_chunk + extra
    body = b"WAVE" + chunks
    return b"RIFF" + _u32(len(body) if riff_size is None else riff_size) + body


def _pcm_payload(rng: np.random.Generator, frames: int, channels: int, bits: int) -> bytes:
    width = max(1, min(bits, 64) // 8) if bits > 0 else 2
    size = max(0, min(frames * max(channels, 1) * width, 400_000))
    return rng.integers(-2000, 2000, size // 2 + 1).astype("<i2").tobytes()[:size]


def _ieee_extended(value: float) -> bytes:
    """An 80-bit IEEE extended float, big-endian, as AIFF stores its sample rate."""
    if value != value:  # NaN
        return b"\x7f\xff\xc0" + bytes(7)
    sign = 0x8000 if value < 0 else 0
    value = abs(value)
    if value == float("inf"):
        return struct.pack(">HQ", sign | 0x7FFF, 1 << 63)
    if value == 0:
        return struct.pack(">HQ", sign, 0)
    mantissa, exponent = np.frexp(value)
    return struct.pack(">HQ", sign | (int(exponent) + 16382) & 0x7FFF, int(mantissa * 2**64))


def aiff(
    *, channels: int, frames: int, bits: int, rate_bytes: bytes, payload: bytes, form: bytes
) -> bytes:
    comm = struct.pack(">hIh", channels & 0x7FFF, frames & 0xFFFFFFFF, bits & 0x7FFF)
    comm_chunk = b"COMM" + struct.pack(">I", 18) + comm + rate_bytes
    ssnd = b"SSND" + struct.pack(">III", len(payload) + 8, 0, 0) + payload
    body = b"AIFF" + comm_chunk + ssnd
    return form + struct.pack(">I", len(body)) + body


def au(*, encoding: int, rate: int, channels: int, data_size: int, payload: bytes) -> bytes:
    header = struct.pack(
        ">4sIIIII",
        b".snd",
        24,
        data_size & 0xFFFFFFFF,
        encoding & 0xFFFFFFFF,
        rate & 0xFFFFFFFF,
        channels & 0xFFFFFFFF,
    )
    return header + payload


def _flac_streaminfo(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """A valid FLAC file with STREAMINFO fields replaced by odd values."""
    info = bytearray(data[8:42])  # after "fLaC" and the 4-byte block header
    bits = int.from_bytes(info, "big")  # 272 bits: layout from the FLAC format spec

    def put(value: int, offset: int, width: int) -> None:
        nonlocal bits
        shift = 272 - offset - width
        mask = ((1 << width) - 1) << shift
        bits = (bits & ~mask) | ((value & ((1 << width) - 1)) << shift)

    fields = {
        "min_block": (0, 16, [0, 1, 15, 65535]),
        "max_block": (16, 16, [0, 1, 16, 65535]),
        "min_frame": (32, 24, [0, 1, 2**24 - 1]),
        "max_frame": (56, 24, [0, 1, 2**24 - 1]),
        "rate": (80, 20, [0, 1, 999, 655350, 2**20 - 1]),
        "channels-1": (100, 3, [1, 7]),
        "bits-1": (103, 5, [0, 2, 31]),
        "total_samples": (108, 36, [0, 1, 2**36 - 1, 2**35]),
    }
    chosen = rng.choice(list(fields), size=int(rng.integers(1, 3)), replace=False)
    changes = []
    for name in chosen:
        offset, width, values = fields[name]
        value = int(pick(rng, values))
        put(value, offset, width)
        changes.append(f"{name}={value}")
    patched = bytes(data[:8]) + bits.to_bytes(34, "big") + bytes(data[42:])
    return patched, "FLAC STREAMINFO " + ", ".join(changes)


# --- families ---------------------------------------------------------------------------------

ODD_RATES = [0, 1, 7, 999, 1000, 4000, 8000, 16000, 44100, 768000, 768001, 2**31 - 1, 2**32 - 1]
ODD_CHANNELS = [0, 1, 2, 3, 17, 255, 1024, 1025, 65535]
ODD_BITS = [0, 1, 4, 7, 8, 12, 16, 20, 24, 32, 48, 64, 255, 65535]
ODD_TAGS = [0, 1, 2, 3, 6, 7, 0x11, 0x31, 0x55, 99, 0xFFFE, 0xFFFF]
ODD_SIZES = [0, 1, 2, 3, 43, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF]
ODD_NUMBERS: list[Any] = [
    0,
    -1,
    1,
    0.5,
    -0.0,
    1e-9,
    3.0,
    1e9,
    10**30,
    2**63,
    float("nan"),
    float("inf"),
    -float("inf"),
    "1",
    "16000",
    b"1",
    None,
    True,
    False,
    [1],
    (1,),
    {"a": 1},
    np.int64(3),
    np.float32(0.25),
    np.float64("nan"),
    complex(1, 0),
    Fraction(1, 2),
    Decimal("1.5"),
]
ODD_SAMPLE_RATES: list[Any] = [
    None,
    0,
    -16000,
    1,
    999,
    1000,
    8000,
    16000,
    16000.0,
    16000.5,
    44100,
    768000,
    768001,
    10**12,
    2**64,
    "16000",
    b"16000",
    True,
    np.int64(16000),
    np.float32(22050),
    float("nan"),
    float("inf"),
    [16000],
]
ODD_CLASSES: list[Any] = [
    None,
    ["anger"],
    ["anger", "happy", "sad", "neutral"],
    "anger",
    "anger,happy",
    [],
    ["nope"],
    ["anger", "anger"],
    [5],
    ("happy", "sad"),
    {"anger": 1},
    [None],
    [""],
]
MAGICS = [
    b"RIFF",
    b"RIFF\xff\xff\xff\xffWAVE",
    b"RIFF\x24\x00\x00\x00WAVEfmt ",
    b"RF64\xff\xff\xff\xffWAVEds64",
    b"fLaC",
    b"fLaC\x00\x00\x00\x22",
    b"OggS",
    b"OggS\x00\x02",
    b"ID3\x03\x00\x00\x00\x00\x00\x00",
    b"\xff\xfb\x90\x64",
    b"FORM\x00\x00\x10\x00AIFF",
    b"FORM\x00\x00\x10\x00AIFC",
    b".snd",
    b"caff\x00\x01\x00\x00",
    b"riff\x2e\x91\xcf\x11",  # W64
    b"NIST_1A\n   1024\n",
    b"Creative Voice File\x1a",
    b"",
]
SPECIALS = [
    "missing",
    "folder",
    "devnull",
    "empty-name",
    "nul-name",
    "long-name",
    "dangling-link",
    "link-loop",
    "fifo",
    "stdin",
    "stdin-empty",
    "dev-zero",
    "dash-file",
]
CLI_SPECIALS = ("missing", "folder", "devnull", "stdin", "stdin-empty")


def _valid(case: Case, rng: np.random.Generator) -> None:
    case.data, case.suffix, case.what = _valid_file(rng)
    case.kind = "file" if rng.random() < 0.5 else "bytes"
    if rng.random() < 0.25:  # and a part of it
        case.load_kwargs = {"offset": float(pick(rng, [0.0, 0.1, 0.5, 2.9])), "duration": 0.5}
        case.what += f", offset {case.load_kwargs['offset']} s, duration 0.5 s"


def _wav_fields(case: Case, rng: np.random.Generator) -> None:
    rate = int(pick(rng, ODD_RATES)) if rng.random() < 0.6 else 16000
    channels = int(pick(rng, ODD_CHANNELS)) if rng.random() < 0.5 else 1
    bits = int(pick(rng, ODD_BITS)) if rng.random() < 0.5 else 16
    tag = int(pick(rng, ODD_TAGS)) if rng.random() < 0.5 else 1
    frames = int(pick(rng, [0, 1, 100, 8000, 24000]))
    payload = _pcm_payload(rng, frames, channels, bits)
    kwargs: dict[str, Any] = {"rate": rate, "channels": channels, "bits": bits, "tag": tag}
    if rng.random() < 0.3:
        kwargs["data_size"] = int(pick(rng, ODD_SIZES))
    if rng.random() < 0.2:
        kwargs["fmt_size"] = int(pick(rng, [0, 2, 14, 18, 40, 1000, 0xFFFFFFFF]))
    if rng.random() < 0.2:
        kwargs["riff_size"] = int(pick(rng, ODD_SIZES))
    if rng.random() < 0.2:
        kwargs["extensible_tag"] = int(pick(rng, [1, 3, 0x55, 0xFFFF]))
        kwargs["tag"] = 0xFFFE
    if rng.random() < 0.3:
        chunk_id = [b"LIST", b"fact", b"JUNK", b"fmt ", b"data", b"\0\0\0\0"][rng.integers(6)]
        size = int(pick(rng, [0, 4, 5, 0xFFFFFFFF, 0x7FFFFFFF]))
        kwargs["extra"] = chunk_id + _u32(size) + rng.bytes(int(rng.integers(0, 64)))
        kwargs["extra_first"] = bool(rng.random() < 0.7)
    case.data = riff_wave(payload=payload, **kwargs)
    shown = {k: v for k, v in kwargs.items() if k != "extra"}
    if "extra" in kwargs:
        shown["extra"] = kwargs["extra"][:4].decode("latin-1")
    case.what = f"RIFF/WAVE {shown}, {len(payload)} bytes of samples"
    case.kind = "file" if rng.random() < 0.3 else "bytes"
    if rng.random() < 0.2:
        case.load_kwargs = {"max_duration": None}
        case.what += ", max_duration=None"


def _declared_size(case: Case, rng: np.random.Generator) -> None:
    choice = int(rng.integers(5))
    payload = _pcm_payload(rng, int(pick(rng, [0, 10, 16000])), 1, 16)
    if choice == 0:  # WAV data size
        size = int(pick(rng, ODD_SIZES))
        case.data = riff_wave(payload=payload, data_size=size)
        case.what = f"WAV declaring {size} data bytes, holding {len(payload)}"
    elif choice == 1:  # RF64 with a ds64 chunk
        data_size = int(pick(rng, [0, 1, len(payload), 2**32, 2**40, 2**62, 2**64 - 1]))
        frames = int(pick(rng, [0, 1, data_size // 2, 2**63 - 1, 2**64 - 1]))
        ds64 = struct.pack("<QQQI", (36 + data_size) % 2**64, data_size % 2**64, frames, 0)
        fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
        body = b"WAVE" + b"ds64" + _u32(28) + ds64 + b"fmt " + _u32(16) + fmt
        body += b"data" + _u32(0xFFFFFFFF) + payload
        case.data = b"RF64" + _u32(0xFFFFFFFF) + body
        case.suffix = ".rf64"
        case.what = f"RF64 ds64 data size {data_size}, {frames} frames, holding {len(payload)}"
    elif choice == 2:  # AIFF COMM
        frames = int(pick(rng, [0, 1, 16000, 0x7FFFFFFF, 0xFFFFFFFF]))
        channels = int(pick(rng, [0, 1, 2, 1000, 0x7FFF]))
        bits = int(pick(rng, [0, 1, 8, 16, 24, 32, 33, 0x7FFF]))
        rate = pick(rng, [0.0, 1.0, 16000.0, 1e10, 1e300, -16000.0, float("inf"), float("nan")])
        rate_bytes = _ieee_extended(float(rate)) if rng.random() < 0.85 else rng.bytes(10)
        case.data = aiff(
            channels=channels,
            frames=frames,
            bits=bits,
            rate_bytes=rate_bytes,
            payload=payload,
            form=b"FORM",
        )
        case.suffix = ".aiff"
        case.what = f"AIFF COMM {channels} ch, {frames} frames, {bits} bits, rate {rate}"
    elif choice == 3:  # AU
        encoding = int(pick(rng, [0, 1, 2, 3, 4, 5, 6, 7, 23, 27, 99, 0xFFFFFFFF]))
        rate = int(pick(rng, ODD_RATES))
        channels = int(pick(rng, ODD_CHANNELS))
        size = int(pick(rng, [*ODD_SIZES, len(payload)]))
        case.data = au(
            encoding=encoding, rate=rate, channels=channels, data_size=size, payload=payload
        )
        case.suffix = ".au"
        case.what = f"AU encoding {encoding}, {rate} Hz, {channels} ch, declaring {size} bytes"
    else:  # FLAC STREAMINFO
        flac = encode(_signal(rng, 16000, 1.0, 1), 16000, "FLAC", "PCM_16")
        case.data, case.what = _flac_streaminfo(flac, rng)
        case.suffix = ".flac"
    case.kind = "file" if rng.random() < 0.3 else "bytes"
    if rng.random() < 0.3:
        case.load_kwargs = {"max_duration": None}
        case.what += ", max_duration=None"


def _truncated(case: Case, rng: np.random.Generator) -> None:
    data, case.suffix, what = _valid_file(rng)
    mode = int(rng.integers(4))
    if mode == 0:
        cut = int(rng.integers(1, min(len(data), 80)))
    elif mode == 1:
        cut = int(rng.integers(1, len(data)))
    elif mode == 2:
        cut = len(data) - int(rng.integers(1, min(len(data), 64)))
    else:
        cut = min(len(data) - 1, int(pick(rng, [4, 8, 12, 36, 40, 44, 46, 58, 512, 4096])))
    case.data = data[:cut]
    case.what = f"{what}, cut to {cut} of {len(data)} bytes"
    case.kind = "file" if rng.random() < 0.4 else "bytes"


def _mutated(case: Case, rng: np.random.Generator) -> None:
    data, case.suffix, what = _valid_file(rng, seconds=float(pick(rng, [0.5, 1.0])))
    out = bytearray(data)
    mode = int(rng.integers(4))
    if mode == 0:  # overwrite a few bytes, mostly in the header
        count = int(pick(rng, [1, 2, 4, 8, 32]))
        for _ in range(count):
            span = 128 if rng.random() < 0.7 else len(out)
            out[int(rng.integers(0, min(span, len(out))))] = int(rng.integers(256))
        change = f"{count} bytes overwritten"
    elif mode == 1:  # a 4-byte field (a size, a rate) set to an extreme
        offset = int(rng.integers(0, max(1, min(64, len(out) - 4)))) // 2 * 2
        value = int(pick(rng, [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]))
        out[offset : offset + 4] = _u32(value)
        change = f"bytes {offset}-{offset + 3} set to {value:#x}"
    elif mode == 2:  # a block inserted
        offset = int(rng.integers(0, len(out)))
        block = rng.bytes(int(rng.integers(1, 256)))
        out[offset:offset] = block
        change = f"{len(block)} random bytes inserted at {offset}"
    else:  # a block removed
        offset = int(rng.integers(0, len(out) - 1))
        size = int(rng.integers(1, min(512, len(out) - offset) + 1))
        del out[offset : offset + size]
        change = f"{size} bytes removed at {offset}"
    case.data = bytes(out)
    case.what = f"{what}, {change}"
    case.kind = "file" if rng.random() < 0.3 else "bytes"


def _magic_random(case: Case, rng: np.random.Generator) -> None:
    magic = MAGICS[rng.integers(len(MAGICS))]
    size = int(pick(rng, [0, 1, 16, 100, 1000, 10_000, 100_000]))
    case.data = magic + rng.bytes(size)
    case.suffix = str(pick(rng, [".wav", ".flac", ".ogg", ".mp3", ".aiff", ".bin", ""]))
    case.what = f"{magic[:12]!r} + {size} random bytes"
    case.kind = "file" if rng.random() < 0.4 else "bytes"


def _extreme_content(rng: np.random.Generator, frames: int) -> tuple[np.ndarray, str]:
    base = _signal(rng, 16000, frames / 16000, 1)[:, 0].astype(np.float64)
    kind = str(
        pick(
            rng,
            [
                "x50",
                "x1e30",
                "int16-values",
                "int24-values",
                "nan",
                "inf",
                "-inf",
                "denormal",
                "zeros",
                "dc",
                "square",
                "spike",
                "quiet",
                "x1.4",
            ],
        )
    )
    if kind == "x50":
        values = base * 125
    elif kind == "x1e30":
        values = base * 1e30
    elif kind == "int16-values":
        values = np.round(base * 65534)
    elif kind == "int24-values":
        values = np.round(base * 2**23)
    elif kind in ("nan", "inf", "-inf"):
        values = base.copy()
        values[int(rng.integers(frames))] = float(kind)
    elif kind == "denormal":
        values = base * 1e-40
    elif kind == "zeros":
        values = np.zeros(frames)
    elif kind == "dc":
        values = np.ones(frames)
    elif kind == "square":
        values = np.where(np.arange(frames) % 40 < 20, 1.0, -1.0)
    elif kind == "spike":
        values = np.zeros(frames)
        values[frames // 2] = 1.0
    elif kind == "quiet":
        values = base * 2e-4
    else:
        values = base * 3.5
    return values, kind


def _extreme_values(case: Case, rng: np.random.Generator) -> None:
    frames = int(pick(rng, [4000, 16000, 48000]))
    values, kind = _extreme_content(rng, frames)
    if rng.random() < 0.5:
        subtype = str(pick(rng, ["FLOAT", "DOUBLE"]))
        case.data = encode(values[:, None], 16000, "WAV", subtype)
        case.kind = "bytes" if rng.random() < 0.5 else "file"
        case.what = f"WAV/{subtype} holding {kind}, {frames} frames"
    else:
        dtype = np.dtype(str(pick(rng, ["float32", "float64"])))
        with np.errstate(over="ignore"):
            case.value = values.astype(dtype)
        case.kind = "array"
        case.load_kwargs = {"sample_rate": 16000}
        case.predict_kwargs = {"sample_rate": 16000}
        case.what = f"{dtype} array holding {kind}, {frames} samples"


ARRAY_DTYPES = [
    "float16",
    "float32",
    "float64",
    "longdouble",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint64",
    "bool",
    "complex64",
    "object",
    "str",
    "datetime64[s]",
]


def _array(case: Case, rng: np.random.Generator) -> None:
    dtype = str(pick(rng, ARRAY_DTYPES))
    rate = pick(rng, ODD_SAMPLE_RATES) if rng.random() < 0.4 else 16000
    frames = int(pick(rng, [0, 1, 100, 4000, 16000, 48000]))
    shape_kind = str(pick(rng, ["1d", "1d", "frames-ch", "ch-frames", "0d", "3d", "square"]))
    channels = int(pick(rng, [1, 2, 6, 16, 17, 40]))
    if shape_kind in ("frames-ch", "ch-frames"):
        frames = min(frames, 400_000 // channels)  # small enough to pass around quickly
    shape: tuple[int, ...] = {
        "1d": (frames,),
        "frames-ch": (frames, channels),
        "ch-frames": (channels, frames),
        "0d": (),
        "3d": (2, 2, max(1, frames // 4)),
        "square": (int(pick(rng, [2, 17, 300])),) * 2,
    }[shape_kind]
    size = int(np.prod(shape)) if shape else 1
    base = rng.standard_normal(size) * float(pick(rng, [0.1, 0.5, 3.0]))
    if dtype.startswith("float") or dtype == "longdouble":
        values = base.astype(dtype)
    elif dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        scale = float(pick(rng, [1.0, 100.0, 30000.0, float(info.max) / 4]))
        values = np.clip(np.round(base * scale), info.min, info.max).astype(dtype)
    elif dtype == "bool":
        values = base > 0
    elif dtype == "complex64":
        values = (base + 1j * base).astype(np.complex64)
    elif dtype == "object":
        values = base.astype(object)
    elif dtype == "str":
        values = base.astype(str)
    else:
        values = base.astype("int64").astype(dtype)
    case.value = values.reshape(shape) if shape else values[0] if values.size else values
    if not isinstance(case.value, np.ndarray):
        case.value = np.asarray(case.value)
    case.kind = "array"
    case.load_kwargs = {} if rate is None else {"sample_rate": rate}
    case.predict_kwargs = dict(case.load_kwargs)
    case.what = f"{dtype} array of shape {case.value.shape}, sample_rate={rate!r}"


def _api_params(case: Case, rng: np.random.Generator) -> None:
    signal = _signal(rng, 16000, 1.0, 1)[:, 0]
    if rng.random() < 0.5:
        case.kind, case.value = "array", signal
        base = {"sample_rate": 16000}
    else:
        case.kind, case.data, base = "bytes", encode(signal[:, None], 16000, "WAV", "PCM_16"), {}
    names = ["sample_rate", "target_rate", "offset", "duration", "min_duration"]
    names += ["max_duration", "allow_silence"]
    chosen = rng.choice(names, size=int(rng.integers(1, 3)), replace=False)
    load_kwargs = dict(base)
    for name in chosen:
        pool = ODD_SAMPLE_RATES if name in ("sample_rate", "target_rate") else ODD_NUMBERS
        load_kwargs[str(name)] = pool[rng.integers(len(pool))]
    case.load_kwargs = load_kwargs
    predict_kwargs = dict(base)
    if "sample_rate" in load_kwargs:
        predict_kwargs["sample_rate"] = load_kwargs["sample_rate"]
    if rng.random() < 0.5:
        predict_kwargs["classes"] = ODD_CLASSES[rng.integers(len(ODD_CLASSES))]
    case.predict_kwargs = predict_kwargs
    case.what = f"{case.kind} tone, load_audio{load_kwargs}, predict{predict_kwargs}"


def _paths(case: Case, rng: np.random.Generator) -> None:
    case.kind = "special"
    case.special = SPECIALS[rng.integers(len(SPECIALS))]
    if rng.random() < 0.5:
        case.data, case.suffix, what = _valid_file(rng)
    else:
        case.data, what = rng.bytes(int(pick(rng, [10, 1000]))), "random bytes"
    case.what = f"{case.special} path" + (
        f" ({what})" if case.special in ("fifo", "stdin", "dash-file") else ""
    )


def _source_types(case: Case, rng: np.random.Generator) -> None:
    objects: list[Any] = [
        [0.1, 0.2] * 4000,
        (0.1,) * 8000,
        {"audio": [0.1]},
        42,
        4.2,
        None,
        True,
        b"",
        bytearray(b"RIFF"),
        np.float32(0.5),
        Fraction(1, 3),
        np.zeros(8000).tolist(),
    ]
    case.kind = "object"
    case.value = objects[rng.integers(len(objects))]
    if rng.random() < 0.5:
        case.load_kwargs = case.predict_kwargs = {"sample_rate": 16000}
    case.what = f"a {type(case.value).__name__} as the source"


_MAKERS = {
    "valid": _valid,
    "wav-fields": _wav_fields,
    "declared-size": _declared_size,
    "truncated": _truncated,
    "mutated": _mutated,
    "magic-random": _magic_random,
    "extreme-values": _extreme_values,
    "array": _array,
    "api-params": _api_params,
    "paths": _paths,
    "source-types": _source_types,
}


def generate_case(seed: int, index: int) -> Case:
    """Case ``index`` of ``seed``: the same whatever else is generated."""
    rng = np.random.default_rng([seed, index])
    names = list(FAMILIES)
    weights = np.array([FAMILIES[n] for n in names], dtype=float)
    family = names[rng.choice(len(names), p=weights / weights.sum())]
    case = Case(seed=seed, index=index, family=family, what="", kind="bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # building odd values is not what is tested
        _MAKERS[family](case, rng)
    return case


def generate_cases(count: int, seed: int = 0) -> list[Case]:
    return [generate_case(seed, index) for index in range(count)]


# --- running one case ---------------------------------------------------------------------------


@dataclass
class Result:
    case: str  # seed:index
    family: str
    target: str
    outcome: str
    detail: str = ""
    seconds: float = 0.0
    audio_warning: bool = False
    other_warnings: tuple[str, ...] = ()
    memory_mb: float = 0.0

    @property
    def passed(self) -> bool:
        return self.outcome in PASSING


def _clear_message(message: str) -> bool:
    leaks = ("object at 0x", "<_io.", "Traceback", "<built-in", "<function")
    return (
        bool(message.strip())
        and "\n" not in message.strip()
        and len(message) < 1200
        and (not any(leak in message for leak in leaks))
    )


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _FakeStdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return False


def _feed_fifo(path: str, data: bytes) -> threading.Thread:
    def write() -> None:
        with contextlib.suppress(OSError), open(path, "wb") as f:
            f.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _release_fifo(path: str, writer: threading.Thread) -> None:
    """Unblock a writer whose reader never came (the call failed before opening it)."""
    if writer.is_alive():
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(2)


def selftest_case(behaviour: str, *, timeout: float | None = None) -> Case:
    """A case whose run misbehaves on purpose (``hang``, ``crash``, ``raise``, ``oom``), to
    show that the runner reports each as a failure rather than stalling or dying."""
    return Case(
        seed=-1,
        index=-1,
        family="selftest",
        what=f"a run that does {behaviour}",
        kind="selftest",
        special=behaviour,
        timeout=timeout,
    )


def _misbehave(behaviour: str) -> None:
    if behaviour == "hang":
        time.sleep(3600)
    elif behaviour == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif behaviour == "raise":
        raise KeyError("a bare KeyError")
    elif behaviour == "oom":
        raise MemoryError
    raise ValueError(f"unknown self-test behaviour {behaviour!r}")


@contextlib.contextmanager
def materialised(case: Case, folder: Path, *, for_cli: bool = False):
    """The source to pass for ``case``, with whatever it needs (a file, a FIFO and its
    writer, standard input) in place while it is used. For the CLI, yields
    ``(path argument, bytes for standard input or None)``."""
    if case.kind == "selftest":
        _misbehave(case.special)
    if case.kind == "bytes" and not for_cli:
        yield case.data
        return
    if case.kind in ("array", "object"):
        yield case.value
        return
    if case.kind in ("bytes", "file"):
        path = folder / f"case{case.index}{case.suffix}"
        path.write_bytes(case.data)
        try:
            yield (str(path), None) if for_cli else str(path)
        finally:
            path.unlink(missing_ok=True)
        return
    special = case.special
    stdin_data = case.data if special == "stdin" else b""
    if special in ("stdin", "stdin-empty"):
        if for_cli:
            yield "-", stdin_data
            return
        saved = sys.stdin
        sys.stdin = _FakeStdin(stdin_data)  # type: ignore[assignment]
        try:
            yield "-"
        finally:
            sys.stdin = saved
        return
    paths = {
        "missing": str(folder / "no such file.wav"),
        "folder": str(folder),
        "devnull": "/dev/null",
        "empty-name": "",
        "nul-name": "bad\0name.wav",
        "long-name": str(folder / ("x" * 5000 + ".wav")),
        "dev-zero": "/dev/zero",
    }
    if special in paths:
        path = paths[special]
        yield (path, None) if for_cli else path
        return
    if special == "dangling-link":
        link = folder / "dangling.wav"
        link.unlink(missing_ok=True)
        link.symlink_to(folder / "nowhere.wav")
        yield str(link)
        return
    if special == "link-loop":
        first, second = folder / "loop1.wav", folder / "loop2.wav"
        for link in (first, second):
            link.unlink(missing_ok=True)
        first.symlink_to(second)
        second.symlink_to(first)
        yield str(first)
        return
    if special == "dash-file":  # a file named "-" given by a path that is not "-"
        path = folder / "-"
        path.write_bytes(case.data)
        try:
            yield str(path)
        finally:
            path.unlink(missing_ok=True)
        return
    if special == "fifo":
        fifo = folder / f"case{case.index}.fifo"
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo)
        writer = _feed_fifo(str(fifo), case.data)
        try:
            yield str(fifo)
        finally:
            _release_fifo(str(fifo), writer)
            fifo.unlink(missing_ok=True)
        return
    raise ValueError(f"unknown special path {special!r}")


def _check_signal(signal: Any, kwargs: dict[str, Any]) -> str | None:
    """What is wrong with a signal load_audio returned, or None."""
    if not isinstance(signal, np.ndarray):
        return f"returned a {type(signal).__name__}, not an array"
    if signal.dtype != np.float32 or signal.ndim != 1 or signal.size == 0:
        return f"returned {signal.dtype} of shape {signal.shape}"
    if not np.all(np.isfinite(signal)):
        return "returned NaN or infinite samples"
    peak = float(np.max(np.abs(signal)))
    if peak > 4.0:
        return f"returned samples peaking at {peak:.3g}, not scaled as audio"
    return None


def _check_prediction(prediction: Any) -> str | None:
    try:
        probabilities = dict(prediction.probabilities)
        values = np.array(list(probabilities.values()), dtype=float)
        if prediction.label not in probabilities:
            return f"label {prediction.label!r} not among {list(probabilities)}"
        if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values > 1 + 1e-6):
            return f"probabilities out of range: {probabilities}"
        if abs(values.sum() - 1) > 1e-3:
            return f"probabilities sum to {values.sum():.4f}"
        if abs(prediction.confidence - probabilities[prediction.label]) > 1e-6:
            return "confidence is not the label's probability"
    except Exception as exc:  # a prediction without its fields is itself a finding
        return f"malformed prediction ({type(exc).__name__}: {exc})"
    return None


def _status_kib(name: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if name == "VmHWM" else 0.0


def _reset_peak_memory() -> None:
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux)


def run_in_process(case: Case, target: str, recognizer: Any, folder: Path) -> Result:
    """Run ``case`` through ``load_audio`` or ``recognizer.predict`` here."""
    from emovox.audio import AudioWarning, load_audio
    from emovox.errors import EmovoxError

    result = Result(case=case.name, family=case.family, target=target, outcome="accepted")
    rss_before = _status_kib("VmRSS")
    _reset_peak_memory()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with materialised(case, folder) as source:
                if target == "load_audio":
                    kwargs = case.load_kwargs
                    problem = _check_signal(load_audio(source, **kwargs), kwargs)
                else:
                    problem = _check_prediction(recognizer.predict(source, **case.predict_kwargs))
            if problem:
                result.outcome, result.detail = "invalid result", problem
        except EmovoxError as exc:
            message = str(exc)
            result.outcome = "clear error" if _clear_message(message) else "unclear error"
            result.detail = f"{type(exc).__name__}: {_short(message)}"
        except MemoryError:
            result.outcome, result.detail = "memory", "MemoryError"
        except Exception as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
            result.outcome = "traceback"
            result.detail = f"{type(exc).__name__}{where}: {_short(str(exc))}"
    result.seconds = time.perf_counter() - start
    result.memory_mb = max(0.0, (_status_kib("VmHWM") - rss_before) / 1024)
    result.audio_warning = any(issubclass(w.category, AudioWarning) for w in caught)
    result.other_warnings = tuple(
        sorted(
            {
                f"{w.category.__name__}: {_short(str(w.message), 120)}"
                for w in caught
                if not issubclass(w.category, AudioWarning)
            }
        )
    )
    return result


# --- the worker process -------------------------------------------------------------------------


def _worker(connection: Any, memory_mb: float) -> None:
    """Load the recognizer once, cap the address space, then run cases as asked."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    from emovox import Recognizer

    recognizer = Recognizer.load()
    baseline_kib = _status_kib("VmSize")
    if baseline_kib:  # a backstop for the shared machine; growth is judged from VmHWM
        limit = int((baseline_kib * 1024) + max(4 * 2**30, 4 * memory_mb * 2**20))
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with tempfile.TemporaryDirectory(prefix="emovox-fuzz-") as folder:
        connection.send("ready")
        while True:
            try:
                message = connection.recv()
            except (EOFError, OSError):
                return
            if message is None:
                return
            case, target = message
            result = run_in_process(case, target, recognizer, Path(folder))
            if result.memory_mb > memory_mb and result.outcome in PASSING:
                result.detail = f"peak memory grew by {result.memory_mb:.0f} MB; " + result.detail
                result.outcome = "memory"
            connection.send(result)


class Worker:
    """A worker process that runs one case at a time, replaced when it hangs or dies."""

    def __init__(self, *, timeout: float, memory_mb: float, start_timeout: float = 300.0):
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.start_timeout = start_timeout
        self.context = multiprocessing.get_context("spawn")
        self.process: Any = None
        self.connection: Any = None
        self.starts = 0

    def _start(self) -> None:
        parent, child = self.context.Pipe()
        self.process = self.context.Process(
            target=_worker, args=(child, self.memory_mb), daemon=True
        )
        self.connection = parent
        self.process.start()
        child.close()
        self.starts += 1
        try:
            ready = parent.poll(self.start_timeout) and parent.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            code = self.process.exitcode
            self._kill()
            raise RuntimeError(f"the fuzz worker did not start (exit code {code})")

    def stop(self) -> None:
        if self.process is not None and self.process.pid is not None:
            with contextlib.suppress(Exception):
                self.connection.send(None)
            self.process.join(2)
        self._kill()

    def _kill(self) -> None:
        if self.process is not None and self.process.pid is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
        self.process = self.connection = None

    def run(self, case: Case, target: str) -> Result:
        if self.process is None or not self.process.is_alive():
            self._start()
        timeout = case.timeout or self.timeout
        start = time.perf_counter()
        try:
            self.connection.send((case, target))
            if self.connection.poll(timeout):
                return self.connection.recv()  # EOFError when the worker died instead
        except (EOFError, OSError):
            pass
        elapsed = time.perf_counter() - start
        process = self.process
        if process.is_alive() and elapsed >= timeout:
            self._kill()
            return Result(case.name, case.family, target, "hang", f"over {timeout:g} s")
        process.join(5)
        code = process.exitcode
        self._kill()
        if code is not None and code < 0:
            detail = f"killed by {signal.Signals(-code).name}"
        else:
            detail = f"exited with code {code}"
        return Result(case.name, case.family, target, "crash", detail, seconds=elapsed)


# --- the CLI ----------------------------------------------------------------------------

_CLI_WRAPPER = """
import atexit, os, resource, runpy, sys
def _peak():
    with open(os.environ["EMOVOX_FUZZ_PEAK"], "w") as f:
        f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
atexit.register(_peak)
sys.argv = ["emovox", *sys.argv[1:]]
runpy.run_module("emovox", run_name="__main__", alter_sys=True)
"""


def run_cli(case: Case, folder: Path, *, timeout: float, memory_mb: float) -> Result:
    """Run ``emovox predict PATH --json`` (or ``-`` with standard input) in a new process."""
    result = Result(case=case.name, family=case.family, target="cli", outcome="accepted")
    peak_file = folder / f"peak{case.index}"
    env = dict(os.environ, EMOVOX_FUZZ_PEAK=str(peak_file))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(name, "1")
    start = time.perf_counter()
    with materialised(case, folder, for_cli=True) as (argument, stdin_data):
        command = [sys.executable, "-c", _CLI_WRAPPER, "predict", argument, "--json"]
        try:
            done = subprocess.run(
                command,
                input=stdin_data if stdin_data is not None else b"",
                capture_output=True,
                timeout=timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            result.outcome, result.detail = "hang", f"over {timeout:g} s"
            result.seconds = time.perf_counter() - start
            return result
    result.seconds = time.perf_counter() - start
    stdout = done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    with contextlib.suppress(OSError, ValueError):
        result.memory_mb = float(peak_file.read_text()) / 1024
        peak_file.unlink()
    if "Traceback" in stderr:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        result.outcome, result.detail = "traceback", _short(lines[-1] if lines else stderr)
    elif done.returncode < 0:
        result.outcome = "crash"
        result.detail = f"killed by {signal.Signals(-done.returncode).name}"
    elif done.returncode == 0:
        try:
            answers = json.loads(stdout)
            label = answers[0]["label"]
            result.detail = f"label {label}"
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            result.outcome = "invalid result"
            result.detail = f"exit 0 without a prediction in JSON ({exc}): {_short(stdout)}"
    elif done.returncode in (1, 2):
        message = stderr.strip()
        if done.returncode == 1:  # --json: the failure is in the JSON output
            with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
                message = str(json.loads(stdout)[0]["error"])
        message = " ".join(message.split()).removeprefix("error:").strip()  # rich wraps
        result.outcome = "clear error" if _clear_message(message) else "unclear error"
        result.detail = f"exit {done.returncode}: {_short(message)}"
    else:
        result.outcome = "traceback"
        result.detail = f"exit {done.returncode}: {_short(stderr or stdout)}"
    if result.outcome in PASSING and result.memory_mb > memory_mb:
        result.detail = f"peak RSS {result.memory_mb:.0f} MB; " + result.detail
        result.outcome = "memory"
    return result


# --- the run ----------------------------------------------------------------------------


def cli_subset(cases: list[Case], count: int) -> list[Case]:
    """``count`` cases for the CLI: a quarter (at least one) of odd paths and standard
    input where there are some, the rest spread evenly over the files and bytes."""
    if count <= 0:
        return []
    specials = [case for case in cases if case.cli_ready and case.kind == "special"]
    files = [case for case in cases if case.cli_ready and case.kind != "special"]
    chosen = specials[: max(1, count // 4)]
    rest = count - len(chosen)
    step = max(1, len(files) // rest) if rest else 1
    return chosen + files[::step][:rest]


def run_cases(
    cases: list[Case],
    *,
    cli_cases: int = 0,
    timeout: float = 20.0,
    cli_timeout: float = 60.0,
    memory_mb: float = 1024.0,
    cli_memory_mb: float = 3072.0,
    progress: Any = None,
) -> list[Result]:
    """Run every case through load_audio and predict (in a worker process), and
    ``cli_cases`` of them, spread over the families that the CLI can take, through the
    CLI. ``progress(done, total)`` is called after each case when given."""
    results: list[Result] = []
    worker = Worker(timeout=timeout, memory_mb=memory_mb)
    through_cli = {id(case) for case in cli_subset(cases, cli_cases)}
    try:
        with tempfile.TemporaryDirectory(prefix="emovox-fuzz-cli-") as folder:
            for done, case in enumerate(cases, 1):
                for target in ("load_audio", "predict"):
                    results.append(worker.run(case, target))
                if id(case) in through_cli:
                    results.append(
                        run_cli(case, Path(folder), timeout=cli_timeout, memory_mb=cli_memory_mb)
                    )
                if progress is not None:
                    progress(done, len(cases))
    finally:
        worker.stop()
    return results


def outcome_table(results: list[Result]) -> list[list[str]]:
    """Rows of target, runs, then a count per outcome, then runs with an AudioWarning."""
    rows = []
    for target in TARGETS:
        mine = [r for r in results if r.target == target]
        if not mine:
            continue
        counts = Counter(r.outcome for r in mine)
        # predict and the CLI report these notes in Prediction.warnings, not as warnings
        warned = str(sum(r.audio_warning for r in mine)) if target == "load_audio" else "n/a"
        rows.append([target, str(len(mine)), *(str(counts[o]) for o in OUTCOMES), warned])
    return rows


def failures(results: list[Result]) -> list[Result]:
    return [r for r in results if not r.passed]
