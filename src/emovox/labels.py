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

**Custom labels.** A user's own corpus (``folder`` or ``manifest``) may name classes of
its own ("frustrated", "aroused", "Ärger") when loaded with ``labels="custom"``
(``emovox train --labels custom``). Such names are taken as written, after
:func:`clean_custom_label` (Unicode NFC, surrounding and repeated white space removed),
and go through no synonym table and no policy; :func:`check_custom_labels` refuses names
that the rest of emovox could not tell apart or use (two names differing only in case,
since ``--classes`` ignores case; a comma, which separates ``--classes``; a name clashing
with a result column).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
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

LabelMode = Literal["emotions", "custom"]
LABEL_MODES: tuple[str, ...] = ("emotions", "custom")
"""``emotions``: labels are emotion names read through a synonym table (``Angry`` ->
``anger``), anything else is an error; ``custom``: any names, taken as written."""

RESERVED_LABELS: tuple[str, ...] = ("speech", "channel")
"""Names a class cannot have: they are columns beside the classes in timeline summaries."""

CUSTOM_HINT = (
    "For classes of your own (not the seven emotions), train with `--labels custom` "
    "(Python: labels='custom')."
)
"""Appended to the error for an unknown emotion name."""


def check_label_mode(labels: str) -> LabelMode:
    """``labels`` if it is one of :data:`LABEL_MODES`, else :class:`ParameterError`."""
    if labels not in LABEL_MODES:
        raise ParameterError(
            f"Unknown label mode {labels!r}; choose one of {', '.join(LABEL_MODES)}."
        )
    return labels  # type: ignore[return-value]


def clean_custom_label(name: object) -> str:
    """A user's class name as emovox keeps it: NFC, white space trimmed and collapsed.

    Case and accents are kept (``"Very calm"`` stays so); :class:`ParameterError` for an
    empty name, a comma (it separates ``--classes``), a control character or a reserved
    name (:data:`RESERVED_LABELS`).
    """
    text = unicodedata.normalize("NFC", str(name))
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ParameterError(f"A class name cannot be empty or blank (got {str(name)!r}).")
    if "," in cleaned:
        raise ParameterError(
            f"The class name {cleaned!r} holds a comma, which separates class names in "
            "--classes; rename it."
        )
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise ParameterError(f"The class name {cleaned!r} holds a control character.")
    if cleaned.casefold() in RESERVED_LABELS:
        raise ParameterError(
            f"A class cannot be called {cleaned!r} ({' and '.join(RESERVED_LABELS)} are "
            "columns of timeline summaries); rename it."
        )
    return cleaned


def check_custom_labels(labels: Iterable[str]) -> list[str]:
    """The distinct class names, in :func:`class_order`; :class:`ParameterError` when two
    differ only in case (``Calm`` and ``calm``: ``--classes`` could not tell them apart)."""
    distinct = sorted(set(labels))
    by_folded: dict[str, list[str]] = {}
    for name in distinct:
        by_folded.setdefault(name.casefold(), []).append(name)
    clashes = [names for names in by_folded.values() if len(names) > 1]
    if clashes:
        shown = "; ".join(" and ".join(repr(n) for n in names) for names in clashes)
        raise ParameterError(
            f"Class names must differ in more than case: {shown}. Rename or merge them."
        )
    return class_order(distinct)


def apply_policy(table: pd.DataFrame, policy: Policy | None = "drop") -> pd.DataFrame:
    """Apply ``policy`` to the rows of a corpus table whose ``label`` is an extra label.

    The table's ``label`` column holds names from :data:`ALL_LABELS`; the result's holds
    :data:`EMOTIONS` (``drop``, ``merge``) or :data:`ALL_LABELS` (``keep``). The original
    name is kept in ``original_label`` when the table has no such column yet.
    ``policy=None`` is for custom labels: any names, left as they are.
    """
    if policy is None:
        table = table.copy()
        if "original_label" not in table.columns:
            table["original_label"] = table["label"]
        return table.reset_index(drop=True)
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


def class_order(labels: Iterable[str]) -> list[str]:
    """The order of a model's classes: :func:`label_order` when every label is an emovox
    label, else alphabetical ignoring case (a user's own names, emotion words among them,
    get no special rank)."""
    names = {str(label) for label in labels}
    if names <= set(ALL_LABELS):
        return label_order(names)
    return sorted(names, key=lambda name: (name.casefold(), name))


def label_order(labels: Iterable[str]) -> list[str]:
    """Sort labels in the canonical order: :data:`EMOTIONS`, then extras, then any other
    names alphabetically (ignoring case, then by exact spelling)."""
    rank = {name: i for i, name in enumerate(ALL_LABELS)}
    return sorted(
        {str(label) for label in labels},
        key=lambda name: (rank.get(name, len(rank)), name.casefold(), name),
    )
