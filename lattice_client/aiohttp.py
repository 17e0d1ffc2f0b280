"""Sign aiohttp's requests for Lattice: a client middleware, and a drop-in ``ClientSession``.

Needs the extra ``aiohttp`` (``pip install 'vpc-lattice-client[aiohttp]'``),
aiohttp 3.12 or later, whose client middlewares run once per request sent,
each redirect hop included: each hop is signed anew with a fresh timestamp,
for exactly the target (``url.raw_path_qs``), Host and header fields aiohttp
puts on the wire. The body is never read: Lattice takes ``UNSIGNED-PAYLOAD``,
so async generators and files stream.

aiohttp builds each redirect hop from the caller's headers, not from the
previous hop's, so a signature never follows a redirect; and a hop to a host
that may not be signed loses every ``x-amz-*`` header the caller set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from ._exceptions import MissingDependencyError

try:
    import aiohttp
    from aiohttp import payload as _payload
except ImportError:
    raise MissingDependencyError("aiohttp signing", extra="aiohttp", module="aiohttp") from None

from ._adapter import AdapterSigning, is_aws_header, is_signature_header, learn_skew
from ._credentials import CredentialsLike
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME

__all__ = ["ClientSession", "SigningMiddleware", "araise_for_status", "raise_for_status"]


class SigningMiddleware:
    """An aiohttp client middleware that signs each request for Lattice as it is sent.

    Pass it as ``aiohttp.ClientSession(middlewares=[SigningMiddleware(...)])``
    (or per request), or use `ClientSession`. Requests are signed only when
    their host is a generated Lattice name or listed in ``signing_hosts``; to
    any other host they go without ``authorization`` and any ``x-amz-*``
    header. The options are `lattice_client.LatticeTransport`'s.

    Credentials in hand are used without awaiting anything; a refresh (botocore
    I/O) runs in a worker thread, and concurrent requests share that one refresh.
    When Lattice answers that a signature expired or is not yet valid, the
    offset to its ``Date`` is learned (up to 15 minutes) and the request is
    re-signed and sent once more if its body can be sent again; a streamed body
    (an async generator) raises `SignatureExpiredError` instead.
    """

    __slots__ = ("_signing",)

    def __init__(
        self,
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
        self._signing = AdapterSigning(
            credentials=credentials,
            region=region,
            service=service,
            sigv4a=sigv4a,
            region_set=region_set,
            signing_hosts=signing_hosts,
            double_encode_path=double_encode_path,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"<SigningMiddleware {self._signing.describe()}>"

    async def __call__(
        self,
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Any],
    ) -> aiohttp.ClientResponse:
        """Sign ``request`` if its host may be signed; send it through ``handler``."""
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
            clock=self._signing.clock,
        ):
            return response
        if not _replayable(request):
            raise error_for(response, body)  # an expiry answer: SignatureExpiredError
        response.release()
        await self._sign(request)
        resent: aiohttp.ClientResponse = await handler(request)
        return resent

    async def _sign(self, request: aiohttp.ClientRequest) -> bool:
        """Strip stale signature headers; sign as aiohttp will send. False when not signed."""
        headers = request.headers
        url = request.url
        signing = self._signing
        allowed = signing.may_sign((url.host_port_subcomponent or "").lower())
        for name in [name for name in headers if is_aws_header(name)]:
            if not allowed or is_signature_header(name):
                del headers[name]
        if not allowed:
            return False
        # The target aiohttp writes: absolute form to a plain-HTTP proxy, else origin form.
        target = url.raw_path_qs
        host = headers.get("Host") or url.host_port_subcomponent or ""
        now = signing.clock.now()
        credentials = await signing.acredentials(now)
        headers.update(
            signing.signature(request.method, host, target, headers.items(), credentials, now)
        )
        return True


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
    signing_hosts: Iterable[str] = (),
    double_encode_path: bool = DOUBLE_ENCODE_PATH,
    clock: Callable[[], datetime] | None = None,
    middlewares: Sequence[Any] = (),
    **session_options: Any,
) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` whose requests are signed for Lattice.

    Takes `SigningMiddleware`'s options and every ``aiohttp.ClientSession``
    option. Your ``middlewares`` run before the signer, so a retry of theirs is
    signed afresh. As with `lattice_client.Client`, the host of ``base_url`` is
    added to ``signing_hosts``. (A function rather than a subclass: aiohttp
    discourages subclassing ``ClientSession``.)
    """
    signer = SigningMiddleware(
        credentials=credentials,
        region=region,
        service=service,
        sigv4a=sigv4a,
        region_set=region_set,
        signing_hosts=signing_hosts,
        double_encode_path=double_encode_path,
        clock=clock,
    )
    if base_url is not None:
        from yarl import URL

        authority = URL(base_url).host_port_subcomponent
        if authority:
            signer._signing.allow_host(authority)
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
