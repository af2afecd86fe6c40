"""Whole archives on a Dask cluster: ``emovox batch INPUT --out DIR [--scheduler ADDRESS]``.

:func:`predict_archive` lists the input (:mod:`emovox.batch.sources`: a folder, a glob or
a manifest, local or at an fsspec URL), cuts the list into parts of ``batch_size`` files,
and has each part predicted by one Dask task; as each task finishes, the client checks its
rows and writes them as one part of a Parquet dataset (:mod:`emovox.batch.dataset`). The
scheduler is dask.distributed's, never one of emovox's own:

* **Where it runs.** ``scheduler``: the address of a running scheduler
  (``tcp://HOST:8786``) or its scheduler file; None starts a ``LocalCluster`` on this
  machine, one worker process per core with one thread each. The same call works on a
  laptop and against a cluster (docs/scaling.md).
* **The model, once per worker process.** A task carries file names, the model folder's
  *path* (None: the default model bundled with emovox) and the class names; the worker
  loads the model on its first task and keeps it (:func:`emovox.batch.work.recognizer_for`,
  a per-process cache). No model travels through the scheduler, and no pickle of one
  exists. Workers read the audio themselves: local paths from their disk, URLs with
  fsspec (:func:`emovox.batch.sources.read_audio`, bytes -> the usual loader).
* **Rows.** One row per file (:mod:`emovox.batch.rows`: source, status, error, label,
  confidence, duration, speech, warnings, ``p_<class>``, model), or with ``timeline=True``
  one row per segment of speech (:mod:`emovox.batch.segments`, from
  :meth:`emovox.Recognizer.timeline`). A file that fails is an error row; the others go on.
* **Fault tolerance.** A worker that dies (killed, out of memory, its machine gone) loses
  no result: the scheduler runs its tasks again elsewhere. A task that raised is retried
  :data:`RETRIES` times. A part whose workers keep dying (Dask's ``KilledWorker``, after
  ``distributed.scheduler.allowed-failures`` deaths) is predicted again one file per task,
  so that a file that kills its worker alone becomes an error row and the others are kept.
* **Idempotence.** Parts are fixed by the input list and the batch size, written whole or
  not at all, and a rerun of the same command computes only the missing ones; an output
  made with other inputs, batch size, model, classes or timeline options is refused.
  When every part is there, the rows are checked once more (every input file exactly once)
  and ``_SUCCESS`` is written.

At most :data:`QUEUED_PER_THREAD` tasks per worker thread are submitted at a time (at
least :data:`MIN_QUEUED`), so that the client, the scheduler and the workers hold a
bounded amount of work whatever the size of the archive; workers that join later (an
adaptive cluster) raise the bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emovox.batch import rows, segments
from emovox.batch.dataset import FORMAT, DatasetOutput, check_out, precheck
from emovox.batch.runner import available_cores
from emovox.batch.sources import is_url, list_sources, read_audio
from emovox.batch.work import ModelPath, model_key, predict_one, recognizer_for
from emovox.batch.writer import arrow_schema
from emovox.errors import EmovoxError, ModelError, ParameterError
from emovox.progress import ProgressHook, resolve
from emovox.results import Failure, Result
from emovox.segmentation.windows import DEFAULT_WINDOW

if TYPE_CHECKING:
    import pandas as pd

    from emovox.recognizer import Recognizer

STEP = "predicting"
"""The progress step a batch reports, counted in input files."""

FILES_BATCH = 32
"""Files per task (and per part) by default: a task of short clips then takes a few
seconds of one core, so what a task costs besides its files (milliseconds) is small, and a
worker that dies loses little. It must not depend on the cluster's size: a rerun on more
or fewer workers has to find the same parts."""

TIMELINE_BATCH = 8
"""Files per task by default with ``timeline=True`` (recordings are longer: 8 calls of 3
minutes are about 25 s of one core)."""

RETRIES = 2
"""Times a task that raised is run again before the batch stops."""

QUEUED_PER_THREAD = 2
MIN_QUEUED = 8

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the scheduler to answer."""

WORKER_TIMEOUT = 600.0
"""Seconds to wait for a first worker to join the scheduler (a Slurm queue can be slow)."""


@dataclass(frozen=True)
class DaskBatchSummary:
    """What a Dask batch did. ``failed`` counts the input files with an error row in the
    whole output (this run's and earlier runs'; the command's exit code follows it)."""

    output: str
    mode: str
    """``files`` (one row per file) or ``timeline`` (one row per segment)."""
    model_id: str
    scheduler: str
    dashboard: str | None
    workers: int
    """Worker processes when the batch started."""
    files: int
    parts: int
    batch_size: int
    skipped_parts: int
    """Parts already in the output when this run started (not computed again)."""
    computed_parts: int
    skipped: int
    """Files in the skipped parts."""
    processed: int
    """Files predicted by this run."""
    failed: int
    rows: int
    """Rows in the output (files mode: one per file; timeline: one per segment)."""
    isolated: int
    """Files predicted one per task because workers kept dying on their part."""
    seconds: float
    """Wall time from the first task submitted to the last part written."""
    failures: tuple[tuple[str, str], ...] = ()
    """``(source, error)`` of this run's error rows."""
    notes: tuple[str, ...] = field(default=())

    @property
    def files_per_second(self) -> float | None:
        """This run's throughput (None when it predicted nothing)."""
        if not self.processed or self.seconds <= 0:
            return None
        return self.processed / self.seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "mode": self.mode,
            "model": self.model_id,
            "scheduler": self.scheduler,
            "dashboard": self.dashboard,
            "workers": self.workers,
            "files": self.files,
            "parts": self.parts,
            "batch_size": self.batch_size,
            "skipped_parts": self.skipped_parts,
            "computed_parts": self.computed_parts,
            "skipped": self.skipped,
            "processed": self.processed,
            "failed": self.failed,
            "rows": self.rows,
            "isolated": self.isolated,
            "seconds": round(self.seconds, 3),
            "files_per_second": self.files_per_second,
            "failures": [{"source": s, "error": e} for s, e in self.failures],
            "notes": list(self.notes),
        }


# -- what workers run ------------------------------------------------------------------
def model_info(model: str | None, classes: Sequence[str] | None) -> dict[str, Any]:
    """On a worker: the model's id, its labels and ``classes`` checked against them (the
    first task of a batch; it also loads the model, once per process)."""
    recognizer = recognizer_for(model)
    chosen = recognizer.check_classes(list(classes)) if classes is not None else None
    return {"model_id": recognizer.model_id, "labels": list(recognizer.labels), "chosen": chosen}


def predict_part(
    paths: Sequence[str],
    *,
    model: str | None,
    classes: Sequence[str] | None,
    timeline: dict[str, Any] | None,
) -> pd.DataFrame:
    """On a worker: the rows of ``paths`` in order (files mode: one each; timeline: each
    file's segments, or its one ``no_speech`` / ``error`` row)."""
    recognizer = recognizer_for(model)
    chosen = recognizer.check_classes(list(classes)) if classes is not None else None
    labels = chosen or list(recognizer.labels)
    if timeline is None:
        results = [_predict_source(recognizer, str(p), chosen) for p in paths]
        return rows.frame(results, labels=labels, model_id=recognizer.model_id)
    frames = [_timeline_source(recognizer, str(p), chosen, labels, timeline) for p in paths]
    return segments.concat(frames, labels)


def _predict_source(recognizer: Recognizer, source: str, chosen: list[str] | None) -> Result:
    if not is_url(source):
        return predict_one(recognizer, source, chosen)
    try:
        prediction = recognizer.predict(read_audio(source), classes=chosen)
    except EmovoxError as exc:
        return Failure.from_error(source, exc)
    except Exception as exc:  # one file must never stop the batch
        return Failure(
            source=source,
            error=f"unexpected {type(exc).__name__} while predicting this file: {exc}",
            kind=type(exc).__name__,
        )
    return replace(prediction, source=source)


def _timeline_source(
    recognizer: Recognizer,
    source: str,
    chosen: list[str] | None,
    labels: list[str],
    options: dict[str, Any],
) -> pd.DataFrame:
    model_id = recognizer.model_id
    try:
        frame = recognizer.timeline(read_audio(source), classes=chosen, **options)
    except EmovoxError as exc:
        return segments.failed_rows(source, str(exc), labels=labels, model_id=model_id)
    except Exception as exc:  # one file must never stop the batch
        error = f"unexpected {type(exc).__name__} while analysing this file: {exc}"
        return segments.failed_rows(source, error, labels=labels, model_id=model_id)
    return segments.file_rows(source, frame, labels=labels, model_id=model_id)


# -- the client ------------------------------------------------------------------------
def predict_archive(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    timeline: bool = False,
    window: float = DEFAULT_WINDOW,
    hop: float | None = None,
    merge: bool = False,
    channels: str = "mix",
    model: ModelPath = None,
    classes: str | Sequence[str] | None = None,
    workers: int | None = None,
    batch_size: int | None = None,
    hook: ProgressHook | None = None,
    log: Callable[[str], None] | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    worker_timeout: float = WORKER_TIMEOUT,
) -> DaskBatchSummary:
    """Predict every file of ``source`` into the Parquet dataset ``out`` on a Dask cluster,
    resumably (see the module docstring).

    ``source``: a folder, a glob or a manifest (.csv / .parquet with a ``path`` column),
    local or an fsspec URL. ``out``: a folder (or URL prefix) that becomes the dataset; a
    rerun with the same ``out`` computes only the parts not there yet. ``scheduler``: a
    scheduler address or scheduler file (None: a local cluster of ``workers`` processes,
    default one per core). ``timeline``: one row per segment of speech, with ``window``,
    ``hop``, ``merge`` and ``channels`` as in :meth:`emovox.Recognizer.timeline`.
    ``model``: a model folder, at the same path on every worker (None: the bundled
    default). ``classes``: as in :meth:`emovox.Recognizer.predict`. ``batch_size``: files
    per task and per part (default :data:`FILES_BATCH`, :data:`TIMELINE_BATCH` for
    timelines). ``hook``: progress in files; ``log``: one-line messages for a person
    (where the work runs, the dashboard's address).

    Raises:
        ParameterError, ModelError: for bad arguments, an input that lists nothing, an
            ``out`` that holds something else or another batch, a scheduler that does not
            answer within ``connect_timeout`` seconds, a model or classes the workers
            cannot load (all before any file is predicted).
        EmovoxError: when no worker joins within ``worker_timeout`` seconds, or the
            cluster fails (parts written so far are kept: rerun to resume).
    """
    batch_size = _positive("batch_size", batch_size)
    workers = _positive("workers", workers)
    connect_timeout = _seconds("connect_timeout", connect_timeout)
    worker_timeout = _seconds("worker_timeout", worker_timeout)
    if scheduler is not None and workers is not None:
        raise ParameterError(
            "workers is the size of the local cluster started without a scheduler; a "
            "cluster's workers are started on it (`dask worker ADDRESS`)."
        )
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ParameterError(
            f"scheduler must be an address such as tcp://HOST:8786, got {scheduler!r}."
        )
    options = _timeline_options(timeline, window, hop, merge, channels)
    wanted = _class_names(classes)
    _require_pyarrow()
    out = check_out(out)
    paths = list_sources(source)
    size = batch_size or (TIMELINE_BATCH if options is not None else FILES_BATCH)
    parts = [paths[i : i + size] for i in range(0, len(paths), size)]
    model = model_key(model)
    precheck(out, _describe(paths, size=size, parts=len(parts), options=options))
    say = log or (lambda message: None)
    report = resolve(hook)

    with _client(scheduler, workers, connect_timeout, worker_timeout) as (client, where):
        dashboard = _dashboard(client)
        count = len(client.nthreads())
        say(f"Dask: {where}, {count} worker(s); dashboard: {dashboard or _NO_DASHBOARD}")
        info = _model_info(client, model, wanted)
        labels = info["chosen"] or info["labels"]
        columns = segments.columns(labels) if options is not None else rows.columns(labels)
        description = _describe(
            paths, size=size, parts=len(parts), model=model, info=info, options=options,
            columns=columns,
        )  # fmt: skip
        with DatasetOutput(out, description=description) as output:
            if output.done:
                say(f"Resuming {out}: {len(output.done)} of {len(parts)} parts already there.")
            run = _Run(
                client,
                output,
                parts,
                task={"model": model, "classes": info["chosen"], "timeline": options},
                model_id=info["model_id"],
                labels=labels,
                timeline=options is not None,
                report=report,
                total=len(paths),
            )
            run.start()
            table = output.read(["source", "status"])
            failed = _check_complete(table, paths, out, timeline=options is not None)
            output.finish()
            notes = tuple(output.notes)
    return DaskBatchSummary(
        output=out,
        mode="timeline" if options is not None else "files",
        model_id=info["model_id"],
        scheduler=where,
        dashboard=dashboard,
        workers=count,
        files=len(paths),
        parts=len(parts),
        batch_size=size,
        skipped_parts=run.skipped_parts,
        computed_parts=len(run.computed),
        skipped=run.skipped,
        processed=run.processed,
        failed=failed,
        rows=len(table),
        isolated=run.isolated,
        seconds=run.seconds,
        failures=tuple(run.failures),
        notes=notes,
    )


_NO_DASHBOARD = "none (the scheduler needs bokeh for one: pip install bokeh)"


class _Run:
    """The parts not yet in ``output``, submitted a bounded number at a time and written
    as they finish."""

    def __init__(
        self,
        client: Any,
        output: DatasetOutput,
        parts: list[list[str]],
        *,
        task: dict[str, Any],
        model_id: str,
        labels: list[str],
        timeline: bool,
        report: ProgressHook,
        total: int,
    ) -> None:
        self.client = client
        self.output = output
        self.parts = parts
        self.task = task
        self.model_id = model_id
        self.labels = labels
        self.timeline = timeline
        self.report = report
        self.total = total
        names = segments.columns(labels) if timeline else rows.columns(labels)
        self.schema = segments.arrow_schema(names) if timeline else arrow_schema(names)
        self.token = secrets.token_hex(4)
        self.computed: list[int] = []
        self.skipped_parts = len(output.done)
        self.skipped = sum(len(parts[i]) for i in output.done)
        self.processed = 0
        self.isolated = 0
        self.failures: list[tuple[str, str]] = []
        self.seconds = 0.0
        self._limit = MIN_QUEUED
        self._limit_at = 0.0

    def start(self) -> None:
        """Run every missing part to its end (or raise; written parts stay)."""
        from distributed import as_completed

        todo = deque(i for i in range(len(self.parts)) if i not in self.output.done)
        done = self.skipped
        self.report(STEP, total=self.total, completed=done)
        running: dict[Any, tuple[int, int | None]] = {}  # future -> (part, file or None)
        alone: dict[int, dict[int, pd.DataFrame]] = {}
        futures = as_completed(loop=self.client.loop)
        started = time.perf_counter()

        def submit(index: int, position: int | None = None) -> None:
            paths = self.parts[index] if position is None else [self.parts[index][position]]
            kind = "part" if position is None else f"file-{position}"
            future = self.client.submit(
                predict_part,
                paths,
                key=f"emovox-{kind}-{index}-{self.token}",
                retries=RETRIES,
                **self.task,
            )
            running[future] = (index, position)
            futures.add(future)

        def fill() -> None:
            while todo and len(running) < self._queued():
                submit(todo.popleft())

        try:
            fill()
            for future in futures:
                index, position = running.pop(future)
                batch = self._result(future, index, position)
                future.release()
                if batch is None:  # the part's workers kept dying: each file alone
                    alone[index] = {}
                    self.isolated += len(self.parts[index])
                    for j in range(len(self.parts[index])):
                        submit(index, j)
                    continue
                if position is not None:
                    alone[index][position] = batch
                    if len(alone[index]) < len(self.parts[index]):
                        continue
                    pieces = alone.pop(index)
                    batch = self._concat([pieces[j] for j in range(len(self.parts[index]))])
                self._write(index, batch)
                done += len(self.parts[index])
                self.seconds = time.perf_counter() - started
                self.report(STEP, total=self.total, completed=done)
                fill()
        finally:
            if running:
                with contextlib.suppress(Exception):
                    self.client.cancel(list(running))

    def _queued(self) -> int:
        """Tasks in flight allowed now: per worker thread, looked up every few seconds."""
        now = time.monotonic()
        if now - self._limit_at > 5.0:
            with contextlib.suppress(Exception):
                threads = sum(self.client.nthreads().values())
                self._limit = max(MIN_QUEUED, QUEUED_PER_THREAD * threads)
            self._limit_at = now
        return self._limit

    def _result(self, future: Any, index: int, position: int | None) -> pd.DataFrame | None:
        """The rows of a finished task; None when its part must be split file by file."""
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            if position is None and len(self.parts[index]) > 1:
                return None
            source = self.parts[index][position or 0]
            return self._died(source, exc)
        except EmovoxError:
            raise
        except Exception as exc:
            if type(exc).__name__ == "CancelledError":
                raise EmovoxError(
                    "The Dask scheduler cancelled the batch's tasks (did it restart, or did "
                    "this client lose it?). The parts written so far are kept: rerun the "
                    "same command to resume."
                ) from None
            raise EmovoxError(
                f"A task failed on the cluster {RETRIES + 1} times ({type(exc).__name__}: "
                f"{exc}). The parts written so far are kept: rerun the same command to resume."
            ) from None

    def _died(self, source: str, exc: Exception) -> pd.DataFrame:
        deaths = getattr(exc, "allowed_failures", None)
        times = f" ({deaths + 1} times)" if isinstance(deaths, int) else ""
        error = (
            f"the worker process died while predicting this file alone{times}; the decoder "
            "may crash on it, or it needs more memory than a worker has"
        )
        if self.timeline:
            return segments.failed_rows(source, error, labels=self.labels, model_id=self.model_id)
        failure = Failure(source=source, error=error, kind="WorkerDied")
        return rows.frame([failure], labels=self.labels, model_id=self.model_id)

    def _concat(self, pieces: list[pd.DataFrame]) -> pd.DataFrame:
        import pandas as pd

        if self.timeline:
            return segments.concat(pieces, self.labels)
        return pd.concat(pieces, ignore_index=True)

    def _write(self, index: int, batch: pd.DataFrame) -> None:
        paths = self.parts[index]
        sources = batch[rows.KEY].tolist()
        listed = list(dict.fromkeys(sources)) if self.timeline else sources
        if listed != paths:
            raise EmovoxError(
                f"The rows a worker returned for part {index} are not the rows of its "
                f"{len(paths)} files ({len(batch)} rows for {len(listed)} files). Do the "
                "workers run another emovox version than this client?"
            )
        models = set(batch[rows.MODEL])
        if models != {self.model_id}:
            other = sorted(m for m in models if m != self.model_id)
            raise ModelError(
                f"Workers predicted with the model {', '.join(other)}, not {self.model_id}: "
                "the model folder changed during the batch, or workers hold another copy of "
                "it. The parts written so far are kept; rerun with a new --out."
            )
        self.output.write(index, batch, schema=self.schema)
        self.computed.append(index)
        self.processed += len(paths)
        failed = batch[batch["status"] == "error"]
        self.failures.extend(zip(failed[rows.KEY], failed["error"], strict=True))


# -- connecting ------------------------------------------------------------------------
@contextlib.contextmanager
def _client(
    scheduler: str | None, workers: int | None, connect_timeout: float, worker_timeout: float
) -> Iterator[tuple[Any, str]]:
    """A client of ``scheduler``, or of a local cluster started (and closed) here; and a
    description of where that is, for a person."""
    try:
        from distributed import Client
    except ImportError:
        raise ParameterError(
            "emovox batch runs on Dask: pip install 'emovox[dask]' (dask.distributed, fsspec)."
        ) from None
    cluster = None
    try:
        if scheduler is None:
            n = workers or available_cores()
            try:
                cluster = start_local_cluster(n)
                client = Client(cluster, set_as_default=False, timeout=connect_timeout)
            except Exception as exc:
                raise EmovoxError(
                    f"Could not start a local Dask cluster of {n} worker processes "
                    f"({type(exc).__name__}: {exc})."
                ) from None
            where = f"a local cluster at {cluster.scheduler_address}"
        else:
            client = _connect(Client, scheduler.strip(), connect_timeout)
            where = f"the scheduler at {client.scheduler.address}"
        try:
            try:
                client.wait_for_workers(1, timeout=worker_timeout)
            except TimeoutError:
                raise EmovoxError(
                    f"No Dask worker joined {where} within {worker_timeout:g} s; start workers "
                    f"with `dask worker {client.scheduler.address}` (docs/scaling.md)."
                ) from None
            yield client, where
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=connect_timeout)
    finally:
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
"""Dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers' environment (memory goes back
to the system sooner), which fixes glibc's mmap threshold too: every array over 128 KiB
is then mapped and unmapped again, 9 ms of system time per RAVDESS clip, 11 % of a
worker's CPU (docs/scaling.md)."""


def start_local_cluster(workers: int) -> Any:
    """A ``LocalCluster`` of ``workers`` processes of one thread each, logging errors only,
    without Dask's ``MALLOC_TRIM_THRESHOLD_`` (:data:`MALLOC_TRIM`) unless configured
    otherwise than Dask's default."""
    import dask
    from distributed import LocalCluster

    settings = {MALLOC_TRIM: None} if dask.config.get(MALLOC_TRIM, None) == 65536 else {}
    with dask.config.set(settings), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Port .* is already in use")  # another one
        return LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, silence_logs=logging.ERROR
        )


def _connect(client_class: Any, scheduler: str, timeout: float) -> Any:
    """A client of the scheduler at the address (or in the scheduler file) ``scheduler``."""
    if Path(scheduler).is_file():
        target = {"scheduler_file": scheduler}
    else:
        _check_address(scheduler)
        target = {"address": scheduler}
    try:
        return client_class(**target, timeout=timeout, set_as_default=False)
    except Exception as exc:  # OSError, TimeoutError, ValueError for a bad address ...
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ParameterError(
            f"Cannot reach a Dask scheduler at '{scheduler}' within {timeout:g} s ({detail}). "
            "Start one with `dask scheduler` and give its address (tcp://HOST:8786) or its "
            "--scheduler-file, or leave out --scheduler to run on this machine."
        ) from None


def _check_address(address: str) -> None:
    """Refuse an address Dask cannot parse (before a client half exists)."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme != "inproc":
            parse_host_port(location)
    except ValueError as exc:
        raise ParameterError(
            f"'{address}' is not a Dask scheduler address ({exc}); give one such as "
            "tcp://HOST:8786, or the path of a scheduler file."
        ) from None


def _dashboard(client: Any) -> str | None:
    """The dashboard's address, when the scheduler serves one (it needs bokeh there)."""

    def has_bokeh() -> bool:  # a closure: sent by value, runs on the scheduler
        import importlib.util

        return importlib.util.find_spec("bokeh") is not None

    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        if not client.run_on_scheduler(has_bokeh):
            return None
        return str(client.dashboard_link)
    except Exception:
        return None


def _model_info(client: Any, model: str | None, classes: list[str] | None) -> dict[str, Any]:
    """The model's id and labels, and ``classes`` checked, from a worker (which loads it)."""
    future = client.submit(model_info, model, classes, pure=False)
    try:
        return future.result()
    except EmovoxError:
        raise
    except Exception as exc:
        raise EmovoxError(
            f"The Dask workers could not load emovox or its model ({type(exc).__name__}: "
            f"{exc}). Every worker needs emovox installed (pip install 'emovox[dask]') and "
            "the model folder at the same path as here (docs/scaling.md)."
        ) from None
    finally:
        future.release()


# -- judging arguments -----------------------------------------------------------------
def _positive(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}.")
    return value


def _seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ParameterError(f"{name} must be a positive number of seconds, got {value!r}.")
    return float(value)


def _class_names(classes: str | Sequence[str] | None) -> list[str] | None:
    """``classes`` as a list of names (the workers check them against the model)."""
    if classes is None:
        return None
    if isinstance(classes, str):
        names = classes.split(",")
    elif isinstance(classes, Sequence) and all(isinstance(c, str) for c in classes):
        names = list(classes)
    else:
        raise ParameterError(
            f"classes must be class names (a list of strings or one comma-separated string), "
            f"got {classes!r}."
        )
    return [name.strip() for name in names if name.strip()]


def _require_pyarrow() -> None:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ParameterError(
            "emovox batch writes Parquet, which needs pyarrow: pip install 'emovox[dask,parquet]'."
        ) from None


def _timeline_options(
    timeline: bool, window: float, hop: float | None, merge: bool, channels: str
) -> dict[str, Any] | None:
    """The options each file's timeline gets (None: one row per file)."""
    from emovox.audio.stream import check_channels
    from emovox.segmentation.windows import check_windows

    if not isinstance(timeline, bool):
        raise ParameterError(f"timeline must be True or False, got {timeline!r}.")
    if not timeline:
        if (window, hop, merge, channels) != (DEFAULT_WINDOW, None, False, "mix"):
            raise ParameterError(
                "window, hop, merge and channels shape timelines: add --timeline (timeline=True)."
            )
        return None
    w, h, _ = check_windows(window, hop)
    if not isinstance(merge, bool):
        raise ParameterError(f"merge must be True or False, got {merge!r}.")
    return {"window": w, "hop": h, "merge": merge, "channels": check_channels(channels)}


def _describe(
    paths: list[str],
    *,
    size: int,
    parts: int,
    options: dict[str, Any] | None,
    model: str | None = None,
    info: dict[str, Any] | None = None,
    columns: list[str] | None = None,
) -> dict[str, Any]:
    """The description an output folder keeps of its batch (:mod:`emovox.batch.dataset`);
    without ``info`` (before the workers said which model), the part known already."""
    import emovox

    digest = hashlib.sha256("\0".join(paths).encode("utf-8", "surrogateescape")).hexdigest()
    known = {
        "format": FORMAT,
        "mode": "timeline" if options is not None else "files",
        "files": len(paths),
        "inputs_sha256": digest,
        "first_input": paths[0],
        "last_input": paths[-1],
        "batch_size": size,
        "parts": parts,
        "timeline": options,
    }
    if info is None:
        return known
    return {
        **known,
        "model": info["model_id"],
        "model_folder": model,
        "classes": info["chosen"],
        "columns": columns,
        "emovox": emovox.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _check_complete(table: pd.DataFrame, paths: list[str], out: str, *, timeline: bool) -> int:
    """Raise unless the output's rows name every input file exactly once (timeline: every
    file, each in one part); the number of files with an error row."""
    sources = table[rows.KEY]
    listed = list(dict.fromkeys(sources)) if timeline else sources.tolist()
    runs = int((sources != sources.shift()).sum())  # a file's rows are together, in one part
    if listed != paths or runs != len(paths):
        expected = set(paths)
        missing = len(expected - set(listed))
        extra = len(set(listed) - expected)
        twice = len(listed) - len(set(listed))
        raise EmovoxError(
            f"'{out}' does not hold every input file exactly once ({missing} missing, "
            f"{extra} not in the input, {twice} twice); delete it and run the batch again."
        )
    return int(sources[table["status"] == "error"].nunique())
