"""Honest feedback on a model trained on a user's own clips.

:func:`estimate_accuracy` cross-validates a training recipe on the user's data, grouped
by speaker when speakers are known, and says plainly when it cannot be
speaker-independent (the estimate is then optimistic: the model heard the test speakers
in training). :func:`data_warnings` and :func:`prediction_warnings` flag what makes a
model doubtful: classes with too few clips or only one speaker, and predictions that
collapse onto one class. :func:`report_lines` renders a report for a person (the CLI),
:func:`plot_report` draws its confusion matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emovox.progress import ProgressHook, StepCounter

MIN_CLIPS = 10
"""Fewer clips than this in a class draws a warning (docs/results.md, "Your own data:
learning curve": the gain over the default model grows up to about 20-50 clips per class)."""

N_FOLDS = 5
"""Folds of the estimate (fewer when there are fewer speakers, or clips in a class)."""

UNKNOWN_SUFFIX = ":unknown"
"""Speaker ids ending in this (``folder:unknown``, ``manifest:unknown``) are not known."""

COLLAPSE_SHARE = 0.5
"""A predicted class taking more than this share of predictions, and more than twice its
true share, counts as a collapse."""

Fit = Callable[[np.ndarray, np.ndarray, np.ndarray | None], Any]
"""``fit(X, y, groups)`` -> a fitted model with ``classes_`` and ``predict_proba``."""


def known_speakers(speakers: Sequence[str]) -> np.ndarray:
    """True where a row's speaker is known (not ``<corpus>:unknown`` or empty)."""
    return np.array([bool(s) and not str(s).endswith(UNKNOWN_SUFFIX) for s in speakers], dtype=bool)


def plan_folds(
    y: np.ndarray, speakers: np.ndarray, *, n_folds: int = N_FOLDS, seed: int = 0
) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """The folds of the estimate and how they were made.

    Grouped by speaker (no speaker on both sides) when every clip's speaker is known and
    there are at least two speakers; otherwise stratified by class over clips, which is
    not speaker-independent. Returns ``(folds, protocol)``; ``folds`` is empty when no
    estimate is possible (a class with a single clip and no speakers, say), and
    ``protocol["reason"]`` then says why.
    """
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    known = known_speakers(speakers)
    n_speakers = len(set(speakers[known].tolist()))
    counts = {c: int(n) for c, n in zip(*np.unique(y, return_counts=True), strict=True)}
    protocol: dict[str, Any] = {"n_speakers": n_speakers, "speaker_independent": False}
    if known.all() and n_speakers >= 2:
        k = min(n_folds, n_speakers)
        folds = list(GroupKFold(n_splits=k).split(np.zeros(len(y)), y, speakers))
        protocol.update(
            speaker_independent=True,
            n_folds=k,
            description=f"speaker-independent: {k} folds grouped by speaker ({n_speakers} "
            "speakers; no speaker is in both the training and the test part of a fold)",
        )
        return folds, protocol
    k = min(n_folds, min(counts.values()))
    if k < 2:
        protocol["reason"] = (
            "no estimate: without several speakers, every class needs at least two clips"
        )
        return [], protocol
    why = (
        "the clips' speakers are unknown"
        if not known.any()
        else ("only one speaker is known" if known.all() else "some clips' speakers are unknown")
    )
    folds = list(
        StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    )
    protocol.update(
        n_folds=k,
        description=f"NOT speaker-independent ({why}): {k} folds stratified by class over "
        "clips, so the same speakers are in training and test: the estimate is optimistic. "
        "For an honest one, list the clips in a manifest CSV with a speaker column "
        "(path,label,speaker) and record at least two speakers.",
    )
    return folds, protocol


def estimate_accuracy(
    fit: Fit,
    X: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    *,
    labels: list[str],
    copies: Sequence[np.ndarray] = (),
    n_folds: int = N_FOLDS,
    seed: int = 0,
    hook: ProgressHook | None = None,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Cross-validated accuracy of ``fit`` on ``(X, y)``: ``(report, out-of-fold proba)``.

    ``copies`` are augmented versions of ``X`` (same rows): a fold trains on the copies of
    its training rows too, and tests on original clips only. The report holds the
    protocol, UAR, accuracy, macro-F1, per-class recall and the pooled confusion matrix
    (rows = truth, columns = prediction, in ``labels`` order), per-fold scores and
    warnings; the probabilities (columns in ``labels`` order, None when no estimate was
    possible) are for calibration.
    """
    from emovox.evaluation.metrics import classification_metrics, summarize_folds

    y = np.asarray(y)
    speakers = np.asarray(speakers, dtype=object)
    folds, protocol = plan_folds(y, speakers, n_folds=n_folds, seed=seed)
    report: dict[str, Any] = {"protocol": protocol, "n_files": len(y), "labels": labels}
    if not folds:
        report["warnings"] = [protocol["reason"]]
        return report, None
    proba = np.full((len(y), len(labels)), np.nan)
    fold_metrics = []
    count = StepCounter(hook, "estimating accuracy (cross-validation)", total=len(folds))
    column = {label: i for i, label in enumerate(labels)}
    for train, test in folds:
        if len(np.unique(y[train])) < 2:
            count.advance()
            continue
        X_train = np.concatenate([X[train], *[c[train] for c in copies]])
        y_train = np.tile(y[train], 1 + len(copies))
        g_train = np.tile(speakers[train], 1 + len(copies))
        model = fit(X_train, y_train, g_train)
        p = model.predict_proba(X[test])
        proba[test] = 0.0
        for j, name in enumerate(model.classes_):
            proba[test, column[str(name)]] = p[:, j]
        predicted = np.asarray(labels)[np.argmax(proba[test], axis=1)]
        fold_metrics.append(classification_metrics(y[test], predicted, labels=labels))
        count.advance()
    done = ~np.isnan(proba[:, 0])
    if not fold_metrics:
        protocol["reason"] = (
            "no estimate: every fold's training part held fewer than two classes (record "
            "each class with more than one speaker)"
        )
        report["warnings"] = [protocol["reason"]]
        return report, None
    predicted = np.asarray(labels)[np.argmax(np.nan_to_num(proba, nan=-1.0), axis=1)]
    pooled = classification_metrics(y[done], predicted[done], labels=labels)
    summary = summarize_folds(fold_metrics) if fold_metrics else {}
    report.update(
        {
            "uar": pooled["uar"],
            "accuracy": pooled["accuracy"],
            "macro_f1": pooled["macro_f1"],
            "per_class_recall": pooled["per_class_recall"],
            "confusion": pooled["confusion"],
            "folds": [
                {"n": m["n"], "uar": m["uar"], "accuracy": m["accuracy"]} for m in fold_metrics
            ],
            "uar_std": _finite(summary.get("uar", {}).get("std")),
            "warnings": prediction_warnings(pooled["confusion"], labels),
        }
    )
    return report, (proba if done.all() else None)


def _finite(value: float | None) -> float | None:
    """``value``, or None when it is missing or not finite (JSON has no NaN)."""
    return None if value is None or not np.isfinite(value) else float(value)


def data_warnings(
    y: Sequence[str], speakers: Sequence[str], *, min_clips: int = MIN_CLIPS
) -> list[str]:
    """Warnings about the training clips themselves: too few clips in a class, a class
    recorded by a single known speaker."""
    y = np.asarray(y)
    speakers = np.asarray(speakers, dtype=object)
    known = known_speakers(speakers)
    notes = []
    labels, counts = np.unique(y, return_counts=True)
    few = [f"'{label}' ({n})" for label, n in zip(labels, counts, strict=True) if n < min_clips]
    if few:
        notes.append(
            f"Few clips in {', '.join(few)}: with fewer than {min_clips} clips per class the "
            "model is unreliable; 20 or more per class help clearly (docs/results.md, 'Your "
            "own data: learning curve')."
        )
    if known.all() and len(set(speakers.tolist())) >= 2:
        single = [f"'{label}'" for label in labels if len(set(speakers[y == label].tolist())) == 1]
        if single:
            notes.append(
                f"Class(es) {', '.join(single)} come from one speaker only: the model may "
                "learn that voice rather than the class, and the estimate tests them on "
                "speakers without any of their clips."
            )
    return notes


def prediction_warnings(confusion: list[list[int]], labels: list[str]) -> list[str]:
    """Warnings about cross-validated predictions: one class taking most of them, or a
    class never predicted."""
    counts = np.asarray(confusion, dtype=float)
    total = counts.sum()
    if total == 0:
        return []
    predicted = counts.sum(axis=0) / total
    true = counts.sum(axis=1) / total
    notes = []
    top = int(np.argmax(predicted))
    if predicted[top] > COLLAPSE_SHARE and predicted[top] > 2 * true[top]:
        notes.append(
            f"Predictions collapse onto '{labels[top]}': {100 * predicted[top]:.0f} % of the "
            f"cross-validated predictions for {100 * true[top]:.0f} % of the clips. The "
            "classes may not be audible in these clips, or need more examples."
        )
    never = [f"'{labels[i]}'" for i in range(len(labels)) if true[i] > 0 and predicted[i] == 0]
    if never:
        notes.append(f"Class(es) {', '.join(never)} were never predicted in cross-validation.")
    return notes


def fit_temperature(
    proba: np.ndarray, y: np.ndarray, labels: list[str], *, lowest: float = 0.05
) -> float:
    """The temperature that makes out-of-fold probabilities best calibrated (minimum
    negative log-likelihood of the true class), between ``lowest`` and 20 (``lowest=1``
    only ever softens probabilities)."""
    from scipy.optimize import minimize_scalar

    index = {label: i for i, label in enumerate(labels)}
    target = np.array([index[v] for v in y])
    log_p = np.log(np.clip(proba, 1e-12, 1.0))

    def nll(log_t: float) -> float:
        z = log_p / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), target]))

    found = minimize_scalar(nll, bounds=(np.log(lowest), 3.0), method="bounded").x
    return float(np.exp(found))


def report_lines(report: dict[str, Any]) -> list[str]:
    """The estimate for a person: protocol, scores, the confusion matrix as text."""
    protocol = report["protocol"]
    lines = []
    if "uar" not in report:
        return [f"Accuracy on your data: {protocol.get('reason', 'no estimate')}."]
    spread = report.get("uar_std")
    spread_text = f" ± {spread:.2f} over folds" if spread is not None else ""
    lines.append(
        f"Estimated accuracy on your data: UAR {report['uar']:.2f}{spread_text}, "
        f"accuracy {report['accuracy']:.2f}, {report['n_files']} clips; "
        f"{protocol['description'].rstrip('.')}."
    )
    baseline = report.get("default_model")
    if baseline:
        lines.append(
            f"The default model alone on the same clips: UAR {baseline['uar']:.2f}, "
            f"accuracy {baseline['accuracy']:.2f}."
        )
    lines.append("Confusion matrix (rows: true class, columns: predicted; cross-validated):")
    lines.extend(confusion_text(report["confusion"], report["labels"]))
    return lines


def confusion_text(confusion: list[list[int]], labels: list[str]) -> list[str]:
    """A confusion matrix as aligned text lines, with each class' recall."""
    width = max(6, *(len(label) for label in labels))
    header = " " * (width + 2) + " ".join(f"{label[:width]:>{width}}" for label in labels)
    lines = [header + "  recall"]
    for label, row in zip(labels, confusion, strict=True):
        total = sum(row)
        recall = f"{row[labels.index(label)] / total:.2f}" if total else "-"
        cells = " ".join(f"{n:>{width}d}" for n in row)
        lines.append(f"{label[:width]:>{width}}  {cells}  {recall:>6}")
    return lines


def plot_report(report: dict[str, Any], path: Path) -> Path | None:
    """The cross-validated confusion matrix (rows normalised) as a PNG at ``path``; None
    when matplotlib is missing or there is no estimate."""
    if "confusion" not in report:
        return None
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = report["labels"]
    counts = np.asarray(report["confusion"], dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    protocol = report["protocol"]
    kind = "speaker-independent" if protocol["speaker_independent"] else "NOT speaker-independent"
    size = max(4.0, 1.2 + 0.75 * len(labels))
    fig, ax = plt.subplots(figsize=(size, size * 0.9 + 0.4))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            colour = "white" if rates[i, j] > 0.5 else "black"
            text = f"{rates[i, j]:.2f}\n({int(counts[i, j])})"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=8)
    ax.set_title(
        f"Your clips, cross-validated ({protocol['n_folds']} folds,\n{kind})\n"
        f"UAR {report['uar']:.3f}, accuracy {report['accuracy']:.3f}, "
        f"{report['n_files']} clips",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
