"""What the requests and aiohttp adapters share, knowing no HTTP library.

Each adapter turns its library's request into (method, URL as sent, header
fields as sent) and asks `lattice_client._policy.SigningPolicy.decide` whether
and how to sign it (the origin rule, the region rule, credentials, time); it
then removes and sets the headers the decision names. What is left for here:

- building the policy from the public constructors' options (`policy_from`),
  the same way the httpx transports do;
- `decide`: the policy's decision for a request already split into origin,
  path, query and fields, in one pass over the fields: what
  ``SigningPolicy.decide`` does for a URL string, without parsing the URL again
  on every request (the adapters have it parsed, and cache origins);
- `retries_from`: the ``retries=`` option, loading the retry module only when
  retries are turned on. (The clock-skew and retry decisions themselves are
  `lattice_client._resend`'s, shared with the httpx transports.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from ._credentials import Credentials, CredentialsLike
from ._policy import (
    DEFAULT_PORTS,
    Origin,
    SigningDecision,
    SigningHeaders,
    SigningPolicy,
    origin_of,
)
from ._signing import SIGNER_HEADERS

if TYPE_CHECKING:
    from ._retries import Retries

__all__ = ["decide", "origin_for", "policy_from", "retries_from"]

_SIGNATURE_HEADER_NAMES = frozenset({"authorization", *SIGNER_HEADERS})
# (scheme, authority as in the URL) -> its origin; a session talks to few. Bounded.
_ORIGINS: dict[tuple[str, str], Origin] = {}
_CACHE_SIZE = 256
# The decisions for requests signed in the current second (see `decide`). Bounded.
_DECISIONS: dict[tuple[object, ...], SigningDecision] = {}


def origin_for(scheme: str, authority: str) -> Origin:
    """The origin of ``scheme://authority`` (``authority`` as in the URL), cached."""
    key = (scheme, authority)
    origin = _ORIGINS.get(key)
    if origin is None:
        origin = origin_of(f"{scheme}://{authority}/")
        if len(_ORIGINS) >= _CACHE_SIZE:
            _ORIGINS.clear()
        _ORIGINS[key] = origin
    return origin


def decide(
    policy: SigningPolicy,
    method: str,
    origin: Origin,
    path: str,
    query: str,
    fields: Iterable[tuple[str, str]],
    chain_origin: Origin | None,
    *,
    credentials: Credentials | None = None,
    now: datetime | None = None,
) -> SigningDecision:
    """``policy.decide`` for a request given as origin, raw path and query, and fields.

    The same rules: a request the origin rule refuses loses ``authorization`` and
    every ``x-amz-*`` header; a signed one loses only stale signature headers and
    gets new ones, for its Host field (else the origin's Host). May block to
    refresh credentials unless ``credentials`` are given.
    """
    reason = policy.refusal(origin, chain_origin)
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
        scheme, name, port = origin
        if ":" in name:
            name = f"[{name}]"
        host = name if port == DEFAULT_PORTS[scheme] else f"{name}:{port}"
    if now is None:
        now = policy.now()
    if credentials is None:
        credentials = policy.credentials(now)
    # A signature covers x-amz-date, whose resolution is one second: the same request
    # signed again within that second gets the very same headers, so they are kept
    # (as the gRPC signer does) rather than computed again. The key holds the
    # credentials object itself, in this process's memory only, as the signer's
    # own caches do.
    key = (policy, method, host, path, query, tuple(kept), credentials, int(now.timestamp()))
    decision = _DECISIONS.get(key)
    if decision is None:
        added = policy.sign_parts(method, host, path or "/", query, kept, credentials, now)
        decision = SigningDecision(SigningHeaders(added), (), None)
        if len(_DECISIONS) >= _CACHE_SIZE:
            _DECISIONS.clear()
        _DECISIONS[key] = decision
    if stale:
        return SigningDecision(decision.headers, tuple(stale), None)
    return decision


def policy_from(
    *,
    credentials: CredentialsLike,
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
    """The policy for one adapter or session, from its constructor's options."""
    from ._transports import _policy

    return _policy(
        credentials,
        region,
        service,
        sigv4a,
        region_set,
        signing_origins,
        signing_hosts,
        strict_origins,
        double_encode_path,
        clock,
    )


def retries_from(retries: object) -> Retries | None:
    """The ``retries=`` option; the retry module loads only when retries are asked for."""
    if retries is None or retries is False:
        return None
    from ._retries import resolve

    return resolve(retries)
