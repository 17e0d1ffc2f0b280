"""Typed errors for httpx responses: ``raise_for_status`` and ``araise_for_status``.

Each response error class gets one httpx flavour here, made from one table:
a subclass of both the class (``AccessDeniedError``...) and
``httpx.HTTPStatusError``, carrying ``request`` and ``response``. So
``except lattice_client.AccessDeniedError`` catches it (as it will catch the
gRPC flavour), and so does existing ``except httpx.HTTPStatusError`` code.

Only an error status (4xx/5xx) makes us touch the body, and then only its
first ``BODY_LIMIT`` bytes: an unread (streamed) body is read that far and put
back in front of the rest, so the caller can still read it whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from . import _exceptions
from ._answers import (
    BODY_LIMIT,
    Classification,
    classify,
    parse_amz_date,
    redactor,
    request_secrets,
)
from ._exceptions import AsyncResponseError, ConfigurationError, LatticeResponseError

if TYPE_CHECKING:
    import aiohttp
    import requests

    _Response = TypeVar("_Response", httpx.Response, requests.Response, aiohttp.ClientResponse)
    _AsyncResponse = TypeVar("_AsyncResponse", httpx.Response, aiohttp.ClientResponse)

__all__ = [
    "apeek_body",
    "araise_for_status",
    "error_for",
    "peek_body",
    "raise_for_status",
    "signed_at_of",
]


def _httpx_flavour(base: type[LatticeResponseError]) -> type[LatticeResponseError]:
    # Built with base's own __init__ (which does not chain into HTTPStatusError's);
    # error_for() then sets request and response through HTTPStatusError's API.
    return type(
        base.__name__,
        (base, httpx.HTTPStatusError),
        {"__module__": __name__, "__doc__": f"{base.__doc__}\n\nThe httpx flavour."},
    )


# One table: each response error class of the tree and its httpx flavour.
HTTPX_FLAVOURS: dict[type[LatticeResponseError], type[LatticeResponseError]] = {
    base: _httpx_flavour(base)
    for base in (getattr(_exceptions, name) for name in _exceptions.__all__)
    if issubclass(base, LatticeResponseError)
}


def raise_for_status(response: _Response) -> _Response:
    """Raise the typed error for a 4xx/5xx ``response``; return ``response`` otherwise.

    ``response`` is an ``httpx.Response``, a ``requests.Response``, or an
    ``aiohttp.ClientResponse`` whose body is read. The error is an instance of
    the `LatticeResponseError` subclass that fits (``AccessDeniedError``...)
    and of the library's own status error (``httpx.HTTPStatusError``,
    ``requests.HTTPError``, ``aiohttp.ClientResponseError``), with the request
    and the response. Only an error response's body is read, and at most 64 KiB
    of it: an unread (streamed) body that fits is read (and the connection
    released); a longer one is read that far and stays readable whole from
    ``error.response``. For an async response whose body is not read yet, use
    `araise_for_status`. An httpx ``response.request`` must be set (it is for
    every response a client returns).
    """
    if not isinstance(response, httpx.Response):
        return _other_stack(response).raise_for_status(response)  # type: ignore[no-any-return]
    if not response.is_error:
        return response
    body = peek_body(response)
    if _whole_body_peeked(response):
        # All of it is in memory already: reading it makes error.response.text work
        # and releases the connection, as for a response that was never streamed.
        response.read()
    raise error_for(response, body)


async def araise_for_status(response: _AsyncResponse) -> _AsyncResponse:
    """`raise_for_status` for an ``httpx.AsyncClient`` or aiohttp response, read or not."""
    if not isinstance(response, httpx.Response):
        return await _other_stack(response).araise_for_status(response)  # type: ignore[no-any-return]
    if not response.is_error:
        return response
    body = await apeek_body(response)
    if _whole_body_peeked(response):
        await response.aread()
    raise error_for(response, body)


def _other_stack(response: object) -> Any:
    """The errors module for a requests or aiohttp response (imported on first use)."""
    for cls in type(response).__mro__:
        package = cls.__module__.partition(".")[0]
        if package == "requests" and cls.__name__ == "Response":
            from . import _requests_errors

            return _requests_errors
        if package == "aiohttp" and cls.__name__ == "ClientResponse":
            from . import _aiohttp_errors

            return _aiohttp_errors
    raise ConfigurationError(
        "raise_for_status takes an httpx.Response, a requests.Response or an "
        f"aiohttp.ClientResponse, not {type(response).__name__}"
    )


def error_for(response: httpx.Response, body: bytes) -> LatticeResponseError:
    """The typed error for an error ``response`` whose body starts with ``body``."""
    request = response.request
    from ._transports import unsigned_reason

    known, reason = unsigned_reason(request)
    redact = redactor(_secrets(request))
    classification = classify(
        response.status_code,
        response.headers,
        body,
        signed_at=signed_at_of(request),
        signed=(reason is None) if known else None,
        unsigned_reason=reason,
        redact=redact,
    )
    return _build(classification, request, response, redact)


def _build(
    classification: Classification,
    request: httpx.Request,
    response: httpx.Response,
    redact: Callable[[str], str] | None,
) -> LatticeResponseError:
    flavour = HTTPX_FLAVOURS[classification.error_class]
    # The URL without its query (a presigned URL carries the credential there)
    # and without user:password.
    url = request.url.copy_with(query=None, fragment=None, userinfo=b"")
    where = f"{request.method} {url}"
    message = f"{where}: {classification.message}"
    if redact is not None:  # the body's text is redacted already; this covers the URL
        message = redact(message)
    error = flavour(message, **classification.fields)
    assert isinstance(error, httpx.HTTPStatusError)  # every flavour is one
    error.request = request
    error.response = response
    return error


def _secrets(request: httpx.Request) -> list[str]:
    headers = request.headers
    return request_secrets(headers.get("authorization"), headers.get("x-amz-security-token"))


def peek_body(response: httpx.Response, limit: int = BODY_LIMIT) -> bytes:
    """The first ``limit`` bytes of the body, leaving the response readable whole.

    A read response gives its content. An unread one has its stream read up to
    ``limit`` and replaced by one that replays those bytes, then the rest, and
    closes the original: the caller, or the client above a transport, reads it
    as if untouched. Raw bytes, so a ``Content-Encoding`` body gives b"" (the
    formats Lattice answers with are never compressed). A body already streamed
    away gives b"".
    """
    content = _content_if_read(response)
    if content is not None:
        return content[:limit]
    if response.is_stream_consumed or response.is_closed:
        return b""
    stream = response.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise AsyncResponseError(
            "this response comes from an async client and its body is not read yet: "
            "use `await lattice_client.araise_for_status(response)`"
        )
    chunks = iter(stream)
    prefix = bytearray()
    complete = False
    for chunk in chunks:
        prefix += chunk
        if len(prefix) >= limit:
            break
    else:
        complete = True
    response.stream = _Replay(bytes(prefix), chunks, stream, complete=complete)
    return _decoded(response, bytes(prefix[:limit]))


async def apeek_body(response: httpx.Response, limit: int = BODY_LIMIT) -> bytes:
    """`peek_body` for an async response (one from ``httpx.AsyncClient`` or an async transport)."""
    content = _content_if_read(response)
    if content is not None:
        return content[:limit]
    if response.is_stream_consumed or response.is_closed:
        return b""
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):
        return peek_body(response, limit)
    chunks = aiter(stream)
    prefix = bytearray()
    complete = False
    async for chunk in chunks:
        prefix += chunk
        if len(prefix) >= limit:
            break
    else:
        complete = True
    response.stream = _AsyncReplay(bytes(prefix), chunks, stream, complete=complete)
    return _decoded(response, bytes(prefix[:limit]))


def _whole_body_peeked(response: httpx.Response) -> bool:
    """Whether the whole body is held by the replay stream, and not compressed (no bomb)."""
    stream = response.stream
    return (
        isinstance(stream, _Replay | _AsyncReplay)
        and stream.complete
        and not response.is_stream_consumed
        and _identity_encoded(response)
    )


def _content_if_read(response: httpx.Response) -> bytes | None:
    try:
        return response.content
    except httpx.ResponseNotRead:
        return None


def _identity_encoded(response: httpx.Response) -> bool:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    return encoding in ("", "identity")


def _decoded(response: httpx.Response, raw: bytes) -> bytes:
    return raw if _identity_encoded(response) else b""


class _Replay(httpx.SyncByteStream):
    """The bytes already read, then the rest of the original stream."""

    def __init__(
        self,
        prefix: bytes,
        rest: Iterator[bytes],
        original: httpx.SyncByteStream,
        *,
        complete: bool,
    ) -> None:
        self._prefix = prefix
        self._rest = rest
        self._original = original
        self.complete = complete  # the prefix is the whole body

    def __iter__(self) -> Iterator[bytes]:
        if self._prefix:
            yield self._prefix
        yield from self._rest

    def close(self) -> None:
        self._original.close()


class _AsyncReplay(httpx.AsyncByteStream):
    """The bytes already read, then the rest of the original async stream."""

    def __init__(
        self,
        prefix: bytes,
        rest: AsyncIterator[bytes],
        original: httpx.AsyncByteStream,
        *,
        complete: bool,
    ) -> None:
        self._prefix = prefix
        self._rest = rest
        self._original = original
        self.complete = complete  # the prefix is the whole body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._prefix:
            yield self._prefix
        async for chunk in self._rest:
            yield chunk

    async def aclose(self) -> None:
        await self._original.aclose()


def signed_at_of(request: httpx.Request) -> datetime | None:
    """The request's ``x-amz-date`` (its signing time), or None when it was not signed."""
    return parse_amz_date(request.headers.get("x-amz-date"))
