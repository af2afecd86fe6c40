"""Utterances -> analysis windows -> segments of one emotion: small pure functions.

A timeline predicts each stretch of speech (an utterance from
:class:`~emovox.segmentation.online.UtteranceSegmenter`) in windows:

- :func:`window_bounds`: an utterance is cut into the number of equal windows whose length
  is closest to ``window`` (``n = round((duration - window) / hop) + 1``, at least 1),
  evenly spaced from its start to its end and keeping the ratio ``window / hop``. So they
  tile the utterance exactly, leave no short tail, and last between 0.75 and 1.5 times
  ``window`` (an utterance shorter than that is one window, as a clip would be predicted).
  With ``hop == window`` (the default) they do not overlap and every second of speech is
  encoded once. Utterances shorter than ``min_window`` get no window.
- :func:`merge_runs`: consecutive windows of one label, less than ``max_gap`` seconds apart
  (overlapping and touching windows always qualify), become one segment.
- :func:`partition`: overlapping windows split at the middle of their overlap, so that
  seconds of speech can be counted once per window (shares of speech time, plots).

Times here are sample counts or seconds, never audio: the timeline engine
(:mod:`emovox.timeline`) cuts the samples and calls the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from emovox.errors import ParameterError

DEFAULT_WINDOW = 3.0
"""Seconds per analysis window (windows last 0.75-1.5 times this): about the length of the
clips the default model learnt from (RAVDESS 2.9-5.3 s with their silences, 2-3 s of
speech; TESS about 2 s, TurEV-DB about 1 s, EmoDB 1.4-9 s). On the development split
(RAVDESS actors 1-10, ``benchmarks/timeline_accuracy.py --split dev --sweep``), per-window
UAR with clean gaps / noisy gaps / continuous speech: 2 s 0.928 / 0.882 / 0.807, 3 s
0.964 / 0.925 / 0.769, 4 s 0.964 / 0.925 / 0.652, 6 s 0.964 / 0.925 / 0.606; windows
overlapping by half (``hop = window / 2``) were never better and took up to 65 % more
time. Shorter windows follow fast changes better (in continuous speech whose emotion
changes every 2 s, the timeline's answer per clip: 0.796 with 2 s windows, 0.643 with
3 s): pass ``window=2`` for that."""

MIN_WINDOW = 0.5
"""Utterances shorter than this (seconds) get no window: too short to carry an emotion."""

MERGE_GAP = 1.0
"""Windows of one emotion less than this many seconds apart merge into one segment: a
breath or a short pause does not end an emotion."""


def check_windows(
    window: float, hop: float | None = None, min_window: float = MIN_WINDOW
) -> tuple[float, float, float]:
    """``(window, hop, min_window)`` as floats; ``hop`` None means ``window``.

    :class:`ParameterError` unless ``0 < hop <= window`` and ``0 <= min_window <= window``.
    """

    def seconds(name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ParameterError(f"{name} must be a number of seconds, got {value!r}.")
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise ParameterError(f"{name} must be a finite number of seconds >= 0, got {value}.")
        return number

    w = seconds("window", window)
    h = w if hop is None else seconds("hop", hop)
    m = seconds("min_window", min_window)
    if w < 0.1:
        raise ParameterError(f"window must be at least 0.1 s, got {w:g} s.")
    if not 0 < h <= w:
        raise ParameterError(
            f"hop must be above 0 and at most the window ({w:g} s), got {h:g} s: windows "
            "further apart than their length would leave speech unheard."
        )
    if m > w:
        raise ParameterError(f"min_window ({m:g} s) must not exceed the window ({w:g} s).")
    return w, h, m


def window_bounds(
    n_samples: int,
    *,
    window: float = DEFAULT_WINDOW,
    hop: float | None = None,
    min_window: float = MIN_WINDOW,
    sample_rate: int = 16_000,
) -> list[tuple[int, int]]:
    """The windows of an utterance of ``n_samples`` samples: ``[(first, stop), ...]`` sample
    offsets into it, in order (see the module docstring for the rule)."""
    w, h, m = check_windows(window, hop, min_window)
    if n_samples <= 0 or n_samples < m * sample_rate:
        return []
    duration = n_samples / sample_rate
    count = max(1, math.floor((duration - w) / h + 0.5) + 1)
    if count == 1:
        return [(0, n_samples)]
    # Windows of length L and spacing s with L / s = w / h and (count - 1) * s + L = duration.
    spacing = n_samples / ((count - 1) + w / h)
    length = spacing * w / h
    bounds = [(round(i * spacing), round(i * spacing + length)) for i in range(count)]
    bounds[-1] = (bounds[-1][0], n_samples)  # (count - 1) * spacing + length == n_samples
    return bounds


def merge_runs(
    starts: Sequence[float] | np.ndarray,
    ends: Sequence[float] | np.ndarray,
    labels: Sequence[str],
    *,
    max_gap: float = MERGE_GAP,
) -> list[tuple[int, int]]:
    """Runs ``[(i, j), ...]`` of consecutive windows ``i .. j-1`` (in the order given,
    which must be by start) sharing one label, each less than ``max_gap`` seconds after
    the previous one ends. Every window is in exactly one run."""
    if not (math.isfinite(max_gap) and max_gap >= 0):
        raise ParameterError(f"max_gap must be a finite number of seconds >= 0, got {max_gap}.")
    if not len(starts) == len(ends) == len(labels):
        raise ParameterError("starts, ends and labels must have one value per window.")
    runs: list[tuple[int, int]] = []
    first = 0
    for i in range(1, len(labels)):
        gap = starts[i] - ends[i - 1]
        if labels[i] != labels[i - 1] or not (gap <= 0 or gap < max_gap):
            runs.append((first, i))
            first = i
    if len(labels):
        runs.append((first, len(labels)))
    return runs


def partition(
    starts: Sequence[float] | np.ndarray, ends: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Windows in order of start with overlaps removed: where a window overlaps the next,
    both end / start at the middle of the overlap. Returns new ``(starts, ends)``."""
    a = np.asarray(starts, dtype=np.float64).copy()
    b = np.asarray(ends, dtype=np.float64).copy()
    if a.shape != b.shape:
        raise ParameterError("starts and ends must have one value per window.")
    overlap = b[:-1] > a[1:]
    middle = (b[:-1] + a[1:]) / 2
    b[:-1] = np.where(overlap, middle, b[:-1])
    a[1:] = np.where(overlap, middle, a[1:])
    return a, b
