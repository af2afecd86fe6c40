"""The seed system's Keras CNN on MFCC "images", ported to PyTorch layer for layer.

The input is one MFCC matrix per recording, ``(n_mfcc, n_frames)`` = ``(39, 216)`` in the
seed, read as a one-channel image. Every convolution uses valid padding::

    Conv2d(1, 8, 13)  BatchNorm ReLU     39x216 -> 27x204
    Conv2d(8, 8, 13)  BatchNorm ReLU            -> 15x192
    MaxPool (2, 1)                              ->  7x192
    Conv2d(8, 8, 3)   BatchNorm ReLU            ->  5x190
    Conv2d(8, 8, 1)   BatchNorm ReLU            ->  5x190
    MaxPool (2, 1)                              ->  2x190
    Flatten                                     -> 8 * 2 * 190 = 3040
    Linear(3040, 64)  BatchNorm1d ReLU Dropout(0.2)
    Linear(64, n_classes)                          (softmax at prediction)

For seven classes that is 208,111 trainable parameters and 192 batch-norm running
statistics, as in the seed. Batch normalisation uses Keras' epsilon (1e-3) but PyTorch's
momentum (0.1; Keras' 0.99 is PyTorch's 0.01): with Keras' slower running averages the
statistics used at prediction lag far behind the data on a small corpus.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from emovox.errors import ParameterError
from emovox.models.torch_training import TorchClassifier

SEED_INPUT_SHAPE = (39, 216)
"""The seed's MFCC image: 39 coefficients by 216 frames."""

BN_EPS = 1e-3
BN_MOMENTUM = 0.1


def conv_block(in_channels: int, out_channels: int, kernel: int) -> list[nn.Module]:
    """A valid-padded square convolution, batch normalisation and ReLU."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel),
        nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM),
        nn.ReLU(),
    ]


def feature_map_shape(input_shape: tuple[int, int]) -> tuple[int, int]:
    """Height and width after the convolutional part, for an ``input_shape`` image."""
    height, width = input_shape
    height, width = height - 12, width - 12  # conv 13
    height, width = height - 12, width - 12  # conv 13
    height //= 2  # pool (2, 1)
    height, width = height - 2, width - 2  # conv 3
    height //= 2  # pool (2, 1)
    if height < 1 or width < 1:
        raise ParameterError(
            f"The seed CNN needs inputs of at least 32 x 27 (coefficients x frames), "
            f"not {input_shape[0]} x {input_shape[1]}."
        )
    return height, width


class SeedCNN(nn.Module):
    """The seed's network: four conv blocks, two poolings and a 64-unit dense layer."""

    def __init__(
        self,
        n_classes: int,
        input_shape: tuple[int, int] = SEED_INPUT_SHAPE,
        *,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        height, width = feature_map_shape(input_shape)
        self.features = nn.Sequential(
            *conv_block(1, 8, 13),
            *conv_block(8, 8, 13),
            nn.MaxPool2d((2, 1)),
            *conv_block(8, 8, 3),
            *conv_block(8, 8, 1),
            nn.MaxPool2d((2, 1)),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(8 * height * width, 64),
            nn.BatchNorm1d(64, eps=BN_EPS, momentum=BN_MOMENTUM),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(64, n_classes),
        )

    def forward(self, x: Any) -> Any:
        """Logits for a batch ``(n, n_mfcc, n_frames)`` (or with a channel axis of 1)."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        return self.head(self.features(x))


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """``(trainable parameters, batch-norm running statistics)`` of ``module``.

    Running statistics are ``running_mean`` and ``running_var`` (``num_batches_tracked``
    is a counter, not a statistic, and is not counted).
    """
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    running = sum(
        m.running_mean.numel() + m.running_var.numel()
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None
    )
    return trainable, running


class SeedCNNClassifier(TorchClassifier):
    """The seed CNN as a scikit-learn classifier on ``(n, n_mfcc, n_frames)`` arrays.

    Unlike the seed, which compiled the network with *binary* cross-entropy on one-hot
    targets (a loss for independent yes/no outputs, under which Keras reports a "binary
    accuracy" averaged over the seven outputs and so far above the real accuracy), this
    port trains with categorical cross-entropy over the classes. Early stopping, the
    validation split by speaker and determinism are described in
    :mod:`emovox.models.torch_training`; ``standardize`` scales each MFCC coefficient by
    its mean and standard deviation over the training data.
    """

    kind: ClassVar[str] = "seed_cnn"
    input_ndim: ClassVar[int] = 3
    standardize_axes: ClassVar[tuple[int, ...]] = (0, 2)

    def __init__(
        self,
        *,
        max_epochs: int = 100,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 10,
        val_fraction: float = 0.15,
        class_weight: str | None = None,
        dropout: float = 0.2,
        standardize: bool = True,
        seed: int = 0,
        device: str = "cpu",
        n_threads: int | None = None,
    ) -> None:
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.val_fraction = val_fraction
        self.class_weight = class_weight
        self.dropout = dropout
        self.standardize = standardize
        self.seed = seed
        self.device = device
        self.n_threads = n_threads

    def build_network(self, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        return SeedCNN(n_classes, (input_shape[0], input_shape[1]), dropout=self.dropout)


def make_seed_cnn(*, seed: int = 0, **params: Any) -> SeedCNNClassifier:
    """The ``seed_cnn`` entry of :data:`emovox.models.MODELS`."""
    return SeedCNNClassifier(seed=seed, **params)
