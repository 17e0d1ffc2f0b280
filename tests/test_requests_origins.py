"""The origin rule's redirect matrix through lattice_client.requests and lattice_client.aiohttp.

The same matrix as tests/test_origins.py runs for the httpx entry points: each
redirect status against each kind of target (same origin, another host, another
port, https to http, an allowed origin), on real loopback servers (plain and TLS)
that check every signature with awscrt over what they received.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

import pytest
import trustme
from _servers import CREDENTIALS, REGION, SigningServer, uvicorn_server
from test_origins import STATUSES, TARGETS, Origins, allowed, check_hops, start_and_target

import lattice_client.aiohttp
import lattice_client.requests


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Origins, str]]:
    """Two plain servers and a TLS one sharing one recording app; and the CA's file."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    certfile, keyfile, cafile = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(cafile))
    context = ssl.create_default_context(cafile=str(cafile))
    app = SigningServer()
    with (
        uvicorn_server(app) as plain,
        uvicorn_server(app) as other_port,
        uvicorn_server(app, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)) as tls,
    ):
        yield Origins(app, plain, other_port, tls, context), str(cafile)


@pytest.fixture
def live(served: tuple[Origins, str], monkeypatch: pytest.MonkeyPatch) -> tuple[Origins, str]:
    served[0].received.clear()
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return served


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("status", STATUSES)
def test_redirect_matrix_requests(live: tuple[Origins, str], target: str, status: int) -> None:
    """Through requests: a hop is signed only on the first origin or an allowed one."""
    origins, cafile = live
    start, to = start_and_target(origins, target)
    with lattice_client.requests.Session(
        credentials=CREDENTIALS, region=REGION, signing_origins=allowed(origins, target)
    ) as session:
        response = session.post(
            f"{start}/redirect/{status}",
            params={"to": f"{to}/landed"},
            data=b"payload",
            headers={"x-amz-meta-note": "the caller's"},
            verify=cafile,
        )
    assert response.status_code == 200
    check_hops(origins, target)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("status", STATUSES)
def test_redirect_matrix_aiohttp(live: tuple[Origins, str], target: str, status: int) -> None:
    """Through aiohttp: the same rule for every hop."""
    origins, _ = live
    start, to = start_and_target(origins, target)

    async def send() -> int:
        async with (
            lattice_client.aiohttp.ClientSession(
                credentials=CREDENTIALS, region=REGION, signing_origins=allowed(origins, target)
            ) as session,
            session.post(
                f"{start}/redirect/{status}",
                params={"to": f"{to}/landed"},
                data=b"payload",
                headers={"x-amz-meta-note": "the caller's"},
                ssl=origins.tls_context,
            ) as response,
        ):
            return response.status

    assert asyncio.run(send()) == 200
    check_hops(origins, target)
