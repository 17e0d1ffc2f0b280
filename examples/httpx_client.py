"""Call a Lattice-style service with lattice_client.Client and AsyncClient.

Run: python examples/httpx_client.py   (needs the `testing` extra for the checking server)

Starts a small HTTP server on 127.0.0.1 that does what a Lattice service with
IAM auth does first: it checks each request's SigV4 signature (with
``lattice_client.testing.verify_signature``, which recomputes it with awscrt)
and answers 403 when it is missing or wrong. Then it calls that server with the
sync and the async client: a GET with a query, a streamed upload, and a redirect.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lattice_client
from lattice_client.testing import verify_signature

# AWS's documented example key pair: not a real account.
CREDENTIALS = lattice_client.Credentials(
    access_key_id="AKIDEXAMPLE",
    secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
)
# A custom domain carries no region: say which one the service is in.
REGION = "us-west-2"


class CheckingHandler(BaseHTTPRequestHandler):
    """Checks each request's signature as Lattice would; echoes what it saw as JSON."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def handle_any(self) -> None:
        size = self.read_body()
        check = verify_signature(
            self.command,
            self.path,
            list(self.headers.items()),
            credentials={CREDENTIALS.access_key_id: CREDENTIALS},
        )
        if self.path.startswith("/old-path"):
            self.answer(308, b"", location="/new-path")
            return
        if not check.ok:
            self.answer(403, f"{check.error}: {check.message}".encode())
            return
        body = {"path": self.path, "body_bytes": size, "region": check.region}
        self.answer(200, json.dumps(body).encode())

    def read_body(self) -> int:
        """Read (and drop) the body, chunked or not; return its size."""
        if "chunked" not in self.headers.get("transfer-encoding", ""):
            return len(self.rfile.read(int(self.headers.get("content-length", 0))))
        size = 0
        while chunk_size := int(self.rfile.readline().split(b";")[0], 16):
            size += len(self.rfile.read(chunk_size))
            self.rfile.readline()
        self.rfile.readline()
        return size

    def answer(self, status: int, body: bytes, location: str | None = None) -> None:
        self.send_response(status)
        if location:
            self.send_header("location", location)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the example prints what matters."""


def chunks() -> Iterator[bytes]:
    """A body produced as it is sent: never held in memory whole."""
    for _ in range(16):
        yield b"x" * 65536


async def async_chunks() -> AsyncIterator[bytes]:
    for chunk in chunks():
        yield chunk


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), CheckingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"

    # Everything httpx.Client takes, plus the signing options. The base_url's host
    # is signed for; requests to any other host go out without a signature.
    with lattice_client.Client(
        base_url=base_url, credentials=CREDENTIALS, region=REGION, follow_redirects=True
    ) as client:
        response = client.get("/invoices", params={"year": 2026})
        print("sync GET      ", response.status_code, response.json())
        assert response.status_code == 200
        response = client.post("/uploads", content=chunks())
        print("sync upload   ", response.status_code, response.json())
        assert response.status_code == 200
        response = client.get("/old-path")  # redirected; the new hop is signed anew
        print("sync redirect ", response.status_code, response.json())
        assert response.status_code == 200

    async def call_async() -> None:
        async with lattice_client.AsyncClient(
            base_url=base_url, credentials=CREDENTIALS, region=REGION
        ) as client:
            responses = await asyncio.gather(*(client.get(f"/orders/{n}") for n in range(3)))
            for response in responses:
                print("async GET     ", response.status_code, response.json())
                assert response.status_code == 200
            response = await client.post("/uploads", content=async_chunks())
            print("async upload  ", response.status_code, response.json())
            assert response.status_code == 200

    asyncio.run(call_async())
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
