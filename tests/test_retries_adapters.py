"""Opt-in retries on the requests adapter and the aiohttp middleware (issue 15).

The same semantics as on httpx (tests/test_retries.py), through the same loop
(`lattice_client._resend`): against the fault-injecting server on loopback,
which checks every attempt's signature with awscrt over what it received.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import requests
from _faults import FaultServer, fault_server
from _servers import CREDENTIALS, REGION

import lattice_client
import lattice_client.aiohttp
import lattice_client.requests
from lattice_client import BodyNotReplayableError, Retries, ServiceUnavailableError

FAST = Retries(backoff=0.01, max_backoff=0.05)
ALWAYS_503 = [503] * 1000
BOUNDED = Retries(attempts=100, total=3, backoff=0.1, max_backoff=0.3)


@pytest.fixture(scope="module")
def _server() -> Iterator[FaultServer]:
    with fault_server() as server:
        yield server


@pytest.fixture
def server(_server: FaultServer) -> FaultServer:
    return _server.reset()


def _session(retries: object = FAST) -> lattice_client.requests.Session:
    return lattice_client.requests.Session(
        credentials=CREDENTIALS,
        region=REGION,
        retries=retries,  # type: ignore[arg-type]
    )


def _aiohttp(retries: object = FAST, **options: object) -> aiohttp.ClientSession:
    return lattice_client.aiohttp.ClientSession(
        credentials=CREDENTIALS,
        region=REGION,
        retries=retries,  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


# -- requests ------------------------------------------------------------------------------------


def test_requests_two_503s_then_success(server: FaultServer) -> None:
    """503, 503, 200: the caller gets the 200; each of the three attempts was signed validly."""
    server.reset(503, 503)
    with _session() as session:
        response = session.get(f"{server.url}/orders", params={"page": "2"})
    assert response.status_code == 200
    assert response.json()["attempt"] == 3
    assert len(server.received) == 3
    assert all(seen.verified for seen in server.received), [s.check for s in server.received]


def test_requests_without_retries_a_503_comes_back_as_is(server: FaultServer) -> None:
    server.reset(503)
    with _session(retries=None) as session:
        assert session.get(server.url).status_code == 503
    assert len(server.received) == 1


def test_requests_post_is_not_retried_unless_allowed(server: FaultServer) -> None:
    server.reset(503)
    with _session() as session:
        assert session.post(f"{server.url}/orders", data=b"x").status_code == 503
    assert len(server.received) == 1

    server.reset(503)
    with _session(Retries(backoff=0.01, methods={"GET", "POST"})) as session:
        response = session.post(f"{server.url}/orders", data=b"x")
    assert response.status_code == 200
    assert [seen.body for seen in server.received] == [b"x", b"x"]


def test_requests_generator_body_is_not_retried(server: FaultServer) -> None:
    """A generator body: one typed error (also the 503's and a requests.HTTPError); one send."""

    def body() -> Iterator[bytes]:
        yield b"once "
        yield b"only"

    server.reset(503)
    with _session() as session, pytest.raises(BodyNotReplayableError) as caught:
        session.put(f"{server.url}/upload", data=body())
    assert isinstance(caught.value, ServiceUnavailableError)
    assert isinstance(caught.value, requests.HTTPError)
    assert caught.value.reason == "retry"
    assert [seen.body for seen in server.received] == [b"once only"]


def test_requests_seekable_file_body_is_rewound(server: FaultServer) -> None:
    """A file opened by the caller is rewound for the retry: both attempts carry it whole."""
    import io

    server.reset(503)
    with _session() as session:
        response = session.put(f"{server.url}/upload", data=io.BytesIO(b"file body"))
    assert response.status_code == 200
    assert [seen.body for seen in server.received] == [b"file body"] * 2


def test_requests_retry_after_is_honoured(server: FaultServer) -> None:
    server.reset(503, retry_after="2")
    with _session() as session:
        started = time.monotonic()
        assert session.get(server.url).status_code == 200
        elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 4.0
    assert len(server.received) == 2


def test_requests_total_bound_stops_with_the_attempt_count(server: FaultServer) -> None:
    """Always 503 and total=3: the typed error after about 3 s, carrying the attempts made."""
    server.reset(*ALWAYS_503)
    with _session(BOUNDED) as session:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError) as caught:
            session.get(f"{server.url}/health")
        elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 4.5
    error = caught.value
    assert error.attempts == len(server.received) > 3
    assert f"after {error.attempts} attempts" in str(error)
    assert isinstance(error, requests.HTTPError)
    assert error.response.status_code == 503
    assert all(seen.verified for seen in server.received)


def test_requests_reset_before_the_response_is_retried(server: FaultServer) -> None:
    server.reset("reset")
    with _session() as session:
        assert session.get(f"{server.url}/orders").status_code == 200
    assert len(server.received) == 2
    assert all(seen.verified for seen in server.received)


def test_requests_reset_of_a_post_is_not_retried(server: FaultServer) -> None:
    server.reset("reset")
    with _session() as session, pytest.raises(requests.ConnectionError):
        session.post(f"{server.url}/orders", data=b"x")
    assert len(server.received) == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_requests_failed_connects_are_retried_and_counted() -> None:
    """Nothing listens: a failed connect sent nothing, so even a POST is tried again."""
    with (
        _session(Retries(attempts=3, backoff=0.01)) as session,
        pytest.raises(requests.ConnectionError) as caught,
    ):
        session.post(f"http://127.0.0.1:{_closed_port()}/orders", data=b"x")
    assert caught.value.attempts == 3  # type: ignore[attr-defined]


def test_requests_retries_and_max_retries_together_are_refused() -> None:
    with pytest.raises(lattice_client.ConfigurationError, match="max_retries"):
        lattice_client.requests.LatticeAdapter(
            credentials=CREDENTIALS, region=REGION, retries=True, max_retries=3
        )


def test_requests_bad_retries_option_is_a_configuration_error() -> None:
    with pytest.raises(lattice_client.ConfigurationError, match="retries="):
        _session(retries="yes")


# -- aiohttp -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_aiohttp_two_503s_then_success(server: FaultServer) -> None:
    server.reset(503, 502)
    async with _aiohttp() as session, session.get(f"{server.url}/orders?page=2") as response:
        assert response.status == 200
        assert (await response.json())["attempt"] == 3
    assert len(server.received) == 3
    assert all(seen.verified for seen in server.received), [s.check for s in server.received]


@pytest.mark.anyio
async def test_aiohttp_post_is_not_retried_unless_allowed(server: FaultServer) -> None:
    server.reset(503)
    async with _aiohttp() as session, session.post(server.url, data=b"x") as response:
        assert response.status == 503
    assert len(server.received) == 1

    server.reset(503)
    async with (
        _aiohttp(Retries(backoff=0.01, methods={"GET", "POST"})) as session,
        session.post(server.url, data=b"x") as response,
    ):
        assert response.status == 200
    assert [seen.body for seen in server.received] == [b"x", b"x"]


@pytest.mark.anyio
async def test_aiohttp_generator_body_is_not_retried(server: FaultServer) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"once "
        yield b"only"

    server.reset(503)
    async with _aiohttp() as session:
        with pytest.raises(BodyNotReplayableError) as caught:
            await session.put(f"{server.url}/upload", data=body())
    assert isinstance(caught.value, ServiceUnavailableError)
    assert isinstance(caught.value, aiohttp.ClientResponseError)
    assert caught.value.reason == "retry"
    assert [seen.body for seen in server.received] == [b"once only"]


@pytest.mark.anyio
async def test_aiohttp_retry_after_is_honoured(server: FaultServer) -> None:
    server.reset(429, retry_after="2")
    async with _aiohttp() as session:
        started = time.monotonic()
        async with session.get(server.url) as response:
            assert response.status == 200
        elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 4.0
    assert len(server.received) == 2


@pytest.mark.anyio
async def test_aiohttp_total_bound_stops_with_the_attempt_count(server: FaultServer) -> None:
    server.reset(*ALWAYS_503)
    async with _aiohttp(BOUNDED) as session:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError) as caught:
            await session.get(f"{server.url}/health")
        elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 4.5
    error = caught.value
    assert error.attempts == len(server.received) > 3
    assert f"after {error.attempts} attempts" in str(error)
    assert isinstance(error, aiohttp.ClientResponseError)
    assert all(seen.verified for seen in server.received)


@pytest.mark.anyio
async def test_aiohttp_session_timeout_bounds_the_retries(server: FaultServer) -> None:
    """ClientTimeout(total=1) ends the retries before Retries.total, with the typed error."""
    server.reset(*ALWAYS_503)
    retries = Retries(attempts=100, total=30, backoff=0.1, max_backoff=0.2)
    timeout = aiohttp.ClientTimeout(total=1.0)
    async with _aiohttp(retries, timeout=timeout) as session:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError):
            await session.get(server.url)
    assert time.monotonic() - started < 2.0


@pytest.mark.anyio
async def test_aiohttp_reset_before_the_response_is_retried(server: FaultServer) -> None:
    server.reset("reset")
    async with _aiohttp() as session, session.get(f"{server.url}/orders") as response:
        assert response.status == 200
    assert len(server.received) == 2
    assert all(seen.verified for seen in server.received)


@pytest.mark.anyio
async def test_aiohttp_reset_of_a_post_is_not_retried(server: FaultServer) -> None:
    server.reset("reset")
    async with _aiohttp() as session:
        with pytest.raises(aiohttp.ClientError):
            await session.post(f"{server.url}/orders", data=b"x")
    assert len(server.received) == 1


@pytest.mark.anyio
async def test_aiohttp_failed_connects_are_retried_and_counted() -> None:
    async with _aiohttp(Retries(attempts=3, backoff=0.01)) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.post(f"http://127.0.0.1:{_closed_port()}/orders", data=b"x")
    assert caught.value.attempts == 3  # type: ignore[attr-defined]


def test_nothing_retry_related_is_imported_until_retries_are_on() -> None:
    """Importing and using the adapters without retries= loads no retry module."""
    import subprocess

    code = (
        "import sys, lattice_client.requests, lattice_client.aiohttp\n"
        "lattice_client.requests.Session(region='us-west-2', credentials=None)\n"
        "print(sorted(m for m in sys.modules if m.startswith('lattice_client._re')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "lattice_client._retries" not in out
    assert "lattice_client._requests_resend" not in out
    assert "lattice_client._aiohttp_resend" not in out
