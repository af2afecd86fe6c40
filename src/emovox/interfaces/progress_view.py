"""The CLI's progress display: a :mod:`emovox.progress` hook drawn with rich on stderr.

Each step is one line: a bar, ``done/total``, the rate in units per second, the time
elapsed and the time left. The rate and the time left are rich's estimates from the
updates of the last 30 seconds; the first update of a step is their baseline, so a resumed
batch that starts at ``completed=done`` is timed by this run's work only.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Units per second (per minute when slower than one a second), blank until known."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("", style="progress.data.speed")
        shown = f"{speed:.1f}/s" if speed >= 1 else f"{speed * 60:.1f}/min"
        return Text(shown, style="progress.data.speed")


class RichProgress:
    """A progress hook: one line per step (a bar when the total is known, else a spinner).

    Use as a context manager; ``enabled=False`` makes it a silent hook (``--json`` runs).
    """

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not enabled,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def __call__(
        self,
        step: str,
        artifact: Any = None,
        *,
        total: int | None = None,
        completed: int | None = None,
    ) -> None:
        task = self._tasks.get(step)
        if task is None:
            task = self._progress.add_task(step, total=total)
            self._tasks[step] = task
        self._progress.update(task, total=total, completed=completed or 0)
