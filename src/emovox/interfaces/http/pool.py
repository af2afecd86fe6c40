"""A bounded pool for blocking model work: N threads and a fixed number of waiting slots.

A request takes a slot at once or not at all (:meth:`WorkPool.submit` returns None when
every worker is busy and the queue is full: the caller answers 503 with Retry-After
instead of piling requests up). A slot is given back when its work *finishes*, not when
the request that asked for it gives up waiting, so a timed-out request cannot let more
work in than the pool holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class WorkPool:
    """``workers`` threads running model work, at most ``workers + queue`` jobs admitted."""

    def __init__(self, *, workers: int, queue: int) -> None:
        self.workers = workers
        self.capacity = workers + queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emovox-http")
        self._lock = threading.Lock()
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Jobs running or waiting now."""
        with self._lock:
            return self._admitted

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future | None:
        """Run ``fn(*args, **kwargs)`` on a worker, or return None at once if the pool is full."""
        with self._lock:
            if self._admitted >= self.capacity:
                return None
            self._admitted += 1
        try:
            future = self._executor.submit(fn, *args, **kwargs)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        return future

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
