"""Loopback parts for the gRPC tests: the Echo service (sync and aio), a wire tap that
verifies each call's signature over the HTTP/2 request as sent, and a bare HTTP/2 server
that refuses calls the way Lattice does (plain HTTP, no gRPC status).

grpcio's server API does not expose ``:authority`` (the aio server not at all), so the
signature is checked on the wire instead: the tap forwards bytes unchanged between the
client and the real grpcio server and decodes the client's HEADERS frames with HPACK.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import grpc.aio
import h2.config
import h2.connection
import h2.events
import hpack
from grpc_protos import load

from lattice_client import Credentials
from lattice_client.testing import SignatureCheck, verify_signature

T = TypeVar("T")

pb2, pb2_grpc = load()

# One signed request per call: the session token must arrive too.
CREDENTIALS = Credentials("AKIDLATTICEGRPCTEST", "grpc-test-secret-key", "grpc-test-session-token")
# A generated Lattice service name: the region (us-west-2) comes from it.
AUTHORITY = "echo-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
SERVICE = "lattice.test.v1.Echo"


class LoopThread:
    """An asyncio loop in a daemon thread, for the servers both sync and aio tests talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


# --- The Echo service -------------------------------------------------------------------


@dataclass
class Seen:
    """What the service saw of each call: method, metadata, deadline, cancellation."""

    metadata: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    time_remaining: list[float | None] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def record(self, method: str, metadata: Any, time_remaining: float | None) -> None:
        self.metadata.append((method, {str(m.key): str(m.value) for m in metadata or ()}))
        self.time_remaining.append(time_remaining)


class EchoService(pb2_grpc.EchoServicer):  # type: ignore[misc,name-defined]
    """Sync Echo: ``text="fail"`` aborts with a service error, ``"forever"`` streams until
    cancelled, ``"wait"`` waits for the deadline."""

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    def _record(self, method: str, context: grpc.ServicerContext) -> None:
        self.seen.record(method, context.invocation_metadata(), context.time_remaining())

    def Say(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._record("Say", context)
        if request.text == "fail":
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "the service says no")
        if request.text == "wait":
            while context.is_active():
                time.sleep(0.01)
        return pb2.EchoReply(text=request.text, count=1)

    def Repeat(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._record("Repeat", context)
        if request.text == "forever":
            # Only the client's cancellation ends this call.
            context.add_callback(self.seen.cancelled.set)
            while context.is_active():
                yield pb2.EchoReply(text="again")
                time.sleep(0.001)
            return
        for i in range(request.count):
            yield pb2.EchoReply(text=request.text, count=i)

    def Count(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        self._record("Count", context)
        count = sum(1 for _ in request_iterator)
        return pb2.EchoReply(text="counted", count=count)

    def Chat(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        self._record("Chat", context)
        for request in request_iterator:
            if request.text == "fail":
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the service stops here")
            yield pb2.EchoReply(text=request.text, count=request.count)


class AioEchoService(pb2_grpc.EchoServicer):  # type: ignore[misc,name-defined]
    """The grpc.aio Echo, with the same behaviour as `EchoService`."""

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    def _record(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self.seen.record(method, context.invocation_metadata(), context.time_remaining())

    async def Say(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        self._record("Say", context)
        if request.text == "fail":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "the service says no")
        if request.text == "wait":
            await asyncio.sleep(60)
        return pb2.EchoReply(text=request.text, count=1)

    async def Repeat(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        self._record("Repeat", context)
        if request.text == "forever":
            try:
                while True:
                    yield pb2.EchoReply(text="again")
                    await asyncio.sleep(0.001)
            finally:
                # Only the client's cancellation ends this loop: grpc.aio cancels the
                # handler, or closes it while it waits at the yield.
                self.seen.cancelled.set()
        for i in range(request.count):
            yield pb2.EchoReply(text=request.text, count=i)

    async def Count(
        self, request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        self._record("Count", context)
        count = 0
        async for _ in request_iterator:
            count += 1
        return pb2.EchoReply(text="counted", count=count)

    async def Chat(
        self, request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        self._record("Chat", context)
        async for request in request_iterator:
            if request.text == "fail":
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the service stops here")
            yield pb2.EchoReply(text=request.text, count=request.count)


@contextlib.contextmanager
def sync_echo_server() -> Iterator[tuple[int, Seen]]:
    """A sync grpcio server with `EchoService` on 127.0.0.1; yields its port and what it saw."""
    seen = Seen()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb2_grpc.add_EchoServicer_to_server(EchoService(seen), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, seen
    finally:
        server.stop(None).wait(10)


@contextlib.asynccontextmanager
async def aio_echo_server() -> AsyncIterator[tuple[int, Seen]]:
    """A grpc.aio server with `AioEchoService` on 127.0.0.1, on the running loop."""
    seen = Seen()
    server = grpc.aio.server()
    pb2_grpc.add_EchoServicer_to_server(AioEchoService(seen), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port, seen
    finally:
        await server.stop(None)


# --- The wire tap -----------------------------------------------------------------------

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEADERS, _CONTINUATION = 0x1, 0x9
_END_HEADERS, _PADDED, _PRIORITY = 0x4, 0x8, 0x20


@dataclass
class WireCall:
    """One call's request headers as they crossed the wire, and the verifier's verdict."""

    headers: list[tuple[str, str]]
    check: SignatureCheck

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)


class _ClientFrames:
    """Decodes the request headers in the client-to-server half of an HTTP/2 connection."""

    def __init__(self, on_headers: Callable[[list[tuple[str, str]]], None]) -> None:
        self._buffer = bytearray()
        self._preface = True
        self._block = bytearray()
        self._decoder = hpack.Decoder()
        # Whatever table size the server allows, the client's encoder may use.
        self._decoder.max_allowed_table_size = 1 << 20
        self._on_headers = on_headers

    def feed(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if self._preface:
            if len(buffer) < len(_PREFACE):
                return
            del buffer[: len(_PREFACE)]
            self._preface = False
        offset = 0
        while len(buffer) - offset >= 9:
            length = int.from_bytes(buffer[offset : offset + 3], "big")
            end = offset + 9 + length
            if len(buffer) < end:
                break
            kind, flags = buffer[offset + 3], buffer[offset + 4]
            if kind in (_HEADERS, _CONTINUATION):
                self._header_frame(kind, flags, bytes(buffer[offset + 9 : end]))
            offset = end
        del buffer[:offset]

    def _header_frame(self, kind: int, flags: int, payload: bytes) -> None:
        if kind == _HEADERS:
            if flags & _PADDED:
                payload = payload[1 : len(payload) - payload[0]]
            if flags & _PRIORITY:
                payload = payload[5:]
        self._block += payload
        if flags & _END_HEADERS:
            headers = [(str(k), str(v)) for k, v in self._decoder.decode(bytes(self._block))]
            self._block.clear()
            self._on_headers(headers)


class WireTap:
    """A TCP proxy to a grpcio server that verifies every request's signature as sent."""

    def __init__(self, upstream_port: int, credentials: Credentials = CREDENTIALS) -> None:
        self.upstream_port = upstream_port
        self.calls: list[WireCall] = []
        self._credentials = {credentials.access_key_id: credentials}
        self._lock = threading.Lock()
        self._loop = LoopThread()
        self._server = self._loop.run(self._start())
        self.port: int = self._server.sockets[0].getsockname()[1]

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._connection, "127.0.0.1", 0)

    def _verify(self, headers: list[tuple[str, str]]) -> None:
        pseudo = dict(h for h in headers if h[0].startswith(":"))
        if ":path" not in pseudo:
            return  # trailers
        fields = [("host", pseudo.get(":authority", ""))]
        fields += [h for h in headers if not h[0].startswith(":")]
        check = verify_signature(
            pseudo.get(":method", ""), pseudo[":path"], fields, credentials=self._credentials
        )
        with self._lock:
            self.calls.append(WireCall(headers, check))

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        frames = _ClientFrames(self._verify)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, tap: bool) -> None:
            try:
                while data := await src.read(65536):
                    if tap:
                        frames.feed(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        self._loop.run(stop())
        self._loop.close()


# --- Lattice's own refusals -------------------------------------------------------------


class _RefusingProtocol(asyncio.Protocol):
    def __init__(
        self, status: int, body: bytes, requests: list[dict[str, str]], *, early: bool
    ) -> None:
        self._status = status
        self._body = body
        self._early = early
        self._requests = requests
        self._conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self._transport: asyncio.Transport | None = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._conn.initiate_connection()
        transport.write(self._conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        for event in self._conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self._requests.append({str(k): str(v) for k, v in event.headers or ()})
            if isinstance(
                event, h2.events.RequestReceived if self._early else h2.events.StreamEnded
            ):
                self._conn.send_headers(
                    event.stream_id,
                    [
                        (":status", str(self._status)),
                        ("content-type", "text/plain"),
                        ("content-length", str(len(self._body))),
                    ],
                    end_stream=not self._body,
                )
                if self._body:
                    self._conn.send_data(event.stream_id, self._body, end_stream=True)
            elif isinstance(event, h2.events.DataReceived) and event.stream_id:
                self._conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        self._transport.write(self._conn.data_to_send())


# Lattice's documented auth-denial body (LATTICE.md); grpcio never shows it to the caller.
DENIAL_BODY = (
    b"AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/app/i-0abc is not "
    b"authorized to perform: vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:us-west-2:"
    b"111122223333:service/svc-0123456789abcdef0/lattice.test.v1.Echo/Say because no "
    b"service-based policy allows the vpc-lattice-svcs:Invoke action"
)


@dataclass
class RefusingServer:
    """A bare HTTP/2 server on loopback answering every request with one plain HTTP status."""

    port: int
    requests: list[dict[str, str]]


@contextlib.contextmanager
def refusing_server(
    status: int, body: bytes = b"", *, early: bool = False
) -> Iterator[RefusingServer]:
    """Answer every request with HTTP ``status`` and ``body`` (not gRPC) until the block ends.

    ``early``: answer as soon as the request headers arrive, as Lattice does, rather
    than once the request has ended. Then grpcio itself sometimes loses the HTTP status
    of a streaming call (UNKNOWN "Stream removed", a race in grpc core), so the tests of
    every call kind wait for the request's end, and only unary tests answer early.
    """
    requests: list[dict[str, str]] = []
    connections: list[_RefusingProtocol] = []
    loop = LoopThread()

    def connection() -> _RefusingProtocol:
        protocol = _RefusingProtocol(status, body, requests, early=early)
        connections.append(protocol)
        return protocol

    async def start() -> asyncio.Server:
        return await loop.loop.create_server(connection, "127.0.0.1", 0)

    server = loop.run(start())
    try:
        yield RefusingServer(server.sockets[0].getsockname()[1], requests)
    finally:

        async def stop() -> None:
            server.close()
            for protocol in connections:
                protocol.close()
            await asyncio.sleep(0)  # let the transports finish closing

        loop.run(stop())
        loop.close()
