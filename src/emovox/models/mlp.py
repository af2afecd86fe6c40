"""A small PyTorch MLP head for fixed-size feature vectors or embeddings (``mlp``).

Inputs are standardised per feature (mean and standard deviation of the training data,
saved with the weights), then pass through ``hidden`` ReLU layers with dropout to the
class logits. Training (class-balanced cross-entropy by default, weight decay, early
stopping on a validation part drawn by speaker) is shared with the seed CNN, see
:mod:`emovox.models.torch_training`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from emovox.errors import ParameterError
from emovox.models.torch_training import TorchClassifier


class MLPHead(nn.Module):
    """``Linear -> ReLU -> Dropout`` per hidden layer, then a linear layer to the classes."""

    def __init__(
        self, n_features: int, n_classes: int, *, hidden: tuple[int, ...], dropout: float
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        return self.layers(x)


class MLPHeadClassifier(TorchClassifier):
    """An MLP on 2-D inputs ``(n, n_features)`` as a scikit-learn classifier.

    ``hidden`` lists the hidden layer widths (empty: a linear softmax classifier);
    ``class_weight='balanced'`` weighs each class's loss by the inverse of its frequency.
    Fitted attributes are those of :class:`~emovox.models.torch_training.TorchClassifier`.
    """

    kind: ClassVar[str] = "mlp"
    input_ndim: ClassVar[int] = 2
    standardize_axes: ClassVar[tuple[int, ...]] = (0,)

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] = (256,),
        dropout: float = 0.3,
        max_epochs: int = 200,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        patience: int = 15,
        val_fraction: float = 0.15,
        class_weight: str | None = "balanced",
        standardize: bool = True,
        seed: int = 0,
        device: str = "cpu",
        n_threads: int | None = None,
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.val_fraction = val_fraction
        self.class_weight = class_weight
        self.standardize = standardize
        self.seed = seed
        self.device = device
        self.n_threads = n_threads

    def build_network(self, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        hidden = tuple(int(size) for size in self.hidden)
        if any(size < 1 for size in hidden):
            raise ParameterError(f"hidden layer widths must be positive, not {self.hidden}.")
        return MLPHead(input_shape[0], n_classes, hidden=hidden, dropout=self.dropout)


def make_mlp(*, seed: int = 0, **params: Any) -> MLPHeadClassifier:
    """The ``mlp`` entry of :data:`emovox.models.MODELS`."""
    if "hidden" in params:
        params["hidden"] = tuple(params["hidden"])
    return MLPHeadClassifier(seed=seed, **params)
