"""Training a recognizer on a corpus table: features -> (augmented copies) -> fitted model.

:func:`train` is what ``emovox train`` and :meth:`emovox.Recognizer.train` run. It checks
every choice (classifier name and parameters, augmentation) before any feature is
computed, so that a typo fails in a second rather than after an hour of extraction, and
reports progress through a hook (:mod:`emovox.progress`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emovox.errors import EmovoxError, ParameterError
from emovox.progress import ProgressHook, StepCounter

if TYPE_CHECKING:
    import pandas as pd

    from emovox.adaptation import Adaptation
    from emovox.features import FeatureCache
    from emovox.recognizer import Recognizer


def train(
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
    """Fit ``classifier`` on every row of a corpus table and return the :class:`Recognizer`.

    ``table`` needs ``path``, ``label``, ``speaker`` and ``corpus`` columns (speakers
    guide the validation splits inside models). ``augment`` names a set of
    :data:`emovox.audio.degrade.AUGMENTATIONS` whose transformed copies of every file are
    added to the training data. Files that cannot be read are skipped and listed in
    ``metadata["training"]["failures"]``.

    ``labels``: ``"emotions"`` (the table's labels must be emotion names, as the corpus
    loaders give them) or ``"custom"`` (any class names; see :mod:`emovox.labels`).
    ``from_default``: True (the bundled default model) or a model folder: learn from the
    clips on top of that model's linear head (:mod:`emovox.from_default`); ``features``
    must then be None or that model's, and ``classifier`` is not used (``params`` go to
    :class:`~emovox.from_default.PriorHead`: ``alpha``, ``beta``). ``estimate``: also
    cross-validate on the training clips, by speaker where speakers are known
    (:mod:`emovox.training_report`; the report is ``metadata["training"]["estimate"]``);
    None does so for ``from_default`` and for tables made only of the user's own
    ``folder`` / ``manifest`` corpora.
    """
    from emovox.features import make_extractor
    from emovox.features.batch import augmented_features, check_augment, table_features
    from emovox.labels import class_order
    from emovox.models import fit_model, make_model
    from emovox.recognizer import Recognizer

    params = dict(params or {})
    check_table_labels(table, labels)
    if from_default not in (None, False):
        return _train_from_default(
            table,
            source=from_default,
            features=features,
            params=params,
            seed=seed,
            cache=cache,
            hook=hook,
            augment=augment,
            labels=labels,
            estimate=estimate,
        )
    if features is None:
        raise ParameterError("Name the features to train on (or use from_default).")
    estimator = make_model(classifier, seed=seed, **params)  # bad names fail here, at once
    extractor = make_extractor(features)
    check_augment(augment)
    started = time.perf_counter()
    X, kept, failures = table_features(table, features, cache=cache, hook=hook)
    labels_found = class_order(set(kept["label"]))
    if len(labels_found) < 2:
        raise EmovoxError(
            f"Training needs at least two classes; the files read hold {labels_found}."
        )
    copies = [X, *augmented_features(kept, features, augment, cache=cache, hook=hook)]
    report = None
    if _wants_estimate(estimate, kept, from_default=False):
        from sklearn.base import clone

        def fit(X_fold: np.ndarray, y_fold: np.ndarray, groups: np.ndarray | None) -> Any:
            return fit_model(clone(estimator), X_fold, y_fold, groups=groups)

        report = _estimate(fit, copies, kept, labels_found, seed=seed, hook=hook)
        _pop_proba(report)
    fitting = StepCounter(hook, f"fitting {classifier}", total=None)
    fit_model(
        estimator,
        np.concatenate(copies),
        np.tile(kept["label"].to_numpy(), len(copies)),
        groups=np.tile(kept["speaker"].to_numpy(), len(copies)),
    )
    fitting.finish()
    adaptation = _adaptation(estimator, copies, kept, hook)
    metadata = {
        "model": {"name": classifier, "params": params},
        "seed": seed,
        "augment": augment,
        "training": _training_summary(kept, failures, started, labels=labels, report=report),
    }
    if hasattr(extractor, "weights_info"):
        metadata["encoder_weights"] = extractor.weights_info()
    return Recognizer(
        features=extractor.config(),
        model=estimator,
        labels=labels_found,
        metadata=metadata,
        adaptation=adaptation,
    )


def _training_summary(
    kept: pd.DataFrame,
    failures: list[Any],
    started: float,
    *,
    labels: str,
    report: dict[str, Any] | None,
) -> dict[str, Any]:
    """``metadata["training"]``: the data a model was fitted on, and the estimate if any."""
    summary: dict[str, Any] = {
        "corpora": {k: int(v) for k, v in kept["corpus"].value_counts().items()},
        "n_files": len(kept),
        "speakers": sorted(kept["speaker"].unique().tolist()),
        "class_counts": {k: int(v) for k, v in kept["label"].value_counts().items()},
        "failures": [f.to_dict() for f in failures],
        "seconds": round(time.perf_counter() - started, 1),
    }
    if labels == "custom":
        summary["label_mode"] = "custom"
    if report is not None:
        summary["estimate"] = report
        summary["warnings"] = report["warnings"]
    return summary


def _adaptation(
    estimator: Any, copies: list[np.ndarray], kept: pd.DataFrame, hook: ProgressHook | None
) -> Adaptation | None:
    """The speaker-adapted head (:mod:`emovox.adaptation`) when the model is linear: the
    same estimator, refitted on speaker-centred features. A head that chose among
    candidates (``whisper_head``) keeps its choice instead of choosing again."""
    from sklearn.base import clone

    from emovox.adaptation import fit_adaptation
    from emovox.linear_head import collapse_linear

    if collapse_linear(estimator) is None:
        return None
    fresh = clone(estimator)
    chosen = getattr(getattr(estimator, "estimator_", None), "candidates", None)
    if chosen is not None and "estimator__candidates" in fresh.get_params():
        fresh.set_params(estimator__candidates=list(chosen))
    step = StepCounter(hook, "fitting the speaker-adapted head", total=None)
    adaptation = fit_adaptation(
        lambda: clone(fresh), copies, kept["label"].to_numpy(), kept["speaker"].to_numpy()
    )
    step.finish()
    return adaptation


# -- the user's own labels and data ------------------------------------------------------


def check_table_labels(table: pd.DataFrame, labels: str) -> None:
    """Refuse a table whose labels do not fit the label mode, before any work.

    ``"emotions"``: every label must be an emovox label (:data:`emovox.labels.ALL_LABELS`;
    the message points to ``labels="custom"`` otherwise); ``"custom"``: names must be
    usable class names (:func:`emovox.labels.check_custom_labels`).
    """
    from emovox.labels import (
        ALL_LABELS,
        CUSTOM_HINT,
        check_custom_labels,
        check_label_mode,
        clean_custom_label,
    )

    mode = check_label_mode(labels)
    if "label" not in table.columns:
        raise ParameterError("The training table has no 'label' column.")
    found = {str(v) for v in table["label"].unique()}
    if mode == "emotions":
        unknown = sorted(found - set(ALL_LABELS))
        if unknown:
            raise ParameterError(
                f"Labels outside the emotions emovox knows: {', '.join(map(repr, unknown))}. "
                + CUSTOM_HINT
            )
        return
    bad = sorted(name for name in found if clean_custom_label(name) != name)
    if bad:
        raise ParameterError(
            f"Class names {', '.join(map(repr, bad))} are not in their clean form (Unicode "
            "NFC, single spaces, no surrounding white space); load the corpus with "
            "labels='custom' or clean them with emovox.labels.clean_custom_label."
        )
    check_custom_labels(found)


USER_CORPORA = ("folder", "manifest")
"""Corpus loaders that read a user's own data: training on only these reports an estimate
of accuracy by default."""


def _wants_estimate(estimate: bool | None, kept: pd.DataFrame, *, from_default: bool) -> bool:
    if estimate is not None:
        return bool(estimate)
    return from_default or bool(kept["corpus"].isin(USER_CORPORA).all())


def _estimate(
    fit: Any,
    copies: list[np.ndarray],
    kept: pd.DataFrame,
    labels: list[str],
    *,
    seed: int,
    hook: ProgressHook | None,
) -> dict[str, Any]:
    """The cross-validated report; its ``"_proba"`` holds the out-of-fold probabilities
    (:func:`_pop_proba` takes them out before the report is saved)."""
    from emovox.training_report import data_warnings, estimate_accuracy

    y = kept["label"].to_numpy().astype(str)
    speakers = kept["speaker"].to_numpy().astype(str)
    report, proba = estimate_accuracy(
        fit, copies[0], y, speakers, labels=labels, copies=copies[1:], seed=seed, hook=hook
    )
    report["warnings"] = data_warnings(y, speakers) + report.get("warnings", [])
    report["_proba"] = proba
    return report


def _pop_proba(report: dict[str, Any] | None) -> np.ndarray | None:
    return None if report is None else report.pop("_proba", None)


MIN_CALIBRATION_CLIPS = 40
"""A from-default head is temperature-scaled on its cross-validated probabilities only
when these come from speaker-independent folds over at least this many clips, and only
ever softened (temperature >= 1)."""


def _train_from_default(
    table: pd.DataFrame,
    *,
    source: bool | str | Path,
    features: dict | None,
    params: dict[str, Any],
    seed: int,
    cache: FeatureCache | None,
    hook: ProgressHook | None,
    augment: str | None,
    labels: str,
    estimate: bool | None,
) -> Recognizer:
    """``train(..., from_default=...)``: a :class:`~emovox.from_default.PriorHead` on the
    user's clips over the prior model's head, saved as one linear layer."""
    from emovox.features import make_extractor
    from emovox.features.batch import augmented_features, check_augment, table_features
    from emovox.from_default import DefaultPrior, PriorHead, prior_matrix
    from emovox.labels import class_order
    from emovox.model_folder import default_model_path, read_metadata
    from emovox.recognizer import Recognizer
    from emovox.training_report import fit_temperature

    folder = default_model_path() if source is True else Path(str(source)).expanduser()
    meta = read_metadata(folder, bundled=source is True)
    if features is not None and dict(features) != dict(meta["features"]):
        raise ParameterError(
            "Training from the default model uses its features; leave out --features "
            f"(the model's are {meta['features']})."
        )
    features = dict(meta["features"])
    unknown = sorted(set(params) - {"alpha", "beta", "space"})
    if unknown:
        raise ParameterError(
            f"Unknown parameter(s) {', '.join(unknown)} for training from the default model; "
            "it takes alpha, beta and space (see emovox.from_default)."
        )
    extractor = make_extractor(features)
    check_augment(augment)
    prior = DefaultPrior.from_folder(
        None if source is True else folder, statistics=params.get("space") == "prior"
    )
    head_params = {"prior": prior, **params}
    PriorHead(**head_params)._check()  # bad values fail here, before any extraction
    started = time.perf_counter()
    X, kept, failures = table_features(table, features, cache=cache, hook=hook)
    classes = class_order(set(kept["label"]))
    if len(classes) < 2:
        raise EmovoxError(f"Training needs at least two classes; the files read hold {classes}.")
    copies = [X, *augmented_features(kept, features, augment, cache=cache, hook=hook)]

    def fit(X_fold: np.ndarray, y_fold: np.ndarray, groups: np.ndarray | None) -> PriorHead:
        return PriorHead(**head_params).fit(X_fold, y_fold)

    report = None
    if _wants_estimate(estimate, kept, from_default=True):
        report = _estimate(fit, copies, kept, classes, seed=seed, hook=hook)
    proba = _pop_proba(report)
    fitting = StepCounter(hook, "fitting the from-default head", total=None)
    y_all = np.tile(kept["label"].to_numpy().astype(str), len(copies))
    head = fit(np.concatenate(copies), y_all, None)
    fitting.finish()
    temperature = None
    y = kept["label"].to_numpy().astype(str)
    if (
        report is not None
        and proba is not None
        and report["protocol"]["speaker_independent"]
        and len(y) >= MIN_CALIBRATION_CLIPS
    ):
        # never sharper: folds learn from fewer clips than the final head, and a few
        # dozen clips cannot vouch for more confidence than the fit gives
        temperature = fit_temperature(proba, y, classes, lowest=1.0)
    matched = prior_matrix(classes, prior.classes)
    mapping = {
        name: str(prior.classes[int(np.argmax(row))]) if row.any() else None
        for name, row in zip(classes, matched, strict=True)
    }
    if report is not None and all(mapping.values()):
        from emovox.evaluation.metrics import classification_metrics

        chosen = [mapping[c] for c in classes]
        baseline = prior.predict_proba(X, classes=chosen)
        predicted = np.asarray(classes)[np.argmax(baseline, axis=1)]
        scores = classification_metrics(y, predicted, labels=classes)
        report["default_model"] = {"uar": scores["uar"], "accuracy": scores["accuracy"]}
        if "uar" in report and report["uar"] < scores["uar"]:
            report["warnings"].append(
                f"The default model alone scores higher on these clips (UAR "
                f"{scores['uar']:.2f}) than the estimate for the trained model "
                f"({report['uar']:.2f}): the clips did not help; consider the default "
                "model with --classes, or more clips."
            )
    model_id = meta.get("created", "")
    metadata: dict[str, Any] = {
        "model": {
            "name": "from_default",
            "params": {
                "alpha": head.alpha,
                "beta": head.beta,
                "space": head.space,
            },
        },
        "seed": seed,
        "augment": augment,
        "from_default": {
            "model": "default_model" if source is True else str(folder),
            "model_created": model_id,
            "prior_classes": [str(c) for c in prior.classes],
            "class_map": mapping,
            "temperature": temperature,
        },
        "training": _training_summary(kept, failures, started, labels=labels, report=report),
    }
    if "encoder_weights" in meta:
        metadata["encoder_weights"] = meta["encoder_weights"]
    elif hasattr(extractor, "weights_info"):
        metadata["encoder_weights"] = extractor.weights_info()
    adaptation = _adapted_from_default(folder, head_params, copies, kept, hook)
    return Recognizer(
        features=extractor.config(),
        model=head.to_estimator(temperature=temperature),
        labels=classes,
        metadata=metadata,
        adaptation=adaptation,
    )


def _adapted_from_default(
    folder: Path,
    head_params: dict[str, Any],
    copies: list[np.ndarray],
    kept: pd.DataFrame,
    hook: ProgressHook | None,
) -> Adaptation | None:
    """Speaker adaptation composed with ``--from-default``: a second PriorHead, pulled
    toward the default model's *adapted* head, fitted on speaker-centred clips. Needs the
    prior model's adapted head and clips of at least two known speakers (a manifest's
    ``speaker`` column); None otherwise."""
    from emovox.adaptation import Adaptation as _Adaptation
    from emovox.adaptation import fit_adaptation
    from emovox.corpora.folder import UNKNOWN_SPEAKER
    from emovox.from_default import DefaultPrior, PriorHead

    prior_adaptation = _Adaptation.load(folder)
    if prior_adaptation is None or head_params.get("space") == "prior":
        return None
    speakers = kept["speaker"].to_numpy().astype(str)
    if len(set(speakers) - {UNKNOWN_SPEAKER}) < 2:
        return None
    adapted = prior_adaptation.head
    prior = DefaultPrior.from_arrays(
        weight=adapted.weight,
        bias=adapted.bias,
        classes=adapted.classes,
        mean=np.zeros(adapted.n_features_in_),
        scale=np.ones(adapted.n_features_in_),
        temperature=adapted.temperature,
        source=f"{folder}/adapted",
    )
    step = StepCounter(hook, "fitting the speaker-adapted head", total=None)
    adaptation = fit_adaptation(
        lambda: PriorHead(**{**head_params, "prior": prior}),
        copies,
        kept["label"].to_numpy().astype(str),
        speakers,
    )
    step.finish()
    return adaptation
