"""``emovox serve``: the HTTP API and web page (:mod:`emovox.interfaces.http`) under uvicorn.

Registered on the CLI's app when :mod:`emovox.interfaces.cli` imports it. Options are
judged and the model is loaded before the server starts, so a bad value or model folder
is one clear error (exit code 2), not a server that never becomes ready.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from emovox.interfaces.cli import ModelFolderOpt, app, err


@app.command("serve")
def serve_command(
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; 0.0.0.0 exposes the server to the network."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    model: ModelFolderOpt = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            help="Require this key on /v1/* (Authorization: Bearer KEY or X-API-Key: KEY); "
            "default: $EMOVOX_API_KEY, else no key.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Requests processed at the same time.")] = 1,
    queue: Annotated[
        int, typer.Option(help="Requests allowed to wait for a worker; beyond, 503.")
    ] = 8,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload, in MiB.")] = 20.0,
    max_seconds: Annotated[
        float, typer.Option(help="Longest audio for /v1/predict, in seconds.")
    ] = 60.0,
    max_timeline_seconds: Annotated[
        float, typer.Option(help="Longest audio for /v1/timeline, in seconds.")
    ] = 3600.0,
    timeout: Annotated[float, typer.Option(help="Seconds a request may take before 504.")] = 120.0,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Allow this browser origin (repeatable); default: no CORS."),
    ] = None,
) -> None:
    """Serve the HTTP API (documented at /docs) and the web page at /."""
    import uvicorn

    from emovox.errors import ParameterError
    from emovox.interfaces.http import Settings, create_app
    from emovox.recognizer import Recognizer

    if not (max_upload_mb > 0 and max_upload_mb * 2**20 < 2**40):
        raise ParameterError(f"--max-upload-mb must be a positive size, got {max_upload_mb!r}.")
    settings = Settings(
        host=host,
        port=port,
        model=model,
        api_key=api_key if api_key is not None else os.environ.get("EMOVOX_API_KEY") or None,
        workers=workers,
        queue=queue,
        max_upload_bytes=int(max_upload_mb * 2**20),
        max_seconds=max_seconds,
        max_timeline_seconds=max_timeline_seconds,
        timeout=timeout,
        cors_origins=tuple(cors_origin or ()),
    )
    recognizer = Recognizer.load(model)
    if host not in ("127.0.0.1", "localhost", "::1") and settings.api_key is None:
        err.print(f"[yellow]warning:[/yellow] listening on {host} without an API key.")
    uvicorn.run(
        create_app(model=recognizer, settings=settings),
        host=host,
        port=port,
        limit_concurrency=max(64, 4 * (workers + queue)),
        timeout_keep_alive=5,
        log_level="info",
    )
