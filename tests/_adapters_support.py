"""Shared by the requests and aiohttp tests: a LocalLattice target and its principals."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from lattice_client.testing import Principal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

READER = Principal.generate("arn:aws:sts::111122223333:assumed-role/reader/adapters")
STRANGER = Principal.generate("arn:aws:sts::444455556666:assumed-role/stranger/adapters")
# Only READER may invoke the service.
READER_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": READER.arn},
            "Action": "vpc-lattice-svcs:Invoke",
            "Resource": "*",
        }
    ],
}


async def echo_app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """A target answering with the method, path and body size it received."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = json.dumps({"method": scope["method"], "path": scope["path"], "size": size}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def statuses_since(log: list[dict[str, Any]], before: int, count: int) -> list[int]:
    """The response codes of the access-log entries after the first ``before``, once ``count``
    are there (the stand-in writes an entry just after answering)."""
    import time

    deadline = time.monotonic() + 5
    while len(log) < before + count and time.monotonic() < deadline:
        time.sleep(0.01)
    return [entry["responseCode"] for entry in log[before:]]


BIG_ERROR = b"AccessDeniedException: " + b"x" * (200 * 1024)


async def big_error_app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Answers 403 with a 200 KiB body in several chunks, without Content-Length."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 403, "headers": []})
    for start in range(0, len(BIG_ERROR), 16 * 1024):
        chunk = BIG_ERROR[start : start + 16 * 1024]
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
