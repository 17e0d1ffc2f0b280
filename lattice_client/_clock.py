"""Clock skew: learn how far our clock is from Lattice's, and sign with Lattice's time.

SigV4 signatures are valid for a few minutes around the signing time. A host
whose clock drifts, or a Lambda sandbox resumed after a freeze, signs with a
time Lattice refuses. When Lattice answers that a signature is expired or not
yet valid, its ``Date`` header says what time it is there; `ClockSkew` keeps
the offset and `ClockSkew.now` gives the corrected time to sign with.

A transport signs at ``clock.now()`` and, after sending a signed request, calls
`resend_for_skew` (async: `aresend_for_skew`); when it says True, the transport
re-signs at ``clock.now()`` and sends the request once more::

    response = self._transport.handle_request(request)
    if signed and resend_for_skew(request, response, self._clock):
        self._sign(request, self._clock.now())
        response = self._transport.handle_request(request)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import TYPE_CHECKING

from ._exceptions import ConfigurationError, SignatureExpiredError

if TYPE_CHECKING:
    import httpx

# The answer parser and httpx response helpers load on the first 4xx answer, not
# with the transports: a Lambda cold start that never sees an error skips them.

__all__ = [
    "MAX_OFFSET",
    "ClockSkew",
    "aresend_for_skew",
    "ashould_retry_for_skew",
    "is_replayable",
    "resend_for_skew",
    "should_retry_for_skew",
]

# The largest offset learned from a Date header. The header is not signed (and
# may come over http://), so whoever answers can move our signing clock by up
# to this much; a signature dated that far ahead could be replayed that much
# later. 15 minutes covers a drifting clock and a resumed sandbox (the issue's
# 10 minutes either way) with room to spare; a clock further off is a broken
# host whose clock should be fixed, not papered over, and gets
# SignatureExpiredError with the measured skew.
MAX_OFFSET = timedelta(minutes=15)

_UTC = timezone.utc


# The system clock, UTC; a partial rather than a function: one Python call fewer
# per signed request.
_utcnow: Callable[[], datetime] = partial(datetime.now, _UTC)


class ClockSkew:
    """The offset from this host's clock to Lattice's, learned from expiry answers.

    Thread-safe: ``now()`` reads one immutable ``timedelta`` without locking (a
    single attribute read), ``learn()`` replaces it under a lock. ``clock``
    (default: the system clock, UTC) is what the offset corrects.
    """

    def __init__(
        self,
        *,
        max_offset: timedelta = MAX_OFFSET,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if max_offset < timedelta(0):
            raise ConfigurationError(f"max_offset must not be negative, got {max_offset}")
        self.max_offset = max_offset
        self._clock = clock
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ClockSkew offset={self._offset.total_seconds():+.0f}s max={self.max_offset}>"

    @property
    def offset(self) -> timedelta:
        """Lattice's time minus ours, as last learned (zero until then)."""
        return self._offset

    def now(self) -> datetime:
        """The time to sign with: this host's clock corrected by the learned offset."""
        offset = self._offset
        return self._clock() + offset if offset else self._clock()

    def measure(self, server_time: datetime) -> timedelta:
        """How far ``server_time`` (Lattice's time, just received) is ahead of our clock."""
        return server_time - self._clock()

    def learn(self, server_time: datetime) -> bool:
        """Adopt the offset to ``server_time`` if within ``max_offset``; say whether it did."""
        offset = self.measure(server_time)
        if abs(offset) > self.max_offset:
            return False
        with self._lock:
            self._offset = offset
        return True


def resend_for_skew(request: httpx.Request, response: httpx.Response, clock: ClockSkew) -> bool:
    """After sending the signed ``request``: whether to re-sign it at ``clock.now()`` and resend.

    True when ``response`` says the signature expired, ``clock`` learned the
    offset and the body can be sent again; ``response`` is then closed. Raises
    `SignatureExpiredError` (the httpx flavour, with the measured skew) when the
    body cannot be sent again. False otherwise: use ``response``, which reads
    as if untouched. Call it once per request, so that there is one retry at most.
    """
    response.request = request
    if not should_retry_for_skew(response, clock):
        return False
    if not is_replayable(request):
        from ._responses import raise_for_status

        try:
            raise_for_status(response)  # an expiry answer, so this raises
        finally:
            response.close()
    response.close()
    return True


async def aresend_for_skew(
    request: httpx.Request, response: httpx.Response, clock: ClockSkew
) -> bool:
    """`resend_for_skew` for an async transport."""
    response.request = request
    if not await ashould_retry_for_skew(response, clock):
        return False
    if not is_replayable(request):
        from ._responses import araise_for_status

        try:
            await araise_for_status(response)  # an expiry answer, so this raises
        finally:
            await response.aclose()
    await response.aclose()
    return True


def should_retry_for_skew(response: httpx.Response, clock: ClockSkew) -> bool:
    """True when ``response`` says the signature expired and ``clock`` just learned the offset.

    Reads at most 64 KiB of an error body, and leaves the response readable
    whole (see ``peek_body``); a 2xx/3xx/5xx response is not touched. The caller
    re-signs at ``clock.now()`` and sends once more if `is_replayable`;
    otherwise ``raise_for_status(response)`` raises `SignatureExpiredError`.
    """
    if not 400 <= response.status_code <= 499:
        return False
    from ._responses import peek_body

    return _learn(response, peek_body(response), clock)


async def ashould_retry_for_skew(response: httpx.Response, clock: ClockSkew) -> bool:
    """`should_retry_for_skew` for a response from an async transport."""
    if not 400 <= response.status_code <= 499:
        return False
    from ._responses import apeek_body

    return _learn(response, await apeek_body(response), clock)


def _learn(response: httpx.Response, body: bytes, clock: ClockSkew) -> bool:
    from ._answers import classify
    from ._responses import signed_at_of

    classification = classify(
        response.status_code,
        response.headers,
        body,
        signed_at=signed_at_of(response.request),
    )
    if classification.error_class is not SignatureExpiredError:
        return False
    server_time = classification.server_time
    return server_time is not None and clock.learn(server_time)


def is_replayable(request: httpx.Request) -> bool:
    """Whether ``request``'s body can be sent again: bytes, str, JSON, form data or none.

    A generator, iterator, file or multipart body may have been consumed by the
    first send; such a request is not retried.
    """
    import httpx

    return isinstance(request.stream, httpx.ByteStream)
