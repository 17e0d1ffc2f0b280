"""Many concurrent callers through `LocalLattice` while credentials rotate every few ms.

Every request must pass the stand-in's independent verification, reach the target
with the principal whose key signed it and that principal's own session token (no
request signed with one set's key and another's token or secret), and file
descriptors and memory must come back to where they were.

Full size (the numbers of issue #13: 200 async tasks x 50 requests, 16 threads x 150
requests) with ``LATTICE_LOAD_SCALE=1``: about 5 minutes on 2 shared cores, where
clients, stand-in and target share one interpreter (~40 requests/s). CI runs 6% of
the requests by default (same 216 concurrent callers, same rotation; ~20 s).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _memory import RssSampler, needs_proc

import lattice_client
from lattice_client.testing import LocalLattice, Principal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SCALE = float(os.environ.get("LATTICE_LOAD_SCALE", "0.06"))
TASKS, TASK_REQUESTS = 200, max(1, round(50 * SCALE))
THREADS, THREAD_REQUESTS = 16, max(1, round(150 * SCALE))
ROTATE_EVERY = 0.003  # seconds
WARM_UP = 20

PRINCIPALS = [
    Principal.generate(f"arn:aws:sts::111122223333:assumed-role/load/session-{i}") for i in range(8)
]
OWNER_OF_TOKEN = {str(p.credentials.session_token): p.arn for p in PRINCIPALS}


class Rotating:
    """A credentials provider whose answer changes every few milliseconds."""

    def __init__(self) -> None:
        self.handed_out: Counter[str] = Counter()
        self._lock = threading.Lock()

    def get_credentials(self) -> lattice_client.Credentials:
        principal = PRINCIPALS[int(time.monotonic() / ROTATE_EVERY) % len(PRINCIPALS)]
        with self._lock:
            self.handed_out[principal.arn] += 1
        return principal.credentials


async def whoami(scope: Scope, receive: Receive, send: Send) -> None:
    """The principal Lattice told the target about, and the token that came with it."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body", False):
        pass
    headers = [(k.decode(), v.decode()) for k, v in scope["headers"]]
    seen = {
        "principal": lattice_client.parse_lattice_headers(headers).identity.principal,
        "token": dict(headers).get("x-amz-security-token"),
    }
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(seen).encode()})


def check(response: Any) -> str:
    """The answer's principal, after checking it is the owner of the token that was sent."""
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["principal"] == OWNER_OF_TOKEN[seen["token"]], "mixed credentials"
    return str(seen["principal"])


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@needs_proc
def test_concurrent_callers_with_rotating_credentials_are_each_verified_as_themselves() -> None:
    """Async tasks and threads, credentials rotating: every request verified, none mixed."""
    provider = Rotating()
    gc.collect()
    fds_before = open_fds()
    with LocalLattice(app=whoami, principals=PRINCIPALS) as lattice:
        options: dict[str, Any] = {
            "base_url": lattice.url,
            "credentials": provider,
            "region": lattice.region,
            "timeout": 120,
        }

        def threads() -> list[str]:
            with lattice_client.Client(**options) as client:

                def worker(_: int) -> list[str]:
                    return [check(client.get(f"/t/{i}")) for i in range(THREAD_REQUESTS)]

                with ThreadPoolExecutor(THREADS) as pool:
                    return [arn for batch in pool.map(worker, range(THREADS)) for arn in batch]

        async def tasks() -> list[str]:
            limits = lattice_client_limits()
            async with lattice_client.AsyncClient(**options, limits=limits) as client:

                async def worker() -> list[str]:
                    return [check(await client.get(f"/a/{i}")) for i in range(TASK_REQUESTS)]

                batches = await asyncio.gather(*(worker() for _ in range(TASKS)))
                return [arn for batch in batches for arn in batch]

        # Warm up (imports, first connections, the awscrt verifier), then take the baseline.
        asyncio.run(asyncio.wait_for(tasks_once(options), 60))
        gc.collect()
        with RssSampler() as rss:
            started = time.monotonic()
            both: dict[str, list[str]] = {}
            runner = threading.Thread(target=lambda: both.setdefault("threads", threads()))
            runner.start()
            both["tasks"] = asyncio.run(tasks())
            runner.join()
            elapsed = time.monotonic() - started
        gc.collect()
        rss_after = RssSampler().baseline
        log = lattice.access_log
    gc.collect()
    fds_after = open_fds()  # the stand-in, its target and every connection closed

    total = TASKS * TASK_REQUESTS + THREADS * THREAD_REQUESTS
    print(
        f"\n{total} requests in {elapsed:.1f} s ({total / elapsed:.0f}/s), RSS peak "
        f"+{rss.growth >> 20} MiB, after +{(rss_after - rss.baseline) >> 20} MiB, "
        f"fds {fds_before} -> {fds_after}"
    )
    assert len(both["tasks"]) + len(both["threads"]) == total
    # The rotation really happened under load: several principals signed requests.
    assert len(set(both["tasks"]) | set(both["threads"])) >= 2, provider.handed_out
    # Every request the stand-in logged (the last 10,000, warm-up included) was let through.
    assert len(log) == min(total + WARM_UP, 10_000)
    assert {record["responseCode"] for record in log} == {200}
    assert fds_after <= fds_before + 2, (fds_before, fds_after)
    # Peak growth is bounded, and what is left after the run is small (allocator slack).
    assert rss.growth < 200 * 1024 * 1024, rss.growth
    assert rss_after - rss.baseline < 48 * 1024 * 1024, (rss.baseline, rss_after)


async def tasks_once(options: dict[str, Any]) -> None:
    async with lattice_client.AsyncClient(**options) as client:
        await asyncio.gather(*(client.get("/warm") for _ in range(WARM_UP)))


def lattice_client_limits() -> Any:
    import httpx

    # One connection per task at most: the point is concurrency through the stand-in,
    # not a pool queue in front of it.
    return httpx.Limits(max_connections=TASKS, max_keepalive_connections=TASKS)
