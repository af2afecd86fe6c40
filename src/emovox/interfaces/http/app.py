"""The HTTP API: a thin FastAPI layer over :class:`emovox.Recognizer`.

``create_app(settings=Settings(...))`` builds the app; its lifespan loads the model once at
start-up (never at import), in the background so that ``/healthz`` answers at once and
``/readyz`` says 503 until the model is there. Every request goes: API key (401) ->
readiness (503) -> content type (415) -> query values (422) -> size (413, from
Content-Length and while reading) -> a slot in the bounded :class:`WorkPool` (503 with
Retry-After at once when full) -> the model, off the event loop (504 past the timeout).

Errors always answer ``{"error": {"code", "message"}}``: one handler maps
:class:`~emovox.errors.EmovoxError` types to 4xx as the CLI maps them to exit code 2
(:data:`ERROR_STATUS`). Uploads are held in memory (bounded) and never written to disk.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from emovox.errors import AudioError, EmovoxError, ModelError, ParameterError
from emovox.interfaces.http.pool import WorkPool

STATIC = Path(__file__).resolve().parents[1] / "static"
"""The web page's files (index.html, app.js, style.css), served at / and /static."""

API_KEY_ENV = "EMOVOX_API_KEY"

RAW_TYPES = ("application/octet-stream", "application/ogg")
"""Content types, besides ``audio/*``, accepted as a raw audio body."""

MULTIPART_OVERHEAD = 64 << 10
"""Bytes allowed on top of ``max_upload_bytes`` for a multipart body's headers and boundaries."""

ERROR_STATUS: dict[type[EmovoxError], tuple[int, str]] = {
    AudioError: (400, "bad_audio"),
    ParameterError: (400, "bad_parameter"),
    ModelError: (422, "unknown_class"),
}
"""HTTP status and error code of each emovox error type (others: 400 ``bad_request``)."""

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "bad_query",
    503: "unavailable",
    504: "timeout",
}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """How the server runs. Sizes in bytes, times in seconds."""

    host: str = "127.0.0.1"
    port: int = 8000
    model: Path | None = None
    """Model folder; None: the bundled default model."""
    api_key: str | None = None
    """Required on /v1/* as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` when set."""
    max_upload_bytes: int = 20 << 20
    max_seconds: float = 60.0
    """Longest audio accepted by /v1/predict."""
    max_timeline_seconds: float = 3600.0
    """Longest audio accepted by /v1/timeline."""
    timeout: float = 120.0
    """Seconds a request waits for its answer (queue and model work) before a 504."""
    workers: int = 1
    queue: int = 8
    """Requests allowed to wait for a worker; beyond it, 503 at once."""
    retry_after: int = 1
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    """Origins allowed by CORS; empty: no CORS headers at all."""

    def __post_init__(self) -> None:
        def positive(name: str, value: object, kind: type = float) -> None:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value <= 0 or (kind is int and value % 1):
                raise ParameterError(f"{name} must be a positive number, got {value!r}.")

        for name in ("max_seconds", "max_timeline_seconds", "timeout"):
            positive(name, getattr(self, name))
        for name in ("max_upload_bytes", "workers", "retry_after"):
            positive(name, getattr(self, name), int)
        if not (isinstance(self.queue, int) and self.queue >= 0):
            raise ParameterError(f"queue must be a whole number >= 0, got {self.queue!r}.")
        if not (isinstance(self.port, int) and 0 <= self.port <= 65535):
            raise ParameterError(f"port must be 0-65535, got {self.port!r}.")
        if self.api_key is not None and not self.api_key.strip():
            raise ParameterError("The API key must not be empty.")
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))


class ApiError(Exception):
    """An HTTP error answered as ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


# -- the documented shapes (OpenAPI at /docs) -------------------------------------------
class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class PredictAnswer(BaseModel):
    label: str
    confidence: float
    probabilities: dict[str, float]
    duration: float
    speech: bool | None
    head: str = "unadapted"
    """Which head answered: ``unadapted``, or ``adapted`` to a speaker."""
    adapted: int = 0
    """Utterances of the speaker the answer was adapted to (0: not adapted)."""
    warnings: list[str]
    model: str


class TimelineRow(BaseModel):
    start: float
    end: float
    channel: str
    label: str
    confidence: float
    probabilities: dict[str, float]
    adapted: int = 0
    """With ``adapt=true``: the windows of this channel the answer was adapted to."""


class ChannelSummary(BaseModel):
    speech: float
    """Seconds of speech analysed on this channel."""
    shares: dict[str, float]
    """Fraction of that speech time per emotion (sums to 1 when there is speech)."""


class TimelineAnswer(BaseModel):
    model: str
    duration: float
    rows: list[TimelineRow]
    summary: dict[str, ChannelSummary]
    warnings: list[str]


class ModelInfo(BaseModel):
    id: str
    labels: list[str]
    features: dict[str, Any]
    default: bool


class Status(BaseModel):
    status: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": STATUS_CODES[code]} for code in codes}


AUDIO_BODY = {
    "requestBody": {
        "required": True,
        "description": "One recording: a multipart form with the field `file`, or the raw "
        "bytes of the file (WAV, FLAC, OGG, ... anything libsndfile decodes).",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "audio/wav": {"schema": {"type": "string", "format": "binary"}},
            "audio/flac": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

CLASSES_HELP = "Only these classes, comma-separated (e.g. anger,happy,sad,neutral)."


# -- the app ------------------------------------------------------------------------------
def create_app(*, model: Any = None, settings: Settings | None = None) -> FastAPI:
    """The API (and the web page) over ``model`` (a loaded :class:`~emovox.Recognizer`);
    None loads ``settings.model`` (or the bundled default) in the lifespan's start-up."""
    settings = Settings() if settings is None else settings
    state: dict[str, Any] = {"model": model, "load_error": None, "pool": None}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["pool"] = WorkPool(workers=settings.workers, queue=settings.queue)
        loading = None
        if state["model"] is None:
            loading = asyncio.create_task(asyncio.to_thread(_load, settings.model, state))
        try:
            yield
        finally:
            if loading is not None and not loading.done():
                loading.cancel()
            state["pool"].shutdown()

    app = FastAPI(
        title="emovox",
        summary="Speech emotion recognition over HTTP.",
        description="The emotion of a clip, or emotion over time in a longer recording. "
        'Every error answers `{"error": {"code": ..., "message": ...}}`.',
        lifespan=lifespan,
    )
    _add_error_handlers(app)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["Retry-After"],
        )

    def ready_model() -> Any:
        if state["model"] is None:
            why = state["load_error"] or "The model is still loading; try again shortly."
            raise ApiError(
                503, "unavailable", why, headers={"Retry-After": str(settings.retry_after)}
            )
        return state["model"]

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(_key_check(settings))])

    @v1.post(
        "/predict",
        response_model=PredictAnswer,
        openapi_extra=AUDIO_BODY,
        responses=_errors(400, 401, 413, 415, 422, 503, 504),
        summary="The emotion of one clip",
    )
    async def predict(
        request: Request, classes: str | None = Query(None, description=CLASSES_HELP)
    ) -> dict[str, Any]:
        recognizer = ready_model()
        _query(recognizer.check_classes, classes)
        data = await _read_audio(request, settings)
        _check_seconds(data, settings.max_seconds)
        result = await _run(state["pool"], settings, recognizer.predict, data, classes=classes)
        answer = result.to_dict()
        answer = {k: answer[k] for k in PredictAnswer.model_fields if k in answer}
        return {**answer, "model": recognizer.model_id}

    @v1.post(
        "/timeline",
        response_model=TimelineAnswer,
        openapi_extra=AUDIO_BODY,
        responses=_errors(400, 401, 413, 415, 422, 503, 504),
        summary="Emotion over time in a longer recording",
    )
    async def timeline(
        request: Request,
        window: float = Query(3.0, description="Seconds per analysis window."),
        hop: float | None = Query(None, description="Seconds between windows (default: window)."),
        merge: bool = Query(False, description="Join consecutive windows of one emotion."),
        channels: str = Query("mix", description="mix, or each (one timeline per channel)."),
        classes: str | None = Query(None, description=CLASSES_HELP),
        adapt: bool = Query(
            False, description="Adapt each channel to its own speaker from the recording."
        ),
    ) -> dict[str, Any]:
        from emovox.audio.stream import check_channels
        from emovox.segmentation.windows import check_windows

        recognizer = ready_model()
        _query(recognizer.check_classes, classes)
        _query(check_windows, window, hop)
        _query(check_channels, channels)
        if adapt and not recognizer.can_adapt:
            raise ApiError(422, "cannot_adapt", "This model cannot adapt to a speaker.")
        data = await _read_audio(request, settings)
        _check_seconds(data, settings.max_timeline_seconds)
        frame = await _run(
            state["pool"],
            settings,
            recognizer.timeline,
            data,
            window=window,
            hop=hop,
            merge=merge,
            channels=channels,
            classes=classes,
            adapt=adapt,
        )
        return _timeline_answer(frame, recognizer)

    @v1.get("/models", response_model=list[ModelInfo], responses=_errors(401, 503))
    async def models() -> list[dict[str, Any]]:
        recognizer = ready_model()
        info = {
            "id": recognizer.model_id,
            "labels": list(recognizer.labels),
            "features": dict(recognizer.features),
            "default": settings.model is None,
        }
        return [info]

    app.include_router(v1)

    @app.get("/healthz", response_model=Status, summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz", response_model=Status, responses=_errors(503), summary="The model is loaded"
    )
    async def readyz() -> dict[str, str]:
        ready_model()
        return {"status": "ready"}

    @app.get("/", include_in_schema=False, response_model=None)
    async def page() -> FileResponse | HTMLResponse:
        index = STATIC / "index.html"
        if index.is_file():
            return FileResponse(index, media_type="text/html")
        return HTMLResponse(
            "<!doctype html><title>emovox</title><p>emovox is running, but the web page "
            "is not installed (no index.html). The API is documented at "
            '<a href="/docs">/docs</a>.</p>'
        )

    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.emovox = state
    return app


def _load(folder: Path | None, state: dict[str, Any]) -> None:
    from emovox.recognizer import Recognizer

    try:
        state["model"] = Recognizer.load(folder)
    except EmovoxError as exc:
        state["load_error"] = f"The model could not be loaded: {exc}"


def _key_check(settings: Settings):
    """A dependency refusing (401) a request without the API key, when one is set."""
    expected = settings.api_key or os.environ.get(API_KEY_ENV) or None

    async def check(request: Request) -> None:
        if expected is None:
            return
        given = request.headers.get("x-api-key")
        if given is None:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else None
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(
                401,
                "unauthorized",
                "Missing or wrong API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


def _query(check: Any, *args: Any) -> None:
    """Run a core check on query values; its error is the client's query (422)."""
    try:
        check(*args)
    except ModelError as exc:
        raise ApiError(422, "unknown_class", str(exc)) from None
    except EmovoxError as exc:
        raise ApiError(422, "bad_query", str(exc)) from None


async def _read_audio(request: Request, settings: Settings) -> bytes:
    """The uploaded file's bytes: a multipart field ``file`` or a raw audio body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    multipart = media == "multipart/form-data"
    if not (multipart or media.startswith("audio/") or media in RAW_TYPES):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Send audio as multipart/form-data (field 'file') or as a raw body with an "
            f"audio content type (audio/wav, audio/flac, application/octet-stream, ...), "
            f"not {media or 'no content type'!r}.",
        )
    limit = settings.max_upload_bytes + (MULTIPART_OVERHEAD if multipart else 0)
    too_large = ApiError(
        413,
        "too_large",
        f"The upload is larger than the {settings.max_upload_bytes / 2**20:g} MiB allowed.",
    )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, "bad_request", "Content-Length is not a number.")
        if int(declared) > limit:
            raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    data = _file_part(request.headers["content-type"], bytes(body)) if multipart else bytes(body)
    if len(data) > settings.max_upload_bytes:
        raise too_large
    if not data:
        raise ApiError(400, "bad_audio", "The upload is empty: send the bytes of an audio file.")
    return data


def _file_part(content_type: str, body: bytes) -> bytes:
    """The bytes of the form field ``file`` in a multipart body held in memory."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "bad_multipart", "The multipart body has no boundary.")
    parts: list[tuple[dict[str, str], bytearray]] = []
    header: list[bytes] = [b"", b""]

    def on_part_begin() -> None:
        parts.append(({}, bytearray()))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        name, value = (h.decode("latin-1") for h in header)
        parts[-1][0][name.strip().lower()] = value
        header[:] = [b"", b""]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].extend(data[start:end])

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # the parser's own errors: a malformed body
        raise ApiError(400, "bad_multipart", f"Malformed multipart body: {exc}") from None
    for headers, data in parts:
        _, disposition = parse_options_header(headers.get("content-disposition", ""))
        if disposition.get(b"name") == b"file":
            return bytes(data)
    raise ApiError(
        400, "no_file", "The multipart form has no field 'file': put the recording in 'file'."
    )


def _check_seconds(data: bytes, limit: float) -> None:
    """Refuse audio longer than ``limit`` seconds from its header, before decoding."""
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
    except Exception:  # not audio libsndfile knows: the model's loader says why (400)
        return
    if info.samplerate > 0 and info.frames > 0 and info.frames / info.samplerate > limit:
        raise ApiError(
            400,
            "audio_too_long",
            f"The audio lasts {info.frames / info.samplerate:.1f} s; this server accepts "
            f"at most {limit:g} s here.",
        )


async def _run(pool: WorkPool, settings: Settings, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in the pool: 503 at once when full, 504 past the timeout."""
    future = pool.submit(fn, *args, **kwargs)
    if future is None:
        raise ApiError(
            503,
            "busy",
            "The server is busy (every worker and queue slot is taken); try again shortly.",
            headers={"Retry-After": str(settings.retry_after)},
        )
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), settings.timeout)
    except TimeoutError:
        raise ApiError(
            504, "timeout", f"No answer within {settings.timeout:g} s; try a shorter recording."
        ) from None


def _timeline_answer(frame: Any, recognizer: Any) -> dict[str, Any]:
    from emovox.timeline import summary, timeline_records

    attrs = frame.attrs
    return {
        "model": attrs.get("model") or recognizer.model_id,
        "duration": float(attrs.get("duration") or 0.0),
        "rows": timeline_records(frame),
        "summary": {
            str(channel): {
                "speech": float(row["speech"]),
                "shares": {k: float(v) for k, v in row.drop("speech").items()},
            }
            for channel, row in summary(frame).iterrows()
        },
        "warnings": list(attrs.get("warnings", [])),
    }


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(EmovoxError)
    async def emovox_error(request: Request, exc: EmovoxError) -> JSONResponse:
        for kind, (status, code) in ERROR_STATUS.items():
            if isinstance(exc, kind):
                return _error(status, code, str(exc))
        return _error(400, "bad_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_query(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return _error(422, "bad_query", f"Bad request values: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return _error(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def server_fault(request: Request, exc: Exception) -> JSONResponse:
        logging.getLogger("emovox.http").error("request failed", exc_info=exc)
        return _error(500, "internal", "The server failed on this request; it has been logged.")
