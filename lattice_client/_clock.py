"""Clock skew: learn how far our clock is from Lattice's, and sign with Lattice's time.

SigV4 signatures are valid for a few minutes around the signing time. A host
whose clock drifts, or a Lambda sandbox resumed after a freeze, signs with a
time Lattice refuses. When Lattice answers that a signature is expired or not
yet valid, its ``Date`` header says what time it is there; `ClockSkew` keeps
the offset and `ClockSkew.now` gives the corrected time to sign with.

A transport signs at ``clock.now()``; the send loop (``_httpx_resend``, with
the decisions in ``_resend.learn_skew``) teaches the tracker from an expiry
answer and re-signs and re-sends once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial

from ._exceptions import ConfigurationError

__all__ = ["MAX_OFFSET", "ClockSkew"]

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
