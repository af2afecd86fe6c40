"""Speech probabilities per frame -> speech regions in seconds: pure, separately testable steps.

The steps, applied in this order by :func:`binarize` (as silero-vad's ``get_speech_timestamps``
and pyannote's ``Binarize`` do, with pyannote's parameter names):

1. :func:`hysteresis`: a region opens where the probability rises above ``onset`` and closes
   where it falls below ``offset`` (``offset <= onset``), so a wobble around one threshold
   does not cut speech into pieces;
2. :func:`merge_close`: regions separated by less than ``min_duration_off`` become one;
3. :func:`drop_short`: regions shorter than ``min_duration_on`` are removed;
4. :func:`pad_regions`: each region is widened by ``pad`` on both sides, clipped to the
   signal, and regions that then touch are merged.

Short regions are dropped before padding, so ``min_duration_on`` is about the speech detected,
not about the padding added. No step here knows about the model: they take numbers and return
:class:`Region` lists, so timeline, live and batch modes can reuse them on any probability track.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from emovox.errors import ParameterError


class Region(NamedTuple):
    """One stretch of speech, ``start`` and ``end`` in seconds from the start of the signal."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, kw_only=True)
class VadParams:
    """How speech probabilities become regions (times in seconds).

    The defaults are silero-vad's own (threshold 0.5, negative threshold 0.35, 250 ms shortest
    speech, 100 ms shortest silence, 30 ms padding).
    """

    onset: float = 0.5
    """A region starts where the probability exceeds this."""
    offset: float = 0.35
    """A started region ends where the probability falls below this (at most ``onset``)."""
    min_duration_on: float = 0.25
    """Regions shorter than this (before padding) are dropped."""
    min_duration_off: float = 0.1
    """Gaps shorter than this between two regions are filled."""
    pad: float = 0.03
    """Seconds added on each side of every region (clipped to the signal)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.offset <= self.onset <= 1.0:
            raise ParameterError(
                f"VadParams needs 0 <= offset <= onset <= 1, got onset={self.onset} and "
                f"offset={self.offset}."
            )
        for name in ("min_duration_on", "min_duration_off", "pad"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ParameterError(f"VadParams.{name} must be a finite number >= 0, got {value}.")


def hysteresis(
    probabilities: Sequence[float] | np.ndarray,
    *,
    onset: float,
    offset: float,
    frame_duration: float,
) -> list[Region]:
    """Regions where ``probabilities`` (one per frame of ``frame_duration`` seconds) rose
    above ``onset`` and had not yet fallen below ``offset``."""
    if offset > onset:
        raise ParameterError(f"offset ({offset}) must not exceed onset ({onset}).")
    if frame_duration <= 0:
        raise ParameterError(f"frame_duration must be positive, got {frame_duration}.")
    probs = np.asarray(probabilities, dtype=np.float64).ravel()
    regions: list[Region] = []
    start: int | None = None
    for index, p in enumerate(probs):
        if start is None:
            if p > onset:
                start = index
        elif p < offset:
            regions.append(Region(start * frame_duration, index * frame_duration))
            start = None
    if start is not None:
        regions.append(Region(start * frame_duration, probs.size * frame_duration))
    return regions


def merge_close(regions: Iterable[Region], *, min_duration_off: float) -> list[Region]:
    """Join consecutive regions whose gap is shorter than ``min_duration_off``; regions are
    taken in order of start, and overlapping or touching ones are always joined."""
    merged: list[Region] = []
    for region in sorted(regions):
        gap = region.start - merged[-1].end if merged else np.inf
        if gap <= 0 or gap < min_duration_off:
            merged[-1] = Region(merged[-1].start, max(merged[-1].end, region.end))
        else:
            merged.append(Region(*region))
    return merged


def drop_short(regions: Iterable[Region], *, min_duration_on: float) -> list[Region]:
    """Keep the regions lasting at least ``min_duration_on`` seconds."""
    return [region for region in regions if region.duration >= min_duration_on]


def pad_regions(
    regions: Iterable[Region], *, pad: float, duration: float | None = None
) -> list[Region]:
    """Widen every region by ``pad`` seconds on each side, clip to ``[0, duration]`` (no upper
    clip when ``duration`` is None) and merge regions that then overlap or touch."""
    upper = np.inf if duration is None else duration
    widened = [
        Region(max(0.0, region.start - pad), min(upper, region.end + pad)) for region in regions
    ]
    return merge_close(widened, min_duration_off=0.0)


def binarize(
    probabilities: Sequence[float] | np.ndarray,
    params: VadParams,
    *,
    frame_duration: float,
    duration: float | None = None,
) -> list[Region]:
    """All four steps of the module docstring; ``duration`` (seconds) clips the last region
    to the signal, whose final frame may extend past its end."""
    regions = hysteresis(
        probabilities, onset=params.onset, offset=params.offset, frame_duration=frame_duration
    )
    if duration is not None:
        regions = [Region(r.start, min(r.end, duration)) for r in regions if r.start < duration]
    regions = merge_close(regions, min_duration_off=params.min_duration_off)
    regions = drop_short(regions, min_duration_on=params.min_duration_on)
    return pad_regions(regions, pad=params.pad, duration=duration)


def speech_duration(regions: Iterable[Region]) -> float:
    """Total seconds covered by ``regions`` (overlaps counted once)."""
    return float(sum(region.duration for region in merge_close(regions, min_duration_off=0.0)))
