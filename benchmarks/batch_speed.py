"""Throughput of the folder batch (``emovox predict DIR --out``) with 1 and 2 processes.

Each configuration runs in a fresh Python process (so the model is loaded as a user's run
loads it, never reused from an earlier configuration) over the same RAVDESS files, listed
in a manifest, with a new output each time, and reports:

* **end to end**: files per second from the start of the process (imports, model load,
  worker start-up, listing, every file, the final reordering of the output) to its end:
  what a user's ``emovox predict DIR --out results.csv`` gets on this many files;
* **steady**: files per second between the first batch written and the last, which is what
  a long batch approaches (start-up spread over more files);
* **start-up**: seconds from the process start to the first batch written;
* seconds of audio per second (steady), and how the rows differ from the first run's
  (labels changed, largest difference of a probability);
* CPU seconds per file: user + system time of every process of the run (the parent, the
  fork server, the workers; sampled from ``/proc`` every 0.1 s, so a worker's last tenth
  of a second can be missed), over the files. Unlike the rates, it barely depends on what
  else runs on the machine, so it says whether more processes cost more CPU per file.

Each of 1 and 2 processes runs twice: with the BLAS libraries' default thread count (one
per core: what ``emovox predict DIR --out`` gets in a plain shell) and with one BLAS thread
per process (``OPENBLAS_NUM_THREADS=1`` and friends), because the Whisper log-mel product
goes through BLAS, whose idle threads spin on the cores the other process needs, and whose
float32 rounding changes with the thread count (the last column shows by how much).
``--batch-sizes`` adds runs with 2 processes and other files per task, to show what the
default size (:func:`emovox.batch.runner.default_batch_size`) buys. A rerun over a
finished output (every file skipped) is timed too: the cost of resuming.

    python benchmarks/batch_speed.py [--files 240] [--model DIR] [--batch-sizes 1]
        [--section /tmp/batch_section.md]

Timings depend on the machine and on what else runs on it; the load average at the start is
recorded with the figures. JSON goes to ``runs/batch_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, os, sys, threading, time
start = time.perf_counter()
TICK = os.sysconf("SC_CLK_TCK")
cpu = {}  # pid -> CPU seconds, sampled for every process of this session
def sample():
    sid = os.getsid(0)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:
                cpu[entry] = (int(fields[11]) + int(fields[12])) / TICK
stop = threading.Event()
def sampler():
    while not stop.wait(0.1):
        sample()
threading.Thread(target=sampler, daemon=True).start()
from emovox.batch import predict_folder
marks = []
def hook(step, artifact=None, *, total=None, completed=None):
    marks.append((time.perf_counter() - start, completed))
manifest, out, model, jobs, batch = sys.argv[1:6]
summary = predict_folder(
    manifest, out, model=model or None, jobs=int(jobs), batch_size=int(batch) or None,
    hook=hook,
)
end = time.perf_counter() - start
stop.set()
sample()
report = {"marks": marks, "end": end, "cpu": sum(cpu.values()), "summary": summary.to_dict()}
print(json.dumps(report))
"""


def data_root() -> Path:
    return Path(os.environ.get("EMOVOX_DATA", REPO.parent / "shared" / "data"))


def ravdess_files(n: int) -> list[Path]:
    """``n`` RAVDESS files spread over every actor and emotion (every k-th in path order)."""
    files = sorted((data_root() / "ravdess").glob("Actor_*/*.*"))
    if len(files) < n:
        sys.exit(f"need {n} RAVDESS files under {data_root() / 'ravdess'}, found {len(files)}")
    step = len(files) // n
    return files[::step][:n]


BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run(
    manifest: Path, out: Path, *, model: str, jobs: int, batch: int, blas: int | None = None
) -> dict:
    """One configuration in a fresh process: its timings and summary. ``blas``: BLAS
    threads per process (None: the libraries' default, as a user's shell has it)."""
    args = [sys.executable, "-c", CHILD, str(manifest), str(out), model, str(jobs), str(batch)]
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARIABLES}
    if blas is not None:
        env.update({name: str(blas) for name in BLAS_VARIABLES})
    busy_before, clock_before = busy_cpu_seconds(), time.monotonic()
    done = subprocess.run(
        args, capture_output=True, text=True, cwd=REPO, env=env, start_new_session=True
    )
    busy, clock = busy_cpu_seconds() - busy_before, time.monotonic() - clock_before
    if done.returncode != 0:
        sys.exit(f"batch with {jobs} process(es) failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    marks = [(t, c) for t, c in report["marks"] if c]
    (t_first, n_first), (t_last, n_last) = marks[0], marks[-1]
    files = report["summary"]["processed"]
    return {
        "jobs": jobs,
        "blas_threads": blas,
        "batch_size": report["summary"]["batch_size"],
        "files": files,
        "failed": report["summary"]["failed"],
        "end_to_end_files_per_s": files / report["end"],
        "steady_files_per_s": (n_last - n_first) / (t_last - t_first) if t_last > t_first else None,
        "startup_s": t_first,
        "total_s": report["end"],
        "cpu_s": report["cpu"],
        "cpu_s_per_file": report["cpu"] / files if files else None,
        "other_cores": max(0.0, (busy - report["cpu"]) / clock),
    }


def busy_cpu_seconds() -> float:
    """CPU seconds every process of the machine has spent busy since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def difference(out: Path, reference: Path) -> dict:
    """How the rows of ``out`` differ from those of ``reference``: labels changed, and the
    largest absolute difference of a class probability."""
    import pandas as pd

    a, b = pd.read_csv(out), pd.read_csv(reference)
    if list(a["source"]) != list(b["source"]):
        raise SystemExit(f"{out} and {reference} list different files")
    p = [c for c in a.columns if c.startswith("p_")]
    return {
        "labels_changed": int((a["label"] != b["label"]).sum()),
        "max_abs_dp": float((a[p] - b[p]).abs().to_numpy().max()),
    }


def audio_seconds(out: Path) -> float:
    import pandas as pd

    return float(pd.read_csv(out)["duration"].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=240, help="RAVDESS files per run")
    parser.add_argument("--model", default="", help="model folder (default: the bundled one)")
    parser.add_argument(
        "--batch-sizes", default="1", help="extra files-per-task values for 2 processes"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="runs of each configuration; the least disturbed "
        "one (other processes' CPU use) is reported",
    )
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "batch_speed.json")
    parser.add_argument("--section", type=Path, default=None, help="write the Markdown here")
    args = parser.parse_args()

    load = os.getloadavg()
    files = ravdess_files(args.files)
    work = Path(tempfile.mkdtemp(prefix="emovox-batch-speed-"))
    manifest = work / "files.csv"
    manifest.write_text("path\n" + "\n".join(str(p) for p in files) + "\n")
    warm = work / "warm.csv"  # builds the ONNX encoder in the cache once, if not yet built
    warm.write_text("path\n" + "\n".join(str(p) for p in files[:2]) + "\n")
    run(warm, work / "warm-out.csv", model=args.model, jobs=1, batch=0)

    configs = [(1, 0, None), (2, 0, None), (1, 0, 1), (2, 0, 1)]
    configs += [(2, int(b), None) for b in args.batch_sizes.split(",") if b.strip()]
    tries: dict[int, list[dict]] = {i: [] for i in range(len(configs))}
    for round_ in range(args.rounds):
        for i, (jobs, batch, blas) in enumerate(configs):
            out = work / f"out-{i}-{round_}.csv"
            result = run(manifest, out, model=args.model, jobs=jobs, batch=batch, blas=blas)
            result["output"] = out
            tries[i].append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "output"}), flush=True)
    runs = []
    for i, (_, batch, _) in enumerate(configs):
        result = min(tries[i], key=lambda r: r["other_cores"])  # the least disturbed round
        result["rounds"] = [round(r["other_cores"], 2) for r in tries[i]]
        out = result.pop("output")
        result["default_batch_size"] = batch == 0
        result["mean_file_s"] = audio_seconds(out) / result["files"]
        result["audio_s_per_s_steady"] = (
            audio_seconds(out) / result["files"] * result["steady_files_per_s"]
            if result["steady_files_per_s"]
            else None
        )
        result["versus_first_row"] = difference(out, work / "out-0-0.csv")
        runs.append(result)
    resume = run(manifest, work / "out-0-0.csv", model=args.model, jobs=1, batch=0)

    environment = {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in load],
    }
    results = {"runs": runs, "resume_total_s": resume["total_s"], "environment": environment}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    section = markdown(results, args)
    print(section)
    if args.section is not None:
        args.section.write_text(section)


def markdown(results: dict, args: argparse.Namespace) -> str:
    env = results["environment"]
    model = args.model or "the bundled default model"
    command = f"python benchmarks/batch_speed.py --files {args.files}"
    if args.model:
        command += f" --model {args.model}"
    if args.batch_sizes != "1":
        command += f" --batch-sizes {args.batch_sizes}"
    load = ", ".join(map(str, env["load_average_at_start"]))
    lines = [
        "## Folder batch throughput",
        "",
        f"One run of `{command}` on {env['cpus']} CPU cores ({env['machine']}, Python "
        f"{env['python']}; load average at start {load}"
        "; other jobs may share the machine, so compare rows within the run): "
        f"{results['runs'][0]['files']} RAVDESS files (16 kHz FLAC, "
        f"{results['runs'][0]['mean_file_s']:.2f} s each on average) listed "
        f"in a manifest, {model}, each configuration a fresh `predict_folder` process writing a "
        "new CSV.",
        "",
        "| processes | BLAS threads | files / task | end to end files / s | steady files / s "
        "| steady audio s / s | start-up s | total s | CPU s / file | other jobs, cores | "
        "labels changed, max \\|Δp\\| vs first row |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["runs"]:
        size = f"{r['batch_size']}" + (" (default)" if r["default_batch_size"] else "")
        steady = r["steady_files_per_s"]
        audio = r["audio_s_per_s_steady"]
        blas = "default" if r["blas_threads"] is None else str(r["blas_threads"])
        versus = r["versus_first_row"]
        lines.append(
            f"| {r['jobs']} | {blas} | {size} | {r['end_to_end_files_per_s']:.1f} | "
            f"{'-' if steady is None else f'{steady:.1f}'} | "
            f"{'-' if audio is None else f'{audio:.0f}'} | {r['startup_s']:.1f} | "
            f"{r['total_s']:.1f} | {r['cpu_s_per_file']:.3f} | {r['other_cores']:.2f} | "
            f"{versus['labels_changed']}, {versus['max_abs_dp']:.4f} |"
        )
    rate = {
        (r["jobs"], r["blas_threads"]): r["steady_files_per_s"]
        for r in results["runs"]
        if r["default_batch_size"]
    }
    ratios = [
        f"{what}: {rate[(2, blas)] / rate[(1, blas)]:.2f}x"
        for what, blas in (("default BLAS threads", None), ("1 BLAS thread", 1))
        if rate.get((1, blas)) and rate.get((2, blas))
    ]
    lines += [
        "",
        "- end to end: files / (process start to end: imports, model load, worker start-up, "
        "every file, the output put in input order); steady: files / time between the first "
        "and the last batch written; CPU s / file: user + system time of every process of "
        "the run (start-up included) over the files.",
        f"- each configuration ran {args.rounds} times, interleaved; the row is the run during "
        "which other processes of the machine used the least CPU (other jobs, cores: their "
        "average use over the run, from /proc/stat minus this run's own processes).",
        "- BLAS threads: default is what a shell without OPENBLAS_NUM_THREADS gets (one per "
        "core here), as `emovox predict DIR --out` runs today; 1 sets OPENBLAS_NUM_THREADS, "
        "OMP_NUM_THREADS and MKL_NUM_THREADS to 1 for the run.",
        f"- 2 processes / 1 process, steady: {'; '.join(ratios)}" if ratios else "",
        f"- rerun over the finished output (every file skipped, nothing predicted): "
        f"{results['resume_total_s']:.1f} s, model load included.",
        "",
    ]
    return "\n".join(line for line in lines if line is not None) + "\n"


if __name__ == "__main__":
    main()
