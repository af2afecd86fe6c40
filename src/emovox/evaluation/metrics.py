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


def summarize_folds(fold_metrics: list[dict]) -> dict:
    """Mean and standard deviation over folds of accuracy, UAR and macro-F1."""
    summary = {}
    for key in ("accuracy", "uar", "macro_f1"):
        values = np.array([m[key] for m in fold_metrics], dtype=float)
        summary[key] = {
            "mean": float(np.nanmean(values)),
            "std": float(np.nanstd(values)),
            "min": float(np.nanmin(values)),
            "max": float(np.nanmax(values)),
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
