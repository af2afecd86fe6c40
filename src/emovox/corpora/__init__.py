"""Corpus loaders: every supported corpus read into one kind of table.

:func:`load_corpus` reads one corpus from its folder (or, for ``manifest``, its CSV
file); :func:`load_corpora` reads several and concatenates them. Loaders read only file
names, never audio. Each returns a :class:`pandas.DataFrame` with one row per file,
sorted by path, with the columns

* ``path``: absolute path of the audio file (str);
* ``label``: the emovox label (:data:`emovox.labels.EMOTIONS`, plus the extras with
  ``policy="keep"``);
* ``original_label``: the corpus' own emotion code or name;
* ``speaker``: globally unique speaker id ``"<corpus>:<id>"`` (``ravdess:01``);
* ``gender``: ``"f"``, ``"m"`` or None where unknown;
* ``corpus``: the corpus name;

followed by the corpus' own fields (RAVDESS ``intensity``, TESS ``word`` ...). The
label policy (:func:`emovox.labels.apply_policy`) decides what happens to calm, boredom
and pleasant surprise. Files whose names do not follow the corpus' convention are
skipped with a :class:`CorpusWarning`; a root without any usable file raises
:class:`emovox.errors.CorpusError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from emovox.corpora.cremad import load_cremad
from emovox.corpora.emodb import load_emodb
from emovox.corpora.files import AUDIO_SUFFIXES, CorpusWarning
from emovox.corpora.folder import load_folder
from emovox.corpora.manifest import load_manifest
from emovox.corpora.naming import normalize_label
from emovox.corpora.ravdess import load_ravdess
from emovox.corpora.savee import load_savee
from emovox.corpora.tess import load_tess
from emovox.corpora.turev import load_turev
from emovox.errors import CorpusError
from emovox.labels import Policy

__all__ = [
    "AUDIO_SUFFIXES",
    "CORPORA",
    "CorpusWarning",
    "load_corpora",
    "load_corpus",
    "normalize_label",
]

CORPORA: dict[str, Callable[..., pd.DataFrame]] = {
    "ravdess": load_ravdess,
    "savee": load_savee,
    "tess": load_tess,
    "emodb": load_emodb,
    "cremad": load_cremad,
    "turev": load_turev,
    "folder": load_folder,
    "manifest": load_manifest,
}
"""Corpus name -> loader ``(root, *, policy="drop", **options) -> DataFrame``."""

ALIASES: dict[str, str] = {
    "crema-d": "cremad",
    "crema_d": "cremad",
    "turev_db": "turev",
    "turev-db": "turev",
    "turevdb": "turev",
}
"""Other spellings of corpus names accepted by :func:`load_corpus`."""


def _loader(name: str) -> Callable[..., pd.DataFrame]:
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in CORPORA:
        raise CorpusError(f"Unknown corpus '{name}'; known corpora are: {', '.join(CORPORA)}.")
    return CORPORA[key]


def load_corpus(
    name: str, root: str | Path, *, policy: Policy = "drop", **options: Any
) -> pd.DataFrame:
    """Load corpus ``name`` from ``root`` (a folder; the CSV file for ``manifest``).

    ``options`` are the corpus' own (``include_song`` for RAVDESS).

    Raises:
        CorpusError: for an unknown corpus or option, or a root without usable files.
        EmovoxError: for an unknown policy.
    """
    loader = _loader(name)
    accepted = [
        p for p in inspect.signature(loader).parameters.values() if p.kind is p.KEYWORD_ONLY
    ]
    allowed = {p.name for p in accepted} - {"policy"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise CorpusError(
            f"Corpus '{name}' has no option {', '.join(unknown)}; its options are: "
            f"{', '.join(sorted(allowed)) or 'none'}."
        )
    return loader(root, policy=policy, **options)


def load_corpora(
    specs: Iterable[tuple[str, str | Path]] | Mapping[str, str | Path],
    *,
    policy: Policy = "drop",
) -> pd.DataFrame:
    """Load several corpora and concatenate their tables, in the order given.

    ``specs`` is ``{"ravdess": path, "tess": path}`` or ``[("ravdess", path), ...]``.
    Columns that only some corpora have are missing (NaN) for the others.

    Raises:
        CorpusError: when ``specs`` is empty, a corpus fails to load, or a file would be
            loaded twice (the same corpus given twice, or nested roots).
    """
    pairs = list(specs.items()) if isinstance(specs, Mapping) else list(specs)
    if not pairs:
        raise CorpusError("No corpus given to load.")
    tables = [load_corpus(name, root, policy=policy) for name, root in pairs]
    table = pd.concat(tables, ignore_index=True)
    twice = table["path"].duplicated()
    if twice.any():
        raise CorpusError(
            f"{int(twice.sum())} file(s) would be loaded twice (e.g. "
            f"'{table.loc[twice, 'path'].iloc[0]}'); give each corpus folder once."
        )
    table["gender"] = table["gender"].astype(object).where(table["gender"].notna(), None)
    return table
