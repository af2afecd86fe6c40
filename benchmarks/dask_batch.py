"""Throughput of ``emovox batch`` (Dask) with 1 and 2 workers, beside the local folder batch.

Every configuration runs in a fresh Python process over the same RAVDESS files (listed in a
manifest), writing a new output, with the same files per task, and one BLAS thread per
process (``OPENBLAS_NUM_THREADS=1`` and friends: Dask's nanny sets this for its workers,
so the local runs get it too, to compare the runners and not the BLAS settings):

* ``predict_folder`` (``emovox predict LIST.csv --out results.csv``) with 1 and 2
  processes: the local runner (:mod:`emovox.batch.runner`);
* ``predict_archive`` (``emovox batch LIST.csv --out DIR``) with a ``LocalCluster`` of 1
  and 2 worker processes (one thread each), started by the call as the command does.

CPU time is sampled from ``/proc`` for every process of the run (the parent, and the
runner's worker processes, the Dask scheduler and nanny included) every 0.1 s and at each
part written: **CPU s / file** counts all of it over the files (start-up included),
**steady CPU s / file** only what was spent between the first part and the last. Unlike
the rates, these barely depend on what else runs on the machine.

Reported per configuration: **end to end** files per second and times real time (process
start to end: imports, cluster start, model loads, every file, the output); **steady**
(between the first part written and the last: what a long batch approaches); **start-up**
(seconds to the first part); CPU seconds per file; and the Dask **overhead**: how much
more CPU per file it spends than the local runner with as many processes (steady, and
start-up included), how much slower its rates are, and its extra start-up. Each configuration runs
``--rounds`` times, interleaved; the row is the run during which other processes used the
least CPU. Then the resident memory of one Dask worker process: after loading the model,
and after predicting a task of files.

    python benchmarks/dask_batch.py [--files 200] [--batch-size 16] [--model DIR] [--rounds 2]

Timings depend on the machine and on what else runs on it; the load average at the start
and the other processes' CPU use are recorded with the figures. JSON goes to
``runs/dask_batch.json``.
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
runner, manifest, out, model, jobs, batch = sys.argv[1:7]
marks = []
def hook(step, artifact=None, *, total=None, completed=None):
    sample()
    marks.append((time.perf_counter() - start, completed, sum(cpu.values())))
if runner == "local":
    from emovox.batch import predict_folder
    summary = predict_folder(
        manifest, out, model=model or None, jobs=int(jobs), batch_size=int(batch), hook=hook
    )
else:
    from emovox.batch import predict_archive
    summary = predict_archive(
        manifest, out, model=model or None, workers=int(jobs), batch_size=int(batch), hook=hook
    )
end = time.perf_counter() - start
stop.set()
sample()
report = {"marks": marks, "end": end, "cpu": sum(cpu.values()), "summary": summary.to_dict()}
print(json.dumps(report))
"""

MEMORY = """
import json, os, sys, time
from distributed import Client
from emovox.batch.dask_batch import model_info, predict_part, start_local_cluster
from emovox.batch.sources import list_sources
manifest, model = sys.argv[1], sys.argv[2] or None
def rss():
    import psutil
    return psutil.Process().memory_info().rss
with start_local_cluster(1) as cluster:
    with Client(cluster) as client:
        bare = list(client.run(rss).values())[0]
        client.submit(model_info, model, None, pure=False).result()
        loaded = list(client.run(rss).values())[0]
        paths = list_sources(manifest)[:32]
        client.submit(predict_part, paths, model=model, classes=None, timeline=None).result()
        after = list(client.run(rss).values())[0]
print(json.dumps({"bare": bare, "loaded": loaded, "after_task": after}))
"""

BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def data_root() -> Path:
    return Path(os.environ.get("EMOVOX_DATA", REPO.parent / "shared" / "data"))


def ravdess_files(n: int) -> list[Path]:
    """``n`` RAVDESS files spread over every actor and emotion (every k-th in path order)."""
    files = sorted((data_root() / "ravdess").glob("Actor_*/*.*"))
    if len(files) < n:
        sys.exit(f"need {n} RAVDESS files under {data_root() / 'ravdess'}, found {len(files)}")
    return files[:: len(files) // n][:n]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({name: "1" for name in BLAS_VARIABLES})
    return env


def busy_cpu_seconds() -> float:
    """CPU seconds every process of the machine has spent busy since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run(runner: str, manifest: Path, out: Path, *, model: str, jobs: int, batch: int) -> dict:
    """One configuration in a fresh process: its timings and summary."""
    args = [sys.executable, "-c", CHILD, runner, str(manifest), str(out), model, str(jobs)]
    args.append(str(batch))
    busy_before, clock_before = busy_cpu_seconds(), time.monotonic()
    done = subprocess.run(
        args, capture_output=True, text=True, cwd=REPO, env=environment(), start_new_session=True
    )
    busy, clock = busy_cpu_seconds() - busy_before, time.monotonic() - clock_before
    if done.returncode != 0:
        sys.exit(f"{runner} with {jobs} process(es) failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    marks = [(t, n, cpu) for t, n, cpu in report["marks"] if n]
    (t_first, n_first, cpu_first), (t_last, n_last, cpu_last) = marks[0], marks[-1]
    files = report["summary"]["processed"]
    return {
        "runner": runner,
        "jobs": jobs,
        "batch_size": batch,
        "files": files,
        "failed": report["summary"]["failed"],
        "end_to_end_files_per_s": files / report["end"],
        "steady_files_per_s": (n_last - n_first) / (t_last - t_first) if t_last > t_first else None,
        "startup_s": t_first,
        "total_s": report["end"],
        "cpu_s_per_file": report["cpu"] / files if files else None,
        "steady_cpu_s_per_file": (cpu_last - cpu_first) / (n_last - n_first)
        if n_last > n_first
        else None,
        "other_cores": max(0.0, (busy - report["cpu"]) / clock),
    }


def memory(manifest: Path, model: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", MEMORY, str(manifest), model],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment(),
    )
    if done.returncode != 0:
        sys.exit(f"the memory measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def slower(local: dict, dask: dict, key: str) -> float:
    """How much more time per file Dask takes than the local runner, in percent."""
    return 100 * (local[key] / dask[key] - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200, help="RAVDESS files per run")
    parser.add_argument("--batch-size", type=int, default=16, help="files per task, every run")
    parser.add_argument("--model", default="", help="model folder (default: the bundled one)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each configuration")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "dask_batch.json")
    args = parser.parse_args()

    import soundfile as sf

    load = os.getloadavg()
    files = ravdess_files(args.files)
    audio_s = sum(sf.info(str(p)).duration for p in files)
    work = Path(tempfile.mkdtemp(prefix="emovox-dask-batch-"))
    manifest = work / "files.csv"
    manifest.write_text("path\n" + "\n".join(str(p) for p in files) + "\n")
    warm = work / "warm.csv"  # builds the ONNX encoder in the cache once, if not yet built
    warm.write_text("path\n" + "\n".join(str(p) for p in files[:2]) + "\n")
    run("local", warm, work / "warm.csv.out.csv", model=args.model, jobs=1, batch=1)

    configs = [("local", 1), ("dask", 1), ("local", 2), ("dask", 2)]
    tries: dict[int, list[dict]] = {i: [] for i in range(len(configs))}
    for round_ in range(args.rounds):
        for i, (runner, jobs) in enumerate(configs):
            out = work / (f"out-{i}-{round_}" + (".csv" if runner == "local" else ""))
            result = run(runner, manifest, out, model=args.model, jobs=jobs, batch=args.batch_size)
            tries[i].append(result)
            print(json.dumps(result), flush=True)
    runs = []
    for i in range(len(configs)):
        result = min(tries[i], key=lambda r: r["other_cores"])  # the least disturbed round
        result["rounds_other_cores"] = [round(r["other_cores"], 2) for r in tries[i]]
        result["end_to_end_x_real_time"] = result["end_to_end_files_per_s"] * audio_s / len(files)
        steady = result["steady_files_per_s"]
        result["steady_x_real_time"] = steady * audio_s / len(files) if steady else None
        runs.append(result)
    overhead = {}
    for jobs in (1, 2):
        local = next(r for r in runs if (r["runner"], r["jobs"]) == ("local", jobs))
        dask = next(r for r in runs if (r["runner"], r["jobs"]) == ("dask", jobs))
        overhead[jobs] = {
            "steady_cpu_more_percent": 100
            * (dask["steady_cpu_s_per_file"] / local["steady_cpu_s_per_file"] - 1),
            "cpu_more_percent": 100 * (dask["cpu_s_per_file"] / local["cpu_s_per_file"] - 1),
            "steady_slower_percent": slower(local, dask, "steady_files_per_s"),
            "end_to_end_slower_percent": slower(local, dask, "end_to_end_files_per_s"),
            "extra_startup_s": dask["startup_s"] - local["startup_s"],
        }
    rss = memory(manifest, args.model)
    results = {
        "files": len(files),
        "mean_file_s": audio_s / len(files),
        "batch_size": args.batch_size,
        "model": args.model or "bundled default",
        "runs": runs,
        "overhead": overhead,
        "worker_rss_bytes": rss,
        "environment": {
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in load],
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    print(markdown(results, args))


def markdown(results: dict, args: argparse.Namespace) -> str:
    env = results["environment"]
    command = f"python benchmarks/dask_batch.py --files {args.files} --batch-size {args.batch_size}"
    if args.model:
        command += f" --model {args.model}"
    load = ", ".join(map(str, env["load_average_at_start"]))
    lines = [
        f"One run of `{command}` on {env['cpus']} CPU cores ({env['machine']}, Python "
        f"{env['python']}; load average at start {load}): {results['files']} RAVDESS files "
        f"(16 kHz FLAC, {results['mean_file_s']:.2f} s each on average), the "
        f"{results['model']} model, {results['batch_size']} files per task, one BLAS thread "
        "per process, each configuration a fresh process.",
        "",
        "| runner | processes | end to end files / s | end to end x real time | steady files / s "
        "| steady x real time | start-up s | total s | CPU s / file | steady CPU s / file "
        "| other jobs, cores |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["runs"]:
        name = "local `predict_folder`" if r["runner"] == "local" else "Dask `predict_archive`"
        steady, times = r["steady_files_per_s"], r["steady_x_real_time"]
        lines.append(
            f"| {name} | {r['jobs']} | {r['end_to_end_files_per_s']:.1f} | "
            f"{r['end_to_end_x_real_time']:.0f}x | {'-' if steady is None else f'{steady:.1f}'} | "
            f"{'-' if times is None else f'{times:.0f}x'} | "
            f"{r['startup_s']:.1f} | {r['total_s']:.1f} | {r['cpu_s_per_file']:.3f} | "
            f"{r['steady_cpu_s_per_file']:.3f} | {r['other_cores']:.2f} |"
        )
    lines.append("")
    for jobs, o in results["overhead"].items():
        lines.append(
            f"- Dask against the local runner, {jobs} process(es): CPU per file "
            f"{o['steady_cpu_more_percent']:+.1f} % steady, {o['cpu_more_percent']:+.1f} % "
            f"with start-up; time per file {o['steady_slower_percent']:+.1f} % steady, "
            f"{o['end_to_end_slower_percent']:+.1f} % end to end; start-up "
            f"{o['extra_startup_s']:+.1f} s."
        )
    rss = results["worker_rss_bytes"]
    mib = 1 << 20
    lines.append(
        f"- One Dask worker process: {rss['bare'] / mib:.0f} MiB resident before the model, "
        f"{rss['loaded'] / mib:.0f} MiB after loading it, {rss['after_task'] / mib:.0f} MiB "
        "after a task of 32 files."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
