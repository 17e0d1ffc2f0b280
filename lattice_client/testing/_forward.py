"""Forwarding an admitted request to its target and relaying the answer, streamed.

Ordinary requests go over httpx; gRPC requests (``content-type: application/grpc``)
over a small HTTP/2 client that keeps trailers, which httpx drops. hypercorn
bounds what it reads ahead, httpx and the HTTP/2 client send as they are given,
and response chunks go back one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from lattice_client.testing import _messages as msg
from lattice_client.testing._asgi import (
    HOP_BY_HOP,
    ClientGone,
    Counter,
    CountingSend,
    Receive,
    Scope,
    disconnected,
    plain,
    request_body,
    stream_body,
)
from lattice_client.testing._h2_upstream import H2Exchange, UpstreamError

# What a gRPC client gets when the server ends a response without trailers (a
# protocol error; HTTP/2 cannot carry an empty trailer block).
_MISSING_GRPC_TRAILERS = [(b"grpc-status", b"13"), (b"grpc-message", b"upstream sent no trailers")]


_UPSTREAM_IDLE_SECONDS = 2.0


class Upstream:
    """The connections to targets: one httpx client, TLS contexts, and the relays."""

    def __init__(self, *, timeout: float, ca_file: str | None) -> None:
        self._timeout = httpx.Timeout(timeout)
        # Two contexts: the HTTP/2 one offers only "h2" by ALPN, httpx's must not.
        self._ssl = ssl.create_default_context(cafile=ca_file)
        self._h2_ssl = ssl.create_default_context(cafile=ca_file)
        self._h2_ssl.set_alpn_protocols(["h2"])
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def forward(
        self,
        scope: Scope,
        receive: Receive,
        send: CountingSend,
        upstream: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        log: dict[str, Any],
    ) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout,
                verify=self._ssl,
                trust_env=False,
                follow_redirects=False,
                # Drop idle connections well before a target's own idle timeout (5 s for
                # hypercorn and uvicorn): reusing one the target is closing at that very
                # moment fails the request ("Server disconnected without sending a response").
                limits=httpx.Limits(keepalive_expiry=_UPSTREAM_IDLE_SECONDS),
            )
        base = urlsplit(upstream)
        url = httpx.URL(
            scheme=base.scheme,
            host=base.hostname or "",
            port=base.port,
            raw_path=(base.path.rstrip("/") + target).encode("latin-1"),
        )
        content, counter = await request_body(receive)
        # httpx.Request, not build_request(): the client's default headers (Accept,
        # Accept-Encoding, User-Agent...) must not reach the target as if the caller sent them.
        request = httpx.Request(
            scope["method"],
            url,
            headers=headers,
            content=content,
            extensions={"timeout": self._timeout.as_dict()},
        )
        sent_at = time.monotonic()
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            log["failureReason"] = "TargetTimeout"
            await plain(send, msg.TARGET_TIMEOUT_STATUS, b"")
            return
        except (httpx.TransportError, ClientGone) as exc:
            log["failureReason"] = type(exc).__name__
            await plain(send, msg.NO_HEALTHY_TARGET_STATUS, b"")
            return
        log["requestToTargetDuration"] = round((time.monotonic() - sent_at) * 1000)
        log["targetIpPort"] = f"{base.hostname}:{base.port}"

        async def relay() -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (n, v) for n, v in response.headers.raw if n.lower() not in HOP_BY_HOP
                    ],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            log["bytesReceived"] = counter.count  # the record is written with the last message
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        # hypercorn drops what is sent to a client that has gone; without watching for
        # that, a large download would be read from the target to the end for nobody.
        relaying = asyncio.ensure_future(relay())
        watching = asyncio.ensure_future(disconnected(receive))
        try:
            await asyncio.wait({relaying, watching}, return_when=asyncio.FIRST_COMPLETED)
            if not relaying.done():
                log["failureReason"] = "ClientDisconnected"
                relaying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relaying
        except httpx.TransportError as exc:
            log["failureReason"] = type(exc).__name__
        finally:
            watching.cancel()
            relaying.cancel()
            await response.aclose()
            log["bytesReceived"] = counter.count

    async def forward_grpc(
        self,
        scope: Scope,
        receive: Receive,
        send: CountingSend,
        upstream: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        log: dict[str, Any],
    ) -> None:
        base = urlsplit(upstream)
        tls = base.scheme == "https"
        authority = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        counter = Counter()
        try:
            exchange = await H2Exchange.open(
                base.hostname or "",
                base.port or (443 if tls else 80),
                tls=self._h2_ssl if tls else None,
                server_hostname=base.hostname,
            )
        except UpstreamError as exc:
            log["failureReason"] = str(exc)
            await plain(send, msg.NO_HEALTHY_TARGET_STATUS, b"")
            return
        try:
            await exchange.start(
                scope["method"],
                authority,
                base.path.rstrip("/") + target,
                [(n, v) for n, v in headers if n != b"host"] + [(b"te", b"trailers")],
                stream_body(receive, counter),
            )
            trailers = "http.response.trailers" in scope.get("extensions", {})
            head, tail = exchange.headers, None
            if exchange.headers_only and trailers:
                # A "trailers-only" answer must reach the client as one HEADERS frame
                # ending the stream; hypercorn always ends a stream with DATA or
                # trailers. Send the same answer the other way gRPC allows: headers
                # (content-type), no message, then the status and metadata as trailers.
                head = [(n, v) for n, v in exchange.headers if n == b"content-type"]
                tail = [(n, v) for n, v in exchange.headers if n != b"content-type"]
            await send(
                {
                    "type": "http.response.start",
                    "status": exchange.status,
                    "headers": head,
                    "trailers": trailers,
                }
            )
            async for chunk in exchange.body():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            # The record is written with the last message: complete it first.
            status = dict(tail or exchange.trailers or exchange.headers).get(b"grpc-status")
            log["grpcResponseCode"] = status.decode() if status else "-"
            log["bytesReceived"] = counter.count
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            if trailers:
                # HTTP/2 cannot send an empty trailer block; a gRPC server that sent
                # none broke the protocol, which gRPC clients know as INTERNAL.
                fields = (tail or exchange.trailers) or _MISSING_GRPC_TRAILERS
                await send(
                    {"type": "http.response.trailers", "headers": fields, "more_trailers": False}
                )
        except UpstreamError as exc:
            log["failureReason"] = str(exc)
            if send.status == 0:
                await plain(send, msg.NO_HEALTHY_TARGET_STATUS, b"")
        finally:
            await exchange.aclose()
            log["bytesReceived"] = counter.count
