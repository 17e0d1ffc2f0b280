"""The signing policy: per request, may it be signed, for which region, with what, when.

Knows no HTTP library. Every adapter (the httpx transports, the requests
adapter, the aiohttp middleware, the gRPC signer) turns its library's request
into (method, URL as sent, headers as sent) and asks one `SigningPolicy`:

    decision = policy.decide(method, url, headers, chain_origin=None)
    for name in decision.remove:      # stale signature headers, or every x-amz-*
        del request.headers[name]
    request.headers.update(decision.headers)   # empty when decision.reason says why not

(``decide_parts`` takes the request already split into origin, path, query and
fields; the requests and aiohttp adapters call it, and `decide` goes through it.
Each adapter's constructor builds its policy with `policy_from_options`.)

The rules it applies, each in one place here:

- **The origin rule.** A request the caller sends is signed for its own origin
  (scheme, host, port), whatever the host. A later hop of the same chain (a
  redirect) is signed only when it stays on the chain's first origin or goes to
  an origin in ``signing_origins``. With ``strict_origins=True`` only the listed
  origins are signed, first hop or not. A request that is not signed loses
  ``authorization`` and every ``x-amz-*`` header. The adapter says which origin
  began the chain (``chain_origin``); None means "this is the caller's request".
- **The region rule** (`RegionRule`): a generated Lattice name carries its
  region, and it is the one signed for; ``region=`` that contradicts it is a
  `ConfigurationError` (SigV4A excepted: it signs for a region set). Any other
  host takes ``region=``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else
  the region of a botocore/boto3 session given as ``credentials=``; SigV4A needs
  none; otherwise `NoRegionError`, before anything is sent.
- **Credentials and time**: one `CredentialsSource` snapshot per request (no
  I/O while the one in hand is good; one shared refresh when it is not), the
  time from `ClockSkew` (corrected by what Lattice's expiry answers taught).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._clock import ClockSkew
from ._credentials import (
    Credentials,
    CredentialsLike,
    CredentialsSource,
    fetch_timed_out,
    with_role,
)
from ._exceptions import ConfigurationError, NoRegionError
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME, region_from_host
from ._origins import (
    CROSS_ORIGIN_REDIRECT,
    DEFAULT_PORTS,
    NOT_LISTED,
    Origin,
    OriginEntry,
    check_origin_entries,
    explain_unsigned,
    host_header,
    idna_host,
    origin_of,
)
from ._signing import SIGNER_HEADERS, sign_request
from ._validate import check_region_set

if TYPE_CHECKING:
    import anyio

__all__ = [
    "CROSS_ORIGIN_REDIRECT",
    "DEFAULT_PORTS",
    "NOT_LISTED",
    "Origin",
    "OriginEntry",
    "RegionRule",
    "SigningDecision",
    "SigningHeaders",
    "SigningPolicy",
    "check_origin_entries",
    "configured_region",
    "explain_unsigned",
    "host_header",
    "idna_host",
    "origin_of",
    "policy_from_options",
    "resolve_region",
]

_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+)+-\d+")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9-]*")
_SIGNATURE_HEADER_NAMES = frozenset({"authorization", *SIGNER_HEADERS})
# The decisions for requests signed in the current second (see `decide_parts`). Bounded.
_DECISIONS: dict[tuple[object, ...], SigningDecision] = {}
_CACHE_SIZE = 256


# -- the region rule -----------------------------------------------------------------------


def configured_region(region: str | None, credentials: object = None) -> tuple[str | None, str]:
    """The region configured for hosts that carry none, and where it came from.

    ``region=``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else the region
    of a botocore/boto3 session passed as ``credentials=``; (None, "") when none.
    """
    where = "region="
    if region is None:
        for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if value := os.environ.get(variable, "").strip():
                region, where = value, variable
                break
        else:
            region, where = _session_region(credentials), "the credentials' session"
            if region is None:
                return None, ""
    if not isinstance(region, str) or not _REGION.fullmatch(region.strip().lower()):
        raise ConfigurationError(
            f"{where} must be an AWS region such as 'us-west-2', not {region!r}"
        )
    return region.strip().lower(), where


def _session_region(credentials: object) -> str | None:
    """The region of a boto3 (``region_name``) or botocore (config ``region``) session."""
    if credentials is None or isinstance(credentials, Credentials | CredentialsSource):
        return None
    value: Any = getattr(credentials, "region_name", None)
    if value is None:
        get = getattr(credentials, "get_config_variable", None)
        if callable(get):
            try:
                value = get("region")
            except Exception:  # a broken profile: the region is then just unknown
                value = None
    return value if isinstance(value, str) and value.strip() else None


def resolve_region(
    host: str, region: str | None, *, sigv4a: bool, credentials: object = None
) -> str:
    """`RegionRule` for one request: the region to sign ``host`` for ("" under SigV4A)."""
    if region is None:
        from_host = region_from_host(host)
        if from_host is not None:
            return from_host
    return RegionRule(region, sigv4a=sigv4a, credentials=credentials)._resolve(host)


class RegionRule:
    """Which region a request to a host is signed for; one rule for every entry point."""

    __slots__ = ("_cache", "explicit", "region", "sigv4a", "where")

    def __init__(self, region: str | None, *, sigv4a: bool, credentials: object = None) -> None:
        self.explicit = region is not None
        self.region, self.where = configured_region(region, credentials)
        self.sigv4a = sigv4a
        self._cache: dict[str, str] = {}

    def for_host(self, host: str) -> str:
        """The region to sign ``host`` (a Host value, port allowed) for; "" under SigV4A.

        Raises `ConfigurationError` when ``region=`` contradicts a generated name,
        `NoRegionError` when the host carries none and none is configured.
        """
        cached = self._cache.get(host)
        if cached is not None:
            return cached
        region = self._resolve(host)
        if len(self._cache) >= 256:
            self._cache.clear()
        self._cache[host] = region
        return region

    def _resolve(self, host: str) -> str:
        from_host = region_from_host(host)
        if from_host is not None:
            if self.explicit and self.region != from_host and not self.sigv4a:
                raise ConfigurationError(
                    f"region={self.region!r} contradicts the host {host!r}, a Lattice service "
                    f"in {from_host!r}, which Lattice would refuse; drop region= (the name "
                    "says the region) or fix it. Nothing was sent."
                )
            return from_host
        if self.region is not None:
            return self.region
        if self.sigv4a:
            return ""
        raise NoRegionError(
            f"cannot tell the region of {host!r}: it is not a generated Lattice name "
            "(...vpc-lattice-svcs.<region>.on.aws) and no region is configured; pass "
            "region=, set AWS_REGION, or use sigv4a=True. Nothing was sent.",
            host=host,
        )


# -- the policy ----------------------------------------------------------------------------


class SigningHeaders(dict[str, str]):
    """The headers a signature adds: a plain ``dict`` whose repr hides the secrets.

    ``x-amz-security-token`` and the ``Signature=`` part of ``authorization`` show
    as ``[redacted]`` in ``repr``/``str`` (so in logs and tracebacks); the values
    themselves are intact.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        shown = {}
        for name, value in self.items():
            lower = name.lower()
            if lower == "x-amz-security-token":
                value = "[redacted]"
            elif lower == "authorization" and "Signature=" in value:
                value = value.partition("Signature=")[0] + "Signature=[redacted]"
            shown[name] = value
        return f"{type(self).__name__}({shown!r})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class SigningDecision:
    """What to do to one request: remove ``remove``, then set ``headers``.

    ``reason`` is None when the request is signed, else why it is not
    (`NOT_LISTED`, `CROSS_ORIGIN_REDIRECT`): record it where your error
    handling can read it, and pass it to `explain_unsigned`.
    """

    headers: Mapping[str, str]
    remove: tuple[str, ...]
    reason: str | None

    @property
    def signed(self) -> bool:
        return self.reason is None


class SigningPolicy:
    """The options of one client, and the per-request decisions made from them; thread-safe.

    Shared by every adapter of one client (all transports of an httpx client,
    the sync and async twins of a requests/aiohttp session).
    """

    __slots__ = (
        "_entries",
        "_listed",
        "_refresh",
        "clock",
        "double_encode_path",
        "region_rule",
        "region_set",
        "service",
        "sigv4a",
        "source",
        "strict",
    )

    def __init__(
        self,
        *,
        credentials: CredentialsLike | CredentialsSource = None,
        region: str | None = None,
        service: str = SIGNING_NAME,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        signing_origins: Iterable[str] = (),
        strict_origins: bool = False,
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if clock is not None and not callable(clock):
            raise ConfigurationError(
                f"clock= must be a function returning an aware datetime, not {clock!r}"
            )
        for name, flag in (
            ("sigv4a", sigv4a),
            ("double_encode_path", double_encode_path),
            ("strict_origins", strict_origins),
        ):
            if not isinstance(flag, bool):
                raise ConfigurationError(f"{name}= must be True or False, not {flag!r}")
        if not isinstance(service, str) or not _SERVICE.fullmatch(service):
            raise ConfigurationError(
                f"service= must be a signing name such as {SIGNING_NAME!r}, not {service!r}"
            )
        check_region_set(region_set)
        if sigv4a:
            from . import _sigv4a

            _sigv4a._crt()  # fail here, not on the first request, when awscrt is missing
        self._entries = check_origin_entries(signing_origins)
        self.source = (
            credentials
            if isinstance(credentials, CredentialsSource)
            else CredentialsSource(credentials)
        )
        self.region_rule = RegionRule(region, sigv4a=sigv4a, credentials=credentials)
        self.service = service
        self.sigv4a = sigv4a
        self.region_set = region_set
        self.double_encode_path = double_encode_path
        self.strict = strict_origins
        # The time to sign with, corrected by the offset learned from Lattice's
        # expiry answers; shared by every adapter of a client.
        self.clock = ClockSkew() if clock is None else ClockSkew(clock=clock)
        # origin -> listed in signing_origins (or added by allow_origin)
        self._listed: dict[Origin, bool] = {}
        self._refresh: _SharedRefresh | None = None

    # -- the origin rule --

    def allow_origin(self, origin: Origin) -> None:
        """Also sign requests and redirect hops to ``origin`` (a client's ``base_url``)."""
        scheme, host, port = origin
        self._entries.append(
            OriginEntry((scheme,), host, False, None if port == DEFAULT_PORTS[scheme] else port)
        )
        self._listed.clear()

    def add_entries(self, entries: Iterable[OriginEntry]) -> None:
        """Also sign the origins of entries validated by `check_origin_entries`."""
        self._entries.extend(entries)
        self._listed.clear()

    def listed(self, origin: Origin) -> bool:
        """Whether ``origin`` is in ``signing_origins`` (or was allowed as a base URL)."""
        listed = self._listed.get(origin)
        if listed is None:
            listed = any(entry.matches(origin) for entry in self._entries)
            if len(self._listed) >= 256:
                self._listed.clear()
            self._listed[origin] = listed
        return listed

    def refusal(self, origin: Origin, chain_origin: Origin | None) -> str | None:
        """Why a request to ``origin`` may not be signed, or None when it may.

        ``chain_origin`` is the origin of the chain's first request when this one is
        a later hop (a redirect), None when it is the caller's own request.
        """
        if self.strict:
            return None if self.listed(origin) else NOT_LISTED
        if chain_origin is None or chain_origin == origin or self.listed(origin):
            return None
        return CROSS_ORIGIN_REDIRECT

    # -- region, credentials, time --

    def region_for(self, host: str) -> str:
        """The region to sign for a request whose Host is ``host`` (see `RegionRule`)."""
        return self.region_rule.for_host(host)

    def check_host(self, host: str) -> None:
        """Raise now, at build time, if requests to ``host`` could never be signed."""
        self.region_rule.for_host(host)

    def now(self) -> datetime:
        """The time to sign with: the clock, corrected by the learned skew."""
        return self.clock.now()

    def credentials(self, now: datetime, timeout: float | None = None) -> Credentials:
        """A snapshot good at ``now``; may block (botocore I/O) to refresh, for the
        request's ``timeout`` at most (`CredentialsTimeoutError` past it)."""
        source = self.source
        return source.peek(now) or source.get(now, timeout)

    async def acredentials(self, now: datetime, timeout: float | None = None) -> Credentials:
        """As `credentials`; a refresh runs in a worker thread, shared by concurrent callers."""
        found = self.source.peek(now)
        if found is not None:
            return found
        refresh = self._refresh
        if refresh is None:
            refresh = self._refresh = _SharedRefresh(self.source)
        return await refresh.get(now, timeout)

    def describe(self) -> str:
        """The options, for a repr (no secret)."""
        region = "SigV4A " + repr(self.region_set) if self.sigv4a else repr(self.region_rule.region)
        strict = " strict_origins" if self.strict else ""
        return f"service={self.service!r} region={region}{strict}"

    # -- signing --

    def sign_parts(
        self,
        method: str,
        host: str,
        path: str,
        query: str,
        fields: Iterable[tuple[str, str]],
        credentials: Credentials,
        now: datetime,
    ) -> dict[str, str]:
        """The signature headers for a request given as sent: Host value, raw path and query."""
        return sign_request(
            method,
            host,
            path,
            query,
            fields,
            credentials=credentials,
            region=self.region_rule.for_host(host),
            service=self.service,
            now=now,
            sigv4a=self.sigv4a,
            region_set=self.region_set,
            double_encode_path=self.double_encode_path,
        ).headers

    def decide(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]] | Mapping[str, str],
        chain_origin: Origin | None = None,
        *,
        now: datetime | None = None,
        credentials: Credentials | None = None,
    ) -> SigningDecision:
        """Whether and how to sign one request, given as it will be sent; may block to refresh.

        ``url`` is the absolute URL as sent (path and query already percent-encoded,
        as requests and aiohttp send them); ``headers`` are the fields as sent
        (a Host field, if any, is what the server sees; else the URL's authority).
        ``chain_origin``: the origin of the first request of a redirect chain when
        this is a later hop, else None. The time and credentials default to
        `now` and `credentials`.
        """
        parts = urlsplit(url)
        fields = headers.items() if isinstance(headers, Mapping) else headers
        return self.decide_parts(
            method,
            origin_of(url),
            parts.path,
            parts.query,
            fields,
            chain_origin,
            now=now,
            credentials=credentials,
        )

    def decide_parts(
        self,
        method: str,
        origin: Origin,
        path: str,
        query: str,
        fields: Iterable[tuple[str, str]],
        chain_origin: Origin | None,
        *,
        now: datetime | None = None,
        credentials: Credentials | None = None,
    ) -> SigningDecision:
        """`decide` for a request already split into origin, raw path, query and fields.

        What the requests and aiohttp adapters call: they have the URL parsed (and
        its origin cached), so nothing is parsed again per request. A request the
        origin rule refuses loses ``authorization`` and every ``x-amz-*`` header; a
        signed one loses only stale signature headers and gets new ones, for its
        Host field (else the origin's Host).
        """
        reason = self.refusal(origin, chain_origin)
        stale: list[str] = []
        kept: list[tuple[str, str]] = []
        host = None
        for name, value in fields:
            lower = name.lower()
            if lower == "authorization" or lower.startswith("x-amz-"):
                if reason is not None or lower in _SIGNATURE_HEADER_NAMES:
                    stale.append(name)
                    continue
            elif lower == "host":
                host = value
            kept.append((name, value))
        if reason is not None:
            return SigningDecision({}, tuple(stale), reason)
        if host is None:
            host = host_header(origin)
        if now is None:
            now = self.now()
        if credentials is None:
            credentials = self.credentials(now)
        # A signature covers x-amz-date, whose resolution is one second: the same request
        # signed again within that second gets the very same headers, so they are kept
        # (as the gRPC signer does) rather than computed again. The key holds the
        # credentials object itself, in this process's memory only, as the signer's
        # own caches do.
        key = (self, method, host, path, query, tuple(kept), credentials, int(now.timestamp()))
        decision = _DECISIONS.get(key)
        if decision is None:
            added = self.sign_parts(method, host, path or "/", query, kept, credentials, now)
            decision = SigningDecision(SigningHeaders(added), (), None)
            if len(_DECISIONS) >= _CACHE_SIZE:
                _DECISIONS.clear()
            _DECISIONS[key] = decision
        if stale:
            return SigningDecision(decision.headers, tuple(stale), None)
        return decision

    async def adecide(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]] | Mapping[str, str],
        chain_origin: Origin | None = None,
        *,
        now: datetime | None = None,
    ) -> SigningDecision:
        """`decide` for async adapters: a credentials refresh never blocks the event loop."""
        if now is None:
            now = self.now()
        credentials = self.source.peek(now) or await self.acredentials(now)
        return self.decide(method, url, headers, chain_origin, now=now, credentials=credentials)


def policy_from_options(
    *,
    credentials: CredentialsLike,
    role_arn: str | None,
    role_session_name: str | None,
    external_id: str | None,
    duration: timedelta | int | None,
    region: str | None,
    service: str,
    sigv4a: bool,
    region_set: str,
    signing_origins: Iterable[str],
    strict_origins: bool,
    signing_hosts: Iterable[str],
    double_encode_path: bool,
    clock: Callable[[], datetime] | None,
) -> SigningPolicy:
    """The policy a public constructor's signing options describe.

    Every adapter (httpx transports and clients, requests, aiohttp) builds its
    policy here; ``signing_hosts`` is the older spelling of ``signing_origins``.
    """
    credentials = with_role(
        credentials,
        role_arn=role_arn,
        role_session_name=role_session_name,
        external_id=external_id,
        duration=duration,
    )
    origins = check_origin_entries(signing_origins)
    hosts = check_origin_entries(signing_hosts, "signing_hosts")
    policy = SigningPolicy(
        credentials=credentials,
        region=region,
        service=service,
        sigv4a=sigv4a,
        region_set=region_set,
        strict_origins=strict_origins,
        double_encode_path=double_encode_path,
        clock=clock,
    )
    policy.add_entries([*origins, *hosts])
    return policy


# -- a credentials refresh shared by concurrent async requests -----------------------------


class _SharedRefresh:
    """One credentials refresh, off the event loop, awaited by every request that needs it."""

    __slots__ = ("_flight", "_source")

    def __init__(self, source: CredentialsSource) -> None:
        self._source = source
        self._flight: _Flight | None = None

    async def get(self, now: datetime, timeout: float | None = None) -> Credentials:
        import anyio
        import anyio.to_thread

        while True:
            flight = self._flight
            if flight is not None:
                with anyio.move_on_after(timeout) as waited:
                    await flight.done.wait()
                if waited.cancelled_caught:
                    assert timeout is not None
                    raise fetch_timed_out(timeout)
                if flight.error is not None:
                    raise flight.error
                if flight.result is not None:
                    return flight.result
                continue  # the refreshing request was cancelled: try again ourselves
            flight = self._flight = _Flight()
            try:
                result = await anyio.to_thread.run_sync(self._source.get, now, timeout)
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
