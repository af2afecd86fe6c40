"""The default head: layer selection, speaker-CV model choice, temperature scaling, safe IO."""

from __future__ import annotations

import numpy as np
import pytest

from emovox.errors import ParameterError
from emovox.models import fit_model, load_model, make_model, save_model
from emovox.models.embedding_head import LayerSelect, SpeakerCVSelect, TemperatureScaled


def embeddings(
    n_per_class: int = 24, n_layers: int = 6, block: int = 8, seed: int = 0, spacing: float = 2.0
):
    """Six layers of 8 features; only layer 5 carries the class (class centres ``spacing``
    apart on every feature of that layer), the rest is noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat(["anger", "happy", "sad"], n_per_class)
    X = rng.standard_normal((len(y), n_layers * block))
    centres = {"anger": 0.0, "happy": spacing, "sad": 2 * spacing}
    X[:, 4 * block : 5 * block] += np.array([centres[c] for c in y])[:, None]
    groups = np.tile(np.arange(6), len(y) // 6).astype(str)
    return X, y, groups


def test_layer_select_keeps_the_named_blocks():
    X = np.arange(12, dtype=float).reshape(1, 12)
    out = LayerSelect(n_layers=6, layers=(2, 6)).fit(X).transform(X)
    assert out.tolist() == [[2.0, 3.0, 10.0, 11.0]]
    with pytest.raises(ParameterError, match="outside"):
        LayerSelect(n_layers=6, layers=(7,)).fit(X)
    with pytest.raises(ParameterError, match="equal blocks"):
        LayerSelect(n_layers=5).fit(X)


def test_speaker_cv_select_prefers_the_informative_layer():
    X, y, groups = embeddings()
    candidates = [
        ("layer 1", make_model("layer_logreg", layers=[1])),
        ("layer 5", make_model("layer_logreg", layers=[5])),
    ]
    model = SpeakerCVSelect(candidates=candidates).fit(X, y, groups=groups)
    assert model.best_name_ == "layer 5"
    assert model.cv_scores_["layer 5"] > model.cv_scores_["layer 1"] + 0.3


def held_out_nll(model, X: np.ndarray, y: np.ndarray) -> float:
    p = model.predict_proba(X)[np.arange(len(y)), np.searchsorted(model.classes_, y)]
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


@pytest.mark.parametrize(
    ("C", "direction"),
    [(100.0, "soften"), (0.01, "sharpen")],  # barely regularised: overconfident; heavily: under
)
def test_temperature_scaling_calibrates_on_new_speakers(C, direction):
    X, y, groups = embeddings(spacing=1.3)  # overlapping classes: some answers are wrong
    X_new, y_new, _ = embeddings(spacing=1.3, seed=1)  # other rows, as unseen speakers
    scaled = TemperatureScaled(estimator=make_model("layer_logreg", layers=[5], C=C))
    scaled.fit(X, y, groups=groups)
    raw = fit_model(make_model("layer_logreg", layers=[5], C=C), X, y)
    if direction == "soften":
        assert scaled.temperature_ > 1.5
    else:
        assert scaled.temperature_ < 0.5
    # The temperature was chosen on held-out training speakers; it must also help on new
    # ones (raw held-out NLL: 0.51 with C=100, 0.69 with C=0.01; scaled: about 0.31, 0.30).
    assert held_out_nll(scaled, X_new, y_new) < 0.8 * held_out_nll(raw, X_new, y_new)
    # predict_proba is the refitted estimator's probabilities (floored at 1e-12) to the
    # power 1 / T, normalised: the ranking (so every label) is kept and rows sum to one.
    p_raw = np.clip(raw.predict_proba(X_new), 1e-12, 1.0) ** (1.0 / scaled.temperature_)
    p = scaled.predict_proba(X_new)
    np.testing.assert_allclose(p, p_raw / p_raw.sum(axis=1, keepdims=True), rtol=1e-6, atol=1e-9)
    assert (scaled.predict(X_new) == raw.predict(X_new)).all()


def test_whisper_head_fits_saves_and_loads(tmp_path):
    X, y, groups = embeddings()
    model = fit_model(make_model("whisper_head", Cs=(0.1,)), X, y, groups=groups)
    assert model.score(X, y) > 0.9
    save_model(model, tmp_path / "head")
    again = load_model(tmp_path / "head")
    assert np.allclose(again.predict_proba(X), model.predict_proba(X))
