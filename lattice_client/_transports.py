"""httpx transports that sign every request at the moment it is sent.

A transport sees every hop of a redirect and every retry, so each one is signed
anew with a fresh timestamp; an ``httpx.Auth`` would run once per request and
let a redirect go out with a stale signature, or carry ``x-amz-*`` headers to
another host. The transports wrap any other transport (hishel's pattern): take
the inner one in the constructor, forward ``close``/``aclose``, touch nothing
private in httpx.

Per request the work is: strip the headers a previous hop or the caller left,
decide from the URL's host whether this request may be signed at all, take a
credentials snapshot (no I/O on the fast path), and sign the request exactly as
httpx will send it. The body is never read: Lattice takes ``UNSIGNED-PAYLOAD``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import httpx

from ._clock import ClockSkew, aresend_for_skew, resend_for_skew
from ._credentials import Credentials, CredentialsLike, CredentialsSource
from ._exceptions import ConfigurationError, NoRegionError
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME, region_from_host
from ._signing import SIGNER_HEADERS, sign_request

if TYPE_CHECKING:
    import anyio

__all__ = ["AsyncLatticeTransport", "LatticeTransport"]

logger = logging.getLogger("lattice_client")

_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+)+-\d+")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9-]*")
_HOST = re.compile(r"(?:\*|(?:\*\.)?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])(?::\d{1,5})?")
# Headers this library sets on a signed request; stripped before every signing
# so that a redirected or re-sent request never carries a previous hop's values.
_SIGNATURE_HEADERS = frozenset(name.encode() for name in ("authorization", *SIGNER_HEADERS))
# Bound on the per-host and per-fields caches; a client talks to few hosts.
_CACHE_SIZE = 256

# A request's header fields as str (decoded as sent) and its Host field's value, if any.
_Fields = tuple[tuple[tuple[str, str], ...], str | None]
# The same with the Host value the server will see: the field's, else the URL's.
_Prepared = tuple[tuple[tuple[str, str], ...], str]


class _SigningCore:
    """The options and the credentials source shared by every transport of one client.

    Decides per request whether it may be signed and with which region, then signs
    it in place. Pure apart from the credentials source; thread-safe.
    """

    __slots__ = (
        "_allowed",
        "_exact_hosts",
        "_fields",
        "_regions",
        "_sign_any_host",
        "_wildcard_suffixes",
        "clock",
        "double_encode_path",
        "region",
        "region_set",
        "service",
        "sigv4a",
        "source",
    )

    def __init__(
        self,
        *,
        credentials: CredentialsLike,
        region: str | None,
        service: str,
        sigv4a: bool,
        region_set: str,
        signing_hosts: Iterable[str],
        double_encode_path: bool,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if clock is not None and not callable(clock):
            raise ConfigurationError(
                f"clock= must be a function returning an aware datetime, not {clock!r}"
            )
        if not isinstance(sigv4a, bool):
            raise ConfigurationError(f"sigv4a= must be True or False, not {sigv4a!r}")
        if not isinstance(double_encode_path, bool):
            raise ConfigurationError(
                f"double_encode_path= must be True or False, not {double_encode_path!r}"
            )
        if not isinstance(service, str) or not _SERVICE.fullmatch(service):
            raise ConfigurationError(
                f"service= must be a signing name such as {SIGNING_NAME!r}, not {service!r}"
            )
        if not isinstance(region_set, str) or not region_set.strip():
            raise ConfigurationError(
                f"region_set= must be '*' or comma-separated regions, not {region_set!r}"
            )
        if sigv4a:
            from . import _sigv4a

            _sigv4a._crt()  # fail here, not on the first request, when awscrt is missing
        self.source = CredentialsSource(credentials)
        self.region = _configured_region(region)
        self.service = service
        self.sigv4a = sigv4a
        self.region_set = region_set
        self.double_encode_path = double_encode_path
        # The time to sign with, corrected by the offset learned from Lattice's
        # expiry answers; shared by every transport of a client.
        self.clock = ClockSkew() if clock is None else ClockSkew(clock=clock)
        self._exact_hosts, self._wildcard_suffixes, self._sign_any_host = _parse_hosts(
            signing_hosts
        )
        # netloc (as on the wire) -> may requests to it be signed
        self._allowed: dict[bytes, bool] = {}
        # Host header -> region to sign with
        self._regions: dict[str, str] = {}
        # Raw header fields (without any to strip) -> the same as str, and the Host value
        self._fields: dict[tuple[tuple[bytes, bytes], ...], _Fields] = {}

    def allow_host(self, netloc: str) -> None:
        """Also sign requests to ``netloc`` (``host`` or ``host:port``)."""
        exact, suffixes, any_host = _parse_hosts([netloc])
        self._exact_hosts |= exact
        self._wildcard_suffixes += suffixes
        self._sign_any_host |= any_host
        self._allowed.clear()

    def describe(self) -> str:
        region = "SigV4A " + repr(self.region_set) if self.sigv4a else repr(self.region)
        return f"service={self.service!r} region={region}"

    def prepare(self, request: httpx.Request) -> _Prepared | None:
        """Remove any previous signature; return the fields to sign, or None when it may not be.

        A request to a host that may not be signed also loses every ``x-amz-*``
        header, whoever set it: nothing AWS-specific leaves for a foreign host.
        """
        netloc = request.url.netloc
        allowed = self._allowed.get(netloc)
        if allowed is None:
            allowed = self._host_allowed(netloc)
            if len(self._allowed) >= _CACHE_SIZE:
                self._allowed.clear()
            self._allowed[netloc] = allowed
        # A client sends the same fields again and again (only Host and the
        # body's change, if that): look them up rather than scan and decode them.
        raw = tuple(request.headers.raw)
        fields = self._fields.get(raw)
        if fields is None:
            fields = self._read_fields(request, raw, allowed)
        if not allowed:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("not signing a request to %s: not a signing host", request.url.host)
            return None
        header_fields, host = fields
        if host is None:  # no Host field: the server sees the URL's
            host = netloc.decode("ascii")
        return header_fields, host

    def _read_fields(
        self, request: httpx.Request, raw: tuple[tuple[bytes, bytes], ...], allowed: bool
    ) -> _Fields:
        """Strip ``request``'s stale headers; its fields as str, and its Host value if any."""
        stale = [
            name
            for name in [key.lower() for key, _ in raw]
            if name == b"authorization" or name.startswith(b"x-amz-")
        ]
        if stale:
            # Rare (a redirect, a re-send, x-amz-* set by the caller): not cached.
            headers = request.headers
            for name in stale:
                if not allowed or name in _SIGNATURE_HEADERS:
                    headers.pop(name.decode("ascii"), None)
            raw = tuple(headers.raw)
        # The bytes as sent, as str that encode back to exactly those bytes (the signer
        # encodes with surrogateescape): httpx's own decoding may guess latin-1.
        decoded = tuple(
            [
                (name.decode("latin-1"), value.decode("utf-8", "surrogateescape"))
                for name, value in raw
            ]
        )
        fields = decoded, next((value for key, value in decoded if key.lower() == "host"), None)
        if not stale:
            if len(self._fields) >= _CACHE_SIZE:
                self._fields.clear()
            self._fields[raw] = fields
        return fields

    def region_for(self, host_header: str) -> str:
        """The region to sign for: the generated name's, else the configured one."""
        region = self._regions.get(host_header)
        if region is not None:
            return region
        region = region_from_host(host_header) or self.region
        if region is None:
            if self.sigv4a:
                return ""
            raise NoRegionError(
                f"cannot tell the region of {host_header!r}: it is not a generated Lattice name "
                "(...vpc-lattice-svcs.<region>.on.aws) and no region is configured; pass "
                "region=, set AWS_REGION, or use sigv4a=True. Nothing was sent.",
                host=host_header,
            )
        if len(self._regions) >= _CACHE_SIZE:
            self._regions.clear()
        self._regions[host_header] = region
        return region

    def sign(
        self, request: httpx.Request, prepared: _Prepared, credentials: Credentials, now: datetime
    ) -> None:
        """Add the signature headers for ``request`` as httpx will send it, at ``now``.

        ``prepared`` is what `prepare` returned for it: its fields and Host value.
        """
        header_fields, host = prepared
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        signed = sign_request(
            request.method,
            host,
            path,
            query,
            header_fields,
            credentials=credentials,
            region=self.region_for(host),
            service=self.service,
            now=now,
            sigv4a=self.sigv4a,
            region_set=self.region_set,
            double_encode_path=self.double_encode_path,
        )
        headers = request.headers
        for name, value in signed.headers.items():
            headers[name] = value

    def _host_allowed(self, netloc: bytes) -> bool:
        authority = netloc.decode("ascii").lower()
        host, _ = _split_authority(authority)
        if self._sign_any_host or authority in self._exact_hosts or host in self._exact_hosts:
            return True
        if region_from_host(host) is not None:
            return True
        return any(host.endswith(suffix) for suffix in self._wildcard_suffixes)


def _split_authority(authority: str) -> tuple[str, str]:
    if authority.startswith("["):
        host, _, rest = authority.partition("]")
        return host + "]", rest[1:]
    host, _, port = authority.partition(":")
    return host, port


def _parse_hosts(hosts: Iterable[str]) -> tuple[set[str], list[str], bool]:
    if isinstance(hosts, str | bytes) or not isinstance(hosts, Iterable):
        raise ConfigurationError(
            f"signing_hosts= must be a list of host names, not {hosts!r}; "
            "for one host write signing_hosts=['api.example.com']"
        )
    exact: set[str] = set()
    suffixes: list[str] = []
    any_host = False
    for entry in hosts:
        if not isinstance(entry, str):
            raise ConfigurationError(f"signing_hosts= entries must be strings, not {entry!r}")
        name = entry.strip().lower().rstrip(".")
        if "://" in name or "/" in name or not _HOST.fullmatch(name):
            raise ConfigurationError(
                f"signing_hosts= entry {entry!r} is not a host name: write 'api.example.com', "
                "'api.example.com:8443', '*.example.com' or '*', without scheme or path"
            )
        if name == "*":
            any_host = True
        elif name.startswith("*."):
            suffixes.append(name[1:])
        else:
            exact.add(name)
    return exact, suffixes, any_host


def _configured_region(region: str | None) -> str | None:
    """``region=``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, read once; or None."""
    where = "region="
    if region is None:
        for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if value := os.environ.get(variable, "").strip():
                region, where = value, variable
                break
        else:
            return None
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ConfigurationError(
            f"{where} must be an AWS region such as 'us-west-2', not {region!r}"
        )
    return region


class LatticeTransport(httpx.BaseTransport):
    """An httpx transport that signs each request for Lattice as it is sent.

    Wraps ``transport`` (default: ``httpx.HTTPTransport()``). Requests go out
    signed only when their URL's host is a generated Lattice name
    (``*.vpc-lattice-svcs.<region>.on.aws``) or listed in ``signing_hosts``
    (``"api.example.com"``, ``"api.example.com:8443"``, ``"*.example.com"``, or
    ``"*"`` for every host); to any other host they go without ``authorization``
    and without any ``x-amz-*`` header. The region is the generated name's, else
    ``region``, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` (read once, here).

    Requests are signed at ``clock()`` (default: the system clock, UTC). When
    Lattice answers that a signature expired or is not yet valid, the offset to
    its ``Date`` header is learned (up to 15 minutes) and applied to this and
    every later request: a request whose body can be sent again is re-signed
    and re-sent once; one with a streamed body raises `SignatureExpiredError`.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        credentials: CredentialsLike = None,
        region: str | None = None,
        service: str = SIGNING_NAME,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        signing_hosts: Iterable[str] = (),
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        core = _SigningCore(
            credentials=credentials,
            region=region,
            service=service,
            sigv4a=sigv4a,
            region_set=region_set,
            signing_hosts=signing_hosts,
            double_encode_path=double_encode_path,
            clock=clock,
        )
        self._init(transport, core)

    @classmethod
    def _sharing(
        cls, transport: httpx.BaseTransport | None, core: _SigningCore
    ) -> LatticeTransport:
        """A transport around ``transport`` that signs with an existing core (one per client)."""
        self = cls.__new__(cls)
        self._init(transport, core)
        return self

    def _init(self, transport: object, core: _SigningCore) -> None:
        # ``object``: the check below is for callers without a type checker.
        if transport is None:
            transport = httpx.HTTPTransport()
        elif not isinstance(transport, httpx.BaseTransport):
            hint = (
                "; use AsyncLatticeTransport for an async transport"
                if isinstance(transport, httpx.AsyncBaseTransport)
                else ""
            )
            raise ConfigurationError(
                f"transport= must be an httpx.BaseTransport, not {type(transport).__name__}{hint}"
            )
        self._transport = transport
        self._core = core

    def __repr__(self) -> str:
        return f"<LatticeTransport {self._core.describe()} around {type(self._transport).__name__}>"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Sign ``request`` if its host may be signed; send it through the inner transport."""
        core = self._core
        prepared = core.prepare(request)
        if prepared is not None:
            self._sign(request, prepared)
        response = self._transport.handle_request(request)
        # Only a 4xx can be Lattice refusing our clock; one re-send at most.
        if (
            prepared is not None
            and 400 <= response.status_code < 500
            and resend_for_skew(request, response, core.clock)
        ):
            prepared = core.prepare(request)  # without the signature just sent
            if prepared is not None:
                self._sign(request, prepared)
            response = self._transport.handle_request(request)
        return response

    def _sign(self, request: httpx.Request, prepared: _Prepared) -> None:
        core = self._core
        now = core.clock.now()
        source = core.source
        credentials = source.peek(now) or source.get(now)
        core.sign(request, prepared, credentials, now)

    def close(self) -> None:
        """Close the inner transport."""
        self._transport.close()


class _SharedRefresh:
    """One credentials refresh, off the event loop, awaited by every request that needs it."""

    __slots__ = ("_flight", "_source")

    def __init__(self, source: CredentialsSource) -> None:
        self._source = source
        self._flight: _Flight | None = None

    async def get(self, now: datetime) -> Credentials:
        import anyio.to_thread

        while True:
            flight = self._flight
            if flight is not None:
                await flight.done.wait()
                if flight.error is not None:
                    raise flight.error
                if flight.result is not None:
                    return flight.result
                continue  # the refreshing request was cancelled: try again ourselves
            flight = self._flight = _Flight()
            try:
                result = await anyio.to_thread.run_sync(self._source.get, now)
            except Exception as exc:
                flight.error = exc
                raise
            else:
                flight.result = result
                return result
            finally:
                self._flight = None
                flight.done.set()


class _Flight:
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        import anyio

        self.done: anyio.Event = anyio.Event()
        self.result: Credentials | None = None
        self.error: Exception | None = None


class AsyncLatticeTransport(httpx.AsyncBaseTransport):
    """The async twin of `LatticeTransport`: same options, wraps an ``httpx.AsyncBaseTransport``.

    Credentials in hand are used without awaiting anything; a refresh (botocore
    I/O) runs in a worker thread, and concurrent requests share that one refresh.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        credentials: CredentialsLike = None,
        region: str | None = None,
        service: str = SIGNING_NAME,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        signing_hosts: Iterable[str] = (),
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        core = _SigningCore(
            credentials=credentials,
            region=region,
            service=service,
            sigv4a=sigv4a,
            region_set=region_set,
            signing_hosts=signing_hosts,
            double_encode_path=double_encode_path,
            clock=clock,
        )
        self._init(transport, core, _SharedRefresh(core.source))

    @classmethod
    def _sharing(
        cls,
        transport: httpx.AsyncBaseTransport | None,
        core: _SigningCore,
        refresh: _SharedRefresh,
    ) -> AsyncLatticeTransport:
        """A transport around ``transport`` that signs with an existing core (one per client)."""
        self = cls.__new__(cls)
        self._init(transport, core, refresh)
        return self

    def _init(
        self,
        transport: object,
        core: _SigningCore,
        refresh: _SharedRefresh,
    ) -> None:
        if transport is None:
            transport = httpx.AsyncHTTPTransport()
        elif not isinstance(transport, httpx.AsyncBaseTransport):
            hint = (
                "; use LatticeTransport for a sync transport"
                if isinstance(transport, httpx.BaseTransport)
                else ""
            )
            raise ConfigurationError(
                f"transport= must be an httpx.AsyncBaseTransport, "
                f"not {type(transport).__name__}{hint}"
            )
        self._transport = transport
        self._core = core
        self._refresh = refresh

    def __repr__(self) -> str:
        return (
            f"<AsyncLatticeTransport {self._core.describe()} "
            f"around {type(self._transport).__name__}>"
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Sign ``request`` if its host may be signed; send it through the inner transport."""
        core = self._core
        prepared = core.prepare(request)
        if prepared is not None:
            # As _sign does, without a coroutine per request: only a refresh awaits.
            now = core.clock.now()
            credentials = core.source.peek(now) or await self._refresh.get(now)
            core.sign(request, prepared, credentials, now)
        response = await self._transport.handle_async_request(request)
        # Only a 4xx can be Lattice refusing our clock; one re-send at most.
        if (
            prepared is not None
            and 400 <= response.status_code < 500
            and await aresend_for_skew(request, response, core.clock)
        ):
            prepared = core.prepare(request)  # without the signature just sent
            if prepared is not None:
                await self._sign(request, prepared)
            response = await self._transport.handle_async_request(request)
        return response

    async def _sign(self, request: httpx.Request, prepared: _Prepared) -> None:
        core = self._core
        now = core.clock.now()
        credentials = core.source.peek(now) or await self._refresh.get(now)
        core.sign(request, prepared, credentials, now)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._transport.aclose()
