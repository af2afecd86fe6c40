"""Training on top of the default model: the prior head, its folding, the honest report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emovox.errors import ModelError, ParameterError
from emovox.from_default import DefaultPrior, PriorHead, prior_matrix
from emovox.linear_head import collapse_linear
from emovox.training_report import (
    data_warnings,
    estimate_accuracy,
    fit_temperature,
    plan_folds,
    prediction_warnings,
    report_lines,
)

DIM = 40
PRIOR_CLASSES = ["anger", "happy", "neutral", "sad"]


def synthetic_domain(*, shift: float, n_per_class: int, seed: int, new: bool = False):
    """Embeddings where class ``c`` sits at ``centre[c]``, plus a domain ``shift`` along a
    direction the prior never saw; ``new`` adds a class 'frustrated'."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(0, 1.0, (5, DIM))
    direction = np.random.default_rng(7).normal(0, 1.0, DIM)
    names = PRIOR_CLASSES + (["frustrated"] if new else [])
    X, y = [], []
    for i, name in enumerate(names):
        X.append(centres[i] + shift * direction * (i % 2) + rng.normal(0, 1.0, (n_per_class, DIM)))
        y += [name] * n_per_class
    return np.concatenate(X) * 0.5 + 3.0, np.array(y)


@pytest.fixture(scope="module")
def prior() -> DefaultPrior:
    """A prior fitted the default model's way (layer selection, scaler, balanced LR,
    temperature) on the unshifted domain."""
    from emovox.models.embedding_head import TemperatureScaled, layer_logreg

    X, y = synthetic_domain(shift=0.0, n_per_class=60, seed=0)
    groups = np.arange(len(y)) % 6
    model = TemperatureScaled(estimator=layer_logreg(layers=(1, 2), n_layers=2, C=0.1))
    model.fit(X, y, groups=groups)
    return DefaultPrior.from_estimator(model)


def test_prior_reads_a_fitted_head_and_its_standardisation(prior):
    X, _ = synthetic_domain(shift=0.0, n_per_class=5, seed=1)
    assert list(prior.classes) == PRIOR_CLASSES and prior.temperature != 1.0
    assert prior.mean == pytest.approx(np.full(DIM, prior.mean.mean()), abs=1.0)
    # the calibrated logits give the prior's probabilities
    assert prior.predict_proba(X).sum(axis=1) == pytest.approx(1.0)
    restricted = prior.predict_proba(X, classes=["sad", "anger"])
    full = prior.predict_proba(X)
    expected = full[:, [3, 0]] / full[:, [3, 0]].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(restricted, expected, atol=1e-12)


def test_prior_matrix_matches_names_and_synonyms():
    matrix = prior_matrix(["Angry", "frustrated", "sad"], PRIOR_CLASSES)
    np.testing.assert_array_equal(matrix, [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]])


def test_strong_penalties_give_back_the_prior(prior):
    X, y = synthetic_domain(shift=0.0, n_per_class=20, seed=2)
    head = PriorHead(prior=prior, alpha=1e9, beta=1e9).fit(X, y)
    np.testing.assert_allclose(head.A_, prior_matrix(list(head.classes_), prior.classes), atol=1e-5)
    assert np.abs(head.V_).max() < 1e-5
    # only the free class biases differ from the prior: same ranking on balanced data
    agree = np.mean(head.predict(X) == prior.classes[np.argmax(prior.logits(X), axis=1)])
    assert agree > 0.95


def test_head_folds_into_one_linear_layer_for_the_fast_path(prior):
    X, y = synthetic_domain(shift=1.0, n_per_class=15, seed=3, new=True)
    head = PriorHead(prior=prior, alpha=1.0, beta=10.0).fit(X, y)
    assert list(head.classes_) == ["anger", "frustrated", "happy", "neutral", "sad"]
    test = X + np.random.default_rng(4).normal(0, 0.3, X.shape)
    linear = head.linear_head()
    np.testing.assert_allclose(linear.predict_proba(test), head.predict_proba(test), atol=1e-10)
    for temperature in (None, 1.7):
        estimator = head.to_estimator(temperature=temperature)
        folded = collapse_linear(estimator)
        assert folded is not None and folded.temperature == temperature
        np.testing.assert_allclose(
            folded.predict_proba(test), head.linear_head(temperature).predict_proba(test),
            atol=1e-9,
        )  # fmt: skip
        np.testing.assert_allclose(
            estimator.predict_proba(test), folded.predict_proba(test), atol=1e-9
        )


def test_binary_custom_classes_fold_too(prior):
    X, y = synthetic_domain(shift=0.0, n_per_class=15, seed=5)
    aroused = np.where(np.isin(y, ["anger", "happy"]), "aroused", "calm")
    head = PriorHead(prior=prior).fit(X, aroused)
    estimator = head.to_estimator()
    assert estimator.coef_.shape == (1, DIM)
    np.testing.assert_allclose(estimator.predict_proba(X), head.predict_proba(X), atol=1e-9)
    assert np.mean(head.predict(X) == aroused) > 0.9


def test_row_space_solution_equals_the_full_one(prior, monkeypatch):
    """Fewer clips than dimensions: the optimum is found in the clips' row space; it must
    be the same optimum as in the full space."""
    import emovox.from_default as module

    X, y = synthetic_domain(shift=1.0, n_per_class=4, seed=6)  # 16 rows < 40 dims
    fast = PriorHead(prior=prior, alpha=1.0, beta=5.0, tol=1e-10, max_iter=5000).fit(X, y)
    monkeypatch.setattr(module, "_row_space", lambda Z: (Z, np.eye(Z.shape[1])))
    full = PriorHead(prior=prior, alpha=1.0, beta=5.0, tol=1e-10, max_iter=5000).fit(X, y)
    np.testing.assert_allclose(fast.weight_, full.weight_, atol=1e-4)
    np.testing.assert_allclose(fast.bias_, full.bias_, atol=1e-4)


def test_clips_from_a_shifted_domain_beat_the_prior_alone(prior):
    """The point of the method: a domain the prior never saw, a few labelled clips, a
    clear gain on new clips of that domain."""
    X, y = synthetic_domain(shift=4.0, n_per_class=10, seed=8)
    X_test, y_test = synthetic_domain(shift=4.0, n_per_class=200, seed=9)
    before = np.mean(prior.classes[np.argmax(prior.logits(X_test), axis=1)] == y_test)
    after = np.mean(
        PriorHead(prior=prior, alpha=1.0, beta=10.0).fit(X, y).predict(X_test) == y_test
    )
    assert after > before + 0.1, (before, after)


def test_bad_parameters_and_inputs(prior):
    X, y = synthetic_domain(shift=0.0, n_per_class=3, seed=10)
    for bad in ({"alpha": 0}, {"beta": -1.0}, {"alpha": True}, {"space": "x"}):
        with pytest.raises(ParameterError):
            PriorHead(prior=prior, **bad).fit(X, y)
    with pytest.raises(ParameterError, match="prior"):
        PriorHead().fit(X, y)
    with pytest.raises(ParameterError, match="two classes"):
        PriorHead(prior=prior).fit(X, np.full(len(y), "sad"))
    with pytest.raises(ParameterError, match="features per row"):
        PriorHead(prior=prior).fit(X[:, :5], y)
    with pytest.raises(ParameterError, match="no parameter"):
        PriorHead().set_params(gamma=1.0)
    with pytest.raises(ModelError, match="linear softmax"):
        DefaultPrior.from_estimator(object())


# -- the honest report -------------------------------------------------------------------------


def test_folds_are_by_speaker_when_speakers_are_known():
    y = np.array(["a", "b"] * 12)
    speakers = np.array([f"manifest:s{i % 4}" for i in range(24)])
    folds, protocol = plan_folds(y, speakers)
    assert protocol["speaker_independent"] and protocol["n_folds"] == 4
    for train, test in folds:
        assert not set(speakers[train]) & set(speakers[test])
    unknown = np.array(["folder:unknown"] * 24)
    folds, protocol = plan_folds(y, unknown)
    assert not protocol["speaker_independent"] and "optimistic" in protocol["description"]
    assert len(folds) == 5
    _, protocol = plan_folds(np.array(["a", "b", "b"]), np.array(["folder:unknown"] * 3))
    assert "no estimate" in protocol["reason"]


def test_estimate_accuracy_reports_confusion_and_warnings(prior):
    X, y = synthetic_domain(shift=0.0, n_per_class=12, seed=11)
    speakers = np.array([f"manifest:s{i % 3}" for i in range(len(y))])
    labels = ["anger", "happy", "sad", "neutral"]

    def fit(X_fold, y_fold, groups):
        return PriorHead(prior=prior).fit(X_fold, y_fold)

    report, proba = estimate_accuracy(fit, X, y, speakers, labels=labels)
    assert report["protocol"]["speaker_independent"]
    assert np.asarray(report["confusion"]).sum() == len(y)
    assert report["uar"] > 0.8 and proba.shape == (len(y), 4)
    assert 0.05 <= fit_temperature(proba, y, labels) <= 20
    assert 1.0 <= fit_temperature(proba, y, labels, lowest=1.0) <= 20
    text = "\n".join(report_lines(report))
    assert "speaker-independent" in text and "recall" in text
    json.dumps(report)  # JSON-able, as saved in emovox.json


def test_warnings_for_few_clips_one_speaker_and_collapse():
    y = np.array(["a"] * 12 + ["b"] * 4)
    speakers = np.array(["m:s1"] * 6 + ["m:s2"] * 6 + ["m:s1"] * 4)
    notes = data_warnings(y, speakers)
    assert any("Few clips in 'b' (4)" in n for n in notes)
    assert any("'b'" in n and "one speaker" in n for n in notes)
    collapsed = prediction_warnings([[10, 0, 0], [9, 1, 0], [8, 0, 2]], ["a", "b", "c"])
    assert any("collapse onto 'a'" in n for n in collapsed)
    assert prediction_warnings([[5, 0], [0, 5]], ["a", "b"]) == []
    assert any("never predicted" in n for n in prediction_warnings([[5, 0], [5, 0]], ["a", "b"]))


# -- end to end, on the real default model ------------------------------------------------------


@pytest.mark.slow
def test_cli_from_default_with_emotions_and_custom_labels(tmp_path, monkeypatch, capsys):
    """`emovox train -c folder=... --from-default` then `emovox predict --model`, with
    emotion folder names and with names of one's own (Whisper features of short buzzes)."""
    import soundfile as sf

    from emovox.recognizer import Recognizer
    from helpers import buzz, run_cli

    monkeypatch.setenv("EMOVOX_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "clips"
    for folder, f0 in (("angry", 180.0), ("Sad", 90.0)):
        (root / folder).mkdir(parents=True)
        for i in range(4):
            sf.write(root / folder / f"{i}.wav", buzz(1.0, f0=f0 * (1 + 0.03 * i), seed=i), 16000)
    code, out, err = run_cli(
        monkeypatch, capsys, "train", "-c", f"folder={root}", "--from-default",
        "--out", str(tmp_path / "emo"), "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["labels"] == ["anger", "sad"]
    assert summary["estimate"]["protocol"]["speaker_independent"] is False
    assert any("Few clips" in w for w in summary["warnings"])
    recognizer = Recognizer.load(tmp_path / "emo")
    assert recognizer.fast and recognizer.labels == ["anger", "sad"]
    code, out, err = run_cli(
        monkeypatch, capsys, "predict", str(root / "angry" / "0.wav"), "--model",
        str(tmp_path / "emo"), "--json",
    )  # fmt: skip
    assert code == 0, err
    assert set(json.loads(out)[0]["probabilities"]) == {"anger", "sad"}

    (root / "angry").rename(root / "Very tense")
    code, out, err = run_cli(
        monkeypatch, capsys, "train", "-c", f"folder={root}", "--from-default",
        "--labels", "custom", "--out", str(tmp_path / "own"),
    )  # fmt: skip
    assert code == 0, err
    assert "NOT speaker-independent" in out and "Confusion matrix" in out
    assert (tmp_path / "own" / "confusion.png").is_file()
    code, out, err = run_cli(
        monkeypatch, capsys, "predict", str(root / "Sad" / "1.wav"), "--model",
        str(tmp_path / "own"), "--json",
    )  # fmt: skip
    assert code == 0, err
    assert set(json.loads(out)[0]["probabilities"]) == {"Sad", "Very tense"}


def test_from_default_refuses_a_classifier_or_features(tmp_path, monkeypatch, capsys):
    from helpers import run_cli

    code, _, err = run_cli(
        monkeypatch, capsys, "train", "-c", f"folder={tmp_path}", "--from-default",
        "--classifier", "svm", "--out", str(tmp_path / "m"),
    )  # fmt: skip
    assert code == 2 and "--classifier" in err


def test_from_default_needs_a_whisper_linear_model(tmp_path: Path):
    from sklearn.linear_model import LogisticRegression

    from emovox.model_folder import write_model_folder

    model = LogisticRegression().fit(np.eye(4), ["a", "b", "a", "b"])
    folder = write_model_folder(
        tmp_path / "stats", labels=["a", "b"], features={"name": "stats"}, model=model,
        metadata={},
    )  # fmt: skip
    with pytest.raises(ModelError, match="Whisper"):
        DefaultPrior.from_folder(folder)


def test_no_estimate_when_every_class_is_one_speaker():
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.array(["a"] * 10 + ["b"] * 10)
    speakers = np.array(["m:1"] * 10 + ["m:2"] * 10)
    report, proba = estimate_accuracy(
        lambda X, y, g: LogisticRegression().fit(X, y), X, y, speakers, labels=["a", "b"]
    )
    assert proba is None and "uar" not in report
    assert "no estimate" in report["warnings"][0]
    assert "no estimate" in report_lines(report)[0]


@pytest.mark.slow
def test_from_default_with_known_speakers_composes_with_speaker_adaptation(
    tmp_path, monkeypatch, capsys
):
    """Clips of three speakers (a manifest with a speaker column): the model gets an adapted
    head too, pulled toward the default's adapted head, and `predict --adapt` uses it."""
    import soundfile as sf

    from emovox.recognizer import Recognizer
    from helpers import buzz, run_cli

    monkeypatch.setenv("EMOVOX_CACHE", str(tmp_path / "cache"))
    lines = ["path,label,speaker"]
    for s, shift in enumerate((1.0, 1.15, 0.9)):
        for label, f0 in (("angry", 170.0), ("sad", 95.0)):
            for i in range(3):
                name = f"s{s}_{label}{i}.wav"
                signal = buzz(1.0, f0=f0 * shift * (1 + 0.03 * i), seed=10 * s + i)
                sf.write(tmp_path / name, signal, 16000)
                lines.append(f"{name},{label},spk{s}")
    (tmp_path / "clips.csv").write_text("\n".join(lines) + "\n")
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "-c", f"manifest={tmp_path / 'clips.csv'}",
        "--from-default", "--out", str(tmp_path / "model"), "--json",
    )  # fmt: skip
    assert code == 0, err
    recognizer = Recognizer.load(tmp_path / "model")
    assert recognizer.can_adapt and recognizer.labels == ["anger", "sad"]
    assert list(recognizer.adaptation.head.classes_) == ["anger", "sad"]
    files = [str(tmp_path / f"s1_{label}{i}.wav") for label in ("angry", "sad") for i in range(3)]
    code, out, err = run_cli(
        monkeypatch, capsys, "predict", "--model", str(tmp_path / "model"), "--adapt",
        "--json", *files,
    )  # fmt: skip
    assert code == 0, err
    answers = json.loads(out)
    with_speech = sum(a["speech"] is not False for a in answers)  # the profile's utterances
    assert with_speech >= recognizer.adaptation.min_utterances
    assert {a["adapted"] for a in answers} == {with_speech}
    assert {a["head"] for a in answers} == {"adapted"}
    assert set(answers[0]["probabilities"]) == {"anger", "sad"}
