"""scikit-learn models: ``rf``, ``knn``, ``svm`` and ``logreg`` as pipelines.

Each is ``TimePooling -> StandardScaler -> classifier``. 2-D inputs ``(n, n_features)``
pass :class:`TimePooling` unchanged. 3-D inputs, the seed's MFCC "images"
``(n, n_mfcc, n_frames)``, become one vector per recording: ``pooling="mean"`` (the
default, what the seed did for its random forest and 9-NN) averages each coefficient
over time; ``pooling="flatten"`` keeps every value (``n_mfcc * n_frames`` features).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from emovox.errors import ParameterError

POOLINGS = ("mean", "flatten")


class TimePooling(TransformerMixin, BaseEstimator):
    """Turn ``(n, n_mfcc, n_frames)`` into ``(n, features)``; 2-D input passes unchanged.

    ``pooling="mean"`` averages over the last (time) axis, ``"flatten"`` concatenates.
    """

    def __init__(self, *, pooling: str = "mean") -> None:
        self.pooling = pooling

    def fit(self, X: Any, y: Any = None) -> TimePooling:
        if self.pooling not in POOLINGS:
            raise ParameterError(
                f"pooling must be one of {', '.join(POOLINGS)}, not {self.pooling!r}."
            )
        X = np.asarray(X)
        if X.ndim not in (2, 3):
            raise ParameterError(f"Expected a 2-D or 3-D array (rows first), got shape {X.shape}.")
        self.input_shape_ = tuple(int(size) for size in X.shape[1:])
        return self

    def transform(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if tuple(X.shape[1:]) != self.input_shape_:
            raise ParameterError(
                f"This model was trained on inputs of shape {self.input_shape_}, "
                f"not {tuple(X.shape[1:])}."
            )
        if X.ndim == 2:
            return X
        if self.pooling == "mean":
            return X.mean(axis=-1)
        return X.reshape(len(X), -1)


def pipeline(classifier: BaseEstimator, *, pooling: str = "mean") -> Pipeline:
    """``TimePooling -> StandardScaler -> classifier``."""
    return Pipeline(
        [
            ("pool", TimePooling(pooling=pooling)),
            ("scale", StandardScaler()),
            ("classify", classifier),
        ]
    )


def make_random_forest(
    *,
    seed: int = 0,
    n_estimators: int = 300,
    n_jobs: int | None = None,
    pooling: str = "mean",
    **params: Any,
) -> Pipeline:
    """``rf``: a random forest of ``n_estimators`` trees (``params`` go to the forest)."""
    forest = RandomForestClassifier(
        n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs, **params
    )
    return pipeline(forest, pooling=pooling)


def make_knn(
    *,
    seed: int = 0,
    n_neighbors: int = 9,
    n_jobs: int | None = None,
    pooling: str = "mean",
    **params: Any,
) -> Pipeline:
    """``knn``: the seed's 9-nearest-neighbour classifier (``seed`` is unused)."""
    return pipeline(
        KNeighborsClassifier(n_neighbors=n_neighbors, n_jobs=n_jobs, **params), pooling=pooling
    )


def make_svm(
    *,
    seed: int = 0,
    C: float = 1.0,
    gamma: str | float = "scale",
    calibration_cv: int = 5,
    pooling: str = "mean",
    **params: Any,
) -> Pipeline:
    """``svm``: an RBF support vector machine with class-balanced weights and probabilities.

    Probabilities come from Platt scaling on ``calibration_cv``-fold cross-validated
    decision values (``CalibratedClassifierCV(SVC(), ensemble=False)``, which replaces
    ``SVC(probability=True)``, deprecated in scikit-learn 1.9). :func:`emovox.models.fit_model`
    makes those folds speaker-independent when it is given speakers.
    """
    svc = SVC(kernel="rbf", C=C, gamma=gamma, class_weight="balanced", random_state=seed, **params)
    calibrated = CalibratedClassifierCV(svc, method="sigmoid", cv=calibration_cv, ensemble=False)
    return pipeline(calibrated, pooling=pooling)


def make_logreg(
    *,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 5000,
    pooling: str = "mean",
    **params: Any,
) -> Pipeline:
    """``logreg``: multinomial logistic regression with class-balanced weights."""
    logreg = LogisticRegression(
        C=C, class_weight="balanced", max_iter=max_iter, random_state=seed, **params
    )
    return pipeline(logreg, pooling=pooling)
