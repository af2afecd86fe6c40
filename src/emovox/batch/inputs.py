"""What a batch reads: a folder, a manifest or files, as one ordered list of paths.

:func:`list_inputs` turns each source into absolute paths (``~`` expanded, ``..`` folded,
links kept as named) and joins them in the order given, each path once:

* a **folder** is walked recursively; files whose extension libsndfile reads
  (:data:`AUDIO_SUFFIXES`, any case) are kept, sorted by path; hidden files and folders
  (``.name``, such as macOS ``._x.wav`` resource forks) and every other name are skipped;
* a **manifest** (a file ending in ``.csv``) lists the files in a ``path`` column, in
  order, relative to the manifest's folder unless absolute; other columns (``label``,
  ``speaker``) are allowed and ignored. Every listed file is kept whatever its name, and
  one that is missing becomes an error row of the batch, not an error of the manifest;
* any **other existing path** is one file, kept as given (an unreadable one becomes an
  error row). A source that does not exist is refused: it is more likely a typing mistake
  than a file to report.

The order is deterministic (the same sources list the same paths in the same order), so a
rerun resumes the same list and the finished output is in this order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from emovox.corpora.files import absolute
from emovox.errors import ParameterError

AUDIO_SUFFIXES: frozenset[str] = frozenset(
    {
        ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3",
        ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64",
    }
)  # fmt: skip
"""Extensions (compared in lower case) a folder batch picks up: formats libsndfile reads."""

MANIFEST_SUFFIX = ".csv"
"""A source ending in this is a manifest, not an audio file."""


def list_inputs(sources: str | Path | Sequence[str | Path]) -> list[str]:
    """The absolute paths of the files a batch over ``sources`` predicts, in order, once each.

    Raises:
        ParameterError: when a source does not exist or is standard input, a folder holds
            no audio file, or a manifest cannot be read, has no ``path`` column or lists
            nothing.
    """
    if isinstance(sources, str | Path):
        sources = [sources]
    if not isinstance(sources, Sequence):
        raise ParameterError(f"Give a folder, a manifest or files to predict, got {sources!r}.")
    if not sources:
        raise ParameterError("Give a folder, a manifest (.csv) or audio files to predict.")
    seen: dict[str, None] = {}
    for source in sources:
        if not isinstance(source, str | Path) or str(source) == "":
            raise ParameterError(f"Not a path: {source!r}.")
        if str(source) == "-":
            raise ParameterError(
                "Standard input (-) cannot be part of a batch written to --out: a rerun could "
                "not read it again. Save it to a file first."
            )
        for path in _expand(source):
            seen.setdefault(path, None)
    return list(seen)


def is_manifest(source: str | Path) -> bool:
    """Whether ``source`` names a manifest (a ``.csv`` file), not audio or a folder."""
    return Path(source).suffix.lower() == MANIFEST_SUFFIX and not Path(source).is_dir()


def _expand(source: str | Path) -> Iterable[str]:
    path = absolute(source)
    if not os.path.lexists(path):
        raise ParameterError(f"'{source}' does not exist; give a folder, a manifest or files.")
    if path.is_dir():
        return audio_files(path)
    if is_manifest(path):
        return manifest_paths(path)
    return [str(path)]


def audio_files(folder: str | Path) -> list[str]:
    """Every audio file under ``folder`` (recursively, following no hidden name), sorted."""
    root = absolute(folder)
    found: list[str] = []
    for current, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            os.path.join(current, name)
            for name in names
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_SUFFIXES
        )
    if not found:
        raise ParameterError(
            f"No audio file found under '{root}' (searched recursively for "
            f"{', '.join(sorted(AUDIO_SUFFIXES))})."
        )
    return sorted(found)


def manifest_paths(csv_path: str | Path) -> list[str]:
    """The files listed in the ``path`` column of a manifest, in order, made absolute
    relative to the manifest's folder."""
    import pandas as pd

    csv_path = absolute(csv_path)
    if not csv_path.is_file():
        raise ParameterError(f"The manifest '{csv_path}' does not exist.")
    try:
        rows = pd.read_csv(csv_path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ParameterError(f"Cannot read the manifest '{csv_path}' as CSV ({exc}).") from None
    columns = [str(c).strip() for c in rows.columns]
    if "path" not in columns:
        raise ParameterError(
            f"The manifest '{csv_path}' has no path column (its header is {','.join(columns)}); "
            "a batch manifest is a CSV file with a 'path' column (other columns are ignored)."
        )
    paths = rows.iloc[:, columns.index("path")].str.strip()
    empty = paths == ""
    if empty.any():
        lines = ", ".join(str(i + 2) for i in paths[empty].index[:5])
        raise ParameterError(f"The manifest '{csv_path}' has an empty path on line(s) {lines}.")
    if paths.empty:
        raise ParameterError(f"The manifest '{csv_path}' lists no file.")
    folder = csv_path.parent
    return [str(absolute(folder / p)) for p in paths]


@dataclass(frozen=True)
class Groups:
    """The files of a manifest by the value of one column (e.g. each speaker's files)."""

    of: dict[str, str]
    """Each file's group."""
    members: dict[str, list[str]]
    """Each group's files, in manifest order."""


def manifest_groups(csv_path: str | Path, column: str) -> Groups:
    """The manifest's files grouped by ``column`` (absolute paths, as :func:`manifest_paths`);
    :class:`ParameterError` when the column is missing or empty on some line."""
    import pandas as pd

    paths = manifest_paths(csv_path)
    rows = pd.read_csv(absolute(csv_path), dtype=str, keep_default_na=False, skipinitialspace=True)
    names = [str(c).strip() for c in rows.columns]
    if column not in names:
        raise ParameterError(
            f"The manifest '{csv_path}' has no {column!r} column to adapt by (its header is "
            f"{','.join(names)})."
        )
    values = rows.iloc[:, names.index(column)].str.strip()
    empty = values == ""
    if empty.any():
        lines = ", ".join(str(i + 2) for i in values[empty].index[:5])
        raise ParameterError(
            f"The manifest '{csv_path}' has no {column} on line(s) {lines}; every file needs "
            "one to adapt by it."
        )
    of = dict(zip(paths, values, strict=True))
    members: dict[str, list[str]] = {}
    for path, group in of.items():
        members.setdefault(group, []).append(path)
    return Groups(of=of, members=members)
