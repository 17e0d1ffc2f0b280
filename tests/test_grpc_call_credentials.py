"""gRPC call credentials (an AuthMetadataPlugin) against a real grpcio server, verified on the wire.

Call credentials need a secure channel; ``grpc.local_channel_credentials()`` is one
that carries plaintext HTTP/2 over loopback, so the wire tap can still read and
verify each call's headers.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import grpc.aio
import pytest
from _grpc_support import (
    AUTHORITY,
    CREDENTIALS,
    SERVICE,
    WireTap,
    aio_echo_server,
    pb2,
    pb2_grpc,
    sync_echo_server,
)

import lattice_client.grpc
from lattice_client import Credentials
from lattice_client.grpc import LatticeAuthMetadataPlugin, call_credentials

LOCAL = grpc.LocalConnectionType.LOCAL_TCP


@pytest.fixture
def tap() -> Iterator[WireTap]:
    """A sync Echo server behind the wire tap."""
    with sync_echo_server() as (port, _):
        tap = WireTap(port)
        try:
            yield tap
        finally:
            tap.close()


def channel_to(
    tap: WireTap, credentials: grpc.CallCredentials, authority: str = AUTHORITY
) -> grpc.Channel:
    composite = grpc.composite_channel_credentials(
        grpc.local_channel_credentials(LOCAL), credentials
    )
    return grpc.secure_channel(
        f"127.0.0.1:{tap.port}", composite, options=[("grpc.default_authority", authority)]
    )


def test_each_call_is_signed_for_the_authority(tap: WireTap) -> None:
    """Unary and streaming calls each carry one signature that verifies for :authority."""
    with channel_to(tap, call_credentials(AUTHORITY, credentials=CREDENTIALS)) as channel:
        stub = pb2_grpc.EchoStub(channel)
        assert stub.Say(pb2.EchoRequest(text="hi"), timeout=10).text == "hi"
        assert len(list(stub.Repeat(pb2.EchoRequest(text="r", count=3), timeout=10))) == 3
    say, repeat = tap.calls
    for call in (say, repeat):
        assert call.check.ok, call.check.message
        assert call.header(":authority") == AUTHORITY
        assert call.header("x-amz-security-token") == CREDENTIALS.session_token
        assert call.check.region == "us-west-2"
    assert say.header(":path") == f"/{SERVICE}/Say"
    assert repeat.header(":path") == f"/{SERVICE}/Repeat"


def test_sigv4a_call_credentials_verify(tap: WireTap) -> None:
    """With sigv4a=True a custom domain is signed for the region set, no region needed."""
    custom = "echo.example.com"
    credentials = call_credentials(custom, credentials=CREDENTIALS, sigv4a=True)
    with channel_to(tap, credentials, authority=custom) as channel:
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="a"), timeout=10)
    [call] = tap.calls
    assert call.check.ok, call.check.message
    assert call.check.algorithm == "AWS4-ECDSA-P256-SHA256"


def test_a_call_to_another_authority_fails_before_it_is_sent(tap: WireTap) -> None:
    """A channel that sends another :authority than the signed one fails the call, sends none."""
    credentials = call_credentials(AUTHORITY, credentials=CREDENTIALS)
    with (
        channel_to(tap, credentials, authority="other.example.com") as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="a"), timeout=10)
    assert "grpc.default_authority" in str(caught.value.details())
    assert tap.calls == []


def test_a_provider_failure_fails_the_call_without_secrets() -> None:
    """Credentials that cannot be had fail the call with the reason; nothing leaks."""

    class Broken:
        def get_credentials(self) -> Credentials:
            raise RuntimeError("metadata endpoint down")

    broken = Broken()
    with sync_echo_server() as (port, seen):
        tap = WireTap(port)
        try:
            with (
                channel_to(tap, call_credentials(AUTHORITY, credentials=broken)) as channel,
                pytest.raises(grpc.RpcError),
            ):
                pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="a"), timeout=10)
            assert tap.calls == []
            assert seen.metadata == []
        finally:
            tap.close()


@pytest.mark.anyio
async def test_grpc_aio_secure_channel_signs_each_call() -> None:
    """The same call credentials work on a grpc.aio secure channel."""
    async with aio_echo_server() as (port, _):
        tap = WireTap(port)
        try:
            composite = grpc.composite_channel_credentials(
                grpc.local_channel_credentials(LOCAL),
                call_credentials(AUTHORITY, credentials=CREDENTIALS),
            )
            async with grpc.aio.secure_channel(
                f"127.0.0.1:{tap.port}",
                composite,
                options=[("grpc.default_authority", AUTHORITY)],
            ) as channel:
                stub = pb2_grpc.EchoStub(channel)
                reply = await stub.Say(pb2.EchoRequest(text="aio"), timeout=10)
            assert reply.text == "aio"
            [call] = tap.calls
            assert call.check.ok, call.check.message
        finally:
            tap.close()


def test_plugin_options_are_checked_up_front() -> None:
    """A port in the authority, or a bad option, is refused when the plugin is built."""
    with pytest.raises(lattice_client.ConfigurationError, match="port"):
        LatticeAuthMetadataPlugin(f"{AUTHORITY}:443", credentials=CREDENTIALS)
    plugin = LatticeAuthMetadataPlugin(AUTHORITY, credentials=CREDENTIALS)
    assert plugin.authority == AUTHORITY
    assert CREDENTIALS.secret_access_key not in repr(plugin)
    assert lattice_client.grpc.call_credentials is call_credentials
