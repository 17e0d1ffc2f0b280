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
# RFC 9110 token: what a header name or a method may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Control characters other than horizontal tab cannot appear in a field value.
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SPACES = re.compile(r"[ \t]{2,}|\t")

_KEY_CACHE_SIZE = 64
_signing_keys: dict[tuple[str, str, str, str], bytes] = {}


class SignedRequest(NamedTuple):
    """The headers to add, and the intermediate steps for debugging a mismatch."""

    headers: dict[str, str]
    canonical_request: str
    string_to_sign: str


def amz_date(now: datetime) -> str:
    """``now`` as SigV4's ``YYYYMMDD'T'HHMMSS'Z'``; ``now`` must be timezone-aware."""
    offset = now.utcoffset()
    if offset is None:
        raise SigningError(
            "now must be a timezone-aware datetime (datetime.now(timezone.utc)), "
            "not a naive one whose zone is unknown"
        )
    if offset:
        now = now.astimezone(_UTC)
    return (
        f"{now.year:04d}{now.month:02d}{now.day:02d}"
        f"T{now.hour:02d}{now.minute:02d}{now.second:02d}Z"
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
    # Single encoding: the path as sent is the encoded form already; only bytes
    # that could not have been sent raw are encoded.
    return quote(path, safe="/~%!$&'()*+,;=:@", encoding="utf-8", errors="surrogateescape")


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
    last = path.rsplit("/", 1)[-1]
    if segments and (path.endswith("/") or last in (".", "..")):
        normalized += "/"
    return normalized


def canonical_query(query: str) -> str:
    """The CanonicalQueryString: each name and value decoded, URI-encoded, then sorted.

    Decoding first means a raw ``:``, ``/``, ``+`` or ``*`` and its ``%XX`` form
    canonicalise alike, as in AWS's C signer; ``+`` is a plus, not a space.
    """
    if not query:
        return ""
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
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").

    Cached per (secret, date, region, service), so a request costs one HMAC, not five.
    """
    cache_key = (secret_access_key, date, region, service)
    key = _signing_keys.get(cache_key)
    if key is None:
        key = hmac.digest(("AWS4" + secret_access_key).encode(), date.encode(), "sha256")
        for part in (region, service, "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        if len(_signing_keys) >= _KEY_CACHE_SIZE:
            _signing_keys.clear()
        _signing_keys[cache_key] = key
    return key


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
    if not _TOKEN.fullmatch(method):
        raise SigningError(f"{method!r} is not a valid HTTP method")
    if not authority:
        raise SigningError("the request has no host; use an absolute URL such as https://host/path")
    if credentials.expiry is not None and credentials.expired(now):
        raise CredentialsExpiredError(
            f"the credentials for access key {credentials.access_key_id} expired at "
            f"{credentials.expiry:%Y-%m-%dT%H:%M:%SZ}; refresh them before signing"
        )
    timestamp = amz_date(now)
    date = timestamp[:8]

    added = {"x-amz-date": timestamp}
    if content_sha256_header:
        added["x-amz-content-sha256"] = payload_hash
    if credentials.session_token is not None:
        added["x-amz-security-token"] = credentials.session_token
    if sigv4a:
        added["x-amz-region-set"] = region_set

    signed: dict[str, str] = {}
    for name, value in headers:
        lname = name.lower()
        if lname in UNSIGNED_HEADERS or lname in SIGNER_HEADERS:
            continue
        if lname.startswith(UNSIGNED_HEADER_PREFIXES) or lname[:1] == ":":
            continue
        if not _TOKEN.fullmatch(name):
            raise InvalidHeaderError(
                f"{name!r} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)",
                header=name,
            )
        value = canonical_header_value(lname, value)
        previous = signed.get(lname)
        signed[lname] = value if previous is None else f"{previous},{value}"
    if "host" not in signed:
        signed["host"] = authority
    signed.update(added)

    names = sorted(signed)
    signed_headers = ";".join(names)
    canonical_headers = "".join([f"{name}:{signed[name]}\n" for name in names])
    canonical_request = (
        f"{method}\n{canonical_path(path, double_encode=double_encode_path)}\n"
        f"{canonical_query(query)}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
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
        key = derive_signing_key(credentials.secret_access_key, date, region, service)
        signature = hmac.digest(key, string_to_sign.encode(), "sha256").hex()
        algorithm = ALGORITHM_SIGV4

    added["authorization"] = (
        f"{algorithm} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    if logger.isEnabledFor(logging.DEBUG):
        _log_steps(canonical_request, string_to_sign, credentials)
    return SignedRequest(added, canonical_request, string_to_sign)


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
