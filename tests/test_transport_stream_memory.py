"""A large streamed upload through the signing clients keeps memory flat on both ends.

The server runs in its own process and reports how much its peak RSS grew while
it handled the upload; this process samples its own RSS while sending. A client
or server that buffered the body would grow by its size (256 MiB).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from _memory import RssSampler, needs_proc
from _servers import CREDENTIALS, REGION, server_process

from lattice_client import AsyncClient, Client

BODY = 256 * 1024 * 1024
CHUNK = 256 * 1024
LIMIT = 32 * 1024 * 1024
pytestmark = needs_proc


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """A verifying server in another process, so its memory is measured apart from ours."""
    with server_process() as url:
        yield url


def chunks() -> Iterator[bytes]:
    """BODY bytes, one reused chunk at a time: the generator itself holds no more than CHUNK."""
    chunk = b"\xa5" * CHUNK
    for _ in range(BODY // CHUNK):
        yield chunk


def test_sync_streamed_upload_keeps_memory_flat(server_url: str) -> None:
    """256 MiB from a generator: the request verifies and neither side's RSS grows 32 MiB."""
    with Client(credentials=CREDENTIALS, region=REGION, base_url=server_url) as client:
        client.post("/warm-up", content=b"x")
        with RssSampler() as client_rss:
            response = client.post("/upload", content=chunks())
    result = response.json()
    assert result["ok"], result["error"]
    assert result["body_size"] == BODY
    assert client_rss.growth < LIMIT, client_rss.growth
    assert result["peak_rss_growth"] < LIMIT, result["peak_rss_growth"]


@pytest.mark.anyio
async def test_async_streamed_upload_keeps_memory_flat(server_url: str) -> None:
    """256 MiB from an async iterator through AsyncClient: flat RSS on both sides, verified."""

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks():
            yield chunk

    async with AsyncClient(credentials=CREDENTIALS, region=REGION, base_url=server_url) as client:
        await client.post("/warm-up", content=b"x")
        with RssSampler() as client_rss:
            response = await client.post("/upload", content=body())
    result = response.json()
    assert result["ok"], result["error"]
    assert result["body_size"] == BODY
    assert client_rss.growth < LIMIT, client_rss.growth
    assert result["peak_rss_growth"] < LIMIT, result["peak_rss_growth"]
