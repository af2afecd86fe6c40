"""Feature extractors, their registry and configs, the disk cache and batch extraction."""

from __future__ import annotations

import json
import shutil
import sys

import librosa
import numpy as np
import pandas as pd
import pytest

from conftest import make_tone, write_tone
from emovox.audio import SAMPLE_RATE, resample
from emovox.errors import AudioError, EmovoxError
from emovox.features import (
    EXTRACTORS,
    LAZY_EXTRACTORS,
    FeatureCache,
    MfccImage,
    available_extractors,
    config_hash,
    default_cache_dir,
    extract_table,
    make_extractor,
    register,
    register_lazy,
    stack_features,
)

BUILT_IN = ["mfcc_image", "logmel", "stats", "egemaps"]


def has_opensmile() -> bool:
    try:
        import opensmile  # noqa: F401
    except ImportError:
        return False
    return True


needs_opensmile = pytest.mark.skipif(
    not has_opensmile(), reason="opensmile (optional extra emovox[egemaps]) is not installed"
)


@pytest.fixture
def registry():
    """Restore the extractor registry after a test that adds to it."""
    saved, saved_lazy = dict(EXTRACTORS), dict(LAZY_EXTRACTORS)
    yield EXTRACTORS
    EXTRACTORS.clear()
    EXTRACTORS.update(saved)
    LAZY_EXTRACTORS.clear()
    LAZY_EXTRACTORS.update(saved_lazy)


class Counting:
    """A cheap extractor that counts its calls: mean and peak times ``scale``."""

    name = "counting"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.calls = 0

    def config(self) -> dict:
        return {"name": self.name, "scale": self.scale}

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.array([signal.mean(), np.abs(signal).max()], dtype=np.float32) * self.scale


# ---------------------------------------------------------------- mfcc_image


@pytest.mark.parametrize("seconds", [4.0, 3.0, 1.0, 0.8])
def test_mfcc_image_has_fixed_shape(seconds):
    image = MfccImage()(make_tone(duration=seconds))
    assert image.shape == (39, 216)
    assert image.dtype == np.float32
    assert np.all(np.isfinite(image))


def test_mfcc_image_pads_short_input_with_zero_frames_at_the_end():
    extractor = MfccImage()
    signal = make_tone(duration=1.0)  # excerpt 0.5 s .. 1.0 s
    excerpt = extractor.excerpt(signal)
    assert excerpt.size == round(0.5 * 44_100)
    frames = 1 + excerpt.size // 512
    image = extractor(signal)
    assert np.all(image[:, frames:] == 0)
    assert np.all(np.any(image[:, :frames] != 0, axis=0))


def test_mfcc_image_excerpt_starts_at_zero_when_too_little_follows_the_offset():
    extractor = MfccImage()
    assert extractor.excerpt(make_tone(duration=0.8)).size == round(0.8 * 44_100)
    assert extractor.excerpt(make_tone(duration=1.0)).size == round(0.5 * 44_100)
    assert extractor.excerpt(make_tone(duration=4.0)).size == round(2.5 * 44_100)


def test_mfcc_image_matches_librosa_on_the_same_excerpt():
    signal = make_tone(duration=4.0, freq=180.0)
    excerpt = resample(signal[8_000:48_000], sample_rate=SAMPLE_RATE, target_rate=44_100)
    expected = librosa.feature.mfcc(y=excerpt, sr=44_100, n_mfcc=39)
    assert expected.shape == (39, 216)
    np.testing.assert_allclose(MfccImage()(signal), expected, rtol=1e-5, atol=1e-3)


# ---------------------------------------------------------------- other extractors


def test_logmel_shape_and_values():
    signal = make_tone(duration=1.5)
    features = make_extractor({"name": "logmel"})(signal)
    assert features.shape == (64, 1 + signal.size // 160)
    assert features.dtype == np.float32
    assert np.all(np.isfinite(features))
    assert features.min() >= np.log(1e-6) - 1e-3


def test_stats_is_a_240_vector():
    extractor = make_extractor({"name": "stats"})
    features = extractor(make_tone(duration=1.5))
    assert features.shape == (240,)
    assert features.dtype == np.float32
    assert np.all(np.isfinite(features))
    assert len(extractor.feature_names()) == 240
    assert np.all(features[200:] >= 0)  # the last 40 are standard deviations


@pytest.mark.filterwarnings("ignore:n_fft=512 is too large")
def test_stats_handles_very_short_signals():
    features = make_extractor({"name": "stats"})(make_tone(duration=0.03))
    assert features.shape == (240,)
    assert np.all(np.isfinite(features))


@needs_opensmile
def test_egemaps_has_88_values():
    extractor = make_extractor({"name": "egemaps"})
    features = extractor(make_tone(duration=1.5))
    assert features.shape == (88,)
    assert features.dtype == np.float32
    assert len(extractor.feature_names()) == 88


def test_egemaps_without_opensmile_says_how_to_install_and_the_licence(monkeypatch):
    monkeypatch.setitem(sys.modules, "opensmile", None)  # makes `import opensmile` fail
    with pytest.raises(EmovoxError, match=r"emovox\[egemaps\]") as info:
        make_extractor({"name": "egemaps"})
    assert "non-commercial" in str(info.value)


def test_extractors_reject_bad_signals():
    extractor = make_extractor({"name": "logmel"})
    with pytest.raises(AudioError, match="mono"):
        extractor(np.zeros((2, 1600), dtype=np.float32))
    with pytest.raises(AudioError, match="NaN"):
        extractor(np.full(1600, np.nan, dtype=np.float32))


# ---------------------------------------------------------------- registry and configs


@pytest.mark.parametrize("name", BUILT_IN)
def test_config_round_trips_through_json(name):
    if name == "egemaps" and not has_opensmile():
        pytest.skip("opensmile (optional extra emovox[egemaps]) is not installed")
    extractor = make_extractor({"name": name})
    config = extractor.config()
    assert config["name"] == name
    rebuilt = make_extractor(json.loads(json.dumps(config)))
    assert rebuilt == extractor
    assert rebuilt.config() == config


def test_changed_parameter_round_trips_and_changes_the_hash():
    extractor = make_extractor({"name": "logmel", "n_mels": 40, "fmax": 7600})
    assert make_extractor(extractor.config()) == extractor
    assert config_hash(extractor.config()) != config_hash(
        make_extractor({"name": "logmel"}).config()
    )


def test_whole_numbers_are_normalised_so_configs_hash_alike():
    a = make_extractor({"name": "logmel", "fmin": 0, "win_ms": 25})
    b = make_extractor({"name": "logmel", "fmin": 0.0, "win_ms": 25.0})
    assert config_hash(a.config()) == config_hash(b.config())


def test_unknown_extractor_or_parameter_raises():
    with pytest.raises(EmovoxError, match="Unknown feature extractor 'nope'"):
        make_extractor({"name": "nope"})
    with pytest.raises(EmovoxError, match="n_melz"):
        make_extractor({"name": "logmel", "n_melz": 40})
    with pytest.raises(EmovoxError, match="name"):
        make_extractor({"n_mels": 40})
    with pytest.raises(EmovoxError, match="positive"):
        make_extractor({"name": "mfcc_image", "n_frames": 0})


def test_register_adds_an_extractor_and_refuses_a_clash(registry):
    @register
    class Probe(Counting):
        name = "probe"

    assert "probe" in available_extractors()
    assert isinstance(make_extractor({"name": "probe", "scale": 2.0}), Probe)

    class Other(Counting):
        name = "probe"

    with pytest.raises(EmovoxError, match="already registered"):
        register(Other)


def test_register_lazy_imports_the_module_on_first_use(registry, tmp_path, monkeypatch):
    module = tmp_path / "emovox_lazy_probe.py"
    module.write_text(
        "from emovox.features import register\n"
        "@register\n"
        "class LazyProbe:\n"
        "    name = 'lazy_probe'\n"
        "    def config(self):\n"
        "        return {'name': self.name}\n"
        "    def __call__(self, signal):\n"
        "        return signal[:1]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "emovox_lazy_probe", raising=False)
    register_lazy("lazy_probe", "emovox_lazy_probe")
    assert "lazy_probe" in available_extractors()
    assert "lazy_probe" not in EXTRACTORS
    assert make_extractor({"name": "lazy_probe"}).name == "lazy_probe"
    monkeypatch.delitem(sys.modules, "emovox_lazy_probe", raising=False)

    register_lazy("missing_probe", "emovox_no_such_module")
    with pytest.raises(EmovoxError, match="cannot be imported"):
        make_extractor({"name": "missing_probe"})


# ---------------------------------------------------------------- cache


def test_cache_second_call_is_a_hit(tmp_path):
    path = write_tone(tmp_path / "a.wav")
    cache = FeatureCache(tmp_path / "cache")
    extractor = Counting()
    first = cache.get_or_compute(path, extractor)
    second = cache.get_or_compute(path, extractor)
    assert extractor.calls == 1
    np.testing.assert_array_equal(first, second)
    assert (cache.stats.hits, cache.stats.misses, cache.stats.writes) == (1, 1, 1)


def test_cache_layout_and_safe_loading(tmp_path):
    path = write_tone(tmp_path / "a.wav")
    cache = FeatureCache(tmp_path / "cache")
    extractor = Counting()
    features = cache.get_or_compute(path, extractor)
    entry = cache.entry_path(path, extractor)
    digest = entry.stem
    assert entry.parent.name == digest[:2]
    folder = entry.parent.parent
    assert folder.name == f"counting-{config_hash(extractor.config())[:12]}"
    assert json.loads((folder / "config.json").read_text()) == extractor.config()
    np.testing.assert_array_equal(np.load(entry, allow_pickle=False), features)


def test_cache_keys_on_config(tmp_path):
    path = write_tone(tmp_path / "a.wav")
    cache = FeatureCache(tmp_path / "cache")
    one, two = Counting(scale=1.0), Counting(scale=2.0)
    a = cache.get_or_compute(path, one)
    b = cache.get_or_compute(path, two)
    assert (one.calls, two.calls) == (1, 1)
    np.testing.assert_allclose(b, 2 * a)
    assert len(list((tmp_path / "cache").glob("counting-*"))) == 2


def test_cache_keys_on_content_not_path(tmp_path):
    first = write_tone(tmp_path / "a.wav")
    second = tmp_path / "elsewhere" / "b.wav"
    second.parent.mkdir()
    shutil.copyfile(first, second)
    cache = FeatureCache(tmp_path / "cache")
    extractor = Counting()
    cache.get_or_compute(first, extractor)
    cache.get_or_compute(second, extractor)
    assert extractor.calls == 1
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 1


def test_cache_write_is_atomic(tmp_path, monkeypatch):
    path = write_tone(tmp_path / "a.wav")
    cache = FeatureCache(tmp_path / "cache")
    cache.get_or_compute(path, Counting())
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert sorted(p.suffix for p in files) == [".json", ".npy"]

    def broken_save(handle, array, allow_pickle):
        handle.write(b"\x93NUMPY half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_compute(path, Counting(scale=3.0))
    entries = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert sum(name.endswith(".npy") for name in entries) == 1
    assert not [name for name in entries if name.startswith(".") or name.endswith(".tmp")]


def test_corrupt_entry_is_recomputed(tmp_path):
    path = write_tone(tmp_path / "a.wav")
    cache = FeatureCache(tmp_path / "cache")
    extractor = Counting()
    cache.get_or_compute(path, extractor)
    cache.entry_path(path, extractor).write_bytes(b"not numpy")
    cache.get_or_compute(path, extractor)
    assert extractor.calls == 2
    assert cache.get(path, extractor) is not None


def test_cache_transform_needs_a_key(tmp_path):
    path = write_tone(tmp_path / "a.wav")
    cache = FeatureCache(tmp_path / "cache")
    extractor = Counting()

    def double(signal):
        return 2 * signal

    plain = cache.get_or_compute(path, extractor)
    unkeyed = cache.get_or_compute(path, extractor, transform=double)
    assert extractor.calls == 2
    np.testing.assert_allclose(unkeyed, 2 * plain, rtol=1e-6)
    keyed = cache.get_or_compute(path, extractor, transform=double, transform_key="gain:2")
    again = cache.get_or_compute(path, extractor, transform=double, transform_key="gain:2")
    assert extractor.calls == 3
    np.testing.assert_array_equal(keyed, again)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2  # plain + keyed only
    with pytest.raises(EmovoxError, match="transform_key"):
        cache.get_or_compute(path, extractor, transform_key="gain:2")


def test_default_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    """features/ under emovox's cache root (tests/test_cache_root.py covers the root)."""
    monkeypatch.setenv("EMOVOX_CACHE", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here" / "features"
    assert FeatureCache().root == tmp_path / "here" / "features"
    monkeypatch.delenv("EMOVOX_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "emovox" / "features"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "emovox" / "features"


# ---------------------------------------------------------------- extract_table


@pytest.fixture
def table_with_a_bad_file(tmp_path) -> pd.DataFrame:
    paths = [write_tone(tmp_path / f"tone{i}.wav", freq=150.0 + 50 * i, seed=i) for i in range(3)]
    bad = tmp_path / "not_audio.wav"
    bad.write_text("this is text, not a WAV file\n")
    paths.insert(1, bad)
    return pd.DataFrame({"path": [str(p) for p in paths], "label": ["a", "b", "c", "d"]})


def test_extract_table_skips_and_records_a_corrupt_file(table_with_a_bad_file):
    features, rows = extract_table(
        table_with_a_bad_file, make_extractor({"name": "stats"}), on_error="skip"
    )
    assert len(features) == len(rows) == 3
    assert list(rows["label"]) == ["a", "c", "d"]
    assert list(rows.index) == [0, 1, 2]
    assert all(f.shape == (240,) for f in features)
    [failure] = rows.attrs["failures"]
    assert failure.source.endswith("not_audio.wav")
    assert "Cannot decode" in failure.error


def test_extract_table_raises_audio_error_by_default(table_with_a_bad_file):
    with pytest.raises(AudioError, match=r"not_audio\.wav"):
        extract_table(table_with_a_bad_file, Counting())


def test_extract_table_with_a_cache_raises_audio_error_too(table_with_a_bad_file, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    with pytest.raises(AudioError, match=r"not_audio\.wav"):
        extract_table(table_with_a_bad_file, Counting(), cache=cache)
    missing = pd.DataFrame({"path": [str(tmp_path / "missing.wav")]})
    with pytest.raises(AudioError, match="No such file"):
        extract_table(missing, Counting(), cache=cache)


def test_extract_table_threads_keep_table_order(table_with_a_bad_file):
    extractor = make_extractor({"name": "stats"})
    serial, _ = extract_table(table_with_a_bad_file, extractor, on_error="skip")
    threaded, rows = extract_table(
        table_with_a_bad_file, extractor, on_error="skip", n_jobs=2
    )
    assert len(rows.attrs["failures"]) == 1
    # Same rows in the same order; one BLAS thread per worker may change summation order,
    # hence float32 rounding in the last digit, never which file a row belongs to.
    for a, b in zip(serial, threaded, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def test_extract_table_uses_the_cache_and_transform_key(table_with_a_bad_file, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    extractor = Counting()
    good = table_with_a_bad_file.drop(index=1)
    extract_table(good, extractor, cache=cache)
    extract_table(good, extractor, cache=cache)
    assert extractor.calls == 3
    features, _ = extract_table(
        good,
        extractor,
        cache=cache,
        transform=lambda s: 0.5 * s,
        transform_key="gain:0.5",
    )
    assert extractor.calls == 6
    assert len(features) == 3


def test_extract_table_names_the_file_when_the_extractor_fails(tmp_path):
    table = pd.DataFrame({"path": [str(write_tone(tmp_path / "ok.wav"))]})

    class Failing(Counting):
        def __call__(self, signal):
            raise ValueError("boom")

    with pytest.raises(EmovoxError, match=r"ok\.wav.*ValueError: boom"):
        extract_table(table, Failing())
    _, rows = extract_table(table, Failing(), on_error="skip")
    assert rows.empty
    assert rows.attrs["failures"][0].error == "ValueError: boom"


def test_extract_table_needs_a_path_column():
    with pytest.raises(EmovoxError, match="'path' column"):
        extract_table(pd.DataFrame({"file": ["a.wav"]}), Counting())


def test_stack_features():
    stacked = stack_features([np.zeros((2, 3)), np.ones((2, 3))])
    assert stacked.shape == (2, 2, 3)
    with pytest.raises(EmovoxError, match=r"different shapes.*\(2, 3\).*\(2, 4\)"):
        stack_features([np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(EmovoxError, match="no features"):
        stack_features([])


# ---------------------------------------------------------------- real data


@pytest.mark.corpus
def test_mfcc_image_on_real_ravdess_files(corpus_root):
    root = corpus_root("ravdess")
    files = sorted(p for p in root.glob("Actor_01/*") if p.suffix.lower() in (".wav", ".flac"))
    if len(files) < 3:
        pytest.skip(f"fewer than 3 audio files in {root / 'Actor_01'}")
    table = pd.DataFrame({"path": [str(p) for p in files[:3]]})
    features, rows = extract_table(table, make_extractor({"name": "mfcc_image"}))
    images = stack_features(features)
    assert images.shape == (3, 39, 216)
    assert np.all(np.isfinite(images))
    assert len(rows) == 3 and rows.attrs["failures"] == []
    # RAVDESS clips last over 3 s, so the whole excerpt is speech and nothing is padded.
    assert np.all(np.any(images != 0, axis=1))
