"""Typed errors for ``requests.Response``: the requests flavour of each response error.

As ``_responses.py`` does for httpx: one table, each class of the tree
(``AccessDeniedError``...) paired with a subclass of it and of
``requests.HTTPError``, carrying ``request`` and ``response``. So
``except lattice_client.AccessDeniedError`` and ``except requests.HTTPError``
both catch it. Imported only when a requests response is handled.

Only an error status makes us touch the body, and only its first 64 KiB; a
streamed (``stream=True``) body is read that far and put back in front of the
rest, so the caller still reads it whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

from . import _exceptions
from ._answers import BODY_LIMIT, classify, parse_amz_date, redactor, request_secrets
from ._exceptions import LatticeResponseError

__all__ = ["araise_for_status", "error_for", "peek_body", "raise_for_status", "signed_at_of"]


_UNKNOWN: Any = object()


def _requests_flavour(base: type[LatticeResponseError]) -> type[LatticeResponseError]:
    return type(
        base.__name__,
        (base, requests.HTTPError),
        {"__module__": __name__, "__doc__": f"{base.__doc__}\n\nThe requests flavour."},
    )


# One table: each response error class of the tree and its requests flavour.
REQUESTS_FLAVOURS: dict[type[LatticeResponseError], type[LatticeResponseError]] = {
    base: _requests_flavour(base)
    for base in (getattr(_exceptions, name) for name in _exceptions.__all__)
    if issubclass(base, LatticeResponseError)
}


def raise_for_status(response: requests.Response) -> requests.Response:
    """Raise the typed error for a 4xx/5xx ``response``; return ``response`` otherwise."""
    if response.status_code < 400:
        return response
    raise error_for(response, peek_body(response))


async def araise_for_status(response: requests.Response) -> requests.Response:
    """`raise_for_status`, for callers that handle every stack's responses with one await."""
    return raise_for_status(response)


def error_for(response: requests.Response, body: bytes) -> LatticeResponseError:
    """The typed error for an error ``response`` whose body starts with ``body``."""
    request = response.request
    # Set by LatticeAdapter on each request it decided about: None when signed.
    reason = getattr(request, "_lattice_unsigned_reason", _UNKNOWN)
    known = reason is not _UNKNOWN
    redact = redactor(_secrets(request))
    classification = classify(
        response.status_code,
        response.headers.items(),
        body,
        signed_at=signed_at_of(request),
        signed=(reason is None) if known else None,
        unsigned_reason=reason if known else None,
        redact=redact,
    )
    flavour = REQUESTS_FLAVOURS[classification.error_class]
    message = f"{_where(request)}: {classification.message}"
    if redact is not None:  # the body's text is redacted already; this covers the URL
        message = redact(message)
    error = flavour(message, **classification.fields)
    error.request = request  # type: ignore[attr-defined]
    error.response = response
    return error


def _where(request: requests.PreparedRequest | None) -> str:
    """``METHOD scheme://host/path``: without query (a presigned URL's credential) or userinfo."""
    if request is None or request.url is None:
        return "request"
    from urllib.parse import urlsplit

    parts = urlsplit(request.url)
    netloc = parts.netloc.rpartition("@")[2]
    return f"{request.method} {parts.scheme}://{netloc}{parts.path}"


def _secrets(request: requests.PreparedRequest | None) -> list[str]:
    if request is None:
        return []
    headers = request.headers
    return request_secrets(
        _text(headers.get("authorization")), _text(headers.get("x-amz-security-token"))
    )


def signed_at_of(request: requests.PreparedRequest | None) -> datetime | None:
    """The request's ``x-amz-date`` (its signing time), or None when it was not signed."""
    if request is None:
        return None
    return parse_amz_date(_text(request.headers.get("x-amz-date")))


def _text(value: object) -> str | None:
    """A header value as str: requests allows bytes as well."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value if isinstance(value, str) else None


def peek_body(response: requests.Response, limit: int = BODY_LIMIT) -> bytes:
    """The first ``limit`` bytes of the (decoded) body, leaving the response readable whole.

    A read response gives its content. An unread one is read up to ``limit``:
    when that is all of it, it becomes the response's content (and the
    connection is released); otherwise the bytes read are put back in front of
    the rest. A body already streamed away gives b"".
    """
    content = response.__dict__.get("_content", False)
    if content is not False:
        return (content or b"")[:limit]
    raw = response.raw
    if response.__dict__.get("_content_consumed") or raw is None:  # streamed away
        return b""
    prefix = bytearray()
    complete = False
    while len(prefix) < limit:
        chunk = raw.read(limit - len(prefix), decode_content=True)
        if not chunk:
            complete = True
            break
        prefix += chunk
    if complete:
        # All of it is in memory: make it the content, as for a response not streamed.
        response._content = bytes(prefix)
        response._content_consumed = True  # type: ignore[attr-defined]
        release = getattr(raw, "release_conn", None)
        if release is not None:
            release()
    else:
        response.raw = _Replay(bytes(prefix), raw)
    return bytes(prefix[:limit])


class _Replay:
    """A stand-in for ``response.raw``: the bytes already read (decoded), then the rest.

    requests reads a raw object without ``stream`` through ``read(chunk_size)``.
    """

    def __init__(self, prefix: bytes, raw: Any) -> None:
        self._prefix = prefix
        self._raw = raw

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        prefix = self._prefix
        if prefix:
            if amt is None:
                self._prefix = b""
                return prefix + bytes(self._raw.read(decode_content=True))
            self._prefix = prefix[amt:]
            return prefix[:amt]
        return bytes(self._raw.read(amt, decode_content=True))

    def close(self) -> None:
        self._raw.close()

    def release_conn(self) -> None:
        release = getattr(self._raw, "release_conn", None)
        if release is not None:
            release()

    def __getattr__(self, name: str) -> Any:
        if name == "stream":  # so that requests calls read(), which replays the prefix
            raise AttributeError(name)
        return getattr(self._raw, name)
