"""A linear classifier head in numpy: what a fitted logistic-regression pipeline computes.

:func:`collapse_linear` folds the heads emovox trains on embeddings ::

    [TemperatureScaled(] [SpeakerCVSelect(] Pipeline(
        [LayerSelect ->] [StandardScaler ->] LogisticRegression) [)] [)]

into one weight matrix, a bias, a link and an optional temperature, so that prediction
needs neither scikit-learn nor the model's skops file. :class:`LinearHead` reproduces
the pipeline's ``predict_proba`` (to about 1e-9 on float64 input). It is saved beside a
model as ``head.safetensors`` (weights) + ``head.json`` (classes, link, temperature,
checksums): no pickle. This module imports only numpy (and safetensors to save/load).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emovox.errors import ModelError, ParameterError

WEIGHTS_FILE = "head.safetensors"
DESCRIPTION_FILE = "head.json"
FORMAT = "emovox-linear-head"
FORMAT_VERSION = 1
LINKS = ("softmax", "ovr")
"""``softmax``: multinomial (and binary, as softmax of ``[0, d]``); ``ovr``: sigmoids
normalised to sum to one (one-vs-rest logistic regression)."""

PROBA_FLOOR = 1e-12
""":class:`~emovox.models.embedding_head.TemperatureScaled` clips probabilities here
before dividing their logarithm by the temperature; the head does the same."""


@dataclass(frozen=True)
class LinearHead:
    """``predict_proba(X) = link(X @ weight.T + bias)``, then optional temperature scaling.

    ``weight`` is (n_classes, n_features) float64, with zero columns for features that
    the folded pipeline did not select; ``bias`` is (n_classes,).
    """

    weight: np.ndarray
    bias: np.ndarray
    classes: np.ndarray
    link: str = "softmax"
    temperature: float | None = None

    def __post_init__(self) -> None:
        weight = np.asarray(self.weight, dtype=np.float64)
        bias = np.asarray(self.bias, dtype=np.float64).reshape(-1)
        classes = np.asarray(self.classes)
        if weight.ndim != 2 or bias.shape != (weight.shape[0],) or len(classes) != len(bias):
            raise ParameterError(
                f"A linear head needs weight (classes, features), bias (classes,) and one name "
                f"per class; got {weight.shape}, {bias.shape} and {len(classes)} classes."
            )
        if self.link not in LINKS:
            raise ParameterError(
                f"Unknown link {self.link!r} for a linear head; use one of {LINKS}."
            )
        if self.temperature is not None and not self.temperature > 0:
            raise ParameterError(
                f"A head's temperature must be positive, got {self.temperature!r}."
            )
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "bias", bias)
        object.__setattr__(self, "classes", classes)

    # scikit-learn-like attributes, so the recognizer can use either kind of model
    @property
    def classes_(self) -> np.ndarray:
        return self.classes

    @property
    def n_features_in_(self) -> int:
        return int(self.weight.shape[1])

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores ``X @ weight.T + bias`` in float64, shape (n, n_classes)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.weight.shape[1]:
            raise ParameterError(
                f"The head expects {self.weight.shape[1]} features per row, got shape {X.shape}."
            )
        return X @ self.weight.T + self.bias

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, rows summing to one, columns in :attr:`classes` order."""
        return self.proba_from_scores(self.decision_function(X))

    def proba_from_scores(self, scores: np.ndarray) -> np.ndarray:
        """The probabilities of :meth:`decision_function` scores (link, then temperature)."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.link == "softmax":
            proba = _softmax(scores)
        else:
            with np.errstate(over="ignore"):  # exp(-score) = inf gives a probability of 0
                proba = 1.0 / (1.0 + np.exp(-scores))
            total = proba.sum(axis=1, keepdims=True)
            empty = total[:, 0] == 0  # every sigmoid underflowed: uniform, as scikit-learn
            proba[empty], total[empty] = 1.0, proba.shape[1]
            proba /= total
        if self.temperature is not None:
            proba = _softmax(np.log(np.clip(proba, PROBA_FLOOR, 1.0)) / self.temperature)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        return self.classes[np.argmax(self.predict_proba(X), axis=1)]

    # -------------------------------------------------------------- persistence
    def save(self, folder: str | Path, *, source: dict[str, Any] | None = None) -> Path:
        """Write ``head.safetensors`` and ``head.json`` into ``folder`` (created).

        ``source`` (JSON-able) is stored as is, e.g. the checksum of the model it came from.
        """
        from safetensors.numpy import save

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / WEIGHTS_FILE
        path.write_bytes(save({"weight": self.weight, "bias": self.bias}))  # umask permissions
        description = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "classes": self.classes.tolist(),
            "link": self.link,
            "temperature": self.temperature,
            "n_features": self.n_features_in_,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "source": source or {},
        }
        (folder / DESCRIPTION_FILE).write_text(json.dumps(description, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> LinearHead:
        """Read a head written by :meth:`save`; :class:`ModelError` if missing or damaged."""
        from safetensors import SafetensorError
        from safetensors.numpy import load

        description = read_description(folder)
        path = Path(folder) / WEIGHTS_FILE
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"Cannot read the linear head '{path}' ({exc}).") from None
        if hashlib.sha256(data).hexdigest() != description.get("sha256"):
            raise ModelError(
                f"'{path}' has changed or is damaged since it was saved "
                f"(its SHA-256 does not match {DESCRIPTION_FILE})."
            )
        try:
            tensors = load(data)
            head = cls(
                weight=tensors["weight"],
                bias=tensors["bias"],
                classes=np.asarray(description["classes"]),
                link=description.get("link", "softmax"),
                temperature=description.get("temperature"),
            )
        except (KeyError, TypeError, ValueError, SafetensorError) as exc:
            raise ModelError(f"'{path}' is not a readable linear head ({exc}).") from None
        if head.n_features_in_ != description.get("n_features"):
            raise ModelError(f"'{path}' does not have the feature count {DESCRIPTION_FILE} says.")
        return head


def read_description(folder: str | Path) -> dict[str, Any]:
    """The checked contents of ``folder/head.json``."""
    path = Path(folder) / DESCRIPTION_FILE
    if not path.is_file():
        raise ModelError(f"'{folder}' holds no linear head ({DESCRIPTION_FILE}).")
    try:
        description = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"'{path}' cannot be read as JSON ({exc}).") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ModelError(f"'{path}' does not describe an emovox linear head.")
    version = description.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelError(f"'{path}' has head format {version!r}; upgrade emovox to read it.")
    return description


# ------------------------------------------------------------------ folding


def collapse_linear(model: Any) -> LinearHead | None:
    """The :class:`LinearHead` computing ``model.predict_proba``, or None if it is not linear.

    Understands fitted ``TemperatureScaled``, ``SpeakerCVSelect``, ``Pipeline`` of
    ``LayerSelect`` / ``StandardScaler`` / ``TimePooling`` (of flat input) /
    ``"passthrough"`` steps ending in a
    ``LogisticRegression``, and a bare ``LogisticRegression``. Anything else (another
    classifier, a subclass, an unfitted model) gives None.
    """
    temperature = None
    if _name(model) == "emovox.models.embedding_head.TemperatureScaled":
        temperature = getattr(model, "temperature_", None)
        model = getattr(model, "estimator_", None)
        if temperature is None or model is None:
            return None
        temperature = float(temperature)
    if _name(model) == "emovox.models.embedding_head.SpeakerCVSelect":
        model = getattr(model, "best_estimator_", None)
    steps = _steps(model)
    if steps is None or not steps:
        return None
    found = _logistic(steps[-1])
    if found is None:
        return None
    weight, bias, classes, link = found
    for step in reversed(steps[:-1]):
        folded = _fold(step, weight, bias)
        if folded is None:
            return None
        weight, bias = folded
    return LinearHead(weight=weight, bias=bias, classes=classes, link=link, temperature=temperature)


def _name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _steps(model: Any) -> list[Any] | None:
    """The estimators of a Pipeline (or ``[model]``), without passthrough steps."""
    if model is None or not _name(model).startswith("sklearn."):
        return None
    from sklearn.pipeline import Pipeline

    if type(model) is Pipeline:
        return [step for _, step in model.steps if step is not None and step != "passthrough"]
    return [model]


def _logistic(clf: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, str] | None:
    from sklearn.linear_model import LogisticRegression

    if type(clf) is not LogisticRegression or not hasattr(clf, "coef_"):
        return None
    coef = np.asarray(clf.coef_, dtype=np.float64)
    intercept = np.broadcast_to(np.asarray(clf.intercept_, dtype=np.float64), coef.shape[:1])
    classes = np.asarray(clf.classes_)
    if len(classes) == 2 and coef.shape[0] == 1:
        # sigmoid(d) for the second class == softmax([0, d])
        weight = np.vstack([np.zeros_like(coef), coef])
        return weight, np.array([0.0, intercept[0]]), classes, "softmax"
    if coef.shape[0] != len(classes):
        return None
    # scikit-learn < 1.8 had multi_class (one-vs-rest for "ovr" and liblinear); >= 1.8
    # always uses the softmax for more than two classes.
    multi_class = getattr(clf, "multi_class", "multinomial")
    ovr = multi_class in ("ovr", "warn") or (
        multi_class in ("auto", "deprecated") and getattr(clf, "solver", "") == "liblinear"
    )
    return coef.copy(), intercept.copy(), classes, "ovr" if ovr else "softmax"


def _fold(step: Any, weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(weight, bias)`` acting on the input of ``step`` instead of its output."""
    from sklearn.preprocessing import StandardScaler

    if type(step) is StandardScaler:
        if not hasattr(step, "n_features_in_"):
            return None
        # mean_ is computed even when with_mean=False; only the flags say what transform does
        if step.with_std and step.scale_ is not None:
            weight = weight / np.asarray(step.scale_, dtype=np.float64)
        if step.with_mean and step.mean_ is not None:
            bias = bias - weight @ np.asarray(step.mean_, dtype=np.float64)
        return weight, bias
    if _name(step) == "emovox.models.classic.TimePooling":
        shape = getattr(step, "input_shape_", None)
        if shape is None or len(shape) != 1:
            return None  # pools over time: not one linear layer on a flat vector
        return weight, bias  # flat input passes unchanged
    if _name(step) == "emovox.models.embedding_head.LayerSelect":
        if not hasattr(step, "block_"):
            return None
        block = int(step.block_)
        columns = np.concatenate(
            [np.arange((k - 1) * block, k * block) for k in step.layers]
        ).astype(np.int64)
        if columns.size != weight.shape[1]:
            return None
        full = np.zeros((weight.shape[0], int(step.n_features_in_)))
        np.add.at(full, (slice(None), columns), weight)
        return full, bias
    return None


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
