"""The two things any way into emovox returns: a :class:`Prediction` or a :class:`Failure`.

A clip, a file, a list of files, and later a timeline window, an HTTP request or a Dask
task all answer with these two types, so the interfaces never translate between shapes.
Both turn into the same flat JSON (``to_dict``; ``status`` is ``"ok"`` or ``"error"``),
and :func:`results_frame` makes one table of any list of them (one row each, the same
columns whatever failed), as audinterface returns one indexed object for every input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from emovox.errors import EmovoxError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Prediction:
    """The emotion of one recording (or part of one), with the probability of every class.

    ``speech`` is False when a voice activity detector found no speech in the audio (the
    emotion is then a guess about a sound, not a voice; ``warnings`` says so), True when it
    found speech, None when it was not checked. ``warnings`` lists anything the input made
    doubtful (rescaled samples, no speech), for a person. ``adapted`` is the number of the
    speaker's utterances the answer was adapted to (:meth:`emovox.Recognizer.adapt`); 0
    means the unadapted head answered.
    """

    label: str
    confidence: float
    probabilities: dict[str, float]
    duration: float
    source: str | None = None
    speech: bool | None = None
    warnings: tuple[str, ...] = ()
    adapted: int = 0
    status: Literal["ok"] = field(default="ok", init=False)

    @property
    def head(self) -> str:
        """Which head answered: ``"adapted"`` or ``"unadapted"``."""
        return "adapted" if self.adapted else "unadapted"

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-able form: status, source, label, confidence, probabilities, ..."""
        return {
            "status": self.status,
            "source": self.source,
            "label": self.label,
            "confidence": self.confidence,
            "probabilities": dict(self.probabilities),
            "duration": self.duration,
            "speech": self.speech,
            "head": self.head,
            "adapted": self.adapted,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Failure:
    """An input that could not be processed, and why: ``error`` is a message for a person,
    ``kind`` the emovox error type (``AudioError``, ``ParameterError``, ...)."""

    source: str | None
    error: str
    kind: str = "EmovoxError"
    status: Literal["error"] = field(default="error", init=False)

    @classmethod
    def from_error(cls, source: object, exc: EmovoxError) -> Failure:
        """The failure of ``source`` (a path or a description) that raised ``exc``."""
        return cls(
            source=None if source is None else str(source),
            error=str(exc),
            kind=type(exc).__name__,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "source": self.source,
            "error": self.error,
            "kind": self.kind,
        }


Result = Prediction | Failure
"""What one input gives: a prediction or a failure."""


def results_frame(results: Iterable[Result], *, labels: list[str] | None = None) -> pd.DataFrame:
    """One row per result: source, status, error, label, confidence, duration, speech,
    adapted, warnings and a ``p_<class>`` column per class (``labels``, else every class
    seen), NaN where failed."""
    import pandas as pd

    results = list(results)
    if labels is None:
        labels = []
        for r in results:
            if isinstance(r, Prediction):
                labels.extend(k for k in r.probabilities if k not in labels)
    rows = []
    for r in results:
        row: dict[str, Any] = {"source": r.source, "status": r.status}
        if isinstance(r, Prediction):
            row.update(
                error=None,
                label=r.label,
                confidence=r.confidence,
                duration=r.duration,
                speech=r.speech,
                adapted=r.adapted,
                warnings="; ".join(r.warnings),
            )
            row.update({f"p_{k}": r.probabilities.get(k) for k in labels})
        else:
            row.update(
                error=r.error, label=None, confidence=None, duration=None, speech=None, adapted=None
            )
            row["warnings"] = ""
            row.update({f"p_{k}": None for k in labels})
        rows.append(row)
    columns = ["source", "status", "error", "label", "confidence", "duration", "speech"]
    columns += ["adapted", "warnings", *[f"p_{k}" for k in labels]]
    return pd.DataFrame(rows, columns=columns)
