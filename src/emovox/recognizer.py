"""The one core API: :class:`Recognizer` turns audio into a :class:`~emovox.results.Prediction`.

Every interface (CLI, HTTP, batch) is a thin layer over this class; none of them decodes
audio or computes features itself. Prediction is one regular grid, as audinterface's
``process_signal / process_file / process_files``:

==========================  =============================================  =================
method                      input                                          returns
==========================  =============================================  =================
``predict_signal``          an array and its ``sample_rate``               ``Prediction``
``predict_file``            a path (or ``"-"``), optionally a part of it   ``Prediction``
``predict``                 any of those, or the bytes of an audio file    ``Prediction``
``predict_files``           many paths; a file that fails is a ``Failure``  list of both
==========================  =============================================  =================

Single inputs raise an :class:`~emovox.errors.EmovoxError` subclass (``AudioError``,
``ParameterError``, ``ModelError``); ``predict_files`` turns each file's error into a
:class:`~emovox.results.Failure` and goes on. Where the model folder format lives, see
:mod:`emovox.model_folder`; how training works, :mod:`emovox.training`; which of the fast
and reference paths a loaded model predicts with, :mod:`emovox.loading`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emovox.adaptation import Adaptation, Profile
from emovox.audio import SAMPLE_RATE, AudioSource, load_audio
from emovox.errors import AudioError, EmovoxError, ModelError, ParameterError
from emovox.model_folder import default_model_path, read_metadata, write_model_folder
from emovox.progress import ProgressHook, StepCounter
from emovox.results import Failure, Prediction

if TYPE_CHECKING:
    import pandas as pd

    from emovox.features import FeatureCache

__all__ = ["Failure", "Prediction", "Profile", "Recognizer", "default_model_path"]

Classes = str | Sequence[str] | None
"""A restriction of the answer: names (any case), or one comma-separated string."""

LONG_RECORDING = 30.0
"""Seconds above which ``predict`` adds a warning pointing to :meth:`Recognizer.timeline`
(and still answers): the default model learnt from clips of 0.4-9 s (most of them 1-4 s),
and 30 s is also where the Whisper encoder starts cutting the input into chunks whose frames
are pooled together."""


class Recognizer:
    """A feature extractor and a fitted classifier, described by JSON metadata.

    Build one with :meth:`load` (a saved folder, or the bundled default model) or
    :meth:`train`; save it with :meth:`save`.
    """

    def __init__(
        self,
        *,
        features: dict,
        model: Any,
        labels: list[str],
        metadata: dict | None = None,
        extractor: Any = None,
        fast: bool = False,
        folder: Path | None = None,
        check_speech: bool = True,
        adaptation: Adaptation | None = None,
        profile: Profile | None = None,
    ) -> None:
        from emovox.features import make_extractor

        self.features = features
        self.model = model
        self.labels = list(labels)
        self.metadata = dict(metadata or {})
        self.extractor = make_extractor(features) if extractor is None else extractor
        self.fast = fast
        """True when predictions take the fast path (ONNX encoder + numpy linear head)."""
        self.folder = folder
        """The folder this recognizer was loaded from, if any."""
        self.check_speech = check_speech
        """Run voice activity detection on each input and say when it holds no speech
        (:attr:`Prediction.speech`); about 6 ms per 3 s clip."""
        self.adaptation = adaptation
        """The adapted head and its settings (:mod:`emovox.adaptation`), None when this
        model cannot adapt to a speaker."""
        self.profile = profile
        """The speaker this recognizer is adapted to (:meth:`adapt`), None: unadapted."""

    def __repr__(self) -> str:
        where = f", folder='{self.folder}'" if self.folder is not None else ""
        adapted = f", adapted to {self.profile.count} utterances" if self.profile else ""
        return (
            f"Recognizer(features={self.features.get('name')!r}, labels={self.labels}, "
            f"fast={self.fast}{where}{adapted})"
        )

    @property
    def model_id(self) -> str:
        """Names this model in results: ``NAME@HASH``, the folder's name and the first 12
        hex digits of the sha256 of its metadata (``unsaved@...`` before saving)."""
        import hashlib
        import json

        digest = hashlib.sha256(
            json.dumps(
                {"labels": self.labels, "features": self.features, "meta": self.metadata},
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()[:12]
        name = "unsaved" if self.folder is None else self.folder.name
        return f"{name}@{digest}"

    # -- building -----------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        table: pd.DataFrame,
        *,
        features: dict | None = None,
        classifier: str = "svm",
        params: dict | None = None,
        seed: int = 0,
        cache: FeatureCache | None = None,
        hook: ProgressHook | None = None,
        augment: str | None = None,
        labels: str = "emotions",
        from_default: bool | str | Path | None = None,
        estimate: bool | None = None,
    ) -> Recognizer:
        """Fit on every row of a corpus table: see :func:`emovox.training.train`
        (``labels="custom"``: classes of one's own; ``from_default=True``: learn from a few
        clips on top of the default model)."""
        from emovox.training import train

        return train(
            table,
            features=features,
            classifier=classifier,
            params=params,
            seed=seed,
            cache=cache,
            hook=hook,
            augment=augment,
            labels=labels,
            from_default=from_default,
            estimate=estimate,
        )

    @classmethod
    def load(cls, path: str | Path | None = None, *, fast: bool | None = None) -> Recognizer:
        """Load a saved recognizer; with no ``path``, the default model bundled with emovox.

        ``fast``: None takes the fast path when the model allows it (Whisper features, a
        linear head) and the reference path otherwise; True requires the fast path
        (:class:`ModelError` if impossible); False always takes the reference path. The
        first fast load for given Whisper weights builds the ONNX encoder (seconds, once).
        """
        from emovox.loading import load_predictor
        from emovox.model_folder import check_encoder_weights

        if fast is not None and not isinstance(fast, bool):
            raise ParameterError(f"fast must be True, False or None, got {fast!r}.")
        folder = default_model_path() if path is None else Path(path).expanduser()
        meta = read_metadata(folder, bundled=path is None)
        check_encoder_weights(folder, meta)
        predictor = load_predictor(folder, meta, fast=fast)
        return cls(
            features=meta["features"],
            model=predictor.model,
            labels=list(meta["labels"]),
            metadata=meta,
            extractor=predictor.extractor,
            fast=predictor.fast,
            folder=folder,
            adaptation=Adaptation.load(folder),
        )

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write the recognizer to folder ``path``; returns the folder.

        A folder that already holds files is refused unless ``force`` (then the model's
        own files there are replaced). With Whisper features and a head that folds into one
        linear layer, the folded head is written too, for the fast path.
        """
        return write_model_folder(
            path,
            labels=self.labels,
            features=self.features,
            model=self.model,
            metadata=self.metadata,
            source=self.folder,
            force=force,
            adaptation=self.adaptation,
        )

    # -- speaker adaptation -------------------------------------------------------------
    @property
    def can_adapt(self) -> bool:
        """Whether this model has an adapted head (the default model has)."""
        return self.adaptation is not None

    def embed(self, source: AudioSource, *, sample_rate: int | None = None) -> np.ndarray:
        """The embedding (feature vector) the head reads for one recording."""
        return np.asarray(self.extractor(load_audio(source, sample_rate=sample_rate)))

    def adapt(
        self,
        sources: Sequence[AudioSource] | Profile,
        *,
        sample_rate: int | None = None,
        hook: ProgressHook | None = None,
    ) -> Recognizer:
        """A recognizer adapted to one speaker: ``sources`` are their recordings (paths,
        bytes or arrays at ``sample_rate``; about 10 of mixed emotions give most of the
        gain) or a :class:`~emovox.adaptation.Profile`. No labels are needed.

        This recognizer is unchanged; the one returned shares its model and answers with
        the adapted head (each :class:`Prediction` says so in ``adapted``). Recordings
        that cannot be read or hold no speech are left out and named in
        ``profile.skipped``; :class:`AudioError` if none is usable, :class:`ModelError`
        if the model has no adapted head.
        """
        self.require_adaptation()
        if isinstance(sources, Profile):
            profile = sources
        else:
            if isinstance(sources, str | Path | bytes | np.ndarray):
                sources = [sources]  # type: ignore[list-item]
            profile = self._profile(list(sources), sample_rate=sample_rate, hook=hook)
        return self.with_profile(profile)

    def with_profile(self, profile: Profile | None) -> Recognizer:
        """This recognizer adapted to ``profile`` (None: unadapted); shares the model."""
        if profile is not None:
            self.require_adaptation()
            if profile.count and profile.mean.size != self.adaptation.prior.size:  # type: ignore[union-attr]
                raise ParameterError(
                    f"This profile has {profile.mean.size} values; the model's embeddings "
                    f"have {self.adaptation.prior.size}."  # type: ignore[union-attr]
                )
        twin = copy.copy(self)
        twin.profile = profile
        return twin

    def require_adaptation(self) -> None:
        """Raise :class:`ModelError` unless this model has an adapted head (:attr:`can_adapt`);
        interfaces call it before any audio is read."""
        if self.adaptation is None:
            raise ModelError(
                "This model cannot adapt to a speaker (it has no adapted head); train one "
                "with Whisper features and a linear head (e.g. `emovox train` with the "
                "default features) or use the default model."
            )

    def _profile(
        self, sources: list[AudioSource], *, sample_rate: int | None, hook: ProgressHook | None
    ) -> Profile:
        count = StepCounter(hook, "adapting", total=len(sources))
        embeddings, skipped = [], []
        for i, source in enumerate(sources):
            name = str(source) if isinstance(source, str | Path) else f"input {i + 1}"
            try:
                analysis = self._analyse(source, sample_rate=sample_rate)
            except EmovoxError as exc:
                skipped.append(f"{name}: {exc}")
            else:
                if analysis.speech is False:
                    skipped.append(f"{name}: no speech")
                else:
                    embeddings.append(analysis.embedding)
            count.advance()
        if not embeddings:
            first = f" ({skipped[0]})" if skipped else ""
            raise AudioError(f"No recording to adapt to could be used{first}.")
        return Profile.from_embeddings(np.stack(embeddings), skipped=skipped)

    # -- the answer's classes -----------------------------------------------------------
    def check_classes(self, classes: Classes) -> list[str] | None:
        """``classes`` as this model's names, in :attr:`labels` order, or None for all.

        Accepts names in any case and one comma-separated string ("anger,happy");
        :class:`ModelError` names an unknown class, :class:`ParameterError` a bad value.
        """
        if classes is None:
            return None
        if isinstance(classes, str):
            names = classes.split(",")
        elif isinstance(classes, Sequence | set | frozenset) and all(
            isinstance(c, str) for c in classes
        ):
            names = list(classes)
        else:
            raise ParameterError(
                f"classes must be class names (a list of strings or one comma-separated "
                f"string), got {classes!r}."
            )
        by_folded = {label.casefold(): label for label in self.labels}
        wanted = {name.strip().casefold() for name in names if name.strip()}
        unknown = sorted(w for w in wanted if w not in by_folded)
        if unknown:
            raise ModelError(
                f"This model has no class {', '.join(map(repr, unknown))}; "
                f"its classes are: {', '.join(self.labels)}."
            )
        if len(wanted) < 2:
            raise ParameterError("Choose at least two classes to choose between.")
        return [label for label in self.labels if label.casefold() in wanted]

    # -- prediction ---------------------------------------------------------------------
    def predict(
        self, source: AudioSource, *, sample_rate: int | None = None, classes: Classes = None
    ) -> Prediction:
        """The emotion of a path, the bytes of an audio file, or an array.

        Arrays need their ``sample_rate`` (a wrong rate cannot be detected: it shifts
        every pitch and the answer with it). ``classes`` restricts the answer to the
        emotions a deployment needs (say anger, happy, sad, neutral): the model's
        probabilities of those classes, renormalised. Across corpora this does as well as
        training on those classes only (see the cross-corpus section of docs/results.md).

        Raises :class:`~emovox.errors.AudioError` for input that is not usable audio,
        :class:`~emovox.errors.ModelError` for a class the model does not know and
        :class:`~emovox.errors.ParameterError` for a bad argument (both before any audio
        is decoded).
        """
        chosen = self.check_classes(classes)
        return self._predict_source(source, sample_rate=sample_rate, chosen=chosen)

    def predict_signal(
        self, signal: np.ndarray, *, sample_rate: int, classes: Classes = None
    ) -> Prediction:
        """The emotion of an audio array (1-D, or 2-D with channels) at ``sample_rate``."""
        if not isinstance(signal, np.ndarray):
            raise ParameterError(
                f"predict_signal takes a numpy array, got a {type(signal).__name__}."
            )
        return self.predict(signal, sample_rate=sample_rate, classes=classes)

    def predict_file(
        self,
        path: str | Path,
        *,
        offset: float = 0.0,
        duration: float | None = None,
        classes: Classes = None,
    ) -> Prediction:
        """The emotion of an audio file (``"-"``: standard input), or of the part of it
        from ``offset`` seconds lasting ``duration`` seconds (only that part is read)."""
        if not isinstance(path, str | Path):
            raise ParameterError(f"predict_file takes a path, got a {type(path).__name__}.")
        chosen = self.check_classes(classes)
        return self._predict_source(path, chosen=chosen, offset=offset, duration=duration)

    def predict_files(
        self,
        paths: Sequence[str | Path],
        *,
        classes: Classes = None,
        hook: ProgressHook | None = None,
        adapt: bool = False,
    ) -> list[Prediction | Failure]:
        """Predict each file in order; a file that fails gives a :class:`Failure` and the
        rest go on. ``classes`` as in :meth:`predict` (checked once, before any file).

        ``adapt=True``: the files are one speaker; every answer is adapted to the profile
        of all of them that hold speech (each file is decoded and encoded once).
        """
        if isinstance(paths, str | Path):
            paths = [paths]
        chosen = self.check_classes(classes)
        if adapt:
            self.require_adaptation()
        count = StepCounter(hook, "predicting", total=len(paths))
        analysed: list[_Analysis | Failure] = []
        for path in paths:
            try:
                analysed.append(self._analyse(path))
            except EmovoxError as exc:
                analysed.append(Failure.from_error(path, exc))
            if not adapt:
                analysed[-1] = self._finish(analysed[-1], chosen, self.profile)
                count.advance(artifact=analysed[-1])
        if not adapt:
            return analysed  # type: ignore[return-value]
        usable = [a for a in analysed if isinstance(a, _Analysis) and a.speech is not False]
        skipped = [str(a.source) for a in analysed if isinstance(a, _Analysis) and a not in usable]
        profile = (
            Profile.from_embeddings(np.stack([a.embedding for a in usable]), skipped=skipped)
            if usable
            else None
        )
        results = []
        for item in analysed:
            results.append(self._finish(item, chosen, profile))
            count.advance(artifact=results[-1])
        return results

    def timeline(
        self,
        source: AudioSource,
        *,
        sample_rate: int | None = None,
        window: float = 3.0,
        hop: float | None = None,
        merge: bool = False,
        channels: str = "mix",
        classes: Classes = None,
        hook: ProgressHook | None = None,
        adapt: bool = False,
        **options: Any,
    ) -> pd.DataFrame:
        """Emotion over time in a recording of any length: a DataFrame indexed by
        ``(start, end)`` in seconds with the columns ``channel``, ``label``, ``confidence``
        and ``p_<class>``, one row per analysis window of speech (``merge``: per segment of
        one emotion); empty when there is no speech. The file is read block by block, so
        memory does not grow with its length. ``window`` and ``hop`` in seconds (``hop``
        None: no overlap); ``channels="each"`` analyses each channel on its own;
        ``adapt`` adapts each channel to its own speaker from the recording itself (a call:
        agent and customer on their channels), see :mod:`emovox.adaptation`. Further
        ``options`` (``min_window``, ``merge_gap``, ``vad_params``, ``envelope``, ...) and
        the result's ``attrs`` (warnings of a truncated file among them): see
        :func:`emovox.timeline.timeline`, the engine this delegates to."""
        from emovox.timeline import timeline

        return timeline(
            self,
            source,
            sample_rate=sample_rate,
            window=window,
            hop=hop,
            merge=merge,
            channels=channels,  # type: ignore[arg-type]
            classes=classes,
            hook=hook,
            adapt=adapt,
            **options,
        )

    # -- the one place audio becomes an answer ------------------------------------------
    def _predict_source(
        self,
        source: AudioSource,
        *,
        chosen: list[str] | None,
        sample_rate: int | None = None,
        offset: float = 0.0,
        duration: float | None = None,
    ) -> Prediction:
        part = (
            {} if offset == 0.0 and duration is None else {"offset": offset, "duration": duration}
        )
        analysis = self._analyse(source, sample_rate=sample_rate, **part)
        return self._finish(analysis, chosen, self.profile)  # type: ignore[return-value]

    def _analyse(self, source: AudioSource, *, sample_rate: int | None = None, **part: Any):
        """Decode, check for speech and embed one input (everything but the head)."""
        notes: list[str] = []
        signal = load_audio(source, sample_rate=sample_rate, notes=notes, **part)
        if signal.size > LONG_RECORDING * SAMPLE_RATE:
            notes.append(
                f"This recording is {signal.size / SAMPLE_RATE:.0f} s long: one emotion for "
                "all of it means little (the model learnt from clips of a few seconds). "
                "For emotion over time use `emovox timeline` or Recognizer.timeline."
            )
        speech = self._speech(signal, notes)
        return _Analysis(
            source=str(source) if isinstance(source, str | Path) else None,
            duration=round(signal.size / SAMPLE_RATE, 3),
            speech=speech,
            notes=tuple(notes),
            embedding=np.asarray(self.extractor(signal)),
        )

    def _finish(
        self, item: _Analysis | Failure, chosen: list[str] | None, profile: Profile | None
    ) -> Prediction | Failure:
        """The answer for an analysed input (a failure stays one)."""
        if isinstance(item, Failure):
            return item
        probabilities, adapted = self._answer(item.embedding, chosen, profile)
        label = max(probabilities, key=probabilities.__getitem__)
        return Prediction(
            label=label,
            confidence=probabilities[label],
            probabilities=probabilities,
            duration=item.duration,
            source=item.source,
            speech=item.speech,
            warnings=item.notes,
            adapted=adapted,
        )

    def _speech(self, signal: np.ndarray, notes: list[str]) -> bool | None:
        """Whether the voice activity detector finds speech (None: not checked)."""
        if not self.check_speech:
            return None
        from emovox.segmentation import speech_summary

        try:
            summary = speech_summary(signal)
        except ModelError:  # silero-vad not installed: answer without the check
            return None
        if not summary.has_speech:
            notes.append(
                f"No speech found by the voice activity detector ({summary.speech:.2f} s of "
                f"speech in {summary.duration:.2f} s): the emotion is a guess about a sound, "
                "not a voice."
            )
        return summary.has_speech

    def _probabilities(self, signal: np.ndarray, chosen: list[str] | None) -> dict[str, float]:
        """Probabilities of every label, or of the ``chosen`` ones renormalised."""
        return self._answer(np.asarray(self.extractor(signal)), chosen, self.profile)[0]

    def _answer(
        self, features: np.ndarray, chosen: list[str] | None, profile: Profile | None
    ) -> tuple[dict[str, float], int]:
        """Probabilities from an embedding, and how many utterances adapted them (0: the
        unadapted head answered)."""
        if self.adaptation is not None and self.adaptation.applies(profile):
            proba = self.adaptation.predict_proba(features[np.newaxis], profile)[0]  # type: ignore[arg-type]
            classes, adapted = self.adaptation.head.classes_, profile.count  # type: ignore[union-attr]
        else:
            proba = self.model.predict_proba(features[np.newaxis])[0]
            classes, adapted = self.model.classes_, 0
        return self._restrict(proba, classes, chosen), adapted

    def _restrict(
        self, proba: np.ndarray, classes: np.ndarray, chosen: list[str] | None
    ) -> dict[str, float]:
        by_class = {str(c): float(p) for c, p in zip(classes, proba, strict=True)}
        probabilities = {label: by_class.get(label, 0.0) for label in self.labels}
        if chosen is None:
            return probabilities
        total = sum(probabilities[label] for label in chosen)
        if total <= 0.0:
            return {label: 1.0 / len(chosen) for label in chosen}
        return {label: probabilities[label] / total for label in chosen}


@dataclass(frozen=True)
class _Analysis:
    """One input decoded and embedded, waiting for a head (and maybe a profile)."""

    source: str | None
    duration: float
    speech: bool | None
    notes: tuple[str, ...]
    embedding: np.ndarray
