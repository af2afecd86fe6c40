"""CREMA-D: the Crowd-sourced Emotional Multimodal Actors Dataset (91 actors).

Files are named ``<actor>_<sentence>_<emotion>_<level>`` (``1001_DFA_ANG_XX.wav``):
actor 1001-1091, one of twelve sentence codes (``DFA`` "Don't forget a jacket", ...),
emotion ANG anger, DIS disgust, FEA fear, HAP happy, NEU neutral, SAD sad, and the
intended level LO low, MD medium, HI high or XX unspecified.

Genders are not in the names; they come from the corpus' ``VideoDemographics.csv``
(columns ActorID, Age, Sex, Race, Ethnicity) when it lies in ``root`` or its parent
folder, and are None otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from emovox.corpora.files import absolute, load_named_files
from emovox.errors import CorpusError
from emovox.labels import Policy

CORPUS = "cremad"
EXPECTED = "names like '1001_DFA_ANG_XX.wav' (actor_sentence_emotion_level)"
DEMOGRAPHICS_FILE = "VideoDemographics.csv"

EMOTIONS: dict[str, str] = {
    "ANG": "anger",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
"""CREMA-D emotion code -> emovox label."""

LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SEXES = {"female": "f", "male": "m"}

_NAME = re.compile(rf"(\d{{4}})_([A-Z]{{3}})_({'|'.join(EMOTIONS)})_({'|'.join(LEVELS)})")


def parse_cremad_name(path: Path) -> dict[str, Any] | None:
    """The fields of a CREMA-D file name (gender left None), or None if it is not one."""
    match = _NAME.fullmatch(path.stem)
    if match is None:
        return None
    actor, sentence, emotion, level = match.groups()
    if not 1001 <= int(actor) <= 1091:
        return None
    return {
        "label": EMOTIONS[emotion],
        "original_label": emotion,
        "speaker": f"{CORPUS}:{actor}",
        "gender": None,
        "sentence": sentence,
        "level": LEVELS[level],
    }


def find_demographics(root: str | Path) -> Path | None:
    """``VideoDemographics.csv`` in ``root`` or its parent folder, if there is one."""
    root = absolute(root)
    for folder in (root, root.parent):
        candidate = folder / DEMOGRAPHICS_FILE
        if candidate.is_file():
            return candidate
    return None


def read_genders(csv_path: Path) -> dict[str, str]:
    """Actor id (``"1001"``) -> ``"f"``/``"m"`` from a CREMA-D ``VideoDemographics.csv``.

    Raises:
        CorpusError: when the file lacks the ActorID or Sex column.
    """
    try:
        demographics = pd.read_csv(csv_path, dtype=str)
    except (OSError, ValueError) as exc:
        raise CorpusError(f"Cannot read the CREMA-D demographics '{csv_path}' ({exc}).") from None
    missing = {"ActorID", "Sex"} - set(demographics.columns)
    if missing:
        raise CorpusError(
            f"The CREMA-D demographics '{csv_path}' lacks the column(s) "
            f"{', '.join(sorted(missing))}; expected ActorID, Age, Sex, Race, Ethnicity."
        )
    genders = {}
    for actor, sex in zip(demographics["ActorID"], demographics["Sex"], strict=True):
        gender = SEXES.get(str(sex).strip().lower())
        if isinstance(actor, str) and gender is not None:
            genders[actor.strip()] = gender
    return genders


def load_cremad(root: str | Path, *, policy: Policy = "drop") -> pd.DataFrame:
    """Load CREMA-D from ``root`` (e.g. its ``AudioWAV`` folder; searched recursively).

    Extra columns: ``sentence`` (code such as ``DFA``) and ``level`` (low, medium, high,
    unspecified). ``gender`` comes from ``VideoDemographics.csv`` next to or above
    ``root``; actors missing from it, or all actors without it, get None.
    """
    table = load_named_files(
        root, corpus=CORPUS, expected=EXPECTED, parse=parse_cremad_name, policy=policy
    )
    demographics = find_demographics(root)
    if demographics is not None:
        genders = read_genders(demographics)
        actors = table["speaker"].str.removeprefix(f"{CORPUS}:")
        table["gender"] = pd.Series([genders.get(a) for a in actors], dtype=object)
    return table
