"""The requests side of the send loop: a requests request as an `_resend.Exchange`.

`LatticeAdapter.send` hands a request here when retries are on, and when a
signed request's answer is a 4xx (it may be Lattice refusing our clock). The
loop is `_resend.resend`, the one the httpx transports run: every attempt is
signed anew at send time, so a retry carries a fresh, valid signature; the
backoff is full jitter; ``Retries.total`` bounds the attempts (urllib3's own
``Retry`` has no total-time bound and would re-send the first signature, so
the adapter keeps urllib3's retries off: ``max_retries`` stays 0).

requests bounds each attempt with ``timeout=`` (connect, read): there is no
whole-call deadline to stop the retries earlier than ``total``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ProtocolError

from ._clock import ClockSkew
from ._exceptions import LatticeResponseError
from ._resend import learn_skew, with_attempts

if TYPE_CHECKING:
    from ._retries import Retries

__all__ = ["RequestsExchange", "send"]

# The largest body of an answer to be retried that is read, not dropped with its connection.
_DISCARD_LIMIT = 64 * 1024


def send(
    request: requests.PreparedRequest,
    transport: Callable[[], requests.Response],
    sign: Callable[[], bool],
    clock: ClockSkew,
    retries: Retries | None,
    first: requests.Response | None = None,
) -> requests.Response:
    """Send ``request`` with ``transport()``, signed by ``sign()``; see the module docstring."""
    from ._resend import resend

    return resend(RequestsExchange(request, transport, sign, clock), retries, first)


class RequestsExchange:
    """A prepared request through ``HTTPAdapter.send``, for `_resend.resend`."""

    __slots__ = ("_clock", "_sign", "_transport", "method", "request")

    def __init__(
        self,
        request: requests.PreparedRequest,
        transport: Callable[[], requests.Response],
        sign: Callable[[], bool],
        clock: ClockSkew,
    ) -> None:
        self.request = request
        self.method = request.method or "GET"
        self._transport = transport
        self._sign = sign
        self._clock = clock

    def where(self) -> str:
        from ._requests_errors import _where

        return _where(self.request)

    def deadline(self) -> float | None:
        return None  # requests' timeout= bounds each attempt, not the call

    def failure(self, error: Exception) -> bool | None:
        if isinstance(error, requests.exceptions.ConnectTimeout):
            return False
        if type(error) is not requests.exceptions.ConnectionError:
            return None  # a read timeout, TLS, a proxy: not retried, as on httpx
        cause = error.args[0] if error.args else None
        if isinstance(cause, MaxRetryError):
            cause = cause.reason
        if isinstance(cause, ConnectTimeoutError):  # NewConnectionError too: nothing was sent
            return False
        if isinstance(cause, ProtocolError | ConnectionError):  # reset before the answer
            return True
        return None

    def status(self, answer: requests.Response) -> int:
        return answer.status_code

    def header(self, answer: requests.Response, name: str) -> str | None:
        value: str | None = answer.headers.get(name)
        return value

    def replay(self) -> bool:
        from .requests import _rewind

        return _rewind(self.request)

    def sign(self) -> bool:
        return self._sign()

    def send(self) -> requests.Response:
        return self._transport()

    def expired(self, answer: requests.Response) -> bool:
        from ._requests_errors import peek_body, signed_at_of

        return learn_skew(
            answer.status_code,
            answer.headers.items(),
            peek_body(answer),
            signed_at=signed_at_of(self.request),
            clock=self._clock,
        )

    def error(self, answer: requests.Response, attempts: int) -> LatticeResponseError:
        from ._requests_errors import error_for, peek_body

        try:
            body = peek_body(answer)
        except requests.RequestException:
            body = b""
        error = error_for(answer, body)
        answer.close()
        return with_attempts(error, attempts)

    def discard(self, answer: requests.Response) -> None:
        # A transient answer from Lattice is a short text: read it whole to keep the connection.
        length = answer.headers.get("content-length", "")
        if length.isdigit() and int(length) <= _DISCARD_LIMIT:
            with contextlib.suppress(requests.RequestException, OSError):
                answer.content  # noqa: B018 - reading it returns the connection to the pool
        answer.close()
