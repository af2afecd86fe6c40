"""Speaker adaptation: take a speaker's mean embedding away before the head reads it.

Every speaker, language and microphone shifts the encoder's embedding, and a head trained
on a few acted speakers reads the shift as an emotion (the default model calls most
utterances of unseen languages "neutral"). The remedy used here is the simplest that
measured well (docs/results.md, *Speaker adaptation*):

* **training**: the *adapted head* is fitted on embeddings minus the mean embedding of
  their speaker (computed from that speaker's utterances, without labels);
* **prediction**: a :class:`Profile` holds the mean embedding of a speaker's (or a
  source's) utterances and how many there were; the embedding to classify has the
  profile's *reference* taken away, where the reference is the profile's mean shrunk
  toward the training mean when it comes from few utterances
  (``(n * mean + k * prior) / (n + k)``, ``k`` = :attr:`Adaptation.shrinkage`).

A model folder that supports adaptation holds, besides its own (unadapted) head::

    adapted/head.safetensors, adapted/head.json   the adapted linear head
    adapted/adaptation.json                        recipe, shrinkage, checksums
    adapted/prior.safetensors                      the training mean embedding

Without a profile the unadapted head answers, exactly as before; every
:class:`~emovox.results.Prediction` says which head answered and from how many
utterances the profile came (``adapted``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from emovox.errors import ModelError, ParameterError

FOLDER = "adapted"
DESCRIPTION_FILE = "adaptation.json"
PRIOR_FILE = "prior.safetensors"
FORMAT = "emovox-adaptation"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Profile:
    """The mean embedding of one speaker's (or one source's) utterances and their count.

    Build one with :meth:`from_embeddings` or :meth:`emovox.Recognizer.adapt`; grow it with
    :meth:`add` (a live session). ``skipped`` names inputs that could not be used.
    """

    mean: np.ndarray
    count: int
    skipped: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        if isinstance(self.count, bool) or not isinstance(self.count, int | np.integer):
            raise ParameterError(f"A profile's count must be a whole number, got {self.count!r}.")
        if self.count < 0 or (self.count == 0 and np.any(mean)):
            raise ParameterError(f"A profile's count must be positive, got {self.count}.")
        if not np.all(np.isfinite(mean)):
            raise ParameterError("A profile's mean embedding holds NaN or infinite values.")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "count", int(self.count))

    @classmethod
    def empty(cls, dim: int) -> Profile:
        """A profile of no utterances yet (predictions with it are unadapted)."""
        return cls(mean=np.zeros(dim), count=0)

    @classmethod
    def from_embeddings(cls, embeddings: Any, *, skipped: Sequence[str] = ()) -> Profile:
        """The profile of the rows of ``embeddings`` (one utterance each)."""
        X = np.asarray(embeddings, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ParameterError(
                f"A profile needs one embedding per utterance (a 2-D array), got {X.shape}."
            )
        return cls(mean=X.mean(axis=0), count=X.shape[0], skipped=tuple(skipped))

    def add(self, embedding: Any) -> Profile:
        """This profile with one more utterance (a running mean)."""
        x = np.asarray(embedding, dtype=np.float64).reshape(-1)
        if self.count and x.shape != self.mean.shape:
            raise ParameterError(
                f"An embedding of {x.size} values cannot join a profile of {self.mean.size}."
            )
        count = self.count + 1
        mean = x if not self.count else self.mean + (x - self.mean) / count
        return replace(self, mean=mean, count=count)

    def reference(self, prior: np.ndarray, shrinkage: float) -> np.ndarray:
        """The mean to subtract: this profile's mean shrunk toward ``prior``."""
        n = float(self.count)
        return (n * self.mean + shrinkage * prior) / (n + shrinkage)


@dataclass(frozen=True)
class Adaptation:
    """What a model adapts with: the adapted head, the training mean and the shrinkage.

    ``head`` is a fitted classifier on centred embeddings (a
    :class:`~emovox.linear_head.LinearHead` once saved); ``prior`` the mean training
    embedding; ``shrinkage`` the ``k`` of :meth:`Profile.reference`; ``min_utterances``
    the fewest utterances a profile needs before the adapted head answers (below it the
    unadapted head does). ``recipe`` records how the head was trained (JSON-able).
    """

    head: Any
    prior: np.ndarray
    shrinkage: float
    min_utterances: int = 1
    recipe: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prior", np.asarray(self.prior, dtype=np.float64).reshape(-1))
        if not (self.shrinkage >= 0 and np.isfinite(self.shrinkage)):
            raise ParameterError(f"Shrinkage must be zero or positive, got {self.shrinkage!r}.")
        if self.min_utterances < 1:
            raise ParameterError(f"min_utterances must be 1 or more, got {self.min_utterances}.")

    def applies(self, profile: Profile | None) -> bool:
        """Whether the adapted head answers for ``profile``."""
        return profile is not None and profile.count >= self.min_utterances

    def predict_proba(self, X: Any, profile: Profile) -> np.ndarray:
        """Class probabilities of embeddings ``X`` (rows) for the speaker of ``profile``."""
        X = np.asarray(X, dtype=np.float64)
        if X.shape[-1] != self.prior.size:
            raise ParameterError(
                f"The adapted head expects {self.prior.size} features, got {X.shape[-1]}."
            )
        return self.head.predict_proba(X - profile.reference(self.prior, self.shrinkage))

    # -------------------------------------------------------------- persistence
    def save(self, model_folder: Path) -> Path:
        """Write ``adapted/`` into ``model_folder`` (the head must fold into a linear one)."""
        from safetensors.numpy import save

        from emovox.linear_head import LinearHead, collapse_linear

        head = self.head if isinstance(self.head, LinearHead) else collapse_linear(self.head)
        if head is None:
            raise ModelError(
                f"Only linear heads can be saved for adaptation, not {type(self.head).__name__}."
            )
        folder = Path(model_folder) / FOLDER
        head.save(folder, source={"class": type(self.head).__name__})
        prior = folder / PRIOR_FILE
        prior.write_bytes(save({"prior": self.prior}))
        description = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "shrinkage": self.shrinkage,
            "min_utterances": self.min_utterances,
            "recipe": self.recipe,
            "prior_sha256": hashlib.sha256(prior.read_bytes()).hexdigest(),
        }
        (folder / DESCRIPTION_FILE).write_text(json.dumps(description, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, model_folder: Path) -> Adaptation | None:
        """The adaptation saved in ``model_folder``, None if it has none."""
        from safetensors import SafetensorError
        from safetensors.numpy import load

        from emovox.linear_head import LinearHead

        folder = Path(model_folder) / FOLDER
        path = folder / DESCRIPTION_FILE
        if not path.is_file():
            return None
        try:
            description = json.loads(path.read_text())
            prior_bytes = (folder / PRIOR_FILE).read_bytes()
        except (OSError, ValueError) as exc:
            raise ModelError(f"Cannot read the adaptation in '{folder}' ({exc}).") from None
        if not isinstance(description, dict) or description.get("format") != FORMAT:
            raise ModelError(f"'{path}' does not describe an emovox adaptation.")
        if description.get("format_version", 0) > FORMAT_VERSION:
            raise ModelError(f"'{path}' was written by a newer emovox; upgrade to read it.")
        if hashlib.sha256(prior_bytes).hexdigest() != description.get("prior_sha256"):
            raise ModelError(f"'{folder / PRIOR_FILE}' has changed or is damaged since saved.")
        try:
            prior = load(prior_bytes)["prior"]
            adaptation = cls(
                head=LinearHead.load(folder),
                prior=prior,
                shrinkage=float(description["shrinkage"]),
                min_utterances=int(description.get("min_utterances", 1)),
                recipe=dict(description.get("recipe") or {}),
            )
        except (KeyError, TypeError, ValueError, SafetensorError) as exc:
            raise ModelError(f"'{folder}' is not a readable adaptation ({exc}).") from None
        if adaptation.head.n_features_in_ != adaptation.prior.size:
            raise ModelError(f"The adapted head and prior in '{folder}' do not match.")
        return adaptation


# ------------------------------------------------------------------ training side


def centre_by_group(X: np.ndarray, groups: Sequence[Any]) -> np.ndarray:
    """``X`` with each group's mean row subtracted from its rows (speaker normalisation)."""
    X = np.asarray(X, dtype=np.float64)
    groups = np.asarray(groups)
    if len(groups) != len(X):
        raise ParameterError(f"{len(groups)} group names for {len(X)} rows.")
    out = np.empty_like(X)
    for name in np.unique(groups):
        rows = groups == name
        out[rows] = X[rows] - X[rows].mean(axis=0)
    return out


def copy_groups(speakers: np.ndarray, n_copies: int, *, shared: bool) -> np.ndarray:
    """Normalisation groups for ``n_copies`` stacked copies (augmentations) of a table:
    each speaker's copies share one mean (``shared``) or each copy has its own."""
    speakers = np.asarray(speakers).astype(str)
    if shared:
        return np.tile(speakers, n_copies)
    return np.concatenate([np.char.add(speakers, f"#{i}") for i in range(n_copies)])


SHRINKAGE = 1.0
"""Default ``k`` of :meth:`Profile.reference` (chosen in docs/results.md, *Speaker
adaptation*, on inner splits of training speakers)."""

MIN_UTTERANCES = 3
"""Default fewest utterances a profile needs before the adapted head answers."""

SHARED_COPIES = False
"""Whether augmented training copies share their speaker's mean (True) or each copy
is normalised on its own."""


def fit_adaptation(
    make: Any,
    copies: Sequence[np.ndarray],
    labels: np.ndarray,
    speakers: np.ndarray,
    *,
    shrinkage: float = SHRINKAGE,
    min_utterances: int = MIN_UTTERANCES,
    shared_copies: bool = SHARED_COPIES,
) -> Adaptation | None:
    """Fit the adapted head: ``make()`` (a new estimator like the main one) on every copy
    of the training features with each speaker's mean subtracted.

    ``copies`` are feature matrices of the same rows (clean, then augmented); ``labels``
    and ``speakers`` are per row. Returns None when the estimator does not fold into a
    linear head (only linear heads adapt) or there are fewer than two speakers.
    """
    from emovox.linear_head import collapse_linear
    from emovox.models import fit_model

    speakers = np.asarray(speakers).astype(str)
    if len(np.unique(speakers)) < 2:
        return None
    n = len(copies)
    X = np.concatenate([np.asarray(c, dtype=np.float64) for c in copies])
    groups = copy_groups(speakers, n, shared=shared_copies)
    estimator = fit_model(
        make(), centre_by_group(X, groups), np.tile(labels, n), groups=np.tile(speakers, n)
    )
    # a PriorHead (emovox.from_default) folds itself; scikit-learn heads are folded
    head = estimator.linear_head() if hasattr(estimator, "linear_head") else None
    head = head if head is not None else collapse_linear(estimator)
    if head is None:
        return None
    return Adaptation(
        head=head,
        prior=X.mean(axis=0),
        shrinkage=shrinkage,
        min_utterances=min_utterances,
        recipe={
            "normalisation": "speaker mean",
            "augmented_copies": "share their speaker's mean" if shared_copies else "own mean",
            "training_speakers": len(np.unique(speakers)),
        },
    )
