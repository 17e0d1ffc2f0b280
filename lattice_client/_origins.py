"""Origins: what a request's origin is, and which origins an allow-list names.

An origin is (scheme, host, port), as browsers, httpx and requests compare them
when they decide whether a redirect may keep a request's credentials. The host
is IDNA-encoded exactly as httpx sends it (`idna_host`), so that the origin
compared is the origin connected to, and the host signed is the host sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError, SigningError

__all__ = [
    "CROSS_ORIGIN_REDIRECT",
    "DEFAULT_PORTS",
    "NOT_LISTED",
    "Origin",
    "OriginEntry",
    "check_origin_entries",
    "explain_unsigned",
    "host_header",
    "idna_host",
    "origin_of",
]

# (scheme, host, port): host lowercase, IDNA-encoded as sent, no trailing dot,
# an IPv6 literal without brackets; port always given (the scheme's default filled in).
Origin = tuple[str, str, int]

DEFAULT_PORTS: Final = {"http": 80, "https": 443}

# Why a request went out unsigned: recorded by adapters on the request, read by
# the typed errors to say so (`explain_unsigned`).
NOT_LISTED: Final = "not-listed"  # strict_origins=True and the origin is not listed
CROSS_ORIGIN_REDIRECT: Final = "cross-origin-redirect"  # a hop left the chain's origin

_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def idna_host(host: str) -> str:
    """``host`` as httpx, curl and browsers send it: lowercase, IDNA 2008 (UTS 46).

    Python's ``"idna"`` codec is IDNA 2003, which maps ``ß`` to ``ss`` and ``ς``
    to a plain sigma: a signature over that host never matches the Host header sent.
    """
    if host.isascii():
        return host.lower()
    import idna  # httpx's own dependency, and what it encodes hosts with

    try:
        return idna.encode(host.lower()).decode("ascii")
    except idna.IDNAError:
        raise SigningError(f"{host!r} is not a valid host name") from None


def origin_of(url: str) -> Origin:
    """The origin of an absolute URL (any library's, as a string)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if not host or scheme not in DEFAULT_PORTS:
        raise SigningError(f"{url!r} is not an absolute http(s) URL")
    try:
        port = parts.port
    except ValueError:
        raise SigningError(f"the port in {url!r} is not a number") from None
    return scheme, idna_host(host).rstrip("."), port or DEFAULT_PORTS[scheme]


# -- the allow-list ------------------------------------------------------------------------


@dataclass(frozen=True)
class OriginEntry:
    """One validated ``signing_origins`` entry."""

    schemes: tuple[str, ...]
    host: str  # exact host, or the suffix (".example.com") of a wildcard
    wildcard: bool
    port: int | None  # None: the scheme's default port

    def matches(self, origin: Origin) -> bool:
        scheme, host, port = origin
        if scheme not in self.schemes:
            return False
        if port != (self.port if self.port is not None else DEFAULT_PORTS[scheme]):
            return False
        return host.endswith(self.host) if self.wildcard else host == self.host


_ENTRY_HELP = (
    "write an origin: 'https://api.example.com', 'http://10.0.0.5:8080', "
    "'api.example.com' (https, port 443), 'api.example.com:8443' (http or https on that "
    "port) or '*.example.com' (any subdomain, https, port 443); no path"
)


def check_origin_entries(
    entries: Iterable[str], option: str = "signing_origins"
) -> list[OriginEntry]:
    """Validate ``signing_origins`` entries; each one that could never match is refused."""
    if isinstance(entries, str | bytes) or not isinstance(entries, Iterable):
        raise ConfigurationError(
            f"{option}= must be a list of origins, not {entries!r}; for one origin write "
            f"{option}=['https://api.example.com']"
        )
    return [_parse_entry(entry, option) for entry in entries]


def _parse_entry(entry: object, option: str) -> OriginEntry:
    if not isinstance(entry, str):
        raise ConfigurationError(f"{option}= entries must be strings, not {entry!r}")
    text = entry.strip()
    schemes: tuple[str, ...] = ("https",)
    scheme_given = "://" in text
    if scheme_given:
        scheme, _, text = text.partition("://")
        if scheme.lower() not in DEFAULT_PORTS:
            raise ConfigurationError(f"{option}= entry {entry!r}: only http and https are signed")
        schemes = (scheme.lower(),)
    if "/" in text.rstrip("/") or "@" in text or "?" in text or "#" in text:
        raise ConfigurationError(f"{option}= entry {entry!r} is not an origin; {_ENTRY_HELP}")
    text = text.rstrip("/")
    if text == "*":
        raise ConfigurationError(
            f"{option}= entry {entry!r}: '*' is no longer accepted. Every request you send "
            "is signed for its own origin already; list the origins a redirect may also "
            "take a signature to"
        )
    port: int | None = None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else None
        if rest and port_text is None:
            raise ConfigurationError(f"{option}= entry {entry!r} is not an origin; {_ENTRY_HELP}")
    else:
        host, colon, port_text_ = text.partition(":")
        port_text = port_text_ if colon else None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigurationError(
                f"{option}= entry {entry!r}: the port must be a number from 1 to 65535"
            )
        port = int(port_text)
        if not scheme_given:
            # A port without a scheme: either scheme on exactly that port.
            schemes = ("https", "http")
        if port == DEFAULT_PORTS[schemes[0]] and len(schemes) == 1:
            port = None
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    if text.startswith("["):
        name = name.lower()
        if not name or not re.fullmatch(r"[0-9a-f:.]+", name) or wildcard:
            raise ConfigurationError(f"{option}= entry {entry!r} is not an IPv6 address")
    else:
        try:
            name = idna_host(name).rstrip(".") if name else ""
        except SigningError:
            raise ConfigurationError(f"{option}= entry {entry!r} is not a host name") from None
        labels = name.split(".")
        if not name or not all(_LABEL.fullmatch(label) for label in labels):
            raise ConfigurationError(
                f"{option}= entry {entry!r} names no host that can match "
                f"(an empty label, '*.' alone, or a character not allowed in a host name); "
                f"{_ENTRY_HELP}"
            )
    return OriginEntry(schemes, "." + name if wildcard else name, wildcard, port)


def host_header(origin: Origin) -> str:
    """The Host value a client sends for ``origin`` (the port only when not the default)."""
    scheme, host, port = origin
    if ":" in host:
        host = f"[{host}]"
    return host if port == DEFAULT_PORTS[scheme] else f"{host}:{port}"


def explain_unsigned(reason: str | None) -> str:
    """One sentence for an error message: why a request went out unsigned, and what changes it."""
    if reason == NOT_LISTED:
        return (
            "lattice_client did not sign this request: strict_origins=True and its origin is "
            "not in signing_origins (nor the client's base_url). Add the origin to "
            "signing_origins if it should get your signature."
        )
    if reason == CROSS_ORIGIN_REDIRECT:
        return (
            "lattice_client did not sign this request: it is a redirect to another origin "
            "(host, port or http/https) than the request you sent, and a signature and "
            "session token never follow a redirect there. Send the request to that URL "
            "yourself, or list its origin in signing_origins."
        )
    return ""
