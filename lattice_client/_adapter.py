"""What the requests and aiohttp adapters ask per request, knowing no HTTP library.

An adapter turns its library's request into (method, authority, target as sent,
header fields as sent), asks `AdapterSigning` whether it may be signed and for
which headers, and puts them on. This module is the one place those adapters
reach the signing core (today the httpx transports' ``_SigningCore``; the
``_policy`` module when it lands), so switching is a change here only.

Also here, library-neutral: the clock-skew decision for an answer given as
status, headers and the start of the body (`learn_skew`), and whether a header
name belongs to a signature (`is_signature_header`) or is AWS-specific
(`is_aws_header`), for stripping on a hop that may not be signed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from ._clock import ClockSkew
from ._credentials import Credentials, CredentialsLike
from ._exceptions import SignatureExpiredError
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME
from ._signing import SIGNER_HEADERS, sign_request
from ._transports import _SharedRefresh, _SigningCore

__all__ = [
    "AdapterSigning",
    "is_aws_header",
    "is_signature_header",
    "learn_skew",
]

# Headers a signature consists of: replaced on every signing, never sent twice.
_SIGNATURE_HEADERS = frozenset({"authorization", *SIGNER_HEADERS})
# Bound on the per-authority cache of the origin decision; a session talks to few hosts.
_CACHE_SIZE = 256


def is_signature_header(name: str) -> bool:
    """Whether ``name`` (any case) is one of the headers a signature is made of."""
    return name.lower() in _SIGNATURE_HEADERS


def is_aws_header(name: str) -> bool:
    """Whether ``name`` must not leave for a host that may not be signed for."""
    lowered = name.lower()
    return lowered == "authorization" or lowered.startswith("x-amz-")


class AdapterSigning:
    """The signing options of one adapter or session, and the per-request decisions.

    Thread-safe, as the core it wraps. ``clock`` is the skew-corrected clock
    shared by every request of the session.
    """

    __slots__ = ("_allowed", "_core", "_refresh")

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
        self._core = _SigningCore(
            credentials=credentials,
            region=region,
            service=service,
            sigv4a=sigv4a,
            region_set=region_set,
            signing_hosts=signing_hosts,
            double_encode_path=double_encode_path,
            clock=clock,
        )
        self._refresh: _SharedRefresh | None = None
        self._allowed: dict[str, bool] = {}

    @property
    def clock(self) -> ClockSkew:
        """The time to sign with, corrected by what Lattice's expiry answers taught."""
        return self._core.clock

    def describe(self) -> str:
        """The options, for a repr; never a secret."""
        return self._core.describe()

    def allow_host(self, authority: str) -> None:
        """Also sign requests to ``authority`` (``host`` or ``host:port``)."""
        self._core.allow_host(authority)
        self._allowed.clear()

    def may_sign(self, authority: str) -> bool:
        """The origin rule: may a request to ``authority`` (``host[:port]``) be signed?

        True for a generated Lattice name and for the hosts in ``signing_hosts``.
        A request that may not be signed must also lose every `is_aws_header`.
        """
        allowed = self._allowed.get(authority)
        if allowed is None:
            allowed = self._core._host_allowed(authority.encode("ascii", "replace"))
            if len(self._allowed) >= _CACHE_SIZE:
                self._allowed.clear()
            self._allowed[authority] = allowed
        return allowed

    def credentials(self, now: datetime) -> Credentials:
        """The credentials to sign with at ``now``; may block to refresh them."""
        source = self._core.source
        return source.peek(now) or source.get(now)

    async def acredentials(self, now: datetime) -> Credentials:
        """As `credentials`; a refresh runs in a worker thread, one for all waiting requests."""
        source = self._core.source
        credentials = source.peek(now)
        if credentials is not None:
            return credentials
        if self._refresh is None:
            self._refresh = _SharedRefresh(source)
        return await self._refresh.get(now)

    def signature(
        self,
        method: str,
        host: str,
        target: str,
        fields: Iterable[tuple[str, str]],
        credentials: Credentials,
        now: datetime,
    ) -> dict[str, str]:
        """The headers that sign ``method target`` with ``fields`` (without any signature
        header) for the Host ``host``, as sent; the caller puts them on the request."""
        core = self._core
        path, _, query = target.partition("?")
        return sign_request(
            method,
            host,
            path,
            query,
            fields,
            credentials=credentials,
            region=core.region_for(host),
            service=core.service,
            now=now,
            sigv4a=core.sigv4a,
            region_set=core.region_set,
            double_encode_path=core.double_encode_path,
        ).headers


def learn_skew(
    status_code: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    *,
    signed_at: datetime | None,
    clock: ClockSkew,
) -> bool:
    """True when this answer says the signature expired and ``clock`` learned the offset.

    Then a request whose body can be sent again is re-signed at ``clock.now()``
    and sent once more; otherwise the caller raises the typed error.
    """
    if not 400 <= status_code <= 499:
        return False
    from ._answers import classify

    classification = classify(status_code, headers, body, signed_at=signed_at)
    if classification.error_class is not SignatureExpiredError:
        return False
    server_time = classification.server_time
    return server_time is not None and clock.learn(server_time)
