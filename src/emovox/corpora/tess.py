"""TESS: the Toronto Emotional Speech Set (two female Canadian English speakers).

Files are named ``<speaker>_<word>_<emotion>`` (``OAF_back_angry.wav``): speaker OAF
(older) or YAF (younger), the target word of "Say the word ...", and the emotion (angry,
disgust, fear, happy, neutral, ps = pleasant surprise, sad).

Known quirks of the original distribution: folder names have mixed case and spellings
(``OAF_Fear``, ``YAF_pleasant_surprised``), so the label comes from the file name, never
the folder; ``OAF_neutral/OA_bite_neutral`` has a typo in its prefix and is read as OAF;
two files are AIFF despite their ``.wav`` extension and one is 96 kHz (the audio loader
copes with both).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from emovox.corpora.files import load_named_files
from emovox.labels import Policy

CORPUS = "tess"
EXPECTED = "names like 'OAF_back_angry.wav' or 'YAF_dog_ps.wav' (speaker_word_emotion)"

EMOTIONS: dict[str, str] = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "pleasant_surprise",
    "sad": "sad",
}
"""TESS emotion name -> emovox label."""

SPEAKER_PREFIXES = {"OAF": "OAF", "YAF": "YAF", "OA": "OAF"}
"""File-name prefix -> speaker; ``OA`` is a typo in one original file name."""

_NAME = re.compile(rf"({'|'.join(SPEAKER_PREFIXES)})_([a-z]+)_({'|'.join(EMOTIONS)})", re.I)


def parse_tess_name(path: Path) -> dict[str, Any] | None:
    """The fields of a TESS file name, or None if it is not one."""
    match = _NAME.fullmatch(path.stem)
    if match is None:
        return None
    prefix, word, emotion = match.groups()
    return {
        "label": EMOTIONS[emotion.lower()],
        "original_label": emotion.lower(),
        "speaker": f"{CORPUS}:{SPEAKER_PREFIXES[prefix.upper()]}",
        "gender": "f",
        "word": word.lower(),
    }


def load_tess(root: str | Path, *, policy: Policy = "drop") -> pd.DataFrame:
    """Load TESS from ``root`` (searched recursively; folder names are ignored).

    ``policy`` decides the fate of ``pleasant_surprise`` (see
    :func:`emovox.labels.apply_policy`). Extra column: ``word``.
    """
    return load_named_files(
        root, corpus=CORPUS, expected=EXPECTED, parse=parse_tess_name, policy=policy
    )
