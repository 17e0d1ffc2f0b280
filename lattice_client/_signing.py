"""The SigV4 / SigV4A signing core: request parts, credentials and the clock in; headers out.

Pure: no I/O, no clock, no global state beyond a bounded cache of derived
signing keys. Step names follow the AWS SigV4 documentation
(create-signed-request.html): canonical request, string to sign, signature.

The inputs are the request *as it will be sent*: the path and query exactly as
they go on the wire (already percent-encoded by the HTTP client), the header
values as sent, and the Host or ``:authority`` the server will see.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import NamedTuple
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

from ._credentials import Credentials
from ._exceptions import CredentialsExpiredError, InvalidHeaderError, SigningError
from ._lattice import UNSIGNED_HEADER_PREFIXES, UNSIGNED_HEADERS, UNSIGNED_PAYLOAD

logger = logging.getLogger("lattice_client")

ALGORITHM_SIGV4 = "AWS4-HMAC-SHA256"
ALGORITHM_SIGV4A = "AWS4-ECDSA-P256-SHA256"

# Headers the signer itself sets; a caller's copies are replaced, never signed twice.
SIGNER_HEADERS = frozenset(
    {"x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "x-amz-region-set"}
)

_UTC = timezone.utc
# RFC 3986 unreserved characters: the only ones SigV4's UriEncode leaves alone.
_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]*")
_UNRESERVED_OR_SLASH = re.compile(r"[A-Za-z0-9\-._~/]*")
_PRINTABLE_ASCII = "".join(chr(code) for code in range(0x21, 0x7F))
# RFC 9110 token: what a header name or a method may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Control characters other than horizontal tab cannot appear in a field value.
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SPACES = re.compile(r"[ \t]{2,}|\t")

_KEY_CACHE_SIZE = 64
_signers: dict[tuple[str, str, str, str], _Signer] = {}
_last_amz_date: tuple[int, str] = (-1, "")
# Header name as given -> its lowercase form if signed, None if never signed. Names
# repeat from request to request, so each is classified and validated once (bounded).
_HEADER_NAME_CACHE_SIZE = 512
_header_names: dict[str, str | None] = {}
# Methods that need no check against _TOKEN.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Requests repeat their header fields, paths and queries: each is canonicalised
# once, then looked up (bounded like the caches above; cleared when full). The
# header blocks are keyed by the fields and the session token, which stay in
# this process's memory only, as the credentials themselves do.
_CANONICAL_CACHE_SIZE = 256
_header_blocks: dict[tuple[object, ...], tuple[str, str, str]] = {}
_paths: dict[tuple[str, bool], str] = {}
_queries: dict[str, str] = {}
# A query made only of unreserved characters, one "=" at most per parameter, needs
# no decoding or re-encoding: only sorting.
_PLAIN_PARAMETER = r"[A-Za-z0-9\-._~]*(?:=[A-Za-z0-9\-._~]*)?"
_PLAIN_QUERY = re.compile(f"{_PLAIN_PARAMETER}(?:&{_PLAIN_PARAMETER})*")


class SignedRequest(NamedTuple):
    """The headers to add, and the intermediate steps for debugging a mismatch."""

    headers: dict[str, str]
    canonical_request: str
    string_to_sign: str


def amz_date(now: datetime) -> str:
    """``now`` as SigV4's ``YYYYMMDD'T'HHMMSS'Z'``; ``now`` must be timezone-aware."""
    if now.tzinfo is not _UTC and now.utcoffset() is None:
        raise naive_now_error()
    seconds = math.floor(now.timestamp())
    last = _last_amz_date
    if last[0] == seconds:
        return last[1]
    return _format_amz_date(seconds)


def _format_amz_date(seconds: int) -> str:
    global _last_amz_date
    utc = datetime.fromtimestamp(seconds, _UTC)
    stamp = (
        f"{utc.year:04d}{utc.month:02d}{utc.day:02d}"
        f"T{utc.hour:02d}{utc.minute:02d}{utc.second:02d}Z"
    )
    # One entry: requests signed within the same second share it (a tuple swap is atomic).
    _last_amz_date = (seconds, stamp)
    return stamp


def naive_now_error() -> SigningError:
    """The error for a ``now`` without a time zone."""
    return SigningError(
        "now must be a timezone-aware datetime (datetime.now(timezone.utc)), "
        "not a naive one whose zone is unknown"
    )


def uri_encode(value: str) -> str:
    """SigV4 UriEncode: every byte of the UTF-8 form but the unreserved ones, as %XX."""
    if _UNRESERVED.fullmatch(value):
        return value
    return quote(value, safe="~", encoding="utf-8", errors="surrogateescape")


def canonical_path(path: str, *, double_encode: bool = True) -> str:
    """The CanonicalURI of a path as sent: dot segments and empty segments removed, then
    each segment URI-encoded (once more, for the generic double-encoding rule)."""
    if not path:
        return "/"
    if "//" in path or "/." in path or path[0] != "/":
        path = _normalize_path(path)
    if _UNRESERVED_OR_SLASH.fullmatch(path):
        return path
    if double_encode:
        return quote(path, safe="/~", encoding="utf-8", errors="surrogateescape")
    # Single encoding: the path as sent is the encoded form already and is used as
    # is (as awscrt does); only what cannot be sent raw (space, controls, non-ASCII)
    # is encoded.
    return quote(path, safe=_PRINTABLE_ASCII, encoding="utf-8", errors="surrogateescape")


def _normalize_path(path: str) -> str:
    """RFC 3986 remove_dot_segments, plus collapsing empty segments (``//``) as AWS does."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    normalized = "/" + "/".join(segments)
    # Only a path that ends in "/" keeps its trailing slash: "/a/." is "/a", as
    # awscrt and botocore (posixpath.normpath) canonicalise it. httpx removes dot
    # segments before sending; requests and aiohttp send them as written.
    if segments and path.endswith("/"):
        normalized += "/"
    return normalized


def canonical_query(query: str) -> str:
    """The CanonicalQueryString: each name and value decoded, URI-encoded, then sorted.

    Decoding first means a raw ``:``, ``/``, ``+`` or ``*`` and its ``%XX`` form
    canonicalise alike, as in AWS's C signer; ``+`` is a plus, not a space.
    """
    if not query:
        return ""
    if _PLAIN_QUERY.fullmatch(query):
        # (name, "=" or "", value) sorts as (name, value) does: "" only goes with an empty value.
        plain = [parameter.partition("=") for parameter in query.split("&") if parameter]
        plain.sort()
        return "&".join([f"{name}={value}" for name, _, value in plain])
    pairs: list[tuple[str, str]] = []
    for parameter in query.split("&"):
        if not parameter:
            continue
        name, _, value = parameter.partition("=")
        pairs.append((_requote(name), _requote(value)))
    pairs.sort()
    return "&".join([f"{name}={value}" for name, value in pairs])


def _requote(component: str) -> str:
    if _UNRESERVED.fullmatch(component):
        return component
    return quote_from_bytes(unquote_to_bytes(component), safe="~")


def canonical_header_value(name: str, value: str) -> str:
    """A header value trimmed, with inner runs of spaces and tabs folded to one space."""
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value  # no control, no tab, nothing to trim or fold: the common case
    if _CTL.search(value):
        raise InvalidHeaderError(
            f"the value of header {name!r} contains a control character (CR, LF, NUL...), "
            "which HTTP cannot carry; remove it or encode the value",
            header=name,
        )
    value = value.strip(" \t")
    if _SPACES.search(value):
        value = _SPACES.sub(" ", value)
    return value


def derive_signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = hmac.digest(("AWS4" + secret_access_key).encode(), date.encode(), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


class _Signer(NamedTuple):
    """HMAC-SHA256 under one signing key, with both pads already hashed (RFC 2104)."""

    inner: hashlib._Hash
    outer: hashlib._Hash

    def hexdigest(self, message: bytes) -> str:
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def signer_for(secret_access_key: str, date: str, region: str, service: str) -> _Signer:
    """The signing key's HMAC, derived once per (secret, date, region, service) and cached.

    A request then costs one HMAC (two SHA-256 blocks past the cached pads) and
    one SHA-256, not the five HMACs of a fresh derivation.
    """
    cache_key = (secret_access_key, date, region, service)
    signer = _signers.get(cache_key)
    if signer is None:
        key = derive_signing_key(secret_access_key, date, region, service).ljust(64, b"\0")
        signer = _Signer(
            hashlib.sha256(bytes(byte ^ 0x36 for byte in key)),
            hashlib.sha256(bytes(byte ^ 0x5C for byte in key)),
        )
        if len(_signers) >= _KEY_CACHE_SIZE:
            _signers.clear()
        _signers[cache_key] = signer
    return signer


def _classify_header(name: str) -> str | None:
    """``name`` in lowercase if it is signed, None if it never is; refuses invalid names."""
    lname = name.lower()
    signed: str | None = lname
    if (
        lname in UNSIGNED_HEADERS
        or lname in SIGNER_HEADERS
        or lname.startswith(UNSIGNED_HEADER_PREFIXES)
        or lname[:1] == ":"
    ):
        signed = None
    elif not _TOKEN.fullmatch(name):
        raise InvalidHeaderError(
            f"{name!r} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)",
            header=name,
        )
    if len(_header_names) >= _HEADER_NAME_CACHE_SIZE:
        _header_names.clear()
    _header_names[name] = signed
    return signed


def sign_request(
    method: str,
    authority: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    *,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
    sigv4a: bool = False,
    region_set: str = "*",
    double_encode_path: bool = True,
    payload_hash: str = UNSIGNED_PAYLOAD,
    content_sha256_header: bool = True,
) -> SignedRequest:
    """Sign one request given as sent; return the headers to add and the steps taken.

    ``authority`` is the Host header (or HTTP/2 ``:authority``) value the server
    will see, used unless ``headers`` carries its own Host. ``payload_hash`` and
    ``content_sha256_header`` exist for AWS's conformance vectors; Lattice needs
    the defaults.
    """
    if method not in _KNOWN_METHODS and not _TOKEN.fullmatch(method):
        raise SigningError(f"{method!r} is not a valid HTTP method")
    if not authority:
        raise SigningError("the request has no host; use an absolute URL such as https://host/path")
    timestamp = amz_date(now)  # first: it refuses a naive now, which cannot be compared
    if credentials.expiry is not None and credentials.expired(now):
        raise CredentialsExpiredError(
            f"the credentials for access key {credentials.access_key_id} expired at "
            f"{credentials.expiry:%Y-%m-%dT%H:%M:%SZ}; refresh them before signing"
        )
    date = timestamp[:8]

    added = {"x-amz-date": timestamp}
    if content_sha256_header:
        added["x-amz-content-sha256"] = payload_hash
    token = credentials.session_token
    if token is not None:
        added["x-amz-security-token"] = token
    if sigv4a:
        added["x-amz-region-set"] = region_set

    # Everything in the canonical request but x-amz-date is the same from one
    # request to the next when the fields are: the canonical headers are kept
    # as the text before and after that one value.
    fields = headers if isinstance(headers, tuple) else tuple(headers)
    key = (
        fields,
        authority,
        token,
        payload_hash if content_sha256_header else None,
        region_set if sigv4a else None,
    )
    cacheable = True
    try:
        block = _header_blocks.get(key)
    except TypeError:  # a field that cannot be hashed (a list, say)
        block, cacheable = None, False
    if block is None:
        block = _canonical_headers(fields, authority, added)
        if cacheable:
            if len(_header_blocks) >= _CANONICAL_CACHE_SIZE:
                _header_blocks.clear()
            _header_blocks[key] = block
    before_date, after_date, signed_headers = block

    paths = (path, double_encode_path)
    canonical_uri = _paths.get(paths)
    if canonical_uri is None:
        canonical_uri = canonical_path(path, double_encode=double_encode_path)
        if len(_paths) >= _CANONICAL_CACHE_SIZE:
            _paths.clear()
        _paths[paths] = canonical_uri
    canonical_query_string = _queries.get(query)
    if canonical_query_string is None:
        canonical_query_string = canonical_query(query)
        if len(_queries) >= _CANONICAL_CACHE_SIZE:
            _queries.clear()
        _queries[query] = canonical_query_string
    canonical_request = (
        f"{method}\n{canonical_uri}\n{canonical_query_string}\n"
        f"{before_date}{timestamp}{after_date}\n{payload_hash}"
    )
    digest = hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest()

    if sigv4a:
        from . import _sigv4a

        scope = f"{date}/{service}/aws4_request"
        string_to_sign = f"{ALGORITHM_SIGV4A}\n{timestamp}\n{scope}\n{digest}"
        signature = _sigv4a.sign(credentials, string_to_sign)
        algorithm = ALGORITHM_SIGV4A
    else:
        scope = f"{date}/{region}/{service}/aws4_request"
        string_to_sign = f"{ALGORITHM_SIGV4}\n{timestamp}\n{scope}\n{digest}"
        signer = signer_for(credentials.secret_access_key, date, region, service)
        signature = signer.hexdigest(string_to_sign.encode())
        algorithm = ALGORITHM_SIGV4

    added["authorization"] = (
        f"{algorithm} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    if logger.isEnabledFor(logging.DEBUG):
        _log_steps(canonical_request, string_to_sign, credentials)
    return SignedRequest(added, canonical_request, string_to_sign)


def _canonical_headers(
    fields: Iterable[tuple[str, str]], authority: str, added: dict[str, str]
) -> tuple[str, str, str]:
    """The canonical headers split around x-amz-date's value, and the SignedHeaders list.

    ``fields`` are the caller's; ``added`` the signer's own, x-amz-date included.
    Refuses a field HTTP cannot carry.
    """
    signed: dict[str, str] = {}
    for name, value in fields:
        lname = _header_names.get(name, "")
        if lname == "":
            lname = _classify_header(name)
        if lname is None:
            continue
        value = canonical_header_value(name, value)
        previous = signed.get(lname)
        signed[lname] = value if previous is None else f"{previous},{value}"
    if "host" not in signed:
        signed["host"] = authority
    signed.update(added)
    names = sorted(signed)
    lines = [f"{name}:{signed[name]}\n" for name in names]
    at = names.index("x-amz-date")
    signed_headers = ";".join(names)
    return (
        "".join(lines[:at]) + "x-amz-date:",
        "\n" + "".join(lines[at + 1 :]) + "\n" + signed_headers,
        signed_headers,
    )


def redact(text: str, credentials: Credentials) -> str:
    """``text`` with the session token and any signature replaced by ``<redacted>``."""
    if credentials.session_token:
        text = text.replace(credentials.session_token, "<redacted>")
    return re.sub(r"(Signature=)[0-9a-f]+", r"\1<redacted>", text)


def _log_steps(canonical_request: str, string_to_sign: str, credentials: Credentials) -> None:
    logger.debug(
        "SigV4 canonical request:\n%s\nSigV4 string to sign:\n%s",
        redact(canonical_request, credentials),
        string_to_sign,
    )
