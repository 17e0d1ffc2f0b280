"""A large streamed upload through the signing clients keeps memory flat on both ends.

The server runs in its own process and reports how much its peak RSS grew while
it handled the upload; this process samples its own RSS while sending. A client
or server that buffered the body would grow by its size (256 MiB).
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType

import pytest
from _servers import CREDENTIALS, REGION, server_process

from lattice_client import AsyncClient, Client

BODY = 256 * 1024 * 1024
CHUNK = 256 * 1024
LIMIT = 32 * 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/statm").exists(), reason="samples RSS from /proc (Linux)"
)


class RssSampler:
    """The peak growth of this process's resident set size while the block runs."""

    def __init__(self) -> None:
        self.baseline = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._rss())

    @property
    def growth(self) -> int:
        """Bytes of RSS growth at the highest sample."""
        return self.peak - self.baseline

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


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
