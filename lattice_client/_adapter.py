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
- the clock-skew decision for an answer given as status, headers and the start
  of its body (`learn_skew`), so that every adapter re-sends on the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from ._clock import ClockSkew
from ._credentials import Credentials, CredentialsLike
from ._exceptions import SignatureExpiredError
from ._policy import (
    DEFAULT_PORTS,
    Origin,
    SigningDecision,
    SigningHeaders,
    SigningPolicy,
    origin_of,
)
from ._signing import SIGNER_HEADERS

__all__ = ["decide", "learn_skew", "origin_for", "policy_from"]

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
