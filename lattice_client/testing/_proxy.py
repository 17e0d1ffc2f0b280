"""The local Lattice's data plane as an ASGI app: verify, authorise, route, forward, log.

Served by hypercorn (HTTP/1.1 and HTTP/2, cleartext or TLS). Ordinary requests
go to the target over httpx; gRPC requests (``content-type: application/grpc``)
over a small HTTP/2 client that keeps trailers, which httpx drops. Bodies are
streamed both ways: hypercorn bounds what it reads ahead, httpx and the HTTP/2
client send as they are given, and response chunks go back one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from lattice_client._credentials import Credentials
from lattice_client._lattice import SIGNING_NAME
from lattice_client.testing import _messages as msg
from lattice_client.testing import _target_headers
from lattice_client.testing._config import AuthType, Principal, Rule, ServiceNames
from lattice_client.testing._h2_upstream import H2Exchange, UpstreamError
from lattice_client.testing._policy import ANONYMOUS, AuthPolicy, RequestContext
from lattice_client.testing._verifier import verify_signature

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AccessLogSink = Callable[[dict[str, Any]], None]

# Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy recomputes itself.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

# How much of a request body is read and discarded before an early answer (a denial,
# a fixed response): enough for any ordinary request, bounded for uploads and streams.
_DRAIN_LIMIT_BYTES = 8 * 1024 * 1024
_DRAIN_LIMIT_SECONDS = 2.0

# What a gRPC client gets when the server ends a response without trailers (a
# protocol error; HTTP/2 cannot carry an empty trailer block).
_MISSING_GRPC_TRAILERS = [(b"grpc-status", b"13"), (b"grpc-message", b"upstream sent no trailers")]


class _ClientGone(Exception):
    """The caller disconnected while its request body was being read."""


class LatticeProxy:
    """An ASGI app that does to each request what Lattice's data plane does."""

    def __init__(
        self,
        *,
        names: ServiceNames,
        auth_type: AuthType,
        auth_policy: AuthPolicy | None,
        principals: Sequence[Principal],
        rules: Sequence[Rule],
        default_target: str | None,
        clock: Callable[[], datetime],
        max_skew: timedelta,
        access_log: AccessLogSink,
        upstream_timeout: float,
        upstream_ca_file: str | None,
    ) -> None:
        self.names = names
        self.auth_type = auth_type
        self.auth_policy = auth_policy
        self.rules = tuple(rules)
        self.default_target = default_target
        self.clock = clock
        self.max_skew = max_skew
        self.access_log = access_log
        self._by_key: dict[str, Principal] = {p.credentials.access_key_id: p for p in principals}
        self._credentials: dict[str, Credentials] = {
            key: p.credentials for key, p in self._by_key.items()
        }
        self._timeout = httpx.Timeout(upstream_timeout)
        # Two contexts: the HTTP/2 one offers only "h2" by ALPN, httpx's must not.
        self._upstream_ssl = ssl.create_default_context(cafile=upstream_ca_file)
        self._upstream_h2_ssl = ssl.create_default_context(cafile=upstream_ca_file)
        self._upstream_h2_ssl.set_alpn_protocols(["h2"])
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            # "WebSocket is not supported" by Lattice (the user guide).
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- one request --------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        log: dict[str, Any] = self._log_entry(scope, datetime.now(timezone.utc))

        def finish(counting: _CountingSend) -> None:
            log["responseCode"] = counting.status
            log["bytesSent"] = counting.body_bytes
            log["duration"] = round((time.monotonic() - started) * 1000)
            self.access_log(log)

        counting = _CountingSend(send, finish, self.clock)
        try:
            await self._handle(scope, receive, counting, log)
        finally:
            counting.finish()  # a no-op unless the response never completed

    async def _handle(
        self, scope: Scope, receive: Receive, send: _CountingSend, log: dict[str, Any]
    ) -> None:
        method: str = scope["method"]
        path = bytes(scope["raw_path"]).decode("latin-1")
        query = bytes(scope["query_string"]).decode("latin-1")
        target = f"{path}?{query}" if query else path
        headers = [(n.decode("latin-1"), _header_value(v)) for n, v in scope["headers"]]
        joined: dict[str, str] = {}
        for name, value in headers:
            joined[name] = f"{joined[name]},{value}" if name in joined else value

        principal: Principal | None = None
        if self.auth_type == "AWS_IAM":
            denial, principal = self._authenticate(method, target, headers, joined, query)
            log["callerPrincipal"] = principal.arn if principal else "-"
            if denial is None:
                denial = self._authorize(principal, method, path, joined, query)
            if denial is not None:
                status, body = denial
                log["authDeniedReason"] = body.decode()
                log["bytesReceived"] = await _drain(receive)
                await _plain(send, status, body)
                return

        rule = next((r for r in self.rules if r.matches(method, path, joined)), None)
        upstream = rule.target if rule else self.default_target
        if (rule is not None and rule.fixed_response is not None) or upstream is None:
            status = rule.fixed_response if rule and rule.fixed_response else 404
            log["bytesReceived"] = await _drain(receive)
            await _plain(send, status, msg.FIXED_RESPONSE_BODY)
            return
        log["targetGroupArn"] = self.names.target_group_arn
        forwarded = self._forwarded_headers(scope, principal)
        if joined.get("content-type", "").startswith("application/grpc"):
            await self._forward_grpc(scope, receive, send, upstream, target, forwarded, log)
        else:
            await self._forward(scope, receive, send, upstream, target, forwarded, log)

    def _authenticate(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        joined: Mapping[str, str],
        query: str,
    ) -> tuple[tuple[int, bytes] | None, Principal | None]:
        if "authorization" not in joined:
            if "x-amz-signature=" in query.lower():
                body = msg.error_body(msg.INCOMPLETE_SIGNATURE, msg.PRESIGNED_NOT_SUPPORTED)
                return (msg.SIGNATURE_ERROR_STATUS, body), None
            return None, None  # anonymous: the auth policy decides
        check = verify_signature(
            method,
            target,
            headers,
            credentials=self._credentials,
            now=self.clock(),
            service=SIGNING_NAME,
            max_skew=self.max_skew,
            region=self.names.region,
        )
        if not check.ok:
            assert check.error is not None
            return (msg.SIGNATURE_ERROR_STATUS, msg.error_body(check.error, check.message)), None
        assert check.access_key_id is not None
        return None, self._by_key[check.access_key_id]

    def _authorize(
        self,
        principal: Principal | None,
        method: str,
        path: str,
        joined: Mapping[str, str],
        query: str,
    ) -> tuple[int, bytes] | None:
        if self.auth_policy is None:
            return None
        resource = f"{self.names.service_arn}{path}"
        decision = self.auth_policy.evaluate(
            RequestContext(
                principal=principal.arn if principal else None,
                resource=resource,
                method=method,
                headers=joined,
                query=dict(parse_qsl(query, keep_blank_values=True)),
                service_arn=self.names.service_arn,
                service_network_arn=self.names.service_network_arn,
                source_vpc=self.names.vpc_id,
                principal_tags=principal.tags if principal else {},
                principal_org_id=principal.org_id if principal else None,
            )
        )
        if decision.allowed:
            return None
        return 403, msg.access_denied(
            principal.arn if principal else ANONYMOUS,
            resource,
            explicit_deny=decision.explicit_deny,
        ).encode()

    def _forwarded_headers(
        self, scope: Scope, principal: Principal | None
    ) -> list[tuple[bytes, bytes]]:
        kept = [
            (name, value)
            for name, value in scope["headers"]
            if name not in _HOP_BY_HOP and not _target_headers.is_stripped(name)
        ]
        client = scope.get("client") or ("", 0)
        server = scope.get("server") or ("", 0)
        return kept + _target_headers.added_headers(
            principal,
            self.names,
            client_ip=str(client[0]),
            port=int(server[1] or 0),
            scheme=str(scope.get("scheme", "http")),
        )

    # -- forwarding ---------------------------------------------------------------------

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: _CountingSend,
        upstream: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        log: dict[str, Any],
    ) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout,
                verify=self._upstream_ssl,
                trust_env=False,
                follow_redirects=False,
            )
        base = urlsplit(upstream)
        url = httpx.URL(
            scheme=base.scheme,
            host=base.hostname or "",
            port=base.port,
            raw_path=(base.path.rstrip("/") + target).encode("latin-1"),
        )
        content, counter = await _request_body(receive)
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
            await _plain(send, msg.TARGET_TIMEOUT_STATUS, b"")
            return
        except (httpx.TransportError, _ClientGone) as exc:
            log["failureReason"] = type(exc).__name__
            await _plain(send, msg.NO_HEALTHY_TARGET_STATUS, b"")
            return
        log["requestToTargetDuration"] = round((time.monotonic() - sent_at) * 1000)
        log["targetIpPort"] = f"{base.hostname}:{base.port}"

        async def relay() -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (n, v) for n, v in response.headers.raw if n.lower() not in _HOP_BY_HOP
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
        watching = asyncio.ensure_future(_disconnected(receive))
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

    async def _forward_grpc(
        self,
        scope: Scope,
        receive: Receive,
        send: _CountingSend,
        upstream: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        log: dict[str, Any],
    ) -> None:
        base = urlsplit(upstream)
        tls = base.scheme == "https"
        authority = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        counter = _Counter()
        try:
            exchange = await H2Exchange.open(
                base.hostname or "",
                base.port or (443 if tls else 80),
                tls=self._upstream_h2_ssl if tls else None,
                server_hostname=base.hostname,
            )
        except UpstreamError as exc:
            log["failureReason"] = str(exc)
            await _plain(send, msg.NO_HEALTHY_TARGET_STATUS, b"")
            return
        try:
            await exchange.start(
                scope["method"],
                authority,
                base.path.rstrip("/") + target,
                [(n, v) for n, v in headers if n != b"host"] + [(b"te", b"trailers")],
                _stream_body(receive, counter),
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
                await _plain(send, msg.NO_HEALTHY_TARGET_STATUS, b"")
        finally:
            await exchange.aclose()
            log["bytesReceived"] = counter.count

    def _log_entry(self, scope: Scope, start_time: datetime) -> dict[str, Any]:
        """A record shaped like Lattice's access logs (field names from its user guide)."""
        path = bytes(scope["raw_path"]).decode("latin-1")
        query = bytes(scope["query_string"]).decode("latin-1")
        client = scope.get("client") or ("-", 0)
        server = scope.get("server") or ("-", 0)
        user_agent = dict(scope["headers"]).get(b"user-agent", b"-").decode("latin-1")
        return {
            "startTime": start_time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "duration": 0,
            "serviceNetworkArn": self.names.service_network_arn,
            "serviceArn": self.names.service_arn,
            "targetGroupArn": "-",
            "sourceVpcArn": self.names.source_vpc_arn,
            "requestMethod": scope["method"],
            "requestPath": f"{path}?{query}" if query else path,
            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            "responseCode": 0,
            "bytesReceived": 0,
            "bytesSent": 0,
            "callerPrincipal": "-",
            "authDeniedReason": "-",
            "userAgent": user_agent,
            "sourceIpPort": f"{client[0]}:{client[1]}",
            "destinationIpPort": f"{server[0]}:{server[1]}",
            "targetIpPort": "-",
            "requestToTargetDuration": "-",
            "grpcResponseCode": "-",
            "failureReason": "-",
        }


class _CountingSend:
    """Wraps ASGI ``send``: remembers the status, counts body bytes, and writes the
    access-log record just before the response's last message, so that a client
    that has its answer also finds the record."""

    def __init__(
        self,
        send: Send,
        on_finish: Callable[[_CountingSend], None],
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._send = send
        self._clock = clock
        self._on_finish: Callable[[_CountingSend], None] | None = on_finish
        self._trailers = False
        self.status = 0
        self.body_bytes = 0

    def finish(self) -> None:
        if self._on_finish is not None:
            on_finish, self._on_finish = self._on_finish, None
            on_finish(self)

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            self._trailers = bool(message.get("trailers", False))
            message = _with_date(message, self._clock())
        elif kind == "http.response.body":
            self.body_bytes += len(message.get("body", b""))
            if not message.get("more_body", False) and not self._trailers:
                self.finish()
        elif kind == "http.response.trailers" and not message.get("more_trailers", False):
            self.finish()
        await self._send(message)


def _with_date(start: Message, now: datetime) -> Message:
    """One ``date`` per response, like one server: the target's, else the stand-in's
    clock (what a client measures clock skew against). The server adds none itself."""
    headers = list(start.get("headers", ()))
    if any(name.lower() == b"date" for name, _ in headers):
        return start
    date = email.utils.format_datetime(now.astimezone(timezone.utc), usegmt=True)
    return {**start, "headers": [*headers, (b"date", date.encode("ascii"))]}


class _Counter:
    count = 0


async def _plain(send: _CountingSend, status: int, body: bytes) -> None:
    """A response generated by Lattice itself: plain text, exact length, no trailing newline."""
    # Everything about it is known now: log it before a client (gRPC reads the
    # status line alone) can act on its first bytes.
    send.status, send.body_bytes = status, len(body)
    send.finish()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", msg.CONTENT_TYPE),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _disconnected(receive: Receive) -> None:
    """Return once the client has gone (the request body, if any is left, is discarded)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _drain(receive: Receive) -> int:
    """Read and discard the request body before answering early, within limits.

    A client still sending when the response ends may see a reset instead of the
    answer (and hypercorn's HTTP/2 stack trips over DATA on a closed stream), so
    a small body is read first; a large or endless one is cut off at the limits.
    """
    received = 0

    async def read() -> None:
        nonlocal received
        while received < _DRAIN_LIMIT_BYTES:
            message = await receive()
            received += len(message.get("body", b""))
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                return

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(read(), _DRAIN_LIMIT_SECONDS)
    return received


async def _request_body(receive: Receive) -> tuple[bytes | AsyncIterator[bytes], _Counter]:
    """The request body for httpx: bytes when it arrived in one piece, else a stream.

    Peeking at the first chunk keeps a bodiless GET from going upstream as chunked.
    """
    counter = _Counter()
    first = await receive()
    if first["type"] == "http.disconnect":
        raise _ClientGone
    chunk = bytes(first.get("body", b""))
    counter.count = len(chunk)
    if not first.get("more_body", False):
        return chunk, counter

    async def rest() -> AsyncIterator[bytes]:
        if chunk:
            yield chunk
        async for more in _stream_body(receive, counter):
            yield more

    return rest(), counter


async def _stream_body(receive: Receive, counter: _Counter) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = bytes(message.get("body", b""))
        if chunk:
            counter.count += len(chunk)
            yield chunk
        if not message.get("more_body", False):
            return


def log_json(entry: Mapping[str, Any]) -> str:
    """One access-log record as the single JSON line Lattice delivers."""
    return json.dumps(entry, separators=(",", ":"))


def _header_value(raw: bytes) -> str:
    """A received header value as the text its sender signed.

    SigV4 signs the bytes as sent; senders put non-ASCII values on the wire as
    UTF-8, so decode that way (re-encoding gives the same bytes back) and fall
    back to latin-1 only for bytes that are not UTF-8.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
