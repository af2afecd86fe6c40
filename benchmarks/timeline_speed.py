"""Timeline speed and memory: times real time on one thread, where the time goes, and peak
memory for recordings of 1 minute, 60 minutes and 3 hours, each in its own process.

Recordings (written once to a temporary folder, 16 kHz mono 16-bit FLAC like the shared
corpora; seeded):

* speech-dense: RAVDESS clips (every speech clip of actors 1-20, in a random order,
  repeated as needed), each cut to its speech by energy (as in timeline_accuracy.py),
  joined by pauses of 0.2-0.6 s of quiet noise (-70 dBFS): about 85 % of the time is
  speech. 5 minutes for the speed figures, 1 and 60 minutes for memory;
* mostly silent: 3 hours of digital silence with one clip every 10 minutes (the voice
  activity detector's cost alone; ``load_audio`` would refuse it, being over an hour).

Measured:

* throughput: ``Recognizer.timeline`` on the 5-minute recording (default window and hop),
  after one warm-up run, median of ``--repeats`` runs, as seconds of recording per second
  of wall time, with every thread count set to 1 (onnxruntime encoder and VAD, numpy);
* where the time goes, on the same recording: reading + resampling alone
  (``AudioStream``), reading + voice activity detection (``UtteranceSegmenter``), and
  the model on the windows the timeline analysed, split into Whisper's log-mel, the ONNX
  encoder and pooling + head (each timed by calling it on those windows' samples);
* peak memory: a fresh process per recording loads the model, warms up on a 3 s clip and
  a 12 s timeline, then runs the timeline while a thread reads its resident memory (VmRSS)
  every 20 ms: the growth from just before to the highest sample is what the recording
  costs. (Not ``ru_maxrss``: on Linux a child started from this process inherits the
  parent's high-water mark through fork and exec, so it would measure this script.)

    python benchmarks/timeline_speed.py [--repeats 3] [--skip-memory] [--keep DIR]

It prints Markdown tables and writes JSON to ``runs/timeline_speed.json``.
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
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SR = 16_000


def data_root() -> Path:
    return Path(os.environ.get("EMOVOX_DATA", REPO.parent / "shared" / "data"))


def trim_by_energy(signal: np.ndarray, *, top_db: float = 40.0) -> np.ndarray:
    frame = int(0.02 * SR)
    count = signal.size // frame
    rms = np.sqrt(np.mean(signal[: count * frame].reshape(count, frame) ** 2, axis=1) + 1e-20)
    db = 20 * np.log10(rms)
    loud = np.flatnonzero(db >= db.max() - top_db)
    return signal[max(0, (loud[0] - 1) * frame) : min(signal.size, (loud[-1] + 2) * frame)]


def speech_clips() -> list[np.ndarray]:
    from emovox.audio import load_audio

    folder = data_root() / "ravdess"
    paths = sorted(p for p in folder.glob("Actor_*/03-01-*.*") if p.suffix in (".wav", ".flac"))
    if not paths:
        sys.exit(f"No RAVDESS clips under {folder}: set EMOVOX_DATA.")
    return [trim_by_energy(load_audio(p)) for p in paths]


def write_speech_dense(path: Path, minutes: float, clips: list[np.ndarray], seed: int) -> float:
    """Clips and short pauses up to ``minutes``, written block by block; returns the speech
    fraction."""
    rng = np.random.default_rng(seed)
    total = round(minutes * 60 * SR)
    written = speech = 0
    with sf.SoundFile(path, "w", SR, 1, subtype="PCM_16", format="FLAC") as f:
        while written < total:
            for index in rng.permutation(len(clips)):
                pause = 10 ** (-70 / 20) * rng.standard_normal(round(rng.uniform(0.2, 0.6) * SR))
                part = np.concatenate([pause, clips[index]])[: total - written]
                f.write(part.astype(np.float32))
                written += part.size
                speech += max(0, part.size - pause.size)
                if written >= total:
                    break
    return speech / total


def write_mostly_silent(path: Path, hours: float, clips: list[np.ndarray]) -> None:
    total = round(hours * 3600 * SR)
    every = 600 * SR
    with sf.SoundFile(path, "w", SR, 1, subtype="PCM_16", format="FLAC") as f:
        for first in range(0, total, every):
            block = np.zeros(min(every, total - first), np.float32)
            clip = clips[(first // every) % len(clips)][: block.size // 2]
            block[SR : SR + clip.size] = clip
            f.write(block)


# -- in-process speed ---------------------------------------------------------------------------
def speed(path: Path, repeats: int) -> dict:
    from emovox.audio.stream import AudioStream
    from emovox.features.whisper.extractor import pool
    from emovox.features.whisper.log_mel import log_mel
    from emovox.recognizer import Recognizer
    from emovox.segmentation.online import UtteranceSegmenter

    recognizer = Recognizer.load()
    recognizer.check_speech = False
    seconds = sf.info(str(path)).duration
    recognizer.timeline(path)  # warm-up: sessions, caches
    walls, frame = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        frame = recognizer.timeline(path)
        walls.append(time.perf_counter() - started)
    wall = statistics.median(walls)

    def timed(fn) -> float:
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    def read_only() -> None:
        with AudioStream(path) as stream:
            for _ in stream:
                pass

    def read_and_vad() -> None:
        segmenter = UtteranceSegmenter()
        with AudioStream(path) as stream:
            for block in stream:
                segmenter.push(block[:, 0])
        segmenter.flush()

    t_read = timed(read_only)
    t_vad = timed(read_and_vad) - t_read

    # The model's parts, on the samples of the windows the timeline analysed.
    from emovox.audio import load_audio

    signal = load_audio(path, max_duration=None)
    windows = [signal[round(s * SR) : round(e * SR)] for s, e in frame.index]
    extractor = recognizer.extractor
    encoder = extractor.encoder
    n_mels = encoder.info.n_mels
    indices = list(extractor.indices)
    mels = [log_mel(w, n_mels=n_mels) for w in windows]
    states = [encoder(m)[indices] for m in mels]
    t_mel = timed(lambda: [log_mel(w, n_mels=n_mels) for w in windows])
    t_encoder = timed(lambda: [encoder(m) for m in mels])
    head = recognizer.model
    t_head = timed(lambda: [head.predict_proba(pool(s)[None]) for s in states])
    window_seconds = sum(w.size for w in windows) / SR
    return {
        "recording_seconds": seconds,
        "windows": len(windows),
        "window_seconds": window_seconds,
        "speech_fraction_analysed": window_seconds / seconds,
        "wall_median": wall,
        "walls": walls,
        "times_real_time": seconds / wall,
        "parts_seconds": {
            "read + resample": t_read,
            "voice activity detection": t_vad,
            "log-mel": t_mel,
            "ONNX encoder": t_encoder,
            "pooling + head": t_head,
        },
        "rest_seconds": wall - (t_read + t_vad + t_mel + t_encoder + t_head),
    }


# -- memory, one process per recording ------------------------------------------------------
def current_rss_mb() -> float:
    """Resident memory of this process now (Linux: VmRSS in /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(path: Path) -> None:
    """Run in a fresh process: load, warm up, run the timeline while a thread samples the
    resident memory every 20 ms; print JSON."""
    import threading

    from emovox.recognizer import Recognizer

    recognizer = Recognizer.load()
    recognizer.check_speech = False
    warm = (0.1 * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32)
    recognizer.predict_signal(warm, sample_rate=SR)
    recognizer.timeline(np.concatenate([warm] * 4), sample_rate=SR)
    before = current_rss_mb()
    samples = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            samples.append(current_rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    frame = recognizer.timeline(path)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    samples.append(current_rss_mb())
    print(
        json.dumps(
            {
                "seconds": frame.attrs["duration"],
                "rows": len(frame),
                "wall": wall,
                "rss_before_mb": before,
                "rss_peak_during_mb": max(samples),
                "rss_after_mb": samples[-1],
            }
        )
    )


def memory(path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["growth_mb"] = result["rss_peak_during_mb"] - result["rss_before_mb"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="write the recordings here")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return

    folder = args.keep or Path(tempfile.mkdtemp(prefix="emovox-timeline-speed-"))
    folder.mkdir(parents=True, exist_ok=True)
    clips = speech_clips()
    five = folder / "speech-5min.flac"
    fraction = write_speech_dense(five, 5, clips, seed=5)
    report: dict = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
        },
        "threads": 1,
        "speech_fraction_5min": fraction,
    }
    report["speed"] = s = speed(five, args.repeats)
    print("| recording | x real time (1 thread) | windows | speech analysed |")
    print("|---|---|---|---|")
    print(
        f"| 5 min speech-dense ({100 * fraction:.0f} % speech) | {s['times_real_time']:.1f} | "
        f"{s['windows']} | {100 * s['speech_fraction_analysed']:.0f} % |"
    )
    print("\n| part | seconds | share of the run |\n|---|---|---|")
    for name, value in s["parts_seconds"].items():
        print(f"| {name} | {value:.2f} | {100 * value / s['wall_median']:.0f} % |")
    print(
        f"| rest (windows, rows, frame) | {s['rest_seconds']:.2f} | "
        f"{100 * s['rest_seconds'] / s['wall_median']:.0f} % |"
    )

    if not args.skip_memory:
        recordings = {}
        for minutes in (1, 60):
            path = folder / f"speech-{minutes}min.flac"
            write_speech_dense(path, minutes, clips, seed=minutes)
            recordings[f"{minutes} min speech-dense"] = path
        silent = folder / "silent-3h.flac"
        write_mostly_silent(silent, 3, clips)
        recordings["3 h mostly silent"] = silent
        report["memory"] = {}
        print(
            "\n| recording | rows | wall (s) | x real time | RSS before (MB) | "
            "peak RSS during (MB) | growth (MB) |\n|---|---|---|---|---|---|---|"
        )
        for name, path in recordings.items():
            m = memory(path)
            report["memory"][name] = m
            print(
                f"| {name} | {m['rows']} | {m['wall']:.1f} | {m['seconds'] / m['wall']:.1f} | "
                f"{m['rss_before_mb']:.0f} | {m['rss_peak_during_mb']:.0f} | "
                f"{m['growth_mb']:.1f} |",
                flush=True,
            )
    out = REPO / "runs" / "timeline_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
