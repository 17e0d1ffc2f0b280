"""``lattice_client.sign``: sign one request given as a URL, for any HTTP stack."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from functools import lru_cache
from urllib.parse import quote, urlsplit

from ._credentials import Credentials, CredentialsProvider, CredentialsSource
from ._exceptions import ConfigurationError, NoRegionError, SigningError
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME, region_from_host
from ._signing import sign_request

HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What HTTP clients (httpx, urllib3, curl) leave as is in a path or query: RFC 3986
# unreserved and sub-delimiters, ":" "@" "/" (and "?" in a query), and valid %XX.
_WIRE_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_WIRE_QUERY = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def sign(
    method: str,
    url: str,
    headers: HeadersLike = (),
    *,
    credentials: Credentials | CredentialsProvider,
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

    ``url`` is canonicalised as an HTTP client sends it: characters that cannot
    go on the wire raw (space, non-ASCII...) count as percent-encoded. ``region``
    defaults to the one in a generated Lattice name
    (``...vpc-lattice-svcs.<region>.on.aws``). ``now`` defaults to the current
    time and must be timezone-aware. Pass `Credentials` to keep this call free of
    I/O; a provider is asked for a snapshot first.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    authority = _authority(parts.netloc, scheme)
    if not authority:
        raise SigningError(f"{url!r} has no host; pass an absolute URL such as https://host/path")
    if not sigv4a and region is None:
        region = region_from_host(authority)
        if region is None:
            raise NoRegionError(
                f"cannot tell the region of {authority!r}: it is not a generated Lattice name "
                "(...vpc-lattice-svcs.<region>.on.aws); pass region= or use sigv4a=True",
                host=authority,
            )
    if now is None:
        now = datetime.now(timezone.utc)
    if not isinstance(credentials, Credentials):
        credentials = CredentialsSource(credentials).get(now)
    return sign_request(
        method,
        authority,
        _on_the_wire(parts.path, _WIRE_PATH),
        _on_the_wire(parts.query, _WIRE_QUERY),
        headers.items() if isinstance(headers, Mapping) else headers,
        credentials=credentials,
        region=region or "",
        service=service,
        now=now,
        sigv4a=sigv4a,
        region_set=region_set,
        double_encode_path=double_encode_path,
    ).headers


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
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise SigningError(f"{host!r} is not a valid host name") from None
    host = host.lower()
    if port:
        if not port.isdigit():
            raise ConfigurationError(f"the port in {netloc!r} is not a number")
        if int(port) != _DEFAULT_PORTS.get(scheme):
            return f"{host}:{int(port)}"
    return host


def _on_the_wire(component: str, allowed: re.Pattern[str]) -> str:
    """``component`` percent-encoded where an HTTP client would encode it before sending."""
    if allowed.fullmatch(component):
        return component
    component = _LONE_PERCENT.sub("%25", component)
    safe = "!$&'()*+,;=:@/%" + ("?" if allowed is _WIRE_QUERY else "")
    return quote(component, safe=safe, encoding="utf-8", errors="surrogateescape")
