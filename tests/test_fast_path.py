"""The fast prediction path: linear head folding, the ONNX Whisper encoder, the recognizer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from conftest import REPO_ROOT, make_tone, write_tone
from emovox.errors import ModelError, ParameterError
from emovox.features.cache import default_cache_dir
from emovox.linear_head import LinearHead, collapse_linear
from emovox.models.embedding_head import (
    LayerSelect,
    SpeakerCVSelect,
    TemperatureScaled,
    layer_logreg,
)

USER_FEATURE_CACHE = default_cache_dir()
"""The real feature cache, read before any fixture points $EMOVOX_CACHE elsewhere."""

HEAVY = ("torch", "sklearn", "scipy", "librosa", "skops", "numba")

# ---------------------------------------------------------------- collapse_linear


def _data(n_classes: int, *, n: int = 160, blocks: int = 3, width: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.array([f"c{i % n_classes}" for i in range(n)])
    X = rng.standard_normal((n, blocks * width)) * rng.uniform(0.5, 20, blocks * width)
    X += rng.uniform(-5, 5, blocks * width)
    X[:, :width] += (np.arange(n) % n_classes)[:, None] * 0.8
    groups = (np.arange(n) // 10) % 8  # every speaker has every class
    return X, y, groups


@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_collapsed_pipeline_matches_predict_proba(n_classes: int) -> None:
    X, y, _ = _data(n_classes)
    model = layer_logreg(layers=(1, 3), n_layers=3, C=0.5).fit(X, y)
    head = collapse_linear(model)
    assert head is not None and head.link == "softmax" and head.temperature is None
    assert list(head.classes_) == list(model.classes_) and head.n_features_in_ == X.shape[1]
    assert np.all(head.weight[:, 6:12] == 0)  # layer 2 is not selected
    tests = [X, 3 * np.random.default_rng(1).standard_normal(X.shape)]
    for test in tests:
        np.testing.assert_allclose(head.predict_proba(test), model.predict_proba(test), atol=1e-9)
        assert np.array_equal(head.predict(test), model.predict(test))
    # float32 input: scikit-learn scales in float32, the head in float64
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(head.predict_proba(X32), model.predict_proba(X32), atol=1e-6)


def test_collapsed_temperature_scaled_selection_matches() -> None:
    X, y, groups = _data(4, n=240)
    candidates = [
        ("1-2", layer_logreg(layers=(1, 2), n_layers=3, C=0.1)),
        ("1-3", layer_logreg(layers=(1, 2, 3), n_layers=3, C=1.0)),
    ]
    model = TemperatureScaled(estimator=SpeakerCVSelect(candidates=candidates, n_splits=3))
    model.fit(X, y, groups=groups)
    head = collapse_linear(model)
    assert head is not None and head.temperature == pytest.approx(model.temperature_)
    extreme = 30 * np.random.default_rng(2).standard_normal((50, X.shape[1]))  # hits the clip
    for test in (X, extreme):
        np.testing.assert_allclose(head.predict_proba(test), model.predict_proba(test), atol=1e-9)
    plain = SpeakerCVSelect(candidates=candidates[:1]).fit(X, y)
    np.testing.assert_allclose(
        collapse_linear(plain).predict_proba(X), plain.predict_proba(X), atol=1e-9
    )


def test_bare_logistic_regression_and_passthrough_steps() -> None:
    X, y, _ = _data(3)
    bare = LogisticRegression(C=0.3, max_iter=500).fit(X, y)
    np.testing.assert_allclose(collapse_linear(bare).predict_proba(X), bare.predict_proba(X))
    piped = Pipeline([("skip", "passthrough"), ("clf", LogisticRegression(max_iter=500))])
    piped.fit(X, y)
    np.testing.assert_allclose(collapse_linear(piped).predict_proba(X), piped.predict_proba(X))
    for with_mean, with_std in ((False, True), (True, False)):
        scaler = StandardScaler(with_mean=with_mean, with_std=with_std)
        partial = Pipeline([("scale", scaler), ("clf", LogisticRegression(max_iter=2000))])
        partial.fit(X, y)
        np.testing.assert_allclose(
            collapse_linear(partial).predict_proba(X), partial.predict_proba(X), atol=1e-9
        )


def test_non_linear_or_unfitted_models_do_not_collapse() -> None:
    X, y, _ = _data(3)
    svm = Pipeline([("scale", StandardScaler()), ("svm", SVC())]).fit(X, y)
    assert collapse_linear(svm) is None
    assert collapse_linear(layer_logreg(layers=(1,), n_layers=3)) is None  # unfitted
    assert collapse_linear(TemperatureScaled(estimator=LogisticRegression())) is None
    assert collapse_linear(LayerSelect(n_layers=3, layers=(1,)).fit(X)) is None
    assert collapse_linear("not a model") is None


def test_one_vs_rest_link_normalises_sigmoids() -> None:
    head = LinearHead(
        weight=np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]),
        bias=np.zeros(3),
        classes=np.array(["a", "b", "c"]),
        link="ovr",
    )
    X = np.array([[0.5, -2.0], [-800.0, -800.0]])
    sig = 1 / (1 + np.exp(-(X[:1] @ head.weight.T)))
    np.testing.assert_allclose(head.predict_proba(X)[0], sig[0] / sig[0].sum())
    assert np.all(np.isfinite(head.predict_proba(X))) and head.predict_proba(X).sum(1) == (
        pytest.approx([1, 1])
    )


def test_head_save_load_round_trip_and_tamper_checks(tmp_path: Path) -> None:
    X, y, _ = _data(3)
    head = collapse_linear(layer_logreg(layers=(2, 3), n_layers=3).fit(X, y))
    head = LinearHead(head.weight, head.bias, head.classes, temperature=1.7)
    head.save(tmp_path, source={"model_sha256": "abc"})
    description = json.loads((tmp_path / "head.json").read_text())
    assert description["source"] == {"model_sha256": "abc"} and description["temperature"] == 1.7
    again = LinearHead.load(tmp_path)
    np.testing.assert_array_equal(again.predict_proba(X), head.predict_proba(X))
    assert list(again.classes) == list(head.classes)
    with pytest.raises(ParameterError, match="features per row"):
        head.predict_proba(X[:, :4])
    data = bytearray((tmp_path / "head.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "head.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256"):
        LinearHead.load(tmp_path)
    (tmp_path / "head.json").write_text("{")
    with pytest.raises(ModelError, match="JSON"):
        LinearHead.load(tmp_path)
    with pytest.raises(ParameterError):
        LinearHead(np.zeros((2, 3)), np.zeros(3), np.array(["a", "b"]))


# ---------------------------------------------------------------- ONNX encoder


def test_int8_rewrite_reproduces_torch_dynamic_linear(tmp_path: Path) -> None:
    """The ONNX int8 arithmetic equals torch's dynamic quantized Linear (no weights needed)."""
    import warnings

    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    from emovox.features.whisper.extractor import _int8_engine
    from emovox.features.whisper.onnx_int8 import rewrite_int8

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(96, 40)).eval()
    path = tmp_path / "linear.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (torch.zeros(1, 7, 96),),
            str(path),
            input_names=["x"],
            dynamic_axes={"x": {1: "t"}},
            dynamo=False,
        )
        previous = torch.backends.quantized.engine
        torch.backends.quantized.engine = _int8_engine()
        try:
            quantized = quantize_dynamic(net, {torch.nn.Linear: per_channel_dynamic_qconfig})
        finally:
            torch.backends.quantized.engine = previous
    model = onnx.load(str(path))
    (matmul,) = [node.name for node in model.graph.node if node.op_type == "MatMul"]
    weight = quantized[0].weight()
    pair = (weight.int_repr().numpy(), weight.q_per_channel_scales().numpy().astype(np.float32))
    assert rewrite_int8(model, {matmul: pair}) == 1
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for x in (
        rng.standard_normal((1, 150, 96)) * 2 + 0.3,
        np.abs(rng.standard_normal((1, 33, 96))),  # no negative values: zero point 0
        np.where(rng.random((1, 20, 96)) < 0.01, 80.0, rng.standard_normal((1, 20, 96))),
    ):
        x = x.astype(np.float32)
        with torch.inference_mode():
            expected = quantized(torch.from_numpy(x)).numpy()
        got = session.run(None, {"x": x})[0]
        assert np.abs(got - expected).max() < 1e-5 * max(1.0, np.abs(expected).max())
        with torch.inference_mode():
            exact = net(torch.from_numpy(x)).numpy()
        assert np.abs(got - exact).max() > 1e-4  # and it is really quantized


WHISPER_FAST = {"name": "whisper", "layers": "all", "quantize": "none"}


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory):
    """A throwaway cache (so the build is exercised) and the installed Whisper weights."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from emovox.features.whisper import onnx_encoder, weights

    cache = tmp_path_factory.mktemp("emovox-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(weights.MODEL_ENV, raising=False)
        patch.setenv(weights.CACHE_ENV, str(cache))
        try:
            weights.locate("base")
        except ModelError as exc:
            pytest.skip(f"Whisper base weights not installed: {exc}")
        onnx_encoder.clear_cache()
        yield cache
        onnx_encoder.clear_cache()


@pytest.fixture
def speechlike() -> np.ndarray:
    rng = np.random.default_rng(3)
    tone = make_tone(duration=2.0, freq=180.0)
    return np.concatenate(
        [0.002 * rng.standard_normal(8000), tone, 0.03 * rng.standard_normal(8000)]
    ).astype(np.float32)


def _same(a, b, *, atol: float = 1e-9) -> bool:
    """Two predictions with the same label and probabilities within ``atol``."""
    return a.label == b.label and all(
        abs(a.probabilities[k] - b.probabilities[k]) <= atol for k in a.probabilities
    )


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_onnx_encoder_matches_torch_fp32(onnx_cache: Path, speechlike, capfd) -> None:
    import torch

    from emovox.features.whisper import load_encoder, log_mel, onnx_encoder

    onnx = onnx_encoder.load_onnx_encoder(quantize="none")
    assert onnx_encoder.BUILD_MESSAGE in capfd.readouterr().err
    assert onnx.path.parent == onnx_cache / "whisper" / "onnx" and onnx.info.n_layers == 6
    torch_encoder = load_encoder(quantize="none")
    for signal in (speechlike, speechlike[:20_900]):  # 3 s, and an odd length (dynamic axis)
        mel = log_mel(signal)
        with torch.inference_mode():
            expected = torch.stack([s[0] for s in torch_encoder(torch.from_numpy(mel)[None])])
        states = onnx(mel)
        assert states.shape == tuple(expected.shape)
        for got, want in zip(states, expected.numpy(), strict=True):
            assert _cosine(got, want) > 0.999
    # the cached file is reused by the next process (here: after forgetting the session)
    stamp = onnx.path.stat().st_mtime_ns
    onnx_encoder.clear_cache()
    assert onnx_encoder.load_onnx_encoder(quantize="none").path.stat().st_mtime_ns == stamp
    assert onnx_encoder.BUILD_MESSAGE not in capfd.readouterr().err


def test_onnx_embedding_equals_reference_config_and_chunking(onnx_cache: Path, speechlike):
    from emovox.features import make_extractor
    from emovox.features.whisper.onnx_encoder import OnnxWhisperEmbedding

    for config in (
        {**WHISPER_FAST, "layers": [0, 2, 6]},
        {**WHISPER_FAST, "pooling": "mean", "max_seconds": 1.0},
    ):
        reference = make_extractor(config)
        fast = OnnxWhisperEmbedding(reference)
        assert fast.config() == reference.config()
        got, want = fast(speechlike), reference(speechlike)
        assert got.shape == want.shape == (fast.dim,) and _cosine(got, want) > 0.9999


def test_damaged_onnx_cache_is_rebuilt(onnx_cache: Path, capfd) -> None:
    from emovox.features.whisper import onnx_encoder

    path = onnx_encoder.load_onnx_encoder(quantize="none").path
    path.write_bytes(b"not an onnx file")
    onnx_encoder.clear_cache()
    capfd.readouterr()
    rebuilt = onnx_encoder.load_onnx_encoder(quantize="none")
    assert onnx_encoder.BUILD_MESSAGE in capfd.readouterr().err
    assert rebuilt.info.variant == "fp32" and path.stat().st_size > 1_000_000
    onnx_encoder.clear_cache()
    aside = path.rename(path.with_suffix(".aside"))
    try:
        with pytest.raises(ModelError, match="No usable ONNX encoder"):
            onnx_encoder.load_onnx_encoder(quantize="none", build=False)
    finally:
        aside.rename(path)


def test_a_build_that_cannot_write_fails_in_one_sentence_without_announcing_it(
    onnx_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd
) -> None:
    """The build message used to be printed before the folder was tried, on every run."""
    from emovox.features.whisper import onnx_encoder

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "whisper" / "onnx" / "encoder.onnx"
    monkeypatch.setattr(onnx_encoder, "cache_path", lambda files, variant: target)
    onnx_encoder.clear_cache()
    capfd.readouterr()
    with pytest.raises(ModelError, match="Cannot build the fast ONNX encoder") as info:
        onnx_encoder.load_onnx_encoder(quantize="none")
    message = str(info.value)
    assert "\n" not in message and "Not a directory" in message and "EMOVOX_CACHE" in message
    assert onnx_encoder.BUILD_MESSAGE not in capfd.readouterr().err


def test_threads_share_one_onnx_session(
    onnx_cache: Path, speechlike, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from emovox.features import make_extractor
    from emovox.features.whisper import onnx_encoder
    from emovox.features.whisper.onnx_encoder import OnnxWhisperEmbedding

    opened = []

    class Counting(onnx_encoder.OnnxWhisperEncoder):
        def __init__(self, *args, **kwargs) -> None:
            opened.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(onnx_encoder, "OnnxWhisperEncoder", Counting)
    onnx_encoder.clear_cache()
    reference = make_extractor(WHISPER_FAST)
    rng = np.random.default_rng(5)
    signals = [speechlike + 0.01 * rng.standard_normal(speechlike.size) for _ in range(6)]
    signals = [signal.astype(np.float32) for signal in signals]
    start = threading.Barrier(len(signals), timeout=30)

    def run(signal: np.ndarray) -> tuple[object, np.ndarray]:
        start.wait()
        fast = OnnxWhisperEmbedding(reference)
        return fast.encoder, fast(signal)

    with ThreadPoolExecutor(len(signals)) as pool:
        results = list(pool.map(run, signals))
    assert len(opened) == 1
    assert all(encoder is results[0][0] for encoder, _ in results)
    alone = OnnxWhisperEmbedding(reference)
    for (_, got), signal in zip(results, signals, strict=True):
        np.testing.assert_allclose(got, alone(signal), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_onnx_int8_tracks_the_torch_int8_reference(onnx_cache: Path, speechlike) -> None:
    from emovox.features import make_extractor
    from emovox.features.whisper.onnx_encoder import OnnxWhisperEmbedding

    exact = make_extractor(WHISPER_FAST)(speechlike)
    reference = make_extractor({**WHISPER_FAST, "quantize": "int8"})
    fast = OnnxWhisperEmbedding(reference)(speechlike)
    assert _cosine(fast, reference(speechlike)) > 0.9995  # measured 0.99998
    assert _cosine(fast, exact) > 0.99


# ---------------------------------------------------------------- recognizer


@pytest.fixture(scope="module")
def tone_model(onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Whisper + layer_logreg recognizer trained on tones (fp32 encoder), saved."""
    from emovox.corpora import load_corpus
    from emovox.recognizer import Recognizer

    root = tmp_path_factory.mktemp("tones")
    lines = ["path,label,speaker"]
    for s in range(3):
        for i in range(3):
            for label, freq in (("anger", 520.0), ("sad", 130.0), ("neutral", 240.0)):
                name = f"s{s}_{label}_{i}.wav"
                write_tone(root / name, freq=freq * (1 + 0.04 * i), duration=1.0, seed=s * 9 + i)
                lines.append(f"{name},{label},spk{s}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    table = load_corpus("manifest", root / "manifest.csv")
    recognizer = Recognizer.train(
        table,
        features=WHISPER_FAST,
        classifier="layer_logreg",
        params={"layers": [1, 2, 3, 4, 5, 6]},
    )
    return recognizer.save(tmp_path_factory.mktemp("model") / "tones")


def test_recognizer_takes_the_fast_path_and_agrees(tone_model: Path, tmp_path: Path) -> None:
    from emovox.linear_head import LinearHead
    from emovox.recognizer import Recognizer

    assert (tone_model / "head.safetensors").is_file() and (tone_model / "head.json").is_file()
    meta = json.loads((tone_model / "emovox.json").read_text())
    assert len(meta["encoder_weights"]["sha256"]) == 64, "the encoder weights are recorded"
    fast = Recognizer.load(tone_model)
    reference = Recognizer.load(tone_model, fast=False)
    assert fast.fast and isinstance(fast.model, LinearHead) and not reference.fast
    for freq in (125.0, 250.0, 530.0):
        signal = make_tone(freq=freq, seed=int(freq))
        a = fast.predict(signal, sample_rate=16_000)
        b = reference.predict(signal, sample_rate=16_000)
        assert _same(a, b, atol=1e-3)
    # a fast recognizer saves a complete model folder (the fitted model's files are copied)
    copy = fast.save(tmp_path / "copy")
    assert Recognizer.load(copy, fast=False).predict(signal, sample_rate=16_000).label == b.label
    assert Recognizer.load(copy, fast=True).fast


def test_stale_or_missing_head_is_folded_at_load(tone_model: Path, tmp_path: Path) -> None:
    import shutil

    from emovox.recognizer import Recognizer

    folder = Path(shutil.copytree(tone_model, tmp_path / "m"))
    description = json.loads((folder / "head.json").read_text())
    description["source"]["model_sha256"] = "0" * 64
    (folder / "head.json").write_text(json.dumps(description))
    signal = make_tone(freq=250.0)
    expected = Recognizer.load(tone_model).predict(signal, sample_rate=16_000)
    stale = Recognizer.load(folder)
    assert stale.fast and _same(stale.predict(signal, sample_rate=16_000), expected)
    for name in ("head.json", "head.safetensors"):
        (folder / name).unlink()
    missing = Recognizer.load(folder)
    assert missing.fast and _same(missing.predict(signal, sample_rate=16_000), expected)


def test_fast_true_refuses_models_it_cannot_serve(tmp_path: Path) -> None:
    from emovox.corpora import load_corpus
    from emovox.recognizer import Recognizer

    lines = ["path,label,speaker"]
    for i in range(6):
        for label, freq in (("anger", 600.0), ("sad", 120.0)):
            write_tone(tmp_path / f"{label}{i}.wav", freq=freq * (1 + 0.02 * i), seed=i)
            lines.append(f"{label}{i}.wav,{label},spk{i % 3}")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    table = load_corpus("manifest", tmp_path / "manifest.csv")
    stats = Recognizer.train(table, features={"name": "stats"}, classifier="logreg")
    folder = stats.save(tmp_path / "stats")
    assert not (folder / "head.json").exists()  # only Whisper models carry a folded head
    assert not Recognizer.load(folder).fast
    with pytest.raises(ModelError, match="Whisper features"):
        Recognizer.load(folder, fast=True)


def test_fresh_process_predicts_without_torch_or_sklearn(tone_model: Path, tmp_path: Path):
    wav = write_tone(tmp_path / "clip.wav", freq=250.0, duration=3.0)
    script = (
        "import json, sys\n"
        "from emovox.recognizer import Recognizer\n"
        f"r = Recognizer.load({str(tone_model)!r})\n"
        f"p = r.predict({str(wav)!r})\n"
        f"print(json.dumps([r.fast, p.label, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    fast, label, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert fast and label in {"anger", "sad", "neutral"} and heavy == [], heavy


def test_read_only_home_builds_into_a_temp_folder_and_later_runs_are_quiet(
    tone_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd
) -> None:
    """$HOME cannot be written (below a file: root cannot either) and no cache variable is
    set: the encoder is built once into the per-user temporary folder, and a later process
    takes the fast path with one warning line on stderr: no "(once)", no escape codes."""
    import tempfile

    import emovox
    from emovox import cache_root
    from emovox.features.whisper import onnx_encoder

    blocker = tmp_path / "blocker"
    blocker.write_text("HOME points below this file")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"EMOVOX_CACHE", "XDG_CACHE_HOME", onnx_encoder.TELEMETRY_ENV}
    }
    env |= {"HOME": str(blocker / "home"), "TMPDIR": str(temp)}
    env["PYTHONPATH"] = str(Path(emovox.__file__).parents[1])  # the emovox under test
    for key in ("EMOVOX_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", env["HOME"])
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    cache_root.forget()
    onnx_encoder.clear_cache()
    capfd.readouterr()
    built = onnx_encoder.load_onnx_encoder(quantize="none")  # the model's fp32 encoder
    fallback = temp / f"emovox-cache-{os.getuid()}"
    assert built.path.parent == fallback / "whisper" / "onnx"
    assert onnx_encoder.BUILD_MESSAGE in capfd.readouterr().err
    onnx_encoder.clear_cache()
    wav = write_tone(tmp_path / "clip.wav", freq=250.0, duration=1.0)
    script = (
        "import json\n"
        "from emovox.audio import load_audio\n"
        "from emovox.recognizer import Recognizer\n"
        f"r = Recognizer.load({str(tone_model)!r})\n"
        f"p = r.model.predict_proba(r.extractor(load_audio({str(wav)!r}))[None])\n"
        "print(json.dumps([r.fast, float(p.sum())]))\n"
    )
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        fast, total = json.loads(done.stdout.strip().splitlines()[-1])
        assert fast and total == pytest.approx(1.0)
        (line,) = done.stderr.strip().splitlines()  # one warning line, nothing else
        assert "\x1b" not in line and onnx_encoder.BUILD_MESSAGE not in line
        assert str(fallback) in line and "EMOVOX_CACHE" in line


# ---------------------------------------------------------------- real speech


@pytest.mark.corpus
@pytest.mark.slow
def test_fast_path_agrees_with_reference_on_ravdess(corpus_root, tmp_path: Path) -> None:
    """layer_logreg on Whisper layers 1-6 (int8), trained on 8 actors, 20 files of others.

    The int8 reference is itself sensitive on unseen speakers: a -100 dBFS dither flips
    about 8 % of its labels (measured on 89 files; float32 features flip 9 %). The fast
    path must agree with it at least as well as the dithered reference does.
    """
    pytest.importorskip("onnxruntime")
    from emovox.audio import load_audio
    from emovox.corpora import load_corpus
    from emovox.features import FeatureCache
    from emovox.features.whisper import onnx_encoder, weights
    from emovox.recognizer import Recognizer

    try:
        weights.locate("base")
    except ModelError as exc:
        pytest.skip(f"Whisper base weights not installed: {exc}")
    table = load_corpus("ravdess", corpus_root("ravdess"))
    actor = table["speaker"].astype(str)
    train_actors = sorted(actor.unique())[:8]
    recognizer = Recognizer.train(
        table[actor.isin(train_actors)],
        features={"name": "whisper", "layers": "all"},
        classifier="layer_logreg",
        params={"layers": [1, 2, 3, 4, 5, 6]},
        cache=FeatureCache(USER_FEATURE_CACHE),
    )
    folder = recognizer.save(tmp_path / "model")
    onnx_encoder.clear_cache()
    fast, reference = Recognizer.load(folder, fast=True), Recognizer.load(folder, fast=False)
    held_out = table[~actor.isin(train_actors)]["path"].tolist()[::25][:20]
    rng = np.random.default_rng(0)
    agree, agree_dither, worst = 0, 0, 0.0
    for path in held_out:
        signal = load_audio(path)
        dither = signal + 1e-5 * rng.standard_normal(signal.size).astype(np.float32)
        a = fast.predict(signal, sample_rate=16_000)
        b = reference.predict(signal, sample_rate=16_000)
        agree += a.label == b.label
        agree_dither += reference.predict(dither, sample_rate=16_000).label == b.label
        worst = max(worst, *(abs(a.probabilities[k] - b.probabilities[k]) for k in a.probabilities))
    message = f"fast {agree}/20, dithered reference {agree_dither}/20, max |dp| {worst:.3f}"
    assert agree >= max(18, agree_dither), message
