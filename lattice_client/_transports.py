"""httpx transports that sign every request at the moment it is sent.

A transport sees every hop of a redirect and every retry, so each one is signed
anew with a fresh timestamp; an ``httpx.Auth`` would run once per request and
let a redirect go out with a stale signature, or carry ``x-amz-*`` headers to
another host. The transports wrap any other transport (hishel's pattern): take
the inner one in the constructor, forward ``close``/``aclose``, touch nothing
private in httpx.

The transports are thin adapters over `lattice_client._policy.SigningPolicy`:
per request they apply its origin rule (recording the chain's first URL in the
request's extensions, which httpx copies to each redirect hop), strip the
headers a previous hop or the caller left, take a credentials snapshot (no I/O
on the fast path), and sign the request exactly as httpx will send it. The body
is never read: Lattice takes ``UNSIGNED-PAYLOAD``.
"""

from __future__ import annotations

import logging
import socket
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import httpx

from . import _httpx_resend as _resend
from ._credentials import Credentials, CredentialsLike
from ._exceptions import ConfigurationError, ServiceNameNotResolvedError
from ._lattice import (
    ANY_REGION,
    DOUBLE_ENCODE_PATH,
    NOT_RESOLVED_HINT,
    SIGNING_NAME,
    region_from_host,
)
from ._policy import (
    DEFAULT_PORTS,
    NOT_LISTED,
    Origin,
    SigningPolicy,
    policy_from_options,
)
from ._signing import SIGNER_HEADERS, sign_request

if TYPE_CHECKING:
    from ._retries import Retries, RetriesLike

__all__ = ["AsyncLatticeTransport", "LatticeTransport"]

logger = logging.getLogger("lattice_client")

# Where a transport records, on each request, the chain's first URL and whether
# (and why not) it signed: (first URL, weakref to the request, reason or None,
# is the chain's first request). Redirect hops inherit a copy of it from httpx.
SIGNING_EXTENSION: Final = "lattice_client.signing"
# Headers this library sets on a signed request; stripped before every signing
# so that a redirected or re-sent request never carries a previous hop's values.
_SIGNATURE_HEADERS = frozenset(name.encode() for name in ("authorization", *SIGNER_HEADERS))
# Bound on the per-fields cache.
_CACHE_SIZE = 256

# A request's header fields as str (decoded as sent) and its Host field's value, if any.
_Fields = tuple[tuple[tuple[str, str], ...], str | None]
# The same with the Host value the server will see: the field's, else the URL's.
_Prepared = tuple[tuple[tuple[str, str], ...], str]


class _HttpxSigner:
    """The httpx side of one client's `SigningPolicy`: reads httpx requests, signs them in place.

    Shared by every transport of one client. Keeps what makes the hot path fast:
    a cache of decoded header fields (clients send the same ones again and
    again). Thread-safe: the caches are replaced or cleared, never half-written.
    """

    __slots__ = (
        "_double_encode_path",
        "_fields",
        "_region_for",
        "_region_set",
        "_service",
        "_sigv4a",
        "_strict",
        "policy",
    )

    def __init__(self, policy: SigningPolicy) -> None:
        self.policy = policy
        # Raw header fields (without any to strip) -> the same as str, and the Host value
        self._fields: dict[tuple[tuple[bytes, bytes], ...], _Fields] = {}
        # The policy's settings, read once: each request would otherwise look them up.
        self._strict = policy.strict
        self._region_for = policy.region_rule.for_host
        self._service = policy.service
        self._sigv4a = policy.sigv4a
        self._region_set = policy.region_set
        self._double_encode_path = policy.double_encode_path

    def decide(self, request: httpx.Request) -> str | None:
        """Apply the origin rule to ``request``; record the outcome on it; None means sign.

        The first request of a chain records its URL in ``request.extensions``;
        httpx builds each redirect hop with a copy of the previous hop's
        extensions, so a later hop finds the chain's first URL there. A request
        object the caller sends again (the same object) starts a new chain.
        """
        extensions = request.extensions
        chain = extensions.get(SIGNING_EXTENSION)
        if chain is None or (chain[3] and chain[1]() is request):
            # The caller's own request (sent for the first time, or again).
            reason = None
            if self._strict and not self.policy.listed(_origin(request.url)):
                reason = NOT_LISTED
                _log_unsigned(request, reason)
            extensions[SIGNING_EXTENSION] = (request.url, weakref.ref(request), reason, True)
            return reason
        first_url = chain[0]
        reason = self.policy.refusal(_origin(request.url), _origin(first_url))
        extensions[SIGNING_EXTENSION] = (first_url, weakref.ref(request), reason, False)
        if reason is not None:
            _log_unsigned(request, reason)
        return reason

    def prepare(self, request: httpx.Request, signed: bool) -> _Prepared:
        """Remove any previous signature; return the fields to sign and the Host value.

        A request that is not signed also loses every ``x-amz-*`` header, whoever
        set it: nothing AWS-specific leaves for an origin we do not sign for.
        """
        # A client sends the same fields again and again (only Host and the
        # body's change, if that): look them up rather than scan and decode them.
        raw = tuple(request.headers.raw)
        fields = self._fields.get(raw)
        if fields is None:
            fields = self._read_fields(request, raw, signed)
        header_fields, host = fields
        if host is None:  # no Host field: the server sees the URL's
            host = request.url.netloc.decode("ascii")
        return header_fields, host

    def _read_fields(
        self, request: httpx.Request, raw: tuple[tuple[bytes, bytes], ...], signed: bool
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
                if not signed or name in _SIGNATURE_HEADERS:
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

    def sign(
        self, request: httpx.Request, prepared: _Prepared, credentials: Credentials, now: datetime
    ) -> None:
        """Add the signature headers for ``request`` as httpx will send it, at ``now``.

        ``prepared`` is what `prepare` returned for it: its fields and Host value.
        """
        header_fields, host = prepared
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        # sign_request directly, with the settings read once: fewer lookups per request.
        signed = sign_request(
            request.method,
            host,
            path,
            query,
            header_fields,
            credentials=credentials,
            region=self._region_for(host),
            service=self._service,
            now=now,
            sigv4a=self._sigv4a,
            region_set=self._region_set,
            double_encode_path=self._double_encode_path,
        ).headers
        headers = request.headers
        for name, value in signed.items():
            headers[name] = value


def _log_unsigned(request: httpx.Request, reason: str) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("not signing a request to %s: %s", request.url.host, reason)


def _origin(url: httpx.URL) -> Origin:
    scheme = url.scheme
    return (
        scheme,
        url.raw_host.decode("ascii").rstrip("."),
        url.port or DEFAULT_PORTS.get(scheme, 0),
    )


class _ServiceNameNotResolved(ServiceNameNotResolvedError, httpx.ConnectError):
    """The httpx flavour: also an ``httpx.ConnectError``, as the error it replaces."""

    def __init__(self, message: str, *, request: httpx.Request, host: str) -> None:
        httpx.ConnectError.__init__(self, message, request=request)
        self.host = host


def _not_resolved(
    request: httpx.Request, error: httpx.ConnectError
) -> _ServiceNameNotResolved | None:
    """The typed error when a generated Lattice name did not resolve, else None."""
    host = request.url.host
    if region_from_host(host) is None or not is_name_resolution_failure(error):
        return None
    return _ServiceNameNotResolved(
        f"{host} did not resolve: {NOT_RESOLVED_HINT}", request=request, host=host
    )


def is_name_resolution_failure(error: BaseException) -> bool:
    """Whether ``error`` was caused by a DNS lookup that failed (socket.gaierror)."""
    seen: BaseException | None = error
    for _ in range(8):  # the chain is short: httpx -> httpcore -> socket
        if seen is None:
            return False
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def unsigned_reason(request: httpx.Request) -> tuple[bool, str | None]:
    """Whether a Lattice transport decided about ``request``, and if so why it went unsigned.

    (False, None): it never passed through one. (True, None): it was signed.
    (True, reason): it was not, for ``reason`` (see `lattice_client._policy`).
    """
    chain = request.extensions.get(SIGNING_EXTENSION)
    if chain is None or chain[1]() is not request:
        return False, None
    return True, chain[2]


_DOC_OPTIONS = """
    Every request the caller sends is signed for its own origin (scheme, host,
    port), whatever the host: a generated Lattice name, a custom domain, an IP.
    A later hop of a redirect is signed only when it stays on that origin or goes
    to an origin in ``signing_origins`` (``"https://api.example.com"``,
    ``"api.example.com:8443"``, ``"*.example.com"``); any other hop goes without
    ``authorization`` and without any ``x-amz-*`` header. With
    ``strict_origins=True`` only the listed origins are signed at all: for apps
    that fetch URLs they do not control. ``signing_hosts`` is the older name of
    ``signing_origins``.

    The region is the generated name's (``region=`` that contradicts it is a
    `ConfigurationError`), else ``region``, else ``AWS_REGION`` /
    ``AWS_DEFAULT_REGION`` (read once, here), else a boto3/botocore session's
    given as ``credentials``.

    With ``role_arn`` (and ``role_session_name``, ``external_id``, ``duration``)
    requests are signed as that IAM role, assumed through STS with
    ``credentials`` as the base (`AssumeRoleProvider`).

    Requests are signed at ``clock()`` (default: the system clock, UTC). When
    Lattice answers that a signature expired or is not yet valid, the offset to
    its ``Date`` header is learned (up to 15 minutes) and applied to this and
    every later request: a request whose body can be sent again is re-signed
    and re-sent once.

    ``retries`` (a `Retries`, or True for its defaults; default None: off)
    sends again, re-signed, after a failed connect, a reset before the answer
    and Lattice's transient answers (429, 502, 503, 504). A streamed body that
    would have to be sent again (a 307/308 hop, a re-send, a retry) is rewound
    if it is a seekable file, else refused with `BodyNotReplayableError` before
    anything more is sent. See docs/retries.md.
"""


def _retries_from(retries: object) -> Retries | None:
    """The ``retries=`` option; the retry module loads only when retries are asked for."""
    if retries is None or retries is False:
        return None
    from ._retries import resolve

    return resolve(retries)


class LatticeTransport(httpx.BaseTransport):
    """An httpx transport that signs each request for Lattice as it is sent.

    Wraps ``transport`` (default: ``httpx.HTTPTransport()``); mount it in any
    ``httpx.Client``: the guarantees below hold there too.
    """

    __doc__ = (__doc__ or "") + _DOC_OPTIONS

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        credentials: CredentialsLike = None,
        role_arn: str | None = None,
        role_session_name: str | None = None,
        external_id: str | None = None,
        duration: timedelta | int | None = None,
        region: str | None = None,
        service: str = SIGNING_NAME,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        signing_origins: Iterable[str] = (),
        strict_origins: bool = False,
        signing_hosts: Iterable[str] = (),
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
        retries: RetriesLike = None,
    ) -> None:
        policy = policy_from_options(
            credentials=credentials,
            role_arn=role_arn,
            role_session_name=role_session_name,
            external_id=external_id,
            duration=duration,
            region=region,
            service=service,
            sigv4a=sigv4a,
            region_set=region_set,
            signing_origins=signing_origins,
            strict_origins=strict_origins,
            signing_hosts=signing_hosts,
            double_encode_path=double_encode_path,
            clock=clock,
        )
        self._init(transport, _HttpxSigner(policy), _retries_from(retries))

    @classmethod
    def _sharing(
        cls,
        transport: httpx.BaseTransport | None,
        core: _HttpxSigner,
        retries: Retries | None = None,
    ) -> LatticeTransport:
        """A transport around ``transport`` that signs with an existing core (one per client)."""
        self = cls.__new__(cls)
        self._init(transport, core, retries)
        return self

    def _init(self, transport: object, core: _HttpxSigner, retries: Retries | None) -> None:
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
        self._clock = core.policy.clock
        self._source = core.policy.source
        self._retries = retries

    def __repr__(self) -> str:
        return (
            f"<LatticeTransport {self._core.policy.describe()} "
            f"around {type(self._transport).__name__}>"
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Sign ``request`` if the origin rule allows; send it through the inner transport."""
        # The loop (body guard, clock-skew re-send, retries) is _resend's.
        return _resend.send(request, self._send, self._sign, self._clock, self._retries)

    def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._transport.handle_request(request)
        except httpx.ConnectError as exc:
            typed = _not_resolved(request, exc)
            if typed is None:
                raise
            raise typed from exc

    def _sign(self, request: httpx.Request) -> bool:
        """Strip any previous signature; sign ``request`` now if the origin rule allows."""
        core = self._core
        signed = core.decide(request) is None
        prepared = core.prepare(request, signed)
        if signed:
            now = self._clock.now()
            source = self._source
            credentials = source.peek(now) or source.get(now, credentials_timeout(request))
            core.sign(request, prepared, credentials, now)
        return signed

    def close(self) -> None:
        """Close the inner transport."""
        self._transport.close()


def credentials_timeout(request: httpx.Request) -> float | None:
    """How long fetching credentials may take for ``request``: its connect timeout,
    as credentials are fetched before connecting."""
    timeouts = request.extensions.get("timeout")
    return timeouts.get("connect") if isinstance(timeouts, dict) else None


class AsyncLatticeTransport(httpx.AsyncBaseTransport):
    """The async twin of `LatticeTransport`: same options, wraps an ``httpx.AsyncBaseTransport``.

    Credentials in hand are used without awaiting anything; a refresh (botocore
    I/O) runs in a worker thread, and concurrent requests share that one refresh.
    """

    __doc__ = (__doc__ or "") + _DOC_OPTIONS

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        credentials: CredentialsLike = None,
        role_arn: str | None = None,
        role_session_name: str | None = None,
        external_id: str | None = None,
        duration: timedelta | int | None = None,
        region: str | None = None,
        service: str = SIGNING_NAME,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        signing_origins: Iterable[str] = (),
        strict_origins: bool = False,
        signing_hosts: Iterable[str] = (),
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
        retries: RetriesLike = None,
    ) -> None:
        policy = policy_from_options(
            credentials=credentials,
            role_arn=role_arn,
            role_session_name=role_session_name,
            external_id=external_id,
            duration=duration,
            region=region,
            service=service,
            sigv4a=sigv4a,
            region_set=region_set,
            signing_origins=signing_origins,
            strict_origins=strict_origins,
            signing_hosts=signing_hosts,
            double_encode_path=double_encode_path,
            clock=clock,
        )
        self._init(transport, _HttpxSigner(policy), _retries_from(retries))

    @classmethod
    def _sharing(
        cls,
        transport: httpx.AsyncBaseTransport | None,
        core: _HttpxSigner,
        retries: Retries | None = None,
    ) -> AsyncLatticeTransport:
        """A transport around ``transport`` that signs with an existing core (one per client)."""
        self = cls.__new__(cls)
        self._init(transport, core, retries)
        return self

    def _init(self, transport: object, core: _HttpxSigner, retries: Retries | None) -> None:
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
        self._clock = core.policy.clock
        self._source = core.policy.source
        self._retries = retries

    def __repr__(self) -> str:
        return (
            f"<AsyncLatticeTransport {self._core.policy.describe()} "
            f"around {type(self._transport).__name__}>"
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Sign ``request`` if the origin rule allows; send it through the inner transport."""
        # The loop (body guard, clock-skew re-send, retries) is _resend's.
        return await _resend.asend(
            request, self._send, self._sign, self._clock, self._retries, sign_now=self._sign_now
        )

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._transport.handle_async_request(request)
        except httpx.ConnectError as exc:
            typed = _not_resolved(request, exc)
            if typed is None:
                raise
            raise typed from exc

    def _sign_now(self, request: httpx.Request) -> bool | None:
        """`_sign` without a coroutine when the credentials are in hand; None when not."""
        core = self._core
        signed = core.decide(request) is None
        prepared = core.prepare(request, signed)
        if not signed:
            return False
        now = self._clock.now()
        credentials = self._source.peek(now)
        if credentials is None:
            return None  # a refresh is due: await _sign
        core.sign(request, prepared, credentials, now)
        return True

    async def _sign(self, request: httpx.Request) -> bool:
        """Strip any previous signature; sign ``request`` now if the origin rule allows."""
        core = self._core
        signed = core.decide(request) is None
        prepared = core.prepare(request, signed)
        if signed:
            now = self._clock.now()
            credentials = self._source.peek(now) or await core.policy.acredentials(
                now, credentials_timeout(request)
            )
            core.sign(request, prepared, credentials, now)
        return signed

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._transport.aclose()
