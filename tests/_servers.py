"""Real HTTP servers on loopback that check every signature they receive.

`SigningServer` is an ASGI app: it records each request (method, target,
headers as received, body size and hash, the verdict of
``lattice_client.testing.verify_signature``, which recomputes the signature with
awscrt) and answers with the same facts as JSON. It reads bodies chunk by chunk
and keeps nothing but a running hash, so a large upload costs it no memory.

Routes: ``/redirect/<status>?to=<url>`` answers ``status`` with ``Location: <url>``;
every other path echoes. A request in absolute form (``GET http://host/path``) is
treated as one sent to a forward proxy: it is checked as the origin-form request
the proxy would pass on.

Serve it in this process with `uvicorn_server` (HTTP/1.1) or `hypercorn_server`
(HTTP/1.1 and HTTP/2 cleartext with prior knowledge), or in another process with
``python tests/_servers.py [--http2] [--no-verify]`` (prints the port, then serves
until stdin closes): benchmarks use that so the server does not share the GIL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx

from lattice_client import Credentials
from lattice_client.testing import SignatureCheck, verify_signature

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The credentials every test signs with; the server knows the same secret.
CREDENTIALS = Credentials(
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token="session-token-value"
)
REGION = "us-west-2"


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    http_version: str
    body_size: int
    body_sha256: str
    check: SignatureCheck | None  # None: the request carried no authorization
    peak_rss_growth: int  # bytes the server's peak RSS grew while handling it
    proxied: bool  # received in absolute form, as by a forward proxy

    def header(self, name: str) -> list[str]:
        """Every value of header ``name`` (lowercase), in order received."""
        return [value for key, value in self.headers if key == name]

    @property
    def aws_headers(self) -> list[str]:
        """Names of the ``authorization`` and ``x-amz-*`` headers received."""
        return [k for k, _ in self.headers if k == "authorization" or k.startswith("x-amz-")]


class SigningServer:
    """ASGI app that verifies and records every request; see the module docstring."""

    def __init__(
        self,
        credentials: Credentials = CREDENTIALS,
        *,
        verify: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.credentials = {credentials.access_key_id: credentials}
        self.verify = verify
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.received: list[Received] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        before = _peak_rss()
        size, digest = 0, hashlib.sha256()
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            digest.update(chunk)
            if not message.get("more_body", False):
                break
        target = scope["raw_path"].decode("ascii")
        # An absolute-form target means we are being used as a forward proxy: check the
        # origin-form request a proxy would pass on.
        proxied = target.startswith(("http://", "https://"))
        if proxied:
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("ascii")
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
        check = None
        if self.verify and any(name == "authorization" for name, _ in headers):
            check = verify_signature(
                scope["method"], target, headers, credentials=self.credentials, now=self.clock()
            )
        received = Received(
            scope["method"],
            target,
            headers,
            scope["http_version"],
            size,
            digest.hexdigest(),
            check,
            _peak_rss() - before,
            proxied,
        )
        self.received.append(received)

        path = scope["path"]
        if path.startswith("/redirect/"):
            location = parse_qs(scope["query_string"].decode())["to"][0]
            await _respond(
                send, int(path.rsplit("/", 1)[1]), b"", [(b"location", location.encode())]
            )
            return
        body = json.dumps(
            {
                "method": received.method,
                "target": received.target,
                "http_version": received.http_version,
                "body_size": size,
                "body_sha256": received.body_sha256,
                "signed": check is not None,
                "ok": check is not None and check.ok,
                "error": None if check is None else check.error,
                "peak_rss_growth": received.peak_rss_growth,
            }
        ).encode()
        await _respond(send, 200, body, [(b"content-type", b"application/json")])


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _peak_rss() -> int:
    """This process's peak resident set size, in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this on Linux. uvicorn answers in two writes (head, body);
    # with Nagle on, the second waits for the client's delayed ACK: 40 ms a request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextmanager
def uvicorn_server(app: Any, **options: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn (HTTP/1.1) in a thread; yield its base URL.

    ``options`` go to ``uvicorn.Config``: ``ssl_certfile=`` and ``ssl_keyfile=``
    serve HTTPS (the URL then starts with https://).
    """
    import uvicorn

    sock = _listening_socket()
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, **options)
    scheme = "https" if "ssl_certfile" in options else "http"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            threading.Event().wait(0.01)
        yield f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def hypercorn_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with hypercorn in a thread (HTTP/1.1, and h2c with prior knowledge)."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    sock = _listening_socket()
    config = Config()
    # hypercorn closes the descriptor it is given: give it a copy of ours.
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.loglevel = "WARNING"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        await serve(app, config, shutdown_trigger=stop.wait)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
        sock.close()


PROTOCOLS = ("HTTP/1.1", "HTTP/2")


@dataclass(frozen=True)
class Served:
    """A running `SigningServer`, its URL, and clients' settings to reach it."""

    app: SigningServer
    url: str
    http_version: str

    @property
    def http2(self) -> bool:
        """True when clients must speak HTTP/2 with prior knowledge."""
        return self.http_version == "HTTP/2"

    @property
    def authority(self) -> str:
        """``127.0.0.1:<port>``: the Host the server sees."""
        return self.url.split("://", 1)[1]

    @property
    def other_origin(self) -> str:
        """The same server under another host name (``localhost``): a different origin."""
        return self.url.replace("127.0.0.1", "localhost")

    @property
    def received(self) -> list[Received]:
        """Every request received so far."""
        return self.app.received

    def client_options(self) -> dict[str, Any]:
        """``http1=`` / ``http2=`` for an httpx client or transport speaking this protocol."""
        return {"http1": not self.http2, "http2": self.http2}

    def transport(self, **options: Any) -> httpx.HTTPTransport:
        """A plain httpx transport speaking this server's protocol."""
        return httpx.HTTPTransport(http1=not self.http2, http2=self.http2, **options)

    def async_transport(self, **options: Any) -> httpx.AsyncHTTPTransport:
        """A plain async httpx transport speaking this server's protocol."""
        return httpx.AsyncHTTPTransport(http1=not self.http2, http2=self.http2, **options)


@contextmanager
def serve(http_version: str, app: SigningServer | None = None) -> Iterator[Served]:
    """Run a `SigningServer` speaking ``http_version`` ("HTTP/1.1" or "HTTP/2") in a thread."""
    app = app or SigningServer()
    server = hypercorn_server if http_version == "HTTP/2" else uvicorn_server
    with server(app) as url:
        yield Served(app, url, http_version)


@contextmanager
def server_process(*options: str) -> Iterator[str]:
    """Run a `SigningServer` in another process (``--http2``, ``--no-verify``); yield its URL."""
    process = subprocess.Popen(
        [sys.executable, __file__, *options], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        port = process.stdout.readline().decode().strip()
        if not port.isdigit():
            raise RuntimeError("the server process did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def main(argv: list[str]) -> None:
    """Serve `SigningServer` until stdin closes; print the port first (for benchmarks)."""
    app = SigningServer(verify="--no-verify" not in argv)
    with serve("HTTP/2" if "--http2" in argv else "HTTP/1.1", app) as served:
        print(served.url.rsplit(":", 1)[1], flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main(sys.argv[1:])
