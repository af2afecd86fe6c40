"""Classifiers by name: make, fit (with speaker groups), save and load them safely.

=========  ==========================================================  ============
name       model                                                       input
=========  ==========================================================  ============
``rf``     random forest (300 trees), scaled                           2-D or 3-D
``knn``    9-nearest neighbours (the seed's), scaled                   2-D or 3-D
``svm``    RBF SVM, class-balanced, Platt-calibrated probabilities     2-D or 3-D
``logreg`` logistic regression, class-balanced                         2-D or 3-D
``seed_cnn`` the seed's CNN on MFCC images, in PyTorch                 3-D
``mlp``    PyTorch MLP head for feature vectors / embeddings           2-D
``layer_logreg``  chosen encoder layers -> logistic regression          2-D
``whisper_head``  speaker-CV choice of layers and C, temperature-scaled 2-D
=========  ==========================================================  ============

3-D inputs ``(n, n_mfcc, n_frames)`` reach the scikit-learn models averaged over time
(``pooling="mean"``) or flattened (``pooling="flatten"``), see :mod:`.classic`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from emovox.errors import ParameterError
from emovox.models.classic import (
    TimePooling,
    make_knn,
    make_logreg,
    make_random_forest,
    make_svm,
)
from emovox.models.embedding_head import make_layer_logreg, make_whisper_head
from emovox.models.io import load_model, save_model
from emovox.models.mlp import MLPHeadClassifier, make_mlp
from emovox.models.seed_cnn import SeedCNNClassifier, count_parameters, make_seed_cnn
from emovox.models.torch_training import TorchClassifier, validation_split

MODELS: dict[str, Callable[..., Any]] = {
    "rf": make_random_forest,
    "knn": make_knn,
    "svm": make_svm,
    "logreg": make_logreg,
    "seed_cnn": make_seed_cnn,
    "mlp": make_mlp,
    "layer_logreg": make_layer_logreg,
    "whisper_head": make_whisper_head,
}
"""Model builders by name; each takes ``seed`` and the model's own keyword parameters."""


def make_model(name: str, *, seed: int = 0, **params: Any) -> Any:
    """A new, unfitted model ``name`` from :data:`MODELS` with ``params``."""
    if name not in MODELS:
        raise ParameterError(f"Unknown classifier '{name}'; choose one of {', '.join(MODELS)}.")
    try:
        return MODELS[name](seed=seed, **params)
    except TypeError as exc:
        raise ParameterError(f"Bad parameters for classifier '{name}': {exc}") from None


def fit_model(model: Any, X: Any, y: Any, *, groups: Any = None) -> Any:
    """Fit ``model`` on ``X``, ``y`` and return it.

    ``groups`` (speaker ids, one per row) go to models whose ``fit`` takes them (the torch
    models, for their early-stopping split). A pipeline ending in a cross-validating step
    (the ``svm``'s calibration) gets speaker-grouped folds instead of random ones.
    """
    if groups is not None and len(groups) != len(y):
        raise ParameterError(f"groups has {len(groups)} entries but there are {len(y)} labels.")
    if groups is not None and "groups" in inspect.signature(model.fit).parameters:
        return model.fit(X, y, groups=groups)
    if groups is not None and isinstance(model, Pipeline) and _has_cv(model.steps[-1][1]):
        return _fit_with_grouped_cv(model, X, y, np.asarray(groups))
    return model.fit(X, y)


def _has_cv(estimator: Any) -> bool:
    return isinstance(estimator.get_params(deep=False).get("cv"), int)


def _fit_with_grouped_cv(model: Pipeline, X: Any, y: Any, groups: np.ndarray) -> Pipeline:
    """Fit with the last step's integer ``cv`` replaced by that many speaker-grouped folds."""
    step, final = model.steps[-1]
    cv = final.get_params(deep=False)["cv"]
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        return model.fit(X, y)
    folds = list(GroupKFold(n_splits=min(cv, n_groups)).split(np.zeros(len(y)), y, groups))
    model.set_params(**{f"{step}__cv": folds})
    try:
        return model.fit(X, y)
    finally:
        model.set_params(**{f"{step}__cv": cv})


__all__ = [
    "MODELS",
    "MLPHeadClassifier",
    "SeedCNNClassifier",
    "TimePooling",
    "TorchClassifier",
    "count_parameters",
    "fit_model",
    "load_model",
    "make_model",
    "save_model",
    "validation_split",
]
