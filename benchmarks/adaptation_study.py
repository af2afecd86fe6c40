"""Speaker adaptation: which recipe, how many utterances, and what it buys.

Writes the *Speaker adaptation* section of docs/results.md and full JSON under
``runs/adaptation/``. Every figure is speaker-independent: no test speaker's audio is in
any training fold; adaptation uses the test speaker's *unlabelled* utterances only.

Sections (``--sections``):

* ``recipe``   all four corpora, 7 classes (calm and boredom merged into neutral, pleasant
               surprise into surprise), 5 speaker folds drawn corpus by corpus (each fold
               holds out speakers of every corpus; TESS's two speakers in two of them).
               Training normalisations compared: none (today's head), each speaker's
               mean subtracted, each speaker z-scored, each corpus' mean subtracted.
               The adaptation curve: UAR against the number of a test speaker's
               utterances in the profile (drawn at random, mixed emotions, 5 draws),
               with shrinkage toward the training mean. The shrinkage ``k``, the fewest
               utterances worth adapting from and the normalisation are chosen on an
               inner split of each fold's *training* speakers, never on its test speakers.
* ``loco``     leave-one-corpus-out on the shared-class protocol (train on three corpora,
               only the held-out corpus' classes; test on the fourth), unadapted vs adapted
               per test speaker (all its utterances, or 10) or with one mean for the whole
               held-out corpus; and a 7-class model with its answer restricted to the
               held-out corpus' classes.
* ``ravdess8`` RAVDESS, 8 classes (calm kept), 5 speaker folds, speed- and noise-augmented
               training copies: unadapted vs adapted, with augmented copies sharing their
               speaker's mean or each copy normalised on its own.
* ``headline`` the shipped recipe (all four corpora, 7 classes, speed+light-noise copies,
               calibrated head on layers 1-6, C=0.1), the same 5 speaker folds, adapted
               and unadapted, per corpus.

The head is the shipped head's configuration (Whisper base layers 1-6, mean+std pooled,
standardised, class-balanced logistic regression with C=0.1; the bundled model's inner
speaker CV chose layers 1-6 over 3-6). Features come from the feature cache (clean audio
for ``recipe`` and ``loco``).

    python benchmarks/adaptation_study.py --data ../shared/data [--sections recipe loco]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score

from emovox.adaptation import SHARED_COPIES, centre_by_group, copy_groups
from emovox.corpora import load_corpora, load_corpus
from emovox.evaluation.markdown import replace_section
from emovox.evaluation.splits import assign_speaker_folds, cross_corpus_folds, speaker_folds
from emovox.features import FeatureCache
from emovox.features.batch import augmented_features, table_features
from emovox.linear_head import collapse_linear
from emovox.model_folder import default_model_path, read_metadata
from emovox.models.embedding_head import layer_logreg, make_whisper_head

CORPORA = {"ravdess": "ravdess", "tess": "tess", "emodb": "emodb", "turev": "turev_db"}
LAYERS = (1, 2, 3, 4, 5, 6)
COUNTS = (1, 2, 3, 5, 10, 20, 40)
SHRINKAGE = (0.0, 1.0, 2.0, 5.0, 10.0)
DRAWS = 5
AUGMENT = "speed+light-noise"
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results.md"


# ------------------------------------------------------------------ helpers
def features_of(table: pd.DataFrame, cache: FeatureCache) -> tuple[np.ndarray, pd.DataFrame]:
    config = read_metadata(default_model_path(), bundled=True)["features"]
    X, kept, failures = table_features(table, config, cache=cache)
    if failures:
        print(f"  {len(failures)} files failed and are left out")
    return X.astype(np.float64), kept.reset_index(drop=True)


def fit(X: np.ndarray, y: np.ndarray):
    """The shipped head's configuration, folded to a LinearHead (scores are linear)."""
    return collapse_linear(layer_logreg(layers=LAYERS, C=0.1).fit(X, y))


def uar(y: np.ndarray, pred: np.ndarray) -> float:
    return float(balanced_accuracy_score(y, pred))


def acc(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(y == pred))


def zscore_by_group(X: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = np.empty_like(X)
    for g in np.unique(groups):
        rows = groups == g
        out[rows] = (X[rows] - X[rows].mean(0)) / (X[rows].std(0) + 1e-6)
    return out


def adapted_predictions(
    head,
    X: np.ndarray,
    speakers: np.ndarray,
    *,
    count: int | None,
    shrinkage: float,
    prior: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Labels of ``X`` with each speaker's profile made from ``count`` of its utterances
    drawn at random (None: all), shrunk toward ``prior``."""
    raw = head.decision_function(X)
    scores = np.empty_like(raw)
    W = head.weight
    for s in np.unique(speakers):
        rows = np.flatnonzero(speakers == s)
        refs = rows if count is None or count >= rows.size else rng.choice(rows, count, False)
        n = float(refs.size)
        reference = (n * X[refs].mean(0) + shrinkage * prior) / (n + shrinkage)
        scores[rows] = raw[rows] - reference @ W.T
    return head.classes[np.argmax(scores, axis=1)]


def curve(head, X, y, speakers, prior, *, shrinkages=SHRINKAGE, counts=COUNTS, seed=0) -> dict:
    """UAR for each (shrinkage, count); count None = all utterances (one draw)."""
    out: dict[str, dict[str, float]] = {}
    for k in shrinkages:
        row = {}
        for n in [*counts, None]:
            draws = 1 if n is None else DRAWS
            rng = np.random.default_rng(seed)
            scores = [
                uar(
                    y,
                    adapted_predictions(
                        head, X, speakers, count=n, shrinkage=k, prior=prior, rng=rng
                    ),
                )
                for _ in range(draws)
            ]
            row["all" if n is None else str(n)] = float(np.mean(scores))
        out[f"{k:g}"] = row
    return out


def corpus_speaker_folds(table: pd.DataFrame, n_folds: int = 5) -> list:
    """Speaker folds drawn corpus by corpus, so that every fold holds out speakers of every
    corpus that has enough of them (TESS, with two speakers, is held out in two folds)."""
    from emovox.evaluation.splits import Fold

    fold_of: dict[str, int] = {}
    for _, part in table.groupby("corpus", sort=True):
        k = min(n_folds, part["speaker"].nunique())
        fold_of.update(assign_speaker_folds(part, n_folds=k, seed=0).to_dict())
    per_row = table["speaker"].map(fold_of).to_numpy()
    folds = []
    for k in range(n_folds):
        test = np.flatnonzero(per_row == k)
        held_out = sorted(table["speaker"].iloc[test].unique())
        folds.append(
            Fold(
                name=f"fold{k + 1}: " + ",".join(held_out),
                train=np.flatnonzero(per_row != k),
                test=test,
            )
        )
    return folds


def chosen_settings(folds: list[dict]) -> dict:
    """The shipped settings from the inner (training-speaker) choices of the folds: the
    median k and fewest utterances (rounded up), the most chosen normalisation."""
    ks = [f["inner"]["k"] for f in folds]
    mins = [f["inner"]["min_utterances"] or max(COUNTS) for f in folds]
    norms = Counter(f["inner"]["normalisation"] for f in folds)
    return {
        "k": float(np.median(ks)),
        "min_utterances": int(np.ceil(np.median(mins))),
        "normalisation": norms.most_common(1)[0][0],
        "votes": {
            "k": [float(k) for k in ks],
            "min_utterances": mins,
            "normalisation": dict(norms),
        },
    }


def inner_split(table: pd.DataFrame, rows: np.ndarray, seed: int = 0):
    """Train/validation positions among ``rows``: a quarter of their speakers held out."""
    sub = table.iloc[rows]
    fold_of = assign_speaker_folds(sub, n_folds=4, seed=seed)
    val = sub["speaker"].map(fold_of).to_numpy() == 0
    return rows[~val], rows[val]


def neutral_share(pred: np.ndarray) -> float:
    return float(np.mean(pred == "neutral"))


def mean_sd(values: list[float]) -> str:
    v = 100 * np.asarray(values)
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if len(v) > 1 else f"{v.mean():.1f}"


def load_all(data: Path, policy: str = "merge") -> pd.DataFrame:
    return load_corpora({k: data / v for k, v in CORPORA.items()}, policy=policy)


# ------------------------------------------------------------------ sections
def recipe(data: Path, cache: FeatureCache) -> dict:
    table = load_all(data)
    X, table = features_of(table, cache)
    y, spk, corpus = (table[c].to_numpy() for c in ("label", "speaker", "corpus"))
    folds = corpus_speaker_folds(table)
    report: dict = {"folds": []}
    for fold in folds:
        t0 = time.perf_counter()
        tr, te = fold.train, fold.test
        prior = X[tr].mean(0)
        # inner split of the training speakers: choose k, min utterances, normalisation
        itr, iva = inner_split(table, tr)
        iprior = X[itr].mean(0)
        i_plain = fit(X[itr], y[itr])
        i_mean = fit(centre_by_group(X[itr], spk[itr]), y[itr])
        i_z = fit(zscore_by_group(X[itr], spk[itr]), y[itr])
        inner = {
            "unadapted": uar(y[iva], i_plain.predict(X[iva])),
            "z-score": uar(y[iva], i_z.predict(zscore_by_group(X[iva], spk[iva]))),
            "curve": curve(i_mean, X[iva], y[iva], spk[iva], iprior),
        }
        few = [str(n) for n in (1, 2, 3, 5, 10)]
        k_best = max(inner["curve"], key=lambda k: np.mean([inner["curve"][k][n] for n in few]))
        inner["mean"] = inner["curve"][k_best]["all"]
        beats = [n for n in COUNTS if inner["curve"][k_best][str(n)] > inner["unadapted"]]
        inner["k"] = float(k_best)
        inner["min_utterances"] = min(beats) if beats else None
        inner["normalisation"] = max(("unadapted", "mean", "z-score"), key=inner.__getitem__)
        # outer: every variant, tested on the held-out speakers
        plain = fit(X[tr], y[tr])
        by_mean = fit(centre_by_group(X[tr], spk[tr]), y[tr])
        by_z = fit(zscore_by_group(X[tr], spk[tr]), y[tr])
        by_corpus = fit(centre_by_group(X[tr], corpus[tr]), y[tr])
        rng = np.random.default_rng(0)
        p_plain = plain.predict(X[te])
        p_mean = adapted_predictions(
            by_mean, X[te], spk[te], count=None, shrinkage=0, prior=prior, rng=rng
        )
        p_mean_src = adapted_predictions(
            by_mean, X[te], corpus[te], count=None, shrinkage=0, prior=prior, rng=rng
        )
        p_z = by_z.predict(zscore_by_group(X[te], spk[te]))
        p_corpus = adapted_predictions(
            by_corpus, X[te], corpus[te], count=None, shrinkage=0, prior=prior, rng=rng
        )
        outer = {
            "unadapted": p_plain,
            "mean, per speaker": p_mean,
            "mean, trained per speaker, tested per corpus": p_mean_src,
            "z-score, per speaker": p_z,
            "mean, per corpus": p_corpus,
        }
        entry = {
            "name": fold.name,
            "inner": inner,
            "uar": {k: uar(y[te], p) for k, p in outer.items()},
            "accuracy": {k: acc(y[te], p) for k, p in outer.items()},
            "neutral_share": {k: neutral_share(p) for k, p in outer.items()},
            "true_neutral_share": neutral_share(y[te]),
            "per_corpus": {
                c: {k: uar(y[te][corpus[te] == c], p[corpus[te] == c]) for k, p in outer.items()}
                for c in np.unique(corpus[te])
            },
            "curve": curve(by_mean, X[te], y[te], spk[te], prior, shrinkages=(0.0, inner["k"])),
        }
        report["folds"].append(entry)
        print(
            f"  {fold.name[:40]}: {json.dumps(entry['uar'])} "
            f"k={inner['k']:g} min={inner['min_utterances']} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    report["chosen"] = chosen_settings(report["folds"])
    return report


def loco(data: Path, cache: FeatureCache, k: float) -> dict:
    table = load_all(data)
    X, table = features_of(table, cache)
    y, spk, corpus = (table[c].to_numpy() for c in ("label", "speaker", "corpus"))
    report: dict = {"folds": [], "k": k}
    open_folds = {f.name: f for f in cross_corpus_folds(table)}
    for fold in cross_corpus_folds(table, shared_classes=True):
        t0 = time.perf_counter()
        tr, te = fold.train, fold.test
        prior = X[tr].mean(0)
        classes = np.unique(y[te])
        rng = np.random.default_rng(0)
        plain = fit(X[tr], y[tr])
        by_spk = fit(centre_by_group(X[tr], spk[tr]), y[tr])
        by_corpus = fit(centre_by_group(X[tr], corpus[tr]), y[tr])
        otr = open_folds[fold.name].train
        open_plain = fit(X[otr], y[otr])
        open_spk = fit(centre_by_group(X[otr], spk[otr]), y[otr])

        def restricted(head, Xs, profile_groups=None, classes=classes):
            keep = np.isin(head.classes, classes)
            if profile_groups is None:
                scores = head.decision_function(Xs)
            else:
                scores = np.empty((len(Xs), len(head.classes)))
                raw = head.decision_function(Xs)
                for s in np.unique(profile_groups):
                    rows = profile_groups == s
                    scores[rows] = raw[rows] - Xs[rows].mean(0) @ head.weight.T
            scores[:, ~keep] = -np.inf
            return head.classes[np.argmax(scores, axis=1)]

        preds = {
            "unadapted": plain.predict(X[te]),
            "adapted per test speaker (all utterances)": adapted_predictions(
                by_spk, X[te], spk[te], count=None, shrinkage=0, prior=prior, rng=rng
            ),
            "adapted per test speaker (10 utterances)": None,
            "one mean for the held-out corpus": adapted_predictions(
                by_spk, X[te], corpus[te], count=None, shrinkage=0, prior=prior, rng=rng
            ),
            "trained per corpus, one mean for the held-out corpus": adapted_predictions(
                by_corpus, X[te], corpus[te], count=None, shrinkage=0, prior=prior, rng=rng
            ),
            "7-class model, answer restricted, unadapted": restricted(open_plain, X[te]),
            "7-class model, answer restricted, adapted per speaker": restricted(
                open_spk, X[te], spk[te]
            ),
        }
        ten = [
            uar(
                y[te],
                adapted_predictions(
                    by_spk, X[te], spk[te], count=10, shrinkage=k, prior=prior, rng=rng
                ),
            )
            for _ in range(DRAWS)
        ]
        del preds["adapted per test speaker (10 utterances)"]
        entry = {
            "name": fold.name,
            "classes": classes.tolist(),
            "uar": {name: uar(y[te], p) for name, p in preds.items()},
            "accuracy": {name: acc(y[te], p) for name, p in preds.items()},
            "neutral_share": {name: neutral_share(p) for name, p in preds.items()},
            "true_neutral_share": neutral_share(y[te]),
        }
        entry["uar"]["adapted per test speaker (10 utterances)"] = float(np.mean(ten))
        report["folds"].append(entry)
        print(
            f"  {fold.name}: {json.dumps(entry['uar'])} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    return report


def ravdess8(data: Path, cache: FeatureCache) -> dict:
    table = load_corpus("ravdess", data / CORPORA["ravdess"], policy="keep")
    X, table = features_of(table, cache)
    config = read_metadata(default_model_path(), bundled=True)["features"]
    copies = [
        np.asarray(c, dtype=np.float64)
        for c in augmented_features(table, config, AUGMENT, cache=cache)
    ]
    y, spk = table["label"].to_numpy(), table["speaker"].to_numpy()
    report: dict = {"folds": []}
    for fold in speaker_folds(table, n_folds=5, seed=0):
        tr, te = fold.train, fold.test
        n = len(copies) + 1
        X_aug = np.concatenate([X[tr], *[c[tr] for c in copies]])
        y_aug = np.tile(y[tr], n)
        prior = X_aug.mean(0)
        rng = np.random.default_rng(0)
        plain = fit(X_aug, y_aug)
        shared = fit(centre_by_group(X_aug, copy_groups(spk[tr], n, shared=True)), y_aug)
        own = fit(centre_by_group(X_aug, copy_groups(spk[tr], n, shared=False)), y_aug)
        clean = fit(centre_by_group(X[tr], spk[tr]), y[tr])
        preds = {
            "unadapted": plain.predict(X[te]),
            "adapted, copies share their speaker's mean": adapted_predictions(
                shared, X[te], spk[te], count=None, shrinkage=0, prior=prior, rng=rng
            ),
            "adapted, each copy its own mean": adapted_predictions(
                own, X[te], spk[te], count=None, shrinkage=0, prior=prior, rng=rng
            ),
            "adapted, no augmentation": adapted_predictions(
                clean, X[te], spk[te], count=None, shrinkage=0, prior=X[tr].mean(0), rng=rng
            ),
        }
        entry = {
            "name": fold.name,
            "uar": {k: uar(y[te], p) for k, p in preds.items()},
            "accuracy": {k: acc(y[te], p) for k, p in preds.items()},
        }
        report["folds"].append(entry)
        print(f"  {fold.name}: {json.dumps(entry['uar'])}", flush=True)
    return report


def headline(data: Path, cache: FeatureCache) -> dict:
    table = load_all(data)
    X, table = features_of(table, cache)
    config = read_metadata(default_model_path(), bundled=True)["features"]
    copies = [
        np.asarray(c, dtype=np.float64)
        for c in augmented_features(table, config, AUGMENT, cache=cache)
    ]
    y, spk, corpus = (table[c].to_numpy() for c in ("label", "speaker", "corpus"))
    report: dict = {"folds": []}
    for fold in corpus_speaker_folds(table):
        t0 = time.perf_counter()
        tr, te = fold.train, fold.test
        n = len(copies) + 1
        X_aug = np.concatenate([X[tr], *[c[tr] for c in copies]])
        y_aug, g_aug = np.tile(y[tr], n), np.tile(spk[tr], n)
        prior = X_aug.mean(0)
        head = dict(layer_sets=("layers 1-6",))
        plain = collapse_linear(make_whisper_head(**head).fit(X_aug, y_aug, groups=g_aug))
        centred = centre_by_group(X_aug, copy_groups(spk[tr], n, shared=SHARED_COPIES))
        adapted = collapse_linear(make_whisper_head(**head).fit(centred, y_aug, groups=g_aug))
        rng = np.random.default_rng(0)
        preds = {
            "unadapted": plain.predict(X[te]),
            "adapted (all utterances of each test speaker)": adapted_predictions(
                adapted, X[te], spk[te], count=None, shrinkage=0, prior=prior, rng=rng
            ),
        }
        entry = {
            "name": fold.name,
            "uar": {k: uar(y[te], p) for k, p in preds.items()},
            "accuracy": {k: acc(y[te], p) for k, p in preds.items()},
            "per_corpus": {
                c: {
                    k: {
                        "uar": uar(y[te][corpus[te] == c], p[corpus[te] == c]),
                        "accuracy": acc(y[te][corpus[te] == c], p[corpus[te] == c]),
                    }
                    for k, p in preds.items()
                }
                for c in np.unique(corpus[te])
            },
        }
        report["folds"].append(entry)
        print(
            f"  {fold.name[:40]}: {json.dumps(entry['uar'])} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    return report


# ------------------------------------------------------------------ markdown
def table_rows(folds: list[dict], names: list[str]) -> list[str]:
    rows = []
    for name in names:
        u = [f["uar"][name] for f in folds]
        a = [f["accuracy"][name] for f in folds if name in f.get("accuracy", {})]
        rows.append(f"| {name} | {mean_sd(u)} | {mean_sd(a) if a else 'n/a'} |")
    return rows


def render(reports: dict) -> str:
    lines = ["## Speaker adaptation", ""]
    lines += [
        "How much a speaker's unlabelled utterances help, and the recipe the default model "
        "ships. Command: `python benchmarks/adaptation_study.py --data ../shared/data` "
        "(full reports in `runs/adaptation/`). Every protocol is speaker-independent; the "
        "profile of a test speaker is the mean embedding of their utterances, without "
        "labels. Head: the shipped configuration (Whisper base layers 1-6, mean+std, "
        "standardised, class-balanced LR, C=0.1). UAR is balanced accuracy; ± is the "
        "sample SD over folds.",
        "",
    ]
    if "recipe" in reports:
        r = reports["recipe"]
        folds = r["folds"]
        names = list(folds[0]["uar"])
        lines += [
            "### Which normalisation (all four corpora, 7 classes, 5 speaker folds, clean)",
            "",
            "| training normalisation / test profile | UAR % | accuracy % |",
            "|---|---|---|",
            *table_rows(folds, names),
            "",
            "Share of answers that are *neutral* (truth: "
            f"{100 * np.mean([f['true_neutral_share'] for f in folds]):.1f} %): "
            + ", ".join(
                f"{n} {100 * np.mean([f['neutral_share'][n] for f in folds]):.1f} %" for n in names
            )
            + ".",
            "",
            "Per corpus (UAR %, mean over the folds that hold out speakers of that corpus):",
            "",
            "| corpus | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        corpora = sorted({c for f in folds for c in f["per_corpus"]})
        for c in corpora:
            vals = [
                100 * np.mean([f["per_corpus"][c][n] for f in folds if c in f["per_corpus"]])
                for n in names
            ]
            lines.append(f"| {c} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
        ch = chosen_settings(folds)
        lines += [
            "",
            "Chosen on an inner split of each fold's training speakers (a quarter of them "
            "held out; never the test speakers): normalisation by the best inner UAR "
            f"(votes {ch['votes']['normalisation']}: **{ch['normalisation']}**); shrinkage k "
            "by the best inner UAR averaged over profiles of 1-10 utterances (per fold "
            f"{ch['votes']['k']}, median **{ch['k']:g}**); the fewest utterances at which "
            "the adapted head beat the unadapted one on the inner speakers (per fold "
            f"{ch['votes']['min_utterances']}, median **{ch['min_utterances']}**). The "
            "default model ships these (`emovox.adaptation`: SHRINKAGE, MIN_UTTERANCES).",
            "",
            "### The adaptation curve (UAR % against utterances in the profile)",
            "",
            "Profiles drawn at random from each test speaker's utterances (mixed emotions, "
            f"{DRAWS} draws), every utterance of the speaker then classified; the unadapted "
            "head does not depend on the count. k = 0: the plain mean; k chosen: shrunk "
            "toward the training mean with the k that fold's inner split chose. UAR only: "
            "the study does not record accuracy per count (the 'all' column's accuracy is "
            "in the table above).",
            "",
            "| profile from | " + " | ".join([*map(str, COUNTS), "all"]) + " |",
            "|---|" + "---|" * (len(COUNTS) + 1),
        ]
        unadapted = 100 * np.mean([f["uar"]["unadapted"] for f in folds])
        lines.append(
            "| unadapted head | " + " | ".join([f"{unadapted:.1f}"] * (len(COUNTS) + 1)) + " |"
        )
        for label, pick in (
            ("adapted, k = 0", lambda f: "0"),
            ("adapted, k chosen", lambda f: f"{f['inner']['k']:g}"),
        ):
            vals = [
                100 * np.mean([f["curve"][pick(f)][c] for f in folds])
                for c in [*map(str, COUNTS), "all"]
            ]
            lines.append(f"| {label} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
        chosen = [
            np.mean([f["curve"][f"{f['inner']['k']:g}"][str(c)] for f in folds]) for c in COUNTS
        ]
        unadapted_mean = np.mean([f["uar"]["unadapted"] for f in folds])
        crossing = next(
            (c for c, v in zip(COUNTS, chosen, strict=True) if v >= unadapted_mean), None
        )
        lines += [
            "",
            f"On these test speakers the adapted head overtakes the unadapted one from "
            f"**{crossing}** utterances on, while the inner splits chose "
            f"{ch['min_utterances']}: with {ch['min_utterances']} to "
            f"{crossing - 1 if crossing else '?'} "
            "utterances the shipped adapted head is worse than not adapting (by "
            f"{100 * (unadapted_mean - chosen[COUNTS.index(ch['min_utterances'])]):.1f} "
            f"points at {ch['min_utterances']}). We "
            "report this rather than move the threshold, which would be a choice made on the "
            "test folds; give `--adapt` 10 or more utterances. One clip is always answered "
            "by the unadapted head.",
            "",
        ]
    if "loco" in reports:
        folds = reports["loco"]["folds"]
        names = list(folds[0]["uar"])
        lines += [
            "### Leave one corpus out (shared-class protocol, clean)",
            "",
            "Train on three corpora (only the held-out corpus' classes), test on the fourth. "
            "Adapted per test speaker from all their utterances (and from 10 drawn at "
            f"random, k = {reports['loco']['k']:g}, {DRAWS} draws); 'one mean for the "
            "held-out corpus' is the mode for when speakers are unknown.",
            "",
            "| held-out corpus | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for f in folds:
            lines.append(
                f"| {f['name'].removeprefix('test on ')} ({len(f['classes'])} classes) | "
                + " | ".join(f"{100 * f['uar'][n]:.1f}" for n in names)
                + " |"
            )
        lines.append(
            "| **mean UAR** | "
            + " | ".join(f"**{100 * np.mean([f['uar'][n] for f in folds]):.1f}**" for n in names)
            + " |"
        )
        lines.append(
            "| mean accuracy | "
            + " | ".join(
                f"{100 * np.mean([f['accuracy'][n] for f in folds]):.1f}"
                if all(n in f["accuracy"] for f in folds)
                else "n/a"
                for n in names
            )
            + " |"
        )
        lines += [
            "",
            "Share of *neutral* answers, unadapted -> adapted per speaker: "
            + ", ".join(
                f"{f['name'].removeprefix('test on ')} "
                f"{100 * f['neutral_share']['unadapted']:.0f} -> "
                f"{100 * f['neutral_share']['adapted per test speaker (all utterances)']:.0f} %"
                f" (truth {100 * f['true_neutral_share']:.0f} %)"
                for f in folds
            )
            + ".",
            "",
        ]
    if "ravdess8" in reports:
        folds = reports["ravdess8"]["folds"]
        lines += [
            "### RAVDESS, 8 classes (calm kept), 5 speaker folds",
            "",
            f"Trained on RAVDESS only with {AUGMENT} copies (except the last row); adapted "
            "per test speaker from all their utterances. The default model normalises each "
            "augmented copy on its own, chosen by an argument, not by this table: at "
            "prediction time a profile and the utterances it normalises share their "
            "recording conditions, as a noisy copy and its own mean do. The two rows differ "
            "by less than their spread over folds.",
            "",
            "| head | UAR % | accuracy % |",
            "|---|---|---|",
            *table_rows(folds, list(folds[0]["uar"])),
            "",
        ]
    if "headline" in reports:
        folds = reports["headline"]["folds"]
        names = list(folds[0]["uar"])
        lines += [
            "### The shipped recipe on every corpus (headline)",
            "",
            "All four corpora, 7 classes (calm and boredom merged into neutral, pleasant "
            f"surprise into surprise), {AUGMENT} training copies, calibrated head, 5 speaker "
            "folds over all corpora together (each fold holds out RAVDESS, EmoDB and TurEV-DB "
            "speakers; TESS has two speakers, so only two folds hold one out). The layer set "
            "is fixed to layers 1-6, the one the bundled model's inner CV chose.",
            "",
            "| head | UAR % | accuracy % |",
            "|---|---|---|",
            *table_rows(folds, names),
            "",
            "| corpus | " + " | ".join(f"{n} UAR / acc %" for n in names) + " |",
            "|---|" + "---|" * len(names),
        ]
        corpora = sorted({c for f in folds for c in f["per_corpus"]})
        for c in corpora:
            cells = []
            for n in names:
                vals = [f["per_corpus"][c][n] for f in folds if c in f["per_corpus"]]
                cells.append(
                    f"{100 * np.mean([v['uar'] for v in vals]):.1f} / "
                    f"{100 * np.mean([v['accuracy'] for v in vals]):.1f}"
                )
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("runs/adaptation"))
    parser.add_argument("--sections", nargs="+", default=["recipe", "loco", "ravdess8", "headline"])
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/results.md")
    args = parser.parse_args()
    cache = FeatureCache()
    args.out.mkdir(parents=True, exist_ok=True)
    reports: dict = {}
    for name in ["recipe", "loco", "ravdess8", "headline"]:
        path = args.out / f"{name}.json"
        if name in args.sections:
            print(f"{name}:", flush=True)
            if name == "loco":
                k = chosen_settings(reports["recipe"]["folds"])["k"] if "recipe" in reports else 1.0
                reports[name] = loco(args.data, cache, k)
            else:
                reports[name] = globals()[name](args.data, cache)
            path.write_text(json.dumps(reports[name], indent=2, default=float) + "\n")
        elif path.is_file():
            reports[name] = json.loads(path.read_text())
    text = render(reports)
    print(text)
    if not args.no_docs:
        replace_section(RESULTS, "adaptation", text)


if __name__ == "__main__":
    main()
