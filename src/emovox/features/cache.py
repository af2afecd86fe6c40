"""Disk cache of per-file features, keyed by file content and extractor config.

The default folder is ``features/`` under emovox's cache root
(:func:`emovox.cache_root.cache_root`: ``$EMOVOX_CACHE``, ``$XDG_CACHE_HOME/emovox`` or
``~/.cache/emovox``, with a per-user temporary folder when that is not writable).

Layout under the cache folder::

    <name>-<confighash[:12]>/config.json                 the extractor config (and transform key)
    <name>-<confighash[:12]>/<sha[:2]>/<sha>.npy         features of the file whose content
                                                         has sha256 <sha>

The config hash is the sha256 of the canonical JSON (sorted keys) of the extractor's
``config()``; with a transform, of ``{"extractor": config, "transform": key}``. Two paths
with the same bytes share one entry; renaming or moving a corpus keeps its cache.
Entries are written to a temporary file in the same folder and moved into place with
``os.replace``, so an interrupted run never leaves a partial ``.npy`` under a final name.
Arrays are saved with ``allow_pickle=False`` and read back the same way.

The key does not include the emovox or librosa version: after upgrading either, clear
the cache folder (it is safe to delete at any time) if features must be recomputed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emovox.audio import load_audio
from emovox.cache_root import CACHE_ENV as CACHE_ENV  # re-exported
from emovox.cache_root import cache_root
from emovox.errors import AudioError, ParameterError
from emovox.features.base import FeatureExtractor, canonical_json, config_hash

Transform = Callable[[np.ndarray], np.ndarray]


def default_cache_dir() -> Path:
    """``features/`` under emovox's cache root (:func:`emovox.cache_root.cache_root`)."""
    return cache_root() / "features"


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB chunks; :class:`AudioError` if unreadable."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    except FileNotFoundError:
        raise AudioError(f"No such file: '{path}'.") from None
    except OSError as exc:
        raise AudioError(f"Cannot read '{path}': {exc.strerror or exc}.") from exc
    return digest.hexdigest()


@dataclass
class CacheStats:
    """Counts since the cache object was made: hits, misses, writes."""

    hits: int = 0
    misses: int = 0
    writes: int = 0


class FeatureCache:
    """Features of audio files on disk, so that each file is extracted once per config.

    ``transform_key`` (a string naming a signal transform, seeds included) is part of the
    key when given; :meth:`get_or_compute` bypasses the cache for a transform without one.
    The object is safe to share between threads.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._hashes: dict[tuple[str, int, int], str] = {}

    def __repr__(self) -> str:
        return f"FeatureCache('{self.root}')"

    # ------------------------------------------------------------ keys

    @staticmethod
    def key_config(extractor: FeatureExtractor, transform_key: str | None = None) -> Any:
        """What the config hash is computed from."""
        config = extractor.config()
        if transform_key is None:
            return config
        return {"extractor": config, "transform": transform_key}

    def config_dir(self, extractor: FeatureExtractor, transform_key: str | None = None) -> Path:
        """The folder holding this extractor's (and transform's) entries."""
        digest = config_hash(self.key_config(extractor, transform_key))
        return self.root / f"{extractor.name}-{digest[:12]}"

    def content_hash(self, path: str | Path) -> str:
        """sha256 of the file, remembered per (path, size, mtime) for this object's life."""
        path = Path(path)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise AudioError(f"No such file: '{path}'.") from None
        except OSError as exc:
            raise AudioError(f"Cannot read '{path}': {exc.strerror or exc}.") from exc
        memo_key = (str(path.resolve()), info.st_size, info.st_mtime_ns)
        digest = self._hashes.get(memo_key)
        if digest is None:
            digest = self._hashes[memo_key] = file_sha256(path)
        return digest

    def entry_path(
        self, path: str | Path, extractor: FeatureExtractor, *, transform_key: str | None = None
    ) -> Path:
        """Where the features of ``path`` are (or would be) stored."""
        digest = self.content_hash(path)
        return self.config_dir(extractor, transform_key) / digest[:2] / f"{digest}.npy"

    # ------------------------------------------------------------ access

    def get(
        self, path: str | Path, extractor: FeatureExtractor, *, transform_key: str | None = None
    ) -> np.ndarray | None:
        """The cached features of ``path``, or ``None`` (missing or unreadable entry)."""
        entry = self.entry_path(path, extractor, transform_key=transform_key)
        try:
            features = np.load(entry, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            self._count("misses")
            return None
        self._count("hits")
        return features

    def put(
        self,
        path: str | Path,
        extractor: FeatureExtractor,
        features: np.ndarray,
        *,
        transform_key: str | None = None,
    ) -> Path:
        """Store ``features`` for ``path`` atomically; returns the entry's path."""
        entry = self.entry_path(path, extractor, transform_key=transform_key)
        folder = entry.parent.parent
        if not (folder / "config.json").exists():
            config = canonical_json(self.key_config(extractor, transform_key))
            self._write_atomic(folder / "config.json", lambda f: f.write(config.encode()))
        array = np.ascontiguousarray(features)
        self._write_atomic(entry, lambda f: np.save(f, array, allow_pickle=False))
        self._count("writes")
        return entry

    def get_or_compute(
        self,
        path: str | Path,
        extractor: FeatureExtractor,
        *,
        load: Callable[[str | Path], np.ndarray] = load_audio,
        transform: Transform | None = None,
        transform_key: str | None = None,
    ) -> np.ndarray:
        """Cached features of ``path``, else ``extractor(transform(load(path)))``, stored.

        A ``transform`` without a ``transform_key`` is computed every time and not stored,
        since the cache could not tell its output from the untransformed one.
        """
        if transform_key is not None and transform is None:
            raise ParameterError("transform_key was given without a transform.")
        cacheable = transform is None or transform_key is not None
        if cacheable:
            features = self.get(path, extractor, transform_key=transform_key)
            if features is not None:
                return features
        features = compute_features(path, extractor, load=load, transform=transform)
        if cacheable:
            self.put(path, extractor, features, transform_key=transform_key)
        return features

    def _count(self, counter: str) -> None:
        with self._lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)

    @staticmethod
    def _write_atomic(target: Path, write: Callable[[Any], Any]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def compute_features(
    path: str | Path,
    extractor: FeatureExtractor,
    *,
    load: Callable[[str | Path], np.ndarray] = load_audio,
    transform: Transform | None = None,
) -> np.ndarray:
    """``extractor(transform(load(path)))`` as float32, without any cache."""
    signal = load(path)
    if transform is not None:
        signal = transform(signal)
    return np.asarray(extractor(signal), dtype=np.float32)
