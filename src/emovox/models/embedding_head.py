"""Heads for pooled encoder embeddings, with honest model selection and calibration.

``whisper_head`` (the default model's head) is::

    TemperatureScaled(SpeakerCVSelect([LayerSelect -> StandardScaler -> LogisticRegression, ...]))

* :class:`LayerSelect` picks encoder layers out of a vector that holds several layers'
  pooled states side by side (Whisper: ``n_layers`` blocks of ``2 * 512`` mean+std values).
* :class:`SpeakerCVSelect` chooses among candidate pipelines by UAR in speaker-grouped
  cross-validation on the *training* data only, then refits the winner on all of it, so an
  evaluation of the whole thing is a nested, honest estimate.
* :class:`TemperatureScaled` fits one temperature on held-out *training* speakers so that
  a reported 0.9 means about 90 %.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from emovox.errors import ParameterError
from emovox.models.torch_training import validation_split


class LayerSelect(TransformerMixin, BaseEstimator):
    """Keep the blocks of ``layers`` (1-based) from ``n_layers`` equal blocks side by side."""

    def __init__(self, *, n_layers: int = 6, layers: tuple[int, ...] = (3, 4, 5, 6)) -> None:
        self.n_layers = n_layers
        self.layers = layers

    def fit(self, X: Any, y: Any = None) -> LayerSelect:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] % self.n_layers:
            raise ParameterError(
                f"Expected {self.n_layers} equal blocks of features, got shape {X.shape}."
            )
        bad = [k for k in self.layers if not 1 <= k <= self.n_layers]
        if bad:
            raise ParameterError(f"Layers {bad} are outside 1..{self.n_layers}.")
        self.block_ = X.shape[1] // self.n_layers
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.shape[1] != self.n_features_in_:
            raise ParameterError(f"Expected {self.n_features_in_} features, got {X.shape[1]}.")
        blocks = [X[:, (k - 1) * self.block_ : k * self.block_] for k in self.layers]
        return np.concatenate(blocks, axis=1)


def _inner_folds(y: np.ndarray, groups: np.ndarray | None, n_splits: int, seed: int):
    if groups is not None and len(np.unique(groups)) >= 2:
        k = min(n_splits, len(np.unique(groups)))
        return list(GroupKFold(n_splits=k).split(np.zeros(len(y)), y, groups))
    return list(
        StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(
            np.zeros(len(y)), y
        )
    )


class SpeakerCVSelect(ClassifierMixin, BaseEstimator):
    """Pick the candidate with the best speaker-grouped cross-validated UAR, refit it on all."""

    def __init__(
        self, *, candidates: list[tuple[str, Any]] | None = None, n_splits: int = 4, seed: int = 0
    ) -> None:
        self.candidates = candidates
        self.n_splits = n_splits
        self.seed = seed

    def fit(self, X: Any, y: Any, groups: Any = None) -> SpeakerCVSelect:
        if not self.candidates:
            raise ParameterError("SpeakerCVSelect needs at least one candidate.")
        X, y = np.asarray(X), np.asarray(y)
        groups = None if groups is None else np.asarray(groups)
        scores: dict[str, float] = {}
        folds = (
            _inner_folds(y, groups, self.n_splits, self.seed) if len(self.candidates) > 1 else []
        )
        for name, candidate in self.candidates if folds else []:
            fold_scores = []
            for train, test in folds:
                model = clone(candidate).fit(X[train], y[train])
                fold_scores.append(balanced_accuracy_score(y[test], model.predict(X[test])))
            scores[name] = float(np.mean(fold_scores))
        self.cv_scores_ = scores
        self.best_name_ = max(scores, key=scores.__getitem__) if scores else self.candidates[0][0]
        best = dict(self.candidates)[self.best_name_]
        self.best_estimator_ = clone(best).fit(X, y)
        self.classes_ = self.best_estimator_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.best_estimator_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _fit(estimator: Any, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> Any:
    from emovox.models import fit_model

    return fit_model(estimator, X, y, groups=groups)


class TemperatureScaled(ClassifierMixin, BaseEstimator):
    """Calibrate ``estimator``'s probabilities with one temperature fitted on held-out speakers.

    ``fit`` holds out ``val_fraction`` of the training speakers, fits a clone of the
    estimator on the rest, finds the temperature that minimises the held-out negative
    log-likelihood, then refits the estimator on all the training data. When the
    estimator is a :class:`SpeakerCVSelect`, the refit keeps the candidate it chose on the
    first fit instead of running the selection again.
    """

    def __init__(self, *, estimator: Any = None, val_fraction: float = 0.2, seed: int = 0) -> None:
        self.estimator = estimator
        self.val_fraction = val_fraction
        self.seed = seed

    def fit(self, X: Any, y: Any, groups: Any = None) -> TemperatureScaled:
        if self.estimator is None:
            raise ParameterError("TemperatureScaled needs an estimator.")
        X, y = np.asarray(X), np.asarray(y)
        groups = None if groups is None else np.asarray(groups)
        if groups is not None and len(np.unique(groups)) < 2:
            groups = None  # one training speaker (TESS folds): hold out files at random
        train, val = validation_split(y, groups, fraction=self.val_fraction, seed=self.seed)
        probe = _fit(
            clone(self.estimator), X[train], y[train], None if groups is None else groups[train]
        )
        known = np.isin(y[val], probe.classes_)
        log_p = np.log(np.clip(probe.predict_proba(X[val][known]), 1e-12, 1.0))
        target = np.searchsorted(probe.classes_, y[val][known])

        def nll(log_t: float) -> float:
            z = log_p / np.exp(log_t)
            z = z - z.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(z).sum(axis=1))
            return float(np.mean(log_norm - z[np.arange(len(z)), target]))

        result = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
        self.temperature_ = float(np.exp(result.x))
        final = clone(self.estimator)
        if isinstance(probe, SpeakerCVSelect):
            chosen = dict(probe.candidates)[probe.best_name_]
            final.set_params(candidates=[(probe.best_name_, chosen)])
            self.selection_scores_ = probe.cv_scores_
        self.estimator_ = _fit(final, X, y, groups)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        log_p = np.log(np.clip(self.estimator_.predict_proba(X), 1e-12, 1.0)) / self.temperature_
        log_p -= log_p.max(axis=1, keepdims=True)
        p = np.exp(log_p)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


LAYER_SETS: dict[str, tuple[int, ...]] = {
    "layers 1-6": (1, 2, 3, 4, 5, 6),
    "layers 3-6": (3, 4, 5, 6),
}


def layer_logreg(
    *, layers: tuple[int, ...], n_layers: int = 6, C: float = 0.1, seed: int = 0
) -> Pipeline:
    """LayerSelect -> StandardScaler -> class-balanced logistic regression."""
    return Pipeline(
        [
            ("layers", LayerSelect(n_layers=n_layers, layers=tuple(layers))),
            ("scale", StandardScaler()),
            (
                "clf",
                LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed),
            ),
        ]
    )


def make_layer_logreg(
    *,
    seed: int = 0,
    layers: tuple[int, ...] | list[int] = (3, 4, 5, 6),
    n_layers: int = 6,
    C: float = 0.1,
) -> Pipeline:
    """A fixed-configuration embedding head (``layer_logreg``), for variant tables."""
    return layer_logreg(layers=tuple(layers), n_layers=n_layers, C=C, seed=seed)


def make_whisper_head(
    *,
    seed: int = 0,
    n_layers: int = 6,
    Cs: tuple[float, ...] = (0.1,),
    layer_sets: tuple[str, ...] = tuple(LAYER_SETS),
    calibrate: bool = True,
    n_splits: int = 3,
) -> Any:
    """The default head: speaker-CV choice of layers and C, then temperature scaling."""
    candidates = [
        (
            f"{name}, C={C:g}",
            layer_logreg(layers=LAYER_SETS[name], n_layers=n_layers, C=C, seed=seed),
        )
        for name in layer_sets
        for C in Cs
    ]
    select = SpeakerCVSelect(candidates=candidates, n_splits=n_splits, seed=seed)
    if not calibrate:
        return select
    return TemperatureScaled(estimator=select, seed=seed)
