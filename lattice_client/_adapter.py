"""What the requests and aiohttp adapters share, knowing no HTTP library.

Each adapter builds its policy with `lattice_client._policy.policy_from_options`
(as the httpx transports do), turns its library's request into (method, origin,
path and query as sent, header fields as sent) and asks
``SigningPolicy.decide_parts`` whether and how to sign it (the origin rule, the
region rule, credentials, time); it then removes and sets the headers the
decision names. What is left for here:

- `origin_for`: a request's origin, cached, so no URL is parsed again per request;
- `retries_from`: the ``retries=`` option, loading the retry module only when
  retries are turned on. (The clock-skew and retry decisions themselves are
  `lattice_client._resend`'s, shared with the httpx transports.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._policy import Origin, origin_of

if TYPE_CHECKING:
    from ._retries import Retries

__all__ = ["origin_for", "retries_from"]

# (scheme, authority as in the URL) -> its origin; a session talks to few. Bounded.
_ORIGINS: dict[tuple[str, str], Origin] = {}
_CACHE_SIZE = 256


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


def retries_from(retries: object) -> Retries | None:
    """The ``retries=`` option; the retry module loads only when retries are asked for."""
    if retries is None or retries is False:
        return None
    from ._retries import resolve

    return resolve(retries)
