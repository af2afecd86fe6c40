"""Progress reporting as a hook: one callable that every long-running step calls.

Long jobs (feature extraction, augmentation, training, evaluation folds, batches) report
what they do by calling ``hook(step, artifact, total=..., completed=...)``, the shape of
pyannote.audio's pipeline hooks. The caller chooses what that means: :func:`silent` does
nothing (the default everywhere), :class:`TqdmProgress` draws one bar per step on
standard error, the CLI plugs its own rich display, an HTTP server or a Dask client can
count or log. No signature threads a ``progress: bool`` through.

Contract for callers of a hook:

* ``step`` names what is being done, for a person ("stats features",
  "whisper features (speed 0.9x)", "fitting logreg", "fold 2/5"); distinct steps have
  distinct names.
* ``total`` (when known) and ``completed`` count units of that step; a step is reported
  once with ``completed=0`` before work starts and finishes when ``completed == total``.
  A step without a known total is reported once with ``total=None`` when it starts and
  once with ``completed=1, total=1`` when it ends.
* ``artifact`` is an optional object the step produced (a file name, a fold report).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol


class ProgressHook(Protocol):
    """What long-running functions call to report progress (see the module docstring)."""

    def __call__(
        self,
        step: str,
        artifact: Any = None,
        *,
        total: int | None = None,
        completed: int | None = None,
    ) -> None: ...


def silent(
    step: str, artifact: Any = None, *, total: int | None = None, completed: int | None = None
) -> None:
    """A hook that reports nothing (the default)."""


def resolve(hook: ProgressHook | None) -> ProgressHook:
    """``hook``, or :func:`silent` for None."""
    return silent if hook is None else hook


class TqdmProgress:
    """One tqdm bar per step on standard error; closes each bar when its step completes."""

    def __init__(self, *, unit: str = "file", leave: bool = True) -> None:
        self.unit = unit
        self.leave = leave
        self._bars: dict[str, Any] = {}

    def __call__(
        self,
        step: str,
        artifact: Any = None,
        *,
        total: int | None = None,
        completed: int | None = None,
    ) -> None:
        from tqdm import tqdm

        bar = self._bars.get(step)
        if bar is None:
            bar = tqdm(total=total, desc=step, unit=self.unit, leave=self.leave, file=sys.stderr)
            self._bars[step] = bar
        if completed is not None:
            bar.n = completed
            bar.refresh()
        if total is not None and completed is not None and completed >= total:
            bar.close()
            del self._bars[step]

    def close(self) -> None:
        """Close every bar still open (after an error, say)."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


class TimingHook:
    """Records how long each step took, in seconds (``durations``), e.g. for benchmarks."""

    def __init__(self) -> None:
        self.durations: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def __call__(
        self,
        step: str,
        artifact: Any = None,
        *,
        total: int | None = None,
        completed: int | None = None,
    ) -> None:
        now = time.perf_counter()
        self._started.setdefault(step, now)
        if total is not None and completed is not None and completed >= total:
            self.durations[step] = now - self._started.pop(step)


class StepCounter:
    """Counts units of one step and reports them to a hook: the helper loops use.

    >>> count = StepCounter(hook, "stats features", total=len(paths))
    >>> for path in paths:
    ...     ...
    ...     count.advance()
    """

    def __init__(self, hook: ProgressHook | None, step: str, *, total: int | None) -> None:
        self.hook = resolve(hook)
        self.step = step
        self.total = total
        self.completed = 0
        self.hook(step, total=total, completed=0)

    def advance(self, n: int = 1, artifact: Any = None) -> None:
        self.completed += n
        self.hook(self.step, artifact, total=self.total, completed=self.completed)

    def finish(self, artifact: Any = None) -> None:
        """Mark the step done (for steps without a known total)."""
        total = self.total if self.total is not None else max(self.completed, 1)
        self.completed = total
        self.hook(self.step, artifact, total=total, completed=total)
