"""What emovox's PyTorch classifiers share: validation split, training loop, fit/predict.

:class:`TorchClassifier` is a scikit-learn style classifier around a ``torch.nn.Module``;
subclasses (:mod:`~emovox.models.seed_cnn`, :mod:`~emovox.models.mlp`) only say how to
build their network. Training is the same for all of them:

* a validation part for early stopping is drawn from the *training* data
  (:func:`validation_split`): by speaker when ``groups`` are given, so that early
  stopping never sees a training speaker's voice; stratified at random otherwise;
* Adam on categorical cross-entropy, optionally class-balanced;
* the weights of the epoch with the lowest validation loss are restored at the end;
* a fixed ``seed`` gives identical weights and predictions on the same machine.

Inputs are standardised by a :class:`Standardize` layer whose mean and standard deviation
come from the training part and are saved with the weights.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit
from torch import nn

from emovox.errors import ModelError, ParameterError

PREDICT_BATCH_SIZE = 512
"""Rows per forward pass at prediction time."""

CLASS_WEIGHTS = (None, "balanced")


def validation_split(
    y: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    fraction: float = 0.15,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, validation)`` splitting a training set for early stopping.

    With ``groups`` (speaker ids) whole groups go to one side, about ``fraction`` of the
    groups to validation, so no speaker is on both sides. Without groups the split is
    random and stratified by class where every class has at least two rows. A
    ``fraction`` of 0 gives an empty validation part.
    """
    y = np.asarray(y)
    n = len(y)
    everything = np.arange(n)
    if not 0.0 <= fraction < 1.0:
        raise ParameterError(f"val_fraction must be in [0, 1), not {fraction}.")
    if fraction == 0.0:
        return everything, everything[:0]
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ParameterError(f"groups has {len(groups)} entries but there are {n} rows.")
        if len(np.unique(groups)) < 2:
            raise ParameterError(
                "A validation split by speaker needs at least two speakers in the training "
                "data; pass more speakers, groups=None, or val_fraction=0."
            )
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        train, val = next(splitter.split(everything, y, groups))
        return np.sort(train), np.sort(val)
    try:
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        train, val = next(splitter.split(everything, y))
    except ValueError:  # a class with one row, or fewer validation rows than classes
        splitter = ShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        train, val = next(splitter.split(everything))
    return np.sort(train), np.sort(val)


class Standardize(nn.Module):
    """Subtract a fixed mean and divide by a fixed standard deviation (saved as buffers)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean.clone().float())
        self.register_buffer("std", std.clone().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    @classmethod
    def identity(cls, input_shape: tuple[int, ...], axes: tuple[int, ...]) -> Standardize:
        """Mean 0 and std 1, shaped for inputs of ``input_shape`` reduced over ``axes``."""
        shape = [1 if axis in axes else size for axis, size in enumerate((1, *input_shape))]
        return cls(torch.zeros(shape), torch.ones(shape))

    @classmethod
    def from_data(cls, X: np.ndarray, axes: tuple[int, ...]) -> Standardize:
        """Statistics of ``X`` over ``axes`` (a constant feature gets std 1)."""
        mean = X.mean(axis=axes, keepdims=True, dtype=np.float64)
        std = X.std(axis=axes, keepdims=True, dtype=np.float64)
        std[std < 1e-8] = 1.0
        return cls(torch.from_numpy(mean).float(), torch.from_numpy(std).float())


@dataclass
class TrainingResult:
    """What :func:`train_classifier` reports: one row per epoch and the epoch kept."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0


def batch_indices(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffled mini-batches of ``range(n)``; a last batch of one row joins the one before.

    (Batch normalisation cannot train on a batch of one.)
    """
    order = torch.randperm(n, generator=generator)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def train_classifier(
    module: nn.Module,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_val: torch.Tensor,
    y_val: torch.Tensor,
    *,
    max_epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    patience: int,
    class_weights: torch.Tensor | None,
    generator: torch.Generator,
) -> TrainingResult:
    """Train ``module`` with Adam on cross-entropy; early stopping on the validation loss.

    Epochs are numbered from 1. With an empty validation part every epoch runs and the
    last one is kept; otherwise training stops after ``patience`` epochs without a lower
    validation loss and the best epoch's weights (and batch-norm statistics) are restored.
    """
    loss_fn = nn.CrossEntropyLoss(weight=class_weights)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    result = TrainingResult()
    has_val = len(y_val) > 0
    best_loss, best_state, stale = math.inf, None, 0
    for epoch in range(1, max_epochs + 1):
        module.train()
        total = 0.0
        for batch in batch_indices(len(y_train), batch_size, generator):
            optimizer.zero_grad()
            loss = loss_fn(module(X_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": total / len(y_train),
            "val_loss": None,
            "val_accuracy": None,
        }
        if has_val:
            logits = predict_logits(module, X_val)
            row["val_loss"] = loss_fn(logits, y_val).item()
            row["val_accuracy"] = (logits.argmax(dim=1) == y_val).float().mean().item()
        result.history.append(row)
        if not has_val:
            result.best_epoch = epoch
            continue
        if row["val_loss"] < best_loss:
            best_loss, stale, result.best_epoch = row["val_loss"], 0, epoch
            best_state = copy.deepcopy(module.state_dict())
        else:
            stale += 1
            if stale >= patience:
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return result


def predict_logits(module: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """Logits of ``module`` in evaluation mode, :data:`PREDICT_BATCH_SIZE` rows at a time."""
    module.eval()
    with torch.inference_mode():
        parts = [module(chunk) for chunk in X.split(PREDICT_BATCH_SIZE)]
    return torch.cat(parts)


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Use ``n_threads`` intra-op threads inside the block (None or 0: leave them as they
    are); the process-wide :meth:`emovox.runtime.Runtime.torch_threads` keeps concurrent
    users from undoing each other's setting."""
    from emovox.runtime import runtime

    with runtime().torch_threads(n_threads or None):
        yield


@contextmanager
def seeded_torch(seed: int, n_threads: int | None = None) -> Iterator[None]:
    """Seed torch's global generator and ask for deterministic algorithms, inside the block.

    The global random state, the determinism flag and the thread count are restored after,
    so fitting a model does not change randomness elsewhere in the program.
    """
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=[]), torch_threads(n_threads):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """Base of emovox's PyTorch classifiers: scikit-learn's fit / predict_proba / predict.

    Subclasses set :attr:`kind`, :attr:`input_ndim` and :attr:`standardize_axes`, list
    their parameters in ``__init__`` (scikit-learn reads them from its signature) and
    implement :meth:`build_network`. Fitted attributes: ``classes_``, ``input_shape_``,
    ``module_`` (the standardisation layer followed by the network), ``history_`` (one
    dict per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy``),
    ``best_epoch_`` (1-based, the epoch whose weights are kept), ``n_epochs_`` and, for
    2-D inputs, ``n_features_in_``.
    """

    kind: ClassVar[str]
    input_ndim: ClassVar[int]
    standardize_axes: ClassVar[tuple[int, ...]]

    # Set by subclasses' __init__; declared for type checkers.
    max_epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    patience: int
    val_fraction: float
    class_weight: str | None
    standardize: bool
    seed: int
    device: str
    n_threads: int | None

    def build_network(self, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        """The untrained network for inputs of ``input_shape`` (one row) and ``n_classes``."""
        raise NotImplementedError

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, groups: Any = None) -> TorchClassifier:
        """Fit on ``X`` and labels ``y``; ``groups`` (speaker ids) guide the validation split."""
        X = self._check_X(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ParameterError(f"Expected {len(X)} labels in a 1-D array, got shape {y.shape}.")
        if self.class_weight not in CLASS_WEIGHTS:
            raise ParameterError(
                f"class_weight must be None or 'balanced', not {self.class_weight!r}."
            )
        classes, y_index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ModelError("Training data must contain at least two classes.")
        train, val = validation_split(y, groups, fraction=self.val_fraction, seed=self.seed)
        if len(train) < 2:
            raise ModelError("Too little training data: fewer than two rows left for training.")
        input_shape = tuple(int(size) for size in X.shape[1:])
        device = torch.device(self.device)
        with seeded_torch(self.seed, self.n_threads):
            network = self.build_network(input_shape, len(classes))
            if self.standardize:
                scaler = Standardize.from_data(X[train], self.standardize_axes)
            else:
                scaler = Standardize.identity(input_shape, self.standardize_axes)
            module = nn.Sequential(scaler, network).to(device)
            X_t = torch.from_numpy(X).to(device)
            y_t = torch.from_numpy(y_index.astype(np.int64)).to(device)
            train_t = torch.from_numpy(train).to(device)
            val_t = torch.from_numpy(val).to(device)
            result = train_classifier(
                module,
                X_t[train_t],
                y_t[train_t],
                X_t[val_t],
                y_t[val_t],
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                weight_decay=self.weight_decay,
                patience=self.patience,
                class_weights=self._class_weights(y_index[train], len(classes), device),
                generator=torch.Generator().manual_seed(self.seed),
            )
        self._set_fitted(classes, input_shape, module, result.history, result.best_epoch)
        return self

    def _set_fitted(
        self,
        classes: np.ndarray,
        input_shape: tuple[int, ...],
        module: nn.Module,
        history: list[dict[str, Any]],
        best_epoch: int,
    ) -> None:
        self.classes_ = classes
        self.input_shape_ = input_shape
        if self.input_ndim == 2:
            self.n_features_in_ = input_shape[0]
        self.module_ = module
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.n_epochs_ = len(history)

    def _class_weights(
        self, y_index: np.ndarray, n_classes: int, device: torch.device
    ) -> torch.Tensor | None:
        """``n / (k * count)`` per class for ``class_weight='balanced'``, else None."""
        if self.class_weight != "balanced":
            return None
        counts = np.bincount(y_index, minlength=n_classes).clip(min=1)
        weights = len(y_index) / (n_classes * counts)
        return torch.tensor(weights, dtype=torch.float32, device=device)

    # -- prediction ---------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one row per input, columns in :attr:`classes_` order."""
        self._check_fitted()
        X = self._check_X(X)
        if X.shape[1:] != self.input_shape_:
            raise ParameterError(
                f"This model was trained on inputs of shape {self.input_shape_}, "
                f"not {tuple(X.shape[1:])}."
            )
        device = torch.device(self.device)
        self.module_.to(device)
        with torch_threads(self.n_threads):
            logits = predict_logits(self.module_, torch.from_numpy(X).to(device))
        proba = torch.softmax(logits.double(), dim=1).cpu().numpy()
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each input."""
        self._check_fitted()
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # -- saving and loading (used by emovox.models.io) ----------------------------------
    def restore(
        self,
        *,
        classes: np.ndarray,
        input_shape: tuple[int, ...],
        state_dict: dict[str, torch.Tensor],
        history: list[dict[str, Any]] | None = None,
        best_epoch: int = 0,
    ) -> TorchClassifier:
        """Rebuild a fitted model from saved weights (the inverse of ``module_.state_dict()``)."""
        input_shape = tuple(int(size) for size in input_shape)
        network = self.build_network(input_shape, len(classes))
        scaler = Standardize.identity(input_shape, self.standardize_axes)
        module = nn.Sequential(scaler, network)
        try:
            module.load_state_dict(state_dict, strict=True)
        except RuntimeError as exc:
            raise ModelError(f"The saved weights do not fit this model: {exc}") from None
        module.to(torch.device(self.device)).eval()
        self._set_fitted(np.asarray(classes), input_shape, module, list(history or []), best_epoch)
        return self

    # -- checks -------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise ModelError(f"This {type(self).__name__} is not fitted yet; call fit first.")

    def _check_X(self, X: Any) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != self.input_ndim:
            raise ParameterError(
                f"{type(self).__name__} expects a {self.input_ndim}-D array "
                f"(rows first), got {X.ndim}-D with shape {X.shape}."
            )
        if len(X) == 0:
            raise ParameterError("No input rows.")
        if not np.isfinite(X).all():
            raise ParameterError("The input contains NaN or infinite values.")
        return X
