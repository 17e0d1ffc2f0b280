"""Sync gRPC signing against a real grpcio server, verified on the wire by another verifier."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from _grpc_support import (
    AUTHORITY,
    CREDENTIALS,
    SERVICE,
    Seen,
    WireTap,
    pb2,
    pb2_grpc,
    sync_echo_server,
)

import lattice_client
import lattice_client.grpc

STREAM_LENGTH = 10_000
SIGNER_METADATA = {"authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}


@dataclass
class Echo:
    stub: Any
    seen: Seen
    tap: WireTap
    channel: grpc.Channel


@pytest.fixture
def echo() -> Iterator[Echo]:
    """An Echo stub on a signed channel, through the wire tap, to a sync grpcio server."""
    with sync_echo_server() as (port, seen):
        tap = WireTap(port)
        channel = lattice_client.grpc.insecure_channel(
            f"127.0.0.1:{tap.port}", authority=AUTHORITY, aws_credentials=CREDENTIALS
        )
        try:
            yield Echo(pb2_grpc.EchoStub(channel), seen, tap, channel)
        finally:
            channel.close()
            tap.close()


def _requests(n: int) -> Iterator[Any]:
    for i in range(n):
        yield pb2.EchoRequest(text="m", count=i)


def test_unary_call_is_signed_for_the_authority_it_is_sent_to(echo: Echo) -> None:
    """A unary call goes out as POST to /<Service>/<Method> with :authority = the signed host."""
    reply = echo.stub.Say(pb2.EchoRequest(text="hello"))

    assert reply.text == "hello"
    [call] = echo.tap.calls
    assert call.check.ok, call.check.message
    assert call.header(":authority") == AUTHORITY
    assert call.header(":path") == f"/{SERVICE}/Say"
    assert call.header(":method") == "POST"
    assert call.header("x-amz-content-sha256") == "UNSIGNED-PAYLOAD"
    assert call.header("x-amz-security-token") == CREDENTIALS.session_token
    assert call.check.region == "us-west-2"
    assert set(call.check.signed_headers) == {
        "host",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-security-token",
    }


def test_all_four_call_kinds_are_signed_once_each(echo: Echo) -> None:
    """Unary-unary, unary-stream, stream-unary and stream-stream each carry one valid signature."""
    assert echo.stub.Say(pb2.EchoRequest(text="a")).text == "a"
    assert [r.count for r in echo.stub.Repeat(pb2.EchoRequest(text="b", count=3))] == [0, 1, 2]
    assert echo.stub.Count(_requests(5)).count == 5
    assert [r.count for r in echo.stub.Chat(_requests(4))] == [0, 1, 2, 3]

    paths = [call.header(":path") or "" for call in echo.tap.calls]
    assert sorted(paths) == sorted(f"/{SERVICE}/{m}" for m in ("Say", "Repeat", "Count", "Chat"))
    assert all(call.check.ok for call in echo.tap.calls), [c.check for c in echo.tap.calls]


def test_streams_of_ten_thousand_messages_carry_one_signature(echo: Echo) -> None:
    """Long streams in each direction complete, signed once at their start."""
    replies = echo.stub.Repeat(pb2.EchoRequest(text="r", count=STREAM_LENGTH))
    assert sum(1 for _ in replies) == STREAM_LENGTH
    assert echo.stub.Count(_requests(STREAM_LENGTH)).count == STREAM_LENGTH
    assert sum(1 for _ in echo.stub.Chat(_requests(STREAM_LENGTH))) == STREAM_LENGTH

    assert len(echo.tap.calls) == 3
    assert all(call.check.ok for call in echo.tap.calls)


def test_future_and_with_call_are_signed(echo: Echo) -> None:
    """The .future() and .with_call() forms of unary calls are signed and return normally."""
    assert echo.stub.Say.future(pb2.EchoRequest(text="f")).result(timeout=10).text == "f"
    reply, call = echo.stub.Say.with_call(pb2.EchoRequest(text="w"))
    assert reply.text == "w"
    assert call.code() == grpc.StatusCode.OK
    assert echo.stub.Count.future(_requests(3)).result(timeout=10).count == 3
    assert len(echo.tap.calls) == 3
    assert all(c.check.ok for c in echo.tap.calls)


def test_user_metadata_passes_through_and_signer_metadata_is_ours(echo: Echo) -> None:
    """The caller's metadata reaches the service; a caller's own authorization is replaced."""
    echo.stub.Say(
        pb2.EchoRequest(text="m"),
        metadata=[("x-request-id", "req-1"), ("authorization", "Bearer not-sigv4")],
    )

    [(_, metadata)] = echo.seen.metadata
    assert metadata["x-request-id"] == "req-1"
    assert metadata["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDLATTICEGRPCTEST/")
    [call] = echo.tap.calls
    assert call.check.ok
    assert [v for k, v in call.headers if k == "authorization"] == [metadata["authorization"]]
    added = {k for k, _ in call.headers} - {"x-request-id"}
    assert {k for k in added if k.startswith(("x-amz-", "authorization"))} == SIGNER_METADATA


def test_deadline_passes_through_untouched(echo: Echo) -> None:
    """The call's deadline reaches the service, and DEADLINE_EXCEEDED comes back as grpc's own."""
    with pytest.raises(grpc.RpcError) as raised:
        echo.stub.Say(pb2.EchoRequest(text="wait"), timeout=2)

    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert not isinstance(raised.value, lattice_client.LatticeError)
    [remaining] = echo.seen.time_remaining
    assert remaining is not None  # no deadline at all would read None
    # grpc-timeout goes on the wire rounded up (to ms or coarser), so allow that much.
    assert 0 < remaining <= 2.1


def test_cancelling_a_stream_reaches_the_service(echo: Echo) -> None:
    """cancel() on a signed stream cancels the call on the server, and iteration stops."""
    replies = echo.stub.Repeat(pb2.EchoRequest(text="forever"))
    assert next(replies).text == "again"

    assert replies.cancel()
    with pytest.raises(grpc.RpcError) as raised:
        for _ in replies:
            pass
    assert raised.value.code() == grpc.StatusCode.CANCELLED
    assert not isinstance(raised.value, lattice_client.LatticeError)
    assert echo.seen.cancelled.wait(10)


def test_service_errors_pass_through_untouched(echo: Echo) -> None:
    """An error the service raised keeps its own status and details, and is no LatticeError."""
    with pytest.raises(grpc.RpcError) as unary:
        echo.stub.Say(pb2.EchoRequest(text="fail"))
    assert unary.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert unary.value.details() == "the service says no"
    assert not isinstance(unary.value, lattice_client.LatticeError)

    future = echo.stub.Say.future(pb2.EchoRequest(text="fail"))
    assert future.exception(timeout=10).details() == "the service says no"

    replies = echo.stub.Chat(iter([pb2.EchoRequest(text="ok"), pb2.EchoRequest(text="fail")]))
    assert next(replies).text == "ok"
    with pytest.raises(grpc.RpcError) as streamed:
        next(replies)
    assert streamed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert not isinstance(streamed.value, lattice_client.LatticeError)


def test_interceptor_on_a_channel_of_your_own(echo: Echo) -> None:
    """SigningInterceptor signs calls on any channel whose default authority is its host."""
    interceptor = lattice_client.grpc.SigningInterceptor(AUTHORITY, credentials=CREDENTIALS)
    raw = grpc.insecure_channel(
        f"127.0.0.1:{echo.tap.port}", options=[("grpc.default_authority", AUTHORITY)]
    )
    with grpc.intercept_channel(raw, interceptor) as channel:
        stub = pb2_grpc.EchoStub(channel)
        assert stub.Say(pb2.EchoRequest(text="own")).text == "own"
        assert [r.count for r in stub.Chat(_requests(2))] == [0, 1]

    assert interceptor.authority == AUTHORITY
    assert interceptor.region == "us-west-2"
    assert all(call.check.ok for call in echo.tap.calls)


def test_user_interceptors_run_before_the_signer(echo: Echo) -> None:
    """Metadata added by the caller's own interceptor is sent, and the call is still signed."""

    class AddTenant(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            metadata = [*(details.metadata or ()), ("x-tenant", "blue")]
            return continuation(details._replace(metadata=metadata), request)

    with lattice_client.grpc.insecure_channel(
        f"127.0.0.1:{echo.tap.port}",
        authority=AUTHORITY,
        aws_credentials=CREDENTIALS,
        interceptors=[AddTenant()],
    ) as channel:
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="t"))

    [(_, metadata)] = echo.seen.metadata
    assert metadata["x-tenant"] == "blue"
    assert echo.tap.calls[0].check.ok


def test_sigv4a_signs_for_a_custom_domain_without_region(
    echo: Echo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With sigv4a=True a custom domain needs no region; the region set is sent and signed."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with lattice_client.grpc.insecure_channel(
        f"127.0.0.1:{echo.tap.port}",
        authority="echo.example.com",
        aws_credentials=CREDENTIALS,
        sigv4a=True,
    ) as channel:
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="a"))

    [call] = echo.tap.calls
    assert call.check.ok, call.check.message
    assert call.check.algorithm == "AWS4-ECDSA-P256-SHA256"
    assert call.header(":authority") == "echo.example.com"
    assert call.header("x-amz-region-set") == "*"
    assert "x-amz-region-set" in call.check.signed_headers


@pytest.mark.parametrize("form", ["{host}:{port}", "dns:///{host}:{port}", "ipv4:{host}:{port}"])
def test_the_authority_is_the_targets_host_without_port(
    echo: Echo, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without authority=, the channel sends and signs the target's host, port dropped."""
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    target = form.format(host="127.0.0.1", port=echo.tap.port)
    with lattice_client.grpc.insecure_channel(target, aws_credentials=CREDENTIALS) as channel:
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="a"))

    [call] = echo.tap.calls
    assert call.header(":authority") == "127.0.0.1"
    assert call.check.ok, call.check.message
    assert call.check.region == "eu-west-1"


def test_a_provider_is_asked_for_credentials(echo: Echo) -> None:
    """Credentials from a provider (anything with get_credentials()) sign the call."""

    class Provider:
        calls = 0

        def get_credentials(self) -> lattice_client.Credentials:
            Provider.calls += 1
            return CREDENTIALS

    with lattice_client.grpc.insecure_channel(
        f"127.0.0.1:{echo.tap.port}", authority=AUTHORITY, aws_credentials=Provider()
    ) as channel:
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="p"))

    assert Provider.calls >= 1
    assert echo.tap.calls[0].check.ok


def test_the_wire_tap_catches_an_unsigned_or_misdirected_call(echo: Echo) -> None:
    """The verifier is not a rubber stamp: unsigned calls and a signed host that differs fail."""
    with grpc.insecure_channel(f"127.0.0.1:{echo.tap.port}") as plain:
        pb2_grpc.EchoStub(plain).Say(pb2.EchoRequest(text="unsigned"))
    interceptor = lattice_client.grpc.SigningInterceptor(AUTHORITY, credentials=CREDENTIALS)
    raw = grpc.insecure_channel(f"127.0.0.1:{echo.tap.port}")  # no default authority
    with grpc.intercept_channel(raw, interceptor) as misdirected:
        pb2_grpc.EchoStub(misdirected).Say(pb2.EchoRequest(text="port kept"))

    unsigned, wrong_host = echo.tap.calls
    assert not unsigned.check.ok
    assert not wrong_host.check.ok
    assert wrong_host.header(":authority") == f"127.0.0.1:{echo.tap.port}"
