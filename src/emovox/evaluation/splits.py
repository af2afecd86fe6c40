"""Train/test splits that say whether they leak speakers.

Every split is a list of :class:`Fold` objects and carries a protocol name that reports
print verbatim. Speaker-independent folds are the default everywhere; a random split is
available only on request and is always labelled *speaker-dependent*.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emovox.errors import EmovoxError, ParameterError

SPEAKER_INDEPENDENT = "speaker-independent"
CROSS_CORPUS = "cross-corpus"
CROSS_CORPUS_SHARED = "cross-corpus, trained on the test corpus' classes only"
SPEAKER_DEPENDENT = "speaker-dependent (random split)"


@dataclass(frozen=True)
class Fold:
    """Row positions (into the table the folds were made from) to train and test on."""

    name: str
    train: np.ndarray
    test: np.ndarray


def _check_columns(table: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ParameterError(f"The corpus table lacks column(s) {missing} needed for this split.")


def assign_speaker_folds(table: pd.DataFrame, *, n_folds: int = 5, seed: int = 0) -> pd.Series:
    """Map each speaker to a fold number, balancing gender and file counts.

    Speakers are sorted by gender, then shuffled with ``seed`` within each gender, then
    dealt to the fold with the fewest files so far: folds get a similar size and mix.
    """
    _check_columns(table, ("speaker",))
    speakers = table.groupby("speaker", sort=True).size().rename("files").to_frame()
    if "gender" in table.columns:
        genders = table.groupby("speaker")["gender"].first().fillna("?")
        speakers["gender"] = genders
    else:
        speakers["gender"] = "?"
    rng = np.random.default_rng(seed)
    order: list[str] = []
    for _, group in speakers.groupby("gender", sort=True):
        names = list(group.index)
        rng.shuffle(names)
        order.extend(names)
    load = np.zeros(n_folds, dtype=int)
    fold_of: dict[str, int] = {}
    for i, speaker in enumerate(order):
        # Round-robin keeps genders spread; ties on load are broken by the round-robin slot.
        candidates = np.flatnonzero(load == load.min())
        preferred = i % n_folds
        fold = preferred if preferred in candidates else int(candidates[0])
        fold_of[speaker] = fold
        load[fold] += int(speakers.loc[speaker, "files"])
    return pd.Series(fold_of, name="fold")


def speaker_folds(table: pd.DataFrame, *, n_folds: int = 5, seed: int = 0) -> list[Fold]:
    """Speaker-independent k-fold: no speaker appears in both the train and test part.

    With fewer speakers than ``n_folds``, each speaker becomes its own fold
    (leave-one-speaker-out) and a warning says so.
    """
    _check_columns(table, ("speaker",))
    n_speakers = table["speaker"].nunique()
    if n_speakers < 2:
        raise EmovoxError(
            "Speaker-independent evaluation needs at least 2 speakers; this table has "
            f"{n_speakers}. Give speakers in a manifest, or use a random split (speaker-dependent)."
        )
    if n_speakers < n_folds:
        warnings.warn(
            f"Only {n_speakers} speakers: using leave-one-speaker-out ({n_speakers} folds).",
            stacklevel=2,
        )
        n_folds = n_speakers
    fold_of = assign_speaker_folds(table, n_folds=n_folds, seed=seed)
    per_row = table["speaker"].map(fold_of).to_numpy()
    folds = []
    for k in range(n_folds):
        test = np.flatnonzero(per_row == k)
        train = np.flatnonzero(per_row != k)
        held_out = sorted(table["speaker"].iloc[test].unique())
        folds.append(Fold(name=f"fold{k + 1}: " + ",".join(held_out), train=train, test=test))
    return folds


def cross_corpus_folds(
    table: pd.DataFrame, *, test_corpora: list[str] | None = None, shared_classes: bool = False
) -> list[Fold]:
    """Hold out one corpus at a time and train on all the others.

    With ``shared_classes``, each fold trains only on the rows whose label the held-out
    corpus has, so the model chooses among the classes a deployment on that corpus needs
    (the usual cross-corpus protocol); it uses the test corpus' label set, never its labels
    per file.
    """
    _check_columns(table, ("corpus", "label") if shared_classes else ("corpus",))
    corpora = sorted(table["corpus"].unique())
    if len(corpora) < 2:
        raise EmovoxError("Cross-corpus evaluation needs at least two corpora.")
    targets = test_corpora or corpora
    unknown = sorted(set(targets) - set(corpora))
    if unknown:
        raise EmovoxError(f"Corpora {unknown} are not in the table (it has {corpora}).")
    values = table["corpus"].to_numpy()
    folds = []
    for name in targets:
        train, test = np.flatnonzero(values != name), np.flatnonzero(values == name)
        if shared_classes:
            labels = table["label"].to_numpy()
            train = train[np.isin(labels[train], np.unique(labels[test]))]
            if train.size == 0:
                raise EmovoxError(f"No other corpus has any of the classes of '{name}'.")
        folds.append(Fold(name=f"test on {name}", train=train, test=test))
    return folds


def random_folds(table: pd.DataFrame, *, n_folds: int = 5, seed: int = 0) -> list[Fold]:
    """Stratified random k-fold. Speakers leak between train and test: speaker-dependent."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    labels = table["label"].to_numpy()
    return [
        Fold(name=f"random fold{k + 1} (speaker-dependent)", train=train, test=test)
        for k, (train, test) in enumerate(splitter.split(np.zeros(len(labels)), labels))
    ]


PROTOCOLS = {
    "speaker": SPEAKER_INDEPENDENT,
    "cross-corpus": CROSS_CORPUS,
    "cross-corpus-shared": CROSS_CORPUS_SHARED,
    "random": SPEAKER_DEPENDENT,
}


def make_folds(
    table: pd.DataFrame, *, protocol: str = "speaker", n_folds: int = 5, seed: int = 0
) -> tuple[str, list[Fold]]:
    """Return ``(protocol description, folds)`` for a protocol key in :data:`PROTOCOLS`."""
    if protocol == "speaker":
        return SPEAKER_INDEPENDENT, speaker_folds(table, n_folds=n_folds, seed=seed)
    if protocol == "cross-corpus":
        return CROSS_CORPUS, cross_corpus_folds(table)
    if protocol == "cross-corpus-shared":
        return CROSS_CORPUS_SHARED, cross_corpus_folds(table, shared_classes=True)
    if protocol == "random":
        return SPEAKER_DEPENDENT, random_folds(table, n_folds=n_folds, seed=seed)
    raise ParameterError(f"Unknown protocol '{protocol}'; choose one of {', '.join(PROTOCOLS)}.")
