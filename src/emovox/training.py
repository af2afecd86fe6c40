"""Training a recognizer on a corpus table: features -> (augmented copies) -> fitted model.

:func:`train` is what ``emovox train`` and :meth:`emovox.Recognizer.train` run. It checks
every choice (classifier name and parameters, augmentation) before any feature is
computed, so that a typo fails in a second rather than after an hour of extraction, and
reports progress through a hook (:mod:`emovox.progress`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from emovox.errors import EmovoxError
from emovox.progress import ProgressHook, StepCounter

if TYPE_CHECKING:
    import pandas as pd

    from emovox.features import FeatureCache
    from emovox.recognizer import Recognizer


def train(
    table: pd.DataFrame,
    *,
    features: dict,
    classifier: str = "svm",
    params: dict | None = None,
    seed: int = 0,
    cache: FeatureCache | None = None,
    hook: ProgressHook | None = None,
    augment: str | None = None,
) -> Recognizer:
    """Fit ``classifier`` on every row of a corpus table and return the :class:`Recognizer`.

    ``table`` needs ``path``, ``label``, ``speaker`` and ``corpus`` columns (speakers
    guide the validation splits inside models). ``augment`` names a set of
    :data:`emovox.audio.degrade.AUGMENTATIONS` whose transformed copies of every file are
    added to the training data. Files that cannot be read are skipped and listed in
    ``metadata["training"]["failures"]``.
    """
    from emovox.features import make_extractor
    from emovox.features.batch import augmented_features, check_augment, table_features
    from emovox.labels import label_order
    from emovox.models import fit_model, make_model
    from emovox.recognizer import Recognizer

    params = dict(params or {})
    estimator = make_model(classifier, seed=seed, **params)  # bad names fail here, at once
    extractor = make_extractor(features)
    check_augment(augment)
    started = time.perf_counter()
    X, kept, failures = table_features(table, features, cache=cache, hook=hook)
    labels = label_order(set(kept["label"]))
    if len(labels) < 2:
        raise EmovoxError(f"Training needs at least two classes; the files read hold {labels}.")
    copies = [X, *augmented_features(kept, features, augment, cache=cache, hook=hook)]
    fitting = StepCounter(hook, f"fitting {classifier}", total=None)
    fit_model(
        estimator,
        np.concatenate(copies),
        np.tile(kept["label"].to_numpy(), len(copies)),
        groups=np.tile(kept["speaker"].to_numpy(), len(copies)),
    )
    fitting.finish()
    metadata = {
        "model": {"name": classifier, "params": params},
        "seed": seed,
        "augment": augment,
        "training": {
            "corpora": {k: int(v) for k, v in kept["corpus"].value_counts().items()},
            "n_files": len(kept),
            "speakers": sorted(kept["speaker"].unique().tolist()),
            "class_counts": {k: int(v) for k, v in kept["label"].value_counts().items()},
            "failures": [f.to_dict() for f in failures],
            "seconds": round(time.perf_counter() - started, 1),
        },
    }
    if hasattr(extractor, "weights_info"):
        metadata["encoder_weights"] = extractor.weights_info()
    return Recognizer(
        features=extractor.config(), model=estimator, labels=labels, metadata=metadata
    )
