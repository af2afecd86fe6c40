"""Process-wide state in one thread-safe object: loaded models and torch's thread count.

A web server's thread pool, Dask's worker threads and a plain loop all share one
:class:`Runtime` (:func:`runtime`):

* :meth:`Runtime.shared` loads a model once per process and hands every caller the same
  object. Callers asking for the same key while it loads wait for that load instead of
  starting their own (the Whisper encoder takes seconds and 150-600 MB); different keys load
  in parallel. The Whisper PyTorch encoders (:mod:`emovox.features.whisper.extractor`) and
  the onnxruntime sessions (:mod:`emovox.features.whisper.onnx_encoder`) live here.
* :meth:`Runtime.torch_threads` runs a block with a given number of PyTorch intra-op
  threads. ``torch.set_num_threads`` is process-wide state, so sections asking for
  different counts take turns, while any number of sections asking for the same count run
  together; the first to enter records the previous count and the last to leave restores
  it. A section nested in another one of the same thread runs at the outer section's count.
* :meth:`Runtime.torch_switches` serialises code that flips torch's other process-wide
  switches and back (the quantized engine, while an encoder is quantized).

Nothing here imports torch until a torch section runs, so the fast (onnxruntime) path
stays free of it.

Caveat: with PyTorch's OpenMP backend, the count is also kept per thread (each thread's
OpenMP setting); a worker thread that ran a section keeps the section's count for torch
work it does outside sections, until it enters another section. The process-wide count,
which the main thread and new threads use, is restored.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

from emovox.errors import ParameterError

T = TypeVar("T")


class Runtime:
    """Loaded models and torch settings shared by every thread of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[Hashable, Any] = {}
        self._loading: dict[Hashable, threading.Lock] = {}
        self._generation = 0
        self._threads = threading.Condition()
        self._threads_users = 0
        self._threads_value: int | None = None
        self._threads_previous: int | None = None
        self._local = threading.local()
        self._switches = threading.RLock()

    def __repr__(self) -> str:
        with self._lock:
            keys = list(self._objects)
        return f"Runtime(shared={keys!r})"

    # ------------------------------------------------------------------ shared objects

    def shared(self, key: Hashable, load: Callable[[], T]) -> T:
        """The object stored under ``key``, made by ``load()`` on first use, once.

        ``key`` is a tuple whose first item names the kind (``("whisper-torch", ...)``), so
        that :meth:`clear` can forget one kind. A failed load stores nothing (the next
        caller tries again) and raises to the caller that ran it.
        """
        with self._lock:
            if key in self._objects:
                return self._objects[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._objects:
                    return self._objects[key]
                generation = self._generation
            value = load()
            with self._lock:
                if generation == self._generation:  # not cleared while loading
                    self._objects[key] = value
                    self._loading.pop(key, None)
            return value

    def keys(self, kind: str | None = None) -> list[Hashable]:
        """Keys of the objects held (of one ``kind``: the first item of tuple keys)."""
        with self._lock:
            return [key for key in self._objects if kind is None or _kind(key) == kind]

    def clear(self, kind: str | None = None) -> None:
        """Forget the objects held, or those of one ``kind`` (tests, or to free memory).

        Callers that already hold an object keep it; the next :meth:`shared` call loads
        anew.
        """
        with self._lock:
            if kind is None:
                self._objects.clear()
            else:
                for key in [key for key in self._objects if _kind(key) == kind]:
                    del self._objects[key]
            self._generation += 1

    # ------------------------------------------------------------------ torch

    @contextlib.contextmanager
    def torch_threads(self, threads: int | None) -> Iterator[None]:
        """Run the block with ``threads`` PyTorch intra-op threads (None: leave as is).

        See the module docstring for how concurrent and nested sections behave.
        """
        if threads is None:
            yield
            return
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ParameterError(f"threads must be a positive integer or None, got {threads!r}.")
        depth = getattr(self._local, "depth", 0)
        if depth:  # nested in this thread: the outer section's count holds
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
            return
        import torch

        with self._threads:
            while self._threads_users and self._threads_value != threads:
                self._threads.wait()
            if not self._threads_users:
                self._threads_previous = torch.get_num_threads()
                self._threads_value = threads
            if torch.get_num_threads() != threads:  # this thread's (OpenMP) count too
                torch.set_num_threads(threads)
            self._threads_users += 1
        self._local.depth = 1
        try:
            yield
        finally:
            self._local.depth = 0
            with self._threads:
                self._threads_users -= 1
                if not self._threads_users:
                    previous = self._threads_previous
                    if previous is not None and torch.get_num_threads() != previous:
                        torch.set_num_threads(previous)
                    self._threads_value = self._threads_previous = None
                    self._threads.notify_all()

    @contextlib.contextmanager
    def torch_switches(self) -> Iterator[None]:
        """Hold the lock for code that changes a process-wide torch switch and restores it."""
        with self._switches:
            yield


def _kind(key: Hashable) -> Hashable:
    return key[0] if isinstance(key, tuple) and key else key


_RUNTIME = Runtime()


def runtime() -> Runtime:
    """The process's :class:`Runtime`."""
    return _RUNTIME
