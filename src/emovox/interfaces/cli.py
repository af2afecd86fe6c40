"""The ``emovox`` command line: a thin layer over :class:`emovox.Recognizer`.

Every command prints a person-readable table by default and JSON with ``--json``.
Errors that emovox raises on purpose are printed as one message (exit code 2); a batch
in which some files failed still prints every result and exits with code 1. Options are
parsed here; files, audio and models are judged by the core API, file by file.

Names: ``--model`` is always a saved model folder; ``--classifier`` the kind of
classifier ``train`` and ``evaluate`` fit; ``--sample-rate`` a rate in Hz.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from emovox.errors import EmovoxError, ParameterError
from emovox.interfaces.options import data_dir, parse_corpus_specs, parse_features, parse_params

app = typer.Typer(
    name="emovox",
    help="Speech emotion recognition: predict, record, train and evaluate (offline, CPU).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)

CorpusOpt = Annotated[
    list[str],
    typer.Option("--corpus", "-c", help="NAME=PATH, or NAME found under --data. Repeatable."),
]
DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Folder of corpora (default $EMOVOX_DATA or ./data).")
]
PolicyOpt = Annotated[
    str, typer.Option("--policy", help="Labels outside the 7 emotions: drop, merge or keep.")
]
FeaturesOpt = Annotated[
    str,
    typer.Option("--features", "-f", help="mfcc_image, stats, logmel, egemaps, whisper or JSON."),
]
ClassifierOpt = Annotated[
    str,
    typer.Option(
        "--classifier",
        help="rf, knn, svm, logreg, mlp, seed_cnn, layer_logreg or whisper_head.",
    ),
]
ParamOpt = Annotated[
    list[str], typer.Option("--param", "-p", help="Classifier parameter key=value. Repeatable.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Write into --out even if it already holds files.")
]
AugmentOpt = Annotated[
    str | None,
    typer.Option(
        help="Augment training audio: speed, speed+light-noise (the default model's), "
        "speed-wide, noise or speed+noise."
    ),
]
DeviceOpt = Annotated[str | None, typer.Option(help="Input device index or name.")]
ModelFolderOpt = Annotated[
    Path | None, typer.Option("--model", "-m", help="Model folder (default: bundled model).")
]
ClassesOpt = Annotated[
    str | None,
    typer.Option(
        help="Only these classes, comma-separated (e.g. anger,happy,sad,neutral): "
        "their probabilities, renormalised."
    ),
]


def _load_table(corpus: list[str], data: Path | None, policy: str):
    from emovox.corpora import load_corpora

    specs = parse_corpus_specs(corpus, data=data_dir(data))
    return load_corpora(specs, policy=policy)


def _cache():
    from emovox.features import FeatureCache

    return FeatureCache()


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator:
    """A rich progress hook on stderr (silent when not ``enabled``)."""
    from emovox.interfaces.progress_view import RichProgress

    with RichProgress(err, enabled=enabled) as hook:
        yield hook


@contextlib.contextmanager
def _library_warnings() -> Iterator[None]:
    """Collect the warnings libraries raise during long work; print each kind once after."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: dict[str, int] = {}
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        seen[text] = seen.get(text, 0) + 1
    for text, n in seen.items():
        err.print(f"[yellow]note:[/yellow] {escape(text)}" + (f" (x{n})" if n > 1 else ""))


# -- predict ---------------------------------------------------------------------------
@app.command()
def predict(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="Audio files (- reads one from standard input), folders (their audio files, "
            "recursively) or manifests (.csv with a path column)."
        ),
    ] = None,
    model: ModelFolderOpt = None,
    record: Annotated[
        bool, typer.Option("--record", help="Record from the microphone instead of files.")
    ] = False,
    duration: Annotated[float, typer.Option(help="Seconds to record with --record.")] = 3.0,
    device: DeviceOpt = None,
    classes: ClassesOpt = None,
    as_json: JsonOpt = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Batch: write one row per file to this .csv or .parquet as it goes; a rerun "
            "with the same --out skips the files already there.",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", help="With --out: worker processes (default: one per core)."),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", help="With --out: files per task (default: up to 32)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --out: delete what it holds and start over.")
    ] = False,
    adapt: Annotated[
        bool,
        typer.Option(
            "--adapt",
            help="The files are one speaker: adapt to them (no labels needed; about 10 "
            "utterances of mixed emotions give most of the gain).",
        ),
    ] = False,
    adapt_by: Annotated[
        str | None,
        typer.Option(
            "--adapt-by",
            metavar="COLUMN",
            help="With a manifest (.csv): adapt each file to the files that share its value "
            "in COLUMN, e.g. --adapt-by speaker.",
        ),
    ] = None,
) -> None:
    """Predict the emotion of recordings, printing every class probability; with --out,
    of whole folders into a CSV or Parquet file, resumably."""
    from emovox.recognizer import Failure, Recognizer

    if adapt and adapt_by is not None:
        raise ParameterError(
            "--adapt (all files are one speaker) and --adapt-by (a manifest column names each "
            "file's speaker) do not go together; choose one."
        )
    if output is not None:
        if record:
            raise ParameterError("--record and --out do not go together; record, then predict.")
        if adapt:
            raise ParameterError(
                "--adapt treats the files as one speaker, which a batch into --out does not; "
                "give a manifest with a speaker column and --adapt-by speaker."
            )
        _predict_batch(
            files or [],
            output=output,
            model=model,
            jobs=jobs,
            classes=classes,
            batch_size=batch_size,
            force=force,
            as_json=as_json,
            adapt_by=adapt_by,
        )
        return
    if jobs is not None or batch_size is not None or force:
        raise ParameterError(
            "--jobs, --batch-size and --force are for a batch written to a file: add "
            "--out results.csv (or .parquet)."
        )
    groups = _manifest_groups(files or [], adapt_by) if adapt_by is not None else None
    sources: list[str] = _expand_sources(files or [])
    if record and sources:
        raise ParameterError(
            "Give audio files or --record, not both (with --record, emovox predicts what it "
            "records)."
        )
    if not record and not sources:
        raise ParameterError("Give one or more audio files (- for standard input), or --record.")
    if sources.count("-") > 1:
        raise ParameterError("Standard input (-) can be read once only.")
    chosen_device = _check_recording(duration=duration, device=device) if record else None
    recognizer = Recognizer.load(model)
    chosen = recognizer.check_classes(classes)
    labels = chosen or recognizer.labels
    if chosen_device is not None:
        sources.append(str(_record_to_temp(duration=duration, device=chosen_device)))
    if adapt or groups is not None:
        recognizer.require_adaptation()
    with _progress(not as_json and len(sources) > 3) as hook:
        if groups is None:
            results = recognizer.predict_files(sources, classes=chosen, hook=hook, adapt=adapt)
        else:
            results = _predict_by_group(recognizer, groups, classes=chosen, hook=hook)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        folder, names = _short_names([r.source or "" for r in results])
        out.print(_predictions_table(results, names, labels, folder=folder))
        counts = sorted({r.adapted for r in results if not isinstance(r, Failure)})
        if adapt or groups is not None:
            err.print(_adaptation_note(counts, groups), highlight=False)
        for r in results:
            if isinstance(r, Failure):
                err.print(
                    f"[red]{escape(r.source or '')}[/red]: {escape(r.error)}", highlight=False
                )
            else:
                for warning in r.warnings:
                    err.print(
                        f"[yellow]{escape(r.source or '')}[/yellow]: {escape(warning)}",
                        highlight=False,
                    )
    if any(isinstance(r, Failure) for r in results):
        raise typer.Exit(1)


def _manifest_groups(files: list[str], column: str):
    """The groups of the one manifest in ``files`` by ``column`` (``--adapt-by``)."""
    from emovox.batch.inputs import is_manifest, manifest_groups

    if len(files) != 1 or not is_manifest(files[0]):
        raise ParameterError(
            f"--adapt-by {column} needs one manifest (.csv) with a {column!r} column naming "
            "each file's speaker."
        )
    return manifest_groups(files[0], column)


def _predict_by_group(recognizer, groups, *, classes, hook) -> list:
    """Every file of ``groups`` adapted to its group, in manifest order."""
    found = {}
    for members in groups.members.values():
        for result in recognizer.predict_files(members, classes=classes, hook=hook, adapt=True):
            found[result.source] = result
    return [found[path] for path in groups.of]


def _adaptation_note(counts: list[int], groups) -> str:
    """What the adaptation did, for a person."""
    if groups is not None:
        return (
            f"Adapted to each of {len(groups.members)} speakers' own files "
            f"({min(counts, default=0)}-{max(counts, default=0)} utterances each)."
        )
    if not counts or counts == [0]:
        return (
            "Not adapted: too few files held speech to adapt to (the unadapted head "
            "answered)."
        )
    return (
        f"Adapted to one speaker from {max(counts)} utterance(s) (the files given); with "
        "fewer than about 10 it can be worse than not adapting (docs/results.md)."
    )


def _expand_sources(sources: list[str]) -> list[str]:
    """Folders and manifests among ``sources`` replaced by the files they list (files and
    ``-`` stay as given, so a missing file is reported as that file's error)."""
    from emovox.batch.inputs import audio_files, is_manifest, manifest_paths

    expanded: list[str] = []
    for source in sources:
        if source != "-" and Path(source).is_dir():
            expanded.extend(audio_files(source))
        elif source != "-" and is_manifest(source) and Path(source).is_file():
            expanded.extend(manifest_paths(source))
        else:
            expanded.append(source)
    return expanded


def _predict_batch(
    sources: list[str],
    *,
    output: Path,
    model: Path | None,
    jobs: int | None,
    classes: str | None,
    batch_size: int | None,
    force: bool,
    as_json: bool,
    adapt_by: str | None = None,
) -> None:
    """``predict ... --out FILE``: the resumable folder batch (:mod:`emovox.batch`)."""
    from emovox.batch import predict_folder

    if not sources:
        raise ParameterError(
            "Give the folders, manifests (.csv) or audio files to predict into --out."
        )
    with _progress(not as_json) as hook:
        summary = predict_folder(
            sources,
            output,
            model=model,
            jobs=jobs,
            classes=classes,
            batch_size=batch_size,
            force=force,
            hook=hook,
            adapt_by=adapt_by,
        )
    for note in summary.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    if as_json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        rate = summary.files_per_second
        speed = f" ({rate:.1f} files/s, {summary.jobs} process(es))" if rate else ""
        out.print(
            f"{summary.files} files in {escape(str(summary.output))}: {summary.processed} "
            f"predicted now{speed}, {summary.skipped} already there; {summary.failed} failed.",
            highlight=False,
            soft_wrap=True,
        )
        shown = 10
        for source, error in summary.failures[:shown]:
            err.print(f"[red]{escape(source)}[/red]: {escape(error)}", highlight=False)
        more = summary.failed - min(shown, len(summary.failures))
        if more > 0:
            err.print(f"{more} more failed: rows with status 'error' in {escape(str(output))}.")
    if summary.failed:
        raise typer.Exit(1)


def _predictions_table(results: list, names: list[str], labels: list[str], *, folder):
    """One row per file; a column per class where the terminal is wide enough for whole
    class names, else one column listing the classes from most to least likely."""
    from emovox.results import Failure

    caption = escape(f"files in {folder}") if folder else None
    table = Table(title="emovox predictions", caption=caption, box=box.SIMPLE_HEAD)
    from emovox.labels import ALL_LABELS

    table.add_column("file", overflow="fold", min_width=10)
    own = not set(labels) <= set(ALL_LABELS)  # a model trained with --labels custom
    table.add_column("class" if own else "emotion", style="bold")
    wide = out.width >= 30 + sum(max(len(label), 4) + 3 for label in labels)
    if wide:
        for label in labels:
            table.add_column(label, justify="right")
    else:
        table.add_column("probabilities", overflow="fold")
    for r, name in zip(results, names, strict=True):
        if isinstance(r, Failure):
            table.add_row(escape(name), "[red]error[/red]", *[""] * (len(labels) if wide else 1))
            continue
        emotion = r.label if r.speech is not False else f"{r.label} [dim](no speech)[/dim]"
        if wide:
            cells = [f"{r.probabilities[label]:.2f}" for label in labels]
        else:
            ranked = sorted(labels, key=lambda label: -r.probabilities[label])
            cells = ["  ".join(f"{label}={r.probabilities[label]:.2f}" for label in ranked)]
        table.add_row(escape(name), emotion, *cells)
    return table


def _short_names(sources: list[str]) -> tuple[str | None, list[str]]:
    """The folder all ``sources`` share and each source relative to it (names stay distinct:
    ``one/rec.flac`` and ``two/rec.flac``), or None and the sources as given."""
    import os

    paths = [s for s in sources if s and s != "-"]
    if not paths:
        return None, sources
    try:
        common = os.path.commonpath([os.path.dirname(p) or "." for p in paths])
    except ValueError:  # absolute and relative paths mixed
        return None, sources
    if common in ("", "."):
        return None, sources
    names = [os.path.relpath(s, common) if s and s != "-" else s for s in sources]
    return common, names


def _check_recording(*, duration: float, device: str | None, sample_rate: int = 16_000):
    """Judge the options and find the microphone before anything is announced or loaded."""
    from emovox.audio.record import check_options, ensure_input_device

    check_options(duration=duration, sample_rate=sample_rate)
    return ensure_input_device(_device(device))


def _record_to_temp(*, duration: float, device) -> Path:
    import tempfile

    from emovox.audio.record import record as capture
    from emovox.audio.record import save_wav

    signal = capture(
        duration=duration,
        device=device.index,
        on_start=lambda: err.print(
            f"Recording {duration:.1f} s from '{escape(device.name)}' ... speak now."
        ),
    )
    path = Path(tempfile.mkdtemp(prefix="emovox-")) / "recording.wav"
    save_wav(path, signal)
    return path


def _device(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


# -- record ----------------------------------------------------------------------------
@app.command("record")
def record_command(
    output: Annotated[Path | None, typer.Argument(help="WAV file to write.")] = None,
    duration: Annotated[float, typer.Option(help="Seconds to record.")] = 3.0,
    sample_rate: Annotated[int, typer.Option("--sample-rate", help="Sample rate in Hz.")] = 16_000,
    device: DeviceOpt = None,
    list_devices: Annotated[
        bool, typer.Option("--list-devices", help="List input devices.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Record from the microphone into a WAV file (mono)."""
    from emovox.audio.record import list_input_devices, record, save_wav

    if list_devices:
        devices = list_input_devices()
        if as_json:
            print(json.dumps([d.__dict__ for d in devices], indent=2))
            return
        table = Table(title="input devices")
        for column in ("index", "name", "channels", "default rate", "default"):
            table.add_column(column)
        for d in devices:
            table.add_row(
                str(d.index),
                d.name,
                str(d.max_input_channels),
                f"{d.default_samplerate:.0f}",
                "*" if d.is_default else "",
            )
        out.print(table)
        return
    if output is None:
        raise ParameterError("Give the WAV file to write, e.g. `emovox record me.wav`.")
    if output.is_dir():
        raise ParameterError(f"'{output}' is a folder; give the WAV file to write.")
    chosen = _check_recording(duration=duration, device=device, sample_rate=sample_rate)
    signal = record(
        duration=duration,
        sample_rate=sample_rate,
        device=chosen.index,
        on_start=lambda: err.print(
            f"Recording {duration:.1f} s at {sample_rate} Hz ... speak now."
        ),
    )
    save_wav(output, signal, sample_rate=sample_rate)
    if as_json:
        print(
            json.dumps(
                {
                    "path": str(output),
                    "seconds": signal.size / sample_rate,
                    "sample_rate": sample_rate,
                }
            )
        )
    else:
        out.print(f"Wrote {output} ({signal.size / sample_rate:.2f} s).")


# -- corpora ---------------------------------------------------------------------------
@app.command()
def corpora(
    corpus: CorpusOpt,
    data: DataOpt = None,
    policy: PolicyOpt = "drop",
    as_json: JsonOpt = False,
) -> None:
    """Count the files per corpus and emotion, as the loaders read them."""
    table = _load_table(corpus, data, policy)
    from emovox.labels import label_order

    counts = table.groupby(["corpus", "label"]).size().unstack(fill_value=0)
    counts = counts[label_order(list(counts.columns))]
    speakers = table.groupby("corpus")["speaker"].nunique()
    if as_json:
        print(
            json.dumps(
                {
                    "counts": counts.to_dict(orient="index"),
                    "speakers": speakers.to_dict(),
                    "files": len(table),
                },
                indent=2,
            )
        )
        return
    view = Table(title=f"{len(table)} files (policy: {policy})")
    view.add_column("corpus")
    view.add_column("speakers", justify="right")
    for label in counts.columns:
        view.add_column(label, justify="right")
    for name, row in counts.iterrows():
        view.add_row(name, str(speakers[name]), *[str(v) for v in row])
    out.print(view)


# -- evaluate --------------------------------------------------------------------------
REPORT_FILES = ("report.json", "predictions.csv", "confusion.csv", "confusion.png")


@app.command()
def evaluate(
    corpus: CorpusOpt,
    data: DataOpt = None,
    policy: PolicyOpt = "drop",
    features: FeaturesOpt = "stats",
    classifier: ClassifierOpt = "svm",
    param: ParamOpt = None,  # type: ignore[assignment]
    protocol: Annotated[
        str,
        typer.Option(
            help="speaker (default), cross-corpus, cross-corpus-shared (trained on the "
            "test corpus' classes only), or random (speaker-dependent)."
        ),
    ] = "speaker",
    folds: Annotated[int, typer.Option(help="Number of folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for report.json, CSVs and plot.")
    ] = None,
    force: ForceOpt = False,
    augment: AugmentOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a feature/classifier pair; speaker-independent folds unless told otherwise."""
    from emovox.evaluation.experiment import evaluate as run
    from emovox.evaluation.report import write_report
    from emovox.output import check_output_folder

    if output is not None:
        _say_overwritten(
            check_output_folder(output, force=force, owned=REPORT_FILES, what="report")
        )
    table = _load_table(corpus, data, policy)
    with _library_warnings(), _progress(not as_json) as hook:
        report = run(
            table,
            features=parse_features(features),
            classifier=classifier,
            params=parse_params(param or []),
            protocol=protocol,
            n_folds=folds,
            seed=seed,
            cache=_cache(),
            hook=hook,
            augment=augment,
        )
    if output is not None:
        _write_safely(lambda target: write_report(report, target), output, what="report")
    report.pop("predictions", None)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _print_summary(report)
    if output is not None:
        out.print(f"Report written to {output}/ (report.json, predictions.csv, confusion.png)")


def _say_overwritten(names: list[str]) -> None:
    if names:
        err.print(f"--force: replacing {', '.join(names)}", highlight=False)


def _write_safely(write, output: Path, *, what: str) -> Path:
    """Write with ``write(folder)``; if that fails, write to a temporary folder instead and
    say where, so that work done is never lost to an output error."""
    import tempfile

    try:
        write(output)
        return output
    except OSError as exc:
        rescue = Path(tempfile.mkdtemp(prefix=f"emovox-{what}-"))
        write(rescue)
        raise EmovoxError(
            f"Could not write the {what} to '{output}' ({exc.strerror or exc}); it was saved "
            f"to '{rescue}' instead."
        ) from None


def _print_summary(report: dict) -> None:
    s = report["summary"]
    out.print(
        f"[bold]{report['model']['name']}[/bold] on [bold]{report['features']['name']}[/bold], "
        f"{report['protocol']}, {report['n_folds']} folds, {report['n_files']} files, "
        f"{report['n_speakers']} speakers, classes: {', '.join(report['classes'])}"
    )
    view = Table()
    for column in ("metric", "mean", "std (ddof=1)", "min", "max"):
        view.add_column(column, justify="right")
    for key, name in (("uar", "UAR"), ("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
        view.add_row(name, *[f"{s[key][k]:.3f}" for k in ("mean", "std", "min", "max")])
    out.print(view)
    if report["failures"]:
        err.print(f"[yellow]{len(report['failures'])} files could not be read (see report).")


# -- train -----------------------------------------------------------------------------
LabelsOpt = Annotated[
    str,
    typer.Option(
        "--labels",
        help="emotions (folder / manifest labels are emotion names) or custom (any class "
        "names, taken as written).",
    ),
]


@app.command()
def train(
    corpus: CorpusOpt,
    output: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write.")],
    data: DataOpt = None,
    policy: PolicyOpt = "drop",
    features: Annotated[
        str | None,
        typer.Option(
            "--features",
            "-f",
            help="mfcc_image, stats (the default), logmel, egemaps, whisper or JSON; with "
            "--from-default, the default model's.",
        ),
    ] = None,
    classifier: Annotated[
        str | None,
        typer.Option(
            "--classifier",
            help="rf, knn, svm (the default), logreg, mlp, seed_cnn, layer_logreg or "
            "whisper_head; not with --from-default.",
        ),
    ] = None,
    param: ParamOpt = None,  # type: ignore[assignment]
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    force: ForceOpt = False,
    augment: AugmentOpt = None,
    labels: LabelsOpt = "emotions",
    from_default: Annotated[
        bool,
        typer.Option(
            "--from-default",
            help="Learn from your clips on top of the bundled default model (new language, "
            "microphone or classes; a few dozen clips per class are enough).",
        ),
    ] = False,
    estimate: Annotated[
        bool | None,
        typer.Option(
            "--estimate/--no-estimate",
            help="Cross-validate on the training clips (by speaker when known) and report "
            "accuracy (default: with --from-default, or when every corpus is a folder or "
            "manifest of your own).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Train on whole corpora, or on your own labelled clips, and save a self-describing
    model folder (no pickle)."""
    from emovox.labels import check_label_mode
    from emovox.model_folder import OWNED
    from emovox.output import check_output_folder
    from emovox.training import train as run_training

    mode = check_label_mode(labels)
    if from_default and classifier is not None:
        raise ParameterError(
            "--from-default trains a head on the default model's; leave out --classifier."
        )
    _say_overwritten(check_output_folder(output, force=force, owned=OWNED, what="model"))
    table = _load_training_table(corpus, data, policy, mode)
    with _library_warnings(), _progress(not as_json) as hook:
        recognizer = run_training(
            table,
            features=None
            if features is None and from_default
            else parse_features(features or "stats"),
            classifier=classifier or "svm",
            params=parse_params(param or []),
            seed=seed,
            cache=_cache(),
            hook=hook,
            augment=augment,
            labels=mode,
            from_default=from_default or None,
            estimate=estimate,
        )
    training = recognizer.metadata.setdefault("training", {})
    if mode == "emotions":
        training["label_policy"] = policy
    saved = _write_safely(
        lambda target: recognizer.save(target, force=force),
        output,
        what="model",
    )
    report = training.get("estimate")
    plot = _plot_training_report(report, saved) if report is not None else None
    if plot is None and force:
        (saved / "confusion.png").unlink(missing_ok=True)  # not this model's
    if as_json:
        summary = {"model": str(saved), "labels": recognizer.labels, **training}
        if plot is not None:
            summary["confusion_png"] = str(plot)
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    base = " on top of the default model" if from_default else ""
    out.print(
        f"Saved {escape(str(saved))}{base}: {training['n_files']} files, classes "
        f"{escape(', '.join(recognizer.labels))}.",
        highlight=False,
        soft_wrap=True,
    )
    if report is not None:
        from emovox.training_report import report_lines

        for line in report_lines(report):
            out.print(escape(line), highlight=False, soft_wrap=True)
        if plot is not None:
            out.print(f"Confusion matrix plot: {escape(str(plot))}", highlight=False)
    for note in training.get("warnings", []):
        err.print(f"[yellow]warning:[/yellow] {escape(note)}", highlight=False)


def _load_training_table(corpus: list[str], data: Path | None, policy: str, labels: str):
    """The corpora to train on; with ``labels="custom"`` folder and manifest corpora keep
    their own class names."""
    import pandas as pd

    from emovox.corpora import load_corpus
    from emovox.errors import CorpusError

    if labels != "custom":
        return _load_table(corpus, data, policy)
    specs = parse_corpus_specs(corpus, data=data_dir(data))
    tables = [
        load_corpus(name, path, policy=policy, labels="custom")
        if name in ("folder", "manifest")
        else load_corpus(name, path, policy=policy)
        for name, path in specs
    ]
    table = pd.concat(tables, ignore_index=True)
    twice = table["path"].duplicated()
    if twice.any():
        raise CorpusError(
            f"{int(twice.sum())} file(s) would be loaded twice (e.g. "
            f"'{table.loc[twice, 'path'].iloc[0]}'); give each corpus folder once."
        )
    table["gender"] = table["gender"].astype(object).where(table["gender"].notna(), None)
    return table


def _plot_training_report(report: dict, folder: Path) -> Path | None:
    """The cross-validated confusion matrix as ``confusion.png`` in the model folder."""
    from emovox.training_report import plot_report

    try:
        return plot_report(report, folder / "confusion.png")
    except OSError:
        return None


# Commands kept in their own modules register themselves on `app` when imported here.
from emovox.interfaces import (  # noqa: E402, F401
    batch_command,
    listen_command,
    serve_command,
    timeline_command,
)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one readable line on stderr (not Python's file:line: and source line)."""
    err.print(f"[yellow]warning:[/yellow] {escape(str(message))}", highlight=False)


def main() -> None:
    """Entry point: run the app, turning emovox errors into one clear message."""
    warnings.showwarning = _show_warning
    try:
        app()
    except EmovoxError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
