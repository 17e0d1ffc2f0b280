"""gRPC calls through the local Lattice stand-in: it verifies each signature as received,
applies the auth policy and listener rules, and forwards to a real grpcio server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest
from _grpc_support import AUTHORITY, SERVICE, aio_echo_server, pb2, pb2_grpc, sync_echo_server

import lattice_client
import lattice_client.grpc
import lattice_client.grpc.aio
from lattice_client.testing import LocalLattice, Principal, Rule

READER = Principal.generate("arn:aws:sts::111122223333:assumed-role/reader/ci")
STRANGER = Principal.generate("arn:aws:sts::111122223333:assumed-role/stranger/ci")
POLICY = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/reader"},
            "Action": "vpc-lattice-svcs:Invoke",
            "Resource": "*",
        }
    ]
}
# A listener rule answering Lattice's fixed 404 for one method.
RULES = [Rule(path=f"/{SERVICE}/Retired", match="exact", fixed_response=404)]


def _lattice(port: int) -> LocalLattice:
    return LocalLattice(
        f"http://127.0.0.1:{port}", principals=[READER, STRANGER], auth_policy=POLICY, rules=RULES
    )


def _requests(n: int) -> Iterator[Any]:
    for i in range(n):
        yield pb2.EchoRequest(text="m", count=i)


async def _arequests(n: int) -> AsyncIterator[Any]:
    for i in range(n):
        yield pb2.EchoRequest(text="m", count=i)


def test_sync_calls_through_local_lattice() -> None:
    """Lattice's verifier accepts every call kind; a denial and a fixed 404 arrive typed."""
    with sync_echo_server() as (port, seen), _lattice(port) as lattice:
        target = lattice.url.removeprefix("http://")
        with lattice_client.grpc.insecure_channel(
            target, authority=AUTHORITY, aws_credentials=READER.credentials
        ) as channel:
            stub = pb2_grpc.EchoStub(channel)
            assert stub.Say(pb2.EchoRequest(text="hi")).text == "hi"
            assert len(list(stub.Repeat(pb2.EchoRequest(count=100)))) == 100
            assert stub.Count(_requests(100)).count == 100
            assert len(list(stub.Chat(_requests(100)))) == 100
            retired: Any = channel.unary_unary(f"/{SERVICE}/Retired")
            with pytest.raises(lattice_client.NotFoundError):
                retired(b"")
        with (
            lattice_client.grpc.insecure_channel(
                target, authority=AUTHORITY, aws_credentials=STRANGER.credentials
            ) as channel,
            pytest.raises(lattice_client.grpc.LatticeRpcError) as denied,
        ):
            pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="hi"))

    assert isinstance(denied.value, lattice_client.AccessDeniedError)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    identities = [m["x-amzn-lattice-identity"] for _, m in seen.metadata]
    assert all("assumed-role/reader/ci" in identity for identity in identities)
    log = {(r["requestPath"], r["callerPrincipal"]): r for r in lattice.access_log}
    assert log[(f"/{SERVICE}/Say", STRANGER.arn)]["responseCode"] == 403
    assert all(r["authDeniedReason"] == "-" for r in lattice.access_log if r["responseCode"] != 403)


def test_service_errors_pass_through_local_lattice_untouched() -> None:
    """A service's own error crosses the stand-in with its status and details."""
    with (
        sync_echo_server() as (port, _),
        _lattice(port) as lattice,
        lattice_client.grpc.insecure_channel(
            lattice.url.removeprefix("http://"),
            authority=AUTHORITY,
            aws_credentials=READER.credentials,
        ) as channel,
        pytest.raises(grpc.RpcError) as raised,
    ):
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="fail"))

    assert raised.value.details() == "the service says no"
    assert not isinstance(raised.value, lattice_client.LatticeError)


@pytest.mark.anyio
async def test_aio_calls_through_local_lattice() -> None:
    """The grpc.aio interceptors pass Lattice's verifier for every call kind; denials are typed."""
    async with aio_echo_server() as (port, _):
        with _lattice(port) as lattice:
            target = lattice.url.removeprefix("http://")
            async with lattice_client.grpc.aio.insecure_channel(
                target, authority=AUTHORITY, aws_credentials=READER.credentials
            ) as channel:
                stub = pb2_grpc.EchoStub(channel)
                assert (await stub.Say(pb2.EchoRequest(text="hi"))).text == "hi"
                assert len([r async for r in stub.Repeat(pb2.EchoRequest(count=100))]) == 100
                assert (await stub.Count(_arequests(100))).count == 100
                assert len([r async for r in stub.Chat(_arequests(100))]) == 100
                retired: Any = channel.unary_unary(f"/{SERVICE}/Retired")
                with pytest.raises(lattice_client.NotFoundError):
                    await retired(b"")
            async with lattice_client.grpc.aio.insecure_channel(
                target, authority=AUTHORITY, aws_credentials=STRANGER.credentials
            ) as channel:
                with pytest.raises(lattice_client.AccessDeniedError) as denied:
                    await pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="hi"))

    assert isinstance(denied.value, grpc.aio.AioRpcError)
    assert all(r["responseCode"] in (200, 403, 404) for r in lattice.access_log)
