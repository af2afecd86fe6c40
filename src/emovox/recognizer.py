"""The one core API: :class:`Recognizer` trains, saves, loads and predicts.

Every interface (CLI, HTTP, batch) is a thin layer over this class; none of them decodes
audio or computes features itself. A saved recognizer is a folder::

    emovox.json      labels, feature configuration, sample rate, training data, metrics
    model/           the fitted model (skops for scikit-learn, safetensors + JSON for torch)

so that a saved model reproduces its own preprocessing exactly, and loading it cannot
execute code.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emovox import __version__
from emovox.audio import SAMPLE_RATE, AudioSource, load_audio
from emovox.errors import EmovoxError, ModelError
from emovox.features import FeatureCache, make_extractor
from emovox.labels import label_order
from emovox.models import fit_model, load_model, make_model, save_model

FORMAT = "emovox-model"
FORMAT_VERSION = 1
METADATA_FILE = "emovox.json"


@dataclass
class Prediction:
    """The emotion of one recording, with the probability of every class."""

    label: str
    confidence: float
    probabilities: dict[str, float]
    duration: float
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FileFailure:
    """A file that could not be processed in a batch, and why."""

    source: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_model_path() -> Path:
    """The folder of the model bundled with the package (it may be absent in a dev checkout)."""
    return Path(str(resources.files("emovox") / "default_model"))


@dataclass
class Recognizer:
    """A feature extractor and a fitted classifier, described by JSON metadata."""

    features: dict
    model: Any
    labels: list[str]
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._extractor = make_extractor(self.features)

    # -- training -----------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        table: pd.DataFrame,
        *,
        features: dict,
        model: str = "svm",
        model_params: dict | None = None,
        seed: int = 0,
        cache: FeatureCache | None = None,
        progress: bool = True,
    ) -> Recognizer:
        """Fit on every row of a corpus table (speakers in ``speaker`` guide validation splits)."""
        from emovox.evaluation.experiment import table_features

        started = time.perf_counter()
        X, kept, failures = table_features(table, features, cache=cache, progress=progress)
        estimator = make_model(model, seed=seed, **(model_params or {}))
        fit_model(estimator, X, kept["label"].to_numpy(), groups=kept["speaker"].to_numpy())
        labels = label_order(set(kept["label"]))
        metadata = {
            "model": {"name": model, "params": dict(model_params or {})},
            "seed": seed,
            "training": {
                "corpora": {k: int(v) for k, v in kept["corpus"].value_counts().items()},
                "n_files": len(kept),
                "speakers": sorted(kept["speaker"].unique().tolist()),
                "class_counts": {k: int(v) for k, v in kept["label"].value_counts().items()},
                "failures": [{"path": p, "error": e} for p, e in failures],
                "seconds": round(time.perf_counter() - started, 1),
            },
        }
        return cls(
            features=make_extractor(features).config(),
            model=estimator,
            labels=labels,
            metadata=metadata,
        )

    # -- persistence --------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the recognizer to folder ``path`` (created); returns the folder."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_model(self.model, path / "model")
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "emovox_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sample_rate": SAMPLE_RATE,
            "labels": self.labels,
            "features": self.features,
            **{k: v for k, v in self.metadata.items() if k not in {"labels", "features"}},
        }
        (path / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path | None = None) -> Recognizer:
        """Load a saved recognizer; with no ``path``, the default model bundled with emovox."""
        folder = default_model_path() if path is None else Path(path)
        meta_file = folder / METADATA_FILE
        if not meta_file.is_file():
            if path is None:
                raise ModelError(
                    "No default model is bundled with this installation. Train one with "
                    "`emovox train` and pass it with --model."
                )
            raise ModelError(f"'{folder}' is not an emovox model folder (no {METADATA_FILE}).")
        try:
            meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError as exc:
            raise ModelError(f"'{meta_file}' is not valid JSON ({exc}).") from None
        if meta.get("format") != FORMAT:
            raise ModelError(f"'{meta_file}' does not describe an emovox model.")
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise ModelError(
                f"'{folder}' was saved by a newer emovox (format {meta['format_version']}); "
                "upgrade emovox to load it."
            )
        estimator = load_model(folder / "model")
        return cls(
            features=meta["features"], model=estimator, labels=list(meta["labels"]), metadata=meta
        )

    # -- prediction ---------------------------------------------------------------------
    def predict_proba_signal(self, signal: np.ndarray) -> dict[str, float]:
        """Class probabilities for a mono 16 kHz float32 signal, in :attr:`labels` order."""
        features = self._extractor(signal)
        proba = self.model.predict_proba(features[np.newaxis])[0]
        by_class = {str(c): float(p) for c, p in zip(self.model.classes_, proba, strict=True)}
        return {label: by_class.get(label, 0.0) for label in self.labels}

    def predict(self, source: AudioSource, *, source_sr: int | None = None) -> Prediction:
        """The emotion of a path, bytes or array (arrays need ``source_sr``).

        Raises :class:`~emovox.errors.AudioError` for input that is not usable speech audio.
        """
        signal = load_audio(source, sr=SAMPLE_RATE, source_sr=source_sr)
        probabilities = self.predict_proba_signal(signal)
        label = max(probabilities, key=probabilities.__getitem__)
        name = str(source) if isinstance(source, (str, Path)) else None
        return Prediction(
            label=label,
            confidence=probabilities[label],
            probabilities=probabilities,
            duration=round(signal.size / SAMPLE_RATE, 3),
            source=name,
        )

    def predict_files(self, sources: list[str | Path]) -> list[Prediction | FileFailure]:
        """Predict each file; a file that fails yields a :class:`FileFailure`, the rest go on."""
        results: list[Prediction | FileFailure] = []
        for source in sources:
            try:
                results.append(self.predict(source))
            except EmovoxError as exc:
                results.append(FileFailure(source=str(source), error=str(exc)))
        return results
