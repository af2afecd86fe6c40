"""Load figures of the HTTP API: `emovox serve`'s app under uvicorn on loopback.

For each worker count: a closed-loop phase (``--clients`` concurrent clients sending 3 s
clips back to back for ``--seconds``) gives the sustainable rate and p50/p95/p99; then an
open-loop phase offers twice that rate for ``--seconds`` and counts 503s, the latency of
the accepted requests and the server's resident memory (start and end). Bounded in time
and request count; loopback only (127.0.0.1, a free port).

    python benchmarks/http_load.py --workers 1 2 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from emovox import Recognizer
from emovox.interfaces.http import Settings, create_app
from helpers import buzz


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clip() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, buzz(3.0), 16_000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    ms = np.array(values) * 1000
    return {f"p{q}": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)}


async def closed_loop(url: str, body: bytes, clients: int, seconds: float, cap: int) -> dict:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    end = time.monotonic() + seconds

    async def one(client: httpx.AsyncClient) -> None:
        while time.monotonic() < end and len(latencies) < cap:
            began = time.monotonic()
            r = await client.post(url, content=body, headers={"content-type": "audio/wav"})
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            if r.status_code == 200:
                latencies.append(time.monotonic() - began)

    began = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client) for _ in range(clients)))
    elapsed = time.monotonic() - began
    return {"rps": round(len(latencies) / elapsed, 2), "codes": codes, **percentiles(latencies)}


async def open_loop(url: str, body: bytes, rate: float, seconds: float) -> dict:
    latencies: list[float] = []
    codes: dict[int, int] = {}

    async def one(client: httpx.AsyncClient) -> None:
        began = time.monotonic()
        try:
            r = await client.post(url, content=body, headers={"content-type": "audio/wav"})
            code = r.status_code
        except httpx.HTTPError:
            code = -1
        codes[code] = codes.get(code, 0) + 1
        if code == 200:
            latencies.append(time.monotonic() - began)

    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        tasks = []
        start = time.monotonic()
        n = int(rate * seconds)
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(client)))
        await asyncio.gather(*tasks)
    total = sum(codes.values())
    return {
        "offered_rps": round(rate, 2),
        "sent": total,
        "codes": codes,
        "share_503": round(codes.get(503, 0) / max(total, 1), 3),
        "accepted_rps": round(codes.get(200, 0) / seconds, 2),
        **percentiles(latencies),
    }


def serve(recognizer: Recognizer, settings: Settings) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(
        create_app(model=recognizer, settings=settings),
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        limit_concurrency=400,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    return server, thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--queue", type=int, default=4)
    parser.add_argument("--cap", type=int, default=2000, help="Most requests per phase.")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    recognizer = Recognizer.load()
    body = clip()
    recognizer.predict(body)  # warm-up
    results = {"cpus": os.cpu_count(), "runs": []}
    for workers in args.workers:
        settings = Settings(port=free_port(), workers=workers, queue=args.queue, timeout=30)
        server, thread = serve(recognizer, settings)
        url = f"http://127.0.0.1:{settings.port}/v1/predict"
        rss0 = rss_mb()
        sustained = asyncio.run(closed_loop(url, body, args.clients, args.seconds, args.cap))
        rate = 2 * sustained["rps"]
        overload = asyncio.run(open_loop(url, body, rate, min(args.seconds, args.cap / rate)))
        run = {
            "workers": workers,
            "queue": args.queue,
            "sustained": sustained,
            "at_twice": overload,
            "rss_mb_start": round(rss0, 1),
            "rss_mb_end": round(rss_mb(), 1),
        }
        print(json.dumps(run), flush=True)
        results["runs"].append(run)
        server.should_exit = True
        thread.join(10)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
