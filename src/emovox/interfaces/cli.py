"""The ``emovox`` command line: a thin layer over :class:`emovox.Recognizer`.

Every command prints a person-readable table by default and JSON with ``--json``.
Errors that emovox raises on purpose are printed as one message (exit code 2); a batch
in which some files failed still prints every result and exits with code 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from emovox.errors import EmovoxError
from emovox.interfaces.options import data_dir, parse_corpus_specs, parse_features, parse_params

app = typer.Typer(
    name="emovox",
    help="Speech emotion recognition: predict, record, train and evaluate (offline, CPU).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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
ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="rf, knn, svm, logreg, mlp or seed_cnn.")
]
ParamOpt = Annotated[
    list[str], typer.Option("--param", "-p", help="Model parameter key=value. Repeatable.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
AugmentOpt = Annotated[
    str | None,
    typer.Option(
        help="Augment training audio: speed, speed+light-noise (the default model's), "
        "speed-wide, noise or speed+noise."
    ),
]


def _load_table(corpus: list[str], data: Path | None, policy: str):
    from emovox.corpora import load_corpora

    specs = parse_corpus_specs(corpus, data=data_dir(data))
    return load_corpora(specs, policy=policy)


def _cache():
    from emovox.features import FeatureCache

    return FeatureCache()


@app.command()
def predict(
    files: Annotated[list[Path] | None, typer.Argument(help="Audio files.")] = None,
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Model folder (default: bundled model).")
    ] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Record from the microphone first.")
    ] = False,
    duration: Annotated[float, typer.Option(help="Seconds to record with --record.")] = 3.0,
    device: Annotated[str | None, typer.Option(help="Input device index or name.")] = None,
    classes: Annotated[
        str | None,
        typer.Option(
            help="Only these classes, comma-separated (e.g. anger,happy,sad,neutral): "
            "their probabilities, renormalised."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Predict the emotion of recordings, printing every class probability."""
    from emovox.recognizer import FileFailure, Recognizer

    recognizer = Recognizer.load(model)
    chosen = None if classes is None else [c for c in classes.split(",") if c.strip()]
    labels = recognizer.check_classes(chosen) or recognizer.labels
    sources: list[Path] = list(files or [])
    if record:
        sources.append(_record_to_temp(duration=duration, device=device))
    if not sources:
        raise EmovoxError("Give one or more audio files, or --record.")
    results = recognizer.predict_files(sources, classes=chosen)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        table = Table(title="emovox predictions")
        table.add_column("file", overflow="fold")
        table.add_column("emotion", style="bold")
        for label in labels:
            table.add_column(label[:5], justify="right")
        for r in results:
            if isinstance(r, FileFailure):
                table.add_row(Path(r.source).name, "[red]error[/red]", *[""] * len(labels))
            else:
                probs = [f"{r.probabilities[label]:.2f}" for label in labels]
                table.add_row(Path(r.source or "").name, r.label, *probs)
        out.print(table)
        for r in results:
            if isinstance(r, FileFailure):
                err.print(f"[red]{r.source}[/red]: {r.error}")
    if any(isinstance(r, FileFailure) for r in results):
        raise typer.Exit(1)


def _record_to_temp(*, duration: float, device: str | None) -> Path:
    import tempfile

    from emovox.audio.record import record as capture
    from emovox.audio.record import save_wav

    err.print(f"Recording {duration:.1f} s ... speak now.")
    signal = capture(duration=duration, device=_device(device))
    path = Path(tempfile.mkdtemp(prefix="emovox-")) / "recording.wav"
    save_wav(path, signal)
    return path


def _device(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


@app.command("record")
def record_command(
    output: Annotated[Path | None, typer.Argument(help="WAV file to write.")] = None,
    duration: Annotated[float, typer.Option(help="Seconds to record.")] = 3.0,
    rate: Annotated[int, typer.Option(help="Sample rate in Hz.")] = 16_000,
    device: Annotated[str | None, typer.Option(help="Input device index or name.")] = None,
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
        raise EmovoxError("Give the WAV file to write, e.g. `emovox record me.wav`.")
    err.print(f"Recording {duration:.1f} s at {rate} Hz ... speak now.")
    signal = record(duration=duration, sample_rate=rate, device=_device(device))
    save_wav(output, signal, sample_rate=rate)
    if as_json:
        print(json.dumps({"path": str(output), "seconds": signal.size / rate, "sample_rate": rate}))
    else:
        out.print(f"Wrote {output} ({signal.size / rate:.2f} s).")


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


@app.command()
def evaluate(
    corpus: CorpusOpt,
    data: DataOpt = None,
    policy: PolicyOpt = "drop",
    features: FeaturesOpt = "stats",
    model: ModelOpt = "svm",
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
    augment: AugmentOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a feature/model pair; speaker-independent folds unless told otherwise."""
    from emovox.evaluation.experiment import evaluate as run
    from emovox.evaluation.report import write_report

    table = _load_table(corpus, data, policy)
    report = run(
        table,
        features=parse_features(features),
        model=model,
        model_params=parse_params(param or []),
        protocol=protocol,
        n_folds=folds,
        seed=seed,
        cache=_cache(),
        progress=not as_json,
        augment=augment,
    )
    if output is not None:
        write_report(report, output)
    report.pop("predictions", None)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _print_summary(report)
    if output is not None:
        out.print(f"Report written to {output}/ (report.json, predictions.csv, confusion.png)")


def _print_summary(report: dict) -> None:
    s = report["summary"]
    out.print(
        f"[bold]{report['model']['name']}[/bold] on [bold]{report['features']['name']}[/bold], "
        f"{report['protocol']}, {report['n_folds']} folds, {report['n_files']} files, "
        f"{report['n_speakers']} speakers, classes: {', '.join(report['classes'])}"
    )
    view = Table()
    for column in ("metric", "mean", "std", "min", "max"):
        view.add_column(column, justify="right")
    for key, name in (("uar", "UAR"), ("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
        view.add_row(name, *[f"{s[key][k]:.3f}" for k in ("mean", "std", "min", "max")])
    out.print(view)
    if report["failures"]:
        err.print(f"[yellow]{len(report['failures'])} files could not be read (see report).")


@app.command()
def train(
    corpus: CorpusOpt,
    output: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write.")],
    data: DataOpt = None,
    policy: PolicyOpt = "drop",
    features: FeaturesOpt = "stats",
    model: ModelOpt = "svm",
    param: ParamOpt = None,  # type: ignore[assignment]
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    augment: AugmentOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train on whole corpora and save a self-describing model folder (no pickle)."""
    from emovox.recognizer import Recognizer

    table = _load_table(corpus, data, policy)
    recognizer = Recognizer.train(
        table,
        features=parse_features(features),
        model=model,
        model_params=parse_params(param or []),
        seed=seed,
        cache=_cache(),
        progress=not as_json,
        augment=augment,
    )
    recognizer.metadata.setdefault("training", {})["label_policy"] = policy
    recognizer.save(output)
    training = recognizer.metadata["training"]
    if as_json:
        print(json.dumps({"model": str(output), "labels": recognizer.labels, **training}, indent=2))
    else:
        out.print(f"Saved {output}: {training['n_files']} files, classes {recognizer.labels}.")


def main() -> None:
    """Entry point: run the app, turning emovox errors into one clear message."""
    try:
        app()
    except EmovoxError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
