"""The bundled default model: present, self-describing, and predicting sensibly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import make_tone
from emovox import Recognizer
from emovox.errors import ModelError, ParameterError
from emovox.labels import EMOTIONS
from emovox.recognizer import default_model_path

pytestmark = pytest.mark.skipif(
    not (default_model_path() / "emovox.json").is_file(), reason="no default model bundled"
)


def test_default_model_describes_itself():
    meta = json.loads((default_model_path() / "emovox.json").read_text())
    assert meta["labels"] == list(EMOTIONS)
    assert meta["features"]["name"] == "whisper"
    assert set(meta["training"]["corpora"]) == {"ravdess", "tess", "emodb", "turev"}
    assert meta["training"]["label_policy"] == "merge"
    assert meta["augment"] == "speed+light-noise"


def test_default_model_gives_every_class_a_probability():
    recognizer = Recognizer.load()
    prediction = recognizer.predict(make_tone(duration=2.0), sample_rate=16_000)
    assert list(prediction.probabilities) == list(EMOTIONS)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)


def test_classes_restrict_the_answer_to_the_classes_a_deployment_needs():
    recognizer = Recognizer.load()
    signal = make_tone(duration=2.0)
    every = recognizer.predict(signal, sample_rate=16_000).probabilities
    wanted = ["sad", "neutral", "anger", "happy"]
    restricted = recognizer.predict(signal, sample_rate=16_000, classes=wanted).probabilities
    assert list(restricted) == ["anger", "happy", "sad", "neutral"], "model order, not ours"
    assert sum(restricted.values()) == pytest.approx(1.0)
    kept = sum(every[c] for c in wanted)
    for c in wanted:
        assert restricted[c] == pytest.approx(every[c] / kept, rel=1e-6)
    with pytest.raises(ModelError, match=r"no class 'angry'.*its classes are: anger"):
        recognizer.predict(signal, sample_rate=16_000, classes=["angry", "sad"])
    with pytest.raises(ParameterError, match="at least two classes"):
        recognizer.predict_files(["never-read.wav"], classes=["sad"])


@pytest.mark.corpus
def test_default_model_recognises_clear_ravdess_examples(corpus_root):
    """Strong-intensity RAVDESS clips of six emotions (training data: a smoke test that the
    bundled files, the fast path and the labels fit together, not an accuracy figure)."""
    root = corpus_root("ravdess")
    codes = {
        "05": "anger",
        "06": "fear",
        "07": "disgust",
        "03": "happy",
        "04": "sad",
        "08": "surprise",
    }
    recognizer = Recognizer.load()
    right = 0
    files = 0
    for code, label in codes.items():
        for actor in ("03", "10"):
            path = root / f"Actor_{actor}" / f"03-01-{code}-02-01-01-{actor}.flac"
            right += recognizer.predict(path).label == label
            files += 1
    assert right / files >= 0.75


def test_cli_predict_uses_the_default_model(tmp_path, monkeypatch, capsys):
    import soundfile as sf

    from emovox.interfaces import cli

    path = tmp_path / "tone.wav"
    sf.write(path, make_tone(duration=1.5), 16_000)
    monkeypatch.setattr("sys.argv", ["emovox", "predict", str(path), "--json"])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code or 0
    assert code == 0
    result = json.loads(capsys.readouterr().out)[0]
    assert set(result["probabilities"]) == set(EMOTIONS)
    assert np.isclose(sum(result["probabilities"].values()), 1.0, atol=1e-4)


def test_cli_predict_classes_option(tmp_path, monkeypatch, capsys):
    import soundfile as sf

    from emovox.interfaces import cli

    path = tmp_path / "tone.wav"
    sf.write(path, make_tone(duration=1.5), 16_000)

    def run(*extra: str) -> tuple[int, str, str]:
        monkeypatch.setattr("sys.argv", ["emovox", "predict", str(path), *extra])
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, _ = run("--classes", "anger, sad,neutral", "--json")
    result = json.loads(out)[0]
    assert code == 0 and list(result["probabilities"]) == ["anger", "sad", "neutral"]
    assert result["label"] in {"anger", "sad", "neutral"}
    code, out, _ = run("--classes", "anger,sad,neutral")
    assert code == 0 and "neutr" in out and "fear" not in out
    code, _, err = run("--classes", "joy,sad")
    assert code == 2 and "no class 'joy'" in err and "Traceback" not in err


def test_default_model_refuses_other_encoder_weights(tmp_path, monkeypatch):
    fake = tmp_path / "model.bin"
    fake.write_bytes(b"some other whisper")
    monkeypatch.setenv("EMOVOX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EMOVOX_WHISPER_MODEL", str(fake))
    with pytest.raises(ModelError, match="trained on encoder weights with sha256 d01c3014"):
        Recognizer.load()
    meta = json.loads((default_model_path() / "emovox.json").read_text())
    assert meta["encoder_weights"]["sha256"].startswith("d01c3014")


def test_default_model_ships_an_adapted_head_that_answers_only_with_a_profile():
    from emovox.adaptation import Profile

    recognizer = Recognizer.load()
    assert recognizer.can_adapt
    adaptation = recognizer.adaptation
    assert adaptation.head.n_features_in_ == adaptation.prior.size == 6144
    assert list(adaptation.head.classes_) == sorted(EMOTIONS)
    tone = make_tone(freq=220.0, duration=1.5)
    plain = recognizer.predict_signal(tone, sample_rate=16000)
    assert plain.adapted == 0 and plain.head == "unadapted"
    embedding = recognizer.extractor(tone)
    few = Profile.from_embeddings([embedding] * (adaptation.min_utterances - 1 or 1))
    below = recognizer.with_profile(few).predict_signal(tone, sample_rate=16000)
    if few.count < adaptation.min_utterances:  # too few utterances: the unadapted answer
        assert below.adapted == 0 and below.probabilities == plain.probabilities
    enough = Profile.from_embeddings([embedding] * adaptation.min_utterances)
    adapted = recognizer.with_profile(enough).predict_signal(tone, sample_rate=16000)
    assert adapted.adapted == adaptation.min_utterances and adapted.head == "adapted"
    assert adapted.probabilities != pytest.approx(plain.probabilities, abs=1e-6)


@pytest.mark.corpus
def test_adapting_to_one_actor_answers_every_clip_with_that_actors_profile(corpus_root):
    """Six clips of one RAVDESS actor: --adapt in the CLI and predict_files(adapt=True)
    agree, and each answer was adapted from all six."""
    root = corpus_root("ravdess") / "Actor_07"
    paths = sorted(root.glob("03-01-0[2-8]-02-01-01-07.*"))[:6]
    if len(paths) < 6:
        pytest.skip(f"RAVDESS actor 7's strong-intensity clips are not under {root}")
    recognizer = Recognizer.load()
    results = recognizer.predict_files([str(p) for p in paths], adapt=True)
    assert [r.adapted for r in results] == [6] * 6
    again = recognizer.adapt([str(p) for p in paths]).predict_file(str(paths[0]))
    assert again.probabilities == pytest.approx(results[0].probabilities, abs=1e-9)
