"""Requests per second through lattice_client.requests and lattice_client.aiohttp, same run.

Run: .venv/bin/python benchmarks/requests_aiohttp_throughput.py  (needs the `bench` and `test`
extras; about 1 minute). Add ``--memory`` for the 1 GiB streamed uploads (about 1 more minute;
Linux, for /proc).

One loopback HTTP/1.1 server (uvicorn, the tests' echo app with signature checks off,
so it does the same work for every client) runs in its own process, so it does not
share the GIL with the clients. Each client sends small GETs with a query string,
sequentially (requests) or from 8 concurrent tasks (aiohttp). Clients take turns, many
short rounds each; the figures are medians, and ratios are taken round by round in the
same run. "client CPU" is this process's CPU time per request.

Baselines, per library: the plain session, unsigned; the plain session sending, unsigned,
the same four headers a signature adds ("control": what the extra bytes cost, not
signing); and the peer signing library (requests-aws4auth; aiohttp-aws-auth). Targets:
signed / control at least 0.97, and faster than the peer.

``--memory``: a 1 GiB upload from a generator (requests) and an async generator
(aiohttp), reusing one 256 KiB chunk, through the signing session and the plain one; the
peak RSS growth of this process (sampled every 2 ms) and of the server (which checks the
signature and hashes the body as it arrives). Target: under 32 MiB on both sides.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp_aws_auth
import requests
import requests_aws4auth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _servers import CREDENTIALS, REGION, server_process

import lattice_client
import lattice_client.aiohttp
import lattice_client.requests

REQUESTS = 200  # per round and client
ROUNDS = 15
CONCURRENCY = 8
PATH = "/invoices/2026?status=open&limit=50"
SERVICE = "vpc-lattice-svcs"

Figures = tuple[float, float]  # requests per second, client CPU seconds per request
Summary = tuple[float, float, float, float]  # req/s, ratio to baseline, to control, CPU/req


def sync_rate(session: requests.Session, url: str) -> Figures:
    """Requests per second and CPU per request for REQUESTS sequential GETs."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(REQUESTS):
        session.get(url).raise_for_status()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return REQUESTS / elapsed, cpu / REQUESTS


async def async_rate(session: aiohttp.ClientSession, url: str) -> Figures:
    """Requests per second and CPU per request for REQUESTS GETs from CONCURRENCY tasks."""

    async def worker() -> None:
        for _ in range(REQUESTS // CONCURRENCY):
            async with session.get(url) as response:
                response.raise_for_status()
                await response.read()

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    sent = REQUESTS // CONCURRENCY * CONCURRENCY
    return sent / elapsed, cpu / sent


def signature_headers(url: str) -> dict[str, str]:
    """The headers a signature adds, from one signed request (for the control)."""
    with lattice_client.requests.Session(credentials=CREDENTIALS, region=REGION) as session:
        sent = session.get(url + PATH).request.headers
    return {k: str(v) for k, v in sent.items() if k == "authorization" or k.startswith("x-amz-")}


def summarise(rounds: dict[str, list[Figures]], control: str) -> dict[str, Summary]:
    """Medians per client; ratios are taken round by round against the baseline and control.

    Pairing each round with the baseline's cancels most of the drift a shared
    machine adds (other processes come and go); the median drops outliers.
    """
    baseline = next(iter(rounds.values()))
    controls = rounds[control]

    def paired(figures: list[Figures], against: list[Figures]) -> float:
        return statistics.median(
            rate / base for (rate, _), (base, _) in zip(figures, against, strict=True)
        )

    return {
        name: (
            statistics.median(rate for rate, _ in figures),
            paired(figures, baseline),
            paired(figures, controls),
            statistics.median(cpu for _, cpu in figures),
        )
        for name, figures in rounds.items()
    }


CONTROL_SYNC = "requests.Session + same headers, unsigned"
CONTROL_ASYNC = "aiohttp.ClientSession + same headers, unsigned"


def bench_requests(url: str) -> dict[str, Summary]:
    def plain(**headers: str) -> requests.Session:
        session = requests.Session()
        session.headers.update(headers)
        return session

    def peer() -> requests.Session:
        session = requests.Session()
        session.auth = requests_aws4auth.AWS4Auth(
            CREDENTIALS.access_key_id,
            CREDENTIALS.secret_access_key,
            REGION,
            SERVICE,
            session_token=CREDENTIALS.session_token,
        )
        return session

    sessions: dict[str, Callable[[], requests.Session]] = {
        "requests.Session (baseline, unsigned)": plain,
        CONTROL_SYNC: lambda: plain(**signature_headers(url)),
        "lattice_client.requests.Session": lambda: lattice_client.requests.Session(
            credentials=CREDENTIALS, region=REGION
        ),
        "requests.Session + requests_aws4auth.AWS4Auth": peer,
    }
    rates: dict[str, list[Figures]] = {name: [] for name in sessions}
    opened = {name: make() for name, make in sessions.items()}
    target = url + PATH
    try:
        for session in opened.values():
            for _ in range(100):  # warm up the connection and caches
                session.get(target)
        for round_ in range(ROUNDS):
            order = list(opened.items())
            for name, session in order if round_ % 2 == 0 else reversed(order):
                rates[name].append(sync_rate(session, target))
    finally:
        for session in opened.values():
            session.close()
    return summarise(rates, CONTROL_SYNC)


async def bench_aiohttp(url: str) -> dict[str, Summary]:
    peer = aiohttp_aws_auth.AwsSigV4Auth(
        aiohttp_aws_auth.AwsCredentials(
            CREDENTIALS.access_key_id,
            CREDENTIALS.secret_access_key,
            CREDENTIALS.session_token,
        ),
        REGION,
        SERVICE,
    )
    sessions = {
        "aiohttp.ClientSession (baseline, unsigned)": aiohttp.ClientSession(),
        CONTROL_ASYNC: aiohttp.ClientSession(headers=signature_headers(url)),
        "lattice_client.aiohttp.ClientSession": lattice_client.aiohttp.ClientSession(
            credentials=CREDENTIALS, region=REGION
        ),
        "aiohttp.ClientSession + aiohttp_aws_auth": aiohttp.ClientSession(middlewares=(peer,)),
    }
    rates: dict[str, list[Figures]] = {name: [] for name in sessions}
    target = url + PATH
    try:
        for session in sessions.values():
            await async_rate(session, target)  # warm up the connections and caches
        for round_ in range(ROUNDS):
            order = list(sessions.items())
            for name, session in order if round_ % 2 == 0 else reversed(order):
                rates[name].append(await async_rate(session, target))
    finally:
        for session in sessions.values():
            await session.close()
    return summarise(rates, CONTROL_ASYNC)


def report(title: str, figures: dict[str, Summary]) -> None:
    print(f"\n{title}")
    print(
        f"{'client':<48} {'req/s':>7} {'to baseline':>12} {'to control':>11} "
        f"{'client CPU/request':>19}"
    )
    for name, (rate, ratio, to_control, cpu) in figures.items():
        print(f"{name:<48} {rate:>7.0f} {ratio:>12.3f} {to_control:>11.3f} {cpu * 1e6:>16.0f} us")


# --- 1 GiB streamed uploads --------------------------------------------------------------

BODY = 1024**3
CHUNK = 256 * 1024
MIB = 1024 * 1024


def _rss() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _chunks() -> Iterator[bytes]:
    chunk = b"\x5a" * CHUNK
    for _ in range(BODY // CHUNK):
        yield chunk


async def _async_chunks() -> AsyncIterator[bytes]:
    for chunk in _chunks():
        yield chunk


def _sampled(run: Callable[[], dict[str, Any]]) -> tuple[float, int, dict[str, Any]]:
    """Seconds, this process's peak RSS growth, and the server's answer, for one upload."""
    baseline = peak = _rss()
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.002):
            peak = max(peak, _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        answer = run()
    finally:
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
    return seconds, max(peak, _rss()) - baseline, answer


def bench_memory(url: str) -> None:
    def through_requests(session: requests.Session) -> dict[str, Any]:
        with session:
            answer: dict[str, Any] = session.post(url + "/upload", data=_chunks()).json()
            return answer

    def through_aiohttp(make: Callable[[], aiohttp.ClientSession]) -> dict[str, Any]:
        async def send() -> dict[str, Any]:
            async with (
                make() as session,
                session.post(url + "/upload", data=_async_chunks()) as response,
            ):
                answer: dict[str, Any] = await response.json()
                return answer

        return asyncio.run(send())

    uploads: dict[str, Callable[[], dict[str, Any]]] = {
        "requests.Session (unsigned)": lambda: through_requests(requests.Session()),
        "lattice_client.requests.Session": lambda: through_requests(
            lattice_client.requests.Session(credentials=CREDENTIALS, region=REGION)
        ),
        "aiohttp.ClientSession (unsigned)": lambda: through_aiohttp(aiohttp.ClientSession),
        "lattice_client.aiohttp.ClientSession": lambda: through_aiohttp(
            lambda: lattice_client.aiohttp.ClientSession(credentials=CREDENTIALS, region=REGION)
        ),
    }
    print("\n1 GiB streamed upload (generator / async generator), verified by the server")
    print(f"{'client':<40} {'seconds':>8} {'client RSS':>11} {'server RSS':>11} {'verified':>9}")
    for name, upload in uploads.items():
        seconds, growth, answer = _sampled(upload)
        verified = "-" if not answer["signed"] else str(answer["ok"])
        print(
            f"{name:<40} {seconds:>8.2f} {growth / MIB:>8.1f} MiB "
            f"{answer['peak_rss_growth'] / MIB:>7.1f} MiB {verified:>9}"
        )


def main() -> None:
    print(
        f"Python {platform.python_version()}, requests {requests.__version__}, "
        f"aiohttp {aiohttp.__version__}, lattice-client {lattice_client.__version__}; "
        f"{REQUESTS} requests x {ROUNDS} rounds per client, medians (ratios paired round by "
        "round); server: uvicorn HTTP/1.1 in another process"
    )
    with server_process("--no-verify") as url:
        report("requests, sequential", bench_requests(url))
        report(f"aiohttp, {CONCURRENCY} concurrent tasks", asyncio.run(bench_aiohttp(url)))
    if "--memory" in sys.argv[1:]:
        with server_process() as url:
            bench_memory(url)


if __name__ == "__main__":
    main()
