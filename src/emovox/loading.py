"""Which way a loaded model predicts: the fast path or the reference path.

Two ways to predict, same numbers to int8 rounding:

* the **reference path**: the feature extractor as trained (PyTorch for Whisper) and the
  fitted scikit-learn / torch model; used for training and evaluation.
* the **fast path**, for Whisper features with a linear head (logistic regression after
  layer selection and scaling, optionally temperature-scaled): the encoder runs in
  onnxruntime (:mod:`emovox.features.whisper.onnx_encoder`, built once into the cache)
  and the head in numpy (:mod:`emovox.linear_head`), so that neither torch nor
  scikit-learn is imported and a fresh process answers in well under a second.

:func:`load_predictor` makes the choice (``fast=None``: fast when possible) and returns
the extractor and model to predict with. Heavy modules are imported only when needed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emovox.errors import EmovoxError, ModelError
from emovox.model_folder import MODEL_DIR, saved_head


@dataclass(frozen=True)
class Predictor:
    """What predicts for a loaded model: a feature extractor and a classifier."""

    extractor: Any
    model: Any
    fast: bool


def load_predictor(folder: Path, meta: dict[str, Any], *, fast: bool | None) -> Predictor:
    """The predictor for the model in ``folder`` (``meta``: its checked ``emovox.json``).

    ``fast``: None takes the fast path when the model allows it (Whisper features, a
    linear head) and the reference path otherwise; True requires the fast path
    (:class:`ModelError` if impossible); False always takes the reference path.
    """
    from emovox.features import make_extractor

    estimator = None
    if fast is not False:
        predictor, estimator = _fast(folder, meta, required=bool(fast))
        if predictor is not None:
            return predictor
    if estimator is None:
        from emovox.models import load_model

        estimator = load_model(folder / MODEL_DIR)
    return Predictor(extractor=make_extractor(meta["features"]), model=estimator, fast=False)


def _fast(folder: Path, meta: dict[str, Any], *, required: bool) -> tuple[Predictor | None, Any]:
    """The fast-path predictor, or None and the fitted model if it had to be read."""
    from emovox.linear_head import collapse_linear

    estimator = None

    def refuse(reason: str) -> tuple[None, Any]:
        if required:
            raise ModelError(f"'{folder}' cannot be loaded with fast=True: {reason}.")
        return None, estimator

    features = meta.get("features") or {}
    if features.get("name") != "whisper":
        return refuse("the fast path needs Whisper features")
    head = saved_head(folder)
    if head is None:
        from emovox.models import load_model

        estimator = load_model(folder / MODEL_DIR)
        head = collapse_linear(estimator)
        if head is None:
            return refuse(f"its {type(estimator).__name__} head is not linear")
    try:
        from emovox.features import make_extractor
        from emovox.features.whisper.onnx_encoder import OnnxWhisperEmbedding

        extractor = OnnxWhisperEmbedding(make_extractor(features))
    except Exception as exc:  # the reference path computes the same thing: fall back
        if required:
            raise
        reason = str(exc) if isinstance(exc, EmovoxError) else f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"Fast prediction is unavailable ({reason.splitlines()[0] if reason else 'unknown'});"
            " using the slower PyTorch encoder.",
            RuntimeWarning,
            stacklevel=4,
        )
        return None, estimator
    if extractor.dim != head.n_features_in_:
        return refuse(
            f"the head takes {head.n_features_in_} features but the extractor gives {extractor.dim}"
        )
    return Predictor(extractor=extractor, model=head, fast=True), estimator
