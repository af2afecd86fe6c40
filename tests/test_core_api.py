"""The regular core: one result type, one failure type, progress hooks, output folders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import make_tone, write_tone
from emovox.errors import AudioError, EmovoxError, ModelError, ParameterError
from emovox.output import check_output_folder, replace_folder_contents, staging_folder
from emovox.progress import StepCounter, TimingHook, TqdmProgress
from emovox.results import Failure, Prediction, results_frame
from helpers import buzz


def test_parameter_error_is_both_an_emovox_error_and_a_value_error():
    error = ParameterError("bad")
    assert isinstance(error, EmovoxError) and isinstance(error, ValueError)
    assert AudioError("x", source="a.wav").source == "a.wav"


def test_prediction_and_failure_share_one_flat_json_shape():
    ok = Prediction(
        label="sad",
        confidence=0.7,
        probabilities={"sad": 0.7, "anger": 0.3},
        duration=1.5,
        source="a.wav",
        speech=True,
    )
    bad = Failure.from_error("b.wav", AudioError("'b.wav' is empty (0 bytes)."))
    assert ok.to_dict()["status"] == "ok" and bad.to_dict()["status"] == "error"
    assert bad.kind == "AudioError" and bad.to_dict()["error"].endswith("(0 bytes).")
    json.dumps([ok.to_dict(), bad.to_dict()])  # JSON-able as is
    frame = results_frame([ok, bad])
    assert list(frame["status"]) == ["ok", "error"]
    assert frame.loc[0, "p_sad"] == 0.7 and math.isnan(frame.loc[1, "p_sad"])
    assert frame.loc[1, "error"].startswith("'b.wav'")
    assert list(frame.columns[:3]) == ["source", "status", "error"]


def test_step_counter_reports_start_each_unit_and_the_end():
    calls = []

    def hook(step, artifact=None, *, total=None, completed=None):
        calls.append((step, artifact, total, completed))

    count = StepCounter(hook, "stats features", total=3)
    for name in ("a", "b", "c"):
        count.advance(artifact=name)
    assert calls == [
        ("stats features", None, 3, 0),
        ("stats features", "a", 3, 1),
        ("stats features", "b", 3, 2),
        ("stats features", "c", 3, 3),
    ]
    calls.clear()
    spinner = StepCounter(hook, "fitting svm", total=None)
    spinner.finish()
    assert calls == [("fitting svm", None, None, 0), ("fitting svm", None, 1, 1)]


def test_timing_and_tqdm_hooks_close_finished_steps(capsys):
    timing = TimingHook()
    bars = TqdmProgress()
    for hook in (timing, bars):
        count = StepCounter(hook, "work", total=2)
        count.advance()
        count.advance()
    assert set(timing.durations) == {"work"} and timing.durations["work"] >= 0
    assert bars._bars == {}, "a completed step's bar is closed"
    assert "work" in capsys.readouterr().err


def test_output_folder_checks_happen_before_any_work(tmp_path: Path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ParameterError, match="is a file"):
        check_output_folder(a_file)
    with pytest.raises(ParameterError, match=r"because .* is a file"):
        check_output_folder(a_file / "model")
    assert check_output_folder(tmp_path / "new" / "deeper") == []
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    (full / "emovox.json").write_text("{}")
    with pytest.raises(ParameterError, match=r"already holds files .*--force"):
        check_output_folder(full, owned=("emovox.json",))
    assert check_output_folder(full, force=True, owned=("emovox.json",)) == ["emovox.json"]


def test_replace_folder_contents_keeps_other_files(tmp_path: Path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    (target / "model").mkdir()
    (target / "model" / "old.bin").write_text("old")
    staged = staging_folder(target)
    (staged / "model").mkdir()
    (staged / "model" / "new.bin").write_text("new")
    replace_folder_contents(staged, target)
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt", "model"]
    assert [p.name for p in (target / "model").iterdir()] == ["new.bin"]
    assert not staged.exists()


# -- the prediction grid on a small trained model ------------------------------------------
@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """A recognizer that calls a high tone 'anger' and a low one 'sad'."""
    import pandas as pd

    from emovox import Recognizer

    root = tmp_path_factory.mktemp("tones")
    rows = []
    for s in range(3):
        for i in range(3):
            for label, freq in (("anger", 600.0), ("sad", 120.0)):
                path = write_tone(
                    root / f"{label}{s}{i}.wav",
                    freq=freq * (1 + 0.04 * i),
                    duration=1.0,
                    seed=s * 10 + i,
                )
                rows.append(
                    {"path": str(path), "label": label, "speaker": f"s{s}", "corpus": "tones"}
                )
    recognizer = Recognizer.train(
        pd.DataFrame(rows), features={"name": "stats", "n_mfcc": 13}, classifier="logreg"
    )
    return recognizer


def test_predict_signal_file_bytes_and_files_agree(tones, tmp_path: Path):
    tone = make_tone(freq=600.0, duration=1.0, seed=5)
    path = tmp_path / "t.wav"
    import soundfile as sf

    sf.write(path, tone, 16_000, subtype="FLOAT")
    by_signal = tones.predict_signal(tone, sample_rate=16_000)
    by_file = tones.predict_file(path)
    by_bytes = tones.predict(path.read_bytes())
    [by_list] = tones.predict_files([path])
    for other in (by_file, by_bytes, by_list):
        assert other.probabilities == pytest.approx(by_signal.probabilities, abs=1e-5)
    assert by_signal.label == "anger" and by_file.source == str(path)


def test_predict_files_turns_each_error_into_one_failure_and_goes_on(tones, tmp_path: Path):
    good = write_tone(tmp_path / "good.wav", freq=600.0)
    folder = tmp_path / "a_folder"
    folder.mkdir()
    results = tones.predict_files([good, folder, tmp_path / "missing.wav", good])
    assert [r.status for r in results] == ["ok", "error", "error", "ok"]
    assert all(isinstance(r, Failure) and r.kind == "AudioError" for r in results[1:3])


def test_classes_accept_any_case_and_a_comma_separated_string(tones):
    tone = make_tone(freq=600.0)
    a = tones.predict(tone, sample_rate=16_000, classes="Anger, SAD")
    b = tones.predict(tone, sample_rate=16_000, classes=["anger", "sad"])
    assert a.probabilities == b.probabilities and list(a.probabilities) == ["anger", "sad"]
    with pytest.raises(ModelError, match="no class 'angry'"):
        tones.predict(tone, sample_rate=16_000, classes="angry,sad")
    with pytest.raises(ParameterError, match="class names"):
        tones.predict(tone, sample_rate=16_000, classes=[1, 2])
    with pytest.raises(ParameterError, match="at least two"):
        tones.check_classes("anger")


def test_grid_methods_refuse_the_wrong_kind_of_input(tones):
    with pytest.raises(ParameterError, match="numpy array"):
        tones.predict_signal([0.0] * 16_000, sample_rate=16_000)
    with pytest.raises(ParameterError, match="takes a path"):
        tones.predict_file(np.zeros(16_000), classes=None)
    with pytest.raises(ParameterError, match="fast must be"):
        type(tones).load(None, fast="yes")


def test_save_refuses_a_non_empty_folder_unless_forced(tones, tmp_path: Path):
    target = tmp_path / "model"
    tones.save(target)
    with pytest.raises(ParameterError, match="already holds files"):
        tones.save(target)
    (target / "notes.txt").write_text("mine")
    tones.save(target, force=True)
    assert (target / "notes.txt").read_text() == "mine", "force replaces only a model's files"
    assert not list(tmp_path.glob(".model.*.partial")), "no staging folder left behind"


def test_a_sound_without_speech_is_flagged_rather_than_answered_confidently(tones):
    t = np.arange(3 * 16_000) / 16_000
    square = (0.9 * np.sign(np.sin(2 * np.pi * 220 * t))).astype(np.float32)  # clipped square
    flagged = tones.predict(square, sample_rate=16_000)
    assert flagged.speech is False
    assert any("No speech found" in w for w in flagged.warnings)
    assert flagged.to_dict()["speech"] is False
    voiced = tones.predict(buzz(3.0), sample_rate=16_000)
    assert voiced.speech is True and voiced.warnings == ()
    tones.check_speech = False
    try:
        assert tones.predict(square, sample_rate=16_000).speech is None
    finally:
        tones.check_speech = True


def test_input_not_scaled_as_audio_is_rescaled_and_said_in_the_prediction(tones):
    tone = make_tone(freq=600.0, duration=1.0)
    as_int16_values = (tone / np.max(np.abs(tone)) * 20_000).round().astype(np.float32)
    rescaled = tones.predict(as_int16_values, sample_rate=16_000)
    assert any("16-bit" in w or "rescal" in w.lower() for w in rescaled.warnings), rescaled
    clean = tones.predict(tone, sample_rate=16_000)
    assert not any("rescal" in w.lower() for w in clean.warnings)
    assert rescaled.label == clean.label == "anger"
