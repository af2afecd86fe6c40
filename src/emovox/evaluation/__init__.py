"""Evaluation that does not leak speakers: splits, metrics, experiments and reports."""

from emovox.evaluation.metrics import classification_metrics, summarize_folds
from emovox.evaluation.splits import (
    CROSS_CORPUS,
    CROSS_CORPUS_SHARED,
    SPEAKER_DEPENDENT,
    SPEAKER_INDEPENDENT,
    Fold,
    cross_corpus_folds,
    make_folds,
    random_folds,
    speaker_folds,
)

__all__ = [
    "CROSS_CORPUS",
    "CROSS_CORPUS_SHARED",
    "SPEAKER_DEPENDENT",
    "SPEAKER_INDEPENDENT",
    "Fold",
    "classification_metrics",
    "cross_corpus_folds",
    "make_folds",
    "random_folds",
    "speaker_folds",
    "summarize_folds",
]
