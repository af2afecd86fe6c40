"""What a Dask batch reads: a folder, a glob or a manifest, local or at any fsspec URL.

:func:`list_sources` turns one input into the ordered list of files a batch predicts, each
once; :func:`read_audio` is what a worker does with one of them. A source is named in the
output exactly as listed here:

* a **local** file is its absolute path (``~`` expanded, ``..`` folded, links kept), as
  :func:`emovox.batch.inputs.list_inputs` names it; ``file://`` URLs are local paths too;
* a file anywhere else is its fsspec URL (``s3://bucket/key``, ``gs://...``,
  ``memory:///...``), which every worker opens itself with fsspec (credentials come from
  the worker's environment or fsspec configuration, never from the client).

Inputs:

* a **folder** is walked recursively; files with an audio extension
  (:data:`~emovox.batch.inputs.AUDIO_SUFFIXES`) are kept, sorted; hidden names skipped;
* a **glob** (``'calls/2024-*/**/*.flac'``, quoted in a shell) keeps every file it
  matches, sorted (``**`` crosses folders); it is a glob only if no file has that name;
* a **manifest** (``.csv``, or ``.parquet`` / ``.pq``) lists files in a ``path`` column, in
  its order (duplicates once); a path without a protocol is on the manifest's own file
  system, relative to the manifest's folder unless absolute. A listed file that is missing
  becomes an error row of the batch, not an error of the manifest;
* any **other existing file** is the one file of the batch.

The list is deterministic (the same input lists the same files in the same order), which
is what lets a rerun find its parts again (:mod:`emovox.batch.dask_batch`).
"""

from __future__ import annotations

import glob
import os
import posixpath
from pathlib import Path, PurePosixPath
from typing import Any

from emovox.batch.inputs import AUDIO_SUFFIXES, audio_files
from emovox.corpora.files import absolute
from emovox.errors import AudioError, ParameterError

MANIFEST_SUFFIXES: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
"""Extensions (any case) of a manifest, and how it is read."""

LOCAL_PROTOCOLS = ("file", "local")
"""fsspec protocols that mean this machine's file system."""

GLOB_CHARACTERS = ("*", "?", "[")


def protocol_of(path: str) -> str | None:
    """The fsspec protocol of ``path`` (``s3``, ``memory``, ``simplecache::s3`` ...), or None
    for a plain path."""
    head, sep, _ = path.partition("://")
    if not sep or not head or any(c in head for c in "/\\"):
        return None
    return head.lower()


def is_url(path: str) -> bool:
    """Whether ``path`` is read through fsspec (a protocol other than the local one)."""
    protocol = protocol_of(path)
    return protocol is not None and protocol not in LOCAL_PROTOCOLS


def local_path(path: str) -> str:
    """``path`` without a ``file://`` / ``local://`` prefix (plain paths as given)."""
    protocol = protocol_of(path)
    if protocol in LOCAL_PROTOCOLS:
        return path.partition("://")[2] or "/"
    return path


def has_magic(path: str) -> bool:
    """Whether ``path`` holds glob characters."""
    return any(c in path for c in GLOB_CHARACTERS)


def list_sources(source: str | os.PathLike[str]) -> list[str]:
    """The files a batch over ``source`` predicts, in order, once each (see the module).

    Raises:
        ParameterError: for an empty or ``-`` source, one that does not exist, a folder
            without audio files, a glob that matches no file, a manifest that cannot be
            read, has no ``path`` column or lists nothing, or a protocol fsspec lacks.
    """
    if not isinstance(source, str | os.PathLike):
        raise ParameterError(f"Give a folder, a glob or a manifest to predict, got {source!r}.")
    text = os.fspath(source)
    if not text.strip():
        raise ParameterError("Give a folder, a glob or a manifest (.csv, .parquet) to predict.")
    if text == "-":
        raise ParameterError(
            "Standard input (-) cannot be the input of a batch: a rerun could not read it "
            "again. Save it to a file first."
        )
    if is_url(text):
        return _remote(text)
    return _local(local_path(text), given=text)


def _local(path: str, *, given: str) -> list[str]:
    target = absolute(path)
    if os.path.lexists(target):
        if target.is_dir():
            return audio_files(target)
        if target.suffix.lower() in MANIFEST_SUFFIXES:
            return _manifest(None, str(target), given=given)
        return [str(target)]
    if has_magic(path):
        pattern = str(absolute(path))
        matches = sorted(m for m in glob.glob(pattern, recursive=True) if os.path.isfile(m))
        if not matches:
            raise ParameterError(f"No file matches '{given}'.")
        return list(dict.fromkeys(str(absolute(m)) for m in matches))
    raise ParameterError(f"'{given}' does not exist; give a folder, a glob or a manifest.")


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:
        raise ParameterError("Reading URLs needs fsspec: pip install 'emovox[dask]'.") from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:  # a protocol without its package, a bad URL
        raise ParameterError(f"Cannot open '{url}' ({exc}).") from None


def _remote(url: str) -> list[str]:
    fs, root = _filesystem(url)
    try:
        if has_magic(root) and not fs.exists(root):
            found = fs.glob(root, detail=True)
            files = sorted(p for p, info in found.items() if info.get("type") == "file")
            if not files:
                raise ParameterError(f"No file matches '{url}'.")
            return [fs.unstrip_protocol(p) for p in files]
        if fs.isdir(root):
            return _remote_folder(fs, root, url)
        if fs.isfile(root):
            if PurePosixPath(root).suffix.lower() in MANIFEST_SUFFIXES:
                return _manifest(fs, root, given=url)
            return [fs.unstrip_protocol(root)]
    except OSError as exc:
        raise ParameterError(f"Cannot list '{url}' ({exc}).") from None
    raise ParameterError(f"'{url}' does not exist; give a folder, a glob or a manifest.")


def _remote_folder(fs: Any, root: str, url: str) -> list[str]:
    base = root.rstrip("/")
    kept = []
    for path in fs.find(root, withdirs=False):
        relative = path[len(base) :].lstrip("/") if path.startswith(base) else path
        names = relative.split("/")
        if any(name.startswith(".") for name in names):
            continue
        if PurePosixPath(path).suffix.lower() in AUDIO_SUFFIXES:
            kept.append(path)
    if not kept:
        raise ParameterError(
            f"No audio file found under '{url}' (searched recursively for "
            f"{', '.join(sorted(AUDIO_SUFFIXES))})."
        )
    return [fs.unstrip_protocol(p) for p in sorted(kept)]


def _manifest(fs: Any, path: str, *, given: str) -> list[str]:
    """The files listed in the ``path`` column of a manifest (``fs`` None: a local one)."""
    import pandas as pd

    kind = MANIFEST_SUFFIXES[PurePosixPath(path).suffix.lower()]
    try:
        opened = open(path, "rb") if fs is None else fs.open(path, "rb")  # noqa: SIM115
        with opened as handle:
            if kind == "csv":
                table = pd.read_csv(handle, dtype=str, keep_default_na=False, skipinitialspace=True)
            else:
                table = pd.read_parquet(handle)
    except ImportError:
        raise ParameterError(
            "A Parquet manifest needs pyarrow: pip install 'emovox[parquet]'."
        ) from None
    except Exception as exc:  # pandas and pyarrow raise many kinds for a broken file
        raise ParameterError(
            f"Cannot read the manifest '{given}' as {kind.upper()} ({type(exc).__name__}: {exc})."
        ) from None
    columns = [str(c).strip() for c in table.columns]
    if "path" not in columns:
        raise ParameterError(
            f"The manifest '{given}' has no path column (its columns are "
            f"{', '.join(columns)}); a batch manifest lists its files in a 'path' column."
        )
    values = table.iloc[:, columns.index("path")]
    missing = values.isna()
    paths = values.where(~missing, "").astype(str).str.strip()
    empty = paths == ""
    if empty.any():
        rows = ", ".join(str(i + 1) for i in range(len(paths)) if empty.iloc[i])
        raise ParameterError(f"The manifest '{given}' has an empty path in row(s) {rows[:60]}.")
    if paths.empty:
        raise ParameterError(f"The manifest '{given}' lists no file.")
    folder = os.path.dirname(path) if fs is None else posixpath.dirname(path)
    listed = (_resolve(entry, fs, folder) for entry in paths)
    return list(dict.fromkeys(listed))


def _resolve(entry: str, fs: Any, folder: str) -> str:
    """A manifest's entry as a source: URLs kept, plain paths on the manifest's file
    system, relative to its folder."""
    if is_url(entry):
        return entry
    if protocol_of(entry) is not None:  # file://
        return str(absolute(local_path(entry)))
    if fs is None:
        return str(absolute(Path(folder) / entry))
    return fs.unstrip_protocol(posixpath.normpath(posixpath.join(folder, entry)))


def read_audio(source: str) -> str | bytes:
    """What the loader gets for ``source``: a local path as it is (read from disk), the
    bytes of a URL (read whole with fsspec).

    Raises:
        AudioError: when the URL cannot be read (missing, no access, a network error).
    """
    if not is_url(source):
        return source
    try:
        import fsspec

        with fsspec.open(source, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise AudioError(f"'{source}' does not exist.", source=source) from None
    except Exception as exc:  # each file system raises its own kinds
        raise AudioError(
            f"Cannot read '{source}' ({type(exc).__name__}: {exc}).", source=source
        ) from None
