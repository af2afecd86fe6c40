"""Load figures of the HTTP API: `emovox serve` in its own process, loaded from this one.

For each worker count, ``python -m emovox serve`` is started as a child process on
127.0.0.1 with a free port (and nowhere else), and waited for on /readyz. This process is
the load generator only (asyncio + httpx); it never loads the model. Then:

1. closed loop: ``--clients`` concurrent clients send 3 s clips back to back for
   ``--seconds``: the sustainable rate and p50/p95/p99;
2. open loop: twice that rate is offered for ``--overload-seconds``: the share of 503s,
   the accepted rate and the latency of the accepted requests.

During every phase the server's resident memory (VmRSS of /proc/PID/status) is sampled
once a second: start, peak, end, and the least-squares slope over the overload phase
(whole and second half). The CPU time of both processes is read per phase (server from
/proc/PID/stat, generator from its own process time), so a reader can see how much of the
machine the generator took. After each phase the server must still be alive and answer
/healthz. Every phase stops by itself: bounded in time and in request count (``--cap``).

    python benchmarks/http_load.py --workers 1 2 --seconds 15 --overload-seconds 180
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import buzz

HOST = "127.0.0.1"  # loopback only, never another address
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
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


# -- the server process: memory and CPU from /proc ----------------------------------------
def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (its threads included), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Sampler:
    """Samples the server's VmRSS once a second in a thread, until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid, self.samples = pid, []  # (seconds since start, MB)
        self._stop = threading.Event()
        self._began = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        self.samples.append((round(time.monotonic() - self._began, 2), round(rss_mb(self.pid), 2)))

    def _run(self) -> None:
        while True:
            try:
                self._sample()
            except OSError:
                return  # the process is gone; reported by the liveness check
            if self._stop.wait(1.0):
                return

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        with contextlib.suppress(OSError):
            self._sample()

    def summary(self) -> dict:
        mb = [m for _, m in self.samples]
        if not mb:
            return {}
        return {"rss_mb_start": mb[0], "rss_mb_peak": max(mb), "rss_mb_end": mb[-1]}


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return float("nan")
    t = np.array([s[0] for s in samples]) / 60
    mb = np.array([s[1] for s in samples])
    return round(float(np.polyfit(t, mb, 1)[0]), 3)


def measured(pid: int, phase: Coroutine) -> dict:
    """Runs the ``phase`` coroutine with RSS sampling and CPU accounting."""
    wall0, gen0, srv0 = time.monotonic(), time.process_time(), cpu_seconds(pid)
    with Sampler(pid) as sampler:
        result = asyncio.run(phase)
    wall = time.monotonic() - wall0
    result["wall_s"] = round(wall, 1)
    result["generator_cpu"] = round((time.process_time() - gen0) / wall, 2)
    try:
        result["server_cpu"] = round((cpu_seconds(pid) - srv0) / wall, 2)
    except OSError:
        result["server_cpu"] = float("nan")
    result.update(sampler.summary())
    result["rss_samples"] = sampler.samples
    return result


# -- the load -----------------------------------------------------------------------------
async def closed_loop(url: str, body: bytes, clients: int, seconds: float, cap: int) -> dict:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    end = time.monotonic() + seconds

    async def one(client: httpx.AsyncClient) -> None:
        while time.monotonic() < end and sum(codes.values()) < cap:
            began = time.monotonic()
            try:
                r = await client.post(url, content=body, headers={"content-type": "audio/wav"})
                code = r.status_code
            except httpx.HTTPError:
                code = -1
            codes[code] = codes.get(code, 0) + 1
            if code == 200:
                latencies.append(time.monotonic() - began)

    began = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client) for _ in range(clients)))
    elapsed = time.monotonic() - began
    return {"rps": round(len(latencies) / elapsed, 2), "codes": codes, **percentiles(latencies)}


async def open_loop(url: str, body: bytes, rate: float, seconds: float) -> dict:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    late: list[float] = []  # how far behind schedule each send started

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
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            late.append(time.monotonic() - due)
            tasks.append(asyncio.create_task(one(client)))
        sent_in = time.monotonic() - start
        await asyncio.gather(*tasks)
    total = sum(codes.values())
    return {
        "offered_rps": round(rate, 2),
        "seconds": round(seconds, 1),
        "sent": total,
        "achieved_send_rps": round(total / max(sent_in, 1e-9), 2),
        "send_lag_p99_ms": round(float(np.percentile(late, 99)) * 1000, 1) if late else None,
        "codes": codes,
        "share_503": round(codes.get(503, 0) / max(total, 1), 3),
        "accepted_rps": round(codes.get(200, 0) / seconds, 2),
        **percentiles(latencies),
    }


# -- the server ---------------------------------------------------------------------------
def start_server(port: int, workers: int, queue: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "emovox", "serve",
        "--host", HOST, "--port", str(port),
        "--workers", str(workers), "--queue", str(queue), "--timeout", "30",
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited ({server.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError("server did not become ready in 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def alive(server: subprocess.Popen, port: int) -> bool:
    if server.poll() is not None:
        return False
    try:
        return httpx.get(f"http://{HOST}:{port}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=15.0, help="Closed-loop phase length.")
    parser.add_argument(
        "--overload-seconds", type=float, default=None,
        help="Open-loop phase length at twice the sustained rate (default: --seconds).",
    )  # fmt: skip
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--queue", type=int, default=4)
    parser.add_argument("--cap", type=int, default=20_000, help="Most requests per phase.")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    overload_seconds = args.overload_seconds or args.seconds
    body = clip()
    results = {
        "cpus": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "note": "server and load generator are separate processes sharing the same CPUs",
        "runs": [],
    }
    for workers in args.workers:
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "server.log"
            server = start_server(port, workers, args.queue, log)
            try:
                url = f"http://{HOST}:{port}/v1/predict"
                idle_mb = round(rss_mb(server.pid), 1)
                for _ in range(3):  # warm-up, not measured
                    httpx.post(url, content=body, headers={"content-type": "audio/wav"}, timeout=60)
                sustained = measured(
                    server.pid, closed_loop(url, body, args.clients, args.seconds, args.cap)
                )
                ok_after_sustained = alive(server, port)
                rate = 2 * sustained["rps"]
                seconds = min(overload_seconds, args.cap / rate)
                overload = measured(server.pid, open_loop(url, body, rate, seconds))
                samples = overload["rss_samples"]
                overload["rss_slope_mb_per_min"] = slope_mb_per_min(samples)
                overload["rss_slope_mb_per_min_2nd_half"] = slope_mb_per_min(
                    [s for s in samples if s[0] >= samples[-1][0] / 2]
                )
                ok_after_overload = alive(server, port)
            finally:
                stop_server(server)
        run = {
            "workers": workers,
            "queue": args.queue,
            "server_pid": server.pid,
            "rss_mb_idle": idle_mb,
            "sustained": sustained,
            "at_twice": overload,
            "alive_after": {"sustained": ok_after_sustained, "overload": ok_after_overload},
        }
        brief = {
            key: {k: v for k, v in value.items() if k != "rss_samples"}
            if isinstance(value, dict)
            else value
            for key, value in run.items()
        }
        print(json.dumps(brief), flush=True)
        results["runs"].append(run)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
