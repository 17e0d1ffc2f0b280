"""A large streamed upload through the requests and aiohttp adapters keeps memory flat.

The server runs in its own process and reports how much its peak RSS grew while
it handled the upload; this process samples its own RSS while sending. An
adapter that buffered the body (to hash it, say) would grow by its size (128
MiB here; benchmarks/requests_aiohttp_throughput.py --memory sends 1 GiB).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from _memory import RssSampler, needs_proc
from _servers import CREDENTIALS, REGION, server_process

import lattice_client.aiohttp
import lattice_client.requests

BODY = 128 * 1024 * 1024
CHUNK = 256 * 1024
LIMIT = 32 * 1024 * 1024
pytestmark = needs_proc


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """A verifying server in another process, so its memory is measured apart from ours."""
    with server_process() as url:
        yield url


def chunks() -> Iterator[bytes]:
    """BODY bytes, one reused chunk at a time."""
    chunk = b"\xa5" * CHUNK
    for _ in range(BODY // CHUNK):
        yield chunk


def test_requests_generator_upload_keeps_memory_flat(server_url: str) -> None:
    """128 MiB from a generator through lattice_client.requests: verified, flat RSS."""
    with lattice_client.requests.Session(credentials=CREDENTIALS, region=REGION) as session:
        session.post(f"{server_url}/warm-up", data=b"x")
        with RssSampler() as client_rss:
            response = session.post(f"{server_url}/upload", data=chunks())
    result = response.json()
    assert result["ok"], result["error"]
    assert result["body_size"] == BODY
    assert client_rss.growth < LIMIT, client_rss.growth
    assert result["peak_rss_growth"] < LIMIT, result["peak_rss_growth"]


def test_requests_file_upload_keeps_memory_flat(server_url: str, tmp_path: Path) -> None:
    """A 64 MiB file streams from disk: verified, flat RSS."""
    path = tmp_path / "big.bin"
    with path.open("wb") as out:
        for _ in range(64):
            out.write(b"\x5a" * (1024 * 1024))
    with lattice_client.requests.Session(credentials=CREDENTIALS, region=REGION) as session:
        session.post(f"{server_url}/warm-up", data=b"x")
        with RssSampler() as client_rss, path.open("rb") as body:
            response = session.put(f"{server_url}/upload", data=body)
    result = response.json()
    assert result["ok"], result["error"]
    assert result["body_size"] == 64 * 1024 * 1024
    assert client_rss.growth < LIMIT, client_rss.growth


def test_aiohttp_async_generator_upload_keeps_memory_flat(server_url: str) -> None:
    """128 MiB from an async generator through lattice_client.aiohttp: verified, flat RSS."""

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks():
            yield chunk

    async def send() -> dict[str, object]:
        async with lattice_client.aiohttp.ClientSession(
            credentials=CREDENTIALS, region=REGION
        ) as session:
            async with session.post(f"{server_url}/warm-up", data=b"x") as warm:
                await warm.read()
            async with session.post(f"{server_url}/upload", data=body()) as response:
                result: dict[str, object] = await response.json()
                return result

    with RssSampler() as client_rss:
        result = asyncio.run(send())
    assert result["ok"], result["error"]
    assert result["body_size"] == BODY
    assert client_rss.growth < LIMIT, client_rss.growth
    assert result["peak_rss_growth"] < LIMIT  # type: ignore[operator]
