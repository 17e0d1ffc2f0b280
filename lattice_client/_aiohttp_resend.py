"""The aiohttp side of the send loop: a request in the middleware as an `_resend.AsyncExchange`.

`SigningMiddleware` hands a request here when retries are on, and when a
signed request's answer is a 4xx (it may be Lattice refusing our clock). The
loop is `_resend.aresend`, the one the httpx transports run: each attempt goes
through ``handler`` (the rest of aiohttp's chain) signed anew; the backoff is
full jitter; the attempts stop at ``Retries.total`` after the first send, or
earlier at the session's ``ClientTimeout.total`` (aiohttp's own timer covers
the whole call, the waits included).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp

from ._clock import ClockSkew
from ._exceptions import LatticeResponseError
from ._resend import learn_skew, with_attempts

if TYPE_CHECKING:
    from ._retries import Retries

__all__ = ["AiohttpExchange", "asend"]

# The largest body of an answer to be retried that is read, not dropped with its connection.
_DISCARD_LIMIT = 64 * 1024


async def asend(
    request: aiohttp.ClientRequest,
    handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
    sign: Callable[[], Awaitable[bool]],
    clock: ClockSkew,
    retries: Retries | None,
    first: aiohttp.ClientResponse | None = None,
) -> aiohttp.ClientResponse:
    """Send ``request`` through ``handler``, signed by ``sign()``; see the module docstring."""
    from ._resend import aresend

    exchange = AiohttpExchange(request, handler, sign, clock)
    return await aresend(exchange, retries, first)


class AiohttpExchange:
    """An aiohttp request through the middleware chain's ``handler``, for `_resend.aresend`."""

    __slots__ = ("_clock", "_deadline", "_handler", "_sign", "method", "request")

    def __init__(
        self,
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
        sign: Callable[[], Awaitable[bool]],
        clock: ClockSkew,
    ) -> None:
        self.request = request
        self.method = request.method
        self._handler = handler
        self._sign = sign
        self._clock = clock
        # aiohttp's total timeout runs from before the middlewares: retries end by it.
        session = getattr(request, "_session", None)
        total = getattr(getattr(session, "timeout", None), "total", None)
        self._deadline = time.monotonic() + total if total else None

    def where(self) -> str:
        url = self.request.url.with_query(None).with_fragment(None).with_user(None)
        return f"{self.method} {url}"

    def deadline(self) -> float | None:
        return self._deadline

    def failure(self, error: Exception) -> bool | None:
        if isinstance(error, aiohttp.ClientConnectorError):
            return False  # the connection was never made: nothing was sent
        if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
            return True  # a reset before the answer: the service may have acted
        return None

    def status(self, answer: aiohttp.ClientResponse) -> int:
        return answer.status

    def header(self, answer: aiohttp.ClientResponse, name: str) -> str | None:
        return answer.headers.get(name)

    def replay(self) -> bool:
        from .aiohttp import _replayable

        return _replayable(self.request)

    async def sign(self) -> bool:
        return await self._sign()

    async def send(self) -> aiohttp.ClientResponse:
        return await self._handler(self.request)

    async def expired(self, answer: aiohttp.ClientResponse) -> bool:
        from ._aiohttp_errors import apeek_body, signed_at_of

        return learn_skew(
            answer.status,
            answer.headers.items(),
            await apeek_body(answer),
            signed_at=signed_at_of(self.request.headers),
            clock=self._clock,
        )

    async def error(self, answer: aiohttp.ClientResponse, attempts: int) -> LatticeResponseError:
        from ._aiohttp_errors import apeek_body, error_for

        try:
            body = await apeek_body(answer)
        except aiohttp.ClientError:
            body = b""
        error = error_for(answer, body)
        answer.release()
        return with_attempts(error, attempts)

    async def discard(self, answer: aiohttp.ClientResponse) -> None:
        # A transient answer from Lattice is a short text: read it whole to keep the connection.
        length = answer.content_length
        if length is not None and length <= _DISCARD_LIMIT:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                await answer.read()
        answer.release()
