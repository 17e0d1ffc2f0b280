"""Checks on what callers hand in, shared by every public entry point.

Each check raises a typed error (a `LatticeError` subclass) that names the
argument and says what to fix, before anything is signed or sent; none lets a
bare ``TypeError``, ``ValueError`` or ``UnicodeError`` out. Values that end up
in headers (key id, token, region, service, region set, host) must be free of
CR, LF and NUL: copied into a header, they would split it (header injection on
stacks that do not check). A message about a secret names the field, never the
value.

Checks run once where they can (a client's options, a `Credentials` snapshot);
``sign()`` takes arbitrary input on every call, so its checks are cheap ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from ._exceptions import ConfigurationError, InvalidHeaderError, LatticeError, SigningError
from ._lattice import ANY_REGION, SIGNING_NAME

# An AWS region (us-west-2, cn-north-1, us-gov-east-1, us-isob-east-1...).
REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+)+-\d+")
# A signing name (vpc-lattice-svcs, execute-api...).
SERVICE = re.compile(r"[a-z0-9][a-z0-9-]*")
# A credential scope part as sign() accepts it: no "/" (the scope's separator),
# no space, comma or "=" (the Authorization value's), no control character.
_SCOPE_PART = re.compile(r"[A-Za-z0-9._*-]+")
# A SigV4A region set: "*", or regions (wildcards allowed) separated by commas.
_REGION_SET = re.compile(r"[A-Za-z0-9._*-]+(?: *, *[A-Za-z0-9._*-]+)*")
# What an access key id and a session token are made of: they go in headers.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
# RFC 9110 token, optionally after ":" (an HTTP/2 pseudo-header, never signed).
_HEADER_NAME = re.compile(r":?[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Control characters other than horizontal tab cannot appear in a field value.
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# An RFC 3986 reg-name (IDNA-encoded already) or an IP literal in brackets.
_HOST = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=]+|\[[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9\-._~%]+)?\]")
_MAX_PORT = 65535
_TEXT = (str, bytes)
# Header names seen valid: requests repeat them (bounded, cleared when full).
_NAME_CACHE_SIZE = 512
_valid_names: set[str] = set()


def check_credentials(
    access_key_id: str, secret_access_key: str, session_token: str | None
) -> None:
    """Refuse credentials that cannot be sent: a stray newline from a file, a lone surrogate."""
    if not _HEADER_SAFE.fullmatch(access_key_id):
        raise ConfigurationError(
            "Credentials.access_key_id contains a space, a control character (CR, LF, NUL: "
            "a newline read from a file?) or a non-ASCII character; AWS key ids are letters "
            "and digits"
        )
    if not secret_access_key.isprintable():
        raise ConfigurationError(
            "Credentials.secret_access_key contains a control character (CR, LF, NUL: a "
            "newline read from a file?) or a character that is not text (a lone surrogate); "
            "strip it"
        )
    if session_token is not None and not _HEADER_SAFE.fullmatch(session_token):
        raise ConfigurationError(
            "Credentials.session_token contains a space, a control character (CR, LF, NUL: "
            "a newline read from a file?) or a non-ASCII character; it is sent as a header "
            "as is, so strip it"
        )


def check_sign_arguments(method: object, url: object, now: object) -> None:
    """``sign()``'s request parts: str, and an aware datetime for ``now``."""
    if not isinstance(method, str):
        raise SigningError(f"method must be a str such as 'GET', not {type(method).__name__}")
    if not isinstance(url, str):
        hint = " (decode it first)" if isinstance(url, bytes | bytearray) else ""
        raise SigningError(f"url must be a str, not {type(url).__name__}{hint}")
    if "\n" in url or "\r" in url or "\t" in url:
        # urllib drops them silently (WHATWG): the URL signed would not be the one given.
        raise SigningError(
            "the URL contains a tab, CR or LF: remove it (percent-encode it in a path)"
        )
    if now is not None and not isinstance(now, datetime):
        raise SigningError(
            "now must be a timezone-aware datetime (datetime.now(timezone.utc)) or None, "
            f"not {type(now).__name__}"
        )


def check_scope(
    region: object,
    service: object,
    region_set: object,
    sigv4a: object = False,
    double_encode_path: object = True,
) -> None:
    """``sign()``'s options: region, service and region set go in the scope and headers."""
    if sigv4a.__class__ is not bool:
        check_bool(sigv4a, "sigv4a")
    if double_encode_path.__class__ is not bool:
        check_bool(double_encode_path, "double_encode_path")
    if region is None and service == SIGNING_NAME and region_set == ANY_REGION:
        return  # the defaults, for a generated name: nothing to check
    if region is not None and not (isinstance(region, str) and _SCOPE_PART.fullmatch(region)):
        raise ConfigurationError(
            f"region= must be an AWS region such as 'us-west-2', not {_shown(region)}"
        )
    if not (isinstance(service, str) and _SCOPE_PART.fullmatch(service)):
        raise ConfigurationError(
            f"service= must be a signing name such as 'vpc-lattice-svcs', not {_shown(service)}"
        )
    check_region_set(region_set)


def check_region_set(region_set: object) -> None:
    """A SigV4A region set: ``*`` or comma-separated regions, nothing that splits a header."""
    if not (isinstance(region_set, str) and _REGION_SET.fullmatch(region_set)):
        raise ConfigurationError(
            "region_set= must be '*' or comma-separated regions such as 'us-west-2,us-east-1', "
            f"not {_shown(region_set)}"
        )


def check_region(region: object, where: str = "region=") -> str:
    """A configured region (an option or AWS_REGION): an AWS region name, returned as is."""
    if not (isinstance(region, str) and REGION.fullmatch(region)):
        raise ConfigurationError(
            f"{where} must be an AWS region such as 'us-west-2', not {_shown(region)}"
        )
    return region


def check_bool(value: object, name: str) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name}= must be True or False, not {_shown(value)}")


def check_host(host: str, netloc: str, error: type[LatticeError] = SigningError) -> None:
    """A URL's host as sent (IDNA-encoded): no space, control character or delimiter.

    ``netloc`` says where the host was found, as the message shows it.
    """
    if not _HOST.fullmatch(host):
        raise error(
            f"the host in {netloc} is not a valid host name: it contains a space, a "
            "control character or a character a host cannot have"
        )


def check_port(port: str, netloc: str) -> int:
    """A URL's port: ASCII digits, 0 to 65535."""
    if not (port.isascii() and port.isdigit()) or int(port) > _MAX_PORT:
        raise SigningError(f"the port in {_shown(netloc)} is not a number from 0 to 65535")
    return int(port)


def check_header_fields(headers: object) -> tuple[tuple[str, str], ...]:
    """``sign()``'s headers as (name, value) pairs of str, each one HTTP can carry.

    Every field is checked, signed or not: a CR or LF in ``user-agent`` splits
    the request as surely as one in a signed header.
    """
    if type(headers) is dict or isinstance(headers, Mapping):
        items: Iterable[Any] = headers.items()
    elif isinstance(headers, str | bytes | bytearray) or not isinstance(headers, Iterable):
        raise InvalidHeaderError(
            f"headers must be a mapping or (name, value) pairs, not {type(headers).__name__}",
            header="",
        )
    else:
        items = headers
    fields = []
    for item in items:
        if (type(item) is not tuple and not isinstance(item, list)) or len(item) != 2:
            raise InvalidHeaderError(
                f"headers must be (name, value) pairs, found a {type(item).__name__}", header=""
            )
        name, value = item
        if type(name) is str and name in _valid_names:
            pass
        elif isinstance(name, str) and _HEADER_NAME.fullmatch(name):
            if len(_valid_names) >= _NAME_CACHE_SIZE:
                _valid_names.clear()
            _valid_names.add(name)
        else:
            shown = _shown(name) if isinstance(name, str) else f"a {type(name).__name__}"
            raise InvalidHeaderError(
                f"{shown} is not a valid header name: give a str of letters, digits and "
                "!#$%&'*+-.^_`|~ (decode bytes first)",
                header=name if isinstance(name, str) else "",
            )
        if type(value) is not str and not isinstance(value, str):
            raise InvalidHeaderError(
                f"the value of header {name!r} must be a str, not {type(value).__name__}",
                header=name,
            )
        if not value.isprintable():
            _check_value(name, value)
        fields.append(item if type(item) is tuple else (name, value))
    return tuple(fields)


def _check_value(name: str, value: str) -> None:
    if _CTL.search(value):
        raise InvalidHeaderError(
            f"the value of header {name!r} contains a control character (CR, LF, NUL...), "
            "which HTTP cannot carry; remove it or encode the value",
            header=name,
        )
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise InvalidHeaderError(
            f"the value of header {name!r} contains a lone surrogate, which cannot be sent",
            header=name,
        ) from None


def check_body(body: object) -> bytes:
    """A response body handed to us: the bytes received, not text or None."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise ConfigurationError(
        "body= must be the bytes of the response body (response.content), "
        f"not {type(body).__name__}: "
        + ("encode the text (body.encode())" if isinstance(body, str) else "pass b'' for none")
    )


def check_status(status_code: object) -> int:
    if isinstance(status_code, bool) or not isinstance(status_code, int):
        raise ConfigurationError(
            f"status_code must be an int such as 403, not {type(status_code).__name__}"
        )
    return status_code


@contextmanager
def typed_request_errors(headers: object = None) -> Iterator[None]:
    """httpx's untyped errors about a request's parts, raised as typed ones.

    httpx encodes str header values as ASCII and decodes IDNA host names while
    it builds a request, raising ``UnicodeError`` for what it cannot; nothing
    has been sent then. ``headers`` (the ``headers=`` given, if any) is checked
    for types first, where httpx would raise ``TypeError``.
    """
    check_header_types(headers)
    try:
        yield
    except UnicodeError as error:
        typed = typed_request_error(error, headers)
        if typed is None:
            raise
        raise typed from None


def typed_request_error(error: Exception, headers: object) -> LatticeError | None:
    """The typed error for what httpx raised building a request, or None to re-raise it.

    A ``UnicodeError`` is httpx failing to encode a header value or to decode
    an IDNA host. A ``TypeError`` or ``AttributeError`` is, when ``headers``
    holds something other than str or bytes, httpx refusing that; anything
    else (``json=`` that does not serialise...) is not ours to rename.
    """
    if isinstance(error, TypeError | AttributeError):
        check_header_types(headers)  # raises the typed error if the headers are the cause
        return None
    if isinstance(error, UnicodeEncodeError):
        name = _non_ascii_header(headers)
        return InvalidHeaderError(
            f"the value of header {name!r} contains a character outside ASCII, which httpx "
            "cannot send in a str value: percent-encode it, or pass the value as bytes "
            "(value.encode())",
            header=name,
        )
    return SigningError(
        "the URL's host is not a valid internationalised (IDNA) name; check the host"
    )


def check_header_types(headers: object) -> None:
    """Names and values of str or bytes, as httpx takes them; other iterables are left to it."""
    if headers is None:
        return
    if type(headers) is dict:  # the common case, per request: no ABC check, no pair check
        for name, value in headers.items():
            if not (isinstance(name, _TEXT) and isinstance(value, _TEXT)):
                break
        else:
            return
    if isinstance(headers, Mapping):
        items: Iterable[Any] = headers.items()
    elif isinstance(headers, list | tuple):
        items = headers
    elif isinstance(headers, str | bytes | bytearray) or not isinstance(headers, Iterable):
        raise InvalidHeaderError(
            f"headers= must be a mapping or (name, value) pairs, not {type(headers).__name__}",
            header="",
        )
    else:
        return  # an iterator: checking it would consume it
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise InvalidHeaderError(
                f"headers= must be (name, value) pairs, found a {type(item).__name__}", header=""
            )
        name, value = item
        if not isinstance(name, str | bytes):
            raise InvalidHeaderError(
                f"header names must be str or bytes, not {type(name).__name__}", header=""
            )
        if not isinstance(value, str | bytes):
            shown = name if isinstance(name, str) else name.decode("latin-1")
            raise InvalidHeaderError(
                f"the value of header {shown!r} must be str or bytes, not {type(value).__name__}",
                header=shown,
            )


def _non_ascii_header(headers: object) -> str:
    """The name of the first header whose str value httpx cannot encode, or ''."""
    try:
        items = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in items or ():  # type: ignore[attr-defined]
            if isinstance(value, str) and not value.isascii():
                return str(name)
    except (TypeError, ValueError):
        pass
    return ""


def _shown(value: object) -> str:
    """``value`` for a message about a non-secret option: its repr, bounded."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
