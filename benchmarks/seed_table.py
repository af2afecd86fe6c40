"""Reproduce the seed system's comparison honestly: RF, 9-NN and its Conv2D, speaker-independent.

The seed reported RF 38.89 %, KNN 35.93 % and Conv2D 86.43 % accuracy on RAVDESS + SAVEE,
seven emotions, from a random split. This script trains the same three models on the same
MFCC "image" features (39 x 216 from 2.5 s at 44.1 kHz) but evaluates them with
speaker-independent folds, reports UAR beside accuracy, times the pipeline, and rewrites
the ``seed-table`` section of docs/results.md.

    python benchmarks/seed_table.py --data ../shared/data [--savee /path/to/SAVEE] [--folds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from emovox.audio import SAMPLE_RATE, load_audio
from emovox.corpora import load_corpora
from emovox.evaluation.experiment import evaluate_and_write
from emovox.evaluation.markdown import pct, replace_section
from emovox.features import FeatureCache, make_extractor
from emovox.models import fit_model, make_model

SEED_CLAIMS = {"rf": 38.89, "knn": 35.93, "seed_cnn": 86.43, "seed_cnn_random": 86.43}
MODELS = {
    "rf": ("Random Forest (mean MFCC over time)", {"pooling": "mean"}),
    "knn": ("9-nearest neighbours (mean MFCC over time)", {"pooling": "mean"}),
    "seed_cnn": ("Conv2D on the 39 x 216 MFCC image", {}),
    "seed_cnn_random": ("Conv2D, *random split (speaker-dependent), for comparison only*", {}),
}
FEATURES = {"name": "mfcc_image"}


def time_pipeline(table, *, n_files: int = 40) -> dict:
    """Feature seconds per hour of audio, and warm predict latency of a trained CNN."""
    extractor = make_extractor(FEATURES)
    paths = table["path"].iloc[:n_files].tolist()
    started = time.perf_counter()
    signals = [load_audio(p) for p in paths]
    images = [extractor(s) for s in signals]
    feature_seconds = time.perf_counter() - started
    audio_seconds = sum(s.size for s in signals) / SAMPLE_RATE
    model = make_model("seed_cnn", max_epochs=2)
    fit_model(model, np.stack(images), table["label"].iloc[:n_files].to_numpy())
    one = images[0][np.newaxis]
    model.predict_proba(one)
    started = time.perf_counter()
    for _ in range(20):
        model.predict_proba(one)
    latency = (time.perf_counter() - started) / 20
    start_path = paths[0]
    started = time.perf_counter()
    for _ in range(5):
        model.predict_proba(extractor(load_audio(start_path))[np.newaxis])
    end_to_end = (time.perf_counter() - started) / 5
    return {
        "files_timed": n_files,
        "feature_seconds_per_hour_of_audio": feature_seconds / audio_seconds * 3600,
        "cnn_predict_ms": latency * 1000,
        "load_features_predict_ms": end_to_end * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--savee", type=Path, default=None, help="SAVEE folder, if you have it")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/seed_table"))
    parser.add_argument("--docs", type=Path, default=Path("docs/results.md"))
    parser.add_argument("--models", nargs="*", default=["rf", "knn", "seed_cnn"])
    parser.add_argument(
        "--no-random",
        action="store_true",
        help="skip the speaker-dependent (random split) CNN row shown for comparison",
    )
    args = parser.parse_args(argv)

    specs = [("ravdess", args.data / "ravdess")]
    if args.savee is not None:
        specs.append(("savee", args.savee))
    table = load_corpora(specs, policy="drop")
    cache = FeatureCache()
    results = {}
    for name in args.models:
        _, params = MODELS[name]
        report = evaluate_and_write(
            args.out / name,
            table,
            features=FEATURES,
            classifier=name,
            params=params,
            protocol="speaker",
            n_folds=args.folds,
            seed=args.seed,
            cache=cache,
        )
        results[name] = report
        print(
            f"{name}: UAR {pct(report['summary'], 'uar')}  "
            f"accuracy {pct(report['summary'], 'accuracy')}  ({report['wall_seconds']} s)",
            flush=True,
        )
    if not args.no_random and "seed_cnn" in args.models:
        report = evaluate_and_write(
            args.out / "seed_cnn_random_split",
            table,
            features=FEATURES,
            classifier="seed_cnn",
            protocol="random",
            n_folds=args.folds,
            seed=args.seed,
            cache=cache,
        )
        results["seed_cnn_random"] = report
        print(f"seed_cnn random split: UAR {pct(report['summary'], 'uar')}", flush=True)
    timing = time_pipeline(table)
    print(json.dumps(timing, indent=2))
    (args.out / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    replace_section(args.docs, "seed-table", render(results, timing, args))
    return 0


def render(results: dict, timing: dict, args) -> str:
    any_report = next(iter(results.values()))
    corpora = ", ".join(f"{k} ({v} files)" for k, v in any_report["corpora"].items())
    lines = [
        "## The seed system, reproduced speaker-independently",
        "",
        f"Protocol: **{any_report['protocol']}**, {any_report['n_folds']} folds by speaker "
        f"({any_report['n_speakers']} speakers, none in both train and test); corpora: {corpora}; "
        f"classes: {', '.join(any_report['classes'])} (RAVDESS calm dropped). Features: the "
        "seed's 39 x 216 MFCC image (2.5 s from 0.5 s, 44.1 kHz). Mean ± sample standard "
        "deviation over folds (ddof=1).",
        "",
        "| model | accuracy % | UAR % | macro-F1 % | seed's claim (accuracy %, random split) |",
        "|---|---|---|---|---|",
    ]
    for name, report in results.items():
        s = report["summary"]
        lines.append(
            f"| {MODELS[name][0]} | {pct(s, 'accuracy')} | {pct(s, 'uar')} | "
            f"{pct(s, 'macro_f1')} | {SEED_CLAIMS[name]:.2f} |"
        )
    lines += [
        "",
        "Command (writes this section and `runs/seed_table/`):",
        "",
        "```",
        f"python benchmarks/seed_table.py --data {args.data} --folds {args.folds}"
        + (" --savee PATH" if args.savee else ""),
        "```",
        "",
        "Why our numbers differ from the seed's: the seed split files at random, so every test "
        "speaker was also a training speaker (speaker-dependent), and it compiled the Conv2D "
        "with *binary* cross-entropy, whose Keras 'accuracy' is the per-output binary accuracy "
        "over 7 sigmoid outputs, not the accuracy of the predicted class: with one-hot targets, "
        "a network that outputs all zeros already scores 6/7 = 85.7 %, next to the 86.43 % "
        "claimed. Here the CNN is trained with categorical cross-entropy, early "
        "stopping on held-out training speakers, and tested on unseen speakers. SAVEE is not "
        "available to us, so these rows use RAVDESS only; pass `--savee` to add it.",
        "",
        f"Pipeline timing ({timing['files_timed']} RAVDESS files, this machine, one run): "
        f"decoding + MFCC image extraction {timing['feature_seconds_per_hour_of_audio']:.0f} s "
        f"per hour of audio; CNN predict {timing['cnn_predict_ms']:.1f} ms per clip; "
        f"load + features + predict {timing['load_features_predict_ms']:.1f} ms per file. "
        "Training seconds per fold are in `runs/seed_table/*/report.json` (`fit_seconds`): "
        + ", ".join(
            f"{name} {np.mean([f['fit_seconds'] for f in r['folds']]):.1f} s"
            for name, r in results.items()
        )
        + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
