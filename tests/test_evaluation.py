"""Splits never leak speakers; metrics agree with hand computations."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from conftest import write_tone
from emovox.errors import EmovoxError
from emovox.evaluation import (
    CROSS_CORPUS_SHARED,
    SPEAKER_DEPENDENT,
    SPEAKER_INDEPENDENT,
    classification_metrics,
    cross_corpus_folds,
    make_folds,
    speaker_folds,
    summarize_folds,
)


def toy_table(n_speakers: int = 10, per_speaker: int = 6, corpora=("a", "b")) -> pd.DataFrame:
    rows = []
    labels = ["anger", "sad", "neutral"]
    for s in range(n_speakers):
        corpus = corpora[s % len(corpora)]
        for i in range(per_speaker):
            rows.append(
                {
                    "path": f"/x/{corpus}/{s}_{i}.wav",
                    "label": labels[i % 3],
                    "speaker": f"{corpus}:{s}",
                    "gender": "f" if s % 2 else "m",
                    "corpus": corpus,
                }
            )
    return pd.DataFrame(rows)


def test_speaker_folds_never_share_a_speaker_and_cover_every_row():
    table = toy_table()
    folds = speaker_folds(table, n_folds=5)
    assert len(folds) == 5
    seen = np.concatenate([f.test for f in folds])
    assert sorted(seen) == list(range(len(table)))
    for fold in folds:
        train_speakers = set(table["speaker"].iloc[fold.train])
        test_speakers = set(table["speaker"].iloc[fold.test])
        assert train_speakers.isdisjoint(test_speakers)
        assert len(test_speakers) == 2
        genders = set(table["gender"].iloc[fold.test])
        assert genders == {"f", "m"}, "folds should mix genders"


def test_speaker_folds_are_deterministic_and_seeded():
    table = toy_table()
    a = [f.name for f in speaker_folds(table, seed=1)]
    b = [f.name for f in speaker_folds(table, seed=1)]
    c = [f.name for f in speaker_folds(table, seed=2)]
    assert a == b
    assert a != c


def test_few_speakers_fall_back_to_leave_one_speaker_out():
    table = toy_table(n_speakers=3)
    with pytest.warns(UserWarning, match="leave-one-speaker-out"):
        folds = speaker_folds(table, n_folds=5)
    assert len(folds) == 3


def test_one_speaker_is_refused_with_advice():
    table = toy_table(n_speakers=1)
    with pytest.raises(EmovoxError, match="at least 2 speakers"):
        speaker_folds(table)


def test_cross_corpus_holds_out_each_corpus():
    table = toy_table()
    folds = cross_corpus_folds(table)
    assert [f.name for f in folds] == ["test on a", "test on b"]
    for fold in folds:
        assert set(table["corpus"].iloc[fold.train]).isdisjoint(table["corpus"].iloc[fold.test])


def test_cross_corpus_shared_classes_trains_on_the_test_corpus_classes_only():
    table = pd.DataFrame(
        {
            "corpus": ["a"] * 4 + ["b"] * 3,
            "label": ["anger", "sad", "fear", "neutral", "anger", "sad", "happy"],
            "speaker": ["a:1", "a:1", "a:2", "a:2", "b:1", "b:1", "b:2"],
        }
    )
    name, folds = make_folds(table, protocol="cross-corpus-shared")
    assert name == CROSS_CORPUS_SHARED
    by_name = {f.name: f for f in folds}
    assert list(table["label"].iloc[by_name["test on b"].train]) == ["anger", "sad"]
    assert list(by_name["test on b"].test) == [4, 5, 6]
    # b has no fear and no neutral: a's test fold trains on b's anger and sad only
    assert sorted(table["label"].iloc[by_name["test on a"].train]) == ["anger", "sad"]
    lonely = table.assign(label=["fear"] * 4 + ["happy"] * 3)
    with pytest.raises(EmovoxError, match="No other corpus has any of the classes"):
        cross_corpus_folds(lonely, shared_classes=True)


def test_protocol_names_say_whether_speakers_leak():
    table = toy_table()
    assert make_folds(table, protocol="speaker")[0] == SPEAKER_INDEPENDENT
    name, folds = make_folds(table, protocol="random")
    assert name == SPEAKER_DEPENDENT and "speaker-dependent" in name
    assert all("speaker-dependent" in f.name for f in folds)
    with pytest.raises(EmovoxError, match="Unknown protocol"):
        make_folds(table, protocol="magic")


def test_metrics_match_hand_computation():
    truth = ["anger"] * 4 + ["sad"] * 2
    pred = ["anger", "anger", "anger", "sad", "sad", "anger"]
    m = classification_metrics(truth, pred, labels=["anger", "sad", "neutral"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recall anger 3/4, sad 1/2; neutral is absent from the truth and does not count.
    assert m["uar"] == pytest.approx((0.75 + 0.5) / 2)
    assert m["per_class_recall"] == {"anger": 0.75, "sad": 0.5}
    assert m["confusion"] == [[3, 1, 0], [1, 1, 0], [0, 0, 0]]
    # macro-F1 over the present classes: anger P 3/4 R 3/4 -> 0.75; sad P 1/2 R 1/2 -> 0.5
    assert m["macro_f1"] == pytest.approx(0.625)


def test_fold_summary_is_the_sample_standard_deviation():
    folds = [
        {"accuracy": 0.5, "uar": 0.4, "macro_f1": 0.3},
        {"accuracy": 0.7, "uar": 0.4, "macro_f1": float("nan")},
        {"accuracy": 0.9, "uar": 0.7, "macro_f1": 0.5},
    ]
    summary = summarize_folds(folds)
    acc = summary["accuracy"]
    assert acc["mean"] == pytest.approx(0.7)
    # sum of squared deviations 0.08; / (3 - 1) -> 0.2 (population, / 3: 0.163)
    assert acc["std"] == pytest.approx(0.2)
    assert (acc["min"], acc["max"], acc["std_ddof"], acc["n_folds"]) == (0.5, 0.9, 1, 3)
    assert summary["uar"]["mean"] == pytest.approx(0.5)
    assert summary["uar"]["std"] == pytest.approx(np.sqrt(0.06 / 2))
    # A NaN fold is left out of that metric only: 0.3 and 0.5 -> std sqrt(0.02 / 1).
    f1 = summary["macro_f1"]
    assert (f1["mean"], f1["n_folds"]) == (pytest.approx(0.4), 2)
    assert f1["std"] == pytest.approx(np.sqrt(0.02))
    # One fold has no spread: NaN, not a population std of 0.
    assert np.isnan(summarize_folds(folds[:1])["accuracy"]["std"])


def test_expected_calibration_error():
    from emovox.evaluation.metrics import expected_calibration_error

    probs = np.array([[0.9, 0.1]] * 10)
    # 9 of 10 right at confidence 0.9: perfectly calibrated.
    assert expected_calibration_error(probs, np.array([1] * 9 + [0])) == pytest.approx(0.0)
    # All wrong at confidence 0.9: off by 0.9.
    assert expected_calibration_error(probs, np.zeros(10)) == pytest.approx(0.9)


def test_expected_calibration_error_weights_each_bin_by_its_share():
    from emovox.evaluation.metrics import expected_calibration_error

    # Two bins with errors of opposite sign, and the top class not always in column 0:
    # 2 predictions at confidence 0.65, both right: |0.65 - 1.00| = 0.35, weight 0.2;
    # 8 predictions at confidence 0.95, 6 right:    |0.95 - 0.75| = 0.20, weight 0.8.
    probs = np.array([[0.2, 0.65, 0.15]] * 2 + [[0.95, 0.03, 0.02]] * 8)
    correct = np.array([1, 1] + [1] * 6 + [0] * 2)
    ece = expected_calibration_error(probs, correct)
    assert ece == pytest.approx(0.2 * 0.35 + 0.8 * 0.20)  # 0.23
    # One bin for all would give |0.89 - 0.8| = 0.09; an unweighted mean of bins 0.275.
    assert ece != pytest.approx(0.09) and ece != pytest.approx(0.275)
    # A confidence of exactly 1.0 falls in the last bin, not outside every bin.
    assert expected_calibration_error(np.array([[1.0, 0.0]]), np.array([0])) == 1.0


# -- augmentation never leaks test speakers into training ------------------------------
TONE_FEATURES = {"name": "stats", "n_mfcc": 8}


def tone_corpus(root) -> pd.DataFrame:
    """4 speakers x 2 labels x 2 files of 0.4 s, every file at its own pitch."""
    rows = []
    for s in range(4):
        for i in range(2):
            for label, base in (("anger", 500.0), ("sad", 140.0)):
                path = root / f"spk{s}_{label}_{i}.wav"
                freq = base * (1 + 0.05 * s + 0.02 * i)
                write_tone(path, freq=freq, duration=0.4, seed=10 * s + i)
                rows.append(
                    {"path": str(path), "label": label, "speaker": f"spk{s}", "corpus": "tones"}
                )
    return pd.DataFrame(rows)


class RecordingNearestNeighbour:
    """A 1-NN classifier that records every (X, y, groups) it is fitted on."""

    fits: ClassVar[list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]] = []

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, X, y, groups=None):
        self.fits.append((np.asarray(X), np.asarray(y), None if groups is None else groups))
        self.X_, self.y_ = np.asarray(X, dtype=float), np.asarray(y)
        self.classes_ = np.unique(self.y_)
        return self

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        distance = ((X[:, None, :] - self.X_[None, :, :]) ** 2).sum(axis=2)
        nearest = self.y_[np.argmin(distance, axis=1)]
        return (nearest[:, None] == self.classes_[None, :]).astype(float)


def contains_row(matrix: np.ndarray, row: np.ndarray) -> bool:
    distance = np.sqrt(((matrix.astype(np.float64) - row) ** 2).sum(axis=1))
    return bool(distance.min() <= 1e-5 * (1.0 + np.linalg.norm(row)))


def test_augmented_copies_of_test_speakers_never_enter_training(tmp_path, monkeypatch):
    """The features of every training fit are checked row by row against features computed
    here, independently, for each file clean and under each augmentation: no row may come
    from a test-fold speaker, and every training file's augmented copies must be there."""
    from emovox.audio import load_audio
    from emovox.audio.degrade import AUGMENTATIONS
    from emovox.evaluation.experiment import evaluate
    from emovox.features import make_extractor
    from emovox.models import MODELS

    table = tone_corpus(tmp_path)
    augment = "speed"
    monkeypatch.setitem(MODELS, "recording_1nn", RecordingNearestNeighbour)
    monkeypatch.setattr(RecordingNearestNeighbour, "fits", [])
    report = evaluate(
        table, features=TONE_FEATURES, classifier="recording_1nn", n_folds=2, augment=augment
    )
    fits = RecordingNearestNeighbour.fits
    assert len(fits) == len(report["folds"]) == 2, "evaluate must fit one model per fold"

    extractor = make_extractor(TONE_FEATURES)
    signals = {path: load_audio(path) for path in table["path"]}
    transforms = AUGMENTATIONS[augment]
    clean = {p: np.asarray(extractor(x), dtype=np.float64) for p, x in signals.items()}
    copies = {
        p: [np.asarray(extractor(t(x)), dtype=np.float64) for t in transforms]
        for p, x in signals.items()
    }
    for p in signals:  # the check below means something only if copies differ from clean
        assert not any(contains_row(np.stack([clean[p]]), c) for c in copies[p])

    for (X_fit, y_fit, groups_fit), fold in zip(fits, report["folds"], strict=True):
        test_speakers = set(fold["test_speakers"])
        is_test = table["speaker"].isin(test_speakers)
        assert test_speakers and set(table["speaker"][~is_test])
        if groups_fit is not None:
            assert not set(np.asarray(groups_fit)) & test_speakers
        for path in table["path"][is_test]:
            for row in [clean[path], *copies[path]]:
                assert not contains_row(X_fit, row), f"a test-speaker row of {path} was trained on"
        train_paths = list(table["path"][~is_test])
        assert len(X_fit) == len(y_fit) == len(train_paths) * (1 + len(transforms))
        for path in train_paths:
            for row in [clean[path], *copies[path]]:
                assert contains_row(X_fit, row), f"a training row of {path} is missing"


# -- a benchmark runs the pipeline it names, or leaves its row out ----------------------
@pytest.fixture
def predict_speed(monkeypatch):
    """benchmarks/predict_speed.py as a module; the thread settings it makes on import
    are undone afterwards."""
    import importlib.util
    import os

    from conftest import REPO_ROOT

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, "1"))  # restored after the test
    spec = importlib.util.spec_from_file_location(
        "predict_speed", REPO_ROOT / "benchmarks" / "predict_speed.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def speed_results(**extra) -> dict:
    fast = {"warm_ms_3s_clip": 23.6, "seconds_per_clip": 0.031}
    return {
        "machine": {"cpus": 2, "load_average_at_start": (1.8, 2.3, 2.9)},
        "model": "m",
        "pipelines": {"fast": fast, "reference": {"seconds_per_clip": 0.038}, **extra},
        "first_run_with_empty_cache_s": 3.1,
        "first_run_peak_rss_mib": 780.0,
        "agreement": {
            "files": 10,
            "label_agreement": 1.0,
            "max_abs_dp": 0.03,
            "reference_vs_dithered_reference": 1.0,
        },
    }


def test_speed_benchmark_refuses_the_seed_row_without_resampy(predict_speed, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "resampy", None)  # import resampy -> ImportError
    reason = predict_speed.seed_pipeline_missing()
    assert reason is not None and "resampy" in reason and "kaiser_best" in reason
    with pytest.raises(RuntimeError, match="resampy is not installed"):
        predict_speed.seed_pipeline()
    # Left out: no seed row and no ratio, and the reason is in the table.
    table = predict_speed.markdown({**speed_results(), "seed_omitted": reason})
    assert "seed (librosa" not in table and "seed / fast, seconds per clip" not in table
    assert reason in table
    # A seed row timed with another resampler (as the old fallback did) is not shown either.
    other = speed_results(seed={"seconds_per_clip": 0.006})
    table = predict_speed.markdown({**other, "seed_resampler": "soxr_vhq"})
    assert "seed (librosa" not in table and "seed / fast, seconds per clip" not in table


def test_speed_benchmark_reports_the_seed_row_it_ran(predict_speed):
    pytest.importorskip("resampy")
    assert predict_speed.seed_pipeline_missing() is None
    results = {**speed_results(seed={"seconds_per_clip": 0.054}), "seed_resampler": "kaiser_best"}
    assert predict_speed.seed_over_fast(results) == pytest.approx(0.054 / 0.031)
    table = predict_speed.markdown(results)
    assert "| seed (librosa kaiser_best 44.1 kHz + MFCC + Conv2D) | - | 0.054 |" in table
    assert "- seed / fast, seconds per clip: 1.7x" in table
