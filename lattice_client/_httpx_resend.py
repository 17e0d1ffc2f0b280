"""The httpx side of the send loop: an httpx request as an `_resend.Exchange`.

`send` (async: `asend`) is what `LatticeTransport.handle_request` runs for each
request it sees, every hop of a redirect included; the loop itself is
`_resend.resend` / `aresend`. Per request:

1. A body that is a stream is registered the first time it is sent. Seen again
   (the next hop of a 307/308 redirect, which keeps the body, or the caller
   sending the same request twice), it is rewound if it is a seekable file or
   a multipart form of seekable files, and refused otherwise with
   `BodyNotReplayableError` before anything goes out: httpx would re-send a
   list iterator empty, a file from its end under a stale Content-Length, and
   a generator not at all after the head went out.
2. Sign and send. A 4xx saying our clock is off is re-signed at the corrected
   time and sent once more (only if the body can be sent again).
3. With retries on (`Retries`): a failed connect, a reset before the answer and
   Lattice's transient answers are sent again, re-signed each time, as
   `_resend.Attempts` decides; when they run out, the last answer's typed error
   is raised with ``attempts`` set.

Why here, inside the signing transport, rather than a retry transport around
it or a third-party retry layer: each attempt must pass through the signer
(this loop re-signs it), the clock-skew re-send and the body guard need the
same "can this body go again?" answer, and httpx-retries or stamina would
re-send a request whose stream body is gone. So the loop is ours, in one place
for skew and retries, and its decisions (`_resend`) are shared with the other
adapters.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import IO, TYPE_CHECKING, Any

import httpx

from ._clock import ClockSkew
from ._exceptions import LatticeResponseError
from ._resend import (
    DEADLINE_EXTENSION,
    aresend,
    body_not_replayable,
    learn_skew,
    resend,
    with_attempts,
)

if TYPE_CHECKING:
    from ._retries import Retries

__all__ = ["asend", "is_replayable", "send"]

Send = Callable[[httpx.Request], httpx.Response]
Sign = Callable[[httpx.Request], bool]
ASend = Callable[[httpx.Request], Awaitable[httpx.Response]]
ASign = Callable[[httpx.Request], Awaitable[bool]]

# A failed connect sent nothing; the others may come after the server read the request.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
_RETRIED = (*_NOT_SENT, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)

# Every stream body sent so far -> where its file started (None: not a seekable
# file). Weak: an entry goes with its request. A redirect's next hop is a new
# httpx.Request around the same stream object, so the stream is the key.
_sent: weakref.WeakKeyDictionary[Any, int | None] = weakref.WeakKeyDictionary()
_sent_lock = threading.Lock()

# The largest body of an answer to be retried that is read, not dropped with its connection.
_DISCARD_LIMIT = 64 * 1024


def send(
    request: httpx.Request,
    transport: Send,
    sign: Sign,
    clock: ClockSkew,
    retries: Retries | None,
) -> httpx.Response:
    """Send ``request`` through ``transport``, signed by ``sign``; see the module docstring.

    ``sign(request)`` strips any previous signature and signs at ``clock.now()``,
    returning whether it signed (False: a host that may not be signed).
    """
    if type(request.stream) is not httpx.ByteStream:
        _register_or_rewind(request)
    if retries is not None:
        return resend(_Exchange(request, transport, sign, clock), retries)
    # Without retries, most answers need no loop: send once, look at the status.
    signed = sign(request)
    response = transport(request)
    if not signed or not 400 <= response.status_code < 500:
        return response
    return resend(_Exchange(request, transport, sign, clock), None, first=response)


async def asend(
    request: httpx.Request,
    transport: ASend,
    sign: ASign,
    clock: ClockSkew,
    retries: Retries | None,
    *,
    sign_now: Callable[[httpx.Request], bool | None] | None = None,
) -> httpx.Response:
    """`send` for an async transport.

    ``sign_now`` signs without a coroutine when it can (credentials in hand),
    returning None when ``sign`` must be awaited: one coroutine fewer per request.
    """
    if type(request.stream) is not httpx.ByteStream:
        _register_or_rewind(request)
    if retries is not None:
        return await aresend(_AsyncExchange(request, transport, sign, clock), retries)
    signed = sign_now(request) if sign_now is not None else None
    if signed is None:
        signed = await sign(request)
    response = await transport(request)
    if not signed or not 400 <= response.status_code < 500:
        return response
    return await aresend(_AsyncExchange(request, transport, sign, clock), None, first=response)


class _Request:
    """What the sync and async exchanges share: the request, and what no I/O answers."""

    __slots__ = ("_clock", "_sign", "_transport", "method", "request")

    def __init__(self, request: httpx.Request, transport: Any, sign: Any, clock: ClockSkew) -> None:
        self.request = request
        self.method = request.method
        self._transport = transport
        self._sign = sign
        self._clock = clock

    def where(self) -> str:
        return _where(self.request)

    def deadline(self) -> float | None:
        deadline: float | None = self.request.extensions.get(DEADLINE_EXTENSION)
        return deadline

    def failure(self, error: Exception) -> bool | None:
        if not isinstance(error, _RETRIED):
            return None
        return not isinstance(error, _NOT_SENT)

    def status(self, answer: httpx.Response) -> int:
        return answer.status_code

    def header(self, answer: httpx.Response, name: str) -> str | None:
        value: str | None = answer.headers.get(name)
        return value

    def replay(self) -> bool:
        return _rewind(self.request)


class _Exchange(_Request):
    """An httpx request through a sync transport, for `_resend.resend`."""

    __slots__ = ()

    def sign(self) -> bool:
        signed: bool = self._sign(self.request)
        return signed

    def send(self) -> httpx.Response:
        response: httpx.Response = self._transport(self.request)
        return response

    def expired(self, answer: httpx.Response) -> bool:
        from ._responses import peek_body, signed_at_of

        request = self.request
        answer.request = request
        return learn_skew(
            answer.status_code,
            answer.headers,
            peek_body(answer),
            signed_at=signed_at_of(request),
            clock=self._clock,
        )

    def error(self, answer: httpx.Response, attempts: int) -> LatticeResponseError:
        return _answer_error(self.request, answer, attempts)

    def discard(self, answer: httpx.Response) -> None:
        _discard(answer)


class _AsyncExchange(_Request):
    """An httpx request through an async transport, for `_resend.aresend`."""

    __slots__ = ()

    async def sign(self) -> bool:
        signed: bool = await self._sign(self.request)
        return signed

    async def send(self) -> httpx.Response:
        response: httpx.Response = await self._transport(self.request)
        return response

    async def expired(self, answer: httpx.Response) -> bool:
        from ._responses import apeek_body, signed_at_of

        request = self.request
        answer.request = request
        return learn_skew(
            answer.status_code,
            answer.headers,
            await apeek_body(answer),
            signed_at=signed_at_of(request),
            clock=self._clock,
        )

    async def error(self, answer: httpx.Response, attempts: int) -> LatticeResponseError:
        return await _aanswer_error(self.request, answer, attempts)

    async def discard(self, answer: httpx.Response) -> None:
        await _adiscard(answer)


def _discard(response: httpx.Response) -> None:
    """Close an answer that will be retried; a small body is read first to keep the connection."""
    if _small(response):
        with contextlib.suppress(httpx.HTTPError):
            response.read()
    response.close()


async def _adiscard(response: httpx.Response) -> None:
    if _small(response):
        with contextlib.suppress(httpx.HTTPError):
            await response.aread()
    await response.aclose()


def _small(response: httpx.Response) -> bool:
    # A transient answer from Lattice is a short text; read it whole rather than
    # drop a connection that still has it unread (the pool would close it).
    length = response.headers.get("content-length", "")
    return length.isdigit() and int(length) <= _DISCARD_LIMIT


# -- the typed error of an answer ---------------------------------------------------------------


def _answer_error(
    request: httpx.Request, response: httpx.Response, attempts: int
) -> LatticeResponseError:
    """The typed error of error ``response``; the response is read (if small) and closed.

    Raised from the transport, nobody else would close it: its connection would
    stay taken. The error keeps the first 64 KiB of the body in ``body``.
    """
    from ._responses import raise_for_status

    response.request = request
    try:
        raise_for_status(response)
    except LatticeResponseError as error:
        return _counted(error, attempts)
    finally:
        response.close()
    raise AssertionError("raise_for_status returned for an error answer")  # pragma: no cover


async def _aanswer_error(
    request: httpx.Request, response: httpx.Response, attempts: int
) -> LatticeResponseError:
    from ._responses import araise_for_status

    response.request = request
    try:
        await araise_for_status(response)
    except LatticeResponseError as error:
        return _counted(error, attempts)
    finally:
        await response.aclose()
    raise AssertionError("raise_for_status returned for an error answer")  # pragma: no cover


def _counted(error: LatticeResponseError, attempts: int) -> LatticeResponseError:
    return with_attempts(error, attempts)


def _where(request: httpx.Request) -> str:
    # Without the query (a presigned URL carries the credential there) or user:password.
    url = request.url.copy_with(query=None, fragment=None, userinfo=b"")
    return f"{request.method} {url}"


# -- bodies: which can be sent again, and rewinding them --------------------------------------


def is_replayable(request: httpx.Request) -> bool:
    """Whether ``request``'s body can be sent again: in memory, a seekable file, a form of them.

    Bytes, str, JSON, form data, no body; a file opened by the caller that can
    seek (it is rewound to where it was at the first send); a multipart form whose
    files can seek (httpx rewinds them itself). Not a generator, an iterator, an
    async stream or a pipe.
    """
    stream = request.stream
    return type(stream) is httpx.ByteStream or _rewinder(stream) is not None


def _register_or_rewind(request: httpx.Request) -> None:
    """Before sending a stream body: note its first send, or rewind it, or refuse."""
    stream = request.stream
    with _sent_lock:
        try:
            start = _sent[stream]
        except KeyError:
            _sent[stream] = _tell(stream)
            return
        except TypeError:  # not weakly referenceable: cannot tell, leave it to httpx
            return
    if start is not None:
        _file_of(stream).seek(start)  # type: ignore[union-attr]
    elif _rewinder(stream) != "multipart":
        raise body_not_replayable("redirect", _where(request))


def _rewind(request: httpx.Request) -> bool:
    """Make the body ready to be sent again; False when it cannot be."""
    stream = request.stream
    if type(stream) is httpx.ByteStream:
        return True
    with _sent_lock:
        start = _sent.get(stream)
    if start is not None:
        _file_of(stream).seek(start)  # type: ignore[union-attr]
        return True
    return _rewinder(stream) == "multipart"


def _rewinder(stream: object) -> str | None:
    """How ``stream`` can be rewound: "file", "multipart" (httpx seeks), or None."""
    if isinstance(stream, httpx.ByteStream):
        return "bytes"
    if _seekable(_file_of(stream)):
        return "file"
    fields = getattr(stream, "fields", None)
    if type(stream).__name__ == "MultipartStream" and isinstance(fields, list):
        files = [getattr(field, "file", None) for field in fields]
        if all(file is None or isinstance(file, str | bytes) or _seekable(file) for file in files):
            return "multipart"
    return None


def _file_of(stream: object) -> IO[bytes] | None:
    """The file-like object under httpx's ``IteratorByteStream``, if that is what it holds.

    httpx keeps ``content=<file>`` as ``IteratorByteStream._stream`` (private;
    checked by tests/test_resend_body.py so an httpx change shows up there).
    """
    if type(stream).__name__ != "IteratorByteStream":
        return None
    inner = getattr(stream, "_stream", None)
    return inner if hasattr(inner, "read") and hasattr(inner, "seek") else None


def _seekable(file: object) -> bool:
    try:
        return bool(file is not None and file.seekable())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


def _tell(stream: object) -> int | None:
    file = _file_of(stream)
    if not _seekable(file):
        return None
    try:
        return int(file.tell())  # type: ignore[union-attr]
    except (OSError, ValueError):
        return None
