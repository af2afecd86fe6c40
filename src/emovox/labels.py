"""The unified label set and the policy for emotions outside it.

emovox's core set is the seed system's seven emotions (:data:`EMOTIONS`). Corpora name
their emotions differently and some have emotions outside the set; each corpus module
maps its own names to the names here, and :func:`apply_policy` decides what happens to
the three that fall outside the seven:

============================  ===============  ===================
original                      ``"merge"`` into  ``"keep"`` as class
============================  ===============  ===================
RAVDESS calm                  neutral          ``calm``
EmoDB boredom                 neutral          ``boredom``
TESS ps (pleasant surprise)   surprise         ``pleasant_surprise``
============================  ===============  ===================

``"drop"`` removes those rows. ``"drop"`` is the default, so that a model's classes are
the seven emotions unless a user asks for more.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from emovox.errors import EmovoxError, ParameterError

EMOTIONS: tuple[str, ...] = ("anger", "fear", "disgust", "happy", "sad", "surprise", "neutral")
"""The seed system's seven emotions, in its order."""

EXTRA_LABELS: dict[str, str] = {
    "calm": "neutral",
    "boredom": "neutral",
    "pleasant_surprise": "surprise",
}
"""Emotions found in corpora outside :data:`EMOTIONS`, with the emotion each merges into."""

ALL_LABELS: tuple[str, ...] = EMOTIONS + tuple(EXTRA_LABELS)

Policy = Literal["drop", "merge", "keep"]
POLICIES: tuple[str, ...] = ("drop", "merge", "keep")


def apply_policy(table: pd.DataFrame, policy: Policy = "drop") -> pd.DataFrame:
    """Apply ``policy`` to the rows of a corpus table whose ``label`` is an extra label.

    The table's ``label`` column holds names from :data:`ALL_LABELS`; the result's holds
    :data:`EMOTIONS` (``drop``, ``merge``) or :data:`ALL_LABELS` (``keep``). The original
    name is kept in ``original_label`` when the table has no such column yet.
    """
    if policy not in POLICIES:
        raise ParameterError(
            f"Unknown label policy '{policy}'; choose one of {', '.join(POLICIES)}."
        )
    unknown = sorted(set(table["label"]) - set(ALL_LABELS))
    if unknown:
        raise EmovoxError(f"Labels outside the known set: {unknown}.")
    table = table.copy()
    if "original_label" not in table.columns:
        table["original_label"] = table["label"]
    extra = table["label"].isin(list(EXTRA_LABELS))
    if policy == "drop":
        table = table.loc[~extra]
    elif policy == "merge":
        table.loc[extra, "label"] = table.loc[extra, "label"].map(EXTRA_LABELS)
    return table.reset_index(drop=True)


def label_order(labels: set[str] | list[str]) -> list[str]:
    """Sort labels in the canonical order: :data:`EMOTIONS`, then extras, then others."""
    rank = {name: i for i, name in enumerate(ALL_LABELS)}
    return sorted(set(labels), key=lambda name: (rank.get(name, len(rank)), name))
