"""The core API and the CLI end to end, on a tiny synthetic corpus (tones as 'emotions')."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_tone, write_tone
from emovox import Recognizer
from emovox.corpora import load_corpus
from emovox.errors import AudioError, ModelError
from helpers import run_cli, tone_manifest

FEATURES = {"name": "stats", "n_mfcc": 13}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A manifest corpus: 'anger' is a high tone, 'sad' a low one; 4 speakers, 4 files each."""
    root = tmp_path_factory.mktemp("corpus")
    tone_manifest(root, per_label=4)
    return root


@pytest.fixture(scope="module")
def trained(corpus: Path, tmp_path_factory) -> Path:
    table = load_corpus("manifest", corpus / "manifest.csv")
    recognizer = Recognizer.train(table, features=FEATURES, classifier="logreg")
    return recognizer.save(tmp_path_factory.mktemp("model") / "tones")


def test_trained_recognizer_predicts_and_round_trips(trained: Path, tmp_path: Path):
    recognizer = Recognizer.load(trained)
    meta = json.loads((trained / "emovox.json").read_text())
    assert meta["labels"] == ["anger", "sad"]
    assert meta["features"]["name"] == "stats" and meta["sample_rate"] == 16_000
    assert meta["training"]["n_files"] == 32 and len(meta["training"]["speakers"]) == 4
    high = recognizer.predict(make_tone(freq=610.0, seed=99), sample_rate=16_000)
    low = recognizer.predict(make_tone(freq=118.0, seed=98), sample_rate=16_000)
    assert (high.label, low.label) == ("anger", "sad")
    assert sum(high.probabilities.values()) == pytest.approx(1.0)
    assert set(high.probabilities) == {"anger", "sad"}
    # A file at another rate, in stereo, gives the same answer as the array.
    path = write_tone(tmp_path / "x.wav", freq=610.0, sr=44_100, channels=2, seed=99)
    assert recognizer.predict(path).label == "anger"
    again = Recognizer.load(recognizer.save(tmp_path / "copy"))
    tone = make_tone(freq=300.0)
    assert again.predict_signal(tone, sample_rate=16_000).probabilities == pytest.approx(
        recognizer.predict_signal(tone, sample_rate=16_000).probabilities
    )


def test_bad_inputs_raise_audio_error(trained: Path, tmp_path: Path):
    recognizer = Recognizer.load(trained)
    with pytest.raises(AudioError, match="NaN"):
        recognizer.predict(np.full(16_000, np.nan, dtype=np.float32), sample_rate=16_000)
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    results = recognizer.predict_files([text, write_tone(tmp_path / "ok.wav")])
    assert "Cannot decode" in results[0].error
    assert results[1].label in {"anger", "sad"}


def test_load_rejects_non_model_folders(tmp_path: Path):
    with pytest.raises(ModelError, match="not an emovox model folder"):
        Recognizer.load(tmp_path)
    (tmp_path / "emovox.json").write_text("{broken")
    with pytest.raises(ModelError, match="not valid JSON"):
        Recognizer.load(tmp_path)


def test_cli_predict_table_json_and_errors(trained: Path, tmp_path: Path, monkeypatch, capsys):
    good = write_tone(tmp_path / "good.wav", freq=600.0)
    code, out, _ = run_cli(monkeypatch, capsys, "predict", str(good), "--model", str(trained))
    assert code == 0 and "anger" in out and "sad" in out
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    short = write_tone(tmp_path / "short.wav", duration=0.1)
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "predict",
        str(good),
        str(empty),
        str(short),
        "--model",
        str(trained),
        "--json",
    )
    results = json.loads(out)
    assert code == 1, "a batch with failures exits 1 after printing every result"
    assert results[0]["label"] == "anger"
    assert "empty" in results[1]["error"] and "0.10 s" in results[2]["error"]
    assert "Traceback" not in err


def test_cli_reports_missing_model_without_traceback(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, "predict", "x.wav", "--model", str(tmp_path))
    assert code == 2 and "not an emovox model folder" in err and "Traceback" not in err


def test_cli_record_without_microphone_says_so_before_announcing(tmp_path, monkeypatch, capsys):
    from emovox.audio import record as record_module
    from emovox.errors import DeviceError

    def no_microphone(*_, **__):
        raise DeviceError("No microphone (input device) found.")

    monkeypatch.setattr(record_module, "ensure_input_device", no_microphone)
    for args in (("record", str(tmp_path / "me.wav")), ("predict", "--record")):
        code, _, err = run_cli(monkeypatch, capsys, *args)
        assert code == 2 and "No microphone" in err
        assert "Recording" not in err, "nothing is announced before the microphone is found"


@pytest.mark.parametrize("duration", ["0", "-1", "nan", "inf"])
def test_cli_rejects_a_bad_duration_before_announcing(duration, tmp_path, monkeypatch, capsys):
    from emovox.audio import record as record_module

    monkeypatch.setattr(record_module, "ensure_input_device", lambda *a, **k: pytest.fail())
    for command in (("record", str(tmp_path / "me.wav")), ("predict", "--record")):
        code, _, err = run_cli(monkeypatch, capsys, *command, "--duration", duration)
        assert code == 2 and "Recording" not in err and "Traceback" not in err
        assert "duration" in err


def test_cli_predict_record_announces_once_the_stream_is_open(trained: Path, monkeypatch, capsys):
    from emovox.audio import record as record_module
    from emovox.audio.record import InputDevice

    events = []
    mic = InputDevice(index=3, name="Test mic", max_input_channels=1,
                      default_samplerate=16_000.0, is_default=True)  # fmt: skip
    monkeypatch.setattr(record_module, "ensure_input_device", lambda *a, **k: mic)

    def fake_record(*, duration, device, on_start=None, **_):
        events.append(("open", device))
        on_start()
        return make_tone(freq=600.0, duration=duration)

    monkeypatch.setattr(record_module, "record", fake_record)
    code, out, err = run_cli(
        monkeypatch, capsys, "predict", "--record", "--duration", "1.5",
        "--model", str(trained), "--json",
    )  # fmt: skip
    assert code == 0 and events == [("open", 3)]
    assert "Recording 1.5 s from 'Test mic'" in err
    assert json.loads(out)[0]["label"] == "anger"


def test_cli_evaluate_is_speaker_independent_and_writes_report(
    corpus: Path, tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.setenv("EMOVOX_CACHE", str(tmp_path / "cache"))
    out_dir = tmp_path / "report"
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "evaluate",
        "-c",
        f"manifest={corpus / 'manifest.csv'}",
        "-f",
        json.dumps(FEATURES),
        "--classifier",
        "logreg",
        "--folds",
        "2",
        "--out",
        str(out_dir),
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["protocol"] == "speaker-independent"
    assert report["n_folds"] == 2 and report["n_speakers"] == 4
    assert report["summary"]["uar"]["mean"] > 0.9
    for fold in report["folds"]:
        assert len(fold["test_speakers"]) == 2
    assert {p.name for p in out_dir.iterdir()} >= {
        "report.json",
        "predictions.csv",
        "confusion.csv",
        "confusion.png",
    }
    # The second run reads every feature from the cache.
    cached = list((tmp_path / "cache").rglob("*.npy"))
    assert len(cached) == 32


def test_evaluate_with_augmentation_and_degraded_test_audio(corpus: Path, tmp_path: Path):
    from emovox.audio.degrade import AddNoise
    from emovox.evaluation.experiment import evaluate
    from emovox.features import FeatureCache

    table = load_corpus("manifest", corpus / "manifest.csv")
    cache = FeatureCache(tmp_path / "cache")
    report = evaluate(
        table,
        features=FEATURES,
        classifier="logreg",
        n_folds=2,
        cache=cache,
        augment="speed",
        test_conditions={"noise 10 dB": AddNoise(10), "noise -30 dB": AddNoise(-30)},
    )
    assert report["augment"] == "speed"
    noisy, drowned = report["conditions"]["noise 10 dB"], report["conditions"]["noise -30 dB"]
    assert noisy["key"] == "noise10dB-seed0"
    assert report["summary"]["uar"]["mean"] > 0.9
    # Each condition is scored on its own degraded copy of the test audio: the tones are
    # still told apart at 10 dB SNR, and not at all under noise 30 dB louder than them.
    assert noisy["summary"]["uar"]["mean"] > 0.8
    assert drowned["summary"]["uar"]["mean"] < 0.7  # chance: 0.5
    assert drowned["pooled"]["n"] == noisy["pooled"]["n"] == len(table)
    # Clean, two speed copies and the two noisy copies are each cached once per file.
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 5 * len(table)


def test_evaluate_is_near_chance_when_labels_do_not_follow_the_audio(corpus: Path):
    from emovox.evaluation.experiment import evaluate

    table = load_corpus("manifest", corpus / "manifest.csv")
    separable = evaluate(table, features=FEATURES, classifier="logreg", n_folds=2)
    # Relabel by file number instead of pitch: each speaker now has both labels at both
    # pitches, so nothing in the audio tells the classes apart.
    parity = table["path"].str.extract(r"_(\d)\.wav$")[0].astype(int) % 2
    unrelated = table.assign(label=parity.map({0: "anger", 1: "sad"}))
    chance = evaluate(unrelated, features=FEATURES, classifier="logreg", n_folds=2)
    assert separable["summary"]["uar"]["mean"] > 0.9
    assert chance["summary"]["uar"]["mean"] < 0.85  # chance 0.5; seeds 0-9 gave 0.59-0.75
