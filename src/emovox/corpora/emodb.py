"""EmoDB: the Berlin Database of Emotional Speech (ten German actors).

Files are named ``SSTTTEV`` (``03a01Fa.wav``): speaker SS, text TTT (``a01`` ...
``b10``), emotion letter E from the German names (W Wut anger, L Langeweile boredom,
E Ekel disgust, A Angst fear, F Freude happiness, T Trauer sadness, N neutral) and
version V (``a``, ``b``, ... for repeated takes).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from emovox.corpora.files import load_named_files
from emovox.labels import Policy

CORPUS = "emodb"
EXPECTED = "names like '03a01Fa.wav' (speaker, text, emotion letter, version)"

EMOTIONS: dict[str, str] = {
    "W": "anger",
    "L": "boredom",
    "E": "disgust",
    "A": "fear",
    "F": "happy",
    "T": "sad",
    "N": "neutral",
}
"""EmoDB emotion letter -> emovox label."""

GENDERS: dict[str, str] = {
    **dict.fromkeys(("03", "10", "11", "12", "15"), "m"),
    **dict.fromkeys(("08", "09", "13", "14", "16"), "f"),
}
"""EmoDB speaker -> gender, from the corpus documentation."""

_NAME = re.compile(r"(\d\d)([a-z]\d\d)([WLEAFTN])([a-z])")


def parse_emodb_name(path: Path) -> dict[str, Any] | None:
    """The fields of an EmoDB file name, or None if it is not one."""
    match = _NAME.fullmatch(path.stem)
    if match is None:
        return None
    speaker, text, emotion, version = match.groups()
    return {
        "label": EMOTIONS[emotion],
        "original_label": emotion,
        "speaker": f"{CORPUS}:{speaker}",
        "gender": GENDERS.get(speaker),
        "text": text,
        "version": version,
    }


def load_emodb(root: str | Path, *, policy: Policy = "drop") -> pd.DataFrame:
    """Load EmoDB from ``root`` (e.g. its ``wav`` folder; searched recursively).

    ``policy`` decides the fate of ``boredom`` (see :func:`emovox.labels.apply_policy`).
    Extra columns: ``text`` (``a01``), ``version`` (``a``).
    """
    return load_named_files(
        root, corpus=CORPUS, expected=EXPECTED, parse=parse_emodb_name, policy=policy
    )
