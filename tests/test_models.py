"""emovox.models: the registry, the seed CNN's size, fitting, safe save/load, determinism."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import skops.io
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from emovox.errors import ModelError, ParameterError
from emovox.models import (
    MODELS,
    SeedCNNClassifier,
    count_parameters,
    fit_model,
    load_model,
    make_model,
    save_model,
    validation_split,
)
from emovox.models.seed_cnn import SeedCNN, feature_map_shape

CLASSES = np.array(["anger", "happy", "sad"])
SMALL_IMAGE = (39, 40)  # keeps CNN tests fast; the seed's 39 x 216 is only built, not trained
FAST_TORCH = {"max_epochs": 25, "patience": 25, "batch_size": 16, "lr": 3e-3}
MODEL_PARAMS: dict[str, dict] = {
    "rf": {"n_estimators": 30},
    "knn": {},
    "svm": {},
    "logreg": {},
    "mlp": {**FAST_TORCH, "hidden": (32,)},
    "seed_cnn": FAST_TORCH,
    "layer_logreg": {"layers": [1, 2, 3, 4, 5, 6], "C": 1.0},
    "whisper_head": {"Cs": (1.0,)},
}
SKLEARN_KINDS = {"rf", "knn", "svm", "logreg", "layer_logreg", "whisper_head"}


def separable_vectors(n_per_class: int = 20, seed: int = 0):
    """60 rows of 12 features (six 'layers' of 2), three well separated classes, six speakers."""
    rng = np.random.default_rng(seed)
    y = np.repeat(CLASSES, n_per_class)
    X = rng.normal(size=(len(y), 12))
    for k in range(len(CLASSES)):
        X[y == CLASSES[k], k] += 4.0
    groups = np.tile(np.arange(6), len(y) // 6 + 1)[: len(y)]
    return X, y, groups


def separable_images(n_per_class: int = 20, seed: int = 0, shape=SMALL_IMAGE):
    """MFCC-like images where each class raises its own band of coefficients."""
    rng = np.random.default_rng(seed)
    y = np.repeat(CLASSES, n_per_class)
    X = rng.normal(size=(len(y), *shape)).astype(np.float32)
    for k in range(len(CLASSES)):
        X[y == CLASSES[k], 10 * k : 10 * k + 8, :] += 1.5
    groups = np.tile(np.arange(6), len(y) // 6 + 1)[: len(y)]
    return X, y, groups


def data_for(name: str, seed: int = 0):
    return separable_images(seed=seed) if name == "seed_cnn" else separable_vectors(seed=seed)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Train on one thread (the test machine is shared), then restore the setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def fitted() -> dict:
    """One fitted model of every kind, shared by the tests below."""
    models = {}
    for name in MODELS:
        X, y, groups = data_for(name)
        model = make_model(name, seed=0, **MODEL_PARAMS[name])
        models[name] = fit_model(model, X, y, groups=groups)
    return models


# -- the seed CNN's size (acceptance) ---------------------------------------------------
def test_seed_cnn_for_39x216_and_7_classes_has_208111_trainable_and_192_bn_running_stats():
    network = SeedCNN(7, (39, 216))
    trainable, running = count_parameters(network)
    assert trainable == 208_111
    assert running == 192
    assert feature_map_shape((39, 216)) == (2, 190)
    assert network.head[1].in_features == 8 * 2 * 190 == 3040
    logits = network.eval()(torch.zeros(2, 39, 216))
    assert logits.shape == (2, 7)


def test_seed_cnn_rejects_inputs_too_small():
    with pytest.raises(ParameterError, match="at least 32 x 27"):
        SeedCNN(7, (20, 216))


# -- registry -------------------------------------------------------------------------
def test_registry_names_and_bad_requests():
    assert set(MODELS) == SKLEARN_KINDS | {"seed_cnn", "mlp"}
    assert make_model("knn")[-1].n_neighbors == 9
    assert make_model("rf", seed=3)[-1].random_state == 3
    assert make_model("seed_cnn", seed=5, max_epochs=7).get_params()["max_epochs"] == 7
    with pytest.raises(ParameterError, match="Unknown classifier 'xgb'"):
        make_model("xgb")
    with pytest.raises(ParameterError, match="Bad parameters"):
        make_model("mlp", no_such_option=1)


# -- fitting --------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_each_model_learns_a_separable_problem(fitted, name):
    model = fitted[name]
    X_new, y_new, _ = data_for(name, seed=1)  # unseen rows
    assert list(model.classes_) == list(CLASSES)
    proba = model.predict_proba(X_new)
    assert proba.shape == (len(X_new), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.mean(model.predict(X_new) == y_new) > 0.8  # chance is 1/3


@pytest.mark.parametrize("pooling", ["mean", "flatten"])
def test_classic_models_accept_mfcc_images(pooling):
    X, y, _ = separable_images(shape=(39, 6))
    model = fit_model(make_model("logreg", pooling=pooling), X, y)
    assert model.predict_proba(X).shape == (len(X), 3)
    assert np.mean(model.predict(X) == y) > 0.9
    with pytest.raises(ParameterError, match="trained on inputs of shape"):
        model.predict(X[:, :, :5])


def test_torch_models_check_their_input(fitted):
    cnn = fitted["seed_cnn"]
    with pytest.raises(ParameterError, match="3-D"):
        cnn.predict(np.zeros((2, 39)))
    with pytest.raises(ParameterError, match="trained on inputs of shape"):
        cnn.predict(np.zeros((2, 39, 41)))
    with pytest.raises(ParameterError, match="NaN"):
        fitted["mlp"].predict(np.full((1, 8), np.nan))
    with pytest.raises(ModelError, match="not fitted"):
        SeedCNNClassifier().predict(np.zeros((1, 39, 40)))


class RecordsGroups(ClassifierMixin, BaseEstimator):
    def fit(self, X, y, groups=None):
        self.groups_ = groups
        self.classes_ = np.unique(y)
        return self


class NoGroups(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self


class RecordsCV(ClassifierMixin, BaseEstimator):
    """A last pipeline step with an integer ``cv``, as the svm's calibration has."""

    def __init__(self, cv=5):
        self.cv = cv

    def fit(self, X, y):
        self.cv_seen_ = self.cv
        self.classes_ = np.unique(y)
        return self


def test_fit_model_passes_groups_only_where_fit_takes_them():
    X, y, groups = separable_vectors()
    assert fit_model(RecordsGroups(), X, y, groups=groups).groups_ is groups
    assert list(fit_model(NoGroups(), X, y, groups=groups).classes_) == list(CLASSES)
    svm = fit_model(make_model("svm"), X, y, groups=groups)
    assert svm[-1].cv == 5  # the grouped folds were used for fitting only
    # The cross-validating step was fitted with speaker-grouped folds, not its integer cv:
    # every training row's speaker is absent from that fold's validation rows.
    pipe = fit_model(Pipeline([("clf", RecordsCV(cv=4))]), X, y, groups=groups)
    folds = pipe[-1].cv_seen_
    assert pipe[-1].cv == 4 and not isinstance(folds, int) and len(folds) == 4
    assert sorted(np.concatenate([test for _, test in folds])) == list(range(len(y)))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    # Without speakers, the integer cv is left to the estimator.
    assert fit_model(Pipeline([("clf", RecordsCV(cv=4))]), X, y)[-1].cv_seen_ == 4


# -- validation split -----------------------------------------------------------------
def test_validation_split_by_group_never_shares_a_speaker():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 12, size=200)
    y = rng.integers(0, 4, size=200)
    for seed in range(5):
        train, val = validation_split(y, groups, fraction=0.25, seed=seed)
        assert len(val) > 0
        assert not set(groups[train]) & set(groups[val])
        assert sorted(np.concatenate([train, val])) == list(range(200))
    again = validation_split(y, groups, fraction=0.25, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(again, (train, val), strict=True))


def test_validation_split_without_groups_is_stratified():
    y = np.repeat([0, 1, 2], [40, 40, 20])
    _, val = validation_split(y, fraction=0.2, seed=0)
    assert np.bincount(y[val]).tolist() == [8, 8, 4]
    assert len(validation_split(y, fraction=0.0)[1]) == 0
    with pytest.raises(ParameterError, match="two speakers"):
        validation_split(y, np.zeros(len(y)), fraction=0.2)


# -- the CNN's training ---------------------------------------------------------------
def test_seed_cnn_is_deterministic_with_a_seed():
    X, y, groups = separable_images(n_per_class=10)
    params = {"max_epochs": 4, "patience": 4, "batch_size": 8}
    first = SeedCNNClassifier(seed=7, **params).fit(X, y, groups=groups)
    second = SeedCNNClassifier(seed=7, **params).fit(X, y, groups=groups)
    other = SeedCNNClassifier(seed=8, **params).fit(X, y, groups=groups)
    assert np.array_equal(first.predict_proba(X), second.predict_proba(X))
    assert first.history_ == second.history_
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))


def test_seed_cnn_early_stopping_restores_the_best_epoch():
    rng = np.random.default_rng(0)
    X, _, groups = separable_images(n_per_class=12)
    y = rng.permutation(np.repeat(CLASSES, 12))  # noise: validation loss soon rises
    model = SeedCNNClassifier(max_epochs=40, patience=2, batch_size=8, lr=1e-2, seed=0)
    model.fit(X, y, groups=groups)
    history = model.history_
    assert len(history) == model.n_epochs_ < 40
    assert [row["epoch"] for row in history] == list(range(1, model.n_epochs_ + 1))
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(history[0])
    val_losses = [row["val_loss"] for row in history]
    assert model.best_epoch_ == int(np.argmin(val_losses)) + 1
    assert model.n_epochs_ - model.best_epoch_ == 2
    # The kept weights are the best epoch's: recompute its validation loss.
    _, val = validation_split(y, groups, fraction=model.val_fraction, seed=model.seed)
    proba = model.predict_proba(X[val])
    truth = np.searchsorted(model.classes_, y[val])
    loss = -np.mean(np.log(proba[np.arange(len(val)), truth]))
    assert loss == pytest.approx(val_losses[model.best_epoch_ - 1], rel=1e-4)


def test_training_without_validation_keeps_the_last_epoch():
    X, y, _ = separable_vectors()
    model = make_model("mlp", val_fraction=0.0, max_epochs=3, hidden=(8,)).fit(X, y)
    assert model.n_epochs_ == model.best_epoch_ == 3
    assert model.history_[-1]["val_loss"] is None


# -- saving and loading ---------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_save_load_round_trip_gives_identical_probabilities(fitted, name, tmp_path):
    model = fitted[name]
    X, _, _ = data_for(name)
    save_model(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert type(loaded) is type(model)
    assert list(loaded.classes_) == list(model.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    description = json.loads((tmp_path / "model" / "model.json").read_text())
    assert description["kind"] == ("sklearn" if name in SKLEARN_KINDS else name)


def test_torch_save_format_is_safetensors_plus_json(fitted, tmp_path):
    save_model(fitted["seed_cnn"], tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"model.json", "weights.safetensors"}
    description = json.loads((tmp_path / "model.json").read_text())
    assert description["class"] == "SeedCNNClassifier"
    assert description["input_shape"] == list(SMALL_IMAGE)
    assert description["params"]["max_epochs"] == FAST_TORCH["max_epochs"]
    from safetensors.torch import load_file

    names = set(load_file(tmp_path / "weights.safetensors"))
    assert {"0.mean", "0.std", "1.features.1.running_mean", "1.head.2.running_var"} <= names


def rewrite_description(directory: Path, **changes) -> None:
    path = directory / "model.json"
    description = json.loads(path.read_text())
    description.update(changes)
    path.write_text(json.dumps(description))


def test_loading_a_skops_file_with_an_untrusted_type_fails_safely(fitted, tmp_path):
    save_model(fitted["logreg"], tmp_path)
    evil = Pipeline([("run", FunctionTransformer(os.system))])
    skops.io.dump(evil, tmp_path / "model.skops")
    digest = hashlib.sha256((tmp_path / "model.skops").read_bytes()).hexdigest()
    rewrite_description(tmp_path, sha256=digest)  # as if both files were replaced
    with pytest.raises(ModelError, match="does not trust"):
        load_model(tmp_path)


def test_loading_a_changed_payload_fails(fitted, tmp_path):
    save_model(fitted["rf"], tmp_path)
    payload = tmp_path / "model.skops"
    payload.write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match="changed or is damaged"):
        load_model(tmp_path)
    rewrite_description(tmp_path, sha256=hashlib.sha256(b"not a zip file").hexdigest())
    with pytest.raises(ModelError, match="not a readable skops file"):
        load_model(tmp_path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "model.json").unlink(), "no model.json"),
        (lambda d: (d / "model.json").write_text("{not json"), "not valid JSON"),
        (lambda d: rewrite_description(d, kind="pickle"), "unknown model kind 'pickle'"),
        (lambda d: rewrite_description(d, format_version=99), "upgrade emovox"),
        (lambda d: (d / "weights.safetensors").unlink(), "'weights.safetensors' is missing"),
        (lambda d: rewrite_description(d, params={"evil": 1}), "unknown parameters"),
        (lambda d: rewrite_description(d, input_shape=[40, 40]), "do not fit"),
    ],
)
def test_loading_a_damaged_torch_model_folder_fails_clearly(fitted, tmp_path, damage, message):
    save_model(fitted["seed_cnn"], tmp_path)
    damage(tmp_path)
    with pytest.raises(ModelError, match=message):
        load_model(tmp_path)


def test_saving_and_loading_nothing_fails_clearly(tmp_path):
    with pytest.raises(ModelError, match="No model folder"):
        load_model(tmp_path / "absent")
    with pytest.raises(ModelError, match="not fitted"):
        save_model(make_model("rf"), tmp_path)
    with pytest.raises(ModelError, match="not fitted"):
        save_model(make_model("mlp"), tmp_path)
    with pytest.raises(ModelError, match="not an emovox model"):
        save_model(object(), tmp_path)


def test_seed_cnn_trains_on_the_seeds_full_size_input():
    X, y, groups = separable_images(n_per_class=4, shape=(39, 216))
    model = SeedCNNClassifier(max_epochs=1, batch_size=6).fit(X, y, groups=groups)
    assert model.input_shape_ == (39, 216)
    assert model.predict_proba(X).shape == (12, 3)
