"""The evaluation table of docs/results.md: every corpus, every front end, honestly.

Sections (choose with ``--sections``; each rewrites its own part of docs/results.md and
writes full reports under ``runs/results/``):

* ``corpora``   per corpus, speaker-independent folds, seven-emotion set (labels outside it
                dropped): seed models, MFCC statistics and eGeMAPS with an SVM, Whisper
                variants (base: which layers; tiny.en) with a logistic regression, and the
                emovox head.
* ``headline``  RAVDESS with 8 classes (calm kept) and the 7-class seed set: the emovox
                head alone, with the other corpora added to every training fold, and
                without calibration.
* ``cross``     cross-corpus: train on three corpora, test on the fourth (labels merged),
                on all seven classes or on the test corpus' classes only.
* ``robust``    RAVDESS 7 classes, trained on clean audio (+ the recipe's augmentation),
                tested on degraded copies of the test audio: noise, telephone band,
                reverberation, resampling, and conditions no augmentation uses (babble of
                EmoDB speakers, Opus and MP3 at 16 kbps, image-method rooms, level
                changes, clipping), each marked with whether it is in the training
                distribution.

* ``augment``   RAVDESS 7 classes, a fixed LR on Whisper layers 1-6, each training
                augmentation, tested on clean and degraded audio: how the recipe was chosen.

The emovox head (``whisper_head``) chooses its layers by speaker-grouped cross-validation
on each training fold and its temperature on held-out training speakers, and is trained
with speed perturbation (0.9x, 1.1x) and light white noise (20 and 30 dB SNR) copies of
the training audio, so no number here was tuned on its test fold (the augmentation recipe
itself was chosen on the ``augment`` comparison, which the table shows whole).

    python benchmarks/results_table.py --data ../shared/data [--sections corpora headline]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np

from emovox.audio.degrade import (
    ROBUSTNESS_CONDITIONS,
    Codec,
    Gain,
    ShoeboxRooms,
    babble_talkers,
    training_match,
    unseen_conditions,
)
from emovox.corpora import load_corpora, load_corpus
from emovox.evaluation.experiment import evaluate_and_write
from emovox.evaluation.markdown import pct, replace_section
from emovox.evaluation.metrics import STD_DDOF
from emovox.features import FeatureCache

CORPORA = {"ravdess": "ravdess", "tess": "tess", "emodb": "emodb", "turev": "turev_db"}
WHISPER = {"name": "whisper", "layers": "all"}
TINY = {"name": "whisper", "model": "tiny.en", "layers": "all"}  # extra [whisper-tiny]
AUGMENT = "speed+light-noise"
HEAD_LABEL = (
    "**emovox head**: Whisper base, layers chosen by inner speaker CV, LR, "
    "speed- and noise-augmented, calibrated"
)


def lr(layers: list[int]) -> tuple[dict, str, dict, dict]:
    return WHISPER, "layer_logreg", {"layers": layers}, {}


VARIANTS: dict[str, tuple[dict, str, dict, dict]] = {
    "seed RF (mean MFCC image)": ({"name": "mfcc_image"}, "rf", {}, {}),
    "seed 9-NN (mean MFCC image)": ({"name": "mfcc_image"}, "knn", {}, {}),
    "MFCC+deltas mean/std + SVM": ({"name": "stats"}, "svm", {}, {}),
    "eGeMAPS + SVM": ({"name": "egemaps"}, "svm", {}, {}),
    "Whisper base, last layer + LR": lr([6]),
    "Whisper base, layers 3-6 + LR": lr([3, 4, 5, 6]),
    "Whisper base, layers 1-6 + LR": lr([1, 2, 3, 4, 5, 6]),
    "Whisper tiny.en, layers 1-4 + LR": (
        TINY,
        "layer_logreg",
        {"layers": [1, 2, 3, 4], "n_layers": 4},
        {},
    ),
    HEAD_LABEL: (WHISPER, "whisper_head", {}, {"augment": AUGMENT}),
}


class Runner:
    """Runs evaluations with shared settings and writes each report under ``--out``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cache = FeatureCache()
        self.done: dict[str, dict] = {}  # reports of this run by key (sections share some)

    def corpus(self, name: str, policy: str):
        return load_corpus(name, self.args.data / CORPORA[name], policy=policy)

    def others(self, policy: str, *, but: str):
        specs = [(c, self.args.data / path) for c, path in CORPORA.items() if c != but]
        return load_corpora(specs, policy=policy)

    def run(self, key: str, table, features, model, params, **kwargs) -> dict:
        if key in self.done:
            return self.done[key]
        saved = self.args.out / key / "report.json"
        if self.args.reuse and saved.is_file():
            report = json.loads(saved.read_text())
            if sample_std(report):
                print(f"{key}: reused {saved}", flush=True)
                self.done[key] = report
                return report
            print(f"{key}: {saved} has population std (ddof=0); running again", flush=True)
        report = evaluate_and_write(
            self.args.out / key,
            table,
            features=features,
            classifier=model,
            params=params,
            n_folds=self.args.folds,
            seed=self.args.seed,
            cache=self.cache,
            **kwargs,
        )
        s = report["summary"]
        print(
            f"{key}: UAR {pct(s, 'uar')} acc {pct(s, 'accuracy')} ({report['wall_seconds']} s)",
            flush=True,
        )
        self.done[key] = report
        return report


def sample_std(report: dict) -> bool:
    """Whether every summary in ``report`` gives the sample std over folds (ddof=1); reports
    written before emovox recorded ``std_ddof`` used the population std (ddof=0)."""
    summaries = [report["summary"]] + [c["summary"] for c in report["conditions"].values()]
    return all(s[k].get("std_ddof") == STD_DDOF for s in summaries for k in s)


def row(label: str, report: dict, *, ece: bool = False) -> str:
    s = report["summary"]
    cells = [label, pct(s, "accuracy"), pct(s, "uar"), pct(s, "macro_f1")]
    if ece:
        cells.append(f"{report['pooled']['ece']:.3f}")
    return "| " + " | ".join(cells) + " |"


def variant_key(corpus: str, features: dict, model: str, params: dict, extra: dict) -> str:
    """Where a per-corpus variant's report lives under ``--out``."""
    front = "-".join([features["name"], *([features["model"]] if "model" in features else [])])
    layers = "-".join(map(str, params.get("layers", [])))
    key = f"corpora/{corpus}/{model}-{front}" + (f"-{layers}" if layers else "")
    return key + (f"-{extra['augment']}" if "augment" in extra else "")


def section_corpora(r: Runner) -> str:
    lines = [
        "## Per corpus, speaker-independent",
        "",
        "Seven-emotion set (RAVDESS calm, EmoDB boredom, TESS pleasant surprise dropped); "
        f"{r.args.folds} folds by speaker, or leave-one-speaker-out where a corpus has fewer "
        "speakers (TESS: 2, so each fold trains on one speaker). Mean ± sample standard "
        "deviation over folds (ddof=1), in %. LR = class-balanced logistic regression "
        "(C = 0.1) on the mean and standard deviation over time of the chosen layers' "
        "hidden states.",
        "",
    ]
    for name in r.args.corpora:
        table = r.corpus(name, "drop")
        first, body = None, []
        for label, (features, model, params, extra) in VARIANTS.items():
            if name == "ravdess" and label == HEAD_LABEL:
                report = head_on_ravdess(r, "drop")  # the same run as the headline's
            else:
                key = variant_key(name, features, model, params, extra)
                report = r.run(key, table, features, model, params, **extra)
            first = first or report
            body.append(row(label, report))
        lines += [
            f"### {name}: {first['n_files']} files, {first['n_speakers']} speakers, "
            f"{first['n_folds']} folds; classes {', '.join(first['classes'])}",
            "",
            "| features + model | accuracy % | UAR % | macro-F1 % |",
            "|---|---|---|---|",
            *body,
            "",
        ]
    return "\n".join(lines)


def head_on_ravdess(r: Runner, policy: str) -> dict:
    """The emovox head on RAVDESS (``policy`` for calm), also tested on degraded audio;
    the headline and robustness sections share this run. The 7-class run (``"drop"``, the
    robustness table's) is also tested on the conditions no augmentation uses."""
    table = r.corpus("ravdess", policy)
    conditions = robust_conditions(r, table) if policy == "drop" else ROBUSTNESS_CONDITIONS
    return r.run(
        f"headline/{policy}-ravdess-{AUGMENT}",
        table,
        WHISPER,
        "whisper_head",
        {},
        augment=AUGMENT,
        test_conditions=conditions,
    )


def robust_conditions(r: Runner, table) -> dict:
    """The robustness table's test conditions, less those ``--skip-conditions`` names."""
    every = dict(ROBUSTNESS_CONDITIONS) | unseen_conditions(babble_from_emodb(r, table))
    skip = set(r.args.skip_conditions)
    if skip - set(every):
        raise SystemExit(
            f"Unknown --skip-conditions {sorted(skip - set(every))}; the conditions are: "
            + "; ".join(every)
        )
    return {name: condition for name, condition in every.items() if name not in skip}


BABBLE_CORPUS = "emodb"


def babble_from_emodb(r: Runner, tested) -> tuple[tuple[str, ...], ...]:
    """Babble talkers for RAVDESS tests: every EmoDB speaker with their neutral utterances.
    Another corpus, so its speakers are in no training and no test fold of ``tested``;
    neutral only, as most talk around a device is, so that the babble does not bring
    emotion cues of its own (EmoDB is a third anger)."""
    babble = r.corpus(BABBLE_CORPUS, "keep")
    babble = babble[babble["label"] == "neutral"]
    shared = set(babble["speaker"]) & set(tested["speaker"])
    if shared:
        raise SystemExit(f"babble speakers also in the evaluated table: {sorted(shared)}")
    return babble_talkers(zip(babble["speaker"], babble["path"], strict=True))


def section_headline(r: Runner) -> str:
    lines = [
        "## Headline: RAVDESS, speaker-independent",
        "",
        f"RAVDESS actors 1-20 (the shared copy), {r.args.folds} folds by speaker, 4 actors per "
        "test fold, the emovox head (training audio augmented with speed and light noise, "
        "as the default model; without the noise copies for comparison: they cost about a "
        "point on clean RAVDESS and gain 10-15 in noise, see the augmentation section; "
        "layer choice and "
        "temperature from training speakers only). 'ECE' is the expected calibration error "
        "of the top-class probability (0 = a reported 0.9 is right 90 % of the time). The "
        "other corpora, when added (`--multicorpus`), join every training fold (not "
        "augmented) and are never tested on; with them the head is a fixed LR on layers 1-6.",
        "",
        "| classes | training data per fold | accuracy % | UAR % | macro-F1 % | ECE |",
        "|---|---|---|---|---|---|",
    ]
    for classes, policy in (("8 (calm kept)", "keep"), ("7 (seed set, calm dropped)", "drop")):
        table = r.corpus("ravdess", policy)
        alone = head_on_ravdess(r, policy)
        lines.append(row(f"{classes} | RAVDESS training actors", alone, ece=True))
        speed = r.run(
            f"headline/{policy}-ravdess-speed",
            table,
            WHISPER,
            "whisper_head",
            {},
            augment="speed",
        )
        lines.append(
            row(f"{classes} | the same, speed augmentation only (no noise)", speed, ece=True)
        )
        if r.args.multicorpus:
            both = r.run(
                f"headline/{policy}-multicorpus-{AUGMENT}",
                table,
                *lr([1, 2, 3, 4, 5, 6])[:3],
                augment=AUGMENT,
                extra_train=r.others(policy, but="ravdess"),
            )
            lines.append(
                row(f"{classes} | + all of TESS, EmoDB, TurEV-DB (LR, layers 1-6)", both, ece=True)
            )
    uncal = r.run(
        f"headline/drop-uncalibrated-{AUGMENT}",
        r.corpus("ravdess", "drop"),
        WHISPER,
        "whisper_head",
        {"calibrate": False},
        augment=AUGMENT,
    )
    lines += [
        "",
        "The same head without temperature scaling (7 classes, RAVDESS training "
        f"actors): ECE {uncal['pooled']['ece']:.3f}, UAR {pct(uncal['summary'], 'uar')}.",
    ]
    return "\n".join(lines)


def restricted_answers(predictions_csv: Path) -> dict[str, dict]:
    """Per test corpus: the metrics when the answer is the most probable of the classes
    that corpus has (``Recognizer.predict(classes=...)``), from a run's saved probabilities."""
    import pandas as pd

    from emovox.evaluation.metrics import classification_metrics

    table = pd.read_csv(predictions_csv)
    labels = [c.removeprefix("p_") for c in table.columns if c.startswith("p_")]
    folds = {}
    for corpus, rows in table.groupby("corpus"):
        present = [label for label in labels if label in set(rows["truth"])]
        answer = np.asarray(present)[rows[[f"p_{c}" for c in present]].to_numpy().argmax(1)]
        folds[str(corpus)] = {
            "metrics": classification_metrics(rows["truth"], answer, labels=labels)
        }
    return folds


def section_cross(r: Runner) -> str:
    table = load_corpora([(c, r.args.data / p) for c, p in CORPORA.items()], policy="merge")
    lines = [
        "## Cross-corpus",
        "",
        "Train on three corpora, test on the fourth (no speaker or corpus overlap). Labels "
        "merged into the seven emotions (calm and boredom -> neutral, pleasant surprise -> "
        "surprise); UAR counts only the classes the test corpus has, so chance UAR is "
        "1 / classes. Trained on **all 7** classes, the model may predict a class the test "
        "corpus lacks, and every such prediction is wrong; the same model's answer can be "
        "**restricted** to the test corpus' classes (the most probable of those: "
        "`emovox predict --classes ...`); or it can be trained on the **test corpus' "
        "classes** only (`--protocol cross-corpus-shared`: the usual cross-corpus "
        "protocol, as a deployment that needs, say, four emotions would train; it uses the "
        "test corpus' label set, never its labels per file). Heads here are fixed (no inner "
        "selection, calibration or augmentation) to bound the run time.",
        "",
        "| test corpus | classes | trained on | features + model | accuracy % | UAR % "
        "| macro-F1 % |",
        "|---|---|---|---|---|---|---|",
    ]
    models = {
        "MFCC+deltas mean/std + SVM": ({"name": "stats"}, "svm", {}),
        "Whisper base, layers 1-6 + LR": lr([1, 2, 3, 4, 5, 6])[:3],
    }
    rows = []
    for label, (features, model, params) in models.items():
        every = r.run(f"cross/{model}", table, features, model, params, protocol="cross-corpus")
        shared = r.run(
            f"cross-shared/{model}", table, features, model, params, protocol="cross-corpus-shared"
        )
        restricted = restricted_answers(r.args.out / f"cross/{model}" / "predictions.csv")
        for fold, fold_shared in zip(every["folds"], shared["folds"], strict=True):
            test = fold["name"].removeprefix("test on ")
            runs = [
                ("all 7", fold),
                ("all 7, answer restricted to the test corpus' classes", restricted[test]),
                ("test corpus' classes", fold_shared),
            ]
            if fold_shared["n_train"] == fold["n_train"]:  # the test corpus has all 7 classes
                runs = [("all 7 (= test corpus' classes)", fold)]
            for trained_on, f in runs:
                m = f["metrics"]
                cells = [
                    test,
                    str(len(m["per_class_recall"])),
                    trained_on,
                    label,
                    f"{100 * m['accuracy']:.1f}",
                    f"{100 * m['uar']:.1f}",
                    f"{100 * m['macro_f1']:.1f}",
                ]
                rows.append((test, "| " + " | ".join(cells) + " |"))
    lines += [line for _, line in sorted(rows, key=lambda item: item[0])]
    return "\n".join(lines)


def section_robust(r: Runner) -> str:
    clean = head_on_ravdess(r, "drop")
    table = r.corpus("ravdess", "drop")
    talkers = babble_from_emodb(r, table)
    conditions = dict(ROBUSTNESS_CONDITIONS) | unseen_conditions(talkers)
    facts = measured_facts(table, conditions)
    n_babble = len({path for group in talkers for path in group})
    lines = [
        "## Robustness (RAVDESS, 7 classes, speaker-independent)",
        "",
        "The emovox head trained on the training actors' audio, augmented with speed "
        "perturbation (0.9x, 1.1x) and white Gaussian noise at 20 and 30 dB SNR (the "
        f"`{AUGMENT}` recipe), then the same fitted models tested on degraded copies of the "
        "test actors' audio. **In training distribution?** says whether the training "
        "augmentation applies the test degradation: *yes* = the same degradation at the "
        "same level, only another random draw (a matched condition); *same kind* = the "
        "same white Gaussian noise at another SNR (the 10 and 5 dB rows: they measure how "
        "far noise training carries to stronger noise of the kind it was trained on, not "
        "robustness to other noise); *no* = a degradation that neither this recipe nor any "
        "other augmentation in emovox applies.",
        "",
        "Conditions: white noise at a given SNR (other seeds than the training noise); pink "
        "noise (power falling as 1/f); telephone band (300-3400 Hz at 8 kHz); synthetic "
        "reverberation (exponentially decaying noise, RT60 0.5 s, direct-to-reverberant "
        "ratio 0 dB); a round trip through 44.1 / 48 kHz; and, added to test conditions "
        "no augmentation uses: "
        f"**babble** of 5 talkers drawn per clip from the {len(talkers)} EmoDB speakers "
        f"(their {n_babble} neutral utterances, German; another corpus, so no babble talker "
        "is in any training or test fold; neutral, as most talk around a device is, so "
        "that the babble brings no emotion of its own), each talker's utterances joined "
        "from a random start and "
        "cut to the clip, mixed at 10 or 5 dB SNR (power over the whole clip, as for the "
        "noise rows); **Opus** (Ogg, libopus through libsndfile, variable bitrate, target "
        f"16 kbps: {facts['opus']}) and **MP3** (LAME, MPEG-2 Layer III, constant 16 kbps: "
        f"{facts['mp3']}) encoded at 16 kHz and decoded; **image-method rooms** "
        "(pyroomacoustics shoebox rooms 4x3x2.7, 6x4.5x2.8 and 9x7x3.2 m, 3 talker and "
        "microphone placements each, 1-2.5 m apart; RT60 measured on the responses "
        f"{facts['rt60']}; one response per clip); **quiet**: -30 dB, stored as 16-bit "
        "samples; **loud**: +20 dB, saturating at full scale as a 16-bit recording would "
        f"({facts['loud']}); **clipped**: hard-clipped at the level that 20 % of the "
        "samples reach (pauses included), then brought back to the original RMS, so that "
        "the row measures the distortion and not the level.",
        "",
        "| test audio | in training distribution? | accuracy % | UAR % | macro-F1 % |",
        "|---|---|---|---|---|",
    ]
    lines.append(row("clean | yes", clean))
    skipped = []
    for label, condition in conditions.items():
        match = MATCH_LABELS[training_match(condition, AUGMENT)]
        report = clean["conditions"].get(label)
        if label in r.args.skip_conditions:
            skipped.append(label)
            lines.append(f"| {label} | {match} | – | – | – |")
            continue
        if report is None:
            raise SystemExit(
                f"The robustness run lacks '{label}': run again without --reuse, or delete "
                f"{r.args.out / 'headline'}/drop-ravdess-{AUGMENT}."
            )
        lines.append(row(f"{label} | {match}", report))
    if skipped:
        lines += [
            "",
            "– : left out of this run to bound its time (`--skip-conditions`); the "
            "command without that option tests every condition.",
        ]
    return "\n".join(lines)


MATCH_LABELS = {
    "yes": "yes (same noise and SNR, another draw)",
    "same kind": "same kind (white noise, other SNR)",
    "no": "no",
}


def measured_facts(table, conditions: dict, *, every: int = 10) -> dict[str, str]:
    """What the robustness text reports about its conditions: the codecs' bitrates from
    the bytes they write and how much the loud condition saturates, both on every
    ``every``-th file of ``table``, and the RT60 of the rooms' responses."""
    import pyroomacoustics as pra

    from emovox.audio import load_audio

    signals = [load_audio(path) for path in list(table["path"])[::every]]
    seconds = sum(signal.size for signal in signals) / 16_000
    sample = f"measured on every {every}th test file"
    facts = {}
    for codec in (c for c in conditions.values() if isinstance(c, Codec)):
        kbps = sum(len(codec.encode(signal)) for signal in signals) * 8 / seconds / 1000
        facts[codec.codec] = f"{kbps:.1f} kbps {sample}"
    loud = next(c for c in conditions.values() if isinstance(c, Gain) and c.gain_db > 0)
    saturated = [np.abs(loud(signal)) >= 32767 / 32768 for signal in signals]
    facts["loud"] = (
        f"{100 * np.mean([s.any() for s in saturated]):.0f} % of the files reach it, "
        f"{100 * np.concatenate(saturated).mean():.2f} % of the samples, {sample}"
    )
    rooms = next(c for c in conditions.values() if isinstance(c, ShoeboxRooms))
    rt60 = [float(pra.experimental.measure_rt60(h, fs=16_000)) for h in rooms.responses()]
    facts["rt60"] = f"{min(rt60):.2f}-{max(rt60):.2f} s"
    return facts


AUGMENT_VARIANTS = (None, "speed", "speed+noise", "speed+light-noise")
AUGMENT_MARKS = {"yes": " †", "same kind": " ‡", "no": ""}


def section_augment(r: Runner) -> str:
    conditions = {k: v for k, v in ROBUSTNESS_CONDITIONS.items() if not k.startswith("from")}
    lines = [
        "## Training augmentation (RAVDESS, 7 classes, speaker-independent)",
        "",
        "How the default recipe's augmentation was chosen, shown whole: a fixed LR on Whisper "
        "layers 1-6 trained with each augmentation of the training actors' audio (each adds "
        "one copy of every training file: speed = 0.9x and 1.1x; noise = white noise at "
        "15 dB SNR; light-noise = white noise at 20 and 30 dB), tested on the test actors' "
        "clean audio and on degraded copies. The three noise columns use the same kind of "
        "noise as the noise augmentations (white Gaussian noise, drawn with other seeds), "
        "so the noise rows' gains there show how far training on white noise carries to "
        "white noise at the same or another SNR, not robustness to other noise: † marks a "
        "test condition that the row's augmentation applies in training (the same noise "
        "and SNR, another random draw), ‡ one it applies at another SNR (the same kind). "
        "Pink noise, telephone band and reverberation are applied by no augmentation; "
        "the robustness section adds conditions further from training (babble, codecs, "
        "rooms, level, clipping) for the default recipe. Each cell: UAR % (accuracy %), "
        f"mean over {r.args.folds} folds.",
        "",
        "| augmentation | clean | " + " | ".join(conditions) + " |",
        "|---|---|" + "---|" * len(conditions),
    ]
    for augment in AUGMENT_VARIANTS:
        report = r.run(
            f"augment/{augment or 'none'}",
            r.corpus("ravdess", "drop"),
            *lr([1, 2, 3, 4, 5, 6])[:3],
            augment=augment,
            test_conditions=conditions,
        )
        marks = {c: AUGMENT_MARKS[training_match(t, augment)] for c, t in conditions.items()}
        summaries = [("clean", report["summary"])] + [
            (c, report["conditions"][c]["summary"]) for c in conditions
        ]
        cells = [augment or "none"] + [
            f"{pct(s, 'uar', spread=False)} ({pct(s, 'accuracy', spread=False)})" + marks.get(c, "")
            for c, s in summaries
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


SECTIONS = {
    "corpora": section_corpora,
    "headline": section_headline,
    "augment": section_augment,
    "cross": section_cross,
    "robust": section_robust,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sections", nargs="*", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--corpora", nargs="*", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/results"))
    parser.add_argument("--docs", type=Path, default=Path("docs/results.md"))
    parser.add_argument(
        "--multicorpus",
        action="store_true",
        help="headline: also train with the other corpora added (slow)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="reuse reports already under --out (resume a run)"
    )
    parser.add_argument(
        "--skip-conditions",
        nargs="*",
        default=[],
        metavar="NAME",
        help="robust: leave these test conditions (display names) out of the robustness "
        "run, to bound its time; their rows say so",
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", UserWarning)
    runner = Runner(args)
    command = f"python benchmarks/results_table.py --data {args.data}"
    for name in args.sections:
        body = SECTIONS[name](runner)
        flags = f" --sections {name}"
        if name == "robust" and args.skip_conditions:
            flags += " --skip-conditions " + " ".join(map(shlex.quote, args.skip_conditions))
        body += f"\n\nCommand: `{command}{flags}` (full reports in `{args.out}/`)."
        replace_section(args.docs, f"results-{name}", body)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{name}.md").write_text(body + "\n")
    print(json.dumps({"sections": args.sections, "docs": str(args.docs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
