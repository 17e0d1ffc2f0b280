"""Opt-in retries on the httpx clients, against a fault-injecting server on loopback.

Lattice answers 503 in bursts while a target group rolls (issue 15). With
``retries=`` a client sends again after failed connects, resets before the
answer and 429/502/503/504, re-signing each attempt; the server checks every
attempt's signature with awscrt over what it received.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from _faults import FaultServer, fault_server
from _servers import CREDENTIALS, REGION

import lattice_client
from lattice_client import BodyNotReplayableError, Retries, ServiceUnavailableError
from lattice_client._resend import DEADLINE_EXTENSION

FAST = Retries(backoff=0.01, max_backoff=0.05)


@pytest.fixture(scope="module")
def _server() -> Iterator[FaultServer]:
    with fault_server() as server:
        yield server


@pytest.fixture
def server(_server: FaultServer) -> FaultServer:
    return _server.reset()


def _client(
    server: FaultServer, retries: object = FAST, **options: object
) -> lattice_client.Client:
    return lattice_client.Client(
        base_url=server.url,
        credentials=CREDENTIALS,
        region=REGION,
        retries=retries,  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


def _async_client(server: FaultServer, retries: object = FAST) -> lattice_client.AsyncClient:
    return lattice_client.AsyncClient(
        base_url=server.url,
        credentials=CREDENTIALS,
        region=REGION,
        retries=retries,  # type: ignore[arg-type]
    )


def test_two_503s_then_success_succeeds_on_the_third_attempt(server: FaultServer) -> None:
    """503, 503, 200: the caller gets the 200; each of the three attempts was signed validly."""
    server.reset(503, 503)
    with _client(server) as client:
        response = client.get("/orders", params={"page": "2"})
    assert response.status_code == 200
    assert response.json()["attempt"] == 3
    assert len(server.received) == 3
    assert all(seen.verified for seen in server.received), [s.check for s in server.received]


@pytest.mark.anyio
async def test_two_503s_then_success_succeeds_on_the_third_attempt_async(
    server: FaultServer,
) -> None:
    """The async client retries the same way, every attempt verified."""
    server.reset(503, 502)
    async with _async_client(server) as client:
        response = await client.put("/orders/1", content=b"order")
    assert response.status_code == 200
    assert [seen.body for seen in server.received] == [b"order"] * 3
    assert all(seen.verified for seen in server.received)


def test_without_retries_a_503_comes_back_as_is(server: FaultServer) -> None:
    """Retries are opt-in: by default one attempt, the 503 returned."""
    server.reset(503)
    with _client(server, retries=None) as client:
        assert client.get("/").status_code == 503
    assert len(server.received) == 1


def test_post_is_not_retried_unless_allowed(server: FaultServer) -> None:
    """A POST may have acted: its 503 is returned after one attempt, unless methods= allows it."""
    server.reset(503)
    with _client(server) as client:
        assert client.post("/orders", content=b"x").status_code == 503
    assert len(server.received) == 1

    server.reset(503)
    allowed = Retries(backoff=0.01, methods={"get", "post"})
    with _client(server, retries=allowed) as client:
        assert client.post("/orders", content=b"x").status_code == 200
    assert len(server.received) == 2


@pytest.mark.anyio
async def test_post_is_not_retried_unless_allowed_async(server: FaultServer) -> None:
    server.reset(503)
    async with _async_client(server) as client:
        assert (await client.post("/orders", content=b"x")).status_code == 503
    assert len(server.received) == 1


def test_generator_body_is_not_retried(server: FaultServer) -> None:
    """A generator body gets one typed error (also the 503's); only the first attempt goes out."""

    def body() -> Iterator[bytes]:
        yield b"once "
        yield b"only"

    server.reset(503)
    with _client(server) as client, pytest.raises(BodyNotReplayableError) as caught:
        client.put("/upload", content=body())
    assert isinstance(caught.value, ServiceUnavailableError)
    assert caught.value.reason == "retry"
    assert caught.value.status_code == 503
    assert [seen.body for seen in server.received] == [b"once only"]


@pytest.mark.anyio
async def test_generator_body_is_not_retried_async(server: FaultServer) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"once only"

    server.reset(503)
    async with _async_client(server) as client:
        with pytest.raises(BodyNotReplayableError):
            await client.put("/upload", content=body())
    assert len(server.received) == 1


def test_retry_after_is_honoured(server: FaultServer) -> None:
    """Retry-After: 2 makes the client wait about 2 s before the second attempt."""
    server.reset(503, retry_after="2")
    with _client(server) as client:
        started = time.monotonic()
        assert client.get("/").status_code == 200
        elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 4.0
    assert len(server.received) == 2


@pytest.mark.anyio
async def test_retry_after_is_honoured_async(server: FaultServer) -> None:
    server.reset(429, retry_after="2")
    async with _async_client(server) as client:
        started = time.monotonic()
        assert (await client.get("/")).status_code == 200
        elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 4.0


def test_retry_after_beyond_the_total_bound_stops_at_once(server: FaultServer) -> None:
    """A Retry-After longer than the time left is not waited for: the typed error comes now."""
    server.reset(503, retry_after="60")
    with _client(server, retries=Retries(total=5)) as client:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError) as caught:
            client.get("/")
    assert time.monotonic() - started < 1.0
    assert caught.value.attempts == 1


def test_total_bound_stops_at_about_5_s_with_the_attempt_count(server: FaultServer) -> None:
    """Always 503 and total=5: the typed error after about 5 s, carrying the attempts made."""
    server.reset(*[503] * 1000)
    retries = Retries(attempts=100, total=5, backoff=0.2, max_backoff=0.5)
    with _client(server, retries=retries) as client:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError) as caught:
            client.get("/health")
        elapsed = time.monotonic() - started
    assert 4.0 <= elapsed < 6.5
    error = caught.value
    assert error.attempts == len(server.received) > 5
    assert f"after {error.attempts} attempts" in str(error)
    assert isinstance(error, httpx.HTTPStatusError)
    assert error.response.status_code == 503


@pytest.mark.anyio
async def test_total_bound_stops_at_about_5_s_with_the_attempt_count_async(
    server: FaultServer,
) -> None:
    server.reset(*[503] * 1000)
    retries = Retries(attempts=100, total=5, backoff=0.2, max_backoff=0.5)
    async with _async_client(server, retries=retries) as client:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError) as caught:
            await client.get("/health")
        elapsed = time.monotonic() - started
    assert 4.0 <= elapsed < 6.5
    assert caught.value.attempts == len(server.received) > 5


def test_attempts_cap_raises_the_last_answers_error(server: FaultServer) -> None:
    """attempts=3 against a 504 that does not go away: three sends, then GatewayTimeout's error."""
    server.reset(504, 504, 504, 504)
    retries = Retries(attempts=3, backoff=0.01)
    with (
        _client(server, retries=retries) as client,
        pytest.raises(ServiceUnavailableError) as caught,
    ):
        client.delete("/orders/1")
    assert caught.value.attempts == 3
    assert caught.value.status_code == 504
    assert len(server.received) == 3


def test_a_call_deadline_bounds_the_retries(server: FaultServer) -> None:
    """A deadline on the request (as aws_lambda.deadline sets) ends the retries before total."""
    server.reset(*[503] * 1000)
    retries = Retries(attempts=100, total=30, backoff=0.1, max_backoff=0.2)
    with _client(server, retries=retries) as client:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError):
            client.get("/", extensions={DEADLINE_EXTENSION: started + 1.0})
    assert time.monotonic() - started < 2.0


def test_connection_reset_before_the_response_is_retried(server: FaultServer) -> None:
    """The server reads the request and resets: the GET is sent again and succeeds."""
    server.reset("reset")
    with _client(server) as client:
        response = client.get("/orders")
    assert response.status_code == 200
    assert len(server.received) == 2
    assert all(seen.verified for seen in server.received)


@pytest.mark.anyio
async def test_connection_reset_before_the_response_is_retried_async(server: FaultServer) -> None:
    server.reset("reset")
    async with _async_client(server) as client:
        assert (await client.get("/orders")).status_code == 200
    assert len(server.received) == 2


def test_reset_after_part_of_the_response_is_not_retried(server: FaultServer) -> None:
    """Once part of the answer arrived, the request is not sent again: the caller gets the error."""
    server.reset("partial")
    with _client(server) as client, pytest.raises(httpx.TransportError):
        client.get("/orders")
    assert len(server.received) == 1


@pytest.mark.anyio
async def test_reset_after_part_of_the_response_is_not_retried_async(server: FaultServer) -> None:
    server.reset("partial")
    async with _async_client(server) as client:
        with pytest.raises(httpx.TransportError):
            await client.get("/orders")
    assert len(server.received) == 1


def test_reset_of_a_post_is_not_retried(server: FaultServer) -> None:
    """A reset after a POST went out: the server may have acted on it, so no retry."""
    server.reset("reset")
    with _client(server) as client, pytest.raises(httpx.TransportError):
        client.post("/orders", content=b"x")
    assert len(server.received) == 1


def test_failed_connects_are_retried_and_counted() -> None:
    """Nothing listens: each attempt fails to connect; the error says how many were made."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    retries = Retries(attempts=3, backoff=0.01)
    with (
        lattice_client.Client(
            base_url=f"http://127.0.0.1:{port}",
            credentials=CREDENTIALS,
            region=REGION,
            retries=retries,
        ) as client,
        pytest.raises(httpx.ConnectError) as caught,
    ):
        client.post("/orders", content=b"x")  # a failed connect sent nothing: any method
    assert caught.value.attempts == 3  # type: ignore[attr-defined]


def test_each_retry_is_logged_at_info_without_secrets(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    """One INFO line per retry, naming method, URL without query and cause; no secret, no token."""
    server.reset(503, "reset")
    with caplog.at_level(logging.INFO, logger="lattice_client"), _client(server) as client:
        client.get("/orders", params={"X-Amz-Signature": "presigned-secret"})
    lines = [r.getMessage() for r in caplog.records if r.name == "lattice_client"]
    assert len(lines) == 2
    assert lines[0].startswith(f"retrying GET {server.url}/orders after 503: attempt 2 of 5")
    assert "after ReadError" in lines[1] or "after RemoteProtocolError" in lines[1]
    text = "\n".join(lines)
    for secret in (CREDENTIALS.secret_access_key, "session-token-value", "presigned-secret"):
        assert secret not in text
    signature = server.received[0].headers
    assert all(value not in text for name, value in signature if name == "authorization")


def test_retries_true_means_the_defaults(server: FaultServer) -> None:
    """retries=True is Retries(): five attempts within 30 s."""
    server.reset(503)
    with _client(server, retries=True) as client:
        assert client.get("/").status_code == 200
    assert len(server.received) == 2


def test_the_transport_takes_retries_too(server: FaultServer) -> None:
    """LatticeTransport(retries=...) under a plain httpx.Client retries the same way."""
    server.reset(503)
    transport = lattice_client.LatticeTransport(
        credentials=CREDENTIALS, region=REGION, signing_hosts=["127.0.0.1"], retries=FAST
    )
    with httpx.Client(transport=transport, base_url=server.url) as client:
        assert client.get("/").status_code == 200
    assert len(server.received) == 2
    assert all(seen.verified for seen in server.received)


@pytest.mark.parametrize(
    "bad",
    [Retries, "yes", 3, {"attempts": 3}],
    ids=["class", "str", "int", "dict"],
)
def test_a_bad_retries_option_is_a_configuration_error(bad: object) -> None:
    with pytest.raises(lattice_client.ConfigurationError, match="retries="):
        lattice_client.Client(credentials=CREDENTIALS, region=REGION, retries=bad)  # type: ignore[arg-type]


def _wsgi_service(environ: dict[str, object], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"invoices"]


def test_retries_ride_out_a_flapping_local_lattice() -> None:
    """LocalLattice.flap(requests=2): Lattice's own 503 twice, then the target; all signed."""
    from lattice_client.testing import LocalLattice

    with (
        LocalLattice(app=_wsgi_service) as lattice,
        lattice_client.Client(
            base_url=lattice.url,
            credentials=lattice.credentials,
            region=lattice.region,
            retries=FAST,
        ) as client,
    ):
        lattice.flap(requests=2)
        response = client.get("/invoices")
        log = list(lattice.access_log)
    assert response.text == "invoices"
    assert [record["responseCode"] for record in log] == [503, 503, 200]
    assert all(record["authDeniedReason"] == "-" for record in log)


@pytest.mark.anyio
async def test_retries_ride_out_a_flapping_local_lattice_async() -> None:
    from lattice_client.testing import LocalLattice

    with LocalLattice(app=_wsgi_service) as lattice:
        async with lattice_client.AsyncClient(
            base_url=lattice.url,
            credentials=lattice.credentials,
            region=lattice.region,
            retries=FAST,
        ) as client:
            lattice.flap(requests=2)
            response = await client.get("/invoices")
        log = list(lattice.access_log)
    assert response.text == "invoices"
    assert [record["responseCode"] for record in log] == [503, 503, 200]
