"""What the live mode reports: one :class:`UtteranceEvent` per utterance, a :class:`ListenSummary`.

Every utterance the segmenter finds gives exactly one event, in the order found:

- ``ok``: predicted; ``prediction`` is the :class:`~emovox.results.Prediction` that
  ``Recognizer.predict_signal`` gives for the utterance's audio;
- ``dropped``: never predicted, because newer utterances pushed it out of the bounded queue
  of work (the machine is slower than the speech) or the listener was stopped without
  finishing its work;
- ``error``: the model refused the audio (an :class:`~emovox.errors.EmovoxError`).

Times: ``start`` and ``end`` are seconds from the first sample the device delivered
(the segmenter's padding of 30 ms included); ``latency`` is the time from the capture of the
utterance's last sample (``end``) to the event being handed to the caller, so it includes
waiting for the silence that ends an utterance, resampling, the voice activity detector,
the queue and the model. An ``ok`` event is ``late`` when its latency passed the listener's
``late_after``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from emovox.results import Prediction

Status = Literal["ok", "dropped", "error"]


@dataclass(frozen=True)
class UtteranceEvent:
    """One utterance heard: where it was, and what became of it (see the module docstring)."""

    index: int
    """1 for the first utterance found, then 2, 3, ..."""
    start: float
    end: float
    status: Status
    prediction: Prediction | None = None
    error: str | None = None
    """Why it was dropped (``dropped``) or refused (``error``)."""
    latency: float | None = None
    """Seconds from the capture of its last sample to its delivery to the caller."""
    late: bool = False
    compute: float | None = None
    """Seconds the model took (``ok`` only)."""
    ended_at: float = field(default=0.0, repr=False)
    """Clock time (``time.monotonic``) at which the sample at ``end`` was captured."""

    @property
    def label(self) -> str | None:
        return None if self.prediction is None else self.prediction.label

    @property
    def confidence(self) -> float | None:
        return None if self.prediction is None else self.prediction.confidence

    @property
    def probabilities(self) -> dict[str, float] | None:
        return None if self.prediction is None else dict(self.prediction.probabilities)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-able form: one line of ``emovox listen --json``."""
        data: dict[str, Any] = {
            "status": self.status,
            "index": self.index,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
        }
        if self.prediction is not None:
            data.update(
                label=self.prediction.label,
                confidence=self.prediction.confidence,
                probabilities=dict(self.prediction.probabilities),
                adapted=self.prediction.adapted,
            )
        if self.error is not None:
            data["error"] = self.error
        data["latency"] = None if self.latency is None else round(self.latency, 3)
        data["late"] = self.late
        if self.compute is not None:
            data["compute"] = round(self.compute, 3)
        return data


@dataclass(frozen=True)
class ListenSummary:
    """Counts of a listening session so far (or at its end)."""

    heard: float
    """Seconds of audio the device delivered (lost seconds included)."""
    utterances: int
    """Utterances found; each is also ``predicted``, ``dropped`` or ``failed`` (or pending)."""
    predicted: int
    dropped: int
    failed: int
    late: int
    """Predicted utterances delivered more than ``late_after`` seconds after they ended."""
    overflows: int
    """Audio blocks refused because analysis was ``buffer_seconds`` behind the device."""
    lost: float
    """Seconds of audio in those blocks (not analysed; times stay true around them)."""
    input_overflows: int
    """Blocks in which the device itself reported lost input (PortAudio's input overflow)."""
    undelivered: int = 0
    """Events discarded because the caller read none of the last 1,000."""
    latencies: tuple[float, ...] = field(default=(), repr=False)
    """Latency of each ``ok`` event delivered (the most recent 10,000)."""
    ended: str | None = None
    """Why listening ended: ``"seconds"``, ``"stopped"``, ``"stream ended"``; None: still on."""

    @property
    def latency_median(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None

    @property
    def latency_p90(self) -> float | None:
        """90th percentile (linear interpolation, as numpy's default)."""
        if not self.latencies:
            return None
        return float(np.percentile(self.latencies, 90))

    def to_dict(self) -> dict[str, Any]:
        return {
            "heard": round(self.heard, 3),
            "utterances": self.utterances,
            "predicted": self.predicted,
            "dropped": self.dropped,
            "failed": self.failed,
            "late": self.late,
            "overflows": self.overflows,
            "lost": round(self.lost, 3),
            "input_overflows": self.input_overflows,
            "undelivered": self.undelivered,
            "latency_median": _round(self.latency_median),
            "latency_p90": _round(self.latency_p90),
            "ended": self.ended,
        }

    def describe(self) -> str:
        """One sentence for a person."""
        parts = [
            f"{self.heard:.1f} s heard",
            f"{self.utterances} utterance(s)",
            f"{self.predicted} predicted",
        ]
        if self.dropped:
            parts.append(f"{self.dropped} dropped (the model could not keep up)")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.late:
            parts.append(f"{self.late} late")
        if self.overflows or self.lost:
            parts.append(f"{self.lost:.2f} s of audio lost in {self.overflows} overflow(s)")
        if self.input_overflows:
            parts.append(f"{self.input_overflows} device input overflow(s)")
        if self.undelivered:
            parts.append(f"{self.undelivered} event(s) never read")
        if self.latencies:
            parts.append(
                f"latency median {self.latency_median:.2f} s, 90th percentile "
                f"{self.latency_p90:.2f} s"
            )
        return ", ".join(parts) + "."


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
