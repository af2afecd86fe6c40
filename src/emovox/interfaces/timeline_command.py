"""``emovox timeline``: registered on the CLI's app when :mod:`emovox.interfaces.cli` imports it.

A thin layer over :meth:`emovox.Recognizer.timeline`: options are judged (window, hop,
channels, classes, the ``--out`` and ``--plot`` files) before the model loads or any audio
is read; each file then gives a timeline or a failure, and the rest go on (exit code 1 if
any failed). A file that breaks part way is analysed up to the break, with a warning
(exit code 0: there is a result). Output: a table and a summary per file (share of speech
time per emotion and channel) by default; ``--json`` prints one object per file
(``status``, ``source``, ``duration``, ``channels``, ``warnings``, ``summary``, ``rows``)
as ``predict --json`` prints one per file; ``--out`` writes every row of every file as
one flat table (``file, start, end, channel, label, confidence, p_<class>...``) to CSV,
JSON (records) or Parquet; ``--plot`` draws each file's timeline (:mod:`emovox.timeline_plot`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from emovox.errors import EmovoxError, ParameterError
from emovox.interfaces.cli import (
    ClassesOpt,
    JsonOpt,
    ModelFolderOpt,
    _progress,
    app,
    err,
    escape,
    out,
)
from emovox.segmentation.windows import DEFAULT_WINDOW

OUT_FORMATS = (".csv", ".json", ".parquet")
PLOT_FORMATS = (".png", ".svg", ".pdf")


@app.command("timeline")
def timeline_command(
    files: Annotated[
        list[str],
        typer.Argument(help="Recordings of any length; - reads one from standard input."),
    ],
    window: Annotated[
        float,
        typer.Option(
            help="Seconds per analysis window: speech is cut into equal windows of 0.75-1.5 "
            "times this (shorter speech is one window)."
        ),
    ] = DEFAULT_WINDOW,
    hop: Annotated[
        float | None,
        typer.Option(help="Seconds between window starts (default: the window, no overlap)."),
    ] = None,
    merge: Annotated[
        bool, typer.Option("--merge", help="Join consecutive windows of one emotion.")
    ] = False,
    channels: Annotated[
        str,
        typer.Option(
            help="mix (average the channels) or each (one timeline per channel, e.g. the "
            "two sides of a stereo call)."
        ),
    ] = "mix",
    classes: ClassesOpt = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write every row to a .csv, .json or .parquet file."),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Draw emotion over time into this .png (.svg, .pdf); with several files, "
            "one picture each, named PLOT-STEM.png.",
        ),
    ] = None,
    model: ModelFolderOpt = None,
    as_json: JsonOpt = False,
    adapt: Annotated[
        bool,
        typer.Option(
            "--adapt",
            help="Adapt each channel to its own speaker from the recording itself (with "
            "--channels each: each side of a call); best with a minute or more of speech.",
        ),
    ] = False,
) -> None:
    """Emotion over time in long recordings: speech found, cut into windows, each predicted."""
    from emovox.audio.stream import check_channels
    from emovox.recognizer import Failure, Recognizer
    from emovox.segmentation.windows import check_windows
    from emovox.timeline import Envelope

    if not files:
        raise ParameterError("Give one or more audio files (- for standard input).")
    if files.count("-") > 1:
        raise ParameterError("Standard input (-) can be read once only.")
    check_windows(window, hop)
    check_channels(channels)
    if output is not None:
        _check_file(output, OUT_FORMATS, "--out")
        if output.suffix.lower() == ".parquet":
            _need_parquet()
    plots = _plot_paths(plot, files) if plot is not None else {}
    recognizer = Recognizer.load(model)
    chosen = recognizer.check_classes(classes)
    if adapt:
        recognizer.require_adaptation()

    results: list[tuple[str, Any]] = []
    envelopes: dict[str, Envelope] = {}
    with _progress(not as_json) as hook:
        for file in files:
            envelope = Envelope() if file in plots else None
            try:
                frame = recognizer.timeline(
                    file,
                    window=window,
                    hop=hop,
                    merge=merge,
                    channels=channels,
                    classes=chosen,
                    hook=hook,
                    envelope=envelope,
                    adapt=adapt,
                )
            except EmovoxError as exc:
                results.append((file, Failure.from_error(file, exc)))
                continue
            results.append((file, frame))
            if envelope is not None:
                envelopes[file] = envelope

    for file, result in results:
        if file in plots and not isinstance(result, Failure):
            _plot(result, plots[file], envelopes.get(file), file)
    if output is not None:
        frames = [(f, r) for f, r in results if not isinstance(r, Failure)]
        _write_rows(frames, output, labels=chosen or recognizer.labels)
    if as_json:
        print(json.dumps([_to_json(file, result) for file, result in results], indent=2))
    else:
        for file, result in results:
            if isinstance(result, Failure):
                err.print(f"[red]{escape(file)}[/red]: {escape(result.error)}", highlight=False)
            else:
                _show(file, result)
    for file, result in results:
        if not isinstance(result, Failure):
            for warning in result.attrs.get("warnings", []):
                err.print(
                    f"[yellow]warning:[/yellow] {escape(file)}: {escape(warning)}", highlight=False
                )
    if output is not None and not as_json:
        err.print(f"Rows written to {escape(str(output))}", highlight=False)
    if any(isinstance(r, Failure) for _, r in results):
        raise typer.Exit(1)


# -- judging the output files before any work ------------------------------------------
def _check_file(path: Path, formats: tuple[str, ...], option: str) -> None:
    if path.suffix.lower() not in formats:
        raise ParameterError(
            f"{option} '{path}' must end in {', '.join(formats)} (the format is taken from it)."
        )
    if path.is_dir():
        raise ParameterError(f"{option} '{path}' is a folder; give a file name.")
    folder = path.expanduser().absolute().parent
    if not folder.is_dir():
        raise ParameterError(f"{option}: the folder '{folder}' does not exist; create it first.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(f"{option}: cannot write in '{folder}'.")


def _need_parquet() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ParameterError(
            "Writing Parquet needs pyarrow (pip install pyarrow); or write .csv or .json."
        ) from None


def _plot_paths(plot: Path, files: list[str]) -> dict[str, Path]:
    _check_file(plot, PLOT_FORMATS, "--plot")
    if len(files) == 1:
        return {files[0]: plot}
    paths: dict[str, Path] = {}
    for i, file in enumerate(files, start=1):
        stem = "stdin" if file == "-" else Path(file).stem
        candidate = plot.with_name(f"{plot.stem}-{stem}{plot.suffix}")
        if candidate in paths.values():
            candidate = plot.with_name(f"{plot.stem}-{i}-{stem}{plot.suffix}")
        paths[file] = candidate
    return paths


# -- writing -----------------------------------------------------------------------------
def _flat(frames: list[tuple[str, Any]], labels: list[str]):
    """Every row of every file as one table: file, start, end, channel, label, ..."""
    import pandas as pd

    from emovox.timeline import empty_timeline

    columns = ["file", "start", "end", "channel", "label", "confidence"]
    columns += [f"p_{k}" for k in labels]
    parts = []
    for file, frame in frames:
        flat = frame.reset_index()
        flat.insert(0, "file", file)
        parts.append(flat)
    if not parts:
        parts.append(empty_timeline(labels).reset_index().assign(file=[]))
    table = pd.concat(parts, ignore_index=True)
    table.attrs = {}
    return table[columns]


def _write_rows(frames: list[tuple[str, Any]], path: Path, *, labels: list[str]) -> None:
    """Write the rows next to ``path`` first, then move them into place (no half files)."""
    table = _flat(frames, labels)
    suffix = path.suffix.lower()
    folder = path.expanduser().absolute().parent
    handle, staged = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    os.close(handle)
    try:
        if suffix == ".csv":
            table.to_csv(staged, index=False)
        elif suffix == ".json":
            table.to_json(staged, orient="records", indent=1)
        else:
            table.to_parquet(staged, index=False)
        os.replace(staged, path)
    except OSError as exc:
        raise EmovoxError(
            f"Could not write the rows to '{path}' ({exc.strerror or exc})."
        ) from None
    finally:
        if os.path.exists(staged):
            os.unlink(staged)


def _plot(frame: Any, path: Path, envelope: Any, file: str) -> None:
    from emovox.timeline_plot import plot_timeline

    name = "standard input" if file == "-" else Path(file).name
    merged = ", merged" if frame.attrs.get("merged") else ""
    title = f"{name}: {frame.attrs['window']:g} s windows{merged}"
    try:
        plot_timeline(frame, path, envelope=envelope, title=title)
    except OSError as exc:
        raise EmovoxError(
            f"Could not write the picture '{path}' ({exc.strerror or exc})."
        ) from None
    err.print(f"Picture written to {escape(str(path))}", highlight=False)


# -- showing -----------------------------------------------------------------------------
def _to_json(file: str, result: Any) -> dict[str, Any]:
    from emovox.recognizer import Failure
    from emovox.timeline import summary, timeline_records

    if isinstance(result, Failure):
        return result.to_dict()
    attrs = result.attrs
    shares = summary(result)
    return {
        "status": "ok",
        "source": file,
        "duration": attrs.get("duration"),
        "channels": attrs.get("channels"),
        "window": attrs.get("window"),
        "hop": attrs.get("hop"),
        "merged": attrs.get("merged"),
        "model": attrs.get("model"),
        "skipped_speech": attrs.get("skipped_speech"),
        "adapted": dict(attrs.get("adapted", {})),
        "warnings": list(attrs.get("warnings", [])),
        "summary": {
            str(channel): {
                "speech": float(row["speech"]),
                "shares": {k: float(v) for k, v in row.drop("speech").items()},
            }
            for channel, row in shares.iterrows()
        },
        "rows": timeline_records(result),
    }


def _clock(seconds: float, long: bool) -> str:
    minutes, secs = divmod(float(seconds), 60)
    if long:
        hours, minutes = divmod(int(minutes), 60)
        return f"{hours}:{minutes:02d}:{secs:04.1f}"
    return f"{int(minutes)}:{secs:04.1f}"


def _show(file: str, frame: Any) -> None:
    from emovox.timeline import summary

    attrs = frame.attrs
    duration = float(attrs.get("duration") or 0.0)
    long = duration >= 3600
    labels = [c[2:] for c in frame.columns if c.startswith("p_")]
    several = len(attrs.get("channels", [])) > 1
    what = "segments" if attrs.get("merged") else "windows"
    table = Table(
        title=f"{escape(file)}: {_clock(duration, long)} long, {len(frame)} {what} of speech",
        title_justify="left",
    )
    table.add_column("start", justify="right", no_wrap=True)
    table.add_column("end", justify="right", no_wrap=True)
    if several:
        table.add_column("channel", no_wrap=True)
    table.add_column("emotion", style="bold", no_wrap=True)
    table.add_column("p", justify="right", no_wrap=True)
    table.add_column("then", style="dim", no_wrap=True)
    columns = [f"p_{k}" for k in labels]
    probabilities = frame[columns].to_numpy() if not frame.empty else None
    for i, ((start, end), row) in enumerate(
        zip(frame.index, frame.itertuples(index=False), strict=True)
    ):
        cells = [_clock(start, long), _clock(end, long)]
        if several:
            cells.append(row.channel)
        second = int(probabilities[i].argsort()[-2]) if len(labels) > 1 else 0
        cells += [row.label, f"{row.confidence:.2f}"]
        cells.append(f"{labels[second]} {probabilities[i, second]:.2f}" if len(labels) > 1 else "")
        table.add_row(*cells)
    if frame.empty:
        out.print(f"{escape(file)}: no speech found ({_clock(duration, long)} of audio).")
        return
    out.print(table)
    shares = summary(frame)
    view = Table(title="share of speech time per emotion", title_justify="left")
    view.add_column("channel")
    view.add_column("speech", justify="right")
    for label in labels:
        view.add_column(label, justify="right")
    for channel, row in shares.iterrows():
        cells = [str(channel), f"{row['speech']:.1f} s"]
        best = max(labels, key=lambda k: row[k])
        for label in labels:
            text = f"{100 * row[label]:.0f}%"
            cells.append(f"[bold]{text}[/bold]" if label == best else text)
        view.add_row(*cells)
    out.print(view)
