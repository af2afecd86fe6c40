"""What a new user hits on the command line: every mistake one clear message, no lost work."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from conftest import write_tone
from emovox.interfaces import cli
from helpers import run_cli, tone_manifest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A manifest corpus of tones: 'anger' high, 'sad' low; 4 speakers."""
    root = tmp_path_factory.mktemp("corpus")
    tone_manifest(root, per_label=3)
    return root


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("EMOVOX_CACHE", str(folder))
    return folder


def _computed(cache: Path) -> int:
    return len(list(cache.rglob("*.npy"))) if cache.exists() else 0


@pytest.fixture(scope="module")
def model(corpus: Path, tmp_path_factory) -> Path:
    from emovox import Recognizer
    from emovox.corpora import load_corpus

    table = load_corpus("manifest", corpus / "manifest.csv")
    recognizer = Recognizer.train(table, features={"name": "stats"}, classifier="logreg")
    return recognizer.save(tmp_path_factory.mktemp("model") / "tones")


def test_a_file_the_parser_might_judge_unreadable_does_not_abort_the_batch(
    model: Path, tmp_path: Path, monkeypatch, capsys
):
    """The option parser must not judge files (it used to reject a file os.access called
    unreadable with a usage error, exit 2, and no result for the good files)."""
    good = write_tone(tmp_path / "good.wav", freq=600.0)
    locked = write_tone(tmp_path / "locked.wav", freq=600.0)
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if str(p) == str(locked) else real_access(p, mode)
    )
    missing = tmp_path / "missing.wav"
    code, out, err = run_cli(
        monkeypatch, capsys, "predict", str(good), str(locked), str(missing), str(good),
        "--model", str(model), "--json",
    )  # fmt: skip
    results = json.loads(out)
    assert code == 1 and len(results) == 4
    assert [r["status"] for r in results] == ["ok", "ok", "error", "ok"]
    assert "No such file" in results[2]["error"] and "Traceback" not in err


def test_train_refuses_a_bad_out_before_any_work(corpus, cache, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "taken.txt"
    a_file.write_text("x")
    manifest = f"manifest={corpus / 'manifest.csv'}"
    for out, expected in ((a_file, "is a file"), (a_file / "sub", "is a file, not a folder")):
        code, _, err = run_cli(
            monkeypatch,
            capsys,
            "train",
            "-c",
            manifest,
            "--out",
            str(out),
            "--classifier",
            "logreg",
        )
        assert code == 2 and expected in err and "Traceback" not in err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("mine")
    code, _, err = run_cli(monkeypatch, capsys, "train", "-c", manifest, "--out", str(busy))
    assert code == 2 and "--force" in err
    assert _computed(cache) == 0, "no feature was computed before the output was judged"


def test_train_with_force_keeps_other_files_and_says_what_it_replaced(
    corpus, cache, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "model"
    manifest = f"manifest={corpus / 'manifest.csv'}"
    args = ("train", "-c", manifest, "--out", str(out), "--classifier", "logreg", "-f", "stats")
    code, _, _ = run_cli(monkeypatch, capsys, *args, "--json")
    assert code == 0
    (out / "mine.txt").write_text("mine")
    code, _, err = run_cli(monkeypatch, capsys, *args, "--force", "--json")
    assert code == 0 and "replacing" in err and "emovox.json" in err and "model" in err
    assert (out / "mine.txt").read_text() == "mine"


def test_a_model_that_cannot_be_written_is_rescued_not_lost(
    corpus, cache, tmp_path, monkeypatch, capsys
):
    from emovox import recognizer as recognizer_module

    real_save = recognizer_module.Recognizer.save
    target = tmp_path / "model"

    def flaky_save(self, path, *, force=False):
        if Path(path) == target:
            raise OSError(28, "No space left on device")
        return real_save(self, path, force=force)

    monkeypatch.setattr(recognizer_module.Recognizer, "save", flaky_save)
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "-c", f"manifest={corpus / 'manifest.csv'}",
        "--out", str(target), "--classifier", "logreg",
    )  # fmt: skip
    assert code == 2 and "No space left on device" in err
    rescued = Path(err.split("saved to '")[1].split("'")[0])
    assert (rescued / "emovox.json").is_file(), "the trained model was written elsewhere"


def test_evaluate_rejects_an_unknown_classifier_before_features(corpus, cache, monkeypatch, capsys):
    code, _, err = run_cli(
        monkeypatch, capsys, "evaluate", "-c", f"manifest={corpus / 'manifest.csv'}",
        "--classifier", "nope",
    )  # fmt: skip
    assert code == 2 and "Unknown classifier 'nope'" in err
    assert _computed(cache) == 0


def test_predict_refuses_files_and_record_together(model, tmp_path, monkeypatch, capsys):
    good = write_tone(tmp_path / "a.flac", freq=600.0)
    code, _, err = run_cli(monkeypatch, capsys, "predict", "--record", str(good))
    assert code == 2 and "not both" in err
    assert "Recording" not in err


def test_predict_table_shows_whole_class_names_and_paths(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("COLUMNS", "200")
    cli.out.width = 200  # the module console was made before the variable was set
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    a = write_tone(tmp_path / "one" / "rec.flac", freq=300.0, duration=1.5)
    b = write_tone(tmp_path / "two" / "rec.flac", freq=200.0, duration=1.5)
    try:
        code, out, _ = run_cli(monkeypatch, capsys, "predict", str(a), str(b))
    finally:
        cli.out.width = None  # type: ignore[assignment]
    assert code == 0
    for name in ("disgust", "surprise", "neutral"):
        assert name in out
    assert "one/rec.flac" in out and "two/rec.flac" in out, "paths stay distinct"
    assert f"files in {tmp_path}" in out


def test_help_shows_flags_without_type_noise(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "predict", "--help")
    assert code == 0 and "--json" in out and "<bool>" not in out


def test_predict_reads_standard_input_with_a_dash(model, tmp_path, monkeypatch, capsys):
    import io

    wav = write_tone(tmp_path / "in.wav", freq=600.0)

    class Stdin:
        buffer = io.BytesIO(wav.read_bytes())

        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", Stdin())
    code, out, err = run_cli(monkeypatch, capsys, "predict", "-", "--model", str(model), "--json")
    [result] = json.loads(out)
    assert code == 0 and result["source"] == "-" and result["label"] == "anger", err


def test_library_warnings_are_summarised_once_not_dumped(
    corpus, cache, tmp_path, monkeypatch, capsys
):
    code, _, err = run_cli(
        monkeypatch, capsys, "evaluate", "-c", f"manifest={corpus / 'manifest.csv'}",
        "-f", "stats", "--classifier", "logreg", "-p", "max_iter=1", "--folds", "2",
    )  # fmt: skip
    assert code == 0
    notes = [line for line in err.splitlines() if "ConvergenceWarning" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ConvergenceWarning")
    assert "warnings.warn(" not in err and ".py:" not in err


def test_each_augmentation_is_its_own_progress_step(corpus, cache):
    from emovox.corpora import load_corpus
    from emovox.evaluation.experiment import evaluate

    steps: dict[str, list] = {}

    def hook(step, artifact=None, *, total=None, completed=None):
        steps.setdefault(step, []).append((completed, total))

    evaluate(
        load_corpus("manifest", corpus / "manifest.csv"),
        features={"name": "stats"},
        classifier="logreg",
        n_folds=2,
        augment="speed",
        hook=hook,
    )
    names = list(steps)
    assert len(names) == len(set(names)) >= 4
    assert sum("speed" in name for name in names) == 2, names
    for name, calls in steps.items():
        assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1], (name, calls)


def test_a_narrow_terminal_lists_every_class_rather_than_cropping(monkeypatch, capsys, tmp_path):
    a = write_tone(tmp_path / "rec.flac", freq=300.0, duration=1.5)
    cli.out.width = 70
    try:
        code, out, _ = run_cli(monkeypatch, capsys, "predict", str(a))
    finally:
        cli.out.width = None  # type: ignore[assignment]
    assert code == 0
    for name in ("anger", "fear", "disgust", "happy", "sad", "surprise", "neutral"):
        assert f"{name}=0." in out or f"{name}=1." in out, out
    assert max(len(line) for line in out.splitlines()) <= 70
