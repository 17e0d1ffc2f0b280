"""Sign aiohttp's requests for Lattice: a client middleware, and a drop-in ``ClientSession``.

Needs the extra ``aiohttp`` (``pip install 'vpc-lattice-client[aiohttp]'``),
aiohttp 3.12 or later, whose client middlewares run once per request sent,
each redirect hop included: each hop is signed anew with a fresh timestamp,
for exactly the target (``url.raw_path_qs``), Host and header fields aiohttp
puts on the wire. The body is never read: Lattice takes ``UNSIGNED-PAYLOAD``,
so async generators and files stream.

The origin rule needs to know which requests are hops of one redirect chain,
which a middleware alone cannot see: the middleware's ``trace_config`` marks
the start of each request you make (``on_request_start`` runs once per
request, before any hop), in a context variable of the task making it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from ._exceptions import ConfigurationError, MissingDependencyError

try:
    import aiohttp
    from aiohttp import payload as _payload
except ImportError:
    raise MissingDependencyError("aiohttp signing", extra="aiohttp", module="aiohttp") from None

from ._adapter import learn_skew, policy_from
from ._credentials import CredentialsLike
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME
from ._policy import Origin, origin_of

__all__ = ["ClientSession", "SigningMiddleware", "araise_for_status", "raise_for_status"]


class _Chain:
    """One request you make and its redirect hops: the origin of its first request."""

    __slots__ = ("origin",)

    def __init__(self) -> None:
        self.origin: Origin | None = None


# The chain the current task is making, set by the trace config when it starts.
_chain: ContextVar[_Chain | None] = ContextVar("lattice_client_aiohttp_chain", default=None)


async def _on_request_start(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
) -> None:
    _chain.set(_Chain())


class SigningMiddleware:
    """An aiohttp client middleware that signs each request for Lattice as it is sent.

    Use `ClientSession`, or add both the middleware and its trace config to a
    session of your own::

        signer = SigningMiddleware(region="us-west-2")
        aiohttp.ClientSession(middlewares=[signer], trace_configs=[signer.trace_config])

    Every request you make is signed for its own origin (scheme, host, port). A
    redirect hop is signed only when it stays on that origin or goes to an
    origin in ``signing_origins``; any other hop goes without
    ``authorization`` and without any ``x-amz-*`` header. With
    ``strict_origins=True`` only the listed origins are signed (and the trace
    config is not needed). The other options are `lattice_client.LatticeTransport`'s.

    Credentials in hand are used without awaiting anything; a refresh (botocore
    I/O) runs in a worker thread, and concurrent requests share that one refresh.
    When Lattice answers that a signature expired or is not yet valid, the
    offset to its ``Date`` is learned (up to 15 minutes) and the request is
    re-signed and sent once more if its body can be sent again; a streamed body
    (an async generator) raises `SignatureExpiredError` instead.
    """

    __slots__ = ("_policy", "trace_config")

    def __init__(
        self,
        *,
        credentials: CredentialsLike = None,
        region: str | None = None,
        service: str = SIGNING_NAME,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        signing_origins: Iterable[str] = (),
        strict_origins: bool = False,
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._policy = policy_from(
            credentials=credentials,
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
        self.trace_config = aiohttp.TraceConfig()
        """Add it to the session's ``trace_configs``: it tells the middleware a redirect
        hop from a request you make."""
        self.trace_config.on_request_start.append(_on_request_start)

    def __repr__(self) -> str:
        return f"<SigningMiddleware {self._policy.describe()}>"

    async def __call__(
        self,
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Any],
    ) -> aiohttp.ClientResponse:
        """Sign ``request`` if the origin rule allows; send it through ``handler``."""
        signed = await self._sign(request)
        response: aiohttp.ClientResponse = await handler(request)
        if not signed or not 400 <= response.status < 500:
            return response
        # Only a 4xx can be Lattice refusing our clock; one re-send at most.
        from ._aiohttp_errors import apeek_body, error_for, signed_at_of

        body = await apeek_body(response)
        if not learn_skew(
            response.status,
            response.headers.items(),
            body,
            signed_at=signed_at_of(request.headers),
            clock=self._policy.clock,
        ):
            return response
        if not _replayable(request):
            raise error_for(response, body)  # an expiry answer: SignatureExpiredError
        response.release()
        await self._sign(request, resend=True)
        resent: aiohttp.ClientResponse = await handler(request)
        return resent

    async def _sign(self, request: aiohttp.ClientRequest, *, resend: bool = False) -> bool:
        """Apply the policy's decision to ``request`` as aiohttp will send it; True if signed."""
        policy = self._policy
        url = request.url
        chain = _chain.get()
        if chain is None and not policy.strict:
            raise ConfigurationError(
                "SigningMiddleware cannot tell a redirect hop from a request you make: add "
                "its trace config to the session (aiohttp.ClientSession(middlewares=[signer], "
                "trace_configs=[signer.trace_config])), or use lattice_client.aiohttp."
                "ClientSession. Nothing was sent."
            )
        chain_origin = None
        if chain is not None:
            if chain.origin is None:
                chain.origin = origin_of(str(url))
            elif not resend:
                chain_origin = chain.origin
        headers = request.headers
        # The target aiohttp writes in origin form; absolute form to a plain-HTTP proxy
        # carries the same path and query.
        sent = f"{url.scheme}://{url.raw_authority}{url.raw_path_qs}"
        decision = await policy.adecide(request.method, sent, list(headers.items()), chain_origin)
        for name in decision.remove:
            headers.popall(name, None)
        headers.update(decision.headers)
        return decision.signed


def _replayable(request: aiohttp.ClientRequest) -> bool:
    """Whether ``request``'s body can be sent again: none, bytes, str, JSON, a seekable file."""
    body = request.body
    return body == b"" or (isinstance(body, _payload.Payload) and not body.consumed)


def ClientSession(
    base_url: Any = None,
    *,
    credentials: CredentialsLike = None,
    region: str | None = None,
    service: str = SIGNING_NAME,
    sigv4a: bool = False,
    region_set: str = ANY_REGION,
    signing_origins: Iterable[str] = (),
    strict_origins: bool = False,
    double_encode_path: bool = DOUBLE_ENCODE_PATH,
    clock: Callable[[], datetime] | None = None,
    middlewares: Sequence[Any] = (),
    trace_configs: Sequence[aiohttp.TraceConfig] = (),
    **session_options: Any,
) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` whose requests are signed for Lattice.

    Takes `SigningMiddleware`'s options and every ``aiohttp.ClientSession``
    option. Your ``middlewares`` run before the signer, so a retry of theirs is
    signed afresh. As with `lattice_client.Client`, the origin of ``base_url`` is
    added to ``signing_origins``. (A function rather than a subclass: aiohttp
    discourages subclassing ``ClientSession``.)
    """
    signer = SigningMiddleware(
        credentials=credentials,
        region=region,
        service=service,
        sigv4a=sigv4a,
        region_set=region_set,
        signing_origins=signing_origins,
        strict_origins=strict_origins,
        double_encode_path=double_encode_path,
        clock=clock,
    )
    if base_url is not None:
        signer._policy.allow_origin(origin_of(str(base_url)))
    return aiohttp.ClientSession(
        base_url,
        middlewares=(*middlewares, signer),
        trace_configs=[*trace_configs, signer.trace_config],
        **session_options,
    )


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
