"""Classification metrics, always with UAR (balanced accuracy) beside accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, recall_score


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str]
) -> dict:
    """Accuracy, UAR, macro-F1, per-class recall and the confusion matrix (rows = truth).

    Only classes present in ``y_true`` count towards UAR and macro-F1, so a fold missing a
    class (a cross-corpus target without "surprise", say) is not penalised for it.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    present = [label for label in labels if np.any(y_true == label)]
    recall = recall_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    return {
        "n": int(y_true.size),
        "accuracy": float(np.mean(y_true == y_pred)) if y_true.size else float("nan"),
        "uar": float(np.mean(recall)) if len(present) else float("nan"),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
        "per_class_recall": {label: float(r) for label, r in zip(present, recall, strict=True)},
        "labels": list(labels),
        "confusion": confusion_matrix(y_true, y_pred, labels=list(labels)).tolist(),
    }


STD_DDOF = 1
"""Delta degrees of freedom of the ``std`` in :func:`summarize_folds`: 1, the *sample*
standard deviation over folds (divisor n - 1), as reported beside every ± in the docs."""


def summarize_folds(fold_metrics: list[dict]) -> dict:
    """Mean, sample standard deviation (ddof=1), min and max over folds of accuracy, UAR
    and macro-F1.

    Folds where a metric is NaN are left out of that metric. ``std`` is NaN when fewer than
    two folds have a value (a spread needs two); each entry records ``std_ddof`` (1) and
    ``n_folds`` (the folds counted), so a reader can convert to another convention.
    """
    summary = {}
    for key in ("accuracy", "uar", "macro_f1"):
        values = np.array([m[key] for m in fold_metrics], dtype=float)
        values = values[~np.isnan(values)]
        summary[key] = {
            "mean": float(np.mean(values)) if values.size else float("nan"),
            "std": float(np.std(values, ddof=STD_DDOF)) if values.size > STD_DDOF else float("nan"),
            "min": float(np.min(values)) if values.size else float("nan"),
            "max": float(np.max(values)) if values.size else float("nan"),
            "std_ddof": STD_DDOF,
            "n_folds": int(values.size),
        }
    return summary


def expected_calibration_error(
    probabilities: np.ndarray, correct: np.ndarray, *, n_bins: int = 10
) -> float:
    """ECE of the top-class confidence: the mean |confidence - accuracy| over equal-width bins,
    weighted by each bin's share of predictions. 0 means "a reported 0.9 is right 90 % of
    the time"."""
    confidence = np.max(np.asarray(probabilities, dtype=float), axis=1)
    correct = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1]), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        members = bins == b
        if members.any():
            ece += members.mean() * abs(confidence[members].mean() - correct[members].mean())
    return float(ece)
