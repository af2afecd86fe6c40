"""Whole folders, resumably: one row per file, written as it goes, every file exactly once.

The kill tests run the real command line in a subprocess and SIGKILL it (its whole process
group: the parent and its worker processes) half way, then rerun it. A tiny tone model and
0.3 s files keep a 2,000-file batch to seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import write_tone
from emovox.batch import list_inputs, open_output, predict_folder, rows
from emovox.batch.runner import run_batches
from emovox.batch.writer import arrow_schema, write_parquet_part
from emovox.errors import EmovoxError, ParameterError
from emovox.results import Prediction
from helpers import run_cli, tone_manifest

N_GOOD = 2_000

# -- fixtures --------------------------------------------------------------------------


def write_corrupt(folder: Path) -> list[str]:
    """Files no decoder accepts, each for a different reason; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "garbage.wav").write_bytes(np.random.default_rng(1).bytes(3000))
    (folder / "text.flac").write_text("this is not audio\n" * 40)
    sf.write(folder / "no_samples.wav", np.zeros(0, dtype=np.float32), 16_000)
    sf.write(folder / "too_short.wav", np.full(800, 0.1, dtype=np.float32), 16_000)
    names = ["empty.wav", "garbage.wav", "text.flac", "no_samples.wav", "too_short.wav"]
    return [str(folder / name) for name in names]


def write_good(folder: Path, n: int, *, start: int = 0) -> list[str]:
    """``n`` 0.3 s tones, high and low in turn, spread over sub-folders."""
    paths = []
    for i in range(start, start + n):
        path = folder / f"d{i % 20:02d}" / f"tone_{i:05d}.wav"
        write_tone(path, freq=600.0 if i % 2 else 120.0, duration=0.3, seed=i)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    """A saved tone model (logreg on stats features): anger high, sad low."""
    from emovox import Recognizer
    from emovox.corpora import load_corpus

    root = tmp_path_factory.mktemp("tone-corpus")
    tone_manifest(root, speakers=2, per_label=2)
    table = load_corpus("manifest", root / "manifest.csv")
    recognizer = Recognizer.train(table, features={"name": "stats"}, classifier="logreg")
    return recognizer.save(tmp_path_factory.mktemp("models") / "tones")


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, list[str], list[str]]:
    """A folder of 2,000 tones and 5 corrupt files (and names a batch must skip):
    ``(folder, every path in input order, the corrupt paths)``."""
    folder = tmp_path_factory.mktemp("big")
    write_good(folder, N_GOOD)
    corrupt = write_corrupt(folder / "bad")
    (folder / "notes.txt").write_text("not audio")
    (folder / ".hidden.wav").write_bytes(b"")
    expected = list_inputs(folder)
    assert len(expected) == N_GOOD + len(corrupt)
    return folder, expected, corrupt


@pytest.fixture()
def small(tmp_path: Path) -> tuple[Path, list[str], list[str]]:
    """A folder of 6 tones and the 5 corrupt files."""
    folder = tmp_path / "small"
    write_good(folder, 6)
    corrupt = write_corrupt(folder / "bad")
    return folder, list_inputs(folder), corrupt


def model_id(model: Path) -> str:
    from emovox.batch import recognizer_for

    return recognizer_for(model).model_id


# -- running the command line in a subprocess ------------------------------------------


def start_cli(tmp_path: Path, *args: str) -> subprocess.Popen:
    """``python -m emovox ARGS`` in its own process group; its output goes to a file named
    by the process' ``log`` attribute."""
    log = tmp_path / f"cli-{time.monotonic_ns()}.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "emovox", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log = log  # type: ignore[attr-defined]
    return process


def run_to_end(tmp_path: Path, *args: str, timeout: float = 240) -> tuple[int, str]:
    """Run the command line to its end: ``(exit code, output)``."""
    process = start_cli(tmp_path, *args)
    code = process.wait(timeout=timeout)
    return code, process.log.read_text()  # type: ignore[attr-defined]


def wait_until(done, process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    """Poll ``done()`` until true; fail if the batch ends first (it could not be killed)."""
    deadline = time.monotonic() + timeout
    while not done():
        if process.poll() is not None:
            log = process.log.read_text()[-3000:]  # type: ignore[attr-defined]
            pytest.fail(f"the batch ended (code {process.returncode}) before {what}:\n{log}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def csv_rows_written(out: Path) -> int:
    try:
        return max(0, out.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def whole_lines(out: Path) -> list[bytes]:
    """The newline-terminated lines of ``out`` after the header."""
    data = out.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines(keepends=True)[1:]


def children(parent: int) -> list[tuple[int, bytes]]:
    """``(pid, command line)`` of the processes whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append((int(entry.name), cmdline))
    return found


def worker_pids(parent: int) -> list[int]:
    """The worker processes of the batch ``parent`` runs: forked by its fork server (or
    spawned by it directly), not its resource tracker."""
    workers = []
    for pid, cmdline in children(parent):
        if b"forkserver" in cmdline:
            workers += [child for child, _ in children(pid)]
        elif b"spawn_main" in cmdline:
            workers.append(pid)
    return workers


def check_exactly_once(output: pd.DataFrame, expected: list[str], corrupt: list[str]) -> None:
    assert len(output) == len(expected), "one row per file"
    assert output["source"].is_unique, "no file appears twice"
    assert list(output["source"]) == expected, "every file, in input order"
    errors = output[output["status"] == "error"]
    assert sorted(errors["source"]) == sorted(corrupt), "the corrupt files, and only they, failed"
    assert errors["error"].str.len().min() > 10, "each error row says why"
    ok = output[output["status"] == "ok"]
    assert ok["label"].isin(["anger", "sad"]).all()
    np.testing.assert_allclose(ok["p_anger"] + ok["p_sad"], 1.0, atol=1e-9)


# -- the kill tests --------------------------------------------------------------------


@pytest.mark.slow
def test_a_batch_killed_half_way_resumes_with_every_file_exactly_once(tones, big, tmp_path):
    """SIGKILL one worker (the batch must go on), then the whole process group; rerun."""
    folder, expected, corrupt = big
    out = tmp_path / "results.csv"
    args = ["predict", str(folder), "--out", str(out), "--model", str(tones)]
    args += ["--jobs", "2", "--batch-size", "16"]
    process = start_cli(tmp_path, *args)
    try:
        wait_until(lambda: csv_rows_written(out) >= 150, process, "150 rows were written")
        workers = worker_pids(process.pid)
        assert len(workers) == 2, f"two worker processes, found {workers}"
        os.kill(workers[0], signal.SIGKILL)
        wait_until(
            lambda: csv_rows_written(out) >= 500, process, "the batch went on after a worker died"
        )
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    kept = whole_lines(out)
    assert 500 <= len(kept) < len(expected), "killed half way"

    code, log = run_to_end(tmp_path, *args)
    assert code == 1, f"corrupt files make the exit code 1:\n{log}"
    final = pd.read_csv(out)
    check_exactly_once(final, expected, corrupt)
    assert (final["model"] == model_id(tones)).all()
    assert set(kept) <= set(whole_lines(out)), "every row the killed run wrote was kept as is"
    assert not list(tmp_path.glob(".*.lock")), "the lock file is removed at the end"


@pytest.mark.slow
def test_a_killed_parquet_batch_resumes_from_its_parts(tones, big, tmp_path):
    """The same in one process, through a manifest of 600 of the files and the corrupt ones."""
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, every, corrupt = big
    expected = [p for p in every if p not in corrupt][:600] + corrupt
    manifest = tmp_path / "list.csv"
    manifest.write_text("path\n" + "\n".join(expected) + "\n")
    out = tmp_path / "results.parquet"
    parts = tmp_path / "results.parquet.parts"
    args = ["predict", str(manifest), "--out", str(out), "--model", str(tones)]
    args += ["--jobs", "1", "--batch-size", "16"]
    process = start_cli(tmp_path, *args)
    try:
        wait_until(
            lambda: len(list(parts.glob("part-*.parquet"))) >= 10, process, "10 parts were written"
        )
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert not out.exists(), "the Parquet file is made only when the batch finishes"
    written = pd.read_parquet(parts)
    assert 160 <= len(written) < len(expected) and written["source"].is_unique

    code, log = run_to_end(tmp_path, *args)
    assert code == 1, log
    assert not parts.exists(), "the parts are removed once compacted"
    final = pd.read_parquet(out)
    check_exactly_once(final, expected, corrupt)
    schema = pq.read_schema(out)
    assert (
        schema.field("p_anger").type == pa.float64() and schema.field("speech").type == pa.bool_()
    )
    again = final.set_index("source").loc[written["source"]].reset_index()[written.columns]
    pd.testing.assert_frame_equal(again, written.reset_index(drop=True), check_dtype=False)


# -- crash safety of the writers, without a subprocess ---------------------------------


def test_a_torn_last_row_is_dropped_and_its_file_predicted_again(tones, small, tmp_path):
    folder, expected, corrupt = small
    out = tmp_path / "results.csv"
    predict_folder(folder, out, model=tones, jobs=1)
    whole = out.read_bytes()
    last = whole[: whole.rstrip(b"\n").rfind(b"\n") + 1]
    torn = whole[: len(last) + 25]  # a write cut short 25 bytes into the last row
    out.write_bytes(torn)

    summary = predict_folder(folder, out, model=tones, jobs=1)
    assert summary.processed == 1 and summary.skipped == len(expected) - 1
    assert any("incomplete last row" in note for note in summary.notes)
    check_exactly_once(pd.read_csv(out), expected, corrupt)
    assert out.read_bytes() == whole, "the redone row is the same row"


def test_a_torn_header_is_written_again(tones, small, tmp_path):
    folder, expected, corrupt = small
    out = tmp_path / "results.csv"
    out.write_text("source,status,er")
    summary = predict_folder(folder, out, model=tones, jobs=1)
    assert summary.processed == len(expected)
    check_exactly_once(pd.read_csv(out), expected, corrupt)


def test_a_damaged_row_before_whole_rows_is_refused_not_repaired(tones, small, tmp_path):
    folder, _, _ = small
    out = tmp_path / "results.csv"
    predict_folder(folder, out, model=tones, jobs=1)
    lines = out.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b",ok,", b",maybe,").replace(b",error,", b",maybe,")
    out.write_bytes(b"".join(lines))
    before = out.read_bytes()
    with pytest.raises(ParameterError, match="line 4 is not a whole row"):
        predict_folder(folder, out, model=tones, jobs=1)
    assert out.read_bytes() == before, "a refused output is left untouched"


def test_text_with_commas_quotes_and_line_breaks_round_trips(tmp_path):
    """Quoting is what makes 'a row is whole when it parses and ends in a newline' true."""
    labels = ["anger", "sad"]
    awkward = [str(tmp_path / 'a, "b"\nc.wav'), str(tmp_path / "d\re.wav"), str(tmp_path / " f")]
    batch = rows.frame(
        [
            Prediction(
                label="anger",
                confidence=0.1 + 0.2,
                probabilities={"anger": 0.1 + 0.2, "sad": 0.7},
                duration=1.0,
                source=awkward[0],
                speech=None,
                warnings=("one, two", 'say "three"\nfour'),
            ),
        ],
        labels=labels,
        model_id="m@1",
    )
    from emovox.results import Failure

    failures = [Failure(source=p, error='bad\r\n"x", y', kind="AudioError") for p in awkward[1:]]
    out = tmp_path / "awkward.csv"
    with open_output(out, columns=rows.columns(labels), model_id="m@1") as output:
        output.write(batch)
        output.write(rows.frame(failures, labels=labels, model_id="m@1"))
    with open_output(out, columns=rows.columns(labels), model_id="m@1") as output:
        assert output.done == {awkward[0]: "ok", awkward[1]: "error", awkward[2]: "error"}
        assert output.notes == []
    back = pd.read_csv(out, keep_default_na=False)
    assert list(back["source"]) == awkward
    assert back["warnings"][0] == 'one, two; say "three"\nfour'
    assert back["error"][1] == 'bad\r\n"x", y'
    assert float(back["p_anger"][0]) == 0.1 + 0.2, "floats are written exactly"


def test_parquet_parts_already_compacted_count_once(tones, small, tmp_path):
    """A kill after the final file was renamed into place but before the parts were deleted
    leaves rows in both; the rerun keeps one of each (and deletes leftovers)."""
    pytest.importorskip("pyarrow")
    folder, expected, corrupt = small
    out = tmp_path / "results.parquet"
    predict_folder(folder, out, model=tones, jobs=1, batch_size=4)
    parts = tmp_path / "results.parquet.parts"
    parts.mkdir()
    compacted = pd.read_parquet(out).iloc[:4]
    write_parquet_part(
        compacted, parts, "part-000000.parquet", schema=arrow_schema(list(compacted.columns))
    )
    (parts / ".part-000001.parquet.emovox-tmp").write_bytes(b"half a part")
    (tmp_path / ".results.parquet.1234.emovox-tmp").write_bytes(b"half a file")
    added = write_good(folder, 2, start=100)

    summary = predict_folder(folder, out, model=tones, jobs=1)
    assert summary.processed == 2 and summary.skipped == len(expected)
    final = pd.read_parquet(out)
    check_exactly_once(final, list_inputs(folder), corrupt)
    assert set(added) <= set(final["source"])
    assert not parts.exists() and not list(tmp_path.glob(".*emovox-tmp"))


def test_a_second_run_on_the_same_output_is_refused_while_the_first_holds_it(
    tones, small, tmp_path
):
    folder, _, _ = small
    out = tmp_path / "results.csv"
    columns = rows.columns(["anger", "sad"])
    with (
        open_output(out, columns=columns, model_id=model_id(tones)),
        pytest.raises(ParameterError, match="Another emovox run is writing"),
    ):
        predict_folder(folder, out, model=tones, jobs=1)
    predict_folder(folder, out, model=tones, jobs=1)  # free again once the first closed


# -- refusing outputs that are not this batch's ----------------------------------------


def test_an_output_of_another_model_is_refused_unless_forced(tones, small, tmp_path):
    folder, expected, corrupt = small
    other = shutil.copytree(tones, tmp_path / "tones-copy")  # same weights, another name
    out = tmp_path / "results.csv"
    predict_folder(folder, out, model=tones, jobs=1)
    before = out.read_bytes()
    with pytest.raises(ParameterError) as refused:
        predict_folder(folder, out, model=other, jobs=1)
    message = str(refused.value)
    assert model_id(tones) in message and model_id(other) in message and "--force" in message
    assert out.read_bytes() == before

    summary = predict_folder(folder, out, model=other, jobs=1, force=True)
    assert summary.processed == len(expected) and summary.skipped == 0
    final = pd.read_csv(out)
    check_exactly_once(final, expected, corrupt)
    assert (final["model"] == model_id(other)).all()


def test_outputs_with_other_columns_or_foreign_files_are_refused(tones, small, tmp_path):
    folder, _, _ = small
    mine = tmp_path / "results.csv"
    predict_folder(folder, mine, model=tones, jobs=1)
    other_classes = tmp_path / "other.csv"
    other_classes.write_bytes(mine.read_bytes().replace(b"p_sad", b"p_happy", 1))
    foreign = tmp_path / "notes.csv"
    foreign.write_text("name,age\nann,3\n")
    cases = (
        (other_classes, "holds probabilities of the classes anger,happy"),
        (foreign, "is not an emovox batch output"),
    )
    for out, expected in cases:
        before = out.read_bytes()
        with pytest.raises(ParameterError, match=expected):
            predict_folder(folder, out, model=tones, jobs=1)
        assert out.read_bytes() == before


def test_the_out_extension_chooses_the_format_and_both_hold_the_same_rows(
    tones, small, tmp_path, monkeypatch, capsys
):
    pytest.importorskip("pyarrow")
    folder, expected, corrupt = small
    for name in ("r.csv", "r.parquet"):
        code, out, _ = run_cli(
            monkeypatch, capsys, "predict", str(folder), "--out", str(tmp_path / name),
            "--model", str(tones), "--jobs", "1", "--json",
        )  # fmt: skip
        summary = json.loads(out)
        assert code == 1 and summary["failed"] == len(corrupt)
        assert summary["format"] == name.split(".")[1]
    from_csv = pd.read_csv(tmp_path / "r.csv")
    from_parquet = pd.read_parquet(tmp_path / "r.parquet")
    check_exactly_once(from_parquet, expected, corrupt)
    assert list(from_csv.columns) == list(from_parquet.columns)
    for column in ("source", "status", "label", "model"):
        assert from_csv[column].fillna("").tolist() == from_parquet[column].fillna("").tolist()
    np.testing.assert_array_equal(from_csv["p_anger"], from_parquet["p_anger"])

    code, _, err = run_cli(
        monkeypatch, capsys, "predict", str(folder), "--out", str(tmp_path / "r.json"),
        "--model", str(tones),
    )  # fmt: skip
    assert code == 2 and "end --out in .csv or .parquet" in err


# -- inputs ----------------------------------------------------------------------------


def test_a_folder_lists_audio_recursively_sorted_skipping_other_names(tmp_path):
    write_tone(tmp_path / "b" / "z.WAV")
    write_tone(tmp_path / "a.flac")
    write_tone(tmp_path / "b" / "c" / "y.ogg")
    write_tone(tmp_path / ".hidden" / "x.wav")
    write_tone(tmp_path / "b" / "._resource.wav")
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "take.wav.bak").write_text("x")
    found = list_inputs(tmp_path)
    assert found == [
        str(tmp_path / "a.flac"),
        str(tmp_path / "b" / "c" / "y.ogg"),
        str(tmp_path / "b" / "z.WAV"),
    ]
    assert list_inputs([tmp_path / "a.flac", tmp_path, tmp_path / "a.flac"]) == found


def test_bad_sources_are_refused_before_any_work(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "no_path.csv").write_text("file,label\na.wav,sad\n")
    cases = (
        (tmp_path / "typo", "does not exist"),
        (tmp_path / "empty", "No audio file found"),
        ("-", "Standard input"),
        (tmp_path / "no_path.csv", "has no path column"),
    )
    for source, message in cases:
        with pytest.raises(ParameterError, match=message):
            list_inputs(source)


def test_a_manifest_gives_its_files_in_its_order_and_missing_ones_as_errors(
    tones, tmp_path, monkeypatch, capsys
):
    files = [write_tone(tmp_path / "audio" / f"{name}.wav") for name in ("c", "a", "b")]
    manifest = tmp_path / "list.csv"
    manifest.write_text(
        "path,label\n"
        "audio/c.wav,sad\n"
        f"{files[1]},anger\n"  # absolute paths too
        "audio/missing.wav,sad\n"
        "audio/b.wav,\n"  # labels are optional
    )
    out = tmp_path / "results.csv"
    code, _, err = run_cli(
        monkeypatch, capsys, "predict", str(manifest), "--out", str(out), "--model", str(tones),
        "--jobs", "1",
    )  # fmt: skip
    assert code == 1 and "missing.wav" in err
    result = pd.read_csv(out)
    missing = str(tmp_path / "audio" / "missing.wav")
    assert list(result["source"]) == [str(files[0]), str(files[1]), missing, str(files[2])]
    assert list(result["status"]) == ["ok", "ok", "error", "ok"]
    assert "No such file" in result["error"][2]


# -- the run ---------------------------------------------------------------------------


def test_rerunning_a_finished_batch_predicts_nothing_and_changes_nothing(tones, small, tmp_path):
    folder, expected, corrupt = small
    out = tmp_path / "results.csv"
    first = predict_folder(folder, out, model=tones, jobs=1)
    assert (first.processed, first.skipped, first.failed) == (len(expected), 0, len(corrupt))
    before = out.read_bytes()
    steps = []
    again = predict_folder(folder, out, model=tones, jobs=1, hook=lambda *a, **k: steps.append(k))
    assert (again.processed, again.skipped, again.failed) == (0, len(expected), len(corrupt))
    assert out.read_bytes() == before
    assert steps == [{"total": len(expected), "completed": len(expected)}]


def test_progress_starts_at_the_files_already_done_and_the_bar_shows_a_rate(tones, small, tmp_path):
    from rich.progress import Progress

    from emovox.interfaces.progress_view import RateColumn

    folder, expected, _ = small
    out = tmp_path / "results.csv"
    predict_folder(expected[:4], out, model=tones, jobs=1)
    calls = []
    predict_folder(
        folder, out, model=tones, jobs=1, batch_size=2, hook=lambda s, a=None, **k: calls.append(k)
    )
    completed = [c["completed"] for c in calls]
    assert completed[0] == 4 and completed[-1] == len(expected)
    assert completed == sorted(completed) and {c["total"] for c in calls} == {len(expected)}

    now = [0.0]
    progress = Progress(RateColumn(), get_time=lambda: now[0])
    task = progress.add_task("predicting", total=100)
    progress.update(task, completed=40)  # resumed: 40 were done before this run
    now[0] = 10.0
    progress.update(task, completed=60)
    assert str(RateColumn().render(progress.tasks[0])) == "2.0/s", "20 files in 10 s"


def test_without_out_a_folder_is_predicted_and_printed_like_files(
    tones, small, monkeypatch, capsys
):
    folder, expected, corrupt = small
    code, out, _ = run_cli(
        monkeypatch, capsys, "predict", str(folder), "--model", str(tones), "--json"
    )
    results = json.loads(out)
    assert code == 1 and [r["source"] for r in results] == expected
    assert sum(r["status"] == "error" for r in results) == len(corrupt)
    code, _, err = run_cli(monkeypatch, capsys, "predict", str(folder), "--jobs", "2")
    assert code == 2 and "--out" in err


def test_a_clean_batch_exits_0_and_says_what_it_did(tones, tmp_path, monkeypatch, capsys):
    write_good(tmp_path / "in", 3)
    code, out, _ = run_cli(
        monkeypatch, capsys, "predict", str(tmp_path / "in"), "--out",
        str(tmp_path / "r.csv"), "--model", str(tones), "--jobs", "1",
    )  # fmt: skip
    assert code == 0 and "3 predicted now" in out and "0 failed" in out


# -- worker processes that die ---------------------------------------------------------


def dies_on_crash_files(paths, *, model, classes):
    """A per-batch function whose process dies on files named crash*, as a decoder
    crashing on a file would kill its worker."""
    if any(Path(p).name.startswith("crash") for p in paths):
        os._exit(3)
    return rows.frame(
        [
            Prediction(label="sad", confidence=1.0, probabilities={"anger": 0.0, "sad": 1.0},
                       duration=1.0, source=p)
            for p in paths
        ],
        labels=["anger", "sad"],
        model_id="test@0",
    )  # fmt: skip


def always_dies(paths, *, model, classes):
    os._exit(3)


def test_a_file_that_kills_its_worker_is_an_error_row_and_the_rest_go_on():
    batches = [["a1", "a2"], ["crash1", "b1"], ["b2"], ["b3", "b4"], ["b5"]]
    frames = list(
        run_batches(
            batches, model=None, classes=None, jobs=2, labels=["anger", "sad"],
            model_id="test@0", work=dies_on_crash_files,
        )
    )  # fmt: skip
    result = pd.concat(frames)
    assert sorted(result["source"]) == sorted(p for b in batches for p in b)
    assert result["source"].is_unique
    failed = result[result["status"] == "error"]
    assert list(failed["source"]) == ["crash1"]
    assert "worker process died while predicting this file" in failed["error"].iloc[0]


def test_workers_dying_on_file_after_file_stop_the_batch(monkeypatch):
    from emovox.batch import runner

    monkeypatch.setattr(runner, "CRASHED_IN_A_ROW", 2)
    with pytest.raises(EmovoxError, match="died on 2 files in a row"):
        list(
            run_batches(
                [["x1"], ["x2"]], model=None, classes=None, jobs=2, labels=["anger", "sad"],
                model_id="test@0", work=always_dies,
            )
        )  # fmt: skip


# -- the default model on real files ---------------------------------------------------


@pytest.mark.corpus
def test_the_default_model_in_worker_processes_answers_as_predict_file_does(corpus_root, tmp_path):
    from emovox import Recognizer

    actor = corpus_root("ravdess") / "Actor_01"
    files = sorted(str(p) for p in actor.glob("*.flac"))[::10][:6]
    corrupt = write_corrupt(tmp_path / "bad")[:1]
    out = tmp_path / "results.csv"
    summary = predict_folder([*files, *corrupt], out, jobs=2, batch_size=2)
    assert summary.jobs == 2 and summary.failed == 1
    result = pd.read_csv(out).set_index("source")
    recognizer = Recognizer.load()
    assert (result["model"] == recognizer.model_id).all()
    for path in files:
        direct = recognizer.predict_file(path)
        assert result.loc[path, "label"] == direct.label
        batch = [result.loc[path, f"p_{label}"] for label in recognizer.labels]
        # exactly: same model, same code, same thread settings, whichever process runs it
        assert batch == list(direct.probabilities.values())
    assert result.loc[corrupt[0], "status"] == "error"
