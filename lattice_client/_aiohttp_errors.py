"""Typed errors for ``aiohttp.ClientResponse``: the aiohttp flavour of each response error.

As ``_responses.py`` does for httpx: one table, each class of the tree paired
with a subclass of it and of ``aiohttp.ClientResponseError`` (with
``request_info``, ``history``, ``status``, ``message``, ``headers``, and
``response``). So ``except lattice_client.AccessDeniedError`` and
``except aiohttp.ClientResponseError`` both catch it. Imported only when an
aiohttp response is handled.

Only an error status makes us touch the body, and only its first 64 KiB: an
unread body is read that far; if that is all of it, it stays readable through
``read()``/``text()``/``json()``, else the bytes are put back in front of the rest.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

import aiohttp

from . import _exceptions
from ._answers import BODY_LIMIT, classify, parse_amz_date, redactor, request_secrets
from ._exceptions import AsyncResponseError, LatticeResponseError

__all__ = ["apeek_body", "araise_for_status", "error_for", "raise_for_status", "signed_at_of"]


def _aiohttp_flavour(base: type[LatticeResponseError]) -> type[LatticeResponseError]:
    return type(
        base.__name__,
        (base, aiohttp.ClientResponseError),
        {
            "__module__": __name__,
            "__doc__": f"{base.__doc__}\n\nThe aiohttp flavour.",
            # Our message (what failed and how to fix it), not aiohttp's "<status>, message=".
            "__str__": Exception.__str__,
            "__repr__": Exception.__repr__,
        },
    )


# One table: each response error class of the tree and its aiohttp flavour.
AIOHTTP_FLAVOURS: dict[type[LatticeResponseError], type[LatticeResponseError]] = {
    base: _aiohttp_flavour(base)
    for base in (getattr(_exceptions, name) for name in _exceptions.__all__)
    if issubclass(base, LatticeResponseError)
}


async def araise_for_status(response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
    """Raise the typed error for a 4xx/5xx ``response``; return ``response`` otherwise."""
    if response.status < 400:
        return response
    raise error_for(response, await apeek_body(response))


def raise_for_status(response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
    """`araise_for_status` for a response whose body is read already (``await response.read()``)."""
    if response.status < 400:
        return response
    body = response._body
    if body is None:
        raise AsyncResponseError(
            "this aiohttp response's body is not read yet: use "
            "`await lattice_client.araise_for_status(response)`"
        )
    raise error_for(response, body[:BODY_LIMIT])


def error_for(response: aiohttp.ClientResponse, body: bytes) -> LatticeResponseError:
    """The typed error for an error ``response`` whose body starts with ``body``."""
    info = response.request_info
    signed_at = signed_at_of(info.headers)
    from .aiohttp import unsigned_reasons

    known = response in unsigned_reasons
    reason = unsigned_reasons.get(response)
    headers = info.headers
    redact = redactor(
        request_secrets(headers.get("authorization"), headers.get("x-amz-security-token"))
    )
    classification = classify(
        response.status,
        response.headers.items(),
        body,
        signed_at=signed_at,
        signed=(reason is None) if known else None,
        unsigned_reason=reason,
        redact=redact,
    )
    flavour = AIOHTTP_FLAVOURS[classification.error_class]
    url = info.url.with_query(None).with_fragment(None).with_user(None)
    message = f"{info.method} {url}: {classification.message}"
    if redact is not None:  # the body's text is redacted already; this covers the URL
        message = redact(message)
    error: Any = flavour(message, **classification.fields)
    error.request_info = info
    error.history = response.history
    error.status = response.status
    error.message = response.reason or ""
    error.headers = response.headers
    error.response = response
    assert isinstance(error, LatticeResponseError)
    return error


def signed_at_of(headers: Any) -> datetime | None:
    """The request's ``x-amz-date`` (its signing time), or None when it was not signed."""
    value = headers.get("x-amz-date")
    return parse_amz_date(value if isinstance(value, str) else None)


async def apeek_body(response: aiohttp.ClientResponse, limit: int = BODY_LIMIT) -> bytes:
    """The first ``limit`` bytes of the body, leaving the response readable whole."""
    body = response._body
    if body is not None:
        return body[:limit]
    content = response.content
    prefix = bytearray()
    try:
        while len(prefix) < limit and not content.at_eof():
            chunk = await content.read(limit - len(prefix))
            if not chunk:
                break
            prefix += chunk
    except aiohttp.ClientPayloadError:
        pass  # a broken body: classify what arrived
    if content.at_eof():
        # All of it is in memory: read(), text() and json() give it.
        response._body = bytes(prefix)
    elif prefix:
        # Longer than the limit (not one of Lattice's answers, which are small): the
        # rest stays streamed, with what was read put back in front of it.
        # unread_data is deprecated only as a public API for users.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            content.unread_data(bytes(prefix))
    return bytes(prefix[:limit])
