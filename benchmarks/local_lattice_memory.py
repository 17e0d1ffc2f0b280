"""A 1 GiB streamed upload and download through the local Lattice, against the target direct.

Run: .venv/bin/python benchmarks/local_lattice_memory.py  (needs the `testing` extra; about
a minute)

A sink/source target (hypercorn, in a thread) counts uploaded bytes and streams
1 GiB back on GET. The same signed lattice_client.Client transfers 1 GiB each
way, once straight to the target (the baseline) and once through
`lattice_client.testing.LocalLattice` in front of it (signature verified, auth
policy evaluated, body streamed through httpx). Client, stand-in and target
share this process, so one RSS sampler sees all of them: flat memory means the
growth stays near the baseline's, far below 1 GiB. Throughput is reported as a
ratio to the baseline (the stand-in adds one more hop in the same process).
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import threading
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import lattice_client
from lattice_client.testing import LocalLattice

BODY = 1024 * 1024 * 1024
CHUNK = 256 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


async def sink_and_source(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """Counts an uploaded body; streams BODY bytes back for GET."""
    if scope["type"] != "http":
        return
    received = 0
    while True:
        message = await receive()
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    if scope["method"] == "GET":
        chunk = b"\0" * CHUNK
        for _ in range(BODY // CHUNK):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": str(received).encode()})


def serve_target() -> str:
    """Serve the sink with hypercorn in a daemon thread; return its URL."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.errorlog = None
    app: Any = sink_and_source

    async def run() -> None:
        # A shutdown trigger that never fires also stops hypercorn from installing
        # signal handlers, which only the main thread may do.
        await serve(app, config, shutdown_trigger=asyncio.Event().wait)

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    return f"http://127.0.0.1:{port}"


class Rss:
    """Peak growth of this process's RSS while the block runs."""

    def __init__(self) -> None:
        self.baseline = self.peak = self.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> Rss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def chunks() -> Iterator[bytes]:
    chunk = b"\1" * CHUNK
    for _ in range(BODY // CHUNK):
        yield chunk


def transfer(
    url: str, credentials: lattice_client.Credentials, direction: str
) -> tuple[float, int]:
    """Seconds and peak RSS growth for moving BODY bytes ``direction`` ("upload"/"download")."""
    with lattice_client.Client(
        base_url=url, credentials=credentials, region="us-west-2", timeout=30
    ) as client:
        client.get("/warm-up", params={"small": "1"}).raise_for_status()
        with Rss() as rss:
            start = time.perf_counter()
            if direction == "upload":
                response = client.post(
                    "/upload", content=chunks(), headers={"content-length": str(BODY)}
                )
                assert response.text == str(BODY), response.text[:200]
            else:
                total = 0
                with client.stream("GET", "/download") as streamed:
                    for piece in streamed.iter_raw():
                        total += len(piece)
                assert total >= BODY
            seconds = time.perf_counter() - start
    return seconds, rss.peak - rss.baseline


def main() -> None:
    target = serve_target()
    print(f"Python {platform.python_version()}, {platform.machine()}, 1 GiB each way")
    print(f"{'path':<34}{'MiB/s':>8}{'ratio':>8}{'peak RSS growth':>18}")
    with LocalLattice(target) as lattice:
        for direction in ("upload", "download"):
            base_s, base_rss = transfer(target, lattice.credentials, direction)
            via_s, via_rss = transfer(lattice.url, lattice.credentials, direction)
            for name, seconds, growth in (
                (f"{direction}: direct to target", base_s, base_rss),
                (f"{direction}: through LocalLattice", via_s, via_rss),
            ):
                rate = BODY / 2**20 / seconds
                print(f"{name:<34}{rate:>8.0f}{base_s / seconds:>8.2f}{growth / 2**20:>14.1f} MiB")
            if via_rss > 64 * 2**20:
                raise SystemExit(
                    f"{direction} through the stand-in grew RSS by {via_rss >> 20} MiB"
                )


if __name__ == "__main__":
    main()
