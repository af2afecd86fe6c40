"""Whole archives on a real Dask cluster (``emovox batch``): every file exactly once.

One cluster on loopback serves the module: a scheduler and 2 worker processes (one thread
each), as a user's ``dask scheduler`` + ``dask worker`` would be. The kill tests SIGKILL a
worker process mid-run (the batch must lose nothing) and the client half way (the rerun
must resume, computing only the missing parts). Inputs are short tones, a few real corpus
files when the corpora are here, and corrupt files; the model is the bundled one.
"""

from __future__ import annotations

import json
import logging
import math
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

from conftest import find_data_root, write_tone
from emovox.batch import list_sources, predict_archive, predict_batch
from emovox.batch.dataset import DESCRIPTION, SUCCESS
from emovox.errors import ModelError, ParameterError
from helpers import run_cli

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

CLASSES = ["anger", "sad"]
"""The bundled model, answering with these two classes only (it loads without PyTorch,
which keeps a worker's start short)."""

# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """A scheduler and 2 worker processes (one thread each) on 127.0.0.1."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as started:
        yield started


@pytest.fixture(scope="module")
def client(cluster):
    """The test's own client of the cluster (to find and kill worker processes); every
    worker has loaded the default model (so a worker killed mid-run is one at work)."""
    from distributed import Client

    from emovox.batch.dask_batch import model_info

    with Client(cluster, set_as_default=False) as connected:
        connected.run(model_info, None, None)  # loads the model in each worker
        yield connected


def write_tones(folder: Path, n: int, *, duration: float = 0.3) -> list[str]:
    """``n`` tones, high and low in turn, over sub-folders; their paths."""
    paths = []
    for i in range(n):
        path = folder / f"d{i % 7}" / f"tone_{i:04d}.wav"
        write_tone(path, freq=600.0 if i % 2 else 120.0, duration=duration, seed=i)
        paths.append(str(path))
    return paths


def write_corrupt(folder: Path) -> list[str]:
    """Files no decoder accepts; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "garbage.flac").write_bytes(np.random.default_rng(1).bytes(3000))
    sf.write(folder / "too_short.wav", np.full(800, 0.1, dtype=np.float32), 16_000)
    return [str(folder / n) for n in ("empty.wav", "garbage.flac", "too_short.wav")]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[Path, list[str], list[str]]:
    """120 tones of 0.3 s, 4 RAVDESS recordings when the corpora are here, and 3 corrupt
    files: ``(folder, input order, corrupt)``."""
    folder = tmp_path_factory.mktemp("archive")
    write_tones(folder, 120)
    root = find_data_root()
    real = sorted(root.glob("ravdess/Actor_05/*.flac"))[:4] if root is not None else []
    for path in real:
        shutil.copy(path, folder / path.name)
    corrupt = write_corrupt(folder / "bad")
    (folder / "notes.txt").write_text("not audio")
    expected = list_sources(folder)
    assert len(expected) == 123 + len(real)
    return folder, expected, corrupt


def read_parts(out: Path) -> pd.DataFrame:
    """Every part of ``out``, in part order, with the part each row came from."""
    parts = sorted(out.glob("part-*.parquet"))
    frames = [pd.read_parquet(p).assign(part=p.name) for p in parts]
    return pd.concat(frames, ignore_index=True)


def check_exactly_once(rows: pd.DataFrame, expected: list[str], corrupt: list[str]) -> None:
    assert len(rows) == len(expected), "one row per file"
    assert rows["source"].is_unique, "no file appears twice"
    assert list(rows["source"]) == expected, "every file, in input order"
    errors = rows[rows["status"] == "error"]
    assert sorted(errors["source"]) == sorted(corrupt), "the corrupt files, and only they, failed"
    assert errors["error"].str.len().min() > 10, "each error row says why"
    ok = rows[rows["status"] == "ok"]
    assert ok["label"].isin(CLASSES).all() and list(ok.filter(like="p_")) == ["p_anger", "p_sad"]
    np.testing.assert_allclose(ok["p_anger"] + ok["p_sad"], 1.0, atol=1e-9)


def same_predictions(rows: pd.DataFrame, paths: list[str]) -> None:
    """``rows`` hold what :func:`predict_batch` gives in this process."""
    local = predict_batch(paths, classes=CLASSES).set_index("source")
    mine = rows.set_index("source").loc[paths]
    assert list(mine["status"]) == list(local["status"])
    assert list(mine["label"].fillna("")) == list(local["label"].fillna(""))
    np.testing.assert_allclose(mine["p_anger"], local["p_anger"], atol=1e-6, equal_nan=True)
    assert (mine["model"] == local["model"]).all()


def worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


# -- fault tolerance -------------------------------------------------------------------


def test_a_worker_killed_mid_run_loses_no_file(cluster, client, archive, tmp_path):
    """SIGKILL one worker process once some parts are written: its tasks run elsewhere,
    and the output holds every file exactly once."""
    folder, expected, corrupt = archive
    out = tmp_path / "out"
    before = worker_pids(client)
    assert len(before) == 2
    victim = next(iter(before.values()))
    killed_at: list[int] = []

    def hook(step, artifact=None, *, total=None, completed=None):
        if not killed_at and completed and completed >= 24:
            os.kill(victim, signal.SIGKILL)
            killed_at.append(completed)

    summary = predict_archive(
        folder,
        out,
        scheduler=cluster.scheduler_address,
        classes=CLASSES,
        batch_size=8,
        hook=hook,
    )
    assert killed_at and killed_at[0] < len(expected) - 60, "killed with much work left"
    assert victim not in worker_pids(client).values(), "that worker process is gone"
    rows = read_parts(out)
    check_exactly_once(rows, expected, corrupt)
    parts = math.ceil(len(expected) / 8)
    assert summary.parts == parts and summary.computed_parts == parts, "each part written once"
    assert (rows.groupby("part").size().iloc[:-1] == 8).all()
    assert summary.processed == len(expected) and summary.failed == len(corrupt)
    assert {s for s, _ in summary.failures} == set(corrupt)
    assert (out / SUCCESS).exists()
    assert not list(out.glob(".*")), "no temporary or lock file is left"
    same_predictions(rows, [p for p in expected if p not in corrupt][:10] + corrupt)


@pytest.mark.parametrize("timeline", [False, True], ids=["files", "timeline"])
def test_a_file_its_workers_keep_dying_on_is_an_error_row_and_the_rest_are_kept(
    cluster, client, tmp_path, timeline
):
    """Dask gives up on a task whose workers keep dying (KilledWorker): the part is then
    predicted one file per task, and only the file that kills its worker alone fails.
    (The workers here raise KilledWorker for a 'poison' file instead of dying 4 times.)"""

    def poison(undo: bool = False) -> None:
        import types

        from distributed import KilledWorker

        import emovox.batch.dask_batch as module

        for name in ("_predict_source", "_timeline_source"):
            original = getattr(module, f"{name}_original", None) or getattr(module, name)
            if undo:
                setattr(module, name, original)
                continue

            def wrapper(recognizer, source, *args, original=original):
                if "poison" in source:
                    raise KilledWorker(source, types.SimpleNamespace(address="here"), 3)
                return original(recognizer, source, *args)

            setattr(module, f"{name}_original", original)
            setattr(module, name, wrapper)

    paths = write_tones(tmp_path / "in", 9)
    bad = Path(paths[5]).with_name("poison.wav")
    shutil.move(paths[5], bad)
    expected = list_sources(tmp_path / "in")
    client.wait_for_workers(2, timeout=60)  # a worker restarted by another test included
    client.run(poison)
    try:
        summary = predict_archive(
            tmp_path / "in", tmp_path / "out", scheduler=cluster.scheduler_address,
            classes=CLASSES, batch_size=4, timeline=timeline,
        )  # fmt: skip
    finally:
        client.run(poison, True)
    rows = read_parts(tmp_path / "out")
    assert list(dict.fromkeys(rows["source"])) == expected
    failed = rows[rows["status"] == "error"]
    assert list(failed["source"]) == [str(bad)], "only the poison file failed"
    assert "worker process died while predicting this file alone (4 times)" in failed.iloc[0].error
    assert summary.isolated == 4 and summary.failed == 1 and summary.computed_parts == 3
    poisoned = rows[rows["source"] == str(bad)]["part"].iloc[0]
    assert rows.groupby("part")["source"].nunique()[poisoned] == 4, "its part is whole"


def start_cli(tmp_path: Path, *args: str) -> subprocess.Popen:
    """``python -m emovox ARGS`` in its own process group, its output in ``process.log``."""
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


def test_a_client_killed_half_way_resumes_computing_only_missing_parts(cluster, archive, tmp_path):
    folder, expected, corrupt = archive
    out = tmp_path / "out"
    args = ["batch", str(folder), "--out", str(out), "--classes", ",".join(CLASSES)]
    args += ["--scheduler", cluster.scheduler_address, "--batch-size", "4", "--json"]
    process = start_cli(tmp_path, *args)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("part-*.parquet"))) < 8:
            if process.poll() is not None:
                log = process.log.read_text()[-3000:]  # type: ignore[attr-defined]
                pytest.fail(f"the batch ended (code {process.returncode}) before 8 parts:\n{log}")
            assert time.monotonic() < deadline, "timed out waiting for 8 parts"
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    written = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("part-*.parquet")}
    parts = math.ceil(len(expected) / 4)
    assert 8 <= len(written) < parts, "killed half way"
    assert not (out / SUCCESS).exists()
    (out / ".part-000030.parquet.emovox-tmp").write_bytes(b"half a part")  # a kill mid-write

    done = subprocess.run(
        [sys.executable, "-m", "emovox", *args], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 1, f"corrupt files make the exit code 1:\n{done.stderr[-3000:]}"
    summary = json.loads(done.stdout)
    assert summary["parts"] == parts
    assert summary["skipped_parts"] == len(written), "the parts there were not computed again"
    assert summary["computed_parts"] == parts - len(written)
    assert summary["skipped"] + summary["processed"] == len(expected)
    assert summary["failed"] == len(corrupt)
    assert any(".part-000030.parquet.emovox-tmp" in note for note in summary["notes"])
    for name, identity in written.items():
        path = out / name
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == identity, f"{name} rewritten"
    check_exactly_once(read_parts(out), expected, corrupt)
    assert (out / SUCCESS).exists()

    again = predict_archive(
        folder, out, scheduler=cluster.scheduler_address, classes=CLASSES, batch_size=4
    )
    assert (again.computed_parts, again.processed) == (0, 0), "a finished run is a no-op"
    assert again.failed == len(corrupt) and again.rows == len(expected)


# -- inputs: URLs, globs, manifests ----------------------------------------------------


def populate_memory(files: dict[str, bytes]) -> int:
    """Write ``files`` into this process' fsspec memory file system (workers have their
    own: the test runs this on each of them too)."""
    import fsspec

    fs = fsspec.filesystem("memory")
    for path, data in files.items():
        fs.pipe_file(path, data)
    return len(files)


def test_memory_urls_are_read_by_the_workers_and_written_by_the_client(cluster, client, tmp_path):
    import fsspec

    local = write_tones(tmp_path / "src", 6) + write_corrupt(tmp_path / "src" / "bad")[:1]
    names = [str(Path(p).relative_to(tmp_path / "src")) for p in local]
    files = {f"/archive/{n}": Path(p).read_bytes() for n, p in zip(names, local, strict=True)}
    files["/archive/.hidden.wav"] = b""
    files["/archive/list.csv"] = ("path\n" + "\n".join(names[:3]) + "\nmissing.wav\n").encode()
    populate_memory(files)
    assert set(client.run(populate_memory, files).values()) == {len(files)}

    summary = predict_archive(
        "memory://archive", "memory://results/run1", scheduler=cluster.scheduler_address,
        classes=CLASSES, batch_size=4,
    )  # fmt: skip
    fs = fsspec.filesystem("memory")
    rows = pd.read_parquet("memory://results/run1")
    urls = sorted(f"memory:///archive/{n}" for n in names)
    assert list(rows["source"]) == urls, "the folder's audio files, sorted, hidden ones skipped"
    assert summary.parts == 2 and summary.failed == 1
    assert fs.exists("/results/run1/_SUCCESS") and fs.exists(f"/results/run1/{DESCRIPTION}")
    by_url = rows.set_index("source")
    local_rows = predict_batch(local, classes=CLASSES).set_index("source")
    for name, path in zip(names, local, strict=True):
        url = f"memory:///archive/{name}"
        assert by_url.loc[url, "status"] == local_rows.loc[path, "status"]
        if by_url.loc[url, "status"] == "ok":
            assert by_url.loc[url, "p_anger"] == pytest.approx(local_rows.loc[path, "p_anger"])

    manifest = predict_archive(
        "memory://archive/list.csv", "memory://results/run2",
        scheduler=cluster.scheduler_address, classes=CLASSES,
    )  # fmt: skip
    rows = pd.read_parquet("memory://results/run2")
    listed = [f"memory:///archive/{n}" for n in [*names[:3], "missing.wav"]]
    assert list(rows["source"]) == listed, "a manifest's order, relative to its folder"
    assert list(rows["status"]) == ["ok", "ok", "ok", "error"] and manifest.failed == 1
    assert "does not exist" in rows["error"].iloc[-1]


def test_file_urls_globs_and_parquet_manifests_list_plain_paths(tmp_path):
    paths = write_tones(tmp_path / "a", 4, duration=0.3)
    (tmp_path / "a" / "d0" / "notes.txt").write_text("x")
    assert list_sources(f"file://{tmp_path / 'a'}") == sorted(paths)
    assert list_sources(str(tmp_path / "a" / "**" / "tone_000[12].wav")) == sorted(paths)[1:3]
    assert list_sources(tmp_path / "a" / "d0" / "notes.txt") == [
        str(tmp_path / "a" / "d0" / "notes.txt")
    ], "a file named alone is kept whatever its extension"
    manifest = tmp_path / "a" / "list.parquet"
    relative = [str(Path(p).relative_to(tmp_path / "a")) for p in paths]
    pd.DataFrame({"speaker": ["x"] * 5, "path": [*reversed(relative), relative[0]]}).to_parquet(
        manifest
    )
    assert list_sources(manifest) == list(reversed(paths)), "in order, each once"
    for bad, message in [
        (tmp_path / "nope", "does not exist"),
        (str(tmp_path / "a" / "*.flac"), "No file matches"),
        ("-", "Standard input"),
        ("", "Give a folder"),
    ]:
        with pytest.raises(ParameterError, match=message):
            list_sources(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParameterError, match="No audio file found"):
        list_sources(tmp_path / "empty")
    (tmp_path / "bad.csv").write_text("file,label\na.wav,x\n")
    with pytest.raises(ParameterError, match="no path column"):
        list_sources(tmp_path / "bad.csv")


# -- timelines -------------------------------------------------------------------------


def test_timeline_mode_writes_one_row_per_segment_and_one_per_failed_file(cluster, tmp_path):
    from emovox.batch import recognizer_for

    folder = tmp_path / "calls"
    corrupt = [str(folder / "bad" / "garbage.flac")]
    Path(corrupt[0]).parent.mkdir(parents=True)
    Path(corrupt[0]).write_bytes(b"fLaC" + bytes(2000))
    sf.write(folder / "silence.wav", np.zeros(16_000, dtype=np.float32), 16_000)
    root = find_data_root()  # real speech when the corpora are here; tones otherwise
    speech = sorted(root.glob("ravdess/Actor_01/*.flac"))[:2] if root is not None else []
    for path in speech:
        shutil.copy(path, folder / path.name)
    tone = write_tone(folder / "tone.wav", duration=2.0)
    expected = list_sources(folder)

    summary = predict_archive(
        folder, tmp_path / "out", scheduler=cluster.scheduler_address, classes=CLASSES,
        timeline=True, window=1.0, batch_size=2,
    )  # fmt: skip
    rows = read_parts(tmp_path / "out")
    assert list(dict.fromkeys(rows["source"])) == expected, "every file, in order"
    assert rows.groupby("source")["part"].nunique().max() == 1, "each file in one part"
    assert set(rows["status"]) <= {"ok", "no_speech", "error"}
    by_file = rows.groupby("source")["status"].agg(set)
    assert by_file[corrupt[0]] == {"error"}
    assert by_file[str(folder / "silence.wav")] == {"no_speech"}
    assert summary.failed == 1 and summary.rows == len(rows) and summary.mode == "timeline"
    ok = rows[rows["status"] == "ok"]
    assert (ok["end"] > ok["start"]).all() and ok["label"].isin(["anger", "sad"]).all()
    for path in [str(folder / p.name) for p in speech]:
        assert by_file[path] == {"ok"}, "real speech has segments"
    reference = recognizer_for(None).timeline(str(tone), window=1.0, classes=CLASSES)
    reference = reference.reset_index()
    mine = rows[rows["source"] == str(tone)]
    if reference.empty:
        assert list(mine["status"]) == ["no_speech"]
    else:
        np.testing.assert_array_equal(mine["start"], reference["start"])
        np.testing.assert_allclose(mine["p_anger"], reference["p_anger"], atol=1e-6)


# -- real corpus files and the command line --------------------------------------------


def test_real_corpus_files_with_the_default_model_through_the_cli(
    monkeypatch, capsys, corpus_root, cluster, tmp_path
):
    """A manifest of RAVDESS and EmoDB files (and one corrupt), the bundled model, --json."""
    from emovox import Recognizer

    files = sorted(corpus_root("ravdess").glob("Actor_03/*.flac"))[:3]
    files += sorted(corpus_root("emodb").glob("wav/*.flac"))[:2]
    corrupt = write_corrupt(tmp_path / "bad")[1:2]
    manifest = tmp_path / "list.csv"
    manifest.write_text("path,label\n" + "".join(f"{p},x\n" for p in [*files, *corrupt]))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        monkeypatch, capsys, "batch", str(manifest), "--out", str(out),
        "--scheduler", cluster.scheduler_address, "--classes", "anger,happy,sad,neutral",
        "--json",
    )  # fmt: skip
    assert code == 1, stderr
    summary = json.loads(stdout)
    assert (summary["files"], summary["failed"], summary["parts"]) == (6, 1, 1)
    assert summary["model"].startswith("default_model@")
    rows = pd.read_parquet(out)
    assert list(rows["source"]) == [*map(str, files), *corrupt]
    recognizer = Recognizer.load()
    for path in files[:2]:
        expected = recognizer.predict_file(path, classes="anger,happy,sad,neutral")
        row = rows.set_index("source").loc[str(path)]
        assert row["label"] == expected.label
        assert row["p_sad"] == pytest.approx(expected.probabilities["sad"], abs=1e-6)
    assert {c for c in rows.columns if c.startswith("p_")} == {
        "p_anger", "p_happy", "p_neutral", "p_sad",
    }  # fmt: skip


def test_the_cli_starts_a_local_cluster_without_a_scheduler(monkeypatch, capsys, tmp_path):
    paths = write_tones(tmp_path / "in", 3, duration=0.5)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        monkeypatch, capsys, "batch", str(tmp_path / "in"), "--out", str(out),
        "--workers", "1", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["scheduler"].startswith("a local cluster at tcp://")
    assert (summary["workers"], summary["files"], summary["failed"]) == (1, 3, 0)
    assert list(pd.read_parquet(out)["source"]) == paths


# -- refusals --------------------------------------------------------------------------


def test_an_output_of_another_batch_is_refused(cluster, tmp_path):
    from emovox.recognizer import default_model_path

    paths = write_tones(tmp_path / "in", 5, duration=0.3)
    out = tmp_path / "out"
    address = cluster.scheduler_address
    predict_archive(tmp_path / "in", out, scheduler=address, classes=CLASSES, batch_size=2)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir())
    no_scheduler = "tcp://127.0.0.1:9"  # refused before any connection is tried
    with pytest.raises(ParameterError, match="--batch-size 2"):
        predict_archive(tmp_path / "in", out, scheduler=no_scheduler, classes=CLASSES)
    Path(paths[0]).unlink()
    with pytest.raises(ParameterError, match="lists 4"):
        predict_archive(tmp_path / "in", out, scheduler=no_scheduler, batch_size=2)
    write_tone(tmp_path / "in" / "other.wav", duration=0.3)
    with pytest.raises(ParameterError, match="other input files"):
        predict_archive(tmp_path / "in", out, scheduler=no_scheduler, batch_size=2)
    with pytest.raises(ParameterError, match="timeline"):
        predict_archive(tmp_path / "in", out, scheduler=no_scheduler, timeline=True)
    shutil.move(tmp_path / "in" / "other.wav", paths[0])
    other = shutil.copytree(default_model_path(), tmp_path / "copy")  # same model, other name
    with pytest.raises(ParameterError, match="uses copy@"):
        predict_archive(
            tmp_path / "in", out, scheduler=address, model=other, classes=CLASSES, batch_size=2
        )
    with pytest.raises(ParameterError, match="classes anger, sad, and this run asks for all"):
        predict_archive(tmp_path / "in", out, scheduler=address, batch_size=2)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir()) == before
    again = predict_archive(  # the same classes, named otherwise: the same batch, resumed
        tmp_path / "in", out, scheduler=address, batch_size=2, classes=["Sad", "ANGER"]
    )
    assert (again.skipped_parts, again.computed_parts) == (3, 0)

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    with pytest.raises(ParameterError, match="not an emovox batch"):
        predict_archive(tmp_path / "in", tmp_path / "mine", scheduler=address)
    with pytest.raises(ParameterError, match="is a file"):
        predict_archive(tmp_path / "in", paths[1], scheduler=address)


def test_bad_arguments_are_clear_errors_not_hangs(cluster, tmp_path):
    write_tones(tmp_path / "in", 2, duration=0.3)
    source, out = tmp_path / "in", tmp_path / "out"
    started = time.monotonic()
    with pytest.raises(ParameterError, match="Cannot reach a Dask scheduler"):
        predict_archive(source, out, scheduler="tcp://127.0.0.1:9", connect_timeout=1)
    assert time.monotonic() - started < 15, "the timeout holds"
    for kwargs, message in [
        ({"scheduler": "nonsense"}, "not a Dask scheduler address.*port"),
        ({"scheduler": "foo://host:1"}, "unknown address scheme"),
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:9"}, "local cluster"),
        ({"batch_size": 0}, "batch_size"),
        ({"window": 2.0}, "--timeline"),
        ({"timeline": True, "hop": 9.0}, "hop"),
        ({"classes": 3}, "classes"),
    ]:
        with pytest.raises(ParameterError, match=message):
            predict_archive(source, out, **kwargs)
    address = cluster.scheduler_address
    with pytest.raises(ModelError, match="no class"):
        predict_archive(source, out, scheduler=address, classes="anger,joy")
    with pytest.raises(ModelError, match="not an emovox model folder"):
        predict_archive(source, out, scheduler=address, model=tmp_path / "no-model")
    assert not out.exists() or not list(out.glob("part-*")), "nothing predicted"
