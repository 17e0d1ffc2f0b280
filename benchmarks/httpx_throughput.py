"""Requests per second through lattice_client.Client against plain httpx, same server, same run.

Run: .venv/bin/python benchmarks/httpx_throughput.py  (needs the `bench` and `test` extras;
about 30 s)

One loopback HTTP/1.1 server (uvicorn, the tests' echo app with signature checks
off, so it does the same work for every client) runs in its own process, so it
does not share the GIL with the clients. Each client sends small GETs with a
query string, sequentially (sync) or from 8 concurrent tasks (async). Clients
take turns, many short rounds each; the figures are medians, and the ratio is
taken round by round against plain httpx in the same run (target: at least 0.95). "client CPU" is
this process's CPU time per request (the server's is not in it).

A second baseline sends, unsigned, the same four headers a signature adds
(copied once from a signed request): the difference between it and plain httpx
is what the extra bytes cost on the wire and in the server, not signing.
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import httpx_auth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _servers import CREDENTIALS, REGION, server_process

import lattice_client

REQUESTS = 200  # per round and client
ROUNDS = 25
CONCURRENCY = 8
PATH = "/invoices/2026?status=open&limit=50"


Figures = tuple[float, float]  # requests per second, client CPU seconds per request


def sync_rate(client: httpx.Client) -> Figures:
    """Requests per second and CPU per request for REQUESTS sequential GETs."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(REQUESTS):
        client.get(PATH).raise_for_status()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return REQUESTS / elapsed, cpu / REQUESTS


async def async_rate(client: httpx.AsyncClient) -> Figures:
    """Requests per second and CPU per request for REQUESTS GETs from CONCURRENCY tasks."""

    async def worker() -> None:
        for _ in range(REQUESTS // CONCURRENCY):
            (await client.get(PATH)).raise_for_status()

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    sent = REQUESTS // CONCURRENCY * CONCURRENCY
    return sent / elapsed, cpu / sent


def signature_headers(url: str) -> dict[str, str]:
    """The headers a signature adds, from one signed request (for the wire-cost baseline)."""
    with lattice_client.Client(credentials=CREDENTIALS, region=REGION, base_url=url) as client:
        sent = client.get(PATH).request.headers
    return {k: v for k, v in sent.items() if k == "authorization" or k.startswith("x-amz-")}


Summary = tuple[float, float, float]  # median req/s, median paired ratio, median CPU/request


def summarise(rounds: dict[str, list[Figures]]) -> dict[str, Summary]:
    """Medians per client; the ratio is taken round by round against the baseline's same round.

    Pairing each round with the baseline's cancels most of the drift a shared
    machine adds (other processes come and go); the median drops outliers.
    """
    baseline = next(iter(rounds.values()))
    return {
        name: (
            statistics.median(rate for rate, _ in figures),
            statistics.median(
                rate / base for (rate, _), (base, _) in zip(figures, baseline, strict=True)
            ),
            statistics.median(cpu for _, cpu in figures),
        )
        for name, figures in rounds.items()
    }


def control_ratio(rounds: dict[str, list[Figures]], name: str, control: str) -> float:
    """Median of ``name``'s rate over ``control``'s, paired round by round.

    The control sends the same headers unsigned, so this is what signing costs,
    apart from the bytes on the wire (target: at least 0.97).
    """
    return statistics.median(
        rate / base for (rate, _), (base, _) in zip(rounds[name], rounds[control], strict=True)
    )


Bench = tuple[dict[str, Summary], float]  # per client; lattice_client over its control


def bench_sync(url: str) -> Bench:
    auth = httpx_auth.AWS4Auth(
        CREDENTIALS.access_key_id,
        CREDENTIALS.secret_access_key,
        REGION,
        "vpc-lattice-svcs",
        security_token=CREDENTIALS.session_token,
    )
    clients: dict[str, Callable[[], httpx.Client]] = {
        "httpx.Client (baseline, unsigned)": lambda: httpx.Client(base_url=url),
        "httpx.Client + same headers, unsigned": lambda: httpx.Client(
            base_url=url, headers=signature_headers(url)
        ),
        "lattice_client.Client": lambda: lattice_client.Client(
            credentials=CREDENTIALS, region=REGION, base_url=url
        ),
        "httpx.Client + httpx_auth.AWS4Auth": lambda: httpx.Client(base_url=url, auth=auth),
    }
    rates: dict[str, list[Figures]] = {name: [] for name in clients}
    opened = {name: make() for name, make in clients.items()}
    try:
        for client in opened.values():
            for _ in range(100):  # warm up the connection and caches
                client.get(PATH)
        for round_ in range(ROUNDS):
            order = list(opened.items())
            for name, client in order if round_ % 2 == 0 else reversed(order):
                rates[name].append(sync_rate(client))
    finally:
        for client in opened.values():
            client.close()
    return summarise(rates), control_ratio(
        rates, "lattice_client.Client", "httpx.Client + same headers, unsigned"
    )


async def bench_async(url: str) -> Bench:
    clients = {
        "httpx.AsyncClient (baseline, unsigned)": httpx.AsyncClient(base_url=url),
        "httpx.AsyncClient + same headers, unsigned": httpx.AsyncClient(
            base_url=url, headers=signature_headers(url)
        ),
        "lattice_client.AsyncClient": lattice_client.AsyncClient(
            credentials=CREDENTIALS, region=REGION, base_url=url
        ),
    }
    rates: dict[str, list[Figures]] = {name: [] for name in clients}
    try:
        for client in clients.values():
            await asyncio.gather(*(client.get(PATH) for _ in range(CONCURRENCY)))
        for round_ in range(ROUNDS):
            order = list(clients.items())
            for name, client in order if round_ % 2 == 0 else reversed(order):
                rates[name].append(await async_rate(client))
    finally:
        for client in clients.values():
            await client.aclose()
    return summarise(rates), control_ratio(
        rates, "lattice_client.AsyncClient", "httpx.AsyncClient + same headers, unsigned"
    )


def report(title: str, bench: Bench) -> None:
    figures, against_control = bench
    print(f"\n{title}")
    print(f"{'client':<44} {'req/s':>7} {'ratio to baseline':>18} {'client CPU/request':>19}")
    for name, (rate, ratio, cpu) in figures.items():
        print(f"{name:<44} {rate:>7.0f} {ratio:>18.3f} {cpu * 1e6:>16.0f} us")
    print(f"lattice_client over 'same headers, unsigned' (paired): {against_control:.3f}")


def main() -> None:
    print(
        f"Python {platform.python_version()}, httpx {httpx.__version__}, "
        f"lattice-client {lattice_client.__version__}; {REQUESTS} requests x {ROUNDS} rounds "
        "per client, medians (ratios paired round by round); "
        "server: uvicorn HTTP/1.1 in another process"
    )
    with server_process("--no-verify") as url:
        report("sync, sequential", bench_sync(url))
        report(f"async, {CONCURRENCY} concurrent tasks", asyncio.run(bench_async(url)))


if __name__ == "__main__":
    main()
