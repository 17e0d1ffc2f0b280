"""``Retries``: the one retry configuration every adapter takes, and its translations.

Retries are opt-in: pass ``retries=Retries()`` (or ``retries=True`` for these
defaults) to a client, a session or a channel helper. The same object means the
same thing on every stack:

- what is retried: a failed connect, a connection reset before any response,
  and Lattice's transient answers (``statuses``: 429, 502, 503, 504);
- for which methods: ``methods`` (the idempotent ones by default). A failed
  connect sent nothing, so it is retried for every method;
- how often and how long: at most ``attempts`` sends in all, within ``total``
  seconds from the first send (and within the call's own deadline);
- how long to wait: exponential backoff with full jitter, a random wait
  between 0 and ``backoff * 2**(retry - 1)``, at most ``max_backoff``; a
  ``Retry-After`` answer is honoured as long as it fits in what is left of
  ``total``.

This module only describes; `_resend` decides and sends (for httpx, requests
and aiohttp). `grpc_retry_policy` translates the object for gRPC, whose own
retry machinery we use (grpcio's service config). Nothing here imports an HTTP
library.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import ConfigurationError
from ._lattice import SIGNATURE_VALIDITY_SECONDS, TRANSIENT_STATUSES

__all__ = [
    "IDEMPOTENT_METHODS",
    "MAX_TOTAL",
    "Retries",
    "RetriesLike",
    "grpc_retry_policy",
    "resolve",
]

# RFC 9110 section 9.2.2, without TRACE (never useful against Lattice).
IDEMPOTENT_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PUT"})

# The longest ``total``: urllib3 and grpcio re-send the first attempt's
# signature, so every attempt must leave within its validity (5 minutes),
# with a minute to spare for a slow upload or a clock a little off.
MAX_TOTAL = SIGNATURE_VALIDITY_SECONDS - 60.0

_MAX_ATTEMPTS = 100


@dataclass(frozen=True, init=False)
class Retries:
    """When and how often a request is sent again; see the module docstring.

    ``attempts`` counts every send, the first included (``attempts=1`` never
    retries). ``total`` bounds the time from the first send to the start of the
    last, in seconds (at most 240: a signature's validity, less a minute).
    ``methods`` are the HTTP methods whose requests may be retried after they
    reached the server; ``statuses`` the answers that are retried. ``backoff``
    is the upper bound of the first wait, doubling each retry up to
    ``max_backoff``. Invalid values raise `ConfigurationError` here.
    """

    attempts: int = 5
    total: float = 30.0
    methods: frozenset[str] = field(default=IDEMPOTENT_METHODS)
    statuses: frozenset[int] = field(default=TRANSIENT_STATUSES)
    backoff: float = 0.5
    max_backoff: float = 8.0

    def __init__(
        self,
        *,
        attempts: int = 5,
        total: float = 30.0,
        methods: Iterable[str] = IDEMPOTENT_METHODS,
        statuses: Iterable[int] = TRANSIENT_STATUSES,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
    ) -> None:
        # A hand-written __init__ on a frozen dataclass: it accepts any iterable for
        # methods/statuses, normalises them, and validates before anything is kept.
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise ConfigurationError(f"attempts= must be an int, not {attempts!r}")
        if not 1 <= attempts <= _MAX_ATTEMPTS:
            raise ConfigurationError(
                f"attempts= counts every send, the first included: 1 to {_MAX_ATTEMPTS}, "
                f"not {attempts}"
            )
        total = _seconds("total", total)
        if not 0 < total <= MAX_TOTAL:
            raise ConfigurationError(
                f"total= must be more than 0 and at most {MAX_TOTAL:.0f} seconds (a signature "
                f"is valid for {SIGNATURE_VALIDITY_SECONDS:.0f} s and some stacks re-send the "
                f"first one), not {total}"
            )
        backoff = _seconds("backoff", backoff)
        max_backoff = _seconds("max_backoff", max_backoff)
        if backoff < 0 or max_backoff < backoff:
            raise ConfigurationError(
                f"backoff= must be at least 0 and max_backoff= at least backoff=, "
                f"not backoff={backoff}, max_backoff={max_backoff}"
            )
        set_ = object.__setattr__
        set_(self, "attempts", attempts)
        set_(self, "total", total)
        set_(self, "methods", _methods(methods))
        set_(self, "statuses", _statuses(statuses))
        set_(self, "backoff", backoff)
        set_(self, "max_backoff", max_backoff)

    def __repr__(self) -> str:
        return (
            f"Retries(attempts={self.attempts}, total={self.total:g}, "
            f"methods={sorted(self.methods)}, statuses={sorted(self.statuses)}, "
            f"backoff={self.backoff:g}, max_backoff={self.max_backoff:g})"
        )

    def backoff_bound(self, retry: int) -> float:
        """The largest wait before retry number ``retry`` (1 for the first retry)."""
        return min(self.max_backoff, self.backoff * 2.0 ** min(retry - 1, 64))


# What adapters accept as ``retries=``: None or False (off), True (the defaults), a Retries.
RetriesLike = Retries | bool | None


def resolve(retries: object) -> Retries | None:
    """The `Retries` a ``retries=`` option means, or None when retries are off."""
    if retries is None or retries is False:
        return None
    if retries is True:
        return Retries()
    if isinstance(retries, Retries):
        return retries
    raise ConfigurationError(
        f"retries= must be a lattice_client.Retries, True (the defaults) or None, not {retries!r}"
    )


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{name}= must be a number of seconds, not {value!r}")
    return float(value)


def _methods(methods: Iterable[str]) -> frozenset[str]:
    if isinstance(methods, str | bytes) or not isinstance(methods, Iterable):
        raise ConfigurationError(
            f"methods= must be a collection of HTTP methods such as {{'GET', 'POST'}}, "
            f"not {methods!r}"
        )
    result = set()
    for method in methods:
        if not isinstance(method, str) or not method.isalpha():
            raise ConfigurationError(f"methods= entries must be HTTP methods, not {method!r}")
        result.add(method.upper())
    return frozenset(result)


def _statuses(statuses: Iterable[int]) -> frozenset[int]:
    if isinstance(statuses, str | bytes) or not isinstance(statuses, Iterable):
        raise ConfigurationError(
            f"statuses= must be a collection of HTTP statuses such as {{503}}, not {statuses!r}"
        )
    result = set()
    for status in statuses:
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ConfigurationError(
                f"statuses= entries must be error statuses (400-599), not {status!r}"
            )
        result.add(status)
    return frozenset(result)


def grpc_retry_policy(retries: Retries, *, statuses: Iterable[str] = ()) -> dict[str, Any]:
    """The ``retryPolicy`` of a gRPC service config that retries as ``retries`` says.

    grpcio retries below the interceptor that signs, re-sending that call's
    signature: every attempt leaves within ``total`` (at most 4 minutes), while
    the signature is valid. The codes retried are UNAVAILABLE (a failed connect,
    a reset, Lattice's 502/503/504, which grpcio reports as UNAVAILABLE) and
    RESOURCE_EXHAUSTED (a 429) when 429 is in ``statuses``, plus ``statuses``
    given here. grpcio's backoff is full jitter; it has no ``Retry-After`` and
    bounds the total time with the call's deadline (``timeout=``), not
    ``total``. gRPC caps ``maxAttempts`` at 5.
    """
    codes = set()
    if retries.statuses & {502, 503, 504}:
        codes.add("UNAVAILABLE")
    if 429 in retries.statuses:
        codes.add("RESOURCE_EXHAUSTED")
    codes.update(statuses)
    if not codes:
        codes.add("UNAVAILABLE")
    return {
        "maxAttempts": max(2, min(retries.attempts, 5)),
        "initialBackoff": f"{max(retries.backoff, 0.001):.3f}s",
        "maxBackoff": f"{max(retries.max_backoff, retries.backoff, 0.001):.3f}s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": sorted(codes),
    }
