"""Lattice's own refusals (plain HTTP, no gRPC status) arrive as typed errors that are RpcErrors.

A bare HTTP/2 server on loopback answers as Lattice does, so grpcio produces its real
``Received http2 header with status: <N>`` errors, sync and aio, for every call kind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest
from _grpc_support import (
    AUTHORITY,
    CREDENTIALS,
    DENIAL_BODY,
    SERVICE,
    pb2,
    pb2_grpc,
    refusing_server,
)

import lattice_client
import lattice_client.grpc
import lattice_client.grpc.aio

REFUSALS = [
    (403, lattice_client.AccessDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (404, lattice_client.NotFoundError, grpc.StatusCode.UNIMPLEMENTED),
    (500, lattice_client.InternalServerError, grpc.StatusCode.UNKNOWN),
    (502, lattice_client.ServiceUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (503, lattice_client.ServiceUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (504, lattice_client.ServiceUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (400, lattice_client.LatticeResponseError, grpc.StatusCode.INTERNAL),
]


def _requests() -> Iterator[Any]:
    yield pb2.EchoRequest(text="x")


async def _arequests() -> AsyncIterator[Any]:
    yield pb2.EchoRequest(text="x")


def _check(error: BaseException, status: int, cls: type[Exception], code: grpc.StatusCode) -> None:
    assert isinstance(error, cls)
    assert isinstance(error, lattice_client.grpc.LatticeRpcError)
    assert isinstance(error, grpc.RpcError)
    assert error.status_code == status
    assert error.code() == code
    assert error.details() == f"Received http2 header with status: {status}"
    assert f"HTTP {status}" in str(error)
    assert f"/{SERVICE}/" in str(error)


def _helper_channel(port: int) -> grpc.Channel:
    return lattice_client.grpc.insecure_channel(
        f"127.0.0.1:{port}", authority=AUTHORITY, aws_credentials=CREDENTIALS
    )


def _intercepted_channel(port: int) -> grpc.Channel:
    return grpc.intercept_channel(
        grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.default_authority", AUTHORITY)]),
        lattice_client.grpc.SigningInterceptor(AUTHORITY, credentials=CREDENTIALS),
    )


@pytest.mark.parametrize("make_channel", [_helper_channel, _intercepted_channel])
@pytest.mark.parametrize(("status", "cls", "code"), REFUSALS)
def test_sync_refusals_are_typed_for_every_call_kind(
    status: int,
    cls: type[Exception],
    code: grpc.StatusCode,
    make_channel: Callable[[int], grpc.Channel],
) -> None:
    """Blocking, with_call, future and streaming calls raise the typed refusal, through the
    channel helper and through SigningInterceptor alike."""
    with refusing_server(status) as server, make_channel(server.port) as channel:
        stub = pb2_grpc.EchoStub(channel)
        attempts: list[Callable[[], object]] = [
            lambda: stub.Say(pb2.EchoRequest(text="x")),
            lambda: stub.Say.with_call(pb2.EchoRequest(text="x")),
            lambda: stub.Say.future(pb2.EchoRequest(text="x")).result(timeout=10),
            lambda: list(stub.Repeat(pb2.EchoRequest(count=1))),
            lambda: stub.Count(_requests()),
            lambda: stub.Count.future(_requests()).result(timeout=10),
            lambda: list(stub.Chat(_requests())),
        ]
        for attempt in attempts:
            with pytest.raises(cls) as raised:
                attempt()
            _check(raised.value, status, cls, code)

        future = stub.Say.future(pb2.EchoRequest(text="x"))
        error = future.exception(timeout=10)
        assert error is not None
        _check(error, status, cls, code)

    assert len(server.requests) == len(attempts) + 1
    for request in server.requests:
        assert request[":authority"] == AUTHORITY
        assert request["authorization"].startswith("AWS4-HMAC-SHA256 ")


def _aio_helper_channel(port: int) -> grpc.aio.Channel:
    return lattice_client.grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", authority=AUTHORITY, aws_credentials=CREDENTIALS
    )


def _aio_intercepted_channel(port: int) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        f"127.0.0.1:{port}",
        options=[("grpc.default_authority", AUTHORITY)],
        interceptors=lattice_client.grpc.aio.signing_interceptors(
            AUTHORITY, credentials=CREDENTIALS
        ),
    )


@pytest.mark.anyio
@pytest.mark.parametrize("make_channel", [_aio_helper_channel, _aio_intercepted_channel])
@pytest.mark.parametrize(("status", "cls", "code"), REFUSALS)
async def test_aio_refusals_are_typed_for_every_call_kind(
    make_channel: Callable[[int], grpc.aio.Channel],
    status: int,
    cls: type[Exception],
    code: grpc.StatusCode,
) -> None:
    """grpc.aio calls of each kind raise the typed refusal, which is also an AioRpcError."""
    with refusing_server(status) as server:
        async with make_channel(server.port) as channel:
            stub = pb2_grpc.EchoStub(channel)
            errors: list[BaseException] = []
            with pytest.raises(cls) as unary:
                await stub.Say(pb2.EchoRequest(text="x"))
            errors.append(unary.value)
            with pytest.raises(cls) as server_stream:
                [_ async for _ in stub.Repeat(pb2.EchoRequest(count=1))]
            errors.append(server_stream.value)
            with pytest.raises(cls) as read:
                await stub.Repeat(pb2.EchoRequest(count=1)).read()
            errors.append(read.value)
            with pytest.raises(cls) as client_stream:
                await stub.Count(_arequests())
            errors.append(client_stream.value)
            with pytest.raises(cls) as bidi:
                [_ async for _ in stub.Chat(_arequests())]
            errors.append(bidi.value)

            call = stub.Say(pb2.EchoRequest(text="x"))
            with pytest.raises(cls):
                await call
            # The call object answers like grpc's own; `except AioRpcError` keeps working.
            assert await call.code() == code

    for error in errors:
        _check(error, status, cls, code)
        assert isinstance(error, grpc.aio.AioRpcError)
    assert all(r[":authority"] == AUTHORITY for r in server.requests)


def test_access_denied_says_why_the_principal_is_unknown() -> None:
    """The gRPC AccessDeniedError says grpcio dropped the body and points to the access logs."""
    with (
        refusing_server(403, DENIAL_BODY, early=True) as server,
        lattice_client.grpc.insecure_channel(
            f"127.0.0.1:{server.port}", authority=AUTHORITY, aws_credentials=CREDENTIALS
        ) as channel,
        pytest.raises(lattice_client.AccessDeniedError) as raised,
    ):
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="x"))

    message = str(raised.value)
    assert "grpcio drops the body" in message
    assert "access logs" in message
    assert f"/{SERVICE}/Say on {AUTHORITY}" in message
    # Nothing is guessed: the principal in the body never reached us.
    assert raised.value.principal is None
    assert raised.value.policy_type is None
    assert "assumed-role" not in message
    assert str(CREDENTIALS.session_token) not in message + repr(raised.value)
    assert raised.value.body == b""


def test_except_rpc_error_still_catches_refusals() -> None:
    """Code written against grpc.RpcError keeps working: code() and details() as grpc says."""
    with (
        refusing_server(503, b"no healthy target", early=True) as server,
        lattice_client.grpc.insecure_channel(
            f"127.0.0.1:{server.port}", authority=AUTHORITY, aws_credentials=CREDENTIALS
        ) as channel,
        pytest.raises(grpc.RpcError) as raised,
    ):
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="x"))

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert isinstance(raised.value, lattice_client.ServiceUnavailableError)
