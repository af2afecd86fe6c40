"""Emotion names as people write them (``Angry``, ``happiness``, ``ps``) mapped to emovox labels."""

from __future__ import annotations

from emovox.errors import CorpusError

LABEL_SYNONYMS: dict[str, str] = {
    "anger": "anger",
    "angry": "anger",
    "ang": "anger",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "hap": "happy",
    "sad": "sad",
    "sadness": "sad",
    "fear": "fear",
    "fearful": "fear",
    "fea": "fear",
    "disgust": "disgust",
    "disgusted": "disgust",
    "dis": "disgust",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "neu": "neutral",
    "calm": "calm",
    "boredom": "boredom",
    "bored": "boredom",
    "ps": "pleasant_surprise",
    "pleasant_surprise": "pleasant_surprise",
    "pleasant_surprised": "pleasant_surprise",
}
"""Lower-case emotion names and abbreviations -> labels of :data:`emovox.labels.ALL_LABELS`."""


def _key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").replace("_", " ").split())


def try_normalize_label(name: str) -> str | None:
    """The emovox label for ``name`` (any case, ``-``/``_``/space alike), or None if unknown."""
    return LABEL_SYNONYMS.get(_key(str(name)))


def normalize_label(name: str) -> str:
    """The emovox label for an emotion name such as ``"Angry"`` or ``"pleasant surprise"``.

    Raises:
        CorpusError: when the name is not in :data:`LABEL_SYNONYMS`.
    """
    label = try_normalize_label(name)
    if label is None:
        raise CorpusError(
            f"Unknown emotion name '{name}'; known names are: {', '.join(sorted(LABEL_SYNONYMS))}."
        )
    return label
