"""Extract features for every file of a corpus table, with cache, progress hook and threads."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from emovox.audio import load_audio
from emovox.errors import EmovoxError, ParameterError
from emovox.features.base import FeatureExtractor
from emovox.features.cache import FeatureCache, Transform, compute_features
from emovox.progress import ProgressHook, StepCounter
from emovox.results import Failure

log = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]


def _worker_count(n_jobs: int) -> int:
    if n_jobs == -1:
        return os.cpu_count() or 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ParameterError(f"n_jobs must be a positive number of threads or -1, got {n_jobs!r}.")
    return n_jobs


def extract_table(
    table: pd.DataFrame,
    extractor: FeatureExtractor,
    *,
    cache: FeatureCache | None = None,
    hook: ProgressHook | None = None,
    step: str | None = None,
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
        hook: told of each file done (:mod:`emovox.progress`); None reports nothing.
        step: the step name the hook sees (default ``"<extractor> features"``).
        n_jobs: threads to use (-1: one per CPU). Threads, not processes, so that large
            extractors (neural encoders) are shared, not copied; the speed-up depends on
            how much of the work releases the GIL (FFTs and resampling do). With more
            than one thread, BLAS/OpenMP pools are limited to one thread each meanwhile.
        on_error: ``"raise"`` stops at the first file that fails with its
            :class:`EmovoxError` (an :class:`~emovox.errors.AudioError` for unreadable
            audio) naming the file; ``"skip"`` leaves that row out and records it.
        transform: applied to each loaded signal before extraction (noise, band-limiting).
        transform_key: a string identifying ``transform`` fully, seeds included; it is
            part of the cache key. A transform without a key bypasses the cache.
        load: turns a path into a 16 kHz mono signal (default :func:`emovox.load_audio`).

    Returns:
        The feature arrays (float32) and the rows they belong to, in table order, with
        a fresh 0..n-1 index so that ``features[i]`` belongs to row ``i``. The rows
        skipped are in ``rows.attrs["failures"]``, a list of :class:`~emovox.results.Failure`.
    """
    if on_error not in ("raise", "skip"):
        raise ParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    if "path" not in table.columns:
        raise ParameterError(
            f"The table needs a 'path' column; its columns are: {', '.join(map(str, table))}."
        )
    if transform_key is not None and transform is None:
        raise ParameterError("transform_key was given without a transform.")
    workers = _worker_count(n_jobs)
    paths = [str(p) for p in table["path"]]

    def one(path: str) -> np.ndarray:
        if cache is not None:
            return cache.get_or_compute(
                path, extractor, load=load, transform=transform, transform_key=transform_key
            )
        return compute_features(path, extractor, load=load, transform=transform)

    results: list[np.ndarray | None] = [None] * len(paths)
    failures: dict[int, Failure] = {}

    def record(i: int, exc: Exception) -> None:
        if isinstance(exc, EmovoxError):
            named = exc if exc.source is not None else type(exc)(f"'{paths[i]}': {exc}")
            named.source = paths[i]
        else:
            named = EmovoxError(
                f"Extracting '{extractor.name}' features from '{paths[i]}' failed: "
                f"{type(exc).__name__}: {exc}",
                source=paths[i],
            )
        if on_error == "raise":
            if named is exc:
                raise exc
            raise named from exc
        message = str(exc) if isinstance(exc, EmovoxError) else f"{type(exc).__name__}: {exc}"
        failures[i] = Failure(source=paths[i], error=message, kind=type(named).__name__)

    count = StepCounter(hook, step or f"{extractor.name} features", total=len(paths))
    if workers == 1:
        for i, path in enumerate(paths):
            try:
                results[i] = one(path)
            except Exception as exc:
                record(i, exc)
            count.advance()
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
                    count.advance()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    kept = [i for i in range(len(paths)) if i not in failures]
    rows = table.iloc[kept].reset_index(drop=True)
    rows.attrs["failures"] = [failures[i] for i in sorted(failures)]
    if failures:
        log.warning(
            "Skipped %d of %d files while extracting '%s' features; first: %s: %s",
            len(failures),
            len(paths),
            extractor.name,
            rows.attrs["failures"][0].source,
            rows.attrs["failures"][0].error,
        )
    return [results[i] for i in kept], rows  # type: ignore[misc]


def stack_features(features: Sequence[np.ndarray]) -> np.ndarray:
    """Stack equal-shaped arrays into one with a new first axis (one row per file)."""
    if len(features) == 0:
        raise ParameterError("There are no features to stack (an empty list was given).")
    shapes = Counter(np.shape(f) for f in features)
    if len(shapes) > 1:
        first = {}
        for i, f in enumerate(features):
            first.setdefault(np.shape(f), i)
        listing = "; ".join(
            f"{shape} x{count} (first at {first[shape]})" for shape, count in shapes.most_common()
        )
        raise ParameterError(
            f"Cannot stack features of different shapes: {listing}. Variable-length features "
            "(e.g. logmel) must be padded, cropped or pooled to one shape first."
        )
    return np.stack(features)


def table_features(
    table: pd.DataFrame,
    features: dict,
    *,
    cache: FeatureCache | None = None,
    hook: ProgressHook | None = None,
    step: str | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    transform_key: str | None = None,
) -> tuple[np.ndarray, pd.DataFrame, list[Failure]]:
    """Features for every row that decodes; returns ``(X, rows kept, failures)``."""
    from emovox.features import make_extractor

    extractor = make_extractor(features)
    arrays, kept = extract_table(
        table,
        extractor,
        cache=cache,
        hook=hook,
        step=step,
        on_error="skip",
        transform=transform,
        transform_key=transform_key,
    )
    failures = list(kept.attrs.get("failures", []))
    if not arrays:
        first = f" (first: {failures[0].source}: {failures[0].error})" if failures else ""
        raise EmovoxError(f"No file could be read; nothing to train or evaluate on{first}.")
    return stack_features(arrays), kept, failures


def transformed_features(
    kept: pd.DataFrame,
    features: dict,
    transforms: dict[str, Any],
    *,
    cache: FeatureCache | None = None,
    hook: ProgressHook | None = None,
) -> dict[str, np.ndarray]:
    """Features of every row of ``kept`` under each named transform (rows as ``kept``).

    A transform is a callable on a 16 kHz signal with a ``key`` naming it in the cache
    (:mod:`emovox.audio.degrade`); a file that fails under a transform raises. Each
    transform is its own progress step, named after it.
    """
    matrices = {}
    for name, transform in transforms.items():
        X_t, kept_t, failed = table_features(
            kept,
            features,
            cache=cache,
            hook=hook,
            step=f"{features.get('name', 'features')} features ({name})",
            transform=transform,
            transform_key=transform.key,
        )
        if len(kept_t) != len(kept):
            raise EmovoxError(f"{len(failed)} files failed under '{name}' ({transform.key}).")
        matrices[name] = X_t
    return matrices


def check_augment(augment: str | None) -> None:
    """Raise :class:`ParameterError` unless ``augment`` is None or a known augmentation."""
    if augment is None:
        return
    from emovox.audio.degrade import AUGMENTATIONS

    if augment not in AUGMENTATIONS:
        raise ParameterError(
            f"Unknown augmentation '{augment}'; choose from {', '.join(AUGMENTATIONS)}."
        )


def augmented_features(
    kept: pd.DataFrame,
    features: dict,
    augment: str | None,
    *,
    cache: FeatureCache | None = None,
    hook: ProgressHook | None = None,
) -> list[np.ndarray]:
    """One feature matrix per augmentation in ``AUGMENTATIONS[augment]``, rows as ``kept``."""
    if augment is None:
        return []
    from emovox.audio.degrade import AUGMENTATIONS

    check_augment(augment)
    transforms = {t.key: t for t in AUGMENTATIONS[augment]}
    return list(
        transformed_features(kept, features, transforms, cache=cache, hook=hook).values()
    )
