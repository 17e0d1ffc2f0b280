"""Ride out Lattice's 503 bursts with retries=, and keep streamed bodies safe.

Run: python examples/retries.py   (needs the `testing` extra for the checking server)

Starts a small HTTP server on 127.0.0.1 that behaves like a Lattice service
during a rolling update of its target group: it checks each request's SigV4
signature (``lattice_client.testing.verify_signature``, awscrt) and answers the
first two requests to each path with 503 (the second one with ``Retry-After: 1``),
then 200. Then it shows, with the sync and the async client:

- a GET that succeeds on its third attempt, each attempt signed anew;
- a POST, not retried unless ``methods=`` allows it;
- a generator body, which is never sent twice: one typed error instead;
- a file body on a 307 redirect, rewound and sent whole again;
- the same retries on a requests ``Session`` and an aiohttp ``ClientSession``
  (the extras ``requests`` and ``aiohttp``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import lattice_client
from lattice_client.testing import verify_signature

# AWS's documented example key pair: not a real account.
CREDENTIALS = lattice_client.Credentials(
    access_key_id="AKIDEXAMPLE",
    secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
)
REGION = "us-west-2"

# Short waits for the example; the defaults are Retries() (5 attempts within 30 s).
RETRIES = lattice_client.Retries(attempts=4, total=10, backoff=0.1, max_backoff=1)


class RollingUpdate(BaseHTTPRequestHandler):
    """503 twice per path (the second with Retry-After: 1), then 200; checks every signature."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[Counter[str]] = Counter()
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_GET(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def do_PUT(self) -> None:
        self.handle_any()

    def handle_any(self) -> None:
        size = self.read_body()
        check = verify_signature(
            self.command,
            self.path,
            list(self.headers.items()),
            credentials={CREDENTIALS.access_key_id: CREDENTIALS},
        )
        if not check.ok:
            self.answer(403, f"{check.error}: {check.message}".encode())
            return
        if self.path.startswith("/moved"):
            self.answer(307, b"", [("location", "/files")])
            return
        with self.lock:
            self.seen[self.path] += 1
            attempt = self.seen[self.path]
        if attempt <= 2:
            retry_after = [("retry-after", "1")] if attempt == 2 else []
            self.answer(503, b"no healthy targets while the group rolls", retry_after)
            return
        body = {"path": self.path, "attempt": attempt, "body_bytes": size}
        self.answer(200, json.dumps(body).encode())

    def read_body(self) -> int:
        if "chunked" not in self.headers.get("transfer-encoding", ""):
            return len(self.rfile.read(int(self.headers.get("content-length", 0))))
        size = 0
        while chunk_size := int(self.rfile.readline().split(b";")[0], 16):
            size += len(self.rfile.read(chunk_size))
            self.rfile.readline()
        self.rfile.readline()
        return size

    def answer(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the example prints what matters."""


def generated() -> Iterator[bytes]:
    yield b"produced once, "
    yield b"sent once"


def main() -> None:
    # Each retry is logged at INFO by the "lattice_client" logger, without secrets.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("  log: %(message)s"))
    logging.getLogger("lattice_client").addHandler(handler)
    logging.getLogger("lattice_client").setLevel(logging.INFO)
    server = ThreadingHTTPServer(("127.0.0.1", 0), RollingUpdate)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"

    with lattice_client.Client(
        base_url=base_url, credentials=CREDENTIALS, region=REGION, retries=RETRIES
    ) as client:
        response = client.get("/orders")
        print("GET after two 503s     ", response.status_code, response.json())
        assert response.json()["attempt"] == 3

        # POST is not idempotent: its 503 comes back as is...
        response = client.post("/payments", content=b"pay 10")
        print("POST, not retried      ", response.status_code)
        assert response.status_code == 503

        # ...and a generator body is never sent twice, not even for a PUT.
        try:
            client.put("/stream", content=generated())
        except lattice_client.BodyNotReplayableError as error:
            # Also the 503's typed error: `except ServiceUnavailableError` catches it too.
            also = isinstance(error, lattice_client.ServiceUnavailableError)
            print("generator body         ", type(error).__name__, error.reason, also)

        # A file you opened can seek: rewound and sent whole on the redirect's next hop.
        with tempfile.TemporaryFile() as file:
            file.write(b"x" * 100_000)
            file.seek(0)
            response = client.put("/moved", content=file, follow_redirects=True)
        print("file across a 307      ", response.status_code, response.json())
        assert response.json()["body_bytes"] == 100_000

    allowed = lattice_client.Retries(methods={"GET", "POST"}, backoff=0.1, max_backoff=1)

    async def call_async() -> None:
        async with lattice_client.AsyncClient(
            base_url=base_url, credentials=CREDENTIALS, region=REGION, retries=allowed
        ) as client:
            response = await client.post("/refunds", content=b"refund 10")
            print("async POST, allowed    ", response.status_code, response.json())
            assert response.json()["attempt"] == 3

    asyncio.run(call_async())
    requests_and_aiohttp(base_url)
    server.shutdown()
    server.server_close()


def requests_and_aiohttp(base_url: str) -> None:
    """The same Retries on the requests and aiohttp adapters: one meaning on every stack."""
    import lattice_client.aiohttp
    import lattice_client.requests

    with lattice_client.requests.Session(
        credentials=CREDENTIALS, region=REGION, retries=RETRIES
    ) as session:
        response = session.get(f"{base_url}/requests/orders", timeout=10)
        print("requests GET           ", response.status_code, response.json())
        assert response.json()["attempt"] == 3
        try:
            session.put(f"{base_url}/requests/stream", data=generated(), timeout=10)
        except lattice_client.BodyNotReplayableError as error:
            print("requests generator body", type(error).__name__, error.reason)

    async def call_aiohttp() -> None:
        async with (
            lattice_client.aiohttp.ClientSession(
                credentials=CREDENTIALS, region=REGION, retries=RETRIES
            ) as session,
            session.get(f"{base_url}/aiohttp/orders") as response,
        ):
            body = json.loads(await response.read())
            print("aiohttp GET            ", response.status, body)
            assert body["attempt"] == 3

    asyncio.run(call_aiohttp())


if __name__ == "__main__":
    main()
