"""Bodies stream through `LocalLattice` both ways without being buffered.

The stand-in, its target and the client all run in this process, so one RSS
sampler watches all three: a stand-in that buffered the body would grow by its
size. ``benchmarks/local_lattice_memory.py`` runs the same check with 1 GiB.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from _memory import RssSampler, needs_proc

import lattice_client
from lattice_client.testing import LocalLattice

BODY = 192 * 1024 * 1024
CHUNK = 256 * 1024
LIMIT = 32 * 1024 * 1024
pytestmark = needs_proc


async def sink_and_source(scope: dict[str, object], receive: object, send: object) -> None:
    """A target that counts an uploaded body, or streams ``BODY`` bytes back for GET."""
    if scope["type"] != "http":
        return
    received = 0
    while True:
        message = await receive()  # type: ignore[operator]
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    if scope["method"] == "GET":
        chunk = b"\0" * CHUNK
        for _ in range(BODY // CHUNK):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": str(received).encode()})  # type: ignore[operator]


@pytest.fixture(scope="module")
def lattice() -> Iterator[LocalLattice]:
    """A local Lattice in front of the sink."""
    with LocalLattice(app=sink_and_source) as running:
        yield running


def chunks() -> Iterator[bytes]:
    chunk = b"\1" * CHUNK
    for _ in range(BODY // CHUNK):
        yield chunk


def test_streamed_upload_keeps_memory_flat(lattice: LocalLattice) -> None:
    """A 192 MiB signed upload passes through the stand-in while RSS grows far less than that."""
    with lattice_client.Client(
        base_url=lattice.url, credentials=lattice.credentials, region=lattice.region
    ) as client:
        client.get("/warm-up")  # connection pools and buffers exist before the baseline
        with RssSampler() as rss:
            response = client.post(
                "/upload", content=chunks(), headers={"content-length": str(BODY)}
            )
    assert response.status_code == 200
    assert response.text == str(BODY)
    assert rss.growth < LIMIT, f"RSS grew {rss.growth / 2**20:.0f} MiB"


def test_streamed_download_keeps_memory_flat(lattice: LocalLattice) -> None:
    """A 192 MiB response streams back through the stand-in chunk by chunk."""
    with lattice_client.Client(
        base_url=lattice.url, credentials=lattice.credentials, region=lattice.region
    ) as client:
        client.post("/warm-up")
        total = 0
        with RssSampler() as rss, client.stream("GET", "/download") as response:
            for piece in response.iter_raw():
                total += len(piece)
    assert total == BODY + len(b"0")
    assert rss.growth < LIMIT, f"RSS grew {rss.growth / 2**20:.0f} MiB"


def test_chunked_upload_without_length_streams_too(lattice: LocalLattice) -> None:
    """An upload of unknown length (chunked) is forwarded as it arrives, not collected first."""
    headers = lattice_client.sign(
        "POST", lattice.url + "/chunked", credentials=lattice.credentials, region=lattice.region
    )
    with RssSampler() as rss, httpx.Client(trust_env=False) as client:
        response = client.post(lattice.url + "/chunked", headers=headers, content=chunks())
    assert response.text == str(BODY)
    assert rss.growth < LIMIT, f"RSS grew {rss.growth / 2**20:.0f} MiB"
