"""Learning from a few labelled clips on top of what the default model knows.

``emovox train ... --from-default`` fits a new linear head on a user's clips (a new
domain, language or microphone for the seven emotions, or classes of the user's own)
without the corpora the default model was trained on. The default model's linear head is
the prior (:class:`DefaultPrior`); :class:`PriorHead` learns, for the user's classes
``k``, the logits ::

    logit_k(x) = sum_j A[k, j] * s_j(x)  +  V[k] . z(x)  +  c[k]

where ``s(x)`` are the default head's calibrated logits (its seven emotions), ``z(x)``
the embedding standardised with the clips' own mean and scale (``space="data"``, the
default) or the default's training statistics (``space="prior"``), and the parameters
minimise the class-balanced cross-entropy on the user's clips plus ::

    alpha / 2 * ||A - A0||^2  +  beta / 2 * ||V||^2

``A0`` maps each user class to the default class of the same name (a row of zeros for a
class the default does not know). With no clips, or infinitely strong penalties, the
head is the default model restricted to the user's classes (what ``--classes`` gives,
with a bias that the clips adapt); with many clips, the data win. New classes are learnt
first as combinations of the seven emotions (``A``: a handful of numbers per class,
learnable from a few clips), with ``V`` correcting what the emotions do not capture.

Everything is linear in the embedding, so the fitted head folds into one
:class:`~emovox.linear_head.LinearHead` (the fast path of prediction) and is saved as a
plain scikit-learn ``LogisticRegression`` (skops, no pickle). Nothing of the default's
training data is shipped or needed: only its folded head (``head.safetensors``, already
in the bundled model folder; ``space="prior"`` also reads the scaler of its fitted
pipeline). No statistics or prototypes of the corpora's embeddings are shipped, so the
corpora's licences (non-commercial, RAVDESS share-alike, TESS and TurEV-DB
no-derivatives) apply to a trained model exactly as they do to the default model.

With fewer clips than embedding dimensions, ``V`` is optimised in the span of the clips
(the penalised optimum lies there), so a fit on a few hundred clips takes about a second.

Speaker adaptation (a speaker's mean embedding subtracted before a head) composes: a prior
built from an adapted default head with :meth:`DefaultPrior.from_arrays`, and a
:class:`PriorHead` fitted on speaker-normalised embeddings, is again a linear head (not
done by ``emovox train`` yet: its models have no adapted head).

How the penalties were chosen, and how this compares with the user's clips alone and
with stacking the default's outputs: ``benchmarks/learning_curve.py`` and the section
"Your own data: learning curve" of docs/results.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emovox.errors import ModelError, ParameterError

ALPHA = 1.0
"""Default strength of the pull of ``A`` (class mixing of the default's logits) toward
``A0``; chosen on the training speakers of benchmarks/learning_curve.py."""

BETA = 10.0
"""Default strength of the pull of ``V`` (direct embedding weights) toward zero; chosen
there too."""

SPACES = ("prior", "data")
"""Where ``V`` acts: on embeddings standardised with the prior's training statistics
(``prior``) or with the user's clips' own (``data``)."""

SPACE = "data"
"""Default :data:`SPACES` entry (both measured alike; ``data`` needs only the prior's
head file, so training does not read the default model's scikit-learn pipeline)."""


# ---------------------------------------------------------------------------- the prior


@dataclass(frozen=True)
class DefaultPrior:
    """What a trained linear head knows, in the form :class:`PriorHead` builds on.

    ``weight`` (S, D) and ``bias`` (S,) give the head's raw logits on embeddings,
    ``temperature`` its calibration (logits are divided by it), ``classes`` its S class
    names, and ``mean`` / ``scale`` (D,) the standardisation of its training embeddings.
    """

    weight: np.ndarray
    bias: np.ndarray
    classes: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    temperature: float = 1.0
    source: str = ""
    statistics: bool = True
    """Whether ``mean`` and ``scale`` are the head's training statistics (False: zeros
    and ones, read from a folded head file that does not hold them)."""

    def __post_init__(self) -> None:
        weight = np.asarray(self.weight, dtype=np.float64)
        bias = np.asarray(self.bias, dtype=np.float64).reshape(-1)
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        scale = np.asarray(self.scale, dtype=np.float64).reshape(-1)
        classes = np.asarray([str(c) for c in self.classes])
        n_classes, dim = weight.shape if weight.ndim == 2 else (0, 0)
        if (
            weight.ndim != 2
            or bias.shape != (n_classes,)
            or len(classes) != n_classes
            or mean.shape != (dim,)
            or scale.shape != (dim,)
        ):
            raise ParameterError(
                "A prior needs weight (classes, features), bias (classes,), one name per "
                f"class and mean, scale (features,); got {weight.shape}, {bias.shape}, "
                f"{len(classes)} names, {mean.shape}, {scale.shape}."
            )
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ParameterError("A prior's scale must be finite and positive.")
        if not self.temperature > 0:
            raise ParameterError(f"A prior's temperature must be positive, not {self.temperature}.")
        for name, value in (("weight", weight), ("bias", bias), ("scale", scale), ("mean", mean)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "temperature", float(self.temperature))

    @property
    def n_features(self) -> int:
        return int(self.weight.shape[1])

    def logits(self, X: Any) -> np.ndarray:
        """The head's calibrated logits ``(X @ weight.T + bias) / temperature``."""
        X = _rows(X, self.n_features)
        return (X @ self.weight.T + self.bias) / self.temperature

    def standardise(self, X: Any) -> np.ndarray:
        """``(X - mean) / scale``."""
        return (_rows(X, self.n_features) - self.mean) / self.scale

    def predict_proba(self, X: Any, classes: list[str] | None = None) -> np.ndarray:
        """The prior head's probabilities, of ``classes`` only (renormalised) if given."""
        logits = self.logits(X)
        if classes is not None:
            index = {c: i for i, c in enumerate(self.classes)}
            logits = logits[:, [index[c] for c in classes]]
        return _softmax(logits)

    @classmethod
    def from_arrays(
        cls,
        *,
        weight: np.ndarray,
        bias: np.ndarray,
        classes: Any,
        mean: np.ndarray,
        scale: np.ndarray,
        temperature: float | None = None,
        source: str = "",
    ) -> DefaultPrior:
        """A prior from raw arrays (e.g. a speaker-adapted head)."""
        return cls(
            weight=weight,
            bias=bias,
            classes=classes,
            mean=mean,
            scale=scale,
            temperature=1.0 if temperature is None else temperature,
            source=source,
        )

    @classmethod
    def from_estimator(cls, estimator: Any, *, source: str = "") -> DefaultPrior:
        """The prior of a fitted emovox embedding head (``whisper_head``,
        ``layer_logreg``): its folded linear head and its StandardScaler's statistics."""
        from emovox.linear_head import LinearHead, collapse_linear

        head = estimator if isinstance(estimator, LinearHead) else collapse_linear(estimator)
        if head is None or head.link != "softmax":
            raise ModelError(
                f"A {type(estimator).__name__} cannot serve as a prior: --from-default needs "
                "a model whose head is a linear softmax (such as the default model's)."
            )
        stats = _scaler_statistics(estimator, head.n_features_in_)
        dim = head.n_features_in_
        mean, scale = stats if stats is not None else (np.zeros(dim), np.ones(dim))
        return cls(
            weight=head.weight,
            bias=head.bias,
            classes=head.classes,
            mean=mean,
            scale=scale,
            temperature=head.temperature or 1.0,
            source=source,
            statistics=stats is not None,
        )

    @classmethod
    def from_folder(
        cls, folder: str | Path | None = None, *, statistics: bool = False
    ) -> DefaultPrior:
        """The prior of a saved model folder (None: the bundled default model).

        The folder's folded linear head (``head.safetensors``, the unadapted one) is read
        when it is there; otherwise, or with ``statistics`` (the standardisation the
        ``space="prior"`` option needs), the fitted model itself. :class:`ModelError` when
        the model is not a linear head on Whisper embeddings.
        """
        from emovox.model_folder import MODEL_DIR, default_model_path, read_metadata, saved_head

        path = default_model_path() if folder is None else Path(folder).expanduser()
        meta = read_metadata(path, bundled=folder is None)
        if (meta.get("features") or {}).get("name") != "whisper":
            raise ModelError(
                f"'{path}' was trained on {meta['features'].get('name')!r} features; "
                "--from-default needs a model on Whisper embeddings, such as the default."
            )
        head = None if statistics else saved_head(path)
        if head is None:
            from emovox.models import load_model  # scikit-learn, skops: seconds

            return cls.from_estimator(load_model(path / MODEL_DIR), source=str(path))
        if head.link != "softmax":
            raise ModelError(f"'{path}' has a {head.link} head; --from-default needs softmax.")
        return cls(
            weight=head.weight,
            bias=head.bias,
            classes=head.classes,
            mean=np.zeros(head.n_features_in_),
            scale=np.ones(head.n_features_in_),
            temperature=head.temperature or 1.0,
            source=str(path),
            statistics=False,
        )


def _scaler_statistics(estimator: Any, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean and scale of the StandardScaler inside an embedding head, on all ``dim``
    input columns (columns a LayerSelect dropped get mean 0 and scale 1); None when the
    head has no StandardScaler."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from emovox.models.embedding_head import LayerSelect, SpeakerCVSelect, TemperatureScaled

    model = estimator
    if isinstance(model, TemperatureScaled):
        model = model.estimator_
    if isinstance(model, SpeakerCVSelect):
        model = model.best_estimator_
    mean, scale = np.zeros(dim), np.ones(dim)
    if not isinstance(model, Pipeline):
        return None
    columns = np.arange(dim)
    for _, step in model.steps:
        if isinstance(step, LayerSelect):
            columns = np.concatenate(
                [np.arange((k - 1) * step.block_, k * step.block_) for k in step.layers]
            )
        elif isinstance(step, StandardScaler):
            if step.with_mean and step.mean_ is not None:
                mean[columns] = step.mean_
            if step.with_std and step.scale_ is not None:
                scale[columns] = step.scale_
            return mean, scale
    return None


def prior_matrix(classes: list[str], prior_classes: Any) -> np.ndarray:
    """``A0``: row ``k`` is one at the prior class named like ``classes[k]`` (exactly, or
    through the emotion synonyms: a custom class ``Angry`` maps to ``anger``), else zeros."""
    from emovox.corpora.naming import try_normalize_label

    index = {str(c): j for j, c in enumerate(prior_classes)}
    matrix = np.zeros((len(classes), len(index)))
    for k, name in enumerate(classes):
        j = index.get(name, index.get(try_normalize_label(name) or ""))
        if j is not None:
            matrix[k, j] = 1.0
    return matrix


# ------------------------------------------------------------------------------ the head


class PriorHead:
    """A linear softmax head for the user's classes, regularised toward a prior head.

    scikit-learn style: ``fit(X, y)`` returns self; fitted attributes end in ``_``
    (``classes_``, ``A_``, ``V_``, ``c_``, ``weight_``, ``bias_``, ``n_iter_``).
    ``alpha=inf`` keeps ``A`` at ``A0`` (pure regularisation toward the prior's weights,
    L2-SP); ``beta=inf`` keeps ``V`` at zero (a re-weighting of the prior's outputs only,
    i.e. stacking). ``class_weight="balanced"`` weighs every class equally, as the
    default model's head does.
    """

    def __init__(
        self,
        *,
        prior: DefaultPrior | None = None,
        alpha: float = ALPHA,
        beta: float = BETA,
        space: str = SPACE,
        class_weight: str | None = "balanced",
        max_iter: int = 500,
        tol: float = 1e-6,
    ) -> None:
        self.prior = prior
        self.alpha = alpha
        self.beta = beta
        self.space = space
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "alpha": self.alpha,
            "beta": self.beta,
            "space": self.space,
            "class_weight": self.class_weight,
            "max_iter": self.max_iter,
            "tol": self.tol,
        }

    def set_params(self, **params: Any) -> PriorHead:
        for key, value in params.items():
            if key not in self.get_params():
                raise ParameterError(f"PriorHead has no parameter {key!r}.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        return f"PriorHead(alpha={self.alpha:g}, beta={self.beta:g}, space={self.space!r})"

    def _check(self) -> DefaultPrior:
        if self.prior is None:
            raise ParameterError("PriorHead needs a prior (DefaultPrior).")
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ParameterError(
                    f"PriorHead's {name} must be a positive number, not {value!r}."
                )
        if self.space not in SPACES:
            raise ParameterError(f"space must be one of {SPACES}, not {self.space!r}.")
        if self.space == "prior" and not self.prior.statistics:
            raise ParameterError(
                "space='prior' needs the prior's standardisation: build the prior with "
                "DefaultPrior.from_folder(..., statistics=True)."
            )
        if self.class_weight not in (None, "balanced"):
            raise ParameterError(
                f"class_weight must be 'balanced' or None, not {self.class_weight!r}."
            )
        return self.prior

    def fit(self, X: Any, y: Any, groups: Any = None) -> PriorHead:
        """Fit on embeddings ``X`` (n, D) and labels ``y``; ``groups`` is accepted (and
        unused) so that the head fits wherever emovox passes speakers."""
        from scipy.optimize import minimize

        from emovox.labels import class_order

        prior = self._check()
        X = _rows(X, prior.n_features)
        y = np.asarray([str(v) for v in np.asarray(y).reshape(-1)])
        if len(y) != len(X):
            raise ParameterError(f"X has {len(X)} rows but y has {len(y)} labels.")
        classes = class_order(set(y.tolist()))
        if len(classes) < 2:
            raise ParameterError(f"Training needs at least two classes; got {classes}.")
        k, s, d = len(classes), len(prior.classes), prior.n_features
        index = {name: i for i, name in enumerate(classes)}
        target = np.array([index[v] for v in y], dtype=np.int64)
        counts = np.bincount(target, minlength=k).astype(np.float64)
        if self.class_weight == "balanced":
            weights = (len(y) / (k * counts))[target]
        else:
            weights = np.ones(len(y))
        S = prior.logits(X)
        if self.space == "prior":
            mean, scale = prior.mean, prior.scale
        else:
            mean = X.mean(axis=0)
            scale = X.std(axis=0)
            scale = np.where(scale > 1e-8 * max(float(scale.max()), 1e-12), scale, 1.0)
        Z = (X - mean) / scale
        A0 = prior_matrix(classes, prior.classes)
        learn_a, learn_v = np.isfinite(self.alpha), np.isfinite(self.beta)
        basis = None
        if learn_v and len(Z) < d:
            # The penalised optimum of V lies in the row space of Z: optimise its
            # coordinates there (exactly the same solution, far fewer numbers).
            Z, basis = _row_space(Z)
        dv = Z.shape[1]
        onehot = np.zeros((len(y), k))
        onehot[np.arange(len(y)), target] = 1.0

        def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            at = 0
            c = theta[at : at + k]
            at += k
            A = A0
            if learn_a:
                A = theta[at : at + k * s].reshape(k, s)
                at += k * s
            V = theta[at:].reshape(k, dv) if learn_v else None
            return A, V, c

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            A, V, c = unpack(theta)
            logits = S @ A.T + c
            if V is not None:
                logits = logits + Z @ V.T
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(shifted).sum(axis=1))
            log_p = shifted - log_norm[:, None]
            loss = -float(np.sum(weights * log_p[np.arange(len(y)), target]))
            residual = weights[:, None] * (np.exp(log_p) - onehot)
            grads = [residual.sum(axis=0)]
            if learn_a:
                loss += 0.5 * self.alpha * float(np.sum((A - A0) ** 2))
                grads.append((residual.T @ S + self.alpha * (A - A0)).ravel())
            if V is not None:
                loss += 0.5 * self.beta * float(np.sum(V**2))
                grads.append((residual.T @ Z + self.beta * V).ravel())
            return loss, np.concatenate(grads)

        start = [np.zeros(k)]
        if learn_a:
            start.append(A0.ravel())
        if learn_v:
            start.append(np.zeros(k * dv))
        result = minimize(
            objective,
            np.concatenate(start),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter, "gtol": self.tol},
        )
        A, V, c = unpack(result.x)
        self.classes_ = np.asarray(classes)
        self.A_ = A.copy()
        if V is None:
            self.V_ = np.zeros((k, d))
        else:
            self.V_ = V @ basis if basis is not None else V.copy()
        self.c_ = c.copy()
        self.n_iter_ = int(result.nit)
        # fold everything into one layer on raw embeddings
        self.mean_, self.scale_ = mean, scale
        self.weight_ = self.A_ @ prior.weight / prior.temperature + self.V_ / scale
        self.bias_ = self.A_ @ prior.bias / prior.temperature - (self.V_ / scale) @ mean + self.c_
        self.n_features_in_ = d
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "weight_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This PriorHead is not fitted yet; call fit first.")

    def decision_function(self, X: Any) -> np.ndarray:
        self._fitted()
        return _rows(X, self.n_features_in_) @ self.weight_.T + self.bias_

    def predict_proba(self, X: Any) -> np.ndarray:
        return _softmax(self.decision_function(X))

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def linear_head(self, temperature: float | None = None) -> Any:
        """The fitted head as a :class:`~emovox.linear_head.LinearHead`."""
        from emovox.linear_head import LinearHead

        self._fitted()
        return LinearHead(
            weight=self.weight_, bias=self.bias_, classes=self.classes_, temperature=temperature
        )

    def to_estimator(self, temperature: float | None = None) -> Any:
        """A fitted scikit-learn model computing the same probabilities, for saving (skops;
        :func:`~emovox.linear_head.collapse_linear` folds it back for the fast path): a
        ``LogisticRegression``, in a ``TemperatureScaled`` when ``temperature`` is given."""
        return as_logistic(self.linear_head(), temperature=temperature)


def as_logistic(head: Any, *, temperature: float | None = None) -> Any:
    """A fitted ``LogisticRegression`` whose ``predict_proba`` is the softmax of ``head``'s
    logits (optionally wrapped in a fitted ``TemperatureScaled``)."""
    from sklearn.linear_model import LogisticRegression

    from emovox.models.embedding_head import TemperatureScaled

    weight, bias, classes = head.weight, head.bias, np.asarray(head.classes)
    model = LogisticRegression(class_weight="balanced")
    if len(classes) == 2:  # binary: sigmoid(w1 - w0) == softmax([w0, w1])[1]
        model.coef_ = (weight[1] - weight[0])[np.newaxis, :]
        model.intercept_ = np.array([bias[1] - bias[0]])
    else:
        model.coef_ = weight.copy()
        model.intercept_ = bias.copy()
    model.classes_ = classes
    model.n_features_in_ = weight.shape[1]
    model.n_iter_ = np.array([0], dtype=np.int32)
    if temperature is None:
        return model
    scaled = TemperatureScaled(estimator=LogisticRegression(class_weight="balanced"))
    scaled.estimator_ = model
    scaled.temperature_ = float(temperature)
    scaled.classes_ = classes
    return scaled


def _row_space(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(F, basis)`` with ``Z == F @ basis`` and orthonormal rows in ``basis`` (rank of
    ``Z`` rows), from the eigendecomposition of the Gram matrix ``Z @ Z.T``."""
    values, vectors = np.linalg.eigh(Z @ Z.T)
    keep = values > 1e-10 * max(float(values.max()), 1e-300)
    root = np.sqrt(values[keep])
    vectors = vectors[:, keep]
    return vectors * root, (vectors / root).T @ Z


def _rows(X: Any, dim: int) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != dim:
        raise ParameterError(f"Expected embeddings with {dim} features per row, got {X.shape}.")
    return X


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
