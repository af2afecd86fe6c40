"""``emovox batch``: registered on the CLI's app when :mod:`emovox.interfaces.cli` imports it.

A thin layer over :func:`emovox.batch.dask_batch.predict_archive`: whole archives (a
folder, a glob or a manifest, local or at an fsspec URL) predicted on a Dask cluster into a
partitioned Parquet dataset, resumably. Without ``--scheduler`` it starts a local cluster
(one worker process per core). Options are judged, and the input listed, before a cluster
starts; a bad scheduler address is one clear error after ``--timeout`` seconds. Prints the
dashboard's address and a progress bar on stderr, then a summary (``--json``: one JSON
object on stdout). Exit code 1 when some files failed (their rows say why), 2 for an error.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

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


@app.command("batch")
def batch_command(
    source: Annotated[
        str,
        typer.Argument(
            help="A folder (its audio files, recursively), a glob (quote it: 'calls/**/*.flac') "
            "or a manifest (.csv or .parquet with a path column); local or an fsspec URL "
            "(s3://, gs://, file://).",
            show_default=False,
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Folder (or URL prefix) of the partitioned Parquet dataset to write; a rerun "
            "with the same --out computes only the parts not there yet.",
            show_default=False,
        ),
    ],
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Address of a running Dask scheduler (tcp://HOST:8786) or its scheduler file; "
            "default: a local cluster on this machine.",
        ),
    ] = None,
    timeline: Annotated[
        bool,
        typer.Option(
            "--timeline", help="One row per segment of speech (emotion over time), not per file."
        ),
    ] = False,
    window: Annotated[
        float, typer.Option(help="With --timeline: seconds per analysis window.")
    ] = DEFAULT_WINDOW,
    hop: Annotated[
        float | None,
        typer.Option(help="With --timeline: seconds between window starts (default: the window)."),
    ] = None,
    merge: Annotated[
        bool,
        typer.Option("--merge", help="With --timeline: join consecutive windows of one emotion."),
    ] = False,
    channels: Annotated[
        str, typer.Option(help="With --timeline: mix, or each (one timeline per channel).")
    ] = "mix",
    model: ModelFolderOpt = None,
    classes: ClassesOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Without --scheduler: local worker processes (default: one per core).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            help="Files per task and per part (default 32; 8 with --timeline); a rerun must "
            "use the same.",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the scheduler to answer.")
    ] = 10.0,
    as_json: JsonOpt = False,
) -> None:
    """Predict whole archives on a Dask cluster into a partitioned Parquet dataset,
    resumably: one row per file, or per segment with --timeline."""
    from emovox.batch.dask_batch import predict_archive

    def log(message: str) -> None:
        if not as_json:
            err.print(escape(message), highlight=False, soft_wrap=True)

    with _progress(not as_json) as hook:
        summary = predict_archive(
            source,
            output,
            scheduler=scheduler,
            timeline=timeline,
            window=window,
            hop=hop,
            merge=merge,
            channels=channels,
            model=model,
            classes=classes,
            workers=workers,
            batch_size=batch_size,
            hook=hook,
            log=log,
            connect_timeout=timeout,
        )
    for note in summary.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    if as_json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        rate = summary.files_per_second
        speed = f" ({rate:.1f} files/s on {summary.workers} worker(s))" if rate else ""
        rows = f", {summary.rows} segment rows" if summary.mode == "timeline" else ""
        out.print(
            f"{summary.files} files in {escape(summary.output)} ({summary.parts} parts{rows}): "
            f"{summary.processed} predicted now{speed}, {summary.skipped} already there; "
            f"{summary.failed} failed.",
            highlight=False,
            soft_wrap=True,
        )
        shown = 10
        for source_, error in summary.failures[:shown]:
            err.print(f"[red]{escape(source_)}[/red]: {escape(error)}", highlight=False)
        more = summary.failed - min(shown, len(summary.failures))
        if more > 0:
            err.print(f"{more} more failed: rows with status 'error' in {escape(summary.output)}.")
    if summary.failed:
        raise typer.Exit(1)
