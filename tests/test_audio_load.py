"""The one audio loader: formats, rates, layouts, and every bad input's message."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import emovox.audio.load as load_module
from conftest import make_tone, write_tone
from emovox.audio import MAX_DURATION, SAMPLE_RATE, AudioWarning, load_audio, to_mono
from emovox.errors import AudioError, EmovoxError, ParameterError


def peak_hz(signal: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.argmax(spectrum) * sr / signal.size)


def can_write(format_: str, subtype: str | None = None) -> bool:
    if format_ not in sf.available_formats():
        return False
    return subtype is None or subtype in sf.available_subtypes(format_)


# --- formats and rates -------------------------------------------------------------------

FORMATS = [
    pytest.param("wav", id="wav"),
    pytest.param("flac", id="flac"),
    pytest.param("ogg", id="ogg-vorbis"),
    pytest.param("aiff", id="aiff"),
    pytest.param(
        "mp3",
        id="mp3",
        marks=pytest.mark.skipif(not can_write("MP3"), reason="libsndfile here lacks MP3"),
    ),
]


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000])
def test_formats_and_rates_become_mono_float32_at_16k(tmp_path: Path, ext: str, sr: int) -> None:
    path = write_tone(tmp_path / f"tone.{ext}", sr=sr, duration=1.0, freq=220.0)
    signal = load_audio(path)
    assert signal.dtype == np.float32
    assert signal.ndim == 1
    assert signal.shape == (SAMPLE_RATE,)
    assert abs(peak_hz(signal) - 220.0) < 2
    assert 0.2 < np.max(np.abs(signal)) < 0.5


def test_lossless_file_at_16k_is_read_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "tone.flac"
    sf.write(path, make_tone(), SAMPLE_RATE, subtype="PCM_24")
    np.testing.assert_allclose(load_audio(path), make_tone(), atol=1e-6)


def test_opus_in_ogg(tmp_path: Path) -> None:
    if not can_write("OGG", "OPUS"):
        pytest.skip("libsndfile here lacks Opus")
    path = tmp_path / "tone.ogg"
    sf.write(path, make_tone(sr=48000), 48000, format="OGG", subtype="OPUS")
    signal = load_audio(path)
    assert abs(signal.size - SAMPLE_RATE) <= 0.02 * SAMPLE_RATE
    assert abs(peak_hz(signal) - 220.0) < 2


@pytest.mark.parametrize(
    ("sr", "duration"), [(8000, 0.7), (22050, 0.7), (44100, 2.3), (48000, 0.3)]
)
def test_resampled_length_follows_duration(tmp_path: Path, sr: int, duration: float) -> None:
    path = write_tone(tmp_path / "t.wav", sr=sr, duration=duration)
    frames = sf.info(path).frames
    assert abs(load_audio(path).size - frames * SAMPLE_RATE / sr) <= 1


@pytest.mark.parametrize("sr", [8000, 22050])
def test_other_target_rates(tmp_path: Path, sr: int) -> None:
    path = write_tone(tmp_path / "t.wav", sr=44100, duration=1.0)
    signal = load_audio(path, target_rate=sr)
    assert signal.shape == (sr,) and signal.dtype == np.float32


def test_str_and_path_are_alike(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "t.wav")
    np.testing.assert_array_equal(load_audio(path), load_audio(str(path)))


# --- channels ------------------------------------------------------------------------------


def test_stereo_file_is_downmixed(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "st.wav", channels=2)
    mono = write_tone(tmp_path / "mono.wav")
    assert sf.info(path).channels == 2
    np.testing.assert_allclose(load_audio(path), load_audio(mono), atol=1e-6)


def test_stereo_file_with_different_channels_is_averaged(tmp_path: Path) -> None:
    tone = make_tone()
    path = tmp_path / "lr.wav"
    sf.write(path, np.stack([tone, np.zeros_like(tone)], axis=1), SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), tone / 2, atol=1e-6)


@pytest.mark.parametrize("layout", ["frames_channels", "channels_frames"])
def test_stereo_array_in_either_layout(layout: str) -> None:
    tone = make_tone()
    stereo = np.stack([tone, 0.5 * tone], axis=1)  # (frames, channels)
    if layout == "channels_frames":
        stereo = stereo.T
    signal = load_audio(stereo, sample_rate=SAMPLE_RATE)
    assert signal.shape == (SAMPLE_RATE,)
    np.testing.assert_allclose(signal, 0.75 * tone, atol=1e-6)


def test_six_channel_array_at_48k() -> None:
    tone = make_tone(sr=48000)
    signal = load_audio(np.stack([tone] * 6, axis=0), sample_rate=48000)
    assert signal.shape == (SAMPLE_RATE,)


def test_to_mono_refuses_three_dimensions() -> None:
    with pytest.raises(AudioError, match="1-D or 2-D"):
        to_mono(np.zeros((2, 2, 100)))
    with pytest.raises(AudioError, match="1-D or 2-D"):
        load_audio(np.ones((2, 2, 8000)), sample_rate=SAMPLE_RATE)


# --- arrays and bytes ----------------------------------------------------------------------


def test_int16_array_is_scaled_to_unit_range() -> None:
    tone = make_tone()
    ints = np.round(tone * 32767).astype(np.int16)
    signal = load_audio(ints, sample_rate=SAMPLE_RATE)
    assert signal.dtype == np.float32
    np.testing.assert_allclose(signal, tone, atol=1 / 32767)


def test_int32_and_float64_arrays() -> None:
    tone = make_tone()
    ints = np.round(tone * 2**31 * 0.99).astype(np.int32)
    np.testing.assert_allclose(load_audio(ints, sample_rate=SAMPLE_RATE), tone * 0.99, atol=1e-6)
    from_f64 = load_audio(tone.astype(np.float64), sample_rate=SAMPLE_RATE)
    assert from_f64.dtype == np.float32


def test_array_is_resampled_from_its_sample_rate() -> None:
    signal = load_audio(make_tone(sr=8000), sample_rate=8000)
    assert signal.shape == (SAMPLE_RATE,)
    assert abs(peak_hz(signal) - 220.0) < 2


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_bytes_and_bytearray(tmp_path: Path, ext: str) -> None:
    if ext == "mp3" and not can_write("MP3"):
        pytest.skip("libsndfile here lacks MP3")
    path = write_tone(tmp_path / f"t.{ext}", sr=44100)
    data = path.read_bytes()
    from_bytes = load_audio(data)
    np.testing.assert_array_equal(from_bytes, load_audio(path))
    np.testing.assert_array_equal(load_audio(bytearray(data)), from_bytes)


# --- options -------------------------------------------------------------------------------


def test_allow_silence_and_min_duration_options(tmp_path: Path) -> None:
    quiet = np.zeros(SAMPLE_RATE, dtype=np.float32)
    assert load_audio(quiet, sample_rate=SAMPLE_RATE, allow_silence=True).shape == (SAMPLE_RATE,)
    short = make_tone(duration=0.1)
    assert load_audio(short, sample_rate=SAMPLE_RATE, min_duration=0.05).shape == (1600,)
    with pytest.raises(AudioError, match=r"lasts 0\.10 s; at least 0\.50 s"):
        load_audio(short, sample_rate=SAMPLE_RATE, min_duration=0.5)


def test_max_duration_none_accepts_long_input() -> None:
    tone = make_tone(sr=8000, duration=3.0)
    assert load_audio(tone, sample_rate=8000, max_duration=None).shape == (48000,)
    with pytest.raises(AudioError, match="longer than the 2 s allowed"):
        load_audio(tone, sample_rate=8000, max_duration=2.0)


# --- bad input -----------------------------------------------------------------------------


def test_errors_are_emovox_errors() -> None:
    assert issubclass(AudioError, EmovoxError)


def test_text_file_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio, just some words\n" * 20)
    with pytest.raises(AudioError, match=r"Cannot decode '.*notes\.wav' as audio") as info:
        load_audio(path)
    assert "Supported formats" in str(info.value)


def test_garbage_bytes() -> None:
    with pytest.raises(AudioError, match="Cannot decode the 450 bytes given as audio"):
        load_audio(b"\x00\x01garbage" * 50)


def test_zero_length_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.touch()
    with pytest.raises(AudioError, match=r"empty \(0 bytes\)"):
        load_audio(path)


def test_zero_length_bytes_and_array() -> None:
    with pytest.raises(AudioError, match=r"empty \(0 bytes\)"):
        load_audio(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(np.zeros(0, dtype=np.float32), sample_rate=SAMPLE_RATE)


def test_wav_header_without_samples(tmp_path: Path) -> None:
    path = tmp_path / "header.wav"
    sf.write(path, np.zeros((0, 1), dtype=np.float32), SAMPLE_RATE)
    assert path.stat().st_size > 0
    with pytest.raises(AudioError, match="holds no audio samples"):
        load_audio(path)


def test_too_short_file(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "short.wav", duration=0.1)
    with pytest.raises(AudioError, match=r"lasts 0\.10 s; at least 0\.25 s") as info:
        load_audio(path)
    assert "short.wav" in str(info.value)


def test_too_short_at_another_rate(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "short.flac", sr=44100, duration=0.2)
    with pytest.raises(AudioError, match=r"lasts 0\.20 s"):
        load_audio(path)


@pytest.mark.parametrize("peak", [0.0, 5e-5])
def test_digital_silence(tmp_path: Path, peak: float) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.full(SAMPLE_RATE, peak, dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"silent \(peak below -80 dBFS\)"):
        load_audio(path)


def test_silent_array() -> None:
    with pytest.raises(AudioError, match="the array given is silent"):
        load_audio(np.zeros(SAMPLE_RATE, dtype=np.int16), sample_rate=SAMPLE_RATE)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_array(bad: float) -> None:
    signal = make_tone().astype(np.float64)
    signal[100] = bad
    with pytest.raises(AudioError, match="NaN or infinite samples"):
        load_audio(signal, sample_rate=SAMPLE_RATE)


def test_nan_in_float_wav_file(tmp_path: Path) -> None:
    signal = make_tone()
    signal[10] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, signal, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"'.*nan\.wav' contains NaN or infinite"):
        load_audio(path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"No such file: '.*nowhere\.wav'"):
        load_audio(tmp_path / "nowhere.wav")
    with pytest.raises(AudioError, match="No such file"):
        load_audio(str(tmp_path / "nowhere.wav"))


def test_folder(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="is a folder, not an audio file"):
        load_audio(tmp_path)


def test_array_without_source_sr() -> None:
    with pytest.raises(AudioError, match="needs its sample rate: pass sample_rate="):
        load_audio(make_tone())


def test_non_numeric_array() -> None:
    with pytest.raises(AudioError, match="non-numeric dtype"):
        load_audio(np.array(["a"] * 8000), sample_rate=SAMPLE_RATE)


@pytest.mark.parametrize(
    ("source", "name"), [([0.1, 0.2, 0.3], "list"), (42, "int"), (None, "NoneType")]
)
def test_unsupported_types(source: object, name: str) -> None:
    with pytest.raises(AudioError, match=f"Cannot read audio from a {name}; give a path"):
        load_audio(source)  # type: ignore[arg-type]


def test_bad_rates() -> None:
    for rate in (0, -16000):
        with pytest.raises(ParameterError, match="sample_rate must be a positive rate"):
            load_audio(make_tone(), sample_rate=rate)
    with pytest.raises(ParameterError, match="target_rate must be a positive rate"):
        load_audio(make_tone(), sample_rate=SAMPLE_RATE, target_rate=-1)


# --- too long: refused from the header, before decoding -------------------------------------


def sparse_wav(path: Path, *, seconds: int, sr: int = SAMPLE_RATE) -> Path:
    """A 16-bit mono WAV of ``seconds`` of zeros whose data is a hole in a sparse file."""
    size = seconds * sr * 2
    header = b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, sr * 2, 2, 16)
    header += b"data" + struct.pack("<I", size)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + size)
    return path


def test_too_long_file_is_refused_from_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sparse_wav(tmp_path / "two_hours.wav", seconds=7200)  # 230 MB, nearly all a hole
    assert sf.info(path).duration == 7200

    def no_decoding(*args, **kwargs):
        raise AssertionError("the samples were decoded")

    monkeypatch.setattr(sf.SoundFile, "read", no_decoding)
    with pytest.raises(AudioError, match=r"lasts 7200 s, longer than the 3600 s allowed") as info:
        load_audio(path)
    assert "max_duration" in str(info.value)
    assert MAX_DURATION == 3600


def test_too_long_with_a_small_max_duration(tmp_path: Path, monkeypatch) -> None:
    path = write_tone(tmp_path / "five.flac", sr=44100, duration=5.0)
    data = path.read_bytes()
    monkeypatch.setattr(sf.SoundFile, "read", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(AudioError, match=r"'.*five\.flac' lasts 5 s, longer than the 2 s"):
        load_audio(path, max_duration=2.0)
    with pytest.raises(AudioError, match=r"the \d+ bytes given lasts 5 s"):
        load_audio(data, max_duration=2.0)


def test_too_long_array() -> None:
    with pytest.raises(
        AudioError, match=r"the array given lasts 1\.5 s, longer than the 1 s allowed"
    ):
        load_audio(make_tone(duration=1.5), sample_rate=SAMPLE_RATE, max_duration=1.0)


# --- a part of the input: offset= and duration= ---------------------------------------------


def two_seconds(tmp_path: Path, *, sr: int = SAMPLE_RATE, ext: str = "wav") -> Path:
    path = tmp_path / f"two_{sr}.{ext}"
    sf.write(path, make_tone(sr=sr, duration=2.0), sr, subtype="FLOAT" if ext == "wav" else None)
    return path


@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_part_of_a_16k_file_is_exactly_that_slice_of_the_whole(tmp_path: Path, ext: str) -> None:
    path = two_seconds(tmp_path, ext=ext)
    whole = load_audio(path)
    part = load_audio(path, offset=0.3, duration=0.5)
    np.testing.assert_array_equal(part, whole[4800:12800])
    np.testing.assert_array_equal(load_audio(path.read_bytes(), offset=0.3, duration=0.5), part)
    np.testing.assert_array_equal(load_audio(path, offset=1.5), whole[24000:])


@pytest.mark.parametrize("sr", [8000, 44100, 48000])
def test_part_of_a_file_at_another_rate_matches_away_from_its_edges(
    tmp_path: Path, sr: int
) -> None:
    path = two_seconds(tmp_path, sr=sr)
    whole = load_audio(path)
    part = load_audio(path, offset=0.3, duration=0.5)
    assert part.shape == (8000,)
    reference = whole[4800:12800]
    # Resampling a cut signal differs from cutting a resampled one only near the cuts.
    np.testing.assert_allclose(part[200:-200], reference[200:-200], atol=1e-5)
    np.testing.assert_allclose(part, reference, atol=0.05)


def test_part_of_a_file_is_read_without_decoding_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = two_seconds(tmp_path)
    read, seek = sf.SoundFile.read, sf.SoundFile.seek
    frames_read: list[int] = []
    seeks: list[int] = []

    def counting_read(self, frames=-1, *args, **kwargs):
        data = read(self, frames, *args, **kwargs)
        frames_read.append(len(data))
        return data

    def recording_seek(self, frames, whence=sf.SEEK_SET):
        if whence == sf.SEEK_SET:  # not soundfile telling the position: seek(0, SEEK_CUR)
            seeks.append(frames)
        return seek(self, frames, whence)

    monkeypatch.setattr(sf.SoundFile, "read", counting_read)
    monkeypatch.setattr(sf.SoundFile, "seek", recording_seek)
    load_audio(path, offset=1.0, duration=0.5)
    assert seeks[0] == 16000  # then soundfile's own seek past each block read
    assert sum(frames_read) == 8000


def test_part_of_an_array_is_a_slice_in_either_layout() -> None:
    tone = make_tone(duration=2.0)
    part = load_audio(tone, sample_rate=SAMPLE_RATE, offset=0.25, duration=1.0)
    np.testing.assert_array_equal(part, tone[4000:20000])
    stereo = np.stack([tone, tone], axis=0)  # (channels, frames)
    np.testing.assert_array_equal(
        load_audio(stereo, sample_rate=SAMPLE_RATE, offset=0.25, duration=1.0), part
    )
    np.testing.assert_array_equal(
        load_audio(stereo.T, sample_rate=SAMPLE_RATE, offset=0.25, duration=1.0), part
    )


def test_duration_past_the_end_reads_to_the_end(tmp_path: Path) -> None:
    path = two_seconds(tmp_path)
    np.testing.assert_array_equal(
        load_audio(path, offset=1.5, duration=10.0), load_audio(path)[24000:]
    )


def test_max_duration_applies_to_the_part_read(tmp_path: Path) -> None:
    path = sparse_wav(tmp_path / "two_hours.wav", seconds=7200)
    part = load_audio(path, offset=3000.0, duration=2.0, allow_silence=True)
    assert part.shape == (32000,)
    with pytest.raises(
        AudioError, match=r"part of '.*two_hours\.wav' asked for lasts 4000 s"
    ) as info:
        load_audio(path, offset=100.0, duration=4000.0)
    assert info.value.source == str(path)
    long_array = np.ones(3 * SAMPLE_RATE, dtype=np.float32) * 0.1
    assert load_audio(long_array, sample_rate=SAMPLE_RATE, duration=1.0, max_duration=1.0).size


def test_min_duration_applies_to_the_part_read(tmp_path: Path) -> None:
    path = two_seconds(tmp_path)
    with pytest.raises(AudioError, match=r"lasts 0\.10 s; at least 0\.25 s"):
        load_audio(path, offset=1.9)


@pytest.mark.parametrize("kind", ["path", "bytes", "array"])
def test_offset_beyond_the_end(tmp_path: Path, kind: str) -> None:
    path = two_seconds(tmp_path)
    source = {"path": path, "bytes": path.read_bytes(), "array": make_tone(duration=2.0)}[kind]
    rate = SAMPLE_RATE if kind == "array" else None
    with pytest.raises(AudioError, match=r"offset=2\.5 s is beyond the end of .*lasts 2 s"):
        load_audio(source, sample_rate=rate, offset=2.5)
    with pytest.raises(AudioError, match="beyond the end"):
        load_audio(source, sample_rate=rate, offset=2.0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("offset", -0.5, "offset must be a zero or positive number of seconds, got -0.5"),
        ("offset", float("nan"), "offset must be a zero or positive number"),
        ("offset", float("inf"), "offset must be a finite number"),
        ("offset", "1", r"offset must be a number of seconds, got '1' \(type str\)"),
        ("offset", None, r"offset must be a number of seconds, got None"),
        ("offset", True, r"got True \(type bool\)"),
        ("duration", 0, "duration must be a positive number of seconds, got 0"),
        ("duration", -1.0, "duration must be a positive number"),
        ("duration", float("nan"), "duration must be a positive number"),
        ("duration", [1.0], r"duration must be a number of seconds, got \[1\.0\]"),
        ("min_duration", -1, "min_duration must be a zero or positive number"),
        ("max_duration", 0, "max_duration must be a positive number"),
        ("max_duration", "10", "max_duration must be a number of seconds"),
        ("allow_silence", "no", r"allow_silence must be True or False, got 'no'"),
    ],
)
def test_bad_seconds_and_options(name: str, value: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        load_audio(make_tone(), sample_rate=SAMPLE_RATE, **{name: value})


def test_min_duration_above_max_duration() -> None:
    with pytest.raises(ParameterError, match=r"min_duration \(5 s\) is longer than max_dur"):
        load_audio(make_tone(), sample_rate=SAMPLE_RATE, min_duration=5, max_duration=2)


def test_infinite_limits_mean_none() -> None:
    tone = make_tone()
    np.testing.assert_array_equal(
        load_audio(tone, sample_rate=SAMPLE_RATE, duration=float("inf"), max_duration=np.inf),
        load_audio(tone, sample_rate=SAMPLE_RATE),
    )


def test_reading_in_blocks_equals_reading_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stereo.wav"
    tone = make_tone(duration=2.0)
    sf.write(path, np.stack([tone, 0.5 * tone], axis=1), SAMPLE_RATE, subtype="FLOAT")
    at_once = load_audio(path, offset=0.1)
    monkeypatch.setattr(load_module, "_BLOCK_SAMPLES", 999)  # 499 frames of 2 channels a block
    np.testing.assert_array_equal(load_audio(path, offset=0.1), at_once)
    np.testing.assert_allclose(at_once, 0.75 * tone[1600:], atol=1e-6)


# --- input not scaled as audio ----------------------------------------------------------------


def warned(call) -> tuple[np.ndarray, list[str]]:
    """The result of ``call()`` and the messages of the AudioWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in caught if issubclass(w.category, AudioWarning)]


def test_float_wav_far_beyond_full_scale_is_normalised_with_a_warning(tmp_path: Path) -> None:
    tone = make_tone()
    path = tmp_path / "hot.wav"
    sf.write(path, tone * 50 / np.max(np.abs(tone)), SAMPLE_RATE, subtype="FLOAT")
    signal, messages = warned(lambda: load_audio(path))
    assert len(messages) == 1
    assert "reaching 50" in messages[0] and "normalised to peak 1.0" in messages[0]
    assert "hot.wav" in messages[0]
    np.testing.assert_allclose(signal, tone / np.max(np.abs(tone)), atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_int16_values_in_a_float_array_are_read_as_16_bit(dtype) -> None:
    tone = make_tone()
    ints = np.round(tone * 32767).astype(dtype)
    signal, messages = warned(lambda: load_audio(ints, sample_rate=SAMPLE_RATE))
    assert len(messages) == 1 and "read as 16-bit audio (divided by 32768)" in messages[0]
    np.testing.assert_allclose(signal, tone, atol=2 / 32768)


def test_int16_values_in_a_float_wav_are_read_as_16_bit(tmp_path: Path) -> None:
    tone = make_tone()
    path = tmp_path / "ints_as_floats.wav"
    sf.write(path, np.round(tone * 32767), SAMPLE_RATE, subtype="FLOAT")
    signal, messages = warned(lambda: load_audio(path))
    assert len(messages) == 1 and "16-bit" in messages[0]
    np.testing.assert_allclose(signal, tone, atol=2 / 32768)


def test_24_bit_values_in_a_float_array() -> None:
    tone = make_tone()
    ints = np.round(tone * 2**23 * 0.99)
    signal, messages = warned(lambda: load_audio(ints, sample_rate=SAMPLE_RATE))
    assert "24-bit" in messages[0]
    np.testing.assert_allclose(signal, tone * 0.99, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_int16_values_in_a_wider_int_array(dtype) -> None:
    tone = make_tone()
    ints = np.round(tone * 32767).astype(dtype)
    signal, messages = warned(lambda: load_audio(ints, sample_rate=SAMPLE_RATE))
    assert len(messages) == 1 and "read as 16-bit PCM" in messages[0]
    np.testing.assert_allclose(signal, tone, atol=2 / 32768)


def test_python_ints_beyond_32_bits_are_normalised() -> None:
    tone = make_tone()
    ints = np.round(tone * 1e12).astype(np.int64)
    signal, messages = warned(lambda: load_audio(ints, sample_rate=SAMPLE_RATE))
    assert any("normalised to peak 1.0" in m for m in messages)
    assert abs(float(np.max(np.abs(signal))) - 1.0) < 1e-6


def test_full_scale_32_bit_and_slightly_hot_float_input_are_left_alone() -> None:
    tone = make_tone()
    hot = tone * 1.4 / np.max(np.abs(tone))  # float headroom: above 1.0, below the limit
    signal, messages = warned(lambda: load_audio(hot, sample_rate=SAMPLE_RATE))
    assert messages == []
    np.testing.assert_allclose(signal, hot, atol=1e-6)
    ints = np.round(tone * 2**31 * 0.99).astype(np.int32)
    signal, messages = warned(lambda: load_audio(ints, sample_rate=SAMPLE_RATE))
    assert messages == []
    np.testing.assert_allclose(signal, tone * 0.99, atol=1e-6)


def test_callers_can_refuse_rescaled_input() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioWarning)
        with pytest.raises(AudioWarning, match="normalised"):
            load_audio(make_tone() * 100, sample_rate=SAMPLE_RATE)


def test_notes_collect_the_warnings_instead() -> None:
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is issued as a warning
        signal = load_audio(make_tone() * 100, sample_rate=SAMPLE_RATE, notes=notes)
    assert len(notes) == 1 and "normalised to peak 1.0" in notes[0]
    assert abs(float(np.max(np.abs(signal))) - 1.0) < 1e-6
    load_audio(make_tone(), sample_rate=SAMPLE_RATE, notes=notes)
    assert len(notes) == 1  # audio scaled as audio adds nothing
    with pytest.raises(ParameterError, match="notes must be a list"):
        load_audio(make_tone(), sample_rate=SAMPLE_RATE, notes="x")  # type: ignore[arg-type]


def test_warning_points_at_the_caller() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_audio(make_tone() * 100, sample_rate=SAMPLE_RATE)
    assert [Path(w.filename).name for w in caught] == ["test_audio_load.py"]


def test_huge_finite_float64_is_normalised_not_called_infinite() -> None:
    signal, messages = warned(
        lambda: load_audio(make_tone().astype(np.float64) * 1e300, sample_rate=SAMPLE_RATE)
    )
    assert messages and np.all(np.isfinite(signal))


# --- arrays and parameters of the Python API ------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (
            "16000",
            r"sample_rate must be a whole number of Hz such as 16000, got '16000' \(type str",
        ),
        (None, None),
        (True, r"got True \(type bool\)"),
        (16000.5, "sample_rate must be a whole number of Hz, got 16000.5"),
        (float("nan"), "sample_rate must be a whole number of Hz, got nan"),
        (float("inf"), "sample_rate must be a whole number of Hz, got inf"),
        (1, r"sample_rate=1 Hz is outside the 1000-768000 Hz"),
        (999, "outside the 1000-768000 Hz"),
        (10**7, "outside the 1000-768000 Hz"),
        (10**400, "outside the 1000-768000 Hz"),
    ],
)
def test_bad_sample_rates(rate: object, message: str | None) -> None:
    if rate is None:
        with pytest.raises(AudioError, match="needs its sample rate"):
            load_audio(make_tone())
        return
    with pytest.raises(ParameterError, match=message):
        load_audio(make_tone(), sample_rate=rate)


@pytest.mark.parametrize("rate", [16000.0, np.int64(16000), np.float32(16000), np.uint16(16000)])
def test_integral_rates_of_any_numeric_type_are_accepted(rate: object) -> None:
    tone = make_tone()
    np.testing.assert_array_equal(load_audio(tone, sample_rate=rate), tone)


def test_sample_rate_given_for_a_file_is_still_checked(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "t.wav")
    np.testing.assert_array_equal(load_audio(path, sample_rate=8000), load_audio(path))
    with pytest.raises(ParameterError, match="sample_rate must be a whole number"):
        load_audio(path, sample_rate="fast")


@pytest.mark.parametrize("target", [0, 100, "16k", 22050.5])
def test_bad_target_rates(target: object) -> None:
    with pytest.raises(ParameterError, match="target_rate"):
        load_audio(make_tone(), sample_rate=SAMPLE_RATE, target_rate=target)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array(0.5), r"a single number \(0-d\), not a signal"),
        (make_tone() > 0, "holds booleans, not samples"),
        (make_tone().astype(np.complex64), r"complex numbers \(complex64\).*\.real"),
        (make_tone().astype(object), r"non-numeric dtype \(object\)"),
        (np.array(["a"] * 8000), r"non-numeric dtype \(<U1\)"),
        (np.zeros((1, 2, 8000)), r"1-D or 2-D audio array .* got shape \(1, 2, 8000\)"),
        (np.ones((100, 8000)), r"shape \(100, 8000\): with more than 16 along both axes"),
        (np.ones((17, 17)), "neither is clearly the channel axis"),
        (np.zeros((0, 2)), "empty"),
    ],
)
def test_arrays_that_are_not_audio(array: np.ndarray, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        load_audio(array, sample_rate=SAMPLE_RATE)


def test_sixteen_channels_is_still_a_channel_axis() -> None:
    tone = make_tone()
    signal = load_audio(np.stack([tone] * 16, axis=1), sample_rate=SAMPLE_RATE)
    np.testing.assert_allclose(signal, tone, atol=1e-6)
    np.testing.assert_allclose(to_mono(np.stack([tone] * 40), channel_axis=0), tone, atol=1e-6)
    with pytest.raises(AudioError, match="neither is clearly the channel axis"):
        to_mono(np.stack([tone] * 40))


def test_float16_and_memoryview_sources(tmp_path: Path) -> None:
    tone = make_tone()
    np.testing.assert_allclose(
        load_audio(tone.astype(np.float16), sample_rate=SAMPLE_RATE), tone, atol=1e-3
    )
    data = write_tone(tmp_path / "t.wav").read_bytes()
    np.testing.assert_array_equal(load_audio(memoryview(data)), load_audio(data))


# --- paths: standard input, FIFOs, devices, permissions, damaged files -----------------------


class FakeStdin:
    def __init__(self, data: bytes, *, tty: bool = False) -> None:
        self.buffer = io.BytesIO(data)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("dash", ["-", Path("-")])
def test_dash_reads_standard_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dash: object
) -> None:
    path = write_tone(tmp_path / "t.flac", sr=44100)
    monkeypatch.setattr(sys, "stdin", FakeStdin(path.read_bytes()))
    np.testing.assert_array_equal(load_audio(dash), load_audio(path))


def test_standard_input_that_is_a_terminal_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"RIFF", tty=True))
    with pytest.raises(AudioError, match="Standard input is a terminal, not audio: pipe"):
        load_audio("-")
    monkeypatch.setattr(sys, "stdin", FakeStdin(b""))
    with pytest.raises(AudioError, match=r"Standard input is empty \(0 bytes\)"):
        load_audio("-")
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"not audio at all" * 10))
    with pytest.raises(AudioError, match="Cannot decode standard input as audio"):
        load_audio("-")
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(AudioError, match="no standard input"):
        load_audio("-")


def test_standard_input_beyond_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_module, "MAX_STREAM_BYTES", 1000)
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"\0" * 1001))
    with pytest.raises(AudioError, match=r"Standard input gives more than .* MiB"):
        load_audio("-")


def test_dash_and_dev_stdin_in_a_real_process(tmp_path: Path) -> None:
    """Standard input redirected from a file, and piped (a FIFO), by path and by ``-``."""
    path = write_tone(tmp_path / "t.wav", sr=22050)
    expected = load_audio(path).size
    script = "import sys; from emovox.audio import load_audio; print(load_audio(sys.argv[1]).size)"
    for name in ("-", "/dev/stdin"):
        with open(path, "rb") as redirected:
            done = subprocess.run(
                [sys.executable, "-c", script, name],
                stdin=redirected,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) == expected
        piped = subprocess.run(
            [sys.executable, "-c", script, name],
            input=path.read_bytes(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert piped.returncode == 0, piped.stderr
        assert int(piped.stdout) == expected


def write_to_fifo(fifo: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_fifo_is_read_not_judged_by_its_size(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "t.wav")
    fifo = tmp_path / "audio.fifo"
    os.mkfifo(fifo)
    writer = write_to_fifo(fifo, path.read_bytes())
    np.testing.assert_array_equal(load_audio(fifo), load_audio(path))
    writer.join(5)
    writer = write_to_fifo(fifo, b"")
    with pytest.raises(AudioError, match=r"audio\.fifo' is empty \(0 bytes read from it\)"):
        load_audio(fifo)
    writer.join(5)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="no /proc here")
def test_file_whose_size_says_zero_is_read_not_called_empty() -> None:
    assert os.stat("/proc/self/status").st_size == 0
    with pytest.raises(AudioError, match=r"Cannot decode '/proc/self/status' as audio"):
        load_audio("/proc/self/status")


def test_endless_device_is_refused_beyond_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_module, "MAX_STREAM_BYTES", 1 << 16)
    with pytest.raises(AudioError, match=r"'/dev/zero' gives more than 0\.0625 MiB"):
        load_audio("/dev/zero")


def test_unreadable_file_says_permission_denied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_tone(tmp_path / "secret.wav")

    def denied(file, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(load_module, "open", denied, raising=False)
    with pytest.raises(AudioError, match=r"Cannot read '.*secret\.wav': permission denied") as info:
        load_audio(path)
    assert info.value.source == str(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_unreadable_file_without_monkeypatching(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "secret.wav")
    path.chmod(0)
    with pytest.raises(AudioError, match="permission denied"):
        load_audio(path)


def test_odd_paths(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="The path given is empty"):
        load_audio("")
    with pytest.raises(AudioError, match=r"Cannot read 'a\\x00b\.wav': embedded null byte"):
        load_audio("a\0b.wav")
    with pytest.raises(AudioError, match=r"File name too long") as info:
        load_audio("x" * 5000 + ".wav")
    assert len(str(info.value)) < 300
    with pytest.raises(AudioError, match="Not a directory"):
        load_audio(write_tone(tmp_path / "t.wav") / "inside.wav")


def test_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    path = os.fsdecode(os.fsencode(tmp_path) + b"/t\xff.wav")
    sf.write(os.fsencode(path), make_tone(), SAMPLE_RATE)
    np.testing.assert_allclose(load_audio(path), make_tone(), atol=1e-4)


def riff(*, rate=SAMPLE_RATE, channels=1, bits=16, tag=1, data=None, data_size=None) -> bytes:
    samples = np.round(make_tone() * 32767).astype("<i2").tobytes() if data is None else data
    block = max(1, channels * bits // 8)
    fmt = struct.pack(
        "<IHHIIHH", 16, tag, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits
    )
    size = len(samples) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + fmt + b"data" + struct.pack("<I", size) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_well_formed_riff_helper_loads() -> None:
    np.testing.assert_allclose(load_audio(riff()), make_tone(), atol=1e-4)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            riff()[:30], "Cannot decode the 30 bytes given as audio", id="truncated-header"
        ),
        pytest.param(riff()[:1000], r"lasts 0\.03 s", id="truncated-data"),  # what is there
        pytest.param(
            riff(rate=1), "declares a sample rate of 1 Hz, outside the 1000-768000 Hz", id="rate-1"
        ),
        pytest.param(riff(rate=2**31 - 1), "declares a sample rate of 2147483647 Hz", id="rate-2g"),
        pytest.param(
            riff(rate=0),
            r"Cannot decode .* \(Internal error : SF_INFO struct incomplete\)",
            id="rate-0",
        ),
        pytest.param(riff(channels=0), r"\(Channel count is zero\)", id="channels-0"),
        pytest.param(
            riff(channels=65535, data=bytes(1000)),
            r"\(Too many channels specified\)",
            id="channels-65535",
        ),
        pytest.param(riff(tag=99), "Malformed 'fmt ' chunk", id="format-tag-99"),
        pytest.param(riff(bits=0), "unimplemented format", id="bits-0"),
        pytest.param(riff(data=b""), "holds no audio samples", id="no-data"),
        pytest.param(b"RIFF" + bytes(40), "Format not recognised", id="riff-zeros"),
        pytest.param(b"fLaC" + bytes(range(256)) * 4, "Cannot decode", id="flac-magic"),
        pytest.param(b"OggS" + bytes(range(256)) * 4, "Cannot decode", id="ogg-magic"),
    ],
)
def test_damaged_headers(data: bytes, message: str) -> None:
    with pytest.raises(AudioError, match=message) as info:
        load_audio(data)
    assert "<_io.BytesIO" not in str(info.value)  # libsndfile's name for the stream


@pytest.mark.parametrize("cut", [40, 46])
def test_cut_aiff_header_fails_without_a_traceback_from_soundfile(
    cut: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libsndfile seeks before the start of this one; soundfile's callback used to raise
    there and print "Exception ignored ... Traceback" on stderr."""
    buffer = io.BytesIO()
    sf.write(buffer, np.full((1000, 6), 0.1), 11025, format="AIFF", subtype="PCM_16")
    ignored: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)
    with pytest.raises(AudioError, match=f"Cannot decode the {cut} bytes given"):
        load_audio(buffer.getvalue()[:cut])
    assert ignored == []


def test_damaged_multichannel_floats_give_no_numpy_warning() -> None:
    buffer = io.BytesIO()
    data = np.zeros((1000, 2))
    data[10] = [np.inf, -np.inf]  # their mean is NaN: numpy warns "invalid value"
    sf.write(buffer, data, SAMPLE_RATE, format="WAV", subtype="DOUBLE")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AudioError, match="NaN or infinite"):
            load_audio(buffer.getvalue(), min_duration=0)


def test_huge_declared_data_size_reads_what_is_there(tmp_path: Path) -> None:
    data = riff(data_size=0xFFFFFFF0)
    np.testing.assert_allclose(load_audio(data), make_tone(), atol=1e-4)
    path = tmp_path / "huge.wav"
    path.write_bytes(data)
    np.testing.assert_allclose(load_audio(path, max_duration=None), make_tone(), atol=1e-4)
