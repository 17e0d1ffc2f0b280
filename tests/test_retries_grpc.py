"""gRPC retries: grpcio's service-config retryPolicy on the signed channel helpers.

A real grpcio server answers UNAVAILABLE twice, then OK; the calls go through
the wire tap, which verifies every attempt's signature over the HTTP/2 headers
as sent. grpcio re-sends the call's metadata on each attempt: one signature,
valid on all of them because they leave within seconds.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import grpc.aio
import pytest
from _grpc_support import AUTHORITY, CREDENTIALS, WireTap, pb2, pb2_grpc

import lattice_client
import lattice_client.grpc
import lattice_client.grpc.aio
from lattice_client import Retries

FAST = Retries(backoff=0.01, max_backoff=0.05)


class Flaky(pb2_grpc.EchoServicer):  # type: ignore[misc,name-defined]
    """Say answers UNAVAILABLE ``failures`` times, then echoes."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self._lock = threading.Lock()

    def Say(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.calls += 1
            fail = self.calls <= self.failures
        if fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "draining")
        return pb2.EchoReply(text=request.text, count=self.calls)


@contextlib.contextmanager
def flaky_server(failures: int) -> Iterator[tuple[WireTap, Flaky]]:
    service = Flaky(failures)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb2_grpc.add_EchoServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    tap = WireTap(port)
    try:
        yield tap, service
    finally:
        tap.close()
        server.stop(None).wait(10)


def test_unavailable_twice_then_ok_succeeds_every_attempt_verified() -> None:
    """With retries=, the third attempt succeeds; the tap verified all three signatures."""
    with flaky_server(2) as (tap, service):
        channel = lattice_client.grpc.insecure_channel(
            f"127.0.0.1:{tap.port}", authority=AUTHORITY, aws_credentials=CREDENTIALS, retries=FAST
        )
        with channel:
            reply = pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="hi"), timeout=10)
    assert reply.count == 3
    assert service.calls == 3
    assert len(tap.calls) == 3
    assert all(call.check.ok for call in tap.calls), [call.check for call in tap.calls]


def test_without_retries_unavailable_reaches_the_caller() -> None:
    with flaky_server(1) as (tap, service):
        channel = lattice_client.grpc.insecure_channel(
            f"127.0.0.1:{tap.port}", authority=AUTHORITY, aws_credentials=CREDENTIALS
        )
        with channel, pytest.raises(grpc.RpcError) as caught:
            pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="hi"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert service.calls == 1


def test_attempts_cap_gives_the_last_status() -> None:
    """attempts=2 against three UNAVAILABLE: two attempts, then UNAVAILABLE."""
    with flaky_server(3) as (tap, service):
        channel = lattice_client.grpc.insecure_channel(
            f"127.0.0.1:{tap.port}",
            authority=AUTHORITY,
            aws_credentials=CREDENTIALS,
            retries=Retries(attempts=2, backoff=0.01),
        )
        with channel, pytest.raises(grpc.RpcError) as caught:
            pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="hi"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert service.calls == 2


@pytest.mark.anyio
async def test_aio_channel_retries_unavailable_every_attempt_verified() -> None:
    with flaky_server(2) as (tap, service):
        async with lattice_client.grpc.aio.insecure_channel(
            f"127.0.0.1:{tap.port}", authority=AUTHORITY, aws_credentials=CREDENTIALS, retries=FAST
        ) as channel:
            reply = await pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="hi"), timeout=10)
    assert reply.count == 3
    assert service.calls == 3
    assert len(tap.calls) == 3
    assert all(call.check.ok for call in tap.calls)


def test_the_service_config_carries_the_retry_policy() -> None:
    """What the helpers add: one methodConfig for every method, from Retries."""
    from lattice_client.grpc._channel import with_retry_policy

    options = with_retry_policy([("grpc.default_authority", "a")], Retries(attempts=3))
    config = json.loads(dict(options)["grpc.service_config"])
    (method,) = config["methodConfig"]
    assert method["name"] == [{}]
    assert method["retryPolicy"]["maxAttempts"] == 3
    assert with_retry_policy([], None) == []
    assert with_retry_policy([], Retries(attempts=1)) == []


@pytest.mark.parametrize(
    "options",
    [[("grpc.service_config", "{}")], [("grpc.enable_retries", 0)]],
    ids=["service_config", "enable_retries"],
)
def test_conflicting_channel_options_are_refused(options: list[tuple[str, Any]]) -> None:
    with pytest.raises(lattice_client.ConfigurationError, match="retries="):
        lattice_client.grpc.insecure_channel(
            "127.0.0.1:1",
            authority=AUTHORITY,
            aws_credentials=CREDENTIALS,
            options=options,
            retries=True,
        )


def test_lattices_own_503_is_retried_and_raises_the_typed_error() -> None:
    """Lattice's plain-HTTP 503 (no grpc-status) is UNAVAILABLE to grpcio: retried, then typed."""
    from _grpc_support import refusing_server

    with refusing_server(503, b"no healthy targets") as server:
        channel = lattice_client.grpc.insecure_channel(
            f"127.0.0.1:{server.port}",
            authority=AUTHORITY,
            aws_credentials=CREDENTIALS,
            retries=Retries(attempts=3, backoff=0.01),
        )
        with channel, pytest.raises(lattice_client.ServiceUnavailableError) as caught:
            pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="hi"), timeout=10)
    assert caught.value.status_code == 503
    assert len(server.requests) == 3
