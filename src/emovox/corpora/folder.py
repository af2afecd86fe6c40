"""Any corpus laid out as one sub-folder per emotion: ``root/angry/x.wav``.

Folder names go through :func:`emovox.corpora.naming.normalize_label`, so ``Angry``,
``anger`` and ``ang`` all mean anger; a folder name that is not an emotion raises.
Nothing tells who speaks, so every file's speaker is ``folder:unknown`` and its gender
None: such a table cannot be split by speaker. For speaker-independent evaluation,
describe the files in a CSV and use the manifest loader instead.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emovox.corpora.files import absolute, build_table, find_audio_files
from emovox.corpora.naming import LABEL_SYNONYMS, try_normalize_label
from emovox.errors import CorpusError
from emovox.labels import Policy

CORPUS = "folder"
EXPECTED = "one sub-folder per emotion, such as 'angry/x.wav' or 'neutral/y.flac'"
UNKNOWN_SPEAKER = f"{CORPUS}:unknown"


def load_folder(root: str | Path, *, policy: Policy = "drop") -> pd.DataFrame:
    """Load audio files from emotion-named sub-folders of ``root``.

    The first folder level below ``root`` names the emotion; files deeper down belong to
    it too. Files directly in ``root`` are skipped with a warning.

    Raises:
        CorpusError: when a sub-folder holding audio is not a known emotion name.
    """
    root = absolute(root)
    records, skipped, unknown = [], [], set()
    for path in find_audio_files(root, corpus=CORPUS, expected=EXPECTED):
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            skipped.append(path)
            continue
        label = try_normalize_label(parts[0])
        if label is None:
            unknown.add(parts[0])
            continue
        records.append(
            {
                "path": path,
                "label": label,
                "original_label": parts[0],
                "speaker": UNKNOWN_SPEAKER,
                "gender": None,
            }
        )
    if unknown:
        raise CorpusError(
            f"Folder(s) under '{root}' not named after an emotion: "
            f"{', '.join(sorted(unknown))}. Rename them, or move them out; known names are: "
            f"{', '.join(sorted(LABEL_SYNONYMS))}."
        )
    return build_table(
        records, corpus=CORPUS, root=root, expected=EXPECTED, skipped=skipped, policy=policy
    )
