"""A generated Lattice name that does not resolve here gets an error that says why.

The resolver is overridden in this process (socket.getaddrinfo fails for the
name, as a resolver outside the service network's VPCs does): no DNS query
leaves the machine.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
from typing import Any

import httpx
import pytest
from _servers import CREDENTIALS

import lattice_client
from lattice_client._curl import main as curl_main

GENERATED = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
CUSTOM = "billing.invalid"


@pytest.fixture(autouse=True)
def names_do_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode("ascii") if isinstance(host, bytes) else str(host)
        if name in (GENERATED, CUSTOM):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_unresolved_generated_name_is_a_typed_error_with_the_reason() -> None:
    """Also an httpx.ConnectError, so existing handlers still catch it."""
    client = lattice_client.Client(credentials=CREDENTIALS)
    with client, pytest.raises(lattice_client.ServiceNameNotResolvedError) as caught:
        client.get(f"https://{GENERATED}/x")
    assert isinstance(caught.value, httpx.ConnectError)
    assert caught.value.host == GENERATED
    assert "associated with the service network" in str(caught.value)


@pytest.mark.anyio
async def test_async_unresolved_generated_name_is_a_typed_error() -> None:
    async with lattice_client.AsyncClient(credentials=CREDENTIALS) as client:
        with pytest.raises(lattice_client.ServiceNameNotResolvedError):
            await client.get(f"https://{GENERATED}/x")


def test_other_unresolved_names_keep_httpx_error() -> None:
    """A custom domain that does not resolve is a plain httpx.ConnectError: no Lattice hint."""
    client = lattice_client.Client(credentials=CREDENTIALS, region="us-west-2")
    with client, pytest.raises(httpx.ConnectError) as caught:
        client.get(f"https://{CUSTOM}/x")
    assert not isinstance(caught.value, lattice_client.ServiceNameNotResolvedError)


def run_curl(monkeypatch: pytest.MonkeyPatch, url: str) -> tuple[int, str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_access_key)
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = curl_main(["-s", "-S", "-o", os.devnull, url])
    return status, err.getvalue()


def test_curl_exits_6_with_the_same_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """curl's "could not resolve host" code, with the reason for a generated name."""
    status, err = run_curl(monkeypatch, f"https://{GENERATED}/x")
    assert status == 6
    assert "associated with the service network" in err
    status, err = run_curl(monkeypatch, f"https://{CUSTOM}/x")
    assert status == 6
    assert "could not resolve host" in err
