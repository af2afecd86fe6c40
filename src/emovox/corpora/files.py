"""What every corpus loader shares: finding audio files and turning parsed names into a table."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from emovox.errors import CorpusError
from emovox.labels import Policy, apply_policy

AUDIO_SUFFIXES: frozenset[str] = frozenset({".wav", ".flac"})
"""Extensions (compared in lower case) that corpus loaders pick up."""

CORE_COLUMNS: tuple[str, ...] = ("path", "label", "original_label", "speaker", "gender", "corpus")
"""The columns every corpus table starts with; a corpus' own fields follow them."""


class CorpusWarning(UserWarning):
    """Files skipped while loading a corpus (names that do not follow its convention)."""


def absolute(path: str | Path) -> Path:
    """``path`` made absolute with ``~`` expanded and ``..`` folded, without resolving links."""
    return Path(os.path.abspath(Path(path).expanduser()))


def find_audio_files(root: str | Path, *, corpus: str, expected: str) -> list[Path]:
    """All ``.wav``/``.flac`` files (any case) under ``root``, recursively, sorted.

    Hidden files and folders (names starting with ``.``, such as macOS ``._x.wav``
    resource forks) are ignored.

    Raises:
        CorpusError: when ``root`` is not a folder or holds no audio file; the message
            says what ``corpus`` files were expected (``expected`` describes them).
    """
    root = absolute(root)
    if not root.exists():
        raise CorpusError(
            f"The {corpus} folder '{root}' does not exist; it should hold .wav or .flac "
            f"files with {expected}."
        )
    if not root.is_dir():
        raise CorpusError(
            f"'{root}' is not a folder; the {corpus} loader expects a folder of .wav or "
            f".flac files with {expected}."
        )
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_SUFFIXES:
                found.append(Path(folder) / name)
    if not found:
        raise CorpusError(
            f"No .wav or .flac file found under '{root}' (searched recursively); "
            f"the {corpus} loader expects files with {expected}."
        )
    return sorted(found)


def warn_skipped(skipped: list[Path], *, corpus: str, expected: str) -> None:
    """Report files whose names did not parse, with a count and an example."""
    if not skipped:
        return
    examples = ", ".join(f"'{p.name}'" for p in skipped[:3])
    warnings.warn(
        f"Skipped {len(skipped)} file(s) whose names do not follow the {corpus} convention "
        f"(e.g. {examples}); expected {expected}.",
        CorpusWarning,
        stacklevel=3,
    )


def build_table(
    records: Iterable[dict[str, Any]],
    *,
    corpus: str,
    root: Path,
    expected: str,
    skipped: list[Path],
    policy: Policy | None,
) -> pd.DataFrame:
    """The corpus table: core columns first, sorted by path, label policy applied
    (``policy=None``: custom labels, left as they are).

    Each record holds ``path`` and the corpus' fields; ``corpus`` is filled in here.
    Skipped files are reported with :func:`warn_skipped`.

    Raises:
        CorpusError: when no record is left (every file was skipped).
    """
    warn_skipped(skipped, corpus=corpus, expected=expected)
    rows = sorted(
        ({**r, "path": str(r["path"]), "corpus": corpus} for r in records), key=lambda r: r["path"]
    )
    if not rows and skipped:
        raise CorpusError(
            f"No {corpus} file found under '{root}': none of the {len(skipped)} audio files "
            f"there has {expected}."
        )
    if not rows:
        raise CorpusError(f"Every {corpus} file under '{root}' was excluded by the options given.")
    table = pd.DataFrame(rows)
    table["gender"] = pd.Series([r.get("gender") for r in rows], dtype=object)
    extra = [c for c in table.columns if c not in CORE_COLUMNS]
    table = table[list(CORE_COLUMNS) + extra]
    return apply_policy(table, policy)


def load_named_files(
    root: str | Path,
    *,
    corpus: str,
    expected: str,
    parse: Callable[[Path], dict[str, Any] | None],
    policy: Policy,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> pd.DataFrame:
    """Load a corpus whose labels are in its file (or folder) names.

    ``parse`` turns an audio file's path into its fields (``label``, ``original_label``,
    ``speaker``, ``gender`` and the corpus' own), or None when the name does not follow
    the corpus convention; such files are skipped with a :class:`CorpusWarning`.
    ``keep`` excludes parsed files on purpose (an option such as RAVDESS songs), silently.
    """
    root = absolute(root)
    records, skipped = [], []
    for path in find_audio_files(root, corpus=corpus, expected=expected):
        fields = parse(path)
        if fields is None:
            skipped.append(path)
        elif keep is None or keep(fields):
            records.append({"path": path, **fields})
    return build_table(
        records, corpus=corpus, root=root, expected=expected, skipped=skipped, policy=policy
    )
