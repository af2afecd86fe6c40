"""Classes of the user's own: loading, training, and every way a model answers with them."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_tone, write_tone
from emovox import Recognizer
from emovox.corpora import load_corpus
from emovox.errors import CorpusError, ModelError, ParameterError
from emovox.labels import (
    check_custom_labels,
    class_order,
    clean_custom_label,
    label_order,
)
from helpers import run_cli

FEATURES = {"name": "stats"}
# Names a user might choose: a space, upper case, letters outside ASCII (stored NFD on
# disk, as macOS writes them), and an emotion synonym used as a plain name.
CLASSES = {"Very calm": 140.0, "frustrated": 420.0, "ärgerlich": 900.0}


# -- names -----------------------------------------------------------------------------------


def test_clean_custom_label_keeps_case_and_letters_but_normalises_space_and_unicode():
    decomposed = unicodedata.normalize("NFD", "ärgerlich")
    assert decomposed != "ärgerlich"
    assert clean_custom_label(decomposed) == "ärgerlich"
    assert clean_custom_label("  Very \t calm ") == "Very calm"
    assert clean_custom_label("Frustrated") == "Frustrated"
    assert clean_custom_label("😠 angry") == "😠 angry"


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "empty"), ("   ", "empty"), ("calm,ish", "comma"), ("a\x00b", "control"),
     ("Speech", "timeline"), ("channel", "timeline")],
)  # fmt: skip
def test_clean_custom_label_refuses_unusable_names(name, message):
    with pytest.raises(ParameterError, match=message):
        clean_custom_label(name)


def test_names_differing_only_in_case_are_refused():
    with pytest.raises(ParameterError, match="'Calm' and 'calm'"):
        check_custom_labels(["Calm", "calm", "tense"])
    assert check_custom_labels(["tense", "Calm", "anger"]) == ["anger", "Calm", "tense"]


def test_class_order_is_canonical_for_emotions_and_alphabetical_for_own_names():
    assert label_order(["zeta", "Alpha", "sad", "beta", "anger"]) == [
        "anger", "sad", "Alpha", "beta", "zeta"
    ]  # fmt: skip
    assert class_order(["neutral", "sad", "anger", "calm"]) == ["anger", "sad", "neutral", "calm"]
    assert class_order(["calm", "aroused"]) == ["aroused", "calm"]
    assert class_order(["Zorn", "anger", "ärger"]) == ["anger", "Zorn", "ärger"]


# -- loaders -------------------------------------------------------------------------------


def write_folder(root: Path, names: dict[str, float], *, per_class: int = 6) -> Path:
    for name, freq in names.items():
        folder = unicodedata.normalize("NFD", name)  # what macOS file systems hand back
        for i in range(per_class):
            write_tone(root / folder / f"{i}.wav", freq=freq * (1 + 0.02 * i), seed=i)
    return root


def test_folder_with_custom_labels_takes_names_as_written(tmp_path):
    root = write_folder(tmp_path / "clips", CLASSES, per_class=2)
    table = load_corpus("folder", root, labels="custom")
    assert sorted(set(table["label"])) == sorted(CLASSES)
    assert set(table["speaker"]) == {"folder:unknown"}


def test_folder_with_unknown_names_points_to_custom_labels(tmp_path):
    root = write_folder(tmp_path / "clips", {"frustrated": 300.0, "angry": 500.0}, per_class=1)
    with pytest.raises(CorpusError, match=r"frustrated.*--labels custom"):
        load_corpus("folder", root)
    with pytest.raises(ParameterError, match="Unknown label mode"):
        load_corpus("folder", root, labels="weird")  # type: ignore[arg-type]


def test_folder_names_differing_only_in_case_are_refused(tmp_path):
    root = write_folder(tmp_path / "clips", {"Calm": 200.0, "calm": 300.0}, per_class=1)
    if len(list(root.iterdir())) < 2:
        pytest.skip("case-insensitive file system")
    with pytest.raises(CorpusError, match="differ in more than case"):
        load_corpus("folder", root, labels="custom")


def test_manifest_with_custom_labels(tmp_path):
    for name in ("a.wav", "b.wav", "c.wav"):
        write_tone(tmp_path / name)
    csv = tmp_path / "m.csv"
    csv.write_text("path,label,speaker\na.wav, Very  calm ,s1\nb.wav,Ärger,s2\nc.wav,angry,s1\n")
    table = load_corpus("manifest", csv, labels="custom")
    assert table["label"].tolist() == ["Very calm", "Ärger", "angry"]  # no synonyms
    assert table["original_label"].tolist() == ["Very  calm", "Ärger", "angry"]
    with pytest.raises(CorpusError, match=r"Ärger.*--labels custom"):
        load_corpus("manifest", csv)
    csv.write_text('path,label\na.wav,calm\nb.wav,"tense, a bit"\n')
    with pytest.raises(CorpusError, match=r"line\(s\) 3.*comma"):
        load_corpus("manifest", csv, labels="custom")


# -- a model with custom classes, everywhere it answers ----------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    return write_folder(tmp_path_factory.mktemp("own") / "clips", CLASSES)


@pytest.fixture(scope="module")
def model(clips: Path, tmp_path_factory) -> Path:
    from emovox.training import train

    table = load_corpus("folder", clips, labels="custom")
    recognizer = train(table, features=FEATURES, classifier="logreg", labels="custom")
    return recognizer.save(tmp_path_factory.mktemp("model") / "custom")


def test_model_answers_with_the_users_class_names(model: Path):
    recognizer = Recognizer.load(model)
    assert recognizer.labels == ["frustrated", "Very calm", "ärgerlich"]
    meta = json.loads((model / "emovox.json").read_text())
    assert meta["labels"] == recognizer.labels and meta["training"]["label_mode"] == "custom"
    estimate = meta["training"]["estimate"]  # a folder corpus: estimated by default
    assert estimate["protocol"]["speaker_independent"] is False
    assert "optimistic" in estimate["protocol"]["description"]
    for name, freq in CLASSES.items():
        prediction = recognizer.predict(make_tone(freq=freq * 1.03, seed=42), sample_rate=16_000)
        assert prediction.label == name
        assert set(prediction.probabilities) == set(CLASSES)
    chosen = recognizer.predict(
        make_tone(freq=430.0, seed=3), sample_rate=16_000, classes="very CALM, Frustrated"
    )
    assert set(chosen.probabilities) == {"frustrated", "Very calm"}
    assert chosen.label == "frustrated"
    with pytest.raises(ModelError, match="anger"):
        recognizer.check_classes("anger,frustrated")


def test_cli_train_and_predict_with_custom_labels(clips, tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "-c", f"folder={clips}", "-f", "stats",
        "--classifier", "logreg", "--out", str(tmp_path / "bad"),
    )  # fmt: skip
    assert code == 2 and "--labels custom" in err
    code, out, err = run_cli(
        monkeypatch, capsys, "train", "-c", f"folder={clips}", "--labels", "custom",
        "-f", "stats", "--classifier", "logreg", "--out", str(tmp_path / "m"), "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["labels"] == ["frustrated", "Very calm", "ärgerlich"]
    assert summary["estimate"]["confusion"] and len(summary["estimate"]["confusion"]) == 3
    clip = write_tone(tmp_path / "x.wav", freq=910.0, seed=5)
    code, out, err = run_cli(
        monkeypatch, capsys, "predict", str(clip), "--model", str(tmp_path / "m"), "--json",
        "--classes", "ÄRGERLICH,very calm",
    )  # fmt: skip
    assert code == 0, err
    answer = json.loads(out)[0]
    assert answer["label"] == "ärgerlich"
    assert set(answer["probabilities"]) == {"ärgerlich", "Very calm"}
    code, out, err = run_cli(
        monkeypatch, capsys, "predict", str(clip), "--model", str(tmp_path / "m")
    )  # fmt: skip
    assert code == 0, err
    assert " class " in out and " emotion " not in out and "ärgerlich" in out


def test_batch_rows_and_http_use_the_custom_names(model: Path, clips: Path, tmp_path: Path):
    from fastapi.testclient import TestClient

    from emovox.batch import predict_folder
    from emovox.interfaces.http import create_app

    summary = predict_folder(clips, tmp_path / "rows.csv", model=model, jobs=1)
    assert summary.failed == 0
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert {"p_frustrated", "p_Very calm", "p_ärgerlich"} <= set(rows.columns)
    assert set(rows["label"]) <= set(CLASSES)
    recognizer = Recognizer.load(model)
    with TestClient(create_app(model=recognizer)) as client:
        models = client.get("/v1/models").json()
        assert models[0]["labels"] == ["frustrated", "Very calm", "ärgerlich"]
        wav = (clips / unicodedata.normalize("NFD", "frustrated") / "0.wav").read_bytes()
        response = client.post(
            "/v1/predict",
            params={"classes": "Very calm,frustrated"},
            files={"file": ("a.wav", wav, "audio/wav")},
        )
        assert response.status_code == 200, response.text
        assert set(response.json()["probabilities"]) == {"Very calm", "frustrated"}


def test_timeline_records_and_summary_keep_names_with_spaces():
    from emovox.timeline import summary, timeline_records

    index = pd.MultiIndex.from_tuples([(0.0, 3.0), (3.0, 6.0)], names=["start", "end"])
    frame = pd.DataFrame(
        {
            "channel": ["mix", "mix"],
            "label": ["Very calm", "ärgerlich"],
            "confidence": [0.7, 0.6],
            "p_Very calm": [0.7, 0.4],
            "p_ärgerlich": [0.3, 0.6],
        },
        index=index,
    )
    records = timeline_records(frame)
    assert records[0]["probabilities"] == {"Very calm": 0.7, "ärgerlich": 0.3}
    assert records[1]["label"] == "ärgerlich"
    shares = summary(frame)
    assert shares.loc["mix", "Very calm"] == pytest.approx(0.5)
    assert np.isclose(shares.loc["mix", ["Very calm", "ärgerlich"]].sum(), 1.0)


def test_training_checks_the_label_mode_before_any_work(tmp_path):
    from emovox.training import train

    table = pd.DataFrame(
        {"path": ["/nowhere/a.wav", "/nowhere/b.wav"], "label": ["frustrated", "anger"],
         "speaker": ["x", "y"], "corpus": ["manifest", "manifest"]}
    )  # fmt: skip
    with pytest.raises(ParameterError, match=r"'frustrated'.*--labels custom"):
        train(table, features=FEATURES)
    table["label"] = ["Calm", "calm"]
    with pytest.raises(ParameterError, match="differ in more than case"):
        train(table, features=FEATURES, labels="custom")
