"""Save and load fitted models without pickle: nothing in a model folder executes on load.

A model folder holds ``model.json`` and one payload file:

=============  =======================  ================================================
``kind``       payload                  loaded with
=============  =======================  ================================================
``sklearn``    ``model.skops``          ``skops.io.load`` trusting an explicit type list
``seed_cnn``   ``weights.safetensors``  ``safetensors`` tensors + constructor params
``mlp``        ``weights.safetensors``  (same)
=============  =======================  ================================================

``model.json`` records the kind, the payload's SHA-256 (so a damaged or swapped file is
caught before it is parsed), the classes and, for torch models, the class name,
constructor parameters, input shape and training history.

skops refuses to build any type it does not trust by default unless the caller names it.
:func:`load_model` names only the types that :func:`skops.io.get_untrusted_types` reports
*and* that are classes from the scikit-learn modules emovox's pipelines use (or emovox's
own :class:`~emovox.models.classic.TimePooling`); a file asking for anything else, such
as a function, is refused with :class:`~emovox.errors.ModelError`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import sklearn
import skops.io
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from emovox import __version__
from emovox.errors import ModelError
from emovox.models.mlp import MLPHeadClassifier
from emovox.models.seed_cnn import SeedCNNClassifier
from emovox.models.torch_training import TorchClassifier

FORMAT = "emovox-model-files"
FORMAT_VERSION = 1
DESCRIPTION_FILE = "model.json"
SKOPS_FILE = "model.skops"
WEIGHTS_FILE = "weights.safetensors"

TORCH_KINDS: dict[str, type[TorchClassifier]] = {
    SeedCNNClassifier.kind: SeedCNNClassifier,
    MLPHeadClassifier.kind: MLPHeadClassifier,
}
KINDS = ("sklearn", *TORCH_KINDS)

TRUSTED_MODULES = (
    "sklearn.calibration",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.metrics._dist_metrics",
    "sklearn.neighbors",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.svm",
    "sklearn.tree",
)
"""Modules whose *classes* a skops file may ask :func:`load_model` to build."""

TRUSTED_TYPES = (
    "emovox.models.classic.TimePooling",
    "emovox.models.embedding_head.LayerSelect",
    "emovox.models.embedding_head.SpeakerCVSelect",
    "emovox.models.embedding_head.TemperatureScaled",
)
"""Further types, by exact name, that a skops file may contain."""


def is_trusted_type(name: str) -> bool:
    """Whether ``name`` (``module.Class``) is a class emovox lets skops build."""
    if name in TRUSTED_TYPES:
        return True
    module_name, _, attribute = name.rpartition(".")
    if not any(module_name == m or module_name.startswith(m + ".") for m in TRUSTED_MODULES):
        return False
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return False
    return isinstance(found, type)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- saving ---------------------------------------------------------------------------
def save_model(model: Any, directory: Path) -> None:
    """Write fitted ``model`` to ``directory`` (created): a payload file and ``model.json``."""
    directory = Path(directory)
    if isinstance(model, TorchClassifier):
        if not hasattr(model, "module_"):
            raise ModelError("Cannot save a model that is not fitted; call fit first.")
        directory.mkdir(parents=True, exist_ok=True)
        description = save_torch(model, directory)
    elif isinstance(model, BaseEstimator):
        try:
            check_is_fitted(model)
        except NotFittedError:
            raise ModelError("Cannot save a model that is not fitted; call fit first.") from None
        directory.mkdir(parents=True, exist_ok=True)
        description = save_sklearn(model, directory)
    else:
        raise ModelError(f"Cannot save a {type(model).__name__}: not an emovox model.")
    classes = getattr(model, "classes_", None)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "emovox_version": __version__}
    description = {
        **header,
        **description,
        "classes": None if classes is None else np.asarray(classes).tolist(),
    }
    (directory / DESCRIPTION_FILE).write_text(json.dumps(description, indent=2) + "\n")


def save_sklearn(model: BaseEstimator, directory: Path) -> dict[str, Any]:
    path = directory / SKOPS_FILE
    skops.io.dump(model, path)
    return {
        "kind": "sklearn",
        "file": SKOPS_FILE,
        "sha256": sha256(path),
        "class": type(model).__name__,
        "sklearn_version": sklearn.__version__,
    }


def save_torch(model: TorchClassifier, directory: Path) -> dict[str, Any]:
    path = directory / WEIGHTS_FILE
    state = {name: t.detach().cpu().contiguous() for name, t in model.module_.state_dict().items()}
    safetensors.torch.save_file(state, str(path), metadata={"kind": model.kind})
    return {
        "kind": model.kind,
        "file": WEIGHTS_FILE,
        "sha256": sha256(path),
        "class": type(model).__name__,
        "params": model.get_params(),
        "input_shape": list(model.input_shape_),
        "n_features": int(np.prod(model.input_shape_)),
        "best_epoch": model.best_epoch_,
        "history": model.history_,
    }


# -- loading --------------------------------------------------------------------------
def load_model(directory: Path, *, device: str | None = None) -> Any:
    """Load a model saved by :func:`save_model`; ``device`` overrides a torch model's device.

    Raises :class:`~emovox.errors.ModelError` for a missing, incomplete, damaged or
    untrusted model folder.
    """
    directory = Path(directory)
    description = read_description(directory)
    kind = description["kind"]
    path = payload_path(directory, description)
    if kind == "sklearn":
        return load_sklearn(path)
    return load_torch(path, description, device=device)


def read_description(directory: Path) -> dict[str, Any]:
    """The checked contents of ``directory/model.json``."""
    if not directory.is_dir():
        raise ModelError(f"No model folder at '{directory}'.")
    path = directory / DESCRIPTION_FILE
    if not path.is_file():
        raise ModelError(f"'{directory}' is not a saved model: it has no {DESCRIPTION_FILE}.")
    try:
        description = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"'{path}' is damaged: not valid JSON ({exc}).") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ModelError(f"'{path}' does not describe an emovox model.")
    version = description.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelError(
            f"'{directory}' was saved in model format {version!r}, which this emovox "
            f"({__version__}) cannot read; upgrade emovox."
        )
    if description.get("kind") not in KINDS:
        raise ModelError(
            f"'{path}' names an unknown model kind {description.get('kind')!r}; "
            f"known kinds: {', '.join(KINDS)}."
        )
    return description


def payload_path(directory: Path, description: dict[str, Any]) -> Path:
    """The payload file named in ``description``, checked against its SHA-256."""
    expected = SKOPS_FILE if description["kind"] == "sklearn" else WEIGHTS_FILE
    if description.get("file") != expected:
        raise ModelError(
            f"'{directory / DESCRIPTION_FILE}' names payload file {description.get('file')!r}; "
            f"a {description['kind']} model is stored in '{expected}'."
        )
    path = directory / expected
    if not path.is_file():
        raise ModelError(f"The model folder '{directory}' is incomplete: '{expected}' is missing.")
    if sha256(path) != description.get("sha256"):
        raise ModelError(
            f"'{path}' has changed or is damaged since the model was saved "
            "(its SHA-256 does not match model.json)."
        )
    return path


def load_sklearn(path: Path) -> Any:
    """Load a skops file, trusting only the classes :func:`is_trusted_type` accepts."""
    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelError(f"'{path}' is not a readable skops file ({exc}).") from None
    refused = [name for name in untrusted if not is_trusted_type(name)]
    if refused:
        raise ModelError(
            f"Refusing to load '{path}': it contains types emovox does not trust "
            f"({', '.join(refused)}). Only load models from sources you trust."
        )
    try:
        model = skops.io.load(path, trusted=untrusted)
    except Exception as exc:
        raise ModelError(f"Could not load '{path}': {exc}") from None
    if not isinstance(model, BaseEstimator):
        raise ModelError(f"'{path}' does not contain a scikit-learn estimator.")
    return model


def load_torch(path: Path, description: dict[str, Any], *, device: str | None) -> TorchClassifier:
    """Rebuild a torch classifier from its weights and ``model.json``."""
    cls = TORCH_KINDS[description["kind"]]
    params = description.get("params")
    if not isinstance(params, dict):
        raise ModelError(f"'{path.parent / DESCRIPTION_FILE}' has no constructor parameters.")
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise ModelError(f"'{path.parent / DESCRIPTION_FILE}' has unknown parameters {unknown}.")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    if device is not None:
        params["device"] = device
    try:
        state = safetensors.torch.load_file(str(path), device="cpu")
        classes = description["classes"]
        input_shape = tuple(description["input_shape"])
        model = cls(**params)
        return model.restore(
            classes=np.asarray(classes),
            input_shape=input_shape,
            state_dict=state,
            history=description.get("history"),
            best_epoch=int(description.get("best_epoch", 0)),
        )
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"Could not load the model in '{path.parent}': {exc}") from None
