"""A 1 GiB streamed upload through lattice_client's clients: peak memory and time vs plain httpx.

Run: .venv/bin/python benchmarks/stream_memory.py  (needs the `test` extra; Linux, for
/proc; about 1 minute)

The body comes from a generator (sync) or an async generator (async) that
reuses one 256 KiB chunk, so any growth is the clients' or the server's own
buffering. The server (uvicorn, the tests' app, which checks every signature and
hashes the body as it arrives) runs in another process and reports how much its
peak RSS grew during the upload; this process samples its own RSS every 2 ms.
Each client uploads twice, taking turns; the figure is the faster run. Targets:
RSS growth under 32 MiB on both sides, time within 1.1x of plain httpx.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _servers import CREDENTIALS, REGION, server_process

import lattice_client

BODY = 1024**3
CHUNK = 256 * 1024
ROUNDS = 2
MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * PAGE


def chunks() -> Iterator[bytes]:
    chunk = b"\x5a" * CHUNK
    for _ in range(BODY // CHUNK):
        yield chunk


async def async_chunks() -> AsyncIterator[bytes]:
    for chunk in chunks():
        yield chunk


class Result:
    def __init__(self) -> None:
        self.seconds = float("inf")
        self.client_growth = 0
        self.server_growth = 0
        self.verified = "-"


def measure(upload: Callable[[], httpx.Response], result: Result) -> None:
    """Run one upload while sampling RSS; keep the faster time and the larger growths."""
    baseline, peak = rss(), [rss()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.002):
            peak[0] = max(peak[0], rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        response = upload()
    finally:
        elapsed = time.perf_counter() - start
        stop.set()
        sampler.join()
    answer = response.json()
    if answer["body_size"] != BODY:
        raise SystemExit(f"the server received {answer['body_size']} bytes, not {BODY}")
    result.seconds = min(result.seconds, elapsed)
    result.client_growth = max(result.client_growth, max(peak[0], rss()) - baseline)
    result.server_growth = max(result.server_growth, answer["peak_rss_growth"])
    result.verified = "yes" if answer["ok"] else ("unsigned" if not answer["signed"] else "NO")


def main() -> None:
    print(
        f"Python {sys.version.split()[0]}, httpx {httpx.__version__}; 1 GiB upload from a "
        f"generator in {CHUNK // 1024} KiB chunks, best of {ROUNDS}; server: uvicorn HTTP/1.1 "
        "in another process, verifying signatures"
    )
    with server_process() as url:
        plain = httpx.Client(base_url=url, timeout=120)
        signed = lattice_client.Client(
            credentials=CREDENTIALS, region=REGION, base_url=url, timeout=120
        )
        loop = asyncio.new_event_loop()
        plain_async = httpx.AsyncClient(base_url=url, timeout=120)
        signed_async = lattice_client.AsyncClient(
            credentials=CREDENTIALS, region=REGION, base_url=url, timeout=120
        )

        def sync_upload(client: httpx.Client) -> Callable[[], httpx.Response]:
            return lambda: client.post("/upload", content=chunks())

        def async_upload(client: httpx.AsyncClient) -> Callable[[], httpx.Response]:
            return lambda: loop.run_until_complete(client.post("/upload", content=async_chunks()))

        cases = {
            "sync  httpx.Client (baseline)": sync_upload(plain),
            "sync  lattice_client.Client": sync_upload(signed),
            "async httpx.AsyncClient (baseline)": async_upload(plain_async),
            "async lattice_client.AsyncClient": async_upload(signed_async),
        }
        results = {name: Result() for name in cases}
        for client in (plain, signed):  # open the connections first
            client.post("/warm-up", content=b"x")
        for async_client in (plain_async, signed_async):
            loop.run_until_complete(async_client.post("/warm-up", content=b"x"))
        for _ in range(ROUNDS):
            for name, upload in cases.items():
                measure(upload, results[name])
        plain.close()
        signed.close()
        loop.run_until_complete(plain_async.aclose())
        loop.run_until_complete(signed_async.aclose())
        loop.close()

    print(
        f"\n{'client':<36} {'seconds':>8} {'MiB/s':>7} {'time ratio':>11} "
        f"{'client RSS growth':>18} {'server RSS growth':>18} {'verified':>9}"
    )
    baselines = {"sync": results["sync  httpx.Client (baseline)"].seconds}
    baselines["async"] = results["async httpx.AsyncClient (baseline)"].seconds
    for name, result in results.items():
        ratio = result.seconds / baselines[name.split()[0]]
        print(
            f"{name:<36} {result.seconds:>8.2f} {BODY / MIB / result.seconds:>7.0f} "
            f"{ratio:>11.3f} {result.client_growth / MIB:>14.1f} MiB "
            f"{result.server_growth / MIB:>14.1f} MiB {result.verified:>9}"
        )


if __name__ == "__main__":
    main()
