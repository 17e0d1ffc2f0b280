"""One request as the local Lattice received it, and the views its checks take of it.

Three spellings of the path matter, and mixing them up lets a caller past a rule:

- the *raw* path, as received: what the signature is verified over;
- the *forwarded* path: dot segments and empty segments removed, as SigV4's
  canonical URI removes them (so the signature covers it), with percent-encoded
  unreserved characters (``%61`` for ``a``, ``%2E`` for ``.``) decoded first;
- the *policy* path: the forwarded path fully percent-decoded and normalised
  again, what any target could take the forwarded path to mean. Auth policies
  and listener rules are matched against it.

NOT DOCUMENTED: how Lattice itself normalises paths before it evaluates auth
policies and rules. The local Lattice takes the reading that a target could
act on, so that no spelling of a path reaches a resource a policy denies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import unquote, unquote_to_bytes

__all__ = ["ReceivedRequest", "forwarded_path", "policy_path"]

_UNRESERVED_ESCAPE = re.compile(r"%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])")


def _remove_dot_segments(path: str) -> str:
    """``.``, ``..`` and empty segments removed (a trailing ``/`` kept), as SigV4 does."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    normalized = "/" + "/".join(segments)
    if segments and (path.endswith("/") or path.rsplit("/", 1)[-1] in (".", "..")):
        normalized += "/"
    return normalized


def forwarded_path(raw_path: str) -> str:
    """The path the target receives: unreserved escapes decoded, dot segments removed."""
    decoded = _UNRESERVED_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw_path)
    return _remove_dot_segments(decoded)


def policy_path(raw_path: str) -> str:
    """The path policies and rules see: the forwarded path decoded and normalised again."""
    return _remove_dot_segments(unquote(forwarded_path(raw_path), errors="replace"))


def _query_values(query: str) -> dict[str, list[str]]:
    """Every value of every query parameter, in order (``?a=1&a=2`` -> ``{"a": ["1", "2"]}``)."""
    values: dict[str, list[str]] = {}
    for parameter in query.split("&"):
        if parameter:
            name, _, value = parameter.partition("=")
            values.setdefault(_decode(name), []).append(_decode(value))
    return values


def _decode(part: str) -> str:
    return unquote_to_bytes(part.replace("+", " ")).decode("utf-8", "replace")


@dataclass(frozen=True)
class ReceivedRequest:
    """What the checks of one request read: method, the three paths, query and headers."""

    method: str
    raw_path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    """Header fields as received, names lowercase (HTTP/2 ``:authority`` as ``host``)."""

    @property
    def raw_target(self) -> str:
        """Raw path and query as received: what the signature was computed over."""
        return f"{self.raw_path}?{self.query}" if self.query else self.raw_path

    @cached_property
    def forwarded_target(self) -> str:
        """Path and query as the target receives them."""
        path = forwarded_path(self.raw_path)
        return f"{path}?{self.query}" if self.query else path

    @cached_property
    def path(self) -> str:
        """The policy path (see the module docstring)."""
        return policy_path(self.raw_path)

    @cached_property
    def query_values(self) -> dict[str, list[str]]:
        return _query_values(self.query)

    @cached_property
    def header_values(self) -> dict[str, list[str]]:
        """Each header's values, one per field received, in order."""
        values: dict[str, list[str]] = {}
        for name, value in self.headers:
            values.setdefault(name, []).append(value)
        return values

    @cached_property
    def joined_headers(self) -> dict[str, str]:
        """Repeated fields joined with ``,`` (RFC 9110 5.3), as most frameworks read them."""
        return {name: ",".join(values) for name, values in self.header_values.items()}

    @cached_property
    def host(self) -> str:
        """The ``Host`` / ``:authority`` without a port, lowercase."""
        host = self.joined_headers.get("host", "")
        if host.startswith("["):
            return host.partition("]")[0] + "]"
        return host.rpartition(":")[0].lower() if ":" in host else host.lower()
