"""TurEV-DB: a Turkish emotional speech database of single words (six speakers).

Files sit in ``Angry``, ``Calm``, ``Happy`` and ``Sad`` folders and are named
``<speaker>_<code>_<word>`` (``1234_kz_ordek.wav``), where the code is the emotion
(kz angry, sk calm, mt happy, hl sad; it is not the gender). The label comes from that
code; a file whose code disagrees with its emotion folder is still loaded by its code,
with a warning. The speakers' genders are not documented, so ``gender`` is None.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from emovox.corpora.files import CorpusWarning, load_named_files
from emovox.corpora.naming import try_normalize_label
from emovox.labels import Policy, apply_policy

CORPUS = "turev"
EXPECTED = "names like '1234_kz_ordek.wav' (speaker_emotion-code_word; kz, sk, mt or hl)"

EMOTIONS: dict[str, str] = {"kz": "anger", "sk": "calm", "mt": "happy", "hl": "sad"}
"""TurEV-DB emotion code -> emovox label."""

_NAME = re.compile(r"(\d+)_(kz|sk|mt|hl)_(\w+)", re.I)


def parse_turev_name(path: Path) -> dict[str, Any] | None:
    """The fields of a TurEV-DB file name, or None if it is not one."""
    match = _NAME.fullmatch(path.stem)
    if match is None:
        return None
    speaker, code, word = match.groups()
    return {
        "label": EMOTIONS[code.lower()],
        "original_label": code.lower(),
        "speaker": f"{CORPUS}:{speaker}",
        "gender": None,
        "word": word,
    }


def load_turev(root: str | Path, *, policy: Policy = "drop") -> pd.DataFrame:
    """Load TurEV-DB from ``root`` (the folder holding ``Angry`` ... ``Sad``).

    ``policy`` decides the fate of ``calm`` (see :func:`emovox.labels.apply_policy`);
    with the default ``"drop"`` the Calm folder is left out. Extra column: ``word``.
    """
    table = load_named_files(
        root, corpus=CORPUS, expected=EXPECTED, parse=parse_turev_name, policy="keep"
    )
    folders = table["path"].map(lambda p: try_normalize_label(Path(p).parent.name))
    mismatched = table.loc[folders.notna() & (folders != table["label"]), "path"]
    if len(mismatched):
        warnings.warn(
            f"{len(mismatched)} TurEV-DB file(s) sit in a folder of another emotion than "
            f"their name's code (e.g. '{mismatched.iloc[0]}'); the code was used.",
            CorpusWarning,
            stacklevel=2,
        )
    return apply_policy(table, policy)
