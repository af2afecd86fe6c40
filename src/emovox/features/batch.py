"""Extract features for every file of a corpus table, with cache, progress bar and threads."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from emovox.audio import load_audio
from emovox.errors import EmovoxError
from emovox.features.base import FeatureExtractor
from emovox.features.cache import FeatureCache, Transform, compute_features

log = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]


class ExtractionFailure(NamedTuple):
    """A file skipped by :func:`extract_table` and why, in words."""

    path: str
    message: str


def _worker_count(n_jobs: int) -> int:
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise EmovoxError(f"n_jobs must be a positive number of threads or -1, got {n_jobs}.")
    return n_jobs


def extract_table(
    table: pd.DataFrame,
    extractor: FeatureExtractor,
    *,
    cache: FeatureCache | None = None,
    progress: bool = True,
    n_jobs: int = 1,
    on_error: OnError = "raise",
    transform: Transform | None = None,
    transform_key: str | None = None,
    load: Callable[[str | Path], np.ndarray] = load_audio,
) -> tuple[list[np.ndarray], pd.DataFrame]:
    """Features of each row's ``path``: ``extractor(transform(load_audio(path)))``.

    Args:
        table: a corpus table with a ``path`` column (other columns are kept).
        extractor: any registered extractor, e.g. ``make_extractor({"name": "stats"})``.
        cache: reuse and store features there; ``None`` computes everything.
        progress: show a tqdm progress bar.
        n_jobs: threads to use (-1: one per CPU). Threads, not processes, so that large
            extractors (neural encoders) are shared, not copied; the speed-up depends on
            how much of the work releases the GIL (FFTs and resampling do). With more
            than one thread, BLAS/OpenMP pools are limited to one thread each meanwhile.
        on_error: ``"raise"`` stops at the first file that fails with its
            :class:`EmovoxError` (an :class:`~emovox.errors.AudioError` for unreadable
            audio); ``"skip"`` leaves that row out and records it.
        transform: applied to each loaded signal before extraction (noise, band-limiting).
        transform_key: a string identifying ``transform`` fully, seeds included; it is
            part of the cache key. A transform without a key bypasses the cache.
        load: turns a path into a 16 kHz mono signal (default :func:`emovox.load_audio`).

    Returns:
        The feature arrays (float32) and the rows they belong to, in table order, with
        a fresh 0..n-1 index so that ``features[i]`` belongs to row ``i``. The rows
        skipped are in ``rows.attrs["failures"]``, a list of :class:`ExtractionFailure`.
    """
    if on_error not in ("raise", "skip"):
        raise EmovoxError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    if "path" not in table.columns:
        raise EmovoxError(
            f"The table needs a 'path' column; its columns are: {', '.join(map(str, table))}."
        )
    if transform_key is not None and transform is None:
        raise EmovoxError("transform_key was given without a transform.")
    workers = _worker_count(n_jobs)
    paths = [str(p) for p in table["path"]]

    def one(path: str) -> np.ndarray:
        if cache is not None:
            return cache.get_or_compute(
                path, extractor, load=load, transform=transform, transform_key=transform_key
            )
        return compute_features(path, extractor, load=load, transform=transform)

    results: list[np.ndarray | None] = [None] * len(paths)
    failures: dict[int, ExtractionFailure] = {}

    def record(i: int, exc: Exception) -> None:
        if isinstance(exc, EmovoxError):
            if on_error == "raise":
                if paths[i] in str(exc):
                    raise exc
                raise type(exc)(f"'{paths[i]}': {exc}") from exc
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
            if on_error == "raise":
                raise EmovoxError(
                    f"Extracting '{extractor.name}' features from '{paths[i]}' failed: {message}"
                ) from exc
        failures[i] = ExtractionFailure(paths[i], message)

    bar = tqdm(
        total=len(paths), disable=not progress, desc=f"{extractor.name} features", unit="file"
    )
    try:
        if workers == 1:
            for i, path in enumerate(paths):
                try:
                    results[i] = one(path)
                except Exception as exc:
                    record(i, exc)
                bar.update()
        else:
            # One BLAS/OpenMP thread per worker, as joblib does, to avoid oversubscription.
            with threadpool_limits(limits=1), ThreadPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(one, path): i for i, path in enumerate(paths)}
                try:
                    for future in as_completed(futures):
                        i = futures[future]
                        try:
                            results[i] = future.result()
                        except Exception as exc:
                            record(i, exc)
                        bar.update()
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    finally:
        bar.close()

    kept = [i for i in range(len(paths)) if i not in failures]
    rows = table.iloc[kept].reset_index(drop=True)
    rows.attrs["failures"] = [failures[i] for i in sorted(failures)]
    if failures:
        log.warning(
            "Skipped %d of %d files while extracting '%s' features; first: %s: %s",
            len(failures),
            len(paths),
            extractor.name,
            *rows.attrs["failures"][0],
        )
    return [results[i] for i in kept], rows  # type: ignore[misc]


def stack_features(features: Sequence[np.ndarray]) -> np.ndarray:
    """Stack equal-shaped arrays into one with a new first axis (one row per file)."""
    if len(features) == 0:
        raise EmovoxError("There are no features to stack (an empty list was given).")
    shapes = Counter(np.shape(f) for f in features)
    if len(shapes) > 1:
        first = {}
        for i, f in enumerate(features):
            first.setdefault(np.shape(f), i)
        listing = "; ".join(
            f"{shape} x{count} (first at {first[shape]})" for shape, count in shapes.most_common()
        )
        raise EmovoxError(
            f"Cannot stack features of different shapes: {listing}. Variable-length features "
            "(e.g. logmel) must be padded, cropped or pooled to one shape first."
        )
    return np.stack(features)


def table_features(
    table: pd.DataFrame,
    features: dict,
    *,
    cache: FeatureCache | None = None,
    progress: bool = True,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    transform_key: str | None = None,
) -> tuple[np.ndarray, pd.DataFrame, list[tuple[str, str]]]:
    """Features for every row that decodes; returns ``(X, rows kept, failures)``."""
    from emovox.features import make_extractor

    extractor = make_extractor(features)
    arrays, kept = extract_table(
        table,
        extractor,
        cache=cache,
        progress=progress,
        on_error="skip",
        transform=transform,
        transform_key=transform_key,
    )
    failures = [(f.path, f.message) for f in kept.attrs.get("failures", [])]
    if not arrays:
        raise EmovoxError("No file could be read; nothing to evaluate.")
    return stack_features(arrays), kept, failures


def transformed_features(
    kept: pd.DataFrame,
    features: dict,
    transforms: dict[str, Any],
    *,
    cache: FeatureCache | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Features of every row of ``kept`` under each named transform (rows as ``kept``).

    A transform is a callable on a 16 kHz signal with a ``key`` naming it in the cache
    (:mod:`emovox.audio.degrade`); a file that fails under a transform raises.
    """
    matrices = {}
    for name, transform in transforms.items():
        X_t, kept_t, failed = table_features(
            kept,
            features,
            cache=cache,
            progress=progress,
            transform=transform,
            transform_key=transform.key,
        )
        if len(kept_t) != len(kept):
            raise EmovoxError(f"{len(failed)} files failed under '{name}' ({transform.key}).")
        matrices[name] = X_t
    return matrices


def augmented_features(
    kept: pd.DataFrame,
    features: dict,
    augment: str | None,
    *,
    cache: FeatureCache | None = None,
    progress: bool = True,
) -> list[np.ndarray]:
    """One feature matrix per augmentation in ``AUGMENTATIONS[augment]``, rows as ``kept``."""
    if augment is None:
        return []
    from emovox.audio.degrade import AUGMENTATIONS

    if augment not in AUGMENTATIONS:
        raise EmovoxError(f"Unknown augmentation '{augment}'; choose from {list(AUGMENTATIONS)}.")
    transforms = {t.key: t for t in AUGMENTATIONS[augment]}
    return list(
        transformed_features(kept, features, transforms, cache=cache, progress=progress).values()
    )
