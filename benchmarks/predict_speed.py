"""Prediction speed of a Whisper + linear-head model: fast path, reference path, seed.

One run measures, on this machine and in this order (timings are noisy on a shared
machine, so everything is compared within the run, as medians):

* warm latency of ``Recognizer.predict`` on one 3 s WAV clip, one thread, for the fast
  path (ONNX encoder + numpy head) and the reference path (PyTorch int8 + scikit-learn);
* throughput of ``predict_files`` over a batch of RAVDESS files (seconds of audio per
  second), and the median seconds per clip, beside the seed's pipeline on the same files
  (``librosa.load(sr=44100, res_type="kaiser_best", duration=2.5, offset=0.5)``, 39 MFCCs
  padded to 216 frames, the seed Conv2D fitted for one epoch on random images);
* cold start of ``python -m emovox predict CLIP --json`` in a fresh process (median of
  ``--cold-runs``), with the ONNX encoder already cached, its peak RSS, the one-time cost
  of the first run with an empty cache (builds the ONNX encoder), and a fresh process on
  the reference path for comparison;
* label agreement and max |Δp| of the fast path against the reference on ``--agreement``
  RAVDESS files.

    python benchmarks/predict_speed.py --model /tmp/m-wh [--files 40] [--cold-runs 5]

The seed row runs only as the seed ran: librosa's ``kaiser_best`` resampling needs
``resampy`` (in the ``dev`` extra). Without it the row is left out, with the reason printed
and recorded, and no seed / fast ratio is given: a row named after the seed never measures
another resampler.

It prints a Markdown table and writes it as JSON to ``runs/predict_speed.json``.
The model folder is not modified: it is re-saved (with its folded head) to a temp folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one thread for the in-process (warm) measurements

import numpy as np  # noqa: E402  (after the thread settings)
import soundfile as sf  # noqa: E402

from emovox.audio import SAMPLE_RATE, load_audio  # noqa: E402
from emovox.recognizer import Recognizer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLIP_SECONDS = 3.0


def data_root() -> Path:
    return Path(os.environ.get("EMOVOX_DATA", REPO.parent / "shared" / "data"))


def ravdess_files(n: int, *, offset: int = 0) -> list[Path]:
    files = sorted((data_root() / "ravdess").glob("Actor_*/*.*"))
    if not files:
        sys.exit(f"no RAVDESS files under {data_root() / 'ravdess'}; set EMOVOX_DATA")
    step = max(1, len(files) // max(n, 1))
    return files[offset::step][:n]


def write_clip(source: Path, target: Path) -> Path:
    """The middle 3 s of ``source`` (zero-padded if shorter) as a 16 kHz WAV."""
    signal = load_audio(source)
    n = int(CLIP_SECONDS * SAMPLE_RATE)
    start = max(0, (signal.size - n) // 2)
    clip = np.pad(signal[start : start + n], (0, max(0, n - signal[start:].size)))
    sf.write(target, clip[:n], SAMPLE_RATE)
    return target


def timed(fn: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = child.stderr.read().decode()[-2000:]
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"wall": wall, "rss_kb": usage.ru_maxrss, "code": code, "err": err}))
"""


def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a fresh process running ``args``.

    The process is started by a small launcher: a child's peak RSS on Linux counts the
    memory of the process it was forked from, which here is this (large) benchmark.
    """
    launcher = [sys.executable, "-c", LAUNCHER, *args]
    done = subprocess.run(launcher, capture_output=True, text=True, env=env or os.environ.copy())
    if done.returncode != 0:
        sys.exit(f"launcher failed:\n{done.stderr}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report["code"] != 0:
        sys.exit(f"{' '.join(args)} failed:\n{report['err']}")
    return report["wall"], report["rss_kb"] / 1024


# ------------------------------------------------------------------ the seed pipeline


SEED_RESAMPLER = "kaiser_best"
"""librosa's ``res_type`` in the seed's ``librosa.load``; librosa implements it with resampy."""


def seed_pipeline_missing() -> str | None:
    """Why the seed's pipeline cannot run as the seed ran it here, or None when it can."""
    try:
        import resampy  # noqa: F401  (librosa's kaiser_best needs it)
    except ImportError:
        return (
            f"resampy is not installed, and librosa needs it for the seed's "
            f"res_type='{SEED_RESAMPLER}' (pip install resampy, or the dev extra); "
            "another resampler would time another pipeline"
        )
    return None


def seed_pipeline() -> Callable[[Path], np.ndarray]:
    """The seed's per-file prediction: librosa at 44.1 kHz (kaiser_best), MFCC image, Conv2D.

    Raises RuntimeError, rather than substitute another resampler, when
    :func:`seed_pipeline_missing` says it cannot run.
    """
    missing = seed_pipeline_missing()
    if missing is not None:
        raise RuntimeError(f"The seed pipeline cannot run: {missing}.")
    import librosa
    import torch

    from emovox.models import make_model

    res_type = SEED_RESAMPLER
    rng = np.random.default_rng(0)
    cnn = make_model("seed_cnn", max_epochs=1, n_threads=1)
    images = rng.standard_normal((32, 39, 216)).astype(np.float32)
    cnn.fit(images, np.array(["anger", "sad"] * 16))
    torch.set_num_threads(1)

    def predict(path: Path) -> np.ndarray:
        y, sr = librosa.load(path, sr=44100, res_type=res_type, duration=2.5, offset=0.5)
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=39)
        mfcc = np.pad(mfcc, ((0, 0), (0, max(0, 216 - mfcc.shape[1]))))[:, :216]
        return cnn.predict_proba(mfcc[None].astype(np.float32))

    return predict


def seed_over_fast(results: dict) -> float | None:
    """Seconds per clip of the seed pipeline over the fast path's, or None when the seed
    row did not run (or ran with anything but the seed's resampler)."""
    rows = results["pipelines"]
    if "seed" not in rows or results.get("seed_resampler") != SEED_RESAMPLER:
        return None
    return rows["seed"]["seconds_per_clip"] / rows["fast"]["seconds_per_clip"]


# ------------------------------------------------------------------ measurements


def agreement(fast: Recognizer, reference: Recognizer, files: list[Path]) -> dict:
    """Fast vs reference, and the reference vs itself on input dithered at -100 dBFS."""
    rng = np.random.default_rng(0)
    same, same_dither, worst = 0, 0, 0.0
    for path in files:
        signal = load_audio(path)
        dither = signal + 1e-5 * rng.standard_normal(signal.size).astype(np.float32)
        a = fast.predict(signal, sample_rate=SAMPLE_RATE)
        b = reference.predict(signal, sample_rate=SAMPLE_RATE)
        same += a.label == b.label
        same_dither += reference.predict(dither, sample_rate=SAMPLE_RATE).label == b.label
        worst = max(worst, *(abs(a.probabilities[k] - b.probabilities[k]) for k in a.probabilities))
    return {
        "files": len(files),
        "label_agreement": same / len(files),
        "max_abs_dp": worst,
        "reference_vs_dithered_reference": same_dither / len(files),
    }


def heldout_agreement(n: int, folder: Path) -> dict:
    """:func:`agreement` for a model trained on RAVDESS actors 1-8, on files of the others.

    The benchmark model usually saw every RAVDESS file in training, where predictions are
    confident; on unseen speakers they are not, and quantization noise matters more.
    """
    from emovox.corpora import load_corpus
    from emovox.features import FeatureCache

    table = load_corpus("ravdess", data_root() / "ravdess")
    actor = table["speaker"].astype(str)
    train = sorted(actor.unique())[:8]
    model = Recognizer.train(
        table[actor.isin(train)],
        features={"name": "whisper", "layers": "all"},
        classifier="layer_logreg",
        params={"layers": [1, 2, 3, 4, 5, 6]},
        cache=FeatureCache(),
    ).save(folder)
    held_out = [Path(p) for p in table[~actor.isin(train)]["path"]]
    files = held_out[:: max(1, len(held_out) // n)][:n]
    result = agreement(Recognizer.load(model, fast=True), Recognizer.load(model, fast=False), files)
    return {**result, "trained_on": "RAVDESS actors 1-8 (layer_logreg, layers 1-6)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="Whisper + linear head model")
    parser.add_argument("--files", type=int, default=40, help="files for throughput")
    parser.add_argument("--repeats", type=int, default=20, help="warm latency repeats")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--agreement", type=int, default=100, help="files for label agreement")
    parser.add_argument(
        "--heldout", type=int, default=100, help="held-out files for a model trained on 8 actors"
    )
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "predict_speed.json")
    parser.add_argument(
        "--docs", type=Path, default=None, help="also write the table into this Markdown file"
    )
    args = parser.parse_args()

    results: dict = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
            "python": platform.python_version(),
        },
        "model": str(args.model),
    }
    with tempfile.TemporaryDirectory(prefix="emovox-bench-") as tmp:
        tmp = Path(tmp)
        reference = Recognizer.load(args.model, fast=False)
        folder = reference.save(tmp / "model")
        reference = Recognizer.load(folder, fast=False)
        fast = Recognizer.load(folder, fast=True)  # builds the ONNX encoder if needed
        clip = write_clip(ravdess_files(1, offset=7)[0], tmp / "clip3s.wav")
        batch = ravdess_files(args.files, offset=3)
        audio_seconds = sum(sf.info(p).duration for p in batch)

        # warm latency, 3 s clip
        rows = {}
        for name, recognizer in (("fast", fast), ("reference", reference)):
            times = timed(lambda r=recognizer: r.predict(clip), args.repeats)
            rows[name] = {"warm_ms_3s_clip": 1000 * statistics.median(times)}
        # throughput and per-clip time on the same files
        pipelines = {"fast": fast.predict, "reference": reference.predict}
        missing = seed_pipeline_missing()
        if missing is None:
            pipelines["seed"] = seed_pipeline()
            results["seed_resampler"] = SEED_RESAMPLER
        else:
            results["seed_omitted"] = missing
            print(f"seed row left out: {missing}", file=sys.stderr, flush=True)
        for name, predict in pipelines.items():
            predict(batch[0])
            per_clip = []
            start = time.perf_counter()
            for path in batch:
                t0 = time.perf_counter()
                predict(path)
                per_clip.append(time.perf_counter() - t0)
            total = time.perf_counter() - start
            row = rows.setdefault(name, {})
            row["seconds_per_clip"] = statistics.median(per_clip)
            row["throughput_audio_s_per_s"] = audio_seconds / total

        # cold start: a fresh `emovox predict` per run, the ONNX encoder already cached
        cli = [sys.executable, "-m", "emovox", "predict", str(clip), "--model", str(folder)]
        run_child([*cli, "--json"])  # warm the page cache
        cold = [run_child([*cli, "--json"]) for _ in range(args.cold_runs)]
        rows["fast"]["cold_start_s"] = statistics.median(w for w, _ in cold)
        rows["fast"]["peak_rss_mib"] = max(r for _, r in cold)
        env = {**os.environ, "EMOVOX_CACHE": str(tmp / "empty-cache")}
        first, first_rss = run_child([*cli, "--json"], env=env)
        results["first_run_with_empty_cache_s"] = first
        results["first_run_peak_rss_mib"] = first_rss
        script = (
            "from emovox.recognizer import Recognizer\n"
            f"r = Recognizer.load({str(folder)!r}, fast=False)\n"
            f"print(r.predict({str(clip)!r}).label)\n"
        )
        runs = max(1, args.cold_runs // 2)
        ref_cold = [run_child([sys.executable, "-c", script]) for _ in range(runs)]
        rows["reference"]["cold_start_s"] = statistics.median(w for w, _ in ref_cold)
        rows["reference"]["peak_rss_mib"] = max(r for _, r in ref_cold)

        results["agreement"] = agreement(fast, reference, ravdess_files(args.agreement))
        if args.heldout:
            results["heldout_agreement"] = heldout_agreement(args.heldout, tmp / "heldout")
    results["pipelines"] = rows
    results["seed_over_fast_seconds_per_clip"] = seed_over_fast(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    print(table)
    print(f"\nwritten to {args.out}")
    if args.docs is not None:
        from emovox.evaluation.markdown import replace_section

        load = ", ".join(f"{x:.1f}" for x in results["machine"]["load_average_at_start"])
        replace_section(
            args.docs,
            "results-speed",
            "## Speed\n\n"
            f"One run of `python benchmarks/predict_speed.py --model {args.model} --docs "
            f"{args.docs}` on {results['machine']['cpus']} CPU cores (load average at start: "
            f"{load}; other jobs shared the machine, so compare rows within the run).\n\n" + table,
        )


def markdown(results: dict) -> str:
    rows = results["pipelines"]
    names = {
        "fast": "fast path (ONNX int8 + numpy head)",
        "reference": "reference (PyTorch int8 + scikit-learn)",
        "seed": f"seed (librosa {SEED_RESAMPLER} 44.1 kHz + MFCC + Conv2D)",
    }

    def cell(row: dict, key: str, fmt: str) -> str:
        return format(row[key], fmt) if key in row else "-"

    lines = [
        "| pipeline | warm ms / 3 s clip | s / clip | audio s / s | cold start s | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, row in rows.items():
        if key == "seed" and seed_over_fast(results) is None:
            continue  # never a seed row that did not run the seed's pipeline
        lines.append(
            f"| {names[key]} | {cell(row, 'warm_ms_3s_clip', '.1f')} "
            f"| {cell(row, 'seconds_per_clip', '.3f')} "
            f"| {cell(row, 'throughput_audio_s_per_s', '.1f')} "
            f"| {cell(row, 'cold_start_s', '.2f')} | {cell(row, 'peak_rss_mib', '.0f')} |"
        )
    agree = results["agreement"]
    ratio = seed_over_fast(results)
    lines += [
        "",
        f"- seed / fast, seconds per clip: {ratio:.1f}x"
        if ratio is not None
        else "- seed pipeline not run, so no seed row and no seed / fast ratio: "
        f"{results.get('seed_omitted', 'not measured')}",
        f"- first `emovox predict` with an empty cache (builds the ONNX encoder once): "
        f"{results['first_run_with_empty_cache_s']:.1f} s, "
        f"peak RSS {results['first_run_peak_rss_mib']:.0f} MiB",
        f"- fast vs reference on {agree['files']} RAVDESS files ({results['model']}): "
        f"{100 * agree['label_agreement']:.1f} % same label, max |dp| {agree['max_abs_dp']:.3f}; "
        f"reference vs itself with -100 dBFS dither: "
        f"{100 * agree['reference_vs_dithered_reference']:.1f} %",
        f"- cold start: median of fresh `python -m emovox predict CLIP --json` processes; "
        f"reference: a fresh `python -c` loading with fast=False. "
        f"Load average at start {results['machine']['load_average_at_start'][0]:.1f} "
        f"on {results['machine']['cpus']} CPUs.",
    ]
    held = results.get("heldout_agreement")
    if held:
        lines.append(
            f"- held-out speakers ({held['trained_on']}; {held['files']} files of actors "
            f"9-20): fast vs reference {100 * held['label_agreement']:.1f} % same label, "
            f"max |dp| {held['max_abs_dp']:.3f}; reference vs itself with -100 dBFS dither "
            f"{100 * held['reference_vs_dithered_reference']:.1f} %"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
