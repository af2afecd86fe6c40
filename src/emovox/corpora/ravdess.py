"""RAVDESS: the Ryerson Audio-Visual Database of Emotional Speech and Song.

Files are named ``MM-VV-EE-II-SS-RR-AA`` (e.g. ``03-01-05-01-02-01-12.wav``): modality
(01 audio-video, 02 video-only, 03 audio-only; all accepted), vocal channel (01 speech,
02 song), emotion, intensity (01 normal, 02 strong), statement (01 "Kids are talking by
the door", 02 "Dogs are sitting by the door"), repetition (01, 02) and actor (01-24; odd
actors are male, even ones female). Neutral has only the normal intensity, so it has half
as many files as each other emotion; songs have no disgust or surprise.

Known quirk: ``Actor_07/03-01-03-01-02-01-07`` and ``03-01-03-01-02-02-07`` are the
same recording in the original distribution; both are loaded, so a random (not
speaker-independent) split can put one copy in training and the other in testing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from emovox.corpora.files import load_named_files
from emovox.labels import Policy

CORPUS = "ravdess"
EXPECTED = (
    "names like '03-01-05-01-02-01-12.wav' "
    "(modality-channel-emotion-intensity-statement-repetition-actor)"
)

EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
"""RAVDESS emotion code -> emovox label."""

ORIGINAL_NAMES: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
"""RAVDESS emotion code -> the corpus' own emotion name (kept as ``original_label``)."""

MODALITIES = {"01": "audio-video", "02": "video", "03": "audio"}
VOCAL_CHANNELS = {"01": "speech", "02": "song"}
INTENSITIES = {"01": "normal", "02": "strong"}

_NAME = re.compile(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)")


def parse_ravdess_name(path: Path) -> dict[str, Any] | None:
    """The fields encoded in a RAVDESS file name, or None if it is not one."""
    match = _NAME.fullmatch(path.stem)
    if match is None:
        return None
    modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
    if (
        modality not in MODALITIES
        or channel not in VOCAL_CHANNELS
        or emotion not in EMOTIONS
        or intensity not in INTENSITIES
        or statement not in ("01", "02")
        or repetition not in ("01", "02")
        or actor == "00"
    ):
        return None
    return {
        "label": EMOTIONS[emotion],
        "original_label": ORIGINAL_NAMES[emotion],
        "speaker": f"{CORPUS}:{actor}",
        "gender": "m" if int(actor) % 2 else "f",
        "modality": MODALITIES[modality],
        "vocal_channel": VOCAL_CHANNELS[channel],
        "intensity": INTENSITIES[intensity],
        "statement": int(statement),
        "repetition": int(repetition),
    }


def load_ravdess(
    root: str | Path, *, policy: Policy = "drop", include_song: bool = False
) -> pd.DataFrame:
    """Load RAVDESS from ``root`` (e.g. the folder holding ``Actor_01`` ... ``Actor_24``).

    Args:
        root: searched recursively for ``.wav``/``.flac`` files.
        policy: what to do with ``calm`` (see :func:`emovox.labels.apply_policy`).
        include_song: also load the song files (vocal channel 02); speech only by default.

    Extra columns: ``modality``, ``vocal_channel`` (speech/song), ``intensity``
    (normal/strong), ``statement`` (1, 2), ``repetition`` (1, 2).
    """
    return load_named_files(
        root,
        corpus=CORPUS,
        expected=EXPECTED,
        parse=parse_ravdess_name,
        policy=policy,
        keep=None if include_song else (lambda fields: fields["vocal_channel"] == "speech"),
    )
