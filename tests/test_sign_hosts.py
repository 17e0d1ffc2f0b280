"""``sign()`` signs the host that is sent, and hands back headers that are safe to print.

A signature from ``sign()`` is sent by httpx to a loopback server under each host
name (a resolver override maps them to 127.0.0.1: no DNS query leaves), and the
server checks it with awscrt over the Host header it actually received.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _servers import CREDENTIALS, REGION, SigningServer, uvicorn_server

import lattice_client

HOSTS = ("straße.example", "ς.example", "münchen.example", "API.Example.COM", "api.example.com.")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SigningServer, int]]:
    app = SigningServer()
    with uvicorn_server(app) as url:
        yield app, int(url.rsplit(":", 1)[1])


@pytest.fixture
def loopback_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every *.example and example.com name resolves to 127.0.0.1, here only."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode("ascii") if isinstance(host, bytes) else str(host)
        if name.rstrip(".").endswith((".example", "example.com")):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.usefixtures("loopback_names")
@pytest.mark.parametrize("host", HOSTS)
def test_signature_verifies_over_the_host_httpx_sends(
    server: tuple[SigningServer, int], host: str
) -> None:
    """IDNA 2008 (UTS 46) as httpx, curl and browsers: ß and final sigma are kept, not mapped."""
    app, port = server
    app.received.clear()
    url = f"http://{host}:{port}/path?q=1"
    headers = lattice_client.sign("GET", url, credentials=CREDENTIALS, region=REGION)
    httpx.get(url, headers=dict(headers))
    (received,) = app.received
    assert received.check is not None
    assert received.check.ok, (received.header("host"), received.check.message)


def test_sign_returns_a_dict_whose_repr_hides_the_secrets() -> None:
    """print() or a log of the headers shows neither the token nor the signature."""
    headers = lattice_client.sign(
        "GET", "https://api.example.com/x", credentials=CREDENTIALS, region=REGION
    )
    assert isinstance(headers, dict)
    token = CREDENTIALS.session_token
    signature = headers["authorization"].rpartition("Signature=")[2]
    assert token
    assert headers["x-amz-security-token"] == token
    assert len(signature) == 64
    for text in (repr(headers), str(headers), f"{headers}"):
        assert token not in text
        assert signature not in text
        assert "Credential=AKIDEXAMPLE/" in text  # the rest stays readable
    assert dict(headers)["x-amz-security-token"] == token  # the values are intact
