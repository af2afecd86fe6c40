"""Splits never leak speakers; metrics agree with hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
    summary = summarize_folds([m, {**m, "accuracy": 1.0}])
    assert summary["accuracy"]["mean"] == pytest.approx((4 / 6 + 1) / 2)
    assert summary["uar"]["std"] == pytest.approx(0.0)


def test_expected_calibration_error():
    from emovox.evaluation.metrics import expected_calibration_error

    probs = np.array([[0.9, 0.1]] * 10)
    # 9 of 10 right at confidence 0.9: perfectly calibrated.
    assert expected_calibration_error(probs, np.array([1] * 9 + [0])) == pytest.approx(0.0)
    # All wrong at confidence 0.9: off by 0.9.
    assert expected_calibration_error(probs, np.zeros(10)) == pytest.approx(0.9)
