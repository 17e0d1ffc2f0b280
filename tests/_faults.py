"""A fault-injecting HTTP/1.1 server on loopback, for the retry tests.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length and chunked request
bodies) on a raw socket, so it can do what an ASGI server will not: reset the
connection before answering, or halfway through an answer. Each request is
checked with ``lattice_client.testing.verify_signature`` (awscrt) over what was
received, and recorded; then the next scripted fault is played:

- an int: answer that status (``Retry-After`` from `FaultServer.retry_after`);
- ``"reset"``: read the request, then close the connection with a TCP reset;
- ``"partial"``: answer 200 with ``Content-Length: 1000``, send 10 bytes, reset.

When the script is empty, it answers 200 with a small JSON body.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from _servers import CREDENTIALS

from lattice_client.testing import SignatureCheck, verify_signature

Fault = int | str


@dataclass(frozen=True)
class Seen:
    """One request as the fault server received it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    check: SignatureCheck | None

    @property
    def verified(self) -> bool:
        return self.check is not None and self.check.ok


class FaultServer:
    """See the module docstring. ``script`` is consumed one fault per request."""

    def __init__(self) -> None:
        self.script: list[Fault] = []
        self.retry_after: str | None = None
        self.received: list[Seen] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def reset(self, *script: Fault, retry_after: str | None = None) -> FaultServer:
        """Forget what was received; play ``script`` next."""
        with self._lock:
            self.script = list(script)
            self.retry_after = retry_after
            self.received.clear()
        return self

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                method, target, headers, body = request
                check = None
                if any(name == "authorization" for name, _ in headers):
                    check = verify_signature(
                        method,
                        target,
                        headers,
                        credentials={CREDENTIALS.access_key_id: CREDENTIALS},
                        now=datetime.now(timezone.utc),
                    )
                with self._lock:
                    self.received.append(Seen(method, target, headers, body, check))
                    fault = self.script.pop(0) if self.script else 200
                    retry_after = self.retry_after
                if fault == "reset":
                    _reset(conn)
                    return
                if fault == "partial":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
                    _reset(conn)
                    return
                assert isinstance(fault, int)
                if fault == 200:
                    payload = json.dumps({"attempt": len(self.received), "body": len(body)})
                    _answer(conn, 200, payload.encode(), [("content-type", "application/json")])
                else:
                    extra = [("retry-after", retry_after)] if retry_after else []
                    _answer(conn, fault, b"upstream unavailable, try again", extra)
        except OSError:
            return
        finally:
            reader.close()
            conn.close()


def _answer(conn: socket.socket, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
    lines = [f"HTTP/1.1 {status} Status", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def _reset(conn: socket.socket) -> None:
    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _read_request(
    reader: object,
) -> tuple[str, str, tuple[tuple[str, str], ...], bytes] | None:
    readline = reader.readline  # type: ignore[attr-defined]
    read = reader.read  # type: ignore[attr-defined]
    line = readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while True:
        line = readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip().lower(), value.strip()))
    fields = dict(headers)
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(readline().split(b";")[0], 16)
            if size == 0:
                while readline() not in (b"\r\n", b""):
                    pass
                break
            body += read(size)
            readline()
    else:
        body = read(int(fields.get("content-length", "0")))
    return method, target, tuple(headers), body


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    """Run a `FaultServer` for the duration of the block."""
    server = FaultServer()
    try:
        yield server
    finally:
        server.close()
