"""The row shape of a timeline batch (``emovox batch --timeline``): one row per segment.

:meth:`emovox.Recognizer.timeline` gives each recording a table of windows (or merged
segments) of speech; a batch stacks them with the file's ``source`` and a ``status``, so
that every input file has at least one row whatever happened to it:

==============  ========  ==============================================================
column          type      holds
==============  ========  ==============================================================
``source``      string    the file (:mod:`emovox.batch.sources` names it)
``status``      string    ``ok`` (a segment), ``no_speech`` (one row: the file was read,
                          no speech found) or ``error`` (one row: the file failed)
``error``       string    why the file failed (empty otherwise)
``start``       float     seconds from the start of the recording (empty unless ok)
``end``         float     seconds
``channel``     string    ``mix``, or ``ch1``, ``ch2``, ... with ``channels="each"``
``label``       string    the emotion of the segment
``confidence``  float     the probability of ``label``
``p_<class>``   float     the probability of each class (of ``--classes`` when given)
``duration``    float     seconds of audio read from the file (every row of the file)
``warnings``    string    what the timeline noted (a truncated file), ``; ``-separated
``model``       string    :attr:`emovox.Recognizer.model_id`
==============  ========  ==============================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from emovox.batch.rows import MODEL

if TYPE_CHECKING:
    import pandas as pd

STATUSES = ("ok", "no_speech", "error")

TEXT = ("source", "status", "error", "channel", "label", "warnings", MODEL)
"""Columns of text; every other column is a float."""


def columns(labels: Sequence[str]) -> list[str]:
    """The columns of a timeline batch for a model answering with ``labels``."""
    return [
        "source", "status", "error", "start", "end", "channel", "label", "confidence",
        *(f"p_{label}" for label in labels), "duration", "warnings", MODEL,
    ]  # fmt: skip


def file_rows(
    source: str, timeline: pd.DataFrame, *, labels: Sequence[str], model_id: str
) -> pd.DataFrame:
    """The rows of one file's timeline (one ``no_speech`` row when it has none)."""
    import pandas as pd

    warnings = "; ".join(str(w) for w in timeline.attrs.get("warnings", []))
    duration = float(timeline.attrs.get("duration", float("nan")))
    if timeline.empty:
        rows = pd.DataFrame([{"source": source, "status": "no_speech"}])
    else:
        rows = timeline.reset_index()
        rows.insert(0, "status", "ok")
        rows.insert(0, "source", source)
    rows["duration"] = duration
    rows["warnings"] = warnings
    rows[MODEL] = model_id
    return typed(rows, labels)


def failed_rows(source: str, error: str, *, labels: Sequence[str], model_id: str) -> pd.DataFrame:
    """The one row of a file that failed."""
    import pandas as pd

    row: dict[str, Any] = {"source": source, "status": "error", "error": error, MODEL: model_id}
    return typed(pd.DataFrame([row]), labels)


def typed(rows: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """``rows`` with exactly the columns of :func:`columns`, in order, with fixed types, so
    that parts of only failures and parts of only segments write the same schema."""
    import pandas as pd

    rows = rows.reindex(columns=columns(labels))
    for column in rows.columns:
        if column in TEXT:
            rows[column] = rows[column].astype(object).where(rows[column].notna(), None)
        else:
            rows[column] = pd.to_numeric(rows[column]).astype("float64")
    return rows.reset_index(drop=True)


def concat(frames: Sequence[pd.DataFrame], labels: Sequence[str]) -> pd.DataFrame:
    """Files' rows stacked in order, with the fixed types."""
    import pandas as pd

    if not frames:
        return typed(pd.DataFrame(), labels)
    return typed(pd.concat(frames, ignore_index=True), labels)


def arrow_schema(names: Sequence[str]) -> Any:
    """The pyarrow schema of timeline rows with the columns ``names``."""
    import pyarrow as pa

    return pa.schema([pa.field(c, pa.string() if c in TEXT else pa.float64()) for c in names])
