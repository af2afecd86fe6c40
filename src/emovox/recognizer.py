"""The one core API: :class:`Recognizer` trains, saves, loads and predicts.

Every interface (CLI, HTTP, batch) is a thin layer over this class; none of them decodes
audio or computes features itself. A saved recognizer is a folder::

    emovox.json      labels, feature configuration, sample rate, training data, metrics
    model/           the fitted model (skops for scikit-learn, safetensors + JSON for torch)
    head.safetensors, head.json
                     the model folded into one linear layer, when it is linear (optional)

so that a saved model reproduces its own preprocessing exactly, and loading it cannot
execute code.

Two ways to predict, same numbers to int8 rounding:

* the **reference path**: the feature extractor as trained (PyTorch for Whisper) and the
  fitted scikit-learn / torch model; used for training and evaluation.
* the **fast path**, for Whisper features with a linear head (logistic regression after
  layer selection and scaling, optionally temperature-scaled): the encoder runs in
  onnxruntime (:mod:`emovox.features.whisper.onnx_encoder`, built once into the cache)
  and the head in numpy (:mod:`emovox.linear_head`), so that neither torch nor
  scikit-learn is imported and a fresh process answers in about a second.

:meth:`Recognizer.load` takes the fast path when it can (``fast=None``); ``fast=False``
forces the reference path and ``fast=True`` raises when the fast path is not possible.
Heavy modules are imported inside the methods that need them.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emovox import __version__
from emovox.audio import SAMPLE_RATE, AudioSource, load_audio
from emovox.errors import EmovoxError, ModelError

if TYPE_CHECKING:
    import pandas as pd

    from emovox.features import FeatureCache
    from emovox.linear_head import LinearHead

FORMAT = "emovox-model"
FORMAT_VERSION = 1
METADATA_FILE = "emovox.json"
MODEL_DIR = "model"


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


def _model_sha256(folder: Path) -> str | None:
    """The payload checksum that ``folder/model/model.json`` records (read without hashing)."""
    try:
        return json.loads((folder / MODEL_DIR / "model.json").read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None


def _saved_head(folder: Path) -> LinearHead | None:
    """The folded head saved beside the model, if present and saved from the model there."""
    from emovox import linear_head

    if not (folder / linear_head.DESCRIPTION_FILE).is_file():
        return None
    description = linear_head.read_description(folder)
    recorded = (description.get("source") or {}).get("model_sha256")
    if recorded is None or recorded != _model_sha256(folder):
        return None  # saved from another model: fold the model itself
    return linear_head.LinearHead.load(folder)


def _check_encoder_weights(folder: Path, meta: dict) -> None:
    """Refuse to pair a model with encoder weights other than those it was trained on."""
    recorded = (meta.get("encoder_weights") or {}).get("sha256")
    if recorded is None:
        return
    from emovox.features import make_extractor

    found = make_extractor(meta["features"]).weights_info()
    if found["sha256"] != recorded:
        raise ModelError(
            f"'{folder}' was trained on encoder weights with sha256 {recorded[:12]}..., but "
            f"the weights found now ({found['source']}) have {found['sha256'][:12]}...; "
            "unset $EMOVOX_WHISPER_MODEL or give the weights the model was trained on."
        )


@dataclass
class Recognizer:
    """A feature extractor and a fitted classifier, described by JSON metadata."""

    features: dict
    model: Any
    labels: list[str]
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from emovox.features import make_extractor

        self._extractor = make_extractor(self.features)
        self._source: Path | None = None
        self._fast = False

    @property
    def fast(self) -> bool:
        """True when predictions take the fast path (ONNX encoder + numpy linear head)."""
        return self._fast

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
        augment: str | None = None,
    ) -> Recognizer:
        """Fit on every row of a corpus table (speakers in ``speaker`` guide validation splits).

        ``augment`` names a set of :data:`emovox.audio.degrade.AUGMENTATIONS` whose
        transformed copies of every file are added to the training data.
        """
        from emovox.features import make_extractor
        from emovox.features.batch import augmented_features, table_features
        from emovox.labels import label_order
        from emovox.models import fit_model, make_model

        started = time.perf_counter()
        X, kept, failures = table_features(table, features, cache=cache, progress=progress)
        copies = [X, *augmented_features(kept, features, augment, cache=cache, progress=progress)]
        estimator = make_model(model, seed=seed, **(model_params or {}))
        fit_model(
            estimator,
            np.concatenate(copies),
            np.tile(kept["label"].to_numpy(), len(copies)),
            groups=np.tile(kept["speaker"].to_numpy(), len(copies)),
        )
        labels = label_order(set(kept["label"]))
        extractor = make_extractor(features)
        metadata = {
            "model": {"name": model, "params": dict(model_params or {})},
            "seed": seed,
            "augment": augment,
            "training": {
                "corpora": {k: int(v) for k, v in kept["corpus"].value_counts().items()},
                "n_files": len(kept),
                "speakers": sorted(kept["speaker"].unique().tolist()),
                "class_counts": {k: int(v) for k, v in kept["label"].value_counts().items()},
                "failures": [{"path": p, "error": e} for p, e in failures],
                "seconds": round(time.perf_counter() - started, 1),
            },
        }
        if hasattr(extractor, "weights_info"):
            metadata["encoder_weights"] = extractor.weights_info()
        return cls(
            features=extractor.config(),
            model=estimator,
            labels=labels,
            metadata=metadata,
        )

    # -- persistence --------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the recognizer to folder ``path`` (created); returns the folder.

        With Whisper features and a head that folds into one linear layer, the folded head
        is written too (``head.safetensors``, ``head.json``) for the fast path.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self._save_model(path / MODEL_DIR)
        self._save_head(path)
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

    def _save_model(self, target: Path) -> None:
        from emovox.linear_head import LinearHead

        if not isinstance(self.model, LinearHead):
            from emovox.models import save_model

            save_model(self.model, target)
            return
        # Loaded on the fast path: the fitted model was never read; copy its files.
        source = None if self._source is None else self._source / MODEL_DIR
        if source is None or not source.is_dir():
            raise ModelError(
                "This recognizer holds only its folded linear head; load it with "
                "Recognizer.load(path, fast=False) to save it elsewhere."
            )
        if source.resolve() != target.resolve():
            shutil.copytree(source, target, dirs_exist_ok=True)

    def _save_head(self, folder: Path) -> None:
        from emovox import linear_head

        for name in (linear_head.WEIGHTS_FILE, linear_head.DESCRIPTION_FILE):
            (folder / name).unlink(missing_ok=True)  # never leave another model's head behind
        if self.features.get("name") != "whisper":
            return
        if isinstance(self.model, linear_head.LinearHead):
            head = self.model
        else:
            head = linear_head.collapse_linear(self.model)
        if head is not None:
            source = {"model_sha256": _model_sha256(folder), "class": type(self.model).__name__}
            head.save(folder, source=source)

    @classmethod
    def load(cls, path: str | Path | None = None, *, fast: bool | None = None) -> Recognizer:
        """Load a saved recognizer; with no ``path``, the default model bundled with emovox.

        ``fast``: None takes the fast path when the model allows it (Whisper features, a
        linear head) and the reference path otherwise; True requires the fast path
        (:class:`ModelError` if impossible); False always takes the reference path. The
        first fast load for given Whisper weights builds the ONNX encoder (seconds, once).
        """
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
        _check_encoder_weights(folder, meta)
        estimator = None
        if fast is not False:
            fast_recognizer, estimator = cls._load_fast(folder, meta, required=bool(fast))
            if fast_recognizer is not None:
                return fast_recognizer
        if estimator is None:
            from emovox.models import load_model

            estimator = load_model(folder / MODEL_DIR)
        recognizer = cls(
            features=meta["features"], model=estimator, labels=list(meta["labels"]), metadata=meta
        )
        recognizer._source = folder
        return recognizer

    @classmethod
    def _load_fast(
        cls, folder: Path, meta: dict, *, required: bool
    ) -> tuple[Recognizer | None, Any]:
        """The fast-path recognizer, or None and the fitted model if it had to be read."""
        from emovox.linear_head import collapse_linear

        def refuse(reason: str) -> tuple[None, Any]:
            if required:
                raise ModelError(f"'{folder}' cannot be loaded with fast=True: {reason}.")
            return None, estimator

        estimator = None
        features = meta.get("features") or {}
        if features.get("name") != "whisper":
            return refuse("the fast path needs Whisper features")
        head = _saved_head(folder)
        if head is None:
            from emovox.models import load_model

            estimator = load_model(folder / MODEL_DIR)
            head = collapse_linear(estimator)
            if head is None:
                return refuse(f"its {type(estimator).__name__} head is not linear")
        try:
            from emovox.features import make_extractor
            from emovox.features.whisper.onnx_encoder import OnnxWhisperEmbedding

            extractor = OnnxWhisperEmbedding(make_extractor(features))
        except Exception as exc:  # the reference path computes the same thing: fall back
            if required:
                raise
            warnings.warn(
                f"Fast prediction is unavailable ({exc}); using the PyTorch encoder.",
                RuntimeWarning,
                stacklevel=3,
            )
            return None, estimator
        if extractor.dim != head.n_features_in_:
            return refuse(
                f"the head takes {head.n_features_in_} features but the extractor gives "
                f"{extractor.dim}"
            )
        recognizer = cls(features=features, model=head, labels=list(meta["labels"]), metadata=meta)
        recognizer._extractor = extractor
        recognizer._source = folder
        recognizer._fast = True
        return recognizer, estimator

    # -- prediction ---------------------------------------------------------------------
    def predict_proba_signal(
        self, signal: np.ndarray, *, classes: Sequence[str] | None = None
    ) -> dict[str, float]:
        """Class probabilities for a mono 16 kHz float32 signal, in :attr:`labels` order.

        ``classes`` limits the answer to those labels, renormalised to sum to 1 (see
        :meth:`predict`).
        """
        return self._probabilities(signal, self.check_classes(classes))

    def check_classes(self, classes: Sequence[str] | None) -> list[str] | None:
        """``classes`` in :attr:`labels` order, or None for all; unknown names raise."""
        if classes is None:
            return None
        wanted = {str(c).strip() for c in classes}
        unknown = sorted(wanted - set(self.labels))
        if unknown:
            raise ModelError(
                f"This model has no class {', '.join(map(repr, unknown))}; "
                f"its classes are: {', '.join(self.labels)}."
            )
        if len(wanted) < 2:
            raise ModelError("Choose at least two classes to choose between.")
        return [label for label in self.labels if label in wanted]

    def predict(
        self,
        source: AudioSource,
        *,
        sample_rate: int | None = None,
        classes: Sequence[str] | None = None,
    ) -> Prediction:
        """The emotion of a path, bytes or array (arrays need ``sample_rate``).

        ``classes`` restricts the answer to the emotions a deployment needs (say anger,
        happy, sad, neutral): the model's probabilities of those classes, renormalised.
        Across corpora this does as well as training on those classes only (see the
        cross-corpus section of docs/results.md).

        Raises :class:`~emovox.errors.AudioError` for input that is not usable speech audio
        and :class:`~emovox.errors.ModelError` for a class the model does not know (before
        any audio is decoded).
        """
        return self._predict(source, sample_rate, self.check_classes(classes))

    def predict_files(
        self, sources: list[str | Path], *, classes: Sequence[str] | None = None
    ) -> list[Prediction | FileFailure]:
        """Predict each file; a file that fails yields a :class:`FileFailure`, the rest go on.

        ``classes`` as in :meth:`predict`; an unknown class raises before any file is read.
        """
        chosen = self.check_classes(classes)
        results: list[Prediction | FileFailure] = []
        for source in sources:
            try:
                results.append(self._predict(source, None, chosen))
            except EmovoxError as exc:
                results.append(FileFailure(source=str(source), error=str(exc)))
        return results

    def _probabilities(self, signal: np.ndarray, chosen: list[str] | None) -> dict[str, float]:
        """Probabilities of every label, or of the ``chosen`` ones (checked) renormalised."""
        features = self._extractor(signal)
        proba = self.model.predict_proba(features[np.newaxis])[0]
        by_class = {str(c): float(p) for c, p in zip(self.model.classes_, proba, strict=True)}
        probabilities = {label: by_class.get(label, 0.0) for label in self.labels}
        if chosen is None:
            return probabilities
        total = sum(probabilities[label] for label in chosen)
        if total <= 0.0:
            return {label: 1.0 / len(chosen) for label in chosen}
        return {label: probabilities[label] / total for label in chosen}

    def _predict(
        self, source: AudioSource, sample_rate: int | None, chosen: list[str] | None
    ) -> Prediction:
        signal = load_audio(source, sample_rate=sample_rate)
        probabilities = self._probabilities(signal, chosen)
        label = max(probabilities, key=probabilities.__getitem__)
        name = str(source) if isinstance(source, (str, Path)) else None
        return Prediction(
            label=label,
            confidence=probabilities[label],
            probabilities=probabilities,
            duration=round(signal.size / SAMPLE_RATE, 3),
            source=name,
        )
