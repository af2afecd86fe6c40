"""Whisper front end: CT2 parser, weights pinning, log-mel, encoder vs ctranslate2, extractor."""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_tone
from emovox.errors import EmovoxError, ModelError
from emovox.features import make_extractor
from emovox.features.whisper import (
    ModelFiles,
    WhisperEmbedding,
    WhisperEncoder,
    load_encoder,
    locate,
    log_mel,
    pool,
    read_ct2_model,
)
from emovox.features.whisper import weights as weights_module
from emovox.features.whisper.extractor import chunk_bounds, outlier_linears
from emovox.features.whisper.log_mel import mel_filters, n_frames

# ---------------------------------------------------------------- helpers


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<H", len(data) + 1) + data + b"\0"


def write_ct2(path: Path, variables: dict[str, np.ndarray], aliases: dict[str, str]) -> Path:
    """A model.bin in CTranslate2's binary layout (version 6), written by hand."""
    ids = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4}
    out = struct.pack("<I", 6) + _string("TestSpec") + struct.pack("<I", 2)
    out += struct.pack("<I", len(variables))
    for name, value in variables.items():
        out += _string(name) + struct.pack("<B", value.ndim)
        out += b"".join(struct.pack("<I", d) for d in value.shape)
        out += struct.pack("<B", ids[value.dtype.name]) + struct.pack("<I", value.nbytes)
        out += value.tobytes()
    out += struct.pack("<I", len(aliases))
    for alias, target in aliases.items():
        out += _string(alias) + _string(target)
    path.write_bytes(out)
    return path


@pytest.fixture(autouse=True, scope="module")
def _packaged_weights(tmp_path_factory: pytest.TempPathFactory):
    """Use the installed wheels (not $EMOVOX_WHISPER_MODEL) and a throwaway cache folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(weights_module.MODEL_ENV, raising=False)
        patch.setenv(weights_module.CACHE_ENV, str(tmp_path_factory.mktemp("emovox-cache")))
        yield


@pytest.fixture(scope="module")
def whisper_files() -> ModelFiles:
    try:
        return locate("base")
    except ModelError as exc:
        pytest.skip(f"Whisper base weights not installed (pip install 'emovox[whisper]'): {exc}")


@pytest.fixture(scope="module")
def fp32_encoder(whisper_files: ModelFiles) -> WhisperEncoder:
    return load_encoder("base", quantize="none")


@pytest.fixture
def speechlike() -> np.ndarray:
    """3 s: a tone with a pause and noise, so the encoder sees varied frames."""
    tone = make_tone(duration=2.0, freq=180.0)
    rng = np.random.default_rng(3)
    return np.concatenate(
        [0.002 * rng.standard_normal(8000), tone, 0.03 * rng.standard_normal(8000)]
    ).astype(np.float32)


# ---------------------------------------------------------------- CT2 format


def test_parser_reads_hand_written_file_across_parts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    variables = {
        "a/weight": rng.standard_normal((3, 4)).astype(np.float16),
        "a/bias": rng.standard_normal(3).astype(np.float32),
        "heads": np.array(8, dtype=np.int16),
        "q/weight": np.array([[127, -64], [10, -127]], dtype=np.int8),
        "q/weight_scale": np.array([127.0, 12.7], dtype=np.float32),
    }
    whole = write_ct2(tmp_path / "model.bin", variables, {"b/bias": "a/bias"})
    data = whole.read_bytes()
    cut = data.index(variables["a/weight"].tobytes()) + 5  # inside a tensor
    (tmp_path / "p1").write_bytes(data[:cut])
    (tmp_path / "p2").write_bytes(data[cut:])
    for source in (whole, [tmp_path / "p1", tmp_path / "p2"]):
        model = read_ct2_model(source)
        assert (model.spec, model.revision, model.binary_version) == ("TestSpec", 2, 6)
        assert set(model.variables) == set(variables)
        for name, value in variables.items():
            np.testing.assert_array_equal(model.variables[name], value)
        np.testing.assert_array_equal(model.get("b/bias"), variables["a/bias"])
        assert int(model.get("heads")) == 8
        np.testing.assert_allclose(model.float32("q/weight"), [[1, -64 / 127], [10 / 12.7, -10]])
    skipped = read_ct2_model(whole, keep=lambda name: name.startswith("a/"))
    assert set(skipped.variables) == {"a/weight", "a/bias"}


def test_parser_rejects_truncated_and_foreign_files(tmp_path: Path) -> None:
    whole = write_ct2(tmp_path / "model.bin", {"x": np.ones(10, np.float32)}, {})
    (tmp_path / "short.bin").write_bytes(whole.read_bytes()[:-20])
    with pytest.raises(ModelError, match="truncated"):
        read_ct2_model(tmp_path / "short.bin")
    (tmp_path / "other.bin").write_bytes(b"PK\x03\x04" + bytes(60))
    with pytest.raises(ModelError, match="binary version"):
        read_ct2_model(tmp_path / "other.bin")
    with pytest.raises(ModelError, match="does not exist"):
        read_ct2_model(tmp_path / "missing.bin")


def test_parser_matches_ctranslate2_writer_and_int8_scales(tmp_path: Path) -> None:
    specs = pytest.importorskip("ctranslate2.specs")

    class Tiny(specs.model_spec.ModelSpec):
        def __init__(self) -> None:
            super().__init__()
            self.linear = specs.common_spec.LinearSpec()
            self.conv = specs.common_spec.Conv1DSpec()

        @property
        def name(self) -> str:
            return "TinySpec"

    rng = np.random.default_rng(1)
    spec = Tiny()
    linear, conv = rng.standard_normal((6, 5)), rng.standard_normal((4, 3, 3))
    spec.linear.weight, spec.linear.bias = linear.astype(np.float32), np.zeros(6, np.float32)
    spec.conv.weight, spec.conv.bias = conv.astype(np.float32), np.zeros(4, np.float32)
    spec.validate()
    spec.optimize("int8")
    spec.save(str(tmp_path))
    model = read_ct2_model(tmp_path / "model.bin")
    assert model.spec == "TinySpec"
    assert model.get("linear/weight").dtype == np.int8
    for name, original in (("linear/weight", linear), ("conv/weight", conv)):
        rows = np.abs(original.reshape(original.shape[0], -1)).max(axis=1)
        error = np.abs(model.float32(name) - original).reshape(original.shape[0], -1)
        assert np.all(error <= rows[:, None] / 127 * 0.51)


def test_parser_reads_real_encoder_variables(whisper_files: ModelFiles) -> None:
    model = read_ct2_model(whisper_files.parts)
    assert model.spec == "WhisperSpec"
    assert model.get("encoder/conv1/weight").shape == (512, 80, 3)
    assert model.get("encoder/conv2/weight").shape == (512, 512, 3)
    assert model.get("encoder/position_encodings/encodings").shape == (1500, 512)
    assert int(model.get("encoder/num_heads")) == 8
    assert model.get("encoder/layer_5/self_attention/linear_0/weight").shape == (1536, 512)
    assert model.get("encoder/layer_5/ffn/linear_0/weight").shape == (2048, 512)
    assert not model.has("encoder/layer_6/ffn/linear_0/weight")


# ---------------------------------------------------------------- weights


def test_sha_mismatch_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOVOX_CACHE", str(tmp_path / "cache"))
    fake = tmp_path / "model.bin"
    fake.write_bytes(b"not really a model")
    with pytest.raises(ModelError, match="do not match their pinned checksum"):
        locate(path=fake, sha256="0" * 64)
    files = locate(path=tmp_path)  # a folder with model.bin; sha reported, not enforced
    assert files.parts == (fake,) and not files.verified and len(files.sha256) == 64
    assert locate(path=fake, sha256=files.sha256).verified
    cached = json.loads((tmp_path / "cache" / "whisper" / "sha256.json").read_text())
    assert files.sha256 in cached.values()


def test_pinned_wheel_sha_is_enforced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOVOX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(weights_module.MODEL_ENV, raising=False)
    for name, content in (("fakewhisper_a", b"first half|"), ("fakewhisper_b", b"second half")):
        (tmp_path / name / "data").mkdir(parents=True)
        (tmp_path / name / "__init__.py").write_text("")
        (tmp_path / name / "data" / "model.bin.part").write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path))
    source = weights_module.WheelSource(
        name="fakewhisper",
        model="fake",
        parts=(("fakewhisper_a", "data/model.bin.part"), ("fakewhisper_b", "data/model.bin.part")),
        sha256="f" * 64,
        size=22,
    )
    monkeypatch.setattr(weights_module, "KNOWN_SOURCES", (source,))
    with pytest.raises(ModelError, match="pinned checksum"):
        locate("fake")
    right = hashlib.sha256(b"first half|second half").hexdigest()
    monkeypatch.setattr(
        weights_module, "KNOWN_SOURCES", (source.__class__(**{**source.__dict__, "sha256": right}),)
    )
    files = locate("fake")
    assert files.verified and files.sha256 == right and len(files.parts) == 2


def test_missing_weights_tell_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(weights_module.MODEL_ENV, raising=False)
    source = weights_module.WheelSource(
        "nothing", "base", (("no_such_module_xyz", "m.bin"),), "0", 1
    )
    monkeypatch.setattr(weights_module, "KNOWN_SOURCES", (source,))
    with pytest.raises(ModelError, match=r"pip install 'emovox\[whisper\]'"):
        locate("base")
    with pytest.raises(ModelError, match="does not exist"):
        locate(path="/no/such/whisper/model")


def test_hub_download_is_optional_and_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hf:ORG/NAME`` goes through huggingface_hub (faked here: no network in tests)."""
    import sys
    import types

    monkeypatch.setenv("EMOVOX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(weights_module.MODEL_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # not installed
    with pytest.raises(ModelError, match=r"pip install 'emovox\[hub\]'"):
        locate(path="hf:Systran/faster-whisper-base")
    with pytest.raises(ModelError, match="not a Hub model id"):
        locate(path="hf:faster-whisper-base")

    calls = []
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "model.bin").write_bytes(b"weights from the hub")

    def snapshot_download(*, repo_id: str, allow_patterns: list[str]) -> str:
        calls.append((repo_id, allow_patterns))
        if repo_id == "Systran/offline":
            raise OSError("no network")
        return str(snapshot)

    hub = types.ModuleType("huggingface_hub")
    hub.snapshot_download = snapshot_download  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    monkeypatch.setenv(weights_module.MODEL_ENV, "hf:Systran/faster-whisper-small")
    files = locate("base")
    assert files.parts == (snapshot / "model.bin",) and not files.verified
    assert calls == [("Systran/faster-whisper-small", ["model.bin", "config.json"])]
    with pytest.raises(ModelError, match="Offline, use the packaged weights"):
        locate(path="hf:Systran/offline")


# ---------------------------------------------------------------- log-mel


def test_log_mel_shape_and_whisper_formula() -> None:
    signal = make_tone(duration=3.0)
    mel = log_mel(signal)
    assert mel.shape == (80, 300) and mel.dtype == np.float32
    longer = make_tone(duration=49_000 / 16_000)
    assert log_mel(longer).shape == (80, 308)  # padded to an even frame count
    assert n_frames(1) == 2
    x = torch.from_numpy(signal)
    stft = torch.stft(x, 400, 160, window=torch.hann_window(400), return_complex=True)
    power = stft[..., :-1].abs() ** 2
    ref = torch.clamp(torch.from_numpy(mel_filters()) @ power, min=1e-10).log10()
    ref = (torch.maximum(ref, ref.max() - 8.0) + 4.0) / 4.0
    np.testing.assert_allclose(mel, ref.numpy(), atol=1e-4)


# ---------------------------------------------------------------- encoder


def test_encoder_matches_ctranslate2(
    whisper_files: ModelFiles, fp32_encoder: WhisperEncoder, speechlike: np.ndarray
) -> None:
    ctranslate2 = pytest.importorskip("ctranslate2")
    blobs = {"model.bin": whisper_files.read_bytes()}
    for folder in whisper_files.data_dirs:
        for name in ("config.json", "vocabulary.txt", "vocabulary.json", "tokenizer.json"):
            if (folder / name).is_file():
                blobs[name] = (folder / name).read_bytes()
    model = ctranslate2.models.Whisper(
        "whisper-base", device="cpu", compute_type="float32", intra_threads=1, files=blobs
    )
    mel = log_mel(speechlike)
    ref = np.asarray(model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True))
    with torch.inference_mode():
        states = fp32_encoder(torch.from_numpy(mel)[None])
    assert len(states) == 7 and ref.shape == states[-1].shape == (1, 150, 512)
    assert np.abs(states[-1].numpy() - ref).max() < 5e-3  # measured 1.2e-3 (|ref| up to 24)


def test_encoder_stops_early_and_rejects_too_long(fp32_encoder: WhisperEncoder) -> None:
    mel = torch.zeros(1, 80, 40)
    with torch.inference_mode():
        full = fp32_encoder(mel)
        early = fp32_encoder(mel, num_layers=4)
        with pytest.raises(ValueError, match="chunk"):
            fp32_encoder(torch.zeros(1, 80, 3002))
    assert len(early) == 5
    torch.testing.assert_close(early[4], full[4])


# ---------------------------------------------------------------- extractor


def test_extractor_config_round_trip_and_dims(fp32_encoder: WhisperEncoder, speechlike) -> None:
    extractor = make_extractor({"name": "whisper", "quantize": "none"})
    assert isinstance(extractor, WhisperEmbedding)
    config = extractor.config()
    assert config["layers"] == [3, 4, 5, 6] and config["pooling"] == "meanstd"
    assert make_extractor(json.loads(json.dumps(config))) == extractor
    vector = extractor(speechlike)
    assert vector.shape == (4 * 1024,) == (extractor.dim,) and vector.dtype == np.float32
    frames = extractor.layer_frames(speechlike)
    assert frames.shape == (4, 150, 512)
    np.testing.assert_allclose(pool(frames), vector)
    mean_all = WhisperEmbedding(layers="all", pooling="mean", quantize="none")
    assert mean_all(speechlike).shape == (6 * 512,)
    np.testing.assert_allclose(mean_all.layer_frames(speechlike)[2:], frames, atol=1e-5)


def test_extractor_rejects_bad_parameters(fp32_encoder: WhisperEncoder) -> None:
    for bad in (
        {"layers": []},
        {"layers": [1, 1]},
        {"layers": "some"},
        {"pooling": "max"},
        {"quantize": "int4"},
        {"max_seconds": 0},
        {"max_seconds": 31},
        {"layers": [-1]},
    ):
        with pytest.raises(EmovoxError):
            WhisperEmbedding(**bad)
    with pytest.raises(EmovoxError, match="6 encoder layers"):
        WhisperEmbedding(layers=[7], quantize="none")(make_tone())


def test_chunking_long_input(fp32_encoder: WhisperEncoder) -> None:
    assert chunk_bounds(40_000, 16_000) == [(0, 13_440), (13_440, 26_880), (26_880, 40_000)]
    assert chunk_bounds(1000, 480_000) == [(0, 1000)]
    signal = make_tone(duration=2.5)
    chunked = WhisperEmbedding(max_seconds=1.0, quantize="none")
    frames = chunked.layer_frames(signal)
    assert frames.shape == (4, 125, 512)  # 50 frames per second, across 3 chunks
    whole = WhisperEmbedding(quantize="none")
    assert chunked(signal).shape == whole(signal).shape


def test_int8_default_stays_close_to_float32(fp32_encoder: WhisperEncoder, speechlike) -> None:
    assert outlier_linears(fp32_encoder) == {f"layers.{i}.fc2" for i in (3, 4, 5)}
    exact = WhisperEmbedding(quantize="none")(speechlike)
    fast = WhisperEmbedding()(speechlike)
    assert float(exact @ fast / np.linalg.norm(exact) / np.linalg.norm(fast)) > 0.99


def test_threads_share_one_encoder_and_get_sequential_embeddings(
    whisper_files: ModelFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread pool (web server, Dask) loads the encoder once, and each thread's embedding
    equals the one computed alone; torch's thread count is back afterwards."""
    from emovox.features.whisper import ct2_format
    from emovox.features.whisper import extractor as extractor_module

    reads, quantized = [], []
    real_read, real_quantize = ct2_format.read_ct2_model, extractor_module._quantize_int8

    def counting_read(*args, **kwargs):
        reads.append(1)
        return real_read(*args, **kwargs)

    def counting_quantize(encoder):
        quantized.append(1)
        return real_quantize(encoder)

    monkeypatch.setattr(ct2_format, "read_ct2_model", counting_read)
    monkeypatch.setattr(extractor_module, "_quantize_int8", counting_quantize)
    extractor_module.clear_cache()
    # Two thread counts, neither the process's: their sections take turns and restore it.
    shared = [WhisperEmbedding(threads=1), WhisperEmbedding(threads=2)]
    signals = [make_tone(duration=1.0, freq=140.0 + 35 * i, seed=i) for i in range(8)]
    n = len(signals)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        start = threading.Barrier(n, timeout=30)

        def run(i: int) -> np.ndarray:
            start.wait()
            return shared[i % 2](signals[i])

        with ThreadPoolExecutor(n) as pool:
            together = list(pool.map(run, range(n)))
        assert (len(reads), len(quantized)) == (1, 1)  # one read, one quantization
        assert torch.get_num_threads() == 3
        seen = []
        probe = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        probe.start()
        probe.join()
        assert seen == [3]  # the process-wide count new threads start with
        alone = [shared[i % 2](signals[i]) for i in range(n)]
    finally:
        torch.set_num_threads(before)
    for got, want in zip(together, alone, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert len({float(v[0]) for v in alone}) == n  # the signals really differ


def test_log_mel_does_not_depend_on_the_blas_thread_count() -> None:
    """The same audio gives the same features whatever the machine's core count (a float32
    BLAS product rounds differently with its thread count; the int8 encoder amplified that
    to 0.03 in a probability)."""
    from threadpoolctl import threadpool_limits

    from emovox.features.whisper.log_mel import log_mel, mel_filters

    rng = np.random.default_rng(0)
    signal = (0.1 * rng.standard_normal(16_000 * 3)).astype(np.float32)
    with threadpool_limits(1):
        one = log_mel(signal)
    with threadpool_limits(2):
        two = log_mel(signal)
    np.testing.assert_array_equal(one, two)
    # Still the filter bank's product: the mel energies equal a float64 matrix product.
    from emovox.features.whisper.log_mel import _mel_energies

    power = rng.random((300, 201), dtype=np.float32)
    expected = mel_filters().astype(np.float64) @ power.T.astype(np.float64)
    np.testing.assert_allclose(_mel_energies(power, 80), expected, rtol=1e-5)
