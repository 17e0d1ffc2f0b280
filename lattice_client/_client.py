"""``Client`` and ``AsyncClient``: httpx clients whose every transport signs for Lattice.

They subclass ``httpx.Client`` / ``httpx.AsyncClient`` and override only
``build_request``, to raise typed errors where httpx would raise a bare
``UnicodeError`` or ``TypeError``: the constructor builds the transports httpx
would have built (same ``verify``, ``cert``, ``http1``, ``http2``, ``limits``,
``trust_env``, ``proxy``, proxies from the environment) and hands them, wrapped,
to httpx as ``transport=`` and ``mounts=``. Every other argument goes to httpx
untouched.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.request import getproxies

import httpx

from ._credentials import CredentialsLike
from ._exceptions import ConfigurationError
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME
from ._policy import SigningPolicy, policy_from_options
from ._transports import (
    AsyncLatticeTransport,
    LatticeTransport,
    _HttpxSigner,
    _retries_from,
)
from ._validate import typed_request_error, typed_request_errors

if TYPE_CHECKING:
    from ._retries import RetriesLike

__all__ = ["AsyncClient", "Client"]

# Client arguments that shape the transports httpx builds itself.
_TRANSPORT_OPTIONS = ("verify", "cert", "trust_env", "http1", "http2", "limits")
# httpx 0.27 arguments that would build transports around ours (unsigned paths).
_UNSUPPORTED = {
    "proxies": "use proxy= (one proxy) or mounts= (per-scheme proxies)",
    "app": "use transport=httpx.WSGITransport(app) / httpx.ASGITransport(app)",
}

T = TypeVar("T")


class Client(httpx.Client):
    """An ``httpx.Client`` that signs every request for Lattice through its transports.

    Accepts every ``httpx.Client`` argument plus the signing options of
    `LatticeTransport`. The default transport, a ``transport=`` you pass, each
    transport in ``mounts=`` and each proxy transport are wrapped in one
    `LatticeTransport` apiece, sharing one signing policy. Every request you
    send is signed for its own origin; the origin of ``base_url`` is also
    signed on redirect hops and in ``strict_origins=True`` mode, and a
    ``base_url`` whose region cannot be told fails here, not on the first request.

    ``role_arn`` (with ``role_session_name``, ``external_id``, ``duration``)
    signs as that IAM role, assumed through STS with ``credentials`` as the base
    (`AssumeRoleProvider`); the same options exist on every client and helper.

    ``raise_for_status=True`` raises the typed error (`AccessDeniedError`,
    `SignatureExpiredError`, `NotFoundError`...) for every 4xx/5xx response, as
    `lattice_client.raise_for_status` would; by default responses come back as
    httpx returns them. ``clock`` is the time source to sign with (default: the
    system clock, UTC), corrected by the offset learned from Lattice's expiry
    answers. ``retries`` (a `Retries`, or True for its defaults; default off)
    retries failed connects, resets before the answer and Lattice's transient
    answers, re-signing each attempt: see docs/retries.md.
    """

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
        signing_hosts: Iterable[str] = (),
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
        raise_for_status: bool = False,
        retries: RetriesLike = None,
        **kwargs: Any,
    ) -> None:
        retry = _retries_from(retries)
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
        _allow_base_url(policy, kwargs.get("base_url"))
        core = _HttpxSigner(policy)
        wrapped: list[bool] = []

        def wrap(transport: httpx.BaseTransport) -> httpx.BaseTransport:
            if isinstance(transport, LatticeTransport):
                return transport
            wrapped.append(True)
            return LatticeTransport._sharing(transport, core, retry)

        transport, mounts = _build_transports(
            kwargs, httpx.HTTPTransport, httpx.BaseTransport, wrap
        )
        if wrapped:
            _check_base_url(policy, kwargs.get("base_url"), kwargs.get("headers"))
        if raise_for_status:
            from ._responses import raise_for_status as hook

            _add_response_hook(kwargs, hook, raise_for_status)
        with typed_request_errors(kwargs.get("headers")):
            super().__init__(transport=transport, mounts=mounts, **kwargs)

    def build_request(self, *args: Any, **kwargs: Any) -> httpx.Request:
        """httpx's, raising typed errors for what httpx cannot build a request from (a
        non-ASCII str header value, a bad IDNA host, a header of another type)."""
        try:  # not a context manager, and checks only on failure: this runs per request
            return super().build_request(*args, **kwargs)
        except (UnicodeError, TypeError, AttributeError) as error:
            typed = typed_request_error(error, kwargs.get("headers"))
            if typed is None:
                raise
            raise typed from None


class AsyncClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that signs every request for Lattice through its transports.

    The async twin of `Client`: same arguments, `AsyncLatticeTransport` around
    each transport, one credentials refresh shared by all of them.
    """

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
        signing_hosts: Iterable[str] = (),
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
        raise_for_status: bool = False,
        retries: RetriesLike = None,
        **kwargs: Any,
    ) -> None:
        retry = _retries_from(retries)
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
        _allow_base_url(policy, kwargs.get("base_url"))
        core = _HttpxSigner(policy)
        wrapped: list[bool] = []

        def wrap(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
            if isinstance(transport, AsyncLatticeTransport):
                return transport
            wrapped.append(True)
            return AsyncLatticeTransport._sharing(transport, core, retry)

        transport, mounts = _build_transports(
            kwargs, httpx.AsyncHTTPTransport, httpx.AsyncBaseTransport, wrap
        )
        if wrapped:
            _check_base_url(policy, kwargs.get("base_url"), kwargs.get("headers"))
        if raise_for_status:
            from ._responses import araise_for_status as ahook

            _add_response_hook(kwargs, ahook, raise_for_status)
        with typed_request_errors(kwargs.get("headers")):
            super().__init__(transport=transport, mounts=mounts, **kwargs)

    def build_request(self, *args: Any, **kwargs: Any) -> httpx.Request:
        """httpx's, raising typed errors for what httpx cannot build a request from (a
        non-ASCII str header value, a bad IDNA host, a header of another type)."""
        try:  # not a context manager, and checks only on failure: this runs per request
            return super().build_request(*args, **kwargs)
        except (UnicodeError, TypeError, AttributeError) as error:
            typed = typed_request_error(error, kwargs.get("headers"))
            if typed is None:
                raise
            raise typed from None


def _add_response_hook(kwargs: dict[str, Any], hook: Callable[..., Any], option: object) -> None:
    """Run ``hook`` (our raise_for_status) after the caller's own response hooks."""
    if option is not True:
        raise ConfigurationError(f"raise_for_status= must be True or False, not {option!r}")
    hooks = dict(kwargs.get("event_hooks") or {})
    hooks["response"] = [*hooks.get("response", ()), hook]
    kwargs["event_hooks"] = hooks


def _base_url(base_url: object) -> httpx.URL | None:
    url = httpx.URL(base_url) if isinstance(base_url, str) else base_url
    if isinstance(url, httpx.URL) and url.host and url.scheme in ("http", "https"):
        return url
    return None


def _allow_base_url(policy: SigningPolicy, base_url: object) -> None:
    """Sign ``base_url``'s origin in every mode (redirect hops, strict_origins=True)."""
    url = _base_url(base_url)
    if url is not None:
        host = url.raw_host.decode("ascii").rstrip(".")
        policy.allow_origin((url.scheme, host, url.port or (443 if url.scheme == "https" else 80)))


def _check_base_url(policy: SigningPolicy, base_url: object, headers: object = None) -> None:
    """Fail now, when the client is built, if requests to ``base_url`` could not be signed.

    A custom domain with no region anywhere (and no SigV4A), or ``region=`` that
    contradicts a generated name, raises here rather than on the first request.
    The host checked is the one signed: a client-wide ``Host`` header's, else
    ``base_url``'s. A ``base_url`` on an IP address or ``localhost`` is checked per
    request instead (a test stand-in, a proxy: a Host header names the service).
    """
    url = _base_url(base_url)
    if url is None:
        return
    host = None
    try:
        host = httpx.Headers(headers).get("host") if headers else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        host = None  # httpx itself will say what is wrong with headers=
    raw_host = url.raw_host.decode("ascii")
    if host is None and (
        raw_host == "localhost" or _is_ip(raw_host, ipaddress.IPv4Address) or ":" in raw_host
    ):
        # An IP or localhost is a stand-in or a proxy: each request's Host header
        # names the service, so the region is checked per request.
        return
    policy.check_host(host or url.netloc.decode("ascii"))


def _build_transports(
    kwargs: dict[str, Any],
    default: Callable[..., T],
    base: type[T],
    wrap: Callable[[T], T],
) -> tuple[T, dict[str, T | None]]:
    """The transport and mounts httpx would build from ``kwargs``, each one wrapped.

    Consumes ``transport``, ``mounts`` and ``proxy`` from ``kwargs``. Mirrors
    httpx 0.28: ``proxy=`` routes everything (``all://``) through a proxy
    transport; without it, and without ``transport=``, ``trust_env`` proxies
    come from the environment (``HTTP(S)_PROXY``, ``ALL_PROXY``, ``NO_PROXY``).
    Given ``transport=``, httpx reads no proxy from the environment; nor do we.
    """
    for name, instead in _UNSUPPORTED.items():
        if name in kwargs:
            raise ConfigurationError(f"{name}= would bypass signing; {instead}")
    options = {name: kwargs[name] for name in _TRANSPORT_OPTIONS if name in kwargs}
    transport = given = kwargs.pop("transport", None)
    mounts: Mapping[str, T | None] | None = kwargs.pop("mounts", None)
    proxy = kwargs.pop("proxy", None)

    if transport is None:
        transport = default(**options)
    elif not isinstance(transport, base):
        raise ConfigurationError(
            f"transport= must be an {base.__module__}.{base.__qualname__}, "
            f"not {type(transport).__name__}"
        )

    proxies: dict[str, str | httpx.URL | httpx.Proxy | None]
    if proxy is not None:
        proxies = {"all://": proxy}
    elif options.get("trust_env", True) and given is None:
        proxies = dict(_environment_proxies())
    else:
        proxies = {}
    wrapped: dict[str, T | None] = {
        pattern: None if url is None else wrap(default(proxy=url, **options))
        for pattern, url in proxies.items()
    }
    for pattern, mounted in (mounts or {}).items():
        if mounted is not None and not isinstance(mounted, base):
            raise ConfigurationError(
                f"mounts[{pattern!r}] must be an {base.__module__}.{base.__qualname__} or None, "
                f"not {type(mounted).__name__}"
            )
        wrapped[pattern] = None if mounted is None else wrap(mounted)
    return wrap(transport), wrapped


def _environment_proxies() -> dict[str, str | None]:
    """Proxy mounts from the environment, by the rules of httpx 0.28's ``trust_env``."""
    info = getproxies()
    mounts: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        if url := info.get(scheme):
            mounts[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for raw in info.get("no", "").split(","):
        host = raw.strip()
        if host == "*":
            return {}
        if not host:
            continue
        if "://" in host:
            mounts[host] = None
        elif _is_ip(host, ipaddress.IPv4Address) or host.lower() == "localhost":
            mounts[f"all://{host}"] = None
        elif _is_ip(host, ipaddress.IPv6Address):
            mounts[f"all://[{host}]"] = None
        else:
            mounts[f"all://*{host}"] = None
    return mounts


def _is_ip(host: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        kind(host.split("/")[0])
    except ValueError:
        return False
    return True
