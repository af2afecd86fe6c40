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
) -> None:
    """Predict the emotion of recordings, printing every class probability; with --out,
    of whole folders into a CSV or Parquet file, resumably."""
    from emovox.recognizer import Failure, Recognizer

    if output is not None:
        if record:
            raise ParameterError("--record and --out do not go together; record, then predict.")
        _predict_batch(
            files or [],
            output=output,
            model=model,
            jobs=jobs,
            classes=classes,
            batch_size=batch_size,
            force=force,
            as_json=as_json,
        )
        return
    if jobs is not None or batch_size is not None or force:
        raise ParameterError(
            "--jobs, --batch-size and --force are for a batch written to a file: add "
            "--out results.csv (or .parquet)."
        )
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
    with _progress(not as_json and len(sources) > 3) as hook:
        results = recognizer.predict_files(sources, classes=chosen, hook=hook)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        folder, names = _short_names([r.source or "" for r in results])
        out.print(_predictions_table(results, names, labels, folder=folder))
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
    table.add_column("file", overflow="fold", min_width=10)
    table.add_column("emotion", style="bold")
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
@app.command()
def train(
    corpus: CorpusOpt,
    output: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write.")],
    data: DataOpt = None,
    policy: PolicyOpt = "drop",
    features: FeaturesOpt = "stats",
    classifier: ClassifierOpt = "svm",
    param: ParamOpt = None,  # type: ignore[assignment]
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    force: ForceOpt = False,
    augment: AugmentOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train on whole corpora and save a self-describing model folder (no pickle)."""
    from emovox.model_folder import OWNED
    from emovox.output import check_output_folder
    from emovox.recognizer import Recognizer

    _say_overwritten(check_output_folder(output, force=force, owned=OWNED, what="model"))
    table = _load_table(corpus, data, policy)
    with _library_warnings(), _progress(not as_json) as hook:
        recognizer = Recognizer.train(
            table,
            features=parse_features(features),
            classifier=classifier,
            params=parse_params(param or []),
            seed=seed,
            cache=_cache(),
            hook=hook,
            augment=augment,
        )
    recognizer.metadata.setdefault("training", {})["label_policy"] = policy
    saved = _write_safely(
        lambda target: recognizer.save(target, force=force),
        output,
        what="model",
    )
    training = recognizer.metadata["training"]
    if as_json:
        print(json.dumps({"model": str(saved), "labels": recognizer.labels, **training}, indent=2))
    else:
        out.print(f"Saved {saved}: {training['n_files']} files, classes {recognizer.labels}.")


# Commands kept in their own modules register themselves on `app` when imported here.
from emovox.interfaces import listen_command, serve_command, timeline_command  # noqa: E402, F401


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
