"""Speaker adaptation: the profile arithmetic, the adapted head, and the Recognizer API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_tone, write_tone
from emovox import Recognizer
from emovox.adaptation import (
    Adaptation,
    Profile,
    centre_by_group,
    copy_groups,
    fit_adaptation,
)
from emovox.errors import AudioError, ModelError, ParameterError
from emovox.models import make_model


def test_profile_running_mean_equals_the_mean_and_shrinks_toward_the_prior():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 5))
    profile = Profile.empty(5)
    for x in X:
        profile = profile.add(x)
    assert profile.count == 7
    np.testing.assert_allclose(profile.mean, X.mean(0))
    np.testing.assert_allclose(Profile.from_embeddings(X).mean, X.mean(0))
    prior = np.full(5, 10.0)
    np.testing.assert_allclose(profile.reference(prior, 0.0), X.mean(0))
    np.testing.assert_allclose(profile.reference(prior, 7.0), (X.mean(0) + prior) / 2)
    with pytest.raises(ParameterError):
        profile.add(np.zeros(3))
    with pytest.raises(ParameterError):
        Profile(mean=np.array([np.nan, 1.0]), count=1)
    with pytest.raises(ParameterError):
        Profile.from_embeddings(np.zeros(4))


def test_centring_by_group_and_augmented_copy_groups():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [10.0, 10.0], [12.0, 14.0]])
    centred = centre_by_group(X, ["a", "a", "b", "b"])
    np.testing.assert_allclose(centred, [[-1, -1], [1, 1], [-1, -2], [1, 2]])
    assert copy_groups(np.array(["a", "b"]), 2, shared=True).tolist() == ["a", "b", "a", "b"]
    assert copy_groups(np.array(["a", "b"]), 2, shared=False).tolist() == [
        "a#0",
        "b#0",
        "a#1",
        "b#1",
    ]


def _speakers(rng, offsets, per_class=20, dim=8):
    """Two classes separated along axis 0; each speaker shifts every embedding."""
    X, y, s = [], [], []
    for k, offset in enumerate(offsets):
        for label, centre in (("anger", 1.0), ("sad", -1.0)):
            x = rng.normal(scale=0.4, size=(per_class, dim))
            x[:, 0] += centre
            X.append(x + offset)
            y += [label] * per_class
            s += [f"s{k}"] * per_class
    return np.concatenate(X), np.array(y), np.array(s)


def test_the_adapted_head_removes_a_speaker_shift_the_plain_head_reads_as_emotion():
    rng = np.random.default_rng(1)
    train_offsets = [rng.normal(scale=0.2, size=8) for _ in range(6)]
    X, y, s = _speakers(rng, train_offsets)
    shift = np.zeros(8)
    shift[0] = 2.5  # an unseen speaker whose every utterance looks like "anger"
    X_test, y_test, _ = _speakers(rng, [shift])

    plain = make_model("logreg").fit(X, y)
    adaptation = fit_adaptation(lambda: make_model("logreg"), [X], y, s, shrinkage=0.0)
    assert adaptation is not None
    profile = Profile.from_embeddings(X_test)
    plain_acc = np.mean(plain.predict(X_test) == y_test)
    adapted = adaptation.head.classes_[np.argmax(adaptation.predict_proba(X_test, profile), axis=1)]
    assert plain_acc < 0.7  # the shift is read as anger
    assert np.mean(adapted == y_test) > 0.95
    # shrinkage pulls a one-utterance profile toward the training mean
    one = Profile.from_embeddings(X_test[:1])
    shrunk = Adaptation(head=adaptation.head, prior=adaptation.prior, shrinkage=1e6)
    np.testing.assert_allclose(
        shrunk.predict_proba(X_test, one),
        adaptation.head.predict_proba(X_test - adaptation.prior),
        atol=1e-4,
    )


def test_fit_adaptation_needs_two_speakers_and_a_linear_head():
    rng = np.random.default_rng(2)
    X, y, s = _speakers(rng, [np.zeros(8)])
    assert fit_adaptation(lambda: make_model("logreg"), [X], y, s) is None
    X, y, s = _speakers(rng, [np.zeros(8), np.ones(8)])
    assert fit_adaptation(lambda: make_model("knn"), [X], y, s) is None


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """A recognizer trained on tones (high: anger, low: sad) by three speakers, with the
    files of a fourth speaker to adapt to."""
    root = tmp_path_factory.mktemp("adapt-tones")
    rows, others = [], []
    for s in range(4):
        for i in range(3):
            for label, freq in (("anger", 600.0), ("sad", 120.0)):
                path = write_tone(
                    root / f"{label}{s}{i}.wav",
                    freq=freq * (1 + 0.04 * i) * (1 + 0.1 * s),
                    duration=1.0,
                    seed=s * 10 + i,
                )
                row = {"path": str(path), "label": label, "speaker": f"s{s}", "corpus": "tones"}
                (rows if s < 3 else others).append(row)
    recognizer = Recognizer.train(
        pd.DataFrame(rows), features={"name": "stats", "n_mfcc": 13}, classifier="logreg"
    )
    recognizer.check_speech = False  # tones hold no speech; the profile would skip them
    return recognizer, [r["path"] for r in others]


def test_a_trained_linear_model_can_adapt_and_says_so_in_every_prediction(tones):
    recognizer, files = tones
    assert recognizer.can_adapt and recognizer.profile is None
    before = recognizer.predict_file(files[0])
    assert before.adapted == 0 and before.head == "unadapted"

    adapted = recognizer.adapt(files)
    assert recognizer.profile is None  # the original is unchanged
    assert adapted.profile.count == len(files)
    expected = np.mean([recognizer.embed(f) for f in files], axis=0)
    np.testing.assert_allclose(adapted.profile.mean, expected, rtol=1e-6)
    result = adapted.predict_file(files[0])
    assert result.adapted == len(files) and result.head == "adapted"
    assert result.to_dict()["adapted"] == len(files)
    assert sum(result.probabilities.values()) == pytest.approx(1.0)
    # the adapted answer is the adapted head on the centred embedding
    reference = adapted.profile.reference(
        recognizer.adaptation.prior, recognizer.adaptation.shrinkage
    )
    proba = recognizer.adaptation.head.predict_proba(
        (recognizer.embed(files[0]) - reference)[np.newaxis]
    )[0]
    by_class = dict(zip(recognizer.adaptation.head.classes_, proba, strict=True))
    assert result.probabilities["anger"] == pytest.approx(by_class["anger"])

    # predict_files(adapt=True) treats the files as one speaker: same answers
    batch = recognizer.predict_files(files, adapt=True)
    for path, r in zip(files, batch, strict=True):
        one = adapted.predict_file(path)
        assert r.adapted == len(files)
        assert r.probabilities == pytest.approx(one.probabilities)


def test_without_a_profile_the_answer_is_exactly_the_unadapted_model(tones):
    recognizer, files = tones
    plain = recognizer.predict_file(files[1])
    proba = recognizer.model.predict_proba(recognizer.embed(files[1])[np.newaxis])[0]
    expected = dict(zip(recognizer.model.classes_, proba, strict=True))
    assert plain.probabilities["anger"] == pytest.approx(expected["anger"], abs=1e-12)
    unadapted = recognizer.adapt(files).with_profile(None).predict_file(files[1])
    assert unadapted.probabilities == plain.probabilities


def eager(recognizer: Recognizer, min_utterances: int = 1) -> Recognizer:
    """``recognizer`` adapting from ``min_utterances`` utterances (the default needs a few)."""
    twin = recognizer.with_profile(None)
    twin.adaptation = Adaptation(
        head=recognizer.adaptation.head,
        prior=recognizer.adaptation.prior,
        shrinkage=recognizer.adaptation.shrinkage,
        min_utterances=min_utterances,
    )
    return twin


def test_too_few_utterances_fall_back_to_the_unadapted_head(tones):
    recognizer, files = tones
    strict = eager(recognizer, min_utterances=5)
    few = strict.adapt(files[:2]).predict_file(files[0])
    assert few.adapted == 0
    assert few.probabilities == recognizer.predict_file(files[0]).probabilities
    assert strict.adapt(files).predict_file(files[0]).adapted == len(files)


def test_bad_adaptation_input_is_a_clear_error(tones, tmp_path: Path):
    recognizer, files = tones
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio")
    with pytest.raises(AudioError, match="No recording to adapt to"):
        recognizer.adapt([junk])
    partly = recognizer.adapt([junk, *files])
    assert partly.profile.count == len(files)
    assert any("junk.wav" in s for s in partly.profile.skipped)
    with pytest.raises(ParameterError):
        recognizer.with_profile(Profile(mean=np.ones(3), count=2))
    results = recognizer.predict_files([junk, *files], adapt=True)
    assert results[0].status == "error" and results[1].adapted == len(files)


def test_a_model_without_an_adapted_head_refuses_to_adapt(tones):
    recognizer, files = tones
    plain = recognizer.with_profile(None)
    plain.adaptation = None
    with pytest.raises(ModelError, match="cannot adapt"):
        plain.adapt(files)
    with pytest.raises(ModelError, match="cannot adapt"):
        plain.predict_files(files, adapt=True)


def test_the_adapted_head_is_saved_and_loaded_without_pickle(tones, tmp_path: Path):
    recognizer, files = tones
    folder = recognizer.save(tmp_path / "model")
    assert (folder / "adapted" / "head.safetensors").is_file()
    assert (folder / "adapted" / "adaptation.json").is_file()
    loaded = Recognizer.load(folder)
    loaded.check_speech = False
    assert loaded.can_adapt
    a = recognizer.adapt(files).predict_file(files[2])
    b = loaded.adapt(files).predict_file(files[2])
    assert a.probabilities == pytest.approx(b.probabilities, abs=1e-9)
    # a damaged prior is refused
    prior = folder / "adapted" / "prior.safetensors"
    prior.write_bytes(prior.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ModelError, match="changed or is damaged"):
        Recognizer.load(folder)


def test_adapting_to_arrays_needs_their_sample_rate(tones):
    recognizer, _ = tones
    signals = [make_tone(freq=300.0 + 50 * i, duration=1.0, seed=i) for i in range(3)]
    adapted = recognizer.adapt(signals, sample_rate=16000)
    assert adapted.profile.count == 3


# -- the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speaker_files(tones, tmp_path_factory):
    """The tones model saved, and buzzes (read as speech by the VAD) of two speakers, with
    a manifest naming each file's speaker."""
    import soundfile as sf

    from helpers import buzz

    recognizer, _ = tones
    root = tmp_path_factory.mktemp("speakers")
    folder = recognizer.save(root / "model")
    lines = ["path,speaker"]
    files: dict[str, list[str]] = {"low": [], "high": []}
    for speaker, f0 in (("low", 95.0), ("high", 120.0)):
        for i in range(4):
            path = root / f"{speaker}{i}.wav"
            sf.write(path, buzz(1.5, f0=f0 * (1 + 0.05 * i), seed=i), 16000)
            files[speaker].append(str(path))
            lines.append(f"{path.name},{speaker}")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return folder, files, manifest


def test_cli_predict_adapt_treats_the_files_as_one_speaker(speaker_files, monkeypatch, capsys):
    import json

    from helpers import run_cli

    folder, files, _ = speaker_files
    code, out, _ = run_cli(
        monkeypatch, capsys, "predict", "--model", str(folder), "--adapt", "--json", *files["low"]
    )
    assert code == 0, out
    results = json.loads(out)
    assert [r["adapted"] for r in results] == [4] * 4
    assert {r["head"] for r in results} == {"adapted"}
    recognizer = Recognizer.load(folder)
    expected = recognizer.adapt(files["low"]).predict_file(files["low"][0])
    assert results[0]["probabilities"] == pytest.approx(expected.probabilities)
    code, out, _ = run_cli(
        monkeypatch, capsys, "predict", "--model", str(folder), "--json", *files["low"]
    )
    assert {r["adapted"] for r in json.loads(out)} == {0}
    code, out, err = run_cli(monkeypatch, capsys, "predict", "--model", str(folder), *files["low"])
    assert code == 0 and "unadapted" not in err
    code, out, err = run_cli(
        monkeypatch, capsys, "predict", "--model", str(folder), "--adapt", *files["low"]
    )
    assert code == 0 and "Adapted to one speaker from 4 utterance(s)" in err.replace("\n", " ")


def test_cli_adapt_by_speaker_adapts_each_speaker_to_their_own_files(
    speaker_files, monkeypatch, capsys, tmp_path
):
    import json

    from helpers import run_cli

    folder, files, manifest = speaker_files
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        *("predict", "--model", str(folder), "--adapt-by", "speaker", "--json", str(manifest)),
    )
    assert code == 0, err
    results = {r["source"]: r for r in json.loads(out)}
    recognizer = Recognizer.load(folder)
    for speaker in ("low", "high"):
        expected = recognizer.predict_files(files[speaker], adapt=True)
        for e in expected:
            assert results[e.source]["adapted"] == 4
            assert results[e.source]["probabilities"] == pytest.approx(e.probabilities)
    # the same into a batch file, resumably, one task per speaker
    out_file = tmp_path / "rows.csv"
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        *("predict", "--model", str(folder), "--adapt-by", "speaker", str(manifest)),
        *("--out", str(out_file), "--jobs", "1"),
    )
    assert code == 0, err
    rows = pd.read_csv(out_file)
    assert len(rows) == 8 and set(rows["adapted"]) == {4}
    for source, row in rows.set_index("source").iterrows():
        assert row["p_anger"] == pytest.approx(results[source]["probabilities"]["anger"])


def test_cli_adaptation_options_are_judged_before_any_work(speaker_files, monkeypatch, capsys):
    from helpers import run_cli

    folder, files, manifest = speaker_files
    cases = [
        (["--adapt", "--adapt-by", "speaker", str(manifest)], "do not go together"),
        (["--adapt-by", "speaker", *files["low"]], "needs one manifest"),
        (["--adapt-by", "room", str(manifest)], "no 'room' column"),
        (["--adapt", "--out", "x.csv", *files["low"]], "--adapt-by speaker"),
    ]
    for args, message in cases:
        code, _, err = run_cli(monkeypatch, capsys, "predict", "--model", str(folder), *args)
        assert code != 0 and message in err.replace("\n", " "), (args, err)


# -- emotion over time: timelines per channel, and the live mode ------------------------------




def test_timeline_adapts_each_channel_to_its_own_windows(tones, tmp_path):
    import soundfile as sf

    from helpers import buzz, quiet

    recognizer = eager(tones[0])
    gap = quiet(0.8, level=3e-4)
    left = np.concatenate([gap, buzz(2.5, f0=95), gap, buzz(2.0, f0=100, seed=2), gap])
    right = np.concatenate([gap, buzz(3.0, f0=120, seed=3), gap, buzz(1.6, f0=115, seed=4)])
    right = np.concatenate([right, np.zeros(left.size - right.size, np.float32)])
    right += quiet(right.size / 16000, seed=7, level=3e-4)
    path = tmp_path / "call.wav"
    sf.write(path, np.stack([left, right], 1), 16000)

    plain = recognizer.timeline(path, channels="each")
    adapted = recognizer.timeline(path, channels="each", adapt=True)
    assert "adapted" not in plain.columns and plain.attrs["adapted"] == {}
    assert list(adapted.index) == list(plain.index)
    counts = adapted.groupby("channel").size().to_dict()
    assert adapted.attrs["adapted"] == counts and set(counts) == {"ch1", "ch2"}
    signal = sf.read(path, dtype="float32")[0]
    for channel, column in (("ch1", 0), ("ch2", 1)):
        part = adapted[adapted["channel"] == channel]
        assert set(part["adapted"]) == {counts[channel]}
        windows = [
            signal[round(s * 16000) : round(e * 16000), column] for s, e in part.index.tolist()
        ]
        profile = Profile.from_embeddings([recognizer.extractor(w) for w in windows])
        reference = recognizer.with_profile(profile)
        for window, (_, row) in zip(windows, part.iterrows(), strict=True):
            expected = reference.predict_signal(window, sample_rate=16000)
            assert row["p_anger"] == pytest.approx(expected.probabilities["anger"], abs=1e-9)
    merged = recognizer.timeline(path, channels="each", adapt=True, merge=True)
    assert set(merged["adapted"]) <= set(counts.values())


def test_listening_keeps_a_running_profile_of_the_speaker(tones):
    from emovox.live import Listener
    from test_listen import offline, run, stream_of, three_buzzes

    recognizer = eager(tones[0])
    signal, _ = three_buzzes()
    events, _ = run(Listener(recognizer, stream_factory=stream_of(signal), adapt=True))
    assert [e.prediction.adapted for e in events] == [1, 2, 3]
    default, _ = run(Listener(tones[0], stream_factory=stream_of(signal), adapt=True))
    minimum = tones[0].adaptation.min_utterances
    assert [e.prediction.adapted for e in default] == [i if i >= minimum else 0 for i in (1, 2, 3)]
    assert events[-1].to_dict()["adapted"] == 3
    utterances = offline(signal)
    embeddings = [recognizer.extractor(u.signal) for u in utterances]
    for i, (event, utterance) in enumerate(zip(events, utterances, strict=True)):
        profile = Profile.from_embeddings(embeddings[: i + 1])
        expected = recognizer.with_profile(profile).predict_signal(
            utterance.signal, sample_rate=16000
        )
        assert event.prediction.probabilities == pytest.approx(expected.probabilities, abs=1e-9)
    plain, _ = run(Listener(recognizer, stream_factory=stream_of(signal)))
    assert {e.prediction.adapted for e in plain} == {0}


def test_http_timeline_adapts_on_request_and_says_why_it_cannot(tones, tmp_path):
    import io

    import soundfile as sf
    from fastapi.testclient import TestClient

    from emovox.interfaces.http import create_app
    from helpers import buzz, quiet

    recognizer, _ = tones
    WAV = {"content-type": "audio/wav"}
    parts = [quiet(0.5)]
    for i in range(recognizer.adaptation.min_utterances + 1):
        parts += [buzz(1.5, seed=i), quiet(0.8, seed=10 + i)]
    signal = np.concatenate(parts)
    data = io.BytesIO()
    sf.write(data, signal, 16000, format="WAV")
    with TestClient(create_app(model=recognizer)) as client:
        answer = client.post("/v1/timeline?adapt=true", content=data.getvalue(), headers=WAV)
        assert answer.status_code == 200, answer.text
        rows = answer.json()["rows"]
        assert rows and {r["adapted"] for r in rows} == {len(rows)}
        plain = client.post("/v1/timeline", content=data.getvalue(), headers=WAV).json()["rows"]
        assert {r["adapted"] for r in plain} == {0}
    unable = recognizer.with_profile(None)
    unable.adaptation = None
    with TestClient(create_app(model=unable)) as client:
        answer = client.post("/v1/timeline?adapt=true", content=data.getvalue(), headers=WAV)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "cannot_adapt"
