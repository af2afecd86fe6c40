"""Run one evaluation: features -> folds -> fit/predict per fold -> metrics report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emovox import __version__
from emovox.errors import EmovoxError
from emovox.evaluation.metrics import (
    classification_metrics,
    expected_calibration_error,
    summarize_folds,
)
from emovox.evaluation.splits import make_folds
from emovox.features import FeatureCache, make_extractor
from emovox.features.batch import (
    augmented_features,
    check_augment,
    table_features,
    transformed_features,
)
from emovox.labels import label_order
from emovox.models import fit_model, make_model
from emovox.progress import ProgressHook, StepCounter


def evaluate(
    table: pd.DataFrame,
    *,
    features: dict,
    classifier: str,
    params: dict | None = None,
    protocol: str = "speaker",
    n_folds: int = 5,
    seed: int = 0,
    cache: FeatureCache | None = None,
    hook: ProgressHook | None = None,
    test_conditions: dict[str, Any] | None = None,
    extra_train: pd.DataFrame | None = None,
    augment: str | None = None,
) -> dict[str, Any]:
    """Evaluate one feature/classifier pair under ``protocol`` and return a JSON-able report.

    Every choice (classifier and its ``params``, features, augmentation, protocol) is
    checked before any feature is computed. ``hook`` is told of features, folds and
    fitting (:mod:`emovox.progress`).

    Models are fitted on the training part of each fold only; early stopping and any
    calibration inside a model draw their validation data from the training speakers.
    ``test_conditions`` maps names to degradations (objects with ``key`` and ``__call__``,
    see :mod:`emovox.audio.degrade`): the same fitted models are also tested on degraded
    copies of the test audio, reported under ``report["conditions"]``.
    ``extra_train`` rows (other corpora, say) join the training part of every fold and are
    never tested on; their speakers must not occur in ``table``. ``augment`` names a set of
    :data:`emovox.audio.degrade.AUGMENTATIONS`: each adds a transformed copy of every
    *training* row of every fold (the test rows are never augmented).
    """
    params = dict(params or {})
    make_model(classifier, seed=seed, **params)  # bad names and parameters fail here, at once
    config = make_extractor(features).config()
    check_augment(augment)
    make_folds(table, protocol=protocol, n_folds=n_folds, seed=seed)  # a bad protocol, at once
    X, kept, failures = table_features(table, features, cache=cache, hook=hook)
    degraded = transformed_features(
        kept, features, dict(test_conditions or {}), cache=cache, hook=hook
    )
    condition_preds: dict[str, list] = {name: [] for name in degraded}
    condition_folds: dict[str, list] = {name: [] for name in degraded}
    augmented = augmented_features(kept, features, augment, cache=cache, hook=hook)
    protocol_name, folds = make_folds(kept, protocol=protocol, n_folds=n_folds, seed=seed)
    labels = label_order(set(kept["label"]))
    y = kept["label"].to_numpy()
    groups = kept["speaker"].to_numpy()
    X_extra, y_extra, groups_extra = X[:0], y[:0], groups[:0]
    if extra_train is not None:
        shared = set(extra_train["speaker"]) & set(kept["speaker"])
        if shared:
            raise EmovoxError(f"extra_train shares speakers with the evaluated table: {shared}.")
        X_extra, kept_extra, fail_extra = table_features(
            extra_train, features, cache=cache, hook=hook, step="extra training features"
        )
        failures = failures + fail_extra
        y_extra = kept_extra["label"].to_numpy()
        groups_extra = kept_extra["speaker"].to_numpy()

    fold_reports, truth, predicted = [], [], []
    prob_rows: list[np.ndarray] = []
    test_rows: list[np.ndarray] = []
    count = StepCounter(hook, f"fitting {classifier} per fold", total=len(folds))
    for fold in folds:
        started = time.perf_counter()
        estimator = make_model(classifier, seed=seed, **params)
        fit_model(
            estimator,
            np.concatenate([X[fold.train], X_extra, *[X_aug[fold.train] for X_aug in augmented]]),
            np.concatenate([y[fold.train], y_extra, *[y[fold.train] for _ in augmented]]),
            groups=np.concatenate(
                [groups[fold.train], groups_extra, *[groups[fold.train] for _ in augmented]]
            ),
        )
        fit_seconds = time.perf_counter() - started
        proba = estimator.predict_proba(X[fold.test])
        classes = list(estimator.classes_)
        pred = np.asarray(classes)[np.argmax(proba, axis=1)]
        metrics = classification_metrics(y[fold.test], pred, labels=labels)
        fold_reports.append(
            {
                "name": fold.name,
                "n_train": int(fold.train.size),
                "n_test": int(fold.test.size),
                "test_speakers": sorted(set(groups[fold.test])),
                "fit_seconds": round(fit_seconds, 2),
                "metrics": metrics,
            }
        )
        for name, X_cond in degraded.items():
            p_cond = np.asarray(classes)[np.argmax(estimator.predict_proba(X_cond[fold.test]), 1)]
            condition_preds[name].extend(p_cond)
            condition_folds[name].append(
                classification_metrics(y[fold.test], p_cond, labels=labels)
            )
        truth.extend(y[fold.test])
        predicted.extend(pred)
        full = np.zeros((len(fold.test), len(labels)))
        for j, name in enumerate(classes):
            if name in labels:
                full[:, labels.index(name)] = proba[:, j]
        prob_rows.append(full)
        test_rows.append(fold.test)
        count.advance(artifact=fold_reports[-1])

    order = np.concatenate(test_rows)
    predictions = pd.DataFrame(
        {
            "path": kept["path"].to_numpy()[order],
            "speaker": groups[order],
            "corpus": kept["corpus"].to_numpy()[order],
            "truth": truth,
            "predicted": predicted,
        }
    )
    probs = np.concatenate(prob_rows)
    pooled = classification_metrics(truth, predicted, labels=labels)
    pooled["ece"] = expected_calibration_error(probs, np.asarray(truth) == np.asarray(predicted))
    for j, name in enumerate(labels):
        predictions[f"p_{name}"] = probs[:, j].round(4)

    return {
        "emovox_version": __version__,
        "protocol": protocol_name,
        "corpora": {k: int(v) for k, v in kept["corpus"].value_counts().sort_index().items()},
        "classes": labels,
        "class_counts": {k: int(v) for k, v in kept["label"].value_counts().items()},
        "n_files": len(kept),
        "n_speakers": int(kept["speaker"].nunique()),
        "features": config,
        "model": {"name": classifier, "params": params},
        "seed": seed,
        "n_folds": len(folds),
        "conditions": {
            name: {
                "key": transform.key,
                "summary": summarize_folds(condition_folds[name]),
                "pooled": classification_metrics(truth, condition_preds[name], labels=labels),
            }
            for name, transform in (test_conditions or {}).items()
        },
        "augment": augment,
        "extra_train": (
            {k: int(v) for k, v in extra_train["corpus"].value_counts().sort_index().items()}
            if extra_train is not None
            else None
        ),
        "summary": summarize_folds([f["metrics"] for f in fold_reports]),
        "pooled": pooled,
        "folds": fold_reports,
        "failures": [f.to_dict() for f in failures],
        "predictions": predictions,
    }


def evaluate_and_write(out_dir: Path, table: pd.DataFrame, **kwargs: Any) -> dict[str, Any]:
    """:func:`evaluate`, timed (``wall_seconds``), written to ``out_dir`` by
    :func:`~emovox.evaluation.report.write_report`; returns the report without predictions."""
    from emovox.evaluation.report import write_report

    started = time.perf_counter()
    report = evaluate(table, **kwargs)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_report(report, out_dir)
    report.pop("predictions", None)
    return report
