"""A minimal HTTP/2 client for forwarding gRPC calls with their trailers.

httpx (and httpcore under it) drop HTTP/2 trailers, and gRPC puts its status
there (``grpc-status``, ``grpc-message``), so gRPC requests are forwarded over
this instead: one connection per call, request and response streamed both ways
under HTTP/2 flow control, trailers returned once the body is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

Headers = list[tuple[bytes, bytes]]

_READ_SIZE = 65536


class UpstreamError(Exception):
    """The upstream connection failed or reset the stream."""


@dataclass
class _Stream:
    events: asyncio.Queue[h2.events.Event] = field(default_factory=asyncio.Queue)
    window_open: asyncio.Event = field(default_factory=asyncio.Event)


class H2Exchange:
    """One request/response exchange over its own HTTP/2 connection."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, scheme: str
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._scheme = scheme
        self._conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self._stream = _Stream()
        self._stream_id = 0
        self._reading: asyncio.Task[None] | None = None
        self._sending: asyncio.Task[None] | None = None
        self.status = 0
        self.headers: Headers = []
        self.headers_only = False
        self.trailers: Headers = []

    @classmethod
    async def open(
        cls, host: str, port: int, *, tls: ssl.SSLContext | None, server_hostname: str | None
    ) -> H2Exchange:
        """Connect to ``host:port`` (TLS with ALPN h2 when ``tls`` is given, else h2c)."""
        try:
            reader, writer = await asyncio.open_connection(
                host, port, ssl=tls, server_hostname=server_hostname if tls else None
            )
        except OSError as exc:
            raise UpstreamError(f"cannot connect to {host}:{port}: {exc}") from exc
        exchange = cls(reader, writer, "https" if tls else "http")
        exchange._conn.initiate_connection()
        await exchange._flush()
        exchange._reading = asyncio.create_task(exchange._read_loop())
        return exchange

    async def start(
        self, method: str, authority: str, target: str, headers: Headers, body: AsyncIterator[bytes]
    ) -> None:
        """Send the request headers, stream ``body`` in the background, await the response head."""
        self._stream_id = self._conn.get_next_available_stream_id()
        self._conn.send_headers(
            self._stream_id,
            [
                (b":method", method.encode()),
                (b":scheme", self._scheme.encode()),
                (b":authority", authority.encode()),
                (b":path", target.encode()),
                *headers,
            ],
        )
        await self._flush()
        self._sending = asyncio.create_task(self._send_body(body))
        while True:
            event = await self._next_event()
            if isinstance(event, h2.events.ResponseReceived):
                head = dict(event.headers)
                status = int(head.get(b":status", b"0"))
                if 100 <= status < 200:
                    continue  # informational responses are not forwarded
                self.status = status
                self.headers = [(n, v) for n, v in event.headers if not n.startswith(b":")]
                # gRPC's "trailers-only" answer: the status is in these headers, no body follows.
                self.headers_only = event.stream_ended is not None
                return

    async def body(self) -> AsyncIterator[bytes]:
        """The response body, chunk by chunk; each chunk is acknowledged once consumed."""
        while True:
            event = await self._next_event()
            if isinstance(event, h2.events.DataReceived):
                if event.data:
                    yield event.data
                self._conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                await self._flush()
            elif isinstance(event, h2.events.TrailersReceived):
                self.trailers = list(event.headers)
            elif isinstance(event, h2.events.StreamEnded):
                return

    async def aclose(self) -> None:
        """Stop both directions and close the connection."""
        for task in (self._sending, self._reading):
            if task is not None and not task.done():
                task.cancel()
        self._writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await self._writer.wait_closed()

    async def _next_event(self) -> h2.events.Event:
        event = await self._stream.events.get()
        if isinstance(event, h2.events.StreamReset):
            raise UpstreamError(f"the upstream reset the stream (error code {event.error_code})")
        if isinstance(event, h2.events.ConnectionTerminated):
            raise UpstreamError("the upstream closed the connection")
        return event

    async def _send_body(self, body: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in body:
                view = memoryview(chunk)
                while view:
                    window = min(
                        self._conn.local_flow_control_window(self._stream_id),
                        self._conn.max_outbound_frame_size,
                    )
                    if window <= 0:
                        self._stream.window_open.clear()
                        await self._stream.window_open.wait()
                        continue
                    self._conn.send_data(self._stream_id, bytes(view[:window]))
                    view = view[window:]
                    await self._flush()
            self._conn.end_stream(self._stream_id)
            await self._flush()
        except (h2.exceptions.StreamClosedError, OSError):
            pass  # the upstream answered and closed its side early; nothing left to send
        except Exception:  # the caller went away mid-body: tell the upstream, do not hang it
            try:
                self._conn.reset_stream(self._stream_id, h2.errors.ErrorCodes.CANCEL)
                await self._flush()
            except (h2.exceptions.H2Error, OSError):
                pass

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(_READ_SIZE)
                if not data:
                    self._stream.events.put_nowait(h2.events.ConnectionTerminated())
                    return
                for event in self._conn.receive_data(data):
                    if isinstance(event, h2.events.WindowUpdated):
                        self._stream.window_open.set()
                    elif isinstance(event, h2.events.ConnectionTerminated) or (
                        getattr(event, "stream_id", None) == self._stream_id
                    ):
                        self._stream.events.put_nowait(event)
                await self._flush()
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            self._stream.events.put_nowait(h2.events.ConnectionTerminated())

    async def _flush(self) -> None:
        data = self._conn.data_to_send()
        if data:
            self._writer.write(data)
            await self._writer.drain()
