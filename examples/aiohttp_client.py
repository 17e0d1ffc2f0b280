"""Call a Lattice service with aiohttp: lattice_client.aiohttp.ClientSession and its middleware.

Run: python examples/aiohttp_client.py   (needs the `aiohttp` and `testing` extras)

Starts a local Lattice (``lattice_client.testing.LocalLattice``: it checks every
signature with awscrt and applies an auth policy, as Lattice does) in front of a
small target on 127.0.0.1, then calls it with aiohttp: concurrent GETs, a
streamed upload from an async generator, a caller the policy denies (a typed
error), a clock ten minutes fast (recovered), and the middleware in a session of
your own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp

import lattice_client
import lattice_client.aiohttp
from lattice_client.testing import LocalLattice, Principal

Message = MutableMapping[str, Any]

READER = Principal.generate("arn:aws:sts::111122223333:assumed-role/reader/example")
STRANGER = Principal.generate("arn:aws:sts::444455556666:assumed-role/stranger/example")
POLICY = {
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


async def target(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """The service behind Lattice: echoes the path and the body's size."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = json.dumps({"path": scope["path"], "body_bytes": size}).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def chunks() -> AsyncIterator[bytes]:
    """A body produced as it is sent: never held in memory whole, never read by the signer."""
    for _ in range(16):
        yield b"x" * 65536


async def call(lattice: LocalLattice) -> None:
    # An aiohttp.ClientSession with the signing middleware installed; base_url's
    # origin is signed for.
    async with lattice_client.aiohttp.ClientSession(
        lattice.url, credentials=READER.credentials, region=lattice.region
    ) as session:

        async def get(path: str) -> Any:
            async with session.get(path) as response:
                await lattice_client.araise_for_status(response)
                return await response.json()

        for answer in await asyncio.gather(*(get(f"/orders/{n}") for n in range(3))):
            print("GET          ", answer)
        async with session.post("/uploads", data=chunks()) as response:
            await lattice_client.araise_for_status(response)
            print("upload       ", await response.json())

    # A caller the auth policy does not allow: a typed error, also a ClientResponseError.
    async with (
        lattice_client.aiohttp.ClientSession(
            lattice.url, credentials=STRANGER.credentials, region=lattice.region
        ) as session,
        session.get("/invoices") as response,
    ):
        try:
            await lattice_client.araise_for_status(response)
        except lattice_client.AccessDeniedError as error:
            also = isinstance(error, aiohttp.ClientResponseError)
            print(
                "denied       ",
                error.status_code,
                error.principal,
                f"(ClientResponseError: {also})",
            )

    # This host's clock ten minutes fast: refused once, re-signed with Lattice's time.
    def fast_clock() -> datetime:
        return datetime.now(timezone.utc) + timedelta(minutes=10)

    async with (
        lattice_client.aiohttp.ClientSession(
            lattice.url, credentials=READER.credentials, region=lattice.region, clock=fast_clock
        ) as session,
        session.put("/skewed", data=b"payload") as response,
    ):
        await lattice_client.araise_for_status(response)
        print("clock skew   ", await response.json())

    # A session of your own: add the middleware.
    signer = lattice_client.aiohttp.SigningMiddleware(
        credentials=READER.credentials, region=lattice.region
    )
    async with (
        aiohttp.ClientSession(middlewares=[signer]) as session,
        session.get(f"{lattice.url}/mine") as response,
    ):
        await lattice_client.araise_for_status(response)
        print("own session  ", await response.json())


def main() -> None:
    with LocalLattice(app=target, principals=[READER, STRANGER], auth_policy=POLICY) as lattice:
        asyncio.run(call(lattice))


if __name__ == "__main__":
    main()
