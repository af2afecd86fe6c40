"""The default head: layer selection, speaker-CV model choice, temperature scaling, safe IO."""

from __future__ import annotations

import numpy as np
import pytest

from emovox.errors import ModelError
from emovox.models import fit_model, load_model, make_model, save_model
from emovox.models.embedding_head import LayerSelect, SpeakerCVSelect, TemperatureScaled


def embeddings(n_per_class: int = 24, n_layers: int = 6, block: int = 8, seed: int = 0):
    """Six layers of 8 features; only layer 5 carries the class, the rest is noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat(["anger", "happy", "sad"], n_per_class)
    X = rng.standard_normal((len(y), n_layers * block))
    centres = {"anger": 0.0, "happy": 2.0, "sad": 4.0}
    X[:, 4 * block : 5 * block] += np.array([centres[c] for c in y])[:, None]
    groups = np.tile(np.arange(6), len(y) // 6).astype(str)
    return X, y, groups


def test_layer_select_keeps_the_named_blocks():
    X = np.arange(12, dtype=float).reshape(1, 12)
    out = LayerSelect(n_layers=6, layers=(2, 6)).fit(X).transform(X)
    assert out.tolist() == [[2.0, 3.0, 10.0, 11.0]]
    with pytest.raises(ModelError, match="outside"):
        LayerSelect(n_layers=6, layers=(7,)).fit(X)
    with pytest.raises(ModelError, match="equal blocks"):
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


def test_temperature_scaling_keeps_the_ranking_and_sums_to_one():
    X, y, groups = embeddings()
    base = make_model("layer_logreg", layers=[5], C=100.0)
    scaled = TemperatureScaled(estimator=base).fit(X, y, groups=groups)
    raw = fit_model(make_model("layer_logreg", layers=[5], C=100.0), X, y).predict_proba(X)
    p = scaled.predict_proba(X)
    assert scaled.temperature_ > 0
    assert np.allclose(p.sum(axis=1), 1.0)
    assert (p.argmax(axis=1) == raw.argmax(axis=1)).all()


def test_whisper_head_fits_saves_and_loads(tmp_path):
    X, y, groups = embeddings()
    model = fit_model(make_model("whisper_head", Cs=(0.1,)), X, y, groups=groups)
    assert model.score(X, y) > 0.9
    save_model(model, tmp_path / "head")
    again = load_model(tmp_path / "head")
    assert np.allclose(again.predict_proba(X), model.predict_proba(X))
