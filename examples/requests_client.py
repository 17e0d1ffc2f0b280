"""Call a Lattice service with requests: lattice_client.requests.Session and LatticeAdapter.

Run: python examples/requests_client.py   (needs the `requests` and `testing` extras)

Starts a local Lattice (``lattice_client.testing.LocalLattice``: it checks every
signature with awscrt and applies an auth policy, as Lattice does) in front of a
small target on 127.0.0.1, then calls it with requests: a GET with a query, a
streamed upload, a redirect, a caller the policy denies (a typed error), a clock
ten minutes off (recovered), and the adapter mounted on a session of your own.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

import lattice_client
import lattice_client.requests
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
    """The service behind Lattice: echoes what it got; /old-path redirects to /new-path."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    if scope["path"] == "/old-path":
        headers = [(b"location", b"/new-path"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 308, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    body = json.dumps({"path": scope["path"], "body_bytes": size}).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def chunks() -> Iterator[bytes]:
    """A body produced as it is sent: never held in memory whole, never read by the signer."""
    for _ in range(16):
        yield b"x" * 65536


def main() -> None:
    with LocalLattice(app=target, principals=[READER, STRANGER], auth_policy=POLICY) as lattice:
        url = lattice.url
        # A drop-in requests.Session: every request you send is signed for its origin.
        with lattice_client.requests.Session(
            credentials=READER.credentials, region=lattice.region
        ) as session:
            response = session.get(f"{url}/invoices", params={"year": 2026}, timeout=10)
            print("GET          ", lattice_client.raise_for_status(response).json())
            response = session.post(f"{url}/uploads", data=chunks(), timeout=10)
            print("upload       ", lattice_client.raise_for_status(response).json())
            response = session.get(f"{url}/old-path", timeout=10)  # the hop is signed anew
            print("redirect     ", lattice_client.raise_for_status(response).json())

        # A caller the auth policy does not allow: a typed error, also a requests.HTTPError.
        with lattice_client.requests.Session(
            credentials=STRANGER.credentials, region=lattice.region
        ) as session:
            response = session.get(f"{url}/invoices", timeout=10)
        try:
            lattice_client.raise_for_status(response)
        except lattice_client.AccessDeniedError as error:
            also = isinstance(error, requests.HTTPError)
            print("denied       ", error.status_code, error.principal, f"(HTTPError: {also})")

        # This host's clock ten minutes slow: Lattice refuses once, the adapter learns
        # the offset from its Date header, re-signs and re-sends.
        def slow_clock() -> datetime:
            return datetime.now(timezone.utc) - timedelta(minutes=10)

        with lattice_client.requests.Session(
            credentials=READER.credentials, region=lattice.region, clock=slow_clock
        ) as session:
            response = session.put(f"{url}/skewed", data=b"payload", timeout=10)
            print("clock skew   ", lattice_client.raise_for_status(response).json())

        # A session of your own: mount the adapter for both schemes.
        adapter = lattice_client.requests.LatticeAdapter(
            credentials=READER.credentials, region=lattice.region
        )
        with requests.Session() as own:
            own.mount("http://", adapter)
            own.mount("https://", adapter)
            response = own.get(f"{url}/mine", timeout=10)
            print("own session  ", lattice_client.raise_for_status(response).json())


if __name__ == "__main__":
    main()
