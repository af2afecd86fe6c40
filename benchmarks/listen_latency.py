"""Latency of ``emovox listen``: end of an utterance to its printed result, through a
virtual microphone.

What runs (the same path as a user's microphone, from PortAudio on):

1. clips of single acted sentences from the shared corpora (RAVDESS, EmoDB, TESS; chosen
   with ``--seed``) are joined into one recording, each followed by ``--gap`` seconds of
   faint noise (-50 dBFS), and written as 16 kHz WAV;
2. a private PulseAudio daemon is started with a null sink whose monitor is the default
   source (tests/helpers.py ``virtual_microphone``, as the tests do);
3. ``python -m emovox listen --json --device pulse --seconds T`` runs in a fresh process;
   once it prints "Listening", ``paplay`` plays the recording into the sink;
4. each JSON line is read as it arrives.

Two latencies per utterance:

- **printed** (the line's ``latency``): from the capture of the utterance's last sample (the
  PortAudio callback's time, less the delay PortAudio reports for the block) to the moment
  the line is written. It includes the 0.5 s pause that has to be heard before an utterance
  is known to be over (``emovox.live.DEFAULT_VAD_PAUSE``), the voice activity detector,
  the queue and the model (``compute``).
- **played-to-read** (a cross-check on another clock): from the moment the utterance's end
  was written into the sink (``paplay``'s launch + the end's position in the recording, the
  end found by the same segmenter in the WAV itself) to the moment this process reads the
  line. It adds PulseAudio's buffering, ``paplay``'s start-up and the pipe to the above, and
  differs from it by where the segmenter puts the end in the played and in the recorded
  audio (either way; matched utterances agree within 0.15 s).

Utterances are matched to the recording's (start and end within 0.15 s after the shift
that pairs the most); the counts found and matched are reported beside the count expected.

It also measures why live mode waits 0.5 s before an utterance is over: on ``--sweep``
clips of single acted sentences (half RAVDESS, a third EmoDB, a sixth TESS; each between
1 s of faint noise), how many the segmenter cuts into more than one utterance, or misses,
for each pause (``VadParams.min_duration_off``) in ``PAUSES``.

    python benchmarks/listen_latency.py [--data ../shared/data] [--clips 20] [--gap 1.5]
        [--sweep 300] [--out /tmp/listen_section.md]

It prints a Markdown section and writes it to ``--out``, and the numbers as JSON to
``runs/listen_latency.json``. Needs pulseaudio, pulseaudio-utils, libasound2-plugins,
libportaudio2 and the ``record`` extra (what .ci/run installs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from emovox.audio import SAMPLE_RATE, load_audio  # noqa: E402
from emovox.cache_root import cache_root  # noqa: E402
from emovox.live import DEFAULT_MAX_UTTERANCE, DEFAULT_VAD_PAUSE  # noqa: E402
from emovox.segmentation import (  # noqa: E402
    UtteranceSegmenter,
    VadParams,
    binarize,
    shared_vad,
)
from helpers import VIRTUAL_SINK, virtual_microphone  # noqa: E402  (after the path to tests/)

SHARES = {"ravdess": 0.5, "emodb": 0.25, "tess": 0.25}
SWEEP_SHARES = {"ravdess": 1 / 2, "emodb": 1 / 3, "tess": 1 / 6}
PAUSES = (0.1, 0.2, 0.3, 0.5, 0.8)
PATTERNS = {"ravdess": "Actor_*/*.flac", "emodb": "wav/*.flac", "tess": "*/*.flac"}


def data_root(given: str | None) -> Path:
    return Path(given or os.environ.get("EMOVOX_DATA", REPO.parent / "shared" / "data"))


def choose_clips(root: Path, n: int, seed: int, shares: dict = SHARES) -> list[Path]:
    rng = random.Random(seed)
    chosen: list[Path] = []
    for corpus, share in shares.items():
        files = sorted((root / corpus).glob(PATTERNS[corpus]))
        if not files:
            raise SystemExit(f"no {corpus} clips under {root / corpus}")
        chosen += rng.sample(files, max(1, round(n * share)))
    return chosen


def build_recording(clips: list[Path], gap: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)

    def noise(seconds: float) -> np.ndarray:
        return (0.00316 * rng.standard_normal(round(seconds * SAMPLE_RATE))).astype(np.float32)

    parts = [noise(1.0)]
    for path in clips:
        parts += [load_audio(path), noise(gap)]
    return np.concatenate(parts)


def live_segments(signal: np.ndarray) -> list:
    """The utterances the live mode's segmenter finds in the whole recording."""
    segmenter = UtteranceSegmenter(
        params=VadParams(min_duration_off=DEFAULT_VAD_PAUSE), max_duration=DEFAULT_MAX_UTTERANCE
    )
    found = []
    for i in range(0, signal.size, 512):
        found += segmenter.push(signal[i : i + 512])
    return found + segmenter.flush()


def measure(wav: Path, seconds: float) -> dict:
    with virtual_microphone() as (env, _):
        env = {**env, "EMOVOX_CACHE": str(cache_root())}  # the daemon's HOME is fresh
        command = [sys.executable, "-m", "emovox", "listen", "--json", "--device", "pulse"]
        command += ["--seconds", f"{seconds:.1f}"]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        said = []
        while True:
            line = process.stderr.readline()  # type: ignore[union-attr]
            said.append(line)
            if not line or line.startswith("Listening on"):
                break
        if not said[-1].startswith("Listening on"):
            process.kill()
            raise SystemExit("emovox listen did not start:\n" + "".join(said))
        lines: list[tuple[float, dict]] = []

        def read() -> None:
            for raw in process.stdout:  # type: ignore[union-attr]
                lines.append((time.monotonic(), json.loads(raw)))

        reader = threading.Thread(target=read)
        reader.start()
        played_at = time.monotonic()
        subprocess.run(["paplay", f"--device={VIRTUAL_SINK}", str(wav)], env=env, check=True)
        process.wait(timeout=seconds + 60)
        reader.join(10)
        stderr = "".join(said) + process.stderr.read()  # type: ignore[union-attr]
    return {"played_at": played_at, "lines": lines, "stderr": stderr, "code": process.returncode}


def match(lines: list[tuple[float, dict]], expected: list) -> list[tuple[float, dict, object]]:
    """Pairs (read time, line, recording utterance) whose start and end agree within 0.15 s
    once shifted by playback's start offset (the shift that pairs the most of them)."""
    ok = [(read_at, line) for read_at, line in lines if line["status"] == "ok"]

    def pairs(shift: float) -> list[tuple[float, dict, object]]:
        found = []
        for read_at, line in ok:
            for u in expected:
                if (
                    abs(line["start"] - shift - u.start) < 0.15
                    and abs(line["end"] - shift - u.end) < 0.15
                ):
                    found.append((read_at, line, u))
                    break
        return found

    shifts = [line["start"] - u.start for _, line in ok for u in expected]
    best = max((pairs(s) for s in shifts if -0.5 < s < 5.0), key=len, default=[])
    return best


def pause_sweep(root: Path, n: int, seed: int) -> dict:
    """Per pause and corpus: clips cut into several utterances, and clips with none."""
    vad, rng = shared_vad(), np.random.default_rng(seed)
    counts = {pause: {"split": {}, "missed": {}} for pause in PAUSES}
    clips = choose_clips(root, n, seed, SWEEP_SHARES)
    for path in clips:
        corpus = path.relative_to(root).parts[0]
        noise = [(0.00316 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32) for _ in "ab"]
        signal = np.concatenate([noise[0], load_audio(path), noise[1]])
        probabilities = vad.probabilities(signal)
        for pause in PAUSES:
            regions = binarize(
                probabilities,
                VadParams(min_duration_off=pause),
                frame_duration=vad.frame_duration,
                duration=signal.size / SAMPLE_RATE,
            )
            for kind, hit in (("split", len(regions) > 1), ("missed", not regions)):
                counts[pause][kind][corpus] = counts[pause][kind].get(corpus, 0) + hit
    per_corpus = {c: sum(p.relative_to(root).parts[0] == c for p in clips) for c in SHARES}
    return {"clips": per_corpus, "counts": counts}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder of the corpora (default ../shared/data)")
    parser.add_argument("--clips", type=int, default=20, help="clips to play (default 20)")
    parser.add_argument("--gap", type=float, default=1.5, help="seconds between clips")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sweep", type=int, default=300, help="clips for the pause sweep (0: none)"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/listen_section.md"))
    args = parser.parse_args()

    root = data_root(args.data)
    clips = choose_clips(root, args.clips, args.seed)
    signal = build_recording(clips, args.gap, args.seed)
    expected = live_segments(signal)
    with tempfile.TemporaryDirectory(prefix="emovox-latency-") as folder:
        wav = Path(folder) / "recording.wav"
        sf.write(wav, signal, SAMPLE_RATE, subtype="PCM_16")
        load = os.getloadavg()
        run = measure(wav, seconds=signal.size / SAMPLE_RATE + 1.5)
    if run["code"] != 0:
        raise SystemExit(f"emovox listen failed ({run['code']}):\n{run['stderr']}")
    sweep = pause_sweep(root, args.sweep, args.seed) if args.sweep else None

    events = [line for _, line in run["lines"]]
    ok = [e for e in events if e["status"] == "ok"]
    printed = [e["latency"] for e in ok]
    compute = [e["compute"] for e in ok]
    matches = match(run["lines"], expected)
    read_latency = [read_at - (run["played_at"] + u.end) for read_at, line, u in matches]
    result = {
        "clips": [str(p.relative_to(root)) for p in clips],
        "audio_seconds": round(signal.size / SAMPLE_RATE, 2),
        "expected_utterances": len(expected),
        "events": len(events),
        "ok": len(ok),
        "dropped": sum(e["status"] == "dropped" for e in events),
        "late": sum(bool(e["late"]) for e in events),
        "matched": len(matches),
        "unmatched_live": len(ok) - len(matches),
        "printed_latency": printed,
        "compute": compute,
        "played_to_read": read_latency,
        "summary": run["stderr"].strip().splitlines()[-1],
        "load_average": load,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "pause": DEFAULT_VAD_PAUSE,
        "sweep": sweep,
    }
    (REPO / "runs").mkdir(exist_ok=True)
    (REPO / "runs" / "listen_latency.json").write_text(json.dumps(result, indent=2))
    section = markdown(result, args)
    args.out.write_text(section)
    print(section)


def markdown(r: dict, args: argparse.Namespace) -> str:
    def row(name: str, values: list[float]) -> str:
        if not values:
            return f"| {name} | - | - | - | - |"
        return (
            f"| {name} | {len(values)} | {statistics.median(values):.2f} | "
            f"{percentile(values, 90):.2f} | {max(values):.2f} |"
        )

    command = "python benchmarks/listen_latency.py"
    if args.clips != 20 or args.gap != 1.5 or args.seed != 0:
        command += f" --clips {args.clips} --gap {args.gap:g} --seed {args.seed}"
    load = ", ".join(f"{x:.1f}" for x in r["load_average"])
    lines = [
        "<!-- results-listen:start -->",
        "## Live latency (`emovox listen`)",
        "",
        f"One run of `{command}` on {r['cpus']} CPU cores ({r['machine']}, Python "
        f"{r['python']}; load average at start {load}): {len(r['clips'])} clips of single "
        "acted sentences (RAVDESS, EmoDB, TESS), each followed by "
        f"{args.gap:g} s of faint noise, {r['audio_seconds']:.0f} s in all, played with "
        "`paplay` into a PulseAudio null sink whose monitor is the input that "
        "`emovox listen --json` records from (PortAudio through the ALSA pulse plugin, "
        "16 kHz), the default model.",
        "",
        f"Utterances: {r['ok']} answered, {r['dropped']} dropped, {r['late']} late (over "
        f"2 s); the same segmenter finds {r['expected_utterances']} in the recording itself, "
        f"and {r['matched']} of the answered ones match one of those (start and end within "
        f"0.15 s); the cross-check below is over these.",
        "",
        "| seconds | utterances | median | 90th percentile | max |",
        "|---|---:|---:|---:|---:|",
        row("end of utterance -> line printed (`latency`)", r["printed_latency"]),
        row("of which the model (`compute`)", r["compute"]),
        row("written to the sink -> line read (cross-check)", r["played_to_read"]),
        "",
        f"- `latency` runs from the capture of the utterance's last sample (its `end`, which "
        f"includes the segmenter's 30 ms of padding) to the line being written; it includes "
        f"the {r['pause']:g} s of silence that must be heard before an utterance is known to "
        f"be over (`emovox.live.DEFAULT_VAD_PAUSE`, chosen so that single sentences stay "
        f"whole; see `emovox/live/listener.py`), the voice activity detector, the queue and "
        f"the model. A shorter pause answers sooner and cuts sentences at their pauses.",
        "- the cross-check times the same thing from outside the listener: from `paplay`'s "
        "launch plus the position of the utterance's end in the recording to the moment the "
        "benchmark reads the line; it adds PulseAudio's buffering and `paplay`'s start-up, and "
        "differs by where the segmenter puts the end in the played and the recorded audio.",
        f"- the listener's own summary: {r['summary']}",
        "",
    ]
    if r["sweep"]:
        sweep, corpora = r["sweep"], list(SHARES)
        clips = ", ".join(f"{sweep['clips'][c]} {c}" for c in corpora)
        total = sum(sweep["clips"].values())
        lines += [
            f"Why {r['pause']:g} s: the pause that ends an utterance, on {total} "
            f"clips of single acted sentences ({clips}; chosen with seed {args.seed}, each "
            "between 1 s of faint noise). Cut: clips the segmenter splits into more than one "
            "utterance; missed: clips in which it finds none.",
            "",
            "| pause s | " + " | ".join(f"cut, {c}" for c in corpora) + " | cut, all | missed |",
            "|---:|" + "---:|" * (len(corpora) + 2),
        ]
        for pause, kinds in sweep["counts"].items():
            split = [kinds["split"].get(c, 0) for c in corpora]
            missed = sum(kinds["missed"].values())
            lines.append(
                f"| {float(pause):g} | "
                + " | ".join(map(str, split))
                + f" | {sum(split)} | {missed} |"
            )
        lines.append("")
    lines.append("<!-- results-listen:end -->")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
