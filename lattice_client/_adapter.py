"""What the requests and aiohttp adapters share, knowing no HTTP library.

Each adapter turns its library's request into (method, URL as sent, header
fields as sent) and asks `lattice_client._policy.SigningPolicy.decide` whether
and how to sign it (the origin rule, the region rule, credentials, time); it
then removes and sets the headers the decision names. What is left for here:

- building the policy from the public constructors' options (`policy_from`),
  the same way the httpx transports do;
- the clock-skew decision for an answer given as status, headers and the start
  of its body (`learn_skew`), so that every adapter re-sends on the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from ._clock import ClockSkew
from ._credentials import CredentialsLike
from ._exceptions import SignatureExpiredError
from ._policy import SigningPolicy

__all__ = ["learn_skew", "policy_from"]


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
