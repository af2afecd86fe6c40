"""SAVEE: Surrey Audio-Visual Expressed Emotion (four male British English speakers).

Speakers are DC, JE, JK and KL; an utterance is named by its emotion code (``a`` anger,
``d`` disgust, ``f`` fear, ``h`` happiness, ``n`` neutral, ``sa`` sadness, ``su``
surprise) and a number. Two layouts are in circulation and both are read:

* flat, speaker in the name: ``DC_a01.wav``;
* one folder per speaker (the original ``AudioData/DC/a01.wav``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from emovox.corpora.files import load_named_files
from emovox.labels import Policy

CORPUS = "savee"
EXPECTED = "names like 'DC_a01.wav', or 'a01.wav' in a DC, JE, JK or KL folder"
SPEAKERS: tuple[str, ...] = ("DC", "JE", "JK", "KL")

EMOTIONS: dict[str, str] = {
    "a": "anger",
    "d": "disgust",
    "f": "fear",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprise",
}
"""SAVEE emotion code -> emovox label."""

_UTTERANCE = r"(sa|su|a|d|f|h|n)(\d+)"
_FLAT = re.compile(rf"({'|'.join(SPEAKERS)})_{_UTTERANCE}")
_IN_FOLDER = re.compile(_UTTERANCE)


def parse_savee_name(path: Path) -> dict[str, Any] | None:
    """The fields of a SAVEE file (``DC_a01`` or ``DC/a01``), or None if it is not one."""
    match = _FLAT.fullmatch(path.stem)
    if match is not None:
        speaker, code, number = match.groups()
    elif path.parent.name in SPEAKERS and (match := _IN_FOLDER.fullmatch(path.stem)):
        speaker, (code, number) = path.parent.name, match.groups()
    else:
        return None
    return {
        "label": EMOTIONS[code],
        "original_label": code,
        "speaker": f"{CORPUS}:{speaker}",
        "gender": "m",
        "utterance": int(number),
    }


def load_savee(root: str | Path, *, policy: Policy = "drop") -> pd.DataFrame:
    """Load SAVEE from ``root`` (either layout, searched recursively).

    Extra column: ``utterance``, the number after the emotion code (``a01`` -> 1).
    """
    return load_named_files(
        root, corpus=CORPUS, expected=EXPECTED, parse=parse_savee_name, policy=policy
    )
