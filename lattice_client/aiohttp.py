"""Sign aiohttp's requests for Lattice: a client middleware, and a drop-in ``ClientSession``.

Needs the extra ``aiohttp`` (``pip install 'vpc-lattice-client[aiohttp]'``),
aiohttp 3.12 or later, whose client middlewares run once per request sent,
each redirect hop included: each hop is signed anew with a fresh timestamp,
for exactly the target (``url.raw_path_qs``), Host and header fields aiohttp
puts on the wire. The body is never read: Lattice takes ``UNSIGNED-PAYLOAD``,
so async generators and files stream.

The origin rule needs to know which requests are hops of one redirect chain,
which aiohttp does not tell a middleware: when a signed request's answer is a
redirect, the middleware notes, in a context variable of the task making the
request, where the chain began and the origin the next hop goes to; the next
request that task sends to that origin is taken for the hop.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._exceptions import MissingDependencyError

try:
    import aiohttp
    from aiohttp import payload as _payload
    from yarl import URL
except ImportError:
    raise MissingDependencyError("aiohttp signing", extra="aiohttp", module="aiohttp") from None

from ._adapter import origin_for, retries_from
from ._credentials import CredentialsLike
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME
from ._policy import Origin, origin_of, policy_from_options

if TYPE_CHECKING:
    from ._retries import RetriesLike

__all__ = ["ClientSession", "SigningMiddleware", "araise_for_status", "raise_for_status"]


# An error response -> why its request went out unsigned (None: it was signed), for
# the typed errors; weak, so that it never keeps a response alive.
unsigned_reasons: weakref.WeakKeyDictionary[aiohttp.ClientResponse, str | None] = (
    weakref.WeakKeyDictionary()
)

# Statuses after which aiohttp follows the Location header (allow_redirects=True).
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

# In the task sending a request: after a redirect answer, (the origin the chain
# began at, the origin the next hop goes to); None otherwise.
_next_hop: ContextVar[tuple[Origin, Origin] | None] = ContextVar(
    "lattice_client_aiohttp_next_hop", default=None
)


class SigningMiddleware:
    """An aiohttp client middleware that signs each request for Lattice as it is sent.

    Use `ClientSession`, or add it to a session of your own::

        aiohttp.ClientSession(middlewares=[SigningMiddleware(region="us-west-2")])

    Every request you make is signed for its own origin (scheme, host, port). A
    redirect hop is signed only when it stays on that origin or goes to an
    origin in ``signing_origins``; any other hop goes without
    ``authorization`` and without any ``x-amz-*`` header. With
    ``strict_origins=True`` only the listed origins are signed. The other
    options are `lattice_client.LatticeTransport`'s.

    Credentials in hand are used without awaiting anything; a refresh (botocore
    I/O) runs in a worker thread, and concurrent requests share that one refresh.
    When Lattice answers that a signature expired or is not yet valid, the
    offset to its ``Date`` is learned (up to 15 minutes) and the request is
    re-signed and sent once more if its body can be sent again; a streamed body
    (an async generator) raises `BodyNotReplayableError` (also a
    `SignatureExpiredError`) instead.

    ``retries`` (a `lattice_client.Retries`, or True for its defaults; default
    None: off) sends again, re-signed, after a failed connect, a reset before
    the answer and Lattice's transient answers (429, 502, 503, 504), for the
    idempotent methods (``Retries.methods``), within ``Retries.total`` and the
    session's ``ClientTimeout.total``; when the attempts run out the last
    answer's typed error is raised with ``attempts`` set. A body that cannot be
    sent again raises `BodyNotReplayableError` instead. See docs/retries.md.
    """

    __slots__ = ("_policy", "_retries")

    def __init__(
        self,
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
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
        retries: RetriesLike = None,
    ) -> None:
        self._retries = retries_from(retries)
        self._policy = policy_from_options(
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
            signing_hosts=(),
            double_encode_path=double_encode_path,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"<SigningMiddleware {self._policy.describe()}>"

    async def __call__(
        self,
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Any],
    ) -> aiohttp.ClientResponse:
        """Sign ``request`` if the origin rule allows; send it through ``handler``."""
        url = request.url
        chain_origin = None
        expected = _next_hop.get()
        if expected is not None:
            _next_hop.set(None)
            if expected[1] == origin_for(url.scheme, url.raw_authority):  # the redirect's hop
                chain_origin = expected[0]
        if self._retries is not None:
            response = await self._resend(request, handler, chain_origin, None)
        else:
            reason = await self._sign(request, chain_origin)
            response = await handler(request)
            status = response.status
            if status >= 400:  # for the typed errors: an unsigned request's answer names why
                unsigned_reasons[response] = reason
            # Only a 4xx can be Lattice refusing our clock: then the loop takes over.
            if reason is None and 400 <= status < 500:
                response = await self._resend(request, handler, chain_origin, response)
        if response.status in _REDIRECTS:
            _expect_hop(url, response, chain_origin or origin_for(url.scheme, url.raw_authority))
        return response

    async def _resend(
        self,
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Any],
        chain_origin: Origin | None,
        first: aiohttp.ClientResponse | None,
    ) -> aiohttp.ClientResponse:
        """The send loop (`_resend.aresend`): clock-skew re-send and, when on, retries."""
        from ._aiohttp_resend import asend

        reason: str | None = None

        async def sign() -> bool:
            nonlocal reason
            reason = await self._sign(request, chain_origin)
            return reason is None

        async def send(request: aiohttp.ClientRequest) -> aiohttp.ClientResponse:
            response: aiohttp.ClientResponse = await handler(request)
            if response.status >= 400:
                unsigned_reasons[response] = reason
            return response

        return await asend(request, send, sign, self._policy.clock, self._retries, first)

    async def _sign(
        self, request: aiohttp.ClientRequest, chain_origin: Origin | None
    ) -> str | None:
        """Apply the policy's decision to ``request`` as aiohttp will send it.

        Returns None when it is signed, else why not (`lattice_client._policy`'s words).
        """
        url = request.url
        headers = request.headers
        policy = self._policy
        origin = origin_for(url.scheme, url.raw_authority)
        now = policy.now()
        credentials = None
        if policy.refusal(origin, chain_origin) is None:
            # Credentials in hand need no await; a refresh runs off the loop, shared.
            credentials = policy.source.peek(now) or await policy.acredentials(now)
        # The target aiohttp writes in origin form; absolute form to a plain-HTTP proxy
        # carries the same path and query.
        decision = policy.decide_parts(
            request.method,
            origin,
            url.raw_path,
            url.raw_query_string,
            headers.items(),
            chain_origin,
            credentials=credentials,
            now=now,
        )
        for name in decision.remove:
            headers.popall(name, None)
        headers.update(decision.headers)
        return decision.reason


def _expect_hop(url: URL, response: aiohttp.ClientResponse, chain_origin: Origin) -> None:
    """Note where the hop aiohttp will make after this redirect answer goes."""
    location = response.headers.get("Location") or response.headers.get("URI")
    if not location:
        return
    try:
        next_origin = origin_of(str(url.join(URL(location))))
    except Exception:  # aiohttp will refuse this Location itself
        return
    _next_hop.set((chain_origin, next_origin))


def _replayable(request: aiohttp.ClientRequest) -> bool:
    """Whether ``request``'s body can be sent again: none, bytes, str, JSON, a seekable file."""
    body = request.body
    return body == b"" or (isinstance(body, _payload.Payload) and not body.consumed)


def ClientSession(
    base_url: Any = None,
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
    double_encode_path: bool = DOUBLE_ENCODE_PATH,
    clock: Callable[[], datetime] | None = None,
    retries: RetriesLike = None,
    middlewares: Sequence[Any] = (),
    **session_options: Any,
) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` whose requests are signed for Lattice.

    Takes `SigningMiddleware`'s options and every ``aiohttp.ClientSession``
    option. Your ``middlewares`` run before the signer, so a retry of theirs is
    signed afresh (or pass ``retries=``: the signer retries, signing each
    attempt). As with `lattice_client.Client`, the origin of ``base_url`` is
    added to ``signing_origins``. (A function rather than a subclass: aiohttp
    discourages subclassing ``ClientSession``.)
    """
    signer = SigningMiddleware(
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
        double_encode_path=double_encode_path,
        clock=clock,
        retries=retries,
    )
    if base_url is not None:
        signer._policy.allow_origin(origin_of(str(base_url)))
    return aiohttp.ClientSession(base_url, middlewares=(*middlewares, signer), **session_options)


async def araise_for_status(response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
    """Raise the typed error for a 4xx/5xx ``response``; return ``response`` otherwise.

    The same as `lattice_client.araise_for_status`; the error is also an
    ``aiohttp.ClientResponseError``. Reads at most 64 KiB of an error body.
    """
    from ._aiohttp_errors import araise_for_status as araise_for_aiohttp

    return await araise_for_aiohttp(response)


def raise_for_status(response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
    """`araise_for_status` for a response whose body is already read."""
    from ._aiohttp_errors import raise_for_status as raise_for_aiohttp

    return raise_for_aiohttp(response)
