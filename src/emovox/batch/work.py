"""The per-file work of a batch: plain module-level functions any process can call.

:func:`predict_batch` predicts a list of paths and returns their rows
(:mod:`emovox.batch.rows`); a file that fails is an error row and the others go on. It is
what the local runner's worker processes run, and what a Dask worker will run: it takes
only picklable arguments (paths, the model's *path*, class names) and loads the model once
per process through :func:`recognizer_for`: a cache keyed by the model folder's absolute
path and its metadata file's modification time, held by :func:`emovox.runtime.runtime`
(threads asking for the same model while it loads wait for that load). Nothing here
spawns processes or writes files.

Errors: an :class:`~emovox.errors.EmovoxError` of a file (unusable audio, a missing file)
is recorded as that file's error, as :meth:`emovox.Recognizer.predict_files` does. Any other
exception raised for one file (a bug, or a library failing on strange input) is recorded too,
its type named in the message, so that one file never stops a batch of thousands; a worker
process that dies outright is the runner's business (:mod:`emovox.batch.runner`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from emovox.batch import rows
from emovox.errors import EmovoxError
from emovox.results import Failure, Result

if TYPE_CHECKING:
    import pandas as pd

    from emovox.recognizer import Recognizer

ModelPath = str | Path | None
"""A model folder, or None for the default model bundled with emovox."""


def model_key(model: ModelPath) -> str | None:
    """The absolute path of ``model``'s folder (None: the default model), as workers get it
    (a relative path would depend on the worker's working folder)."""
    from emovox.corpora.files import absolute

    return None if model is None else str(absolute(model))


def recognizer_for(model: ModelPath) -> Recognizer:
    """The recognizer of ``model``, loaded on first use in this process and kept; a model
    folder saved again since (its ``emovox.json`` changed) is loaded again."""
    from emovox.recognizer import Recognizer
    from emovox.runtime import runtime

    path = model_key(model)
    try:
        version = None if path is None else os.stat(Path(path) / "emovox.json").st_mtime_ns
    except OSError:
        version = None  # Recognizer.load says what is wrong with the folder
    key = ("batch-recognizer", path, version)
    return runtime().shared(key, lambda: Recognizer.load(path))


_BLAS_LIMIT: object = None


def init_worker() -> None:
    """Set up a worker process: Ctrl-C is the parent's business (it stops the batch and the
    workers with it). The model loads on the first task (:func:`recognizer_for`), so that a
    model that cannot load is an error the parent sees, not a broken pool.

    Each worker uses one BLAS thread: the processes already fill the cores, and idle BLAS
    threads spinning on them halved the throughput of 2 processes (docs/results.md, folder
    batch). The answers do not change with it: the Whisper log-mel no longer goes through
    BLAS (:func:`emovox.features.whisper.log_mel.log_mel`), so a batch answers exactly as
    ``predict`` does (a test checks it).
    """
    global _BLAS_LIMIT
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from threadpoolctl import threadpool_limits

    _BLAS_LIMIT = threadpool_limits(limits=1, user_api="blas")  # kept for the process' life


def predict_one(recognizer: Recognizer, path: str, classes: Sequence[str] | None) -> Result:
    """The prediction of one file, or its failure (never an exception)."""
    try:
        return recognizer.predict_file(path, classes=classes)
    except EmovoxError as exc:
        return Failure.from_error(path, exc)
    except Exception as exc:  # one file must never stop the batch
        return Failure(
            source=path,
            error=f"unexpected {type(exc).__name__} while predicting this file: {exc}",
            kind=type(exc).__name__,
        )


def predict_adapted_batch(
    paths: Sequence[str],
    *,
    model: ModelPath = None,
    classes: Sequence[str] | None = None,
    manifest: str,
    column: str,
) -> pd.DataFrame:
    """As :func:`predict_batch`, each file adapted to its speaker: the files that share its
    value in ``column`` of ``manifest`` (all of them, also those outside ``paths``, so
    that a resumed batch adapts as the first run did). Workers read the manifest
    themselves, once per process."""
    from emovox.batch.inputs import manifest_groups
    from emovox.runtime import runtime

    recognizer = recognizer_for(model)
    chosen = recognizer.check_classes(list(classes)) if classes is not None else None
    groups = runtime().shared(
        ("batch-groups", manifest, column), lambda: manifest_groups(manifest, column)
    )
    found: dict[str, Result] = {}
    for group in dict.fromkeys(groups.of.get(str(p)) for p in paths):
        members = groups.members.get(group, []) if group is not None else []
        try:
            for result in recognizer.predict_files(members, classes=chosen, adapt=True):
                found[str(result.source)] = result
        except Exception as exc:  # one speaker must never stop the batch
            for member in members:
                found[member] = Failure(
                    source=member,
                    error=f"adapting to speaker {group!r} failed: {exc}",
                    kind=type(exc).__name__,
                )
    results = [
        found.get(str(p))
        or Failure(source=str(p), error=f"not in the manifest '{manifest}'", kind="ParameterError")
        for p in paths
    ]
    return rows.frame(results, labels=chosen or recognizer.labels, model_id=recognizer.model_id)


def predict_batch(
    paths: Sequence[str], *, model: ModelPath = None, classes: Sequence[str] | None = None
) -> pd.DataFrame:
    """The rows of ``paths`` (one each, in order), predicted with ``model`` (a folder; None:
    the bundled default) and answering with ``classes`` (None: every class of the model).
    ``classes`` must be the model's own names (:meth:`emovox.Recognizer.check_classes`)."""
    recognizer = recognizer_for(model)
    chosen = recognizer.check_classes(list(classes)) if classes is not None else None
    results = [predict_one(recognizer, str(path), chosen) for path in paths]
    return rows.frame(results, labels=chosen or recognizer.labels, model_id=recognizer.model_id)
