"""grpc.aio signing against a real grpc.aio server, verified on the wire by another verifier."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
import grpc.aio
import pytest
from _grpc_support import (
    AUTHORITY,
    CREDENTIALS,
    SERVICE,
    Seen,
    WireTap,
    aio_echo_server,
    pb2,
    pb2_grpc,
)

import lattice_client
import lattice_client.grpc.aio

pytestmark = pytest.mark.anyio

STREAM_LENGTH = 10_000


@dataclass
class Echo:
    stub: Any
    seen: Seen
    tap: WireTap
    channel: grpc.aio.Channel


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    """An Echo stub on a signed grpc.aio channel, through the wire tap, to a grpc.aio server."""
    async with aio_echo_server() as (port, seen):
        tap = WireTap(port)
        channel = lattice_client.grpc.aio.insecure_channel(
            f"127.0.0.1:{tap.port}", authority=AUTHORITY, aws_credentials=CREDENTIALS
        )
        try:
            yield Echo(pb2_grpc.EchoStub(channel), seen, tap, channel)
        finally:
            await channel.close()
            tap.close()


async def _requests(n: int) -> AsyncIterator[Any]:
    for i in range(n):
        yield pb2.EchoRequest(text="m", count=i)


async def test_all_four_call_kinds_are_signed_once_each(echo: Echo) -> None:
    """Each call kind gets its own valid signature: all four single-kind interceptors apply."""
    assert (await echo.stub.Say(pb2.EchoRequest(text="a"))).text == "a"
    assert [r.count async for r in echo.stub.Repeat(pb2.EchoRequest(count=3))] == [0, 1, 2]
    assert (await echo.stub.Count(_requests(5))).count == 5
    assert [r.count async for r in echo.stub.Chat(_requests(4))] == [0, 1, 2, 3]

    paths = sorted(call.header(":path") or "" for call in echo.tap.calls)
    assert paths == sorted(f"/{SERVICE}/{m}" for m in ("Say", "Repeat", "Count", "Chat"))
    for call in echo.tap.calls:
        assert call.check.ok, call.check.message
        assert call.header(":authority") == AUTHORITY
        assert call.header(":method") == "POST"
        assert call.header("x-amz-security-token") == CREDENTIALS.session_token


async def test_streams_of_ten_thousand_messages_carry_one_signature(echo: Echo) -> None:
    """Long streams in each direction complete, signed once at their start."""
    assert len([r async for r in echo.stub.Repeat(pb2.EchoRequest(count=STREAM_LENGTH))]) == (
        STREAM_LENGTH
    )
    assert (await echo.stub.Count(_requests(STREAM_LENGTH))).count == STREAM_LENGTH
    assert len([r async for r in echo.stub.Chat(_requests(STREAM_LENGTH))]) == STREAM_LENGTH
    assert len(echo.tap.calls) == 3
    assert all(call.check.ok for call in echo.tap.calls)


async def test_write_and_read_style_calls_are_signed(echo: Echo) -> None:
    """Calls driven with write()/done_writing()/read() work through the signing interceptors."""
    count = echo.stub.Count()
    for i in range(3):
        await count.write(pb2.EchoRequest(count=i))
    await count.done_writing()
    assert (await count).count == 3

    chat = echo.stub.Chat()
    await chat.write(pb2.EchoRequest(text="x", count=7))
    assert (await chat.read()).count == 7
    await chat.done_writing()
    assert await chat.read() is grpc.aio.EOF
    assert await chat.code() == grpc.StatusCode.OK
    assert all(call.check.ok for call in echo.tap.calls)


async def test_call_metadata_and_status_are_available(echo: Echo) -> None:
    """The call object still answers initial_metadata(), code() and details() as grpc's does."""
    call = echo.stub.Say(pb2.EchoRequest(text="meta"), metadata=[("x-request-id", "req-9")])
    assert (await call).text == "meta"
    assert await call.code() == grpc.StatusCode.OK
    assert await call.initial_metadata() is not None
    [(_, metadata)] = echo.seen.metadata
    assert metadata["x-request-id"] == "req-9"
    assert metadata["authorization"].startswith("AWS4-HMAC-SHA256 ")


async def test_deadline_passes_through_untouched(echo: Echo) -> None:
    """The deadline reaches the service, and DEADLINE_EXCEEDED arrives as grpc's own error."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await echo.stub.Say(pb2.EchoRequest(text="wait"), timeout=2)

    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert not isinstance(raised.value, lattice_client.LatticeError)
    [remaining] = echo.seen.time_remaining
    assert remaining is not None
    # grpc-timeout goes on the wire rounded up (to ms or coarser), so allow that much.
    assert 0 < remaining <= 2.1


async def test_cancelling_a_stream_reaches_the_service(echo: Echo) -> None:
    """cancel() on a signed stream cancels it on the server too."""
    call = echo.stub.Repeat(pb2.EchoRequest(text="forever"))
    replies = call.__aiter__()
    assert (await replies.__anext__()).text == "again"

    assert call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await replies.__anext__()
    assert await call.code() == grpc.StatusCode.CANCELLED
    assert await asyncio.to_thread(echo.seen.cancelled.wait, 10)


async def test_service_errors_pass_through_untouched(echo: Echo) -> None:
    """Errors the service raised keep their status and details, unary and streaming."""
    with pytest.raises(grpc.aio.AioRpcError) as unary:
        await echo.stub.Say(pb2.EchoRequest(text="fail"))
    assert unary.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert unary.value.details() == "the service says no"
    assert not isinstance(unary.value, lattice_client.LatticeError)

    chat = echo.stub.Chat(_fail_after_one())
    with pytest.raises(grpc.aio.AioRpcError) as streamed:
        async for _ in chat:
            pass
    assert streamed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert not isinstance(streamed.value, lattice_client.LatticeError)


async def _fail_after_one() -> AsyncIterator[Any]:
    yield pb2.EchoRequest(text="ok")
    yield pb2.EchoRequest(text="fail")


async def test_signing_interceptors_on_a_channel_of_your_own(echo: Echo) -> None:
    """signing_interceptors() gives one interceptor per call kind, each signing its kind."""
    interceptors = lattice_client.grpc.aio.signing_interceptors(AUTHORITY, credentials=CREDENTIALS)
    kinds = [
        grpc.aio.UnaryUnaryClientInterceptor,
        grpc.aio.UnaryStreamClientInterceptor,
        grpc.aio.StreamUnaryClientInterceptor,
        grpc.aio.StreamStreamClientInterceptor,
    ]
    # Each object is of exactly one kind (grpc/grpc#31442), in this order.
    assert [[isinstance(i, kind) for kind in kinds] for i in interceptors] == [
        [row == column for column in range(4)] for row in range(4)
    ]
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{echo.tap.port}",
        options=[("grpc.default_authority", AUTHORITY)],
        interceptors=interceptors,
    ) as channel:
        stub = pb2_grpc.EchoStub(channel)
        await stub.Say(pb2.EchoRequest(text="a"))
        [_ async for _ in stub.Repeat(pb2.EchoRequest(count=1))]
        await stub.Count(_requests(1))
        [_ async for _ in stub.Chat(_requests(1))]

    assert len(echo.tap.calls) == 4
    assert all(call.check.ok for call in echo.tap.calls)


async def test_user_interceptors_run_before_the_signers(echo: Echo) -> None:
    """Metadata added by the caller's own grpc.aio interceptor is sent, and the call is signed."""

    class AddTenant(grpc.aio.UnaryUnaryClientInterceptor):
        async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            metadata = grpc.aio.Metadata(*(details.metadata or ()), ("x-tenant", "blue"))
            new = grpc.aio.ClientCallDetails(
                details.method, details.timeout, metadata, details.credentials, None
            )
            return await continuation(new, request)

    async with lattice_client.grpc.aio.insecure_channel(
        f"127.0.0.1:{echo.tap.port}",
        authority=AUTHORITY,
        aws_credentials=CREDENTIALS,
        interceptors=[AddTenant()],
    ) as channel:
        await pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="t"))

    [(_, metadata)] = echo.seen.metadata
    assert metadata["x-tenant"] == "blue"
    assert echo.tap.calls[0].check.ok


async def test_credential_refresh_runs_off_the_loop_once_for_concurrent_calls(echo: Echo) -> None:
    """A provider that blocks is asked in a worker thread, once, while 20 calls wait for it."""
    release = threading.Event()
    loop_thread = threading.get_ident()

    class SlowProvider:
        threads: list[int] = []  # noqa: RUF012

        def get_credentials(self) -> lattice_client.Credentials:
            SlowProvider.threads.append(threading.get_ident())
            release.wait(10)
            return lattice_client.Credentials(
                CREDENTIALS.access_key_id,
                CREDENTIALS.secret_access_key,
                CREDENTIALS.session_token,
                datetime.now(timezone.utc) + timedelta(hours=1),
            )

    async with lattice_client.grpc.aio.insecure_channel(
        f"127.0.0.1:{echo.tap.port}", authority=AUTHORITY, aws_credentials=SlowProvider()
    ) as channel:
        stub = pb2_grpc.EchoStub(channel)
        calls = [asyncio.ensure_future(stub.Say(pb2.EchoRequest(text=str(i)))) for i in range(20)]
        # The loop is free while the provider blocks: this sleep completes.
        await asyncio.sleep(0.05)
        assert not any(call.done() for call in calls)
        release.set()
        replies = await asyncio.gather(*calls)

    assert sorted(int(r.text) for r in replies) == list(range(20))
    assert len(SlowProvider.threads) == 1
    assert SlowProvider.threads[0] != loop_thread
    assert len(echo.tap.calls) == 20
    assert all(call.check.ok for call in echo.tap.calls)


class GatedProvider:
    """A credentials provider that blocks until released, recording the threads that ask it."""

    def __init__(self, error: Exception | None = None) -> None:
        self.release = threading.Event()
        self.threads: list[int] = []
        self._error = error

    def get_credentials(self) -> lattice_client.Credentials:
        self.threads.append(threading.get_ident())
        self.release.wait(10)
        if self._error is not None:
            raise self._error
        return lattice_client.Credentials(
            CREDENTIALS.access_key_id,
            CREDENTIALS.secret_access_key,
            CREDENTIALS.session_token,
            datetime.now(timezone.utc) + timedelta(hours=1),
        )


async def test_calls_of_every_kind_made_during_a_refresh_start_once_signed(echo: Echo) -> None:
    """Calls of all four kinds made while credentials are fetched wait off the loop, then run."""
    provider = GatedProvider()
    async with lattice_client.grpc.aio.insecure_channel(
        f"127.0.0.1:{echo.tap.port}", authority=AUTHORITY, aws_credentials=provider
    ) as channel:
        stub = pb2_grpc.EchoStub(channel)
        say = stub.Say(pb2.EchoRequest(text="a"), timeout=30, metadata=[("x-request-id", "r1")])
        repeat = stub.Repeat(pb2.EchoRequest(count=3))
        count = stub.Count()
        chat = stub.Chat(_requests(2))

        async def write_two() -> None:
            await count.write(pb2.EchoRequest(count=0))
            await count.write(pb2.EchoRequest(count=1))
            await count.done_writing()

        writes = asyncio.ensure_future(write_two())
        # The loop is free while the provider blocks: this sleep completes.
        await asyncio.sleep(0.05)
        assert not any(call.done() for call in (say, repeat, count, chat))
        # The deadline starts with the call: all of the timeout remains meanwhile.
        assert say.time_remaining() == 30
        provider.release.set()

        assert (await say).text == "a"
        assert [r.count async for r in repeat] == [0, 1, 2]
        await writes
        assert (await count).count == 2
        assert [r.count async for r in chat] == [0, 1]
        for call in (say, repeat, count, chat):
            assert await call.code() == grpc.StatusCode.OK
        remaining = say.time_remaining()
        assert remaining is None or remaining < 30

    assert len(provider.threads) == 1
    assert provider.threads[0] != threading.get_ident()
    assert dict(echo.seen.metadata)["Say"]["x-request-id"] == "r1"
    assert len(echo.tap.calls) == 4
    assert all(call.check.ok for call in echo.tap.calls)


async def test_a_call_cancelled_while_credentials_are_fetched_never_starts(echo: Echo) -> None:
    """cancel() before the call is signed ends it as CANCELLED and nothing reaches the service."""
    provider = GatedProvider()
    async with lattice_client.grpc.aio.insecure_channel(
        f"127.0.0.1:{echo.tap.port}", authority=AUTHORITY, aws_credentials=provider
    ) as channel:
        stub = pb2_grpc.EchoStub(channel)
        call = stub.Say(pb2.EchoRequest(text="never"))
        finished = asyncio.get_running_loop().create_future()
        call.add_done_callback(finished.set_result)
        await asyncio.sleep(0.05)

        assert call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert call.cancelled()
        assert call.done()
        assert await call.code() == grpc.StatusCode.CANCELLED
        assert await asyncio.wait_for(finished, 10) is call

        provider.release.set()
        assert (await stub.Say(pb2.EchoRequest(text="after"))).text == "after"

    assert [text for text, _ in echo.seen.metadata] == ["Say"]
    assert len(echo.tap.calls) == 1


async def test_a_failed_credentials_fetch_is_raised_by_the_call(echo: Echo) -> None:
    """When the provider fails, awaiting the call raises the typed error; nothing is sent."""
    provider = GatedProvider(error=RuntimeError("the provider is down"))
    provider.release.set()
    async with lattice_client.grpc.aio.insecure_channel(
        f"127.0.0.1:{echo.tap.port}", authority=AUTHORITY, aws_credentials=provider
    ) as channel:
        stub = pb2_grpc.EchoStub(channel)
        call = stub.Say(pb2.EchoRequest(text="x"))
        with pytest.raises(lattice_client.CredentialsRefreshError):
            await call
        assert call.done()
        with pytest.raises(lattice_client.CredentialsRefreshError):
            [_ async for _ in stub.Repeat(pb2.EchoRequest(count=1))]

    assert echo.tap.calls == []


async def test_done_callbacks_get_the_call_they_were_added_to(echo: Echo) -> None:
    """add_done_callback hands back the very call object the stub returned, as grpc.aio does."""
    for call in (echo.stub.Say(pb2.EchoRequest(text="a")), echo.stub.Count(_requests(2))):
        finished = asyncio.get_running_loop().create_future()
        call.add_done_callback(finished.set_result)
        await call
        assert await asyncio.wait_for(finished, 10) is call


async def test_the_channel_helper_gives_a_grpc_aio_channel(echo: Echo) -> None:
    """The helper's channel is a grpc.aio.Channel that reports its state and closes."""
    assert isinstance(echo.channel, grpc.aio.Channel)
    await echo.channel.channel_ready()
    assert echo.channel.get_state() is grpc.ChannelConnectivity.READY
    text = repr(echo.channel)
    assert AUTHORITY in text
    assert CREDENTIALS.secret_access_key not in text
    await echo.channel.close()
    with pytest.raises(grpc.aio.UsageError):
        await echo.stub.Say(pb2.EchoRequest(text="closed"))
