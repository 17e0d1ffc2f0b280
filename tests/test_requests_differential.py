"""The requests and aiohttp adapters on random requests, verified by awscrt over what was received.

The differential suite of tests/test_sign_differential.py compares `lattice_client.sign`
with awscrt for a URL; here the random requests go through each HTTP library for real,
to a loopback server that recomputes every signature with awscrt
(`lattice_client.testing.verify_signature`) over the request line and headers it
received. Whatever requests/urllib3 or aiohttp/yarl do to a path, a query or a header on
the way, the signature must match it.

Inputs no HTTP library sends as given are left out of the strategies: header values with
leading whitespace (requests refuses them), framing headers (``content-length``,
``transfer-encoding``, ``host``, ``connection``), and duplicate names for requests, whose
headers are a dict.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Iterator

import pytest
from _servers import CREDENTIALS, REGION, Received, Served, serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sign_differential import AWSCRT_PATH, QUERY

import lattice_client.aiohttp
import lattice_client.requests

THROUGH_A_LIBRARY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_FRAMING = {"content-length", "transfer-encoding", "host", "connection", "expect", "te"}
_TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
HEADER_NAME = st.one_of(
    st.sampled_from(
        ["accept", "Content-Type", "X-Custom", "x-custom", "user-agent", "x-amz-meta-a"]
    ),
    st.text(_TOKEN_CHARS, min_size=1, max_size=8).map(lambda name: "x-" + name),
).filter(lambda name: name.lower() not in _FRAMING)
HEADER_VALUE = st.text(string.ascii_letters + string.digits + " \t\"',;=:/", max_size=12).map(
    str.lstrip
)
HEADERS = st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=6)
METHOD = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"])
BODY = st.one_of(st.none(), st.binary(max_size=64))


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    """One verifying server (uvicorn) for the module."""
    with serve("HTTP/1.1") as served:
        yield served


def _url(served: Served, path: str, query: str | None) -> str:
    return served.url + path + ("" if query is None else "?" + query)


def _verified(served: Served) -> Received:
    (received,) = served.received
    served.received.clear()
    assert received.check is not None, "not signed"
    assert received.check.ok, (received.target, received.check.error, received.check.message)
    return received


@pytest.fixture(scope="module")
def requests_session() -> Iterator[lattice_client.requests.Session]:
    """One signing requests Session for every example."""
    with lattice_client.requests.Session(credentials=CREDENTIALS, region=REGION) as session:
        yield session


@THROUGH_A_LIBRARY
@given(method=METHOD, path=AWSCRT_PATH, query=st.one_of(st.none(), QUERY), headers=HEADERS)
def test_random_requests_through_requests_verify(
    server: Served,
    requests_session: lattice_client.requests.Session,
    method: str,
    path: str,
    query: str | None,
    headers: list[tuple[str, str]],
) -> None:
    """Any request requests sends is received with a signature awscrt accepts."""
    server.received.clear()
    response = requests_session.request(method, _url(server, path, query), headers=dict(headers))
    assert response.status_code == 200
    _verified(server)


@THROUGH_A_LIBRARY
@given(
    method=METHOD,
    path=AWSCRT_PATH,
    query=st.one_of(st.none(), QUERY),
    headers=HEADERS,
    body=BODY,
)
def test_random_requests_through_aiohttp_verify(
    server: Served,
    method: str,
    path: str,
    query: str | None,
    headers: list[tuple[str, str]],
    body: bytes | None,
) -> None:
    """Any request aiohttp sends (repeated header names included) is received with a
    signature awscrt accepts."""
    server.received.clear()

    async def send() -> int:
        async with (
            lattice_client.aiohttp.ClientSession(credentials=CREDENTIALS, region=REGION) as s,
            s.request(method, _url(server, path, query), headers=headers, data=body) as response,
        ):
            return response.status

    assert asyncio.run(send()) == 200
    _verified(server)
