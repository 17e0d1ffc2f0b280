"""gRPC through `LocalLattice`: signed calls verified, trailers (`grpc-status`) forwarded."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

import lattice_client
from lattice_client.testing import LocalLattice


def _identity(data: bytes) -> bytes:
    return data


def _say(request: bytes, context: grpc.ServicerContext) -> bytes:
    metadata = dict(context.invocation_metadata())
    return str(metadata.get("x-amzn-lattice-identity", "")).encode() + b"|" + request


def _count(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield b"one"
    yield b"two"
    context.abort(grpc.StatusCode.NOT_FOUND, "no such counter")


def _fail(request: bytes, context: grpc.ServicerContext) -> bytes:
    context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not ready")


def _total(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
    return str(sum(len(r) for r in requests)).encode()


@pytest.fixture(scope="module")
def grpc_target() -> Iterator[int]:
    """A plain grpcio server on loopback (raw bytes, no protobuf needed); yields its port."""
    handler = grpc.method_handlers_generic_handler(
        "demo.Echo",
        {
            "Say": grpc.unary_unary_rpc_method_handler(_say, _identity, _identity),
            "Count": grpc.unary_stream_rpc_method_handler(_count, _identity, _identity),
            "Total": grpc.stream_unary_rpc_method_handler(_total, _identity, _identity),
            "Fail": grpc.unary_unary_rpc_method_handler(_fail, _identity, _identity),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(None)


@pytest.fixture(scope="module")
def lattice(grpc_target: int) -> Iterator[LocalLattice]:
    """A local Lattice in front of the gRPC server."""
    with LocalLattice(f"http://127.0.0.1:{grpc_target}") as running:
        yield running


@pytest.fixture
def channel(lattice: LocalLattice) -> Iterator[grpc.Channel]:
    """A cleartext HTTP/2 channel to the local Lattice."""
    with grpc.insecure_channel(f"127.0.0.1:{lattice.port}") as opened:
        yield opened


def metadata(lattice: LocalLattice, method: str) -> tuple[tuple[str, str | bytes], ...]:
    """Lattice's gRPC recipe: sign a synthetic POST to /<service>/<method>, send the headers."""
    headers = lattice_client.sign(
        "POST",
        f"http://127.0.0.1:{lattice.port}/demo.Echo/{method}",
        credentials=lattice.credentials,
        region=lattice.region,
    )
    return tuple(headers.items())


def test_unary_call_is_verified_and_forwarded(lattice: LocalLattice, channel: grpc.Channel) -> None:
    """A signed unary call reaches the server with Lattice's identity and returns status OK."""
    say = channel.unary_unary("/demo.Echo/Say", _identity, _identity)
    reply, call = say.with_call(b"hi", metadata=metadata(lattice, "Say"), timeout=30)
    assert reply == (
        f"Principal={lattice.principal.arn}; SessionName=local-session; Type=AWS_IAM|hi".encode()
    )
    assert call.code() == grpc.StatusCode.OK
    assert lattice.access_log[-1]["grpcResponseCode"] == "0"


def test_trailers_carry_the_servers_error_after_streamed_messages(
    lattice: LocalLattice, channel: grpc.Channel
) -> None:
    """grpc-status and grpc-message sent as trailers after data reach the client intact."""
    count = channel.unary_stream("/demo.Echo/Count", _identity, _identity)
    call = count(b"", metadata=metadata(lattice, "Count"), timeout=30)
    received: list[bytes] = []
    with pytest.raises(grpc.RpcError) as caught:
        received.extend(call)
    assert received == [b"one", b"two"]
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no such counter"


def test_client_streaming_call(lattice: LocalLattice, channel: grpc.Channel) -> None:
    """A client-streaming call is forwarded as it streams; one signature covers the whole call."""
    total = channel.stream_unary("/demo.Echo/Total", _identity, _identity)
    chunks = (b"x" * 100_000 for _ in range(20))
    assert total(chunks, metadata=metadata(lattice, "Total"), timeout=30) == b"2000000"


def test_unsigned_call_is_denied_before_the_server(
    lattice: LocalLattice, channel: grpc.Channel
) -> None:
    """An unsigned gRPC call gets Lattice's 403, which gRPC reports as PERMISSION_DENIED."""
    say = channel.unary_unary("/demo.Echo/Say", _identity, _identity)
    with pytest.raises(grpc.RpcError) as caught:
        say(b"hi", timeout=30)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert lattice.access_log[-1]["authDeniedReason"].startswith(
        "AccessDeniedException: User: anonymous"
    )


def test_trailers_only_error_reaches_the_client(
    lattice: LocalLattice, channel: grpc.Channel
) -> None:
    """A server error before any message (gRPC's trailers-only answer) crosses with its status."""
    fail = channel.unary_unary("/demo.Echo/Fail", _identity, _identity)
    with pytest.raises(grpc.RpcError) as caught:
        fail(b"", metadata=metadata(lattice, "Fail"), timeout=30)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == "not ready"
    assert lattice.access_log[-1]["grpcResponseCode"] == "9"
