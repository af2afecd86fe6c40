"""Timeline accuracy on synthetic recordings built from RAVDESS clips of known emotion.

Protocol (everything seeded; rerun gives the same recordings):

* clips: per RAVDESS actor, the 28 speech clips of 7 emotions with 4 clips each: strong
  intensity for anger, fear, disgust, happy, sad, surprise and the (only, normal intensity)
  neutral; statements 1-2, repetitions 1-2. Calm is left out.
* each clip's speech is cut out by energy (20 ms frames; the first and last frame within
  40 dB of the clip's loudest frame, widened by 20 ms): the reference boundaries come from
  the signal's energy, not from the voice activity detector being measured.
* one recording per actor: its 28 clips in a random order, separated by gaps of 1-3 s
  (uniform), in three conditions:
    - ``clean``: gaps of quiet white noise (-70 dBFS RMS);
    - ``noisy``: gaps of pink noise 10 dB below the recording's speech level, its loudness
      modulated at a random 0.5-6 Hz (so some of it pulses at a syllable rate);
    - ``continuous``: no gaps at all, clip after clip: emotion changes inside speech, the
      case where the length of the windows matters.
* splits: actors 1-10 are the development split (``--split dev``), on which the defaults
  were chosen: first the voice activity padding at 3 s windows (``--sweep-vad``), then the
  window and hop with that padding (``--sweep``); actors 11-20 are the test split
  (``--split test``, the default), the one reported in docs/results.md.

**The default model was trained on all of these clips** (RAVDESS actors 1-20 are the only
ones in ../shared/data, and the bundled model learnt from all of them), so accuracies here
are far above what unseen speakers get (docs/results.md has the speaker-independent
numbers). What these figures measure is what segmentation and windowing cost or keep
relative to predicting each clip on its own, not generalisation.

Measured per condition:

* boundary error (gapped conditions): each window is assigned to the clip it overlaps
  most; a clip's found onset and offset are its first window's start and last window's
  end; the errors against the energy boundaries, in seconds: median and 90th percentile of
  |error| over all onsets and offsets, as found and with the timeline's padding (added on
  purpose, ``emovox.timeline.VAD_PAD``) taken off; clips that no window overlaps (missed);
  windows overlapping no clip (false alarms);
* per-window UAR and accuracy (truth: the clip the window overlaps most) and window purity
  (the mean share of a window inside that clip: below 1 where windows straddle two clips);
* beside them, on the same clips: the clip-level UAR and accuracy of
  ``Recognizer.predict_file`` on each clip's file (speech and its silences, as the model
  was trained), of ``predict_signal`` on each clip's speech alone (energy-trimmed, exactly
  as placed in the recordings), and the timeline's answer per clip (the probabilities of
  the windows overlapping the clip, averaged with the overlap as weight);
* speech covered: the fraction of the clips' speech time inside some window;
* speed: seconds of recording per second of wall time (one thread; the recordings are
  in memory, so no decoding).

    python benchmarks/timeline_accuracy.py [--split test] [--conditions clean noisy continuous]
    python benchmarks/timeline_accuracy.py --split dev --sweep-vad --conditions clean noisy
    python benchmarks/timeline_accuracy.py --split dev --sweep      # how the defaults were chosen
    python benchmarks/timeline_accuracy.py --write-example runs/call.wav   # README picture

It prints Markdown tables and writes JSON to ``runs/timeline_accuracy[-dev][-sweep].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from emovox.audio import SAMPLE_RATE, load_audio  # noqa: E402
from emovox.evaluation.metrics import classification_metrics  # noqa: E402
from emovox.recognizer import Recognizer  # noqa: E402
from emovox.segmentation import VadParams  # noqa: E402
from emovox.segmentation.windows import DEFAULT_WINDOW  # noqa: E402
from emovox.timeline import VAD_MIN_OFF, VAD_PAD  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SR = SAMPLE_RATE
EMOTION_CODES = {
    "01": "neutral",
    "03": "happy",
    "04": "sad",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
SPLITS = {"dev": range(1, 11), "test": range(11, 21)}
CONDITIONS = ("clean", "noisy", "continuous")


def data_root() -> Path:
    return Path(os.environ.get("EMOVOX_DATA", REPO.parent / "shared" / "data"))


# -- building recordings -----------------------------------------------------------------
@dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    speech: np.ndarray  # the energy-trimmed speech, 16 kHz


@dataclass(frozen=True)
class Placed:
    clip: Clip
    start: float
    end: float


def actor_clips(root: Path, actor: int) -> list[Path]:
    """The 28 clips of one actor (see the module docstring), sorted by name."""
    folder = root / "ravdess" / f"Actor_{actor:02d}"
    chosen = []
    for path in sorted(folder.glob("03-01-*.*")):
        parts = path.stem.split("-")
        if path.suffix.lower() not in (".wav", ".flac") or parts[2] not in EMOTION_CODES:
            continue
        strong = parts[3] == "02"
        if strong or parts[2] == "01":
            chosen.append(path)
    return chosen


def trim_by_energy(signal: np.ndarray, *, top_db: float = 40.0) -> np.ndarray:
    """The part of ``signal`` from the first to the last 20 ms frame within ``top_db`` of
    its loudest frame, widened by one frame on each side."""
    frame = int(0.02 * SR)
    count = signal.size // frame
    rms = np.sqrt(np.mean(signal[: count * frame].reshape(count, frame) ** 2, axis=1) + 1e-20)
    db = 20 * np.log10(rms)
    loud = np.flatnonzero(db >= db.max() - top_db)
    first = max(0, (loud[0] - 1) * frame)
    last = min(signal.size, (loud[-1] + 2) * frame)
    return signal[first:last]


def load_clip(path: Path) -> Clip:
    label = EMOTION_CODES[path.stem.split("-")[2]]
    return Clip(path=path, label=label, speech=trim_by_energy(load_audio(path)))


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f power spectrum, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1.0))
    noise = np.fft.irfft(spectrum, n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def gap(condition: str, seconds: float, level: float, rng: np.random.Generator) -> np.ndarray:
    n = round(seconds * SR)
    if condition == "clean":
        return 10 ** (-70 / 20) * rng.standard_normal(n)
    t = np.arange(n) / SR
    rate = rng.uniform(0.5, 6.0)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    return level * 10 ** (-10 / 20) * pink_noise(n, rng) * envelope


def build(clips: list[Clip], condition: str, seed: int) -> tuple[np.ndarray, list[Placed]]:
    """One recording of ``clips`` in a random order (see the module docstring)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(clips))
    level = float(np.sqrt(np.mean(np.concatenate([c.speech for c in clips]) ** 2)))
    parts: list[np.ndarray] = []
    placed: list[Placed] = []
    position = 0
    for index in order:
        clip = clips[index]
        if condition != "continuous":
            parts.append(gap(condition, rng.uniform(1.0, 3.0), level, rng))
            position += parts[-1].size
        parts.append(clip.speech)
        placed.append(Placed(clip, position / SR, (position + clip.speech.size) / SR))
        position += clip.speech.size
    if condition != "continuous":
        parts.append(gap(condition, 1.5, level, rng))
    signal = np.concatenate(parts).astype(np.float32)
    return signal, placed


# -- scoring -----------------------------------------------------------------------------
def assign(frame, placed: list[Placed]) -> list[int | None]:
    """For each row of ``frame``: the index of the clip it overlaps most (None: none)."""
    starts = np.array([p.start for p in placed])
    ends = np.array([p.end for p in placed])
    owners: list[int | None] = []
    for start, end in frame.index:
        overlap = np.minimum(ends, end) - np.maximum(starts, start)
        best = int(np.argmax(overlap))
        owners.append(best if overlap[best] > 0 else None)
    return owners


def score(
    frame, placed: list[Placed], labels: list[str], *, gapped: bool, pad: float = 0.0
) -> dict:
    from emovox.segmentation.windows import partition

    owners = assign(frame, placed)
    starts = np.array([p.start for p in placed])
    ends = np.array([p.end for p in placed])
    truth, predicted = [], []
    by_clip: dict[int, list[int]] = {}
    false_alarms = 0
    false_seconds = 0.0
    purity = []
    for row, owner in enumerate(owners):
        start, end = frame.index[row]
        if owner is None:
            false_alarms += 1
            false_seconds += end - start
            continue
        truth.append(placed[owner].clip.label)
        predicted.append(frame["label"].iloc[row])
        by_clip.setdefault(owner, []).append(row)
        purity.append((min(ends[owner], end) - max(starts[owner], start)) / (end - start))
    result: dict = {"windows": classification_metrics(truth, predicted, labels=labels)}
    result["windows"].pop("confusion")
    result["window_purity"] = float(np.mean(purity)) if purity else float("nan")

    # Each clip's timeline answer: every window overlapping it, weighted by the overlap.
    w_starts, w_ends = partition(
        frame.index.get_level_values(0).to_numpy(), frame.index.get_level_values(1).to_numpy()
    )
    probabilities = frame[[f"p_{k}" for k in labels]].to_numpy()
    clip_truth, clip_predicted = [], []
    covered = 0.0
    missed = 0
    for p in placed:
        overlap = np.clip(np.minimum(w_ends, p.end) - np.maximum(w_starts, p.start), 0, None)
        clip_truth.append(p.clip.label)
        if not overlap.sum() > 0:
            clip_predicted.append("(missed)")
            missed += 1
            continue
        covered += float(overlap.sum())
        mean = np.average(probabilities, axis=0, weights=overlap)
        clip_predicted.append(labels[int(np.argmax(mean))])
    timeline_clips = classification_metrics(clip_truth, clip_predicted, labels=labels)
    timeline_clips.pop("confusion")
    result["timeline_per_clip"] = timeline_clips
    result["speech_covered"] = covered / float(np.sum(ends - starts))
    result["missed_clips"] = missed
    result["false_alarm_windows"] = false_alarms
    result["false_alarm_seconds"] = false_seconds
    result["windows_per_clip"] = len(frame) / len(placed)
    if gapped:
        errors = []
        for index, p in enumerate(placed):
            rows = by_clip.get(index)
            if rows:
                spans = frame.index[rows]
                errors += [spans[0][0] - p.start, spans[-1][1] - p.end]
        absolute = np.abs(errors)
        result["boundary"] = {
            "n": len(errors),
            "median": float(np.median(absolute)),
            "p90": float(np.percentile(absolute, 90)),
            "signed_onset_median": float(np.median(errors[0::2])),
            "signed_offset_median": float(np.median(errors[1::2])),
        }
        # The same without the padding the timeline adds on purpose (onsets earlier and
        # offsets later by ``pad``): how well the detector itself found the speech.
        unpadded = np.array(errors) + np.tile([pad, -pad], len(errors) // 2)
        result["boundary_without_padding"] = {
            "median": float(np.median(np.abs(unpadded))),
            "p90": float(np.percentile(np.abs(unpadded), 90)),
        }
    return result


# -- running -----------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    root = data_root()
    if not (root / "ravdess").is_dir():
        sys.exit(f"RAVDESS not found under {root}: set EMOVOX_DATA.")
    recognizer = Recognizer.load()
    recognizer.check_speech = False
    labels = recognizer.labels
    actors = list(SPLITS[args.split]) if not args.actors else args.actors
    clips = {a: [load_clip(p) for p in actor_clips(root, a)] for a in actors}

    # Clip level: each clip's file as a user would predict it.
    truth, predicted = [], []
    for a in actors:
        for clip in clips[a]:
            truth.append(clip.label)
            predicted.append(recognizer.predict_file(clip.path).label)
    clip_level = classification_metrics(truth, predicted, labels=labels)
    clip_level.pop("confusion")
    # The same clips' speech alone (energy-trimmed, as placed in the recordings).
    trimmed = [
        recognizer.predict_signal(c.speech, sample_rate=SR).label for a in actors for c in clips[a]
    ]
    speech_only = classification_metrics(truth, trimmed, labels=labels)
    speech_only.pop("confusion")

    default_vad = (args.vad_pad, args.vad_min_off)
    configs = [(args.window, args.hop, default_vad)]
    if args.sweep:
        configs = [(w, h, default_vad) for w in (2.0, 3.0, 4.0, 6.0) for h in (w, w / 2)]
    if args.sweep_vad:
        configs = [
            (args.window, args.hop, vad)
            for vad in ((0.03, 0.1), (0.1, 0.2), (0.2, 0.4), (0.3, 0.6), (0.5, 1.0), (0.75, 1.5))
        ]
    results = []
    for condition in args.conditions:
        recordings = {
            a: build(clips[a], condition, seed=1000 * a + CONDITIONS.index(condition))
            for a in actors
        }
        for window, hop, (pad, min_off) in configs:
            vad = VadParams(pad=pad, min_duration_off=min_off)
            frames, placements, audio_seconds, wall = [], [], 0.0, 0.0
            for a in actors:
                signal, placed = recordings[a]
                started = time.perf_counter()
                frame = recognizer.timeline(
                    signal, sample_rate=SR, window=window, hop=hop, vad_params=vad
                )
                wall += time.perf_counter() - started
                audio_seconds += signal.size / SR
                frames.append(frame)
                placements.append(placed)
            merged = _pool(frames, placements, labels, gapped=condition != "continuous", pad=pad)
            merged.update(
                condition=condition,
                window=window,
                hop=hop if hop is not None else window,
                vad_pad=pad,
                vad_min_off=min_off,
                audio_seconds=audio_seconds,
                times_real_time=audio_seconds / wall,
            )
            results.append(merged)
            print(_row(merged), flush=True)
    return {
        "protocol": "RAVDESS synthetic recordings (see benchmarks/timeline_accuracy.py)",
        "split": args.split,
        "actors": actors,
        "clips": len(truth),
        "model": recognizer.model_id,
        "model_trained_on_these_clips": True,
        "clip_level": clip_level,
        "clip_level_speech_only": speech_only,
        "results": results,
    }


def _pool(frames, placements, labels, *, gapped: bool, pad: float) -> dict:
    """Score all recordings together (one set of windows, one set of clips)."""
    import pandas as pd

    offset = 0.0
    shifted_frames, shifted = [], []
    for frame, placed in zip(frames, placements, strict=True):
        f = frame.copy()
        f.index = pd.MultiIndex.from_arrays(
            [f.index.get_level_values(0) + offset, f.index.get_level_values(1) + offset],
            names=["start", "end"],
        )
        shifted_frames.append(f)
        shifted += [Placed(p.clip, p.start + offset, p.end + offset) for p in placed]
        offset += max(p.end for p in placed) + 1000.0
    return score(pd.concat(shifted_frames), shifted, labels, gapped=gapped, pad=pad)


def _row(r: dict) -> str:
    b, u = r.get("boundary"), r.get("boundary_without_padding")
    boundary = (
        f"{b['median']:.2f} / {b['p90']:.2f} ({u['median']:.2f} / {u['p90']:.2f})" if b else "-"
    )
    w, c = r["windows"], r["timeline_per_clip"]
    return (
        f"| {r['condition']} | {r['window']:g} / {r['hop']:g} | "
        f"{r['vad_pad']:g} / {r['vad_min_off']:g} | {boundary} | "
        f"{w['uar']:.3f} | {w['accuracy']:.3f} | {r['window_purity']:.3f} | {c['uar']:.3f} | "
        f"{r['speech_covered']:.3f} | {r['missed_clips']} | {r['false_alarm_windows']} | "
        f"{r['windows_per_clip']:.2f} | {r['times_real_time']:.1f} |"
    )


HEADER = (
    "| condition | window / hop (s) | VAD pad / min. pause (s) | "
    "boundary error median / p90 (s) (padding removed) | window UAR | "
    "window acc. | window purity | timeline per-clip UAR | speech covered | missed clips | "
    "false-alarm windows | windows per clip | x real time |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def write_example(path: Path) -> None:
    """A 19 s stereo "call" for the README picture: RAVDESS actor 12 on the left channel
    (neutral, anger, anger, happy) and actor 13 on the right (neutral, sad, fear, happy),
    taking turns; a -60 dBFS noise floor on both."""
    root = data_root()
    rng = np.random.default_rng(7)
    turns = [
        (0, 12, "01"),
        (1, 13, "01"),
        (0, 12, "05"),
        (1, 13, "04"),
        (0, 12, "05"),
        (1, 13, "06"),
        (0, 12, "03"),
        (1, 13, "03"),
    ]
    left, right = [], []
    for side, actor, code in turns:
        intensity = "01" if code == "01" else "02"
        folder = root / "ravdess" / f"Actor_{actor:02d}"
        found = next(folder.glob(f"03-01-{code}-{intensity}-01-01-{actor:02d}.*"))
        speech = trim_by_energy(load_audio(found))
        pause = np.zeros(round(rng.uniform(0.4, 0.9) * SR), np.float32)
        silent = np.zeros(speech.size, np.float32)
        mine, other = (left, right) if side == 0 else (right, left)
        mine += [pause, speech]
        other += [pause, silent]
    floor = [10 ** (-60 / 20) * rng.standard_normal(sum(p.size for p in left)) for _ in (0, 1)]
    stereo = np.stack([np.concatenate(left) + floor[0], np.concatenate(right) + floor[1]], 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, stereo.astype(np.float32), SR, subtype="PCM_16")
    print(f"wrote {path} ({stereo.shape[0] / SR:.1f} s, 2 channels)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="test")
    parser.add_argument("--actors", type=int, nargs="*", help="override the split's actors")
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    parser.add_argument("--window", type=float, default=DEFAULT_WINDOW)
    parser.add_argument("--hop", type=float, default=None)
    parser.add_argument("--sweep", action="store_true", help="windows 2-6 s, hop = w and w/2")
    parser.add_argument("--sweep-vad", action="store_true", help="VAD padding 0.03-0.75 s")
    parser.add_argument("--vad-pad", type=float, default=VAD_PAD)
    parser.add_argument("--vad-min-off", type=float, default=VAD_MIN_OFF)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--write-example", type=Path, default=None, metavar="WAV")
    args = parser.parse_args()
    if args.write_example is not None:
        write_example(args.write_example)
        return
    if args.split == "test" and (args.sweep or args.sweep_vad) and not args.actors:
        sys.exit(
            "Sweeps run on the development split (--split dev): defaults are not tuned "
            "on the reported split."
        )
    print(HEADER)
    report = run(args)
    c = report["clip_level"]
    t = report["clip_level_speech_only"]
    print(
        f"\nclip level (predict_file on the same {report['clips']} clips): "
        f"UAR {c['uar']:.3f}, accuracy {c['accuracy']:.3f}; their speech alone "
        f"(energy-trimmed): UAR {t['uar']:.3f}, accuracy {t['accuracy']:.3f}"
    )
    suffix = ("-dev" if args.split == "dev" else "") + ("-sweep" if args.sweep else "")
    suffix += "-sweep-vad" if args.sweep_vad else ""
    out = args.out or REPO / "runs" / f"timeline_accuracy{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
