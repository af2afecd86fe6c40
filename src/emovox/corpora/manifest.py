"""A corpus described by a CSV file: ``path,label[,speaker][,gender]``.

The manifest is the way to bring any corpus to emovox with speakers known (so that it
can be evaluated speaker-independently). ``path`` is relative to the CSV's folder unless
absolute, and may be any audio format the audio loader reads; ``label`` is an emotion
name read through :func:`emovox.corpora.naming.normalize_label` (``angry``, ``Anger``
...), or, with ``labels="custom"``, any class name, taken as written
(:func:`emovox.labels.clean_custom_label`); ``speaker`` is any id, stored as
``manifest:<id>`` (``manifest:unknown`` when absent or empty); ``gender`` is
f/m/female/male, or empty when unknown. Other columns are carried into the table
unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emovox.corpora.files import absolute, build_table
from emovox.corpora.naming import LABEL_SYNONYMS, try_normalize_label
from emovox.errors import CorpusError, ParameterError
from emovox.labels import (
    CUSTOM_HINT,
    LabelMode,
    Policy,
    check_custom_labels,
    check_label_mode,
    clean_custom_label,
)

CORPUS = "manifest"
EXPECTED = "a CSV file with the header path,label[,speaker][,gender]"
GENDERS = {"f": "f", "female": "f", "m": "m", "male": "m", "": None}
RESERVED = ("original_label", "corpus")
SHOWN = 5
"""How many offending rows an error message quotes."""


def _lines(rows: pd.Series) -> str:
    """Spreadsheet line numbers (header is line 1) of the first rows where ``rows`` holds."""
    lines = [str(i + 2) for i in rows[rows].index[:SHOWN]]
    more = f" and {int(rows.sum()) - SHOWN} more" if rows.sum() > SHOWN else ""
    return ", ".join(lines) + more


def read_manifest(csv_path: str | Path) -> pd.DataFrame:
    """The manifest's rows as strings, checked for the required columns and empty cells."""
    csv_path = absolute(csv_path)
    if not csv_path.is_file():
        what = "is a folder" if csv_path.is_dir() else "does not exist"
        raise CorpusError(f"The manifest '{csv_path}' {what}; expected {EXPECTED}.")
    try:
        rows = pd.read_csv(csv_path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CorpusError(f"Cannot read the manifest '{csv_path}' as CSV ({exc}).") from None
    rows.columns = [str(c).strip() for c in rows.columns]
    rows = rows.apply(lambda column: column.str.strip())
    missing = [c for c in ("path", "label") if c not in rows.columns]
    if missing:
        raise CorpusError(
            f"The manifest '{csv_path}' has no {' or '.join(missing)} column (its header is "
            f"{','.join(rows.columns)}); expected {EXPECTED}."
        )
    clash = [c for c in RESERVED if c in rows.columns]
    if clash:
        raise CorpusError(
            f"The manifest '{csv_path}' has the column(s) {', '.join(clash)}, which emovox "
            "fills itself; rename or remove them."
        )
    if rows.empty:
        raise CorpusError(f"The manifest '{csv_path}' lists no file.")
    for column in ("path", "label"):
        empty = rows[column] == ""
        if empty.any():
            raise CorpusError(
                f"The manifest '{csv_path}' has an empty {column} on line(s) {_lines(empty)}."
            )
    return rows


def _custom_labels(rows: pd.DataFrame, csv_path: Path) -> pd.Series:
    """The ``label`` column as custom class names; :class:`CorpusError` naming the lines
    of an unusable name."""
    cleaned: dict[str, str] = {}
    for name in rows["label"].unique():
        try:
            cleaned[name] = clean_custom_label(name)
        except ParameterError as exc:
            lines = _lines(rows["label"] == name)
            raise CorpusError(f"The manifest '{csv_path}', line(s) {lines}: {exc}") from None
    labels = rows["label"].map(cleaned)
    try:
        check_custom_labels(labels)
    except ParameterError as exc:
        raise CorpusError(f"The manifest '{csv_path}': {exc}") from None
    return labels


def load_manifest(
    root: str | Path, *, policy: Policy = "drop", labels: LabelMode = "emotions"
) -> pd.DataFrame:
    """Load the files listed in the manifest CSV ``root``.

    ``labels`` is ``"emotions"`` (the ``label`` column holds emotion names; ``policy``
    applies) or ``"custom"`` (any class names, taken as written; ``policy`` ignored).

    Raises:
        CorpusError: for a missing or malformed CSV, unknown labels (with
            ``labels="emotions"``) or unusable custom names, unknown genders, files
            listed twice, or listed files that do not exist (the first few are named).
    """
    mode = check_label_mode(labels)
    csv_path = absolute(root)
    rows = read_manifest(csv_path)
    folder = csv_path.parent

    paths = rows["path"].map(lambda p: str(absolute(folder / p)))
    if mode == "custom":
        classes = _custom_labels(rows, csv_path)
    else:
        classes = rows["label"].map(try_normalize_label)
    unknown = classes.isna()
    if unknown.any():
        names = sorted(set(rows.loc[unknown, "label"]))
        raise CorpusError(
            f"The manifest '{csv_path}' has unknown label(s) {', '.join(names)} (line(s) "
            f"{_lines(unknown)}); known names are: {', '.join(sorted(LABEL_SYNONYMS))}. "
            f"{CUSTOM_HINT}"
        )
    genders = (
        rows["gender"].str.lower() if "gender" in rows.columns else pd.Series("", index=rows.index)
    )
    bad_gender = ~genders.isin(list(GENDERS))
    if bad_gender.any():
        raise CorpusError(
            f"The manifest '{csv_path}' has unknown gender(s) "
            f"{', '.join(sorted(set(rows.loc[bad_gender, 'gender'])))} (line(s) "
            f"{_lines(bad_gender)}); use f, m, female, male, or leave it empty."
        )
    twice = paths.duplicated(keep=False)
    if twice.any():
        raise CorpusError(
            f"The manifest '{csv_path}' lists the same file more than once (line(s) "
            f"{_lines(twice)})."
        )
    absent = ~paths.map(lambda p: Path(p).is_file())
    if absent.any():
        shown = ", ".join(f"'{p}'" for p in paths[absent].iloc[:SHOWN])
        more = f" and {int(absent.sum()) - SHOWN} more" if absent.sum() > SHOWN else ""
        raise CorpusError(
            f"{int(absent.sum())} file(s) listed in the manifest '{csv_path}' do not exist: "
            f"{shown}{more}. Relative paths are read from the manifest's folder '{folder}'."
        )

    speakers = (
        rows["speaker"].replace("", "unknown")
        if "speaker" in rows.columns
        else pd.Series("unknown", index=rows.index)
    )
    extra = [c for c in rows.columns if c not in ("path", "label", "speaker", "gender")]
    records = [
        {
            "path": path,
            "label": label,
            "original_label": original,
            "speaker": f"{CORPUS}:{speaker}",
            "gender": GENDERS[gender],
            **{column: rows.at[i, column] for column in extra},
        }
        for i, path, label, original, speaker, gender in zip(
            rows.index, paths, classes, rows["label"], speakers, genders, strict=True
        )
    ]
    return build_table(
        records,
        corpus=CORPUS,
        root=csv_path,
        expected=EXPECTED,
        skipped=[],
        policy=None if mode == "custom" else policy,
    )
