"""``lattice_client.sign``: sign one request given as a URL, for any HTTP stack."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from functools import lru_cache
from urllib.parse import quote, urlsplit

from ._credentials import Credentials, CredentialsProvider, CredentialsSource
from ._exceptions import SigningError
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME
from ._policy import SigningHeaders, idna_host, resolve_region
from ._signing import naive_now_error, sign_request
from ._validate import (
    check_header_fields,
    check_host,
    check_port,
    check_scope,
    check_sign_arguments,
)

HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What goes on the wire is what httpx (the client this library drives) sends: it
# percent-encodes with WHATWG's sets. A path keeps every printable ASCII character
# but space " # < > ? ` { } as is, a lone "%" included; a query also keeps ? ` { }.
# Anything else (space, non-ASCII...) goes out as %XX of its UTF-8 bytes.
_PATH_SAFE = "!$%&'()*+,-./:;=@[\\]^_|~"
_QUERY_SAFE = _PATH_SAFE + "?`{}"
_WIRE_PATH = re.compile(r"[A-Za-z0-9!$%&'()*+,\-./:;=@\[\\\]^_|~]*")
_WIRE_QUERY = re.compile(r"[A-Za-z0-9!$%&'()*+,\-./:;=@\[\\\]^_|~?`{}]*")


def sign(
    method: str,
    url: str,
    headers: HeadersLike = (),
    *,
    credentials: Credentials | CredentialsProvider | CredentialsSource | None,
    region: str | None = None,
    service: str = SIGNING_NAME,
    now: datetime | None = None,
    sigv4a: bool = False,
    region_set: str = ANY_REGION,
    double_encode_path: bool = DOUBLE_ENCODE_PATH,
) -> dict[str, str]:
    """Sign a request to a Lattice service; return the headers to add to it.

    The returned names are lowercase: ``authorization``, ``x-amz-date``,
    ``x-amz-content-sha256`` (always ``UNSIGNED-PAYLOAD``), ``x-amz-security-token``
    when the credentials carry a token, and ``x-amz-region-set`` for SigV4A. Send
    the request with exactly the method, URL and headers given here plus these.
    The mapping returned is a ``dict`` whose ``repr`` hides the session token and
    the ``Signature=`` part of ``authorization``, so printing or logging it is safe.

    ``url`` is canonicalised as httpx sends it: characters httpx percent-encodes
    (space, non-ASCII...) count as encoded, dot segments are removed, the host
    is IDNA 2008 (UTS 46) encoded as httpx, curl and browsers send it. The
    region follows the one rule of every entry point: a generated Lattice name's
    (``...vpc-lattice-svcs.<region>.on.aws``; ``region=`` that contradicts it is a
    `ConfigurationError`), else ``region``, else ``AWS_REGION`` /
    ``AWS_DEFAULT_REGION``, else a boto3/botocore session's given as
    ``credentials``. ``now`` defaults to the current time and must be
    timezone-aware.

    ``credentials`` is a `Credentials` snapshot (no I/O), a provider or a
    botocore/boto3 session (asked for a snapshot first), a `CredentialsSource`, or
    None for the default chain, resolved once per process and refreshed ahead of
    expiry.
    """
    check_sign_arguments(method, url, now)
    check_scope(region, service, region_set, sigv4a, double_encode_path)
    fields = check_header_fields(headers)
    try:
        parts = urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL": an unclosed "["
        raise SigningError("the URL is not valid: an unclosed '[' around an IPv6 host?") from None
    scheme = parts.scheme.lower()
    authority = _authority(parts.netloc, scheme)
    if not authority:
        raise SigningError(f"{url!r} has no host; pass an absolute URL such as https://host/path")
    region = resolve_region(authority, region, sigv4a=sigv4a, credentials=credentials)
    if now is None:
        now = datetime.now(timezone.utc)
    elif now.utcoffset() is None:
        raise naive_now_error()
    if not isinstance(credentials, Credentials):
        credentials = _source(credentials).get(now)
    signed = sign_request(
        method,
        authority,
        _wire_path(parts.path),
        _on_the_wire(parts.query, _WIRE_QUERY),
        fields,
        credentials=credentials,
        region=region or "",
        service=service,
        now=now,
        sigv4a=sigv4a,
        region_set=region_set,
        double_encode_path=double_encode_path,
    ).headers
    return SigningHeaders(signed)


_default_source: CredentialsSource | None = None


def _source(credentials: CredentialsProvider | CredentialsSource | None) -> CredentialsSource:
    """Where this call's snapshot comes from; the default chain is resolved once, not per call."""
    global _default_source
    if isinstance(credentials, CredentialsSource):
        return credentials
    if credentials is not None:
        return CredentialsSource(credentials)
    if _default_source is None:
        _default_source = CredentialsSource()
    return _default_source


@lru_cache(maxsize=256)
def _authority(netloc: str, scheme: str) -> str:
    """The Host header an HTTP client sends for this URL: lowercase, IDNA, no default port."""
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        host, port = host + "]", rest[1:]
    else:
        host, _, port = hostport.partition(":")
    if not host:
        return ""
    if host[0] != "[":
        # httpx lowercases names (IDNA 2008 for non-ASCII ones, as curl and browsers
        # do) but sends an IPv6 literal as written.
        host = idna_host(host)
    check_host(host, repr(hostport))
    if port:
        number = check_port(port, hostport)
        if number != _DEFAULT_PORTS.get(scheme):
            return f"{host}:{number}"
    return host


def _on_the_wire(component: str, allowed: re.Pattern[str]) -> str:
    """``component`` percent-encoded as httpx encodes it before sending."""
    if allowed.fullmatch(component):
        return component
    safe = _QUERY_SAFE if allowed is _WIRE_QUERY else _PATH_SAFE
    try:
        return quote(component, safe=safe, encoding="utf-8", errors="strict")
    except UnicodeEncodeError:
        raise SigningError(
            "the URL contains a lone surrogate, which cannot be sent as UTF-8"
        ) from None


def _wire_path(path: str) -> str:
    """The path httpx sends: its dot-segment removal, then its percent-encoding.

    httpx removes "." and ".." segments before sending, and unlike RFC 3986 drops
    the slash a final dot segment leaves ("/a/b/.." goes out as "/a"); sign the
    path that is sent, not the one RFC 3986 would send.
    """
    if "." in path:
        segments = path.split("/")
        if "." in segments or ".." in segments:
            kept: list[str] = []
            for segment in segments:
                if segment == ".":
                    continue
                if segment == "..":
                    if kept and kept != [""]:
                        kept.pop()
                else:
                    kept.append(segment)
            path = "/".join(kept) or "/"
    return _on_the_wire(path, _WIRE_PATH)
