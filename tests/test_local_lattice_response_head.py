"""Responses through LocalLattice look like one server's: one ``date``, the target's
``server``, and status lines with their reason phrase."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from _servers import uvicorn_server

import lattice_client
from lattice_client.testing import LocalLattice


async def target(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A plain ASGI service; uvicorn adds its own ``date`` and ``server: uvicorn``."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def lattice() -> Iterator[LocalLattice]:
    with uvicorn_server(target) as url, LocalLattice(url) as lattice:
        yield lattice


def _raw_head(lattice: LocalLattice, request: bytes) -> tuple[str, list[tuple[str, str]]]:
    """The status line and headers exactly as they came over the wire."""
    address = urlsplit(lattice.url)
    assert address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            assert chunk, "connection closed before the response head"
            data += chunk
    status, *lines = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    fields = [(n.strip().lower(), v.strip()) for n, _, v in (line.partition(":") for line in lines)]
    return status, fields


def _signed_get(lattice: LocalLattice) -> bytes:
    signed = lattice_client.sign(
        "GET", lattice.url + "/", credentials=lattice.credentials, region=lattice.region
    )
    host = urlsplit(lattice.url).netloc
    lines = ["GET / HTTP/1.1", f"host: {host}", *(f"{n}: {v}" for n, v in signed.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_forwarded_answer_has_one_date_and_the_targets_server(lattice: LocalLattice) -> None:
    status, fields = _raw_head(lattice, _signed_get(lattice))
    assert status == "HTTP/1.1 200 OK"
    names = [name for name, _ in fields]
    assert names.count("date") == 1
    assert [v for n, v in fields if n == "server"] == ["uvicorn"]


def test_latticess_own_answer_has_a_reason_phrase_and_one_date(lattice: LocalLattice) -> None:
    host = urlsplit(lattice.url).netloc
    status, fields = _raw_head(lattice, f"GET / HTTP/1.1\r\nhost: {host}\r\n\r\n".encode())
    assert status == "HTTP/1.1 403 Forbidden"
    dates = [v for n, v in fields if n == "date"]
    assert len(dates) == 1
    said = parsedate_to_datetime(dates[0])
    assert abs((said - datetime.now(timezone.utc)).total_seconds()) < 60
    assert "hypercorn" not in dict(fields).get("server", "")


def test_httpx_names_the_status(lattice: LocalLattice) -> None:
    response = httpx.get(lattice.url + "/")  # unsigned: Lattice's 403
    with pytest.raises(httpx.HTTPStatusError, match=r"Client error '403 Forbidden'"):
        response.raise_for_status()


def test_over_http2_one_date_and_the_targets_server(lattice: LocalLattice) -> None:
    with lattice_client.Client(
        base_url=lattice.url,
        credentials=lattice.credentials,
        region=lattice.region,
        http1=False,
        http2=True,
    ) as client:
        response = client.get("/")
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200
    names = [name.lower() for name, _ in response.headers.multi_items()]
    assert names.count("date") == 1
    assert response.headers.get_list("server") == ["uvicorn"]


def test_the_date_is_the_stand_ins_clock() -> None:
    """A client measures clock skew against ``date``: it follows the stand-in's clock."""
    then = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with LocalLattice(clock=lambda: then) as lattice:
        response = httpx.get(lattice.url + "/")
    assert response.status_code == 403
    assert parsedate_to_datetime(response.headers["date"]) == then
