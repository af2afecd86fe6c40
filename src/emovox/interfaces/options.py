"""Parsing of command-line option values: corpus specs, feature configs, model params."""

from __future__ import annotations

import json
import os
from pathlib import Path

from emovox.errors import ParameterError

FEATURE_PRESETS: dict[str, dict] = {
    "mfcc_image": {"name": "mfcc_image"},
    "stats": {"name": "stats"},
    "logmel": {"name": "logmel"},
    "egemaps": {"name": "egemaps"},
    "whisper": {"name": "whisper", "layers": "all"},
}


def data_dir(option: Path | None) -> Path:
    """The folder holding corpora: ``--data``, else $EMOVOX_DATA, else ./data."""
    if option is not None:
        return option
    return Path(os.environ.get("EMOVOX_DATA", "data"))


def parse_corpus_specs(specs: list[str], *, data: Path) -> list[tuple[str, Path]]:
    """``NAME=PATH`` or ``NAME`` (looked up as ``data/NAME``) -> ``[(name, path)]``.

    The shared copy names TurEV-DB's folder ``turev_db``; ``turev`` finds it too.
    """
    if not specs:
        raise ParameterError("Name at least one corpus, e.g. --corpus ravdess=/path/to/ravdess.")
    parsed = []
    for spec in specs:
        name, _, path = spec.partition("=")
        name = name.strip().lower()
        if path:
            parsed.append((name, Path(path).expanduser()))
            continue
        candidates = [data / name, data / f"{name}_db"]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise ParameterError(
                f"Corpus '{name}' not found under '{data}'. Give its folder: --corpus {name}=PATH."
            )
        parsed.append((name, found))
    return parsed


def parse_features(value: str) -> dict:
    """A preset name (``mfcc_image``, ``stats``, ``whisper`` ...) or a JSON object."""
    value = value.strip()
    if value.startswith("{"):
        try:
            config = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"--features is not valid JSON: {exc}.") from None
        if "name" not in config:
            raise ParameterError('--features JSON needs a "name" key.')
        return config
    if value not in FEATURE_PRESETS:
        raise ParameterError(
            f"Unknown features '{value}'; choose one of {', '.join(FEATURE_PRESETS)} or give JSON."
        )
    return dict(FEATURE_PRESETS[value])


def parse_params(items: list[str]) -> dict:
    """``key=value`` pairs; values are read as JSON where they parse (numbers, lists, true)."""
    params = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ParameterError(f"Model parameter '{item}' is not of the form key=value.")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params
