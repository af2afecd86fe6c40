"""The one audio loader: formats, rates, layouts, and every bad input's message."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import make_tone, write_tone
from emovox.audio import MAX_DURATION, SAMPLE_RATE, load_audio, to_mono
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
    signal = load_audio(path, sr=sr)
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
        with pytest.raises(AudioError, match="sample_rate must be a positive rate"):
            load_audio(make_tone(), sample_rate=rate)
    with pytest.raises(ParameterError, match="must be positive"):
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
    with pytest.raises(AudioError, match="array is longer than the 1 s allowed"):
        load_audio(make_tone(duration=1.5), sample_rate=SAMPLE_RATE, max_duration=1.0)
