"""The resumable local batch: every audio file of a folder or manifest, over processes.

:func:`predict_folder` lists the input (:mod:`emovox.batch.inputs`), opens the output
(:mod:`emovox.batch.writer`), skips the files the output already holds, and predicts the
rest in batches of files with the plain per-batch function :func:`emovox.batch.work.
predict_batch`, each batch's rows written as soon as it is done:

* ``jobs=1`` runs in this process; more run in that many worker processes
  (:func:`worker_context`: forked from a fresh fork server, never from this process),
  each loading the model once, on its first task; at most two batches per worker are
  queued at a time, so that memory does not grow with the input.
* A batch holds :func:`default_batch_size` files unless told: small enough that a killed
  run loses little and the workers finish together, large enough that what each task
  costs besides its files is small (one file per task is 11 % slower with the default
  model; docs/results.md, folder batch).
* A worker process that dies (a decoder crash on a file, the kernel's out-of-memory
  killer, a stray ``kill``) breaks the pool: every worker stops and the batches in flight
  are lost. They are retried in a fresh pool; a batch lost twice is predicted again one
  file at a time in a single worker, so that a death names its file: a file whose worker
  dies twice on its own is an error row, the others are predicted normally. When workers
  die on file after file, the batch stops with an error (rows so far are kept), since that
  is the machine, not the files.
* Ctrl-C stops the batch: rows written stay; a rerun resumes.

Progress goes to ``hook`` as one step, ``"predicting"``, counting every file of the input:
it starts at the number already done (a resumed run), so that a rate and an ETA computed
from it count only this run's work.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emovox.batch import rows
from emovox.batch.inputs import list_inputs
from emovox.batch.work import (
    ModelPath,
    init_worker,
    model_key,
    predict_adapted_batch,
    predict_batch,
    recognizer_for,
)
from emovox.batch.writer import check_output, open_output
from emovox.corpora.files import absolute
from emovox.errors import EmovoxError, ModelError, ParameterError
from emovox.progress import ProgressHook, resolve
from emovox.results import Failure

if TYPE_CHECKING:
    import pandas as pd

STEP = "predicting"
"""The progress step a batch reports."""

MAX_BATCH = 32
"""The most files a task holds by default."""

QUEUED_PER_WORKER = 2
"""Tasks submitted per worker process at a time (one running, one waiting)."""

CRASH_RETRIES = 2
"""A batch lost this many times with a dying worker is retried file by file; a file whose
worker dies this many times when it runs alone is an error row."""

CRASHED_IN_A_ROW = 3
"""Files in a row that each killed their worker alone, with no file predicted between
them, that stop the batch: then it is the machine, not the files."""

Work = Callable[..., "pd.DataFrame"]
"""A per-batch function: ``work(paths, *, model=, classes=) -> rows`` (module-level, so
that it pickles by name): :func:`~emovox.batch.work.predict_batch`."""


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did. ``failed`` counts the error rows of the input's files in the
    output, this run's and earlier runs' (the exit code follows it)."""

    output: Path
    format: str
    model_id: str
    files: int
    """Files the input lists."""
    skipped: int
    """Files already in the output when this run started."""
    processed: int
    """Files predicted by this run."""
    failed: int
    seconds: float
    """Wall time from the first batch started to the last row written (worker start-up
    included; listing, model check and the final reordering not)."""
    jobs: int
    """Worker processes used (1: this process)."""
    batch_size: int
    failures: tuple[tuple[str, str], ...] = ()
    """``(source, error)`` of this run's error rows."""
    notes: tuple[str, ...] = field(default=())
    """What opening the output found and repaired."""

    @property
    def files_per_second(self) -> float | None:
        """This run's throughput (None when it predicted nothing)."""
        if not self.processed or self.seconds <= 0:
            return None
        return self.processed / self.seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "format": self.format,
            "model": self.model_id,
            "files": self.files,
            "skipped": self.skipped,
            "processed": self.processed,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "files_per_second": self.files_per_second,
            "jobs": self.jobs,
            "batch_size": self.batch_size,
            "failures": [{"source": s, "error": e} for s, e in self.failures],
            "notes": list(self.notes),
        }


def predict_folder(
    source: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    model: ModelPath = None,
    jobs: int | None = None,
    classes: str | Sequence[str] | None = None,
    batch_size: int | None = None,
    force: bool = False,
    hook: ProgressHook | None = None,
    adapt_by: str | None = None,
) -> BatchSummary:
    """Predict every audio file of ``source`` into ``out`` (.csv or .parquet), resumably.

    ``source``: a folder (recursive), a manifest CSV with a ``path`` column, an audio file,
    or a list of those. ``model``: a model folder (None: the bundled default). ``jobs``:
    worker processes (None: one per available core). ``classes``: as
    :meth:`emovox.Recognizer.predict`. ``force``: delete what ``out`` holds and start
    over. A rerun with the same ``out`` skips the files already there. ``adapt_by``: a
    column of the manifest (``speaker``): each file is adapted to the files that share its
    value (:meth:`emovox.Recognizer.adapt`); one task per speaker.

    Raises:
        ParameterError, ModelError: for bad arguments, a model or classes that do not
            load, or an ``out`` that holds something else (checked before any file is
            predicted). A file that fails is an error row, never an exception.
    """
    jobs = check_jobs(jobs)
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}.")
    check_output(out)
    paths = list_inputs(source)
    model = model_key(model)
    recognizer = recognizer_for(model)
    chosen = recognizer.check_classes(classes)
    work, groups = _adapted_work(source, adapt_by, recognizer)
    labels = chosen or recognizer.labels
    model_id = recognizer.model_id
    columns = rows.columns(labels)
    hook = resolve(hook)
    with open_output(out, columns=columns, model_id=model_id, force=force) as output:
        todo = [path for path in paths if path not in output.done]
        skipped = len(paths) - len(todo)
        size = batch_size or default_batch_size(len(todo), jobs)
        if groups is None:
            batches = [todo[i : i + size] for i in range(0, len(todo), size)]
        else:  # one task per speaker: each profile is computed once
            by_group: dict[str, list[str]] = {}
            for path in todo:
                by_group.setdefault(groups.of[path], []).append(path)
            batches = list(by_group.values())
        used = max(1, min(jobs, len(batches)))
        completed = skipped
        hook(STEP, total=len(paths), completed=completed)
        failures: list[tuple[str, str]] = []
        started = time.perf_counter()
        for batch in run_batches(
            batches,
            model=model,
            classes=chosen,
            jobs=used,
            labels=labels,
            model_id=model_id,
            work=work,
        ):
            if (batch[rows.MODEL] != model_id).any():
                raise ModelError(
                    f"The model folder '{model}' changed while the batch ran (its rows now "
                    f"come from {batch[rows.MODEL].iloc[0]}, not {model_id}); the rows written "
                    "so far are kept. Rerun with a new --out, or --force to start over."
                )
            output.write(batch)
            failed = batch[batch["status"] == "error"]
            failures.extend(zip(failed[rows.KEY], failed["error"], strict=True))
            completed += len(batch)
            hook(STEP, total=len(paths), completed=completed)
        seconds = time.perf_counter() - started
        output.finish(paths)
    return BatchSummary(
        output=output.path,
        format=output.format,
        model_id=model_id,
        files=len(paths),
        skipped=skipped,
        processed=completed - skipped,
        failed=sum(output.done.get(path) == "error" for path in paths),
        seconds=seconds,
        jobs=used,
        batch_size=size,
        failures=tuple(failures),
        notes=tuple(output.notes),
    )


def _adapted_work(source: Any, adapt_by: str | None, recognizer: Any) -> tuple[Work, Any]:
    """The work function and the manifest's groups for ``adapt_by`` (None: plain work)."""
    if adapt_by is None:
        return predict_batch, None
    from emovox.batch.inputs import is_manifest, manifest_groups

    sources = [source] if isinstance(source, str | Path) else list(source)
    if len(sources) != 1 or not is_manifest(sources[0]):
        raise ParameterError(
            f"Adapting by {adapt_by!r} needs one manifest (.csv) with a {adapt_by!r} column "
            "naming each file's speaker."
        )
    recognizer.require_adaptation()
    manifest = str(absolute(sources[0]))
    groups = manifest_groups(manifest, adapt_by)
    return partial(predict_adapted_batch, manifest=manifest, column=adapt_by), groups


def check_jobs(jobs: int | None) -> int:
    """``jobs``, or the number of cores this process may use for None."""
    if jobs is None:
        return available_cores()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ParameterError(f"jobs must be a positive number of processes, got {jobs!r}.")
    return jobs


def available_cores() -> int:
    """Cores this process may run on (its affinity where the system says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def default_batch_size(files: int, jobs: int) -> int:
    """Files per task: about eight tasks per worker, at most :data:`MAX_BATCH` files."""
    return max(1, min(MAX_BATCH, files // (jobs * 8)))


def worker_context() -> multiprocessing.context.BaseContext:
    """How worker processes start: from a fork server where there is one (Linux, macOS),
    else spawned. The server is a fresh process (no onnxruntime or OpenMP threads to copy
    half-alive, unlike a ``fork`` of this process) that imports, once, the emovox modules
    this process has imported by now (those loading the model needed: the whole scikit-learn
    and PyTorch stack for some models); each worker is forked from it, so starting one, or
    a new pool after a worker died, costs milliseconds instead of those imports again."""
    import sys

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(sorted(m for m in sys.modules if m.startswith("emovox.")))
    return context


def run_batches(
    batches: Sequence[Sequence[str]],
    *,
    model: ModelPath,
    classes: Sequence[str] | None,
    jobs: int,
    labels: Sequence[str],
    model_id: str,
    work: Work = predict_batch,
) -> Iterator[pd.DataFrame]:
    """The rows of each batch as it finishes (in this process for ``jobs=1``)."""
    if jobs <= 1:
        for batch in batches:
            yield work(list(batch), model=model, classes=classes)
        return
    yield from _Pool(model=model, classes=classes, labels=labels, model_id=model_id, work=work).run(
        batches, jobs
    )


class _Pool:
    """Worker processes that survive a worker's death (see the module docstring)."""

    def __init__(
        self,
        *,
        model: ModelPath,
        classes: Sequence[str] | None,
        labels: Sequence[str],
        model_id: str,
        work: Work,
    ) -> None:
        self.model = model
        self.classes = None if classes is None else list(classes)
        self.labels = list(labels)
        self.model_id = model_id
        self.work = work
        self.in_a_row = 0

    def _start(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers, mp_context=worker_context(), initializer=init_worker
        )

    def _submit(self, pool: ProcessPoolExecutor, paths: Sequence[str]) -> Future:
        return pool.submit(self.work, list(paths), model=self.model, classes=self.classes)

    def run(self, batches: Sequence[Sequence[str]], jobs: int) -> Iterator[pd.DataFrame]:
        pending = deque((list(b), 0) for b in batches)  # (paths, times lost)
        suspects: deque[str] = deque()
        while pending or suspects:
            if suspects:
                yield from self._alone(suspects)
                continue
            yield from self._together(pending, suspects, jobs)

    def _together(
        self, pending: deque[tuple[list[str], int]], suspects: deque[str], jobs: int
    ) -> Iterator[pd.DataFrame]:
        """Batches over ``jobs`` workers until done or the pool breaks. Batches lost with a
        dying worker go back to ``pending``, or to ``suspects`` file by file when lost
        :data:`CRASH_RETRIES` times."""
        pool = self._start(jobs)
        running: dict[Future, tuple[list[str], int]] = {}
        try:
            while pending or running:
                broken = False
                while pending and len(running) < QUEUED_PER_WORKER * jobs:
                    batch, lost = pending[0]
                    try:  # a pool that has just lost a worker refuses new tasks
                        future = self._submit(pool, batch)
                    except BrokenProcessPool:
                        broken = True
                        break
                    pending.popleft()
                    running[future] = (batch, lost)
                if not broken:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    broken = any(isinstance(f.exception(), BrokenProcessPool) for f in finished)
                if broken:
                    pool.shutdown(wait=True, cancel_futures=True)
                    finished = set(running)
                retry = []
                for future in finished:
                    batch, lost = running.pop(future)
                    if future.cancelled() or isinstance(future.exception(), BrokenProcessPool):
                        if lost + 1 >= CRASH_RETRIES:
                            suspects.extend(batch)
                        else:
                            retry.append((batch, lost + 1))
                        continue
                    self.in_a_row = 0
                    yield future.result()
                pending.extendleft(reversed(retry))
                if broken:
                    return
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _alone(self, suspects: deque[str]) -> Iterator[pd.DataFrame]:
        """The ``suspects`` one file at a time in one worker, so that a worker's death names
        its file."""
        pool = self._start(1)
        deaths: dict[str, int] = {}
        try:
            while suspects:
                path = suspects[0]
                try:
                    batch = self._submit(pool, [path]).result()
                except BrokenProcessPool:
                    pool.shutdown(wait=True)
                    deaths[path] = deaths.get(path, 0) + 1
                    if deaths[path] >= CRASH_RETRIES:
                        self.in_a_row += 1
                        if self.in_a_row >= CRASHED_IN_A_ROW:
                            raise EmovoxError(
                                f"Worker processes died on {self.in_a_row} files in a row, "
                                f"{CRASH_RETRIES} times on each; stopping. The rows written so "
                                "far are kept (rerun to resume). Is the machine short of "
                                "memory, or do worker processes fail to start (see the errors "
                                "above)?"
                            ) from None
                        suspects.popleft()
                        yield self._crashed(path, deaths[path])
                    pool = self._start(1)
                    continue
                suspects.popleft()
                self.in_a_row = 0
                yield batch
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _crashed(self, path: str, times: int) -> pd.DataFrame:
        failure = Failure(
            source=path,
            error=f"the worker process died while predicting this file ({times} times, alone); "
            "the decoder may crash on it, or it needs more memory than there is",
            kind="WorkerDied",
        )
        return rows.frame([failure], labels=self.labels, model_id=self.model_id)
