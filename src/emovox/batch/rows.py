"""The one row shape of a batch: :func:`emovox.results.results_frame` plus the model's id.

Every file of a batch gives exactly one row, whether it was predicted or failed:

==============  ========  ==============================================================
column          type      holds
==============  ========  ==============================================================
``source``      string    the file's absolute path (the key a rerun skips by)
``status``      string    ``ok`` or ``error``
``error``       string    why the file failed (empty when ok)
``label``       string    the emotion (empty when failed)
``confidence``  float     the probability of ``label``
``duration``    float     seconds of audio read
``speech``      bool      whether voice activity detection found speech (empty: failed)
``adapted``     float     utterances of the speaker the answer was adapted to (0: none)
``warnings``    string    what made the answer doubtful, ``; ``-separated
``p_<class>``   float     the probability of each class (of ``--classes`` when given)
``model``       string    :attr:`emovox.Recognizer.model_id` (``NAME@HASH``)
==============  ========  ==============================================================

The output writers (:mod:`emovox.batch.writer`) check an existing output against these
columns and this model id before adding to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from emovox.results import Result, results_frame

if TYPE_CHECKING:
    import pandas as pd

KEY = "source"
"""The column that names a row's file: what a rerun skips by."""

MODEL = "model"
"""The column that names the model that made a row."""

STATUSES = ("ok", "error")

TEXT = ("source", "status", "error", "label", "warnings", MODEL)
"""Columns of text; every other column but ``speech`` is a float."""


def columns(labels: Sequence[str]) -> list[str]:
    """The columns of a batch row for a model answering with ``labels``."""
    return [
        "source", "status", "error", "label", "confidence", "duration", "speech", "adapted",
        "warnings",
        *(f"p_{label}" for label in labels), MODEL,
    ]  # fmt: skip


def frame(results: Iterable[Result], *, labels: Sequence[str], model_id: str) -> pd.DataFrame:
    """The rows of ``results`` (one each, in order) with fixed column types, so that batches
    of only failures and batches of only predictions write the same schema."""
    import pandas as pd

    rows = results_frame(results, labels=list(labels))
    rows[MODEL] = model_id
    rows = rows[columns(labels)]
    for column in rows.columns:
        if column == "speech":
            rows[column] = rows[column].astype("boolean")
        elif column in TEXT:
            rows[column] = rows[column].astype(object).where(rows[column].notna(), None)
        else:
            rows[column] = pd.to_numeric(rows[column]).astype("float64")
    return rows
