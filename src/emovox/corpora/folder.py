"""Any corpus laid out as one sub-folder per class: ``root/angry/x.wav``.

With ``labels="emotions"`` (the default) folder names go through
:func:`emovox.corpora.naming.normalize_label`, so ``Angry``, ``anger`` and ``ang`` all
mean anger, and a folder name that is not an emotion raises (the message points to
``labels="custom"``). With ``labels="custom"`` every folder name is a class of its own,
taken as written (:func:`emovox.labels.clean_custom_label`: Unicode NFC, white space
trimmed; ``Very calm`` and ``ärgerlich`` are fine; two names differing only in case are
refused), and the label policy does not apply.

Nothing tells who speaks, so every file's speaker is ``folder:unknown`` and its gender
None: such a table cannot be split by speaker (``emovox train`` then says its accuracy
estimate is optimistic). For speaker-independent evaluation, describe the files in a
CSV with a ``speaker`` column and use the manifest loader instead.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd

from emovox.corpora.files import absolute, build_table, find_audio_files
from emovox.corpora.naming import LABEL_SYNONYMS, try_normalize_label
from emovox.errors import CorpusError, ParameterError
from emovox.labels import (
    CUSTOM_HINT,
    LabelMode,
    Policy,
    check_custom_labels,
    check_label_mode,
    clean_custom_label,
)

CORPUS = "folder"
EXPECTED = "one sub-folder per class, such as 'angry/x.wav' or 'neutral/y.flac'"
UNKNOWN_SPEAKER = f"{CORPUS}:unknown"


def load_folder(
    root: str | Path, *, policy: Policy = "drop", labels: LabelMode = "emotions"
) -> pd.DataFrame:
    """Load audio files from class-named sub-folders of ``root``.

    The first folder level below ``root`` names the class; files deeper down belong to
    it too. Files directly in ``root`` are skipped with a warning. ``labels`` is
    ``"emotions"`` (folder names are emotion names, ``policy`` applies) or ``"custom"``
    (any names, ``policy`` ignored).

    Raises:
        CorpusError: when a sub-folder holding audio is not a known emotion name
            (``labels="emotions"``), or custom names are unusable (empty, a comma, two
            differing only in case).
    """
    mode = check_label_mode(labels)
    root = absolute(root)
    records, skipped, unknown = [], [], set()
    for path in find_audio_files(root, corpus=CORPUS, expected=EXPECTED):
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            skipped.append(path)
            continue
        folder = unicodedata.normalize("NFC", parts[0])
        if mode == "custom":
            try:
                label = clean_custom_label(folder)
            except ParameterError as exc:
                raise CorpusError(f"Folder '{root / parts[0]}': {exc}") from None
        else:
            label = try_normalize_label(folder)
            if label is None:
                unknown.add(folder)
                continue
        records.append(
            {
                "path": path,
                "label": label,
                "original_label": folder,
                "speaker": UNKNOWN_SPEAKER,
                "gender": None,
            }
        )
    if unknown:
        raise CorpusError(
            f"Folder(s) under '{root}' not named after an emotion: "
            f"{', '.join(sorted(unknown))}. Rename them, or move them out; known names are: "
            f"{', '.join(sorted(LABEL_SYNONYMS))}. {CUSTOM_HINT}"
        )
    if mode == "custom":
        try:
            check_custom_labels(r["label"] for r in records)
        except ParameterError as exc:
            raise CorpusError(f"The folders under '{root}': {exc}") from None
    return build_table(
        records,
        corpus=CORPUS,
        root=root,
        expected=EXPECTED,
        skipped=skipped,
        policy=None if mode == "custom" else policy,
    )
