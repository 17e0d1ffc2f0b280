"""Who called a Lattice target: the identity model, and the headers Lattice adds for HTTP targets.

An HTTP target (a container, an instance, an IP) learns who called it from
four headers that Lattice sets and strips from incoming requests, so they
cannot be spoofed (http-targets.html)::

    x-amzn-lattice-identity: Principal=<arn>; PrincipalOrgID=<o-...>; SessionName=<s>; Type=AWS_IAM
    x-amzn-lattice-identity-tags: principal=...;principalorgid=...;<tag>=<value>
    x-amzn-lattice-network: SourceVpcArn=arn:aws:ec2:<region>:<account>:vpc/<id>
    x-amzn-lattice-target: ServiceArn=...;ServiceNetworkArn=...;TargetGroupArn=...

A Lambda target gets the same facts in its event's ``requestContext.identity``;
both land in one `LatticeIdentity`. Parsing is lenient by design: the key order
is not relied on, keys we do not know are kept, ``\\;`` inside a value is a
semicolon, and an empty value means "absent" (None) for the known keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._exceptions import ConfigurationError, LatticeHeadersError

__all__ = ["LatticeHeaders", "LatticeIdentity", "parse_lattice_headers"]

IDENTITY_HEADER = "x-amzn-lattice-identity"
IDENTITY_TAGS_HEADER = "x-amzn-lattice-identity-tags"
NETWORK_HEADER = "x-amzn-lattice-network"
TARGET_HEADER = "x-amzn-lattice-target"

_EMPTY: Mapping[str, str] = MappingProxyType({})

# The header keys (``X509SAN/NameCN``) and the Lambda event keys (``x509SanNameCn``,
# ``principalOrgID`` or ``principalOrgId`` depending on the source) agree once
# lowercased with "/", "_" and "-" dropped: one table serves both.
_IDENTITY_FIELDS = {
    "type": "type",
    "principal": "principal",
    "principalorgid": "principal_org_id",
    "principalorgpath": "principal_org_path",
    "sessionname": "session_name",
    "sourcevpcarn": "source_vpc_arn",
    "x509issuerou": "x509_issuer_ou",
    "x509sandns": "x509_san_dns",
    "x509sannamecn": "x509_san_name_cn",
    "x509sanuri": "x509_san_uri",
    "x509subjectcn": "x509_subject_cn",
}
_TARGET_FIELDS = {
    "servicearn": "service_arn",
    "servicenetworkarn": "service_network_arn",
    "targetgrouparn": "target_group_arn",
}


def normalize_key(key: str) -> str:
    """Fold a key's spelling: ``X509SAN/NameCN`` and ``x509SanNameCn`` give ``x509sannamecn``."""
    return key.lower().replace("/", "").replace("_", "").replace("-", "")


def is_identity_key(key: str) -> bool:
    """True for a key `LatticeIdentity` has an attribute for, in any of its spellings."""
    return normalize_key(key) in _IDENTITY_FIELDS


@dataclass(frozen=True, slots=True)
class LatticeIdentity:
    """The caller of a Lattice target, as Lattice authenticated it.

    Every attribute is None when Lattice did not send it (an unauthenticated
    service sends no principal). ``tags`` holds ``x-amzn-lattice-identity-tags``
    (HTTP targets only); ``other`` keeps keys this version does not know yet.
    """

    type: str | None = None
    principal: str | None = None
    principal_org_id: str | None = None
    principal_org_path: str | None = None
    session_name: str | None = None
    source_vpc_arn: str | None = None
    x509_issuer_ou: str | None = None
    x509_san_dns: str | None = None
    x509_san_name_cn: str | None = None
    x509_san_uri: str | None = None
    x509_subject_cn: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    other: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)


@dataclass(frozen=True, slots=True)
class LatticeHeaders:
    """What Lattice told an HTTP target in its ``x-amzn-lattice-*`` headers.

    ``other`` keeps unknown keys of ``x-amzn-lattice-target``; unknown keys of
    the identity and network headers are in ``identity.other``.
    """

    identity: LatticeIdentity
    service_arn: str | None = None
    service_network_arn: str | None = None
    target_group_arn: str | None = None
    other: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)


def identity_from_fields(
    fields: Iterable[tuple[str, str]], *, tags: Mapping[str, str] = _EMPTY
) -> LatticeIdentity:
    """Build a `LatticeIdentity` from key/value pairs spelled as in the headers or the event.

    Known keys are matched case-insensitively, ignoring ``/``, ``_`` and ``-``;
    an empty value counts as absent; unknown keys go to ``other`` as given.
    """
    known: dict[str, Any] = {}
    other: dict[str, str] = {}
    for key, value in fields:
        name = _IDENTITY_FIELDS.get(normalize_key(key))
        if name is None:
            other[key] = value
        else:
            known[name] = value or None
    return LatticeIdentity(
        **known,
        tags=MappingProxyType(dict(tags)) if tags else _EMPTY,
        other=MappingProxyType(other) if other else _EMPTY,
    )


def parse_lattice_headers(
    headers: Mapping[str, Any] | Iterable[tuple[str | bytes, str | bytes]],
) -> LatticeHeaders:
    """Parse the ``x-amzn-lattice-*`` headers of a request an HTTP target received.

    ``headers`` is any framework's headers: a mapping (Django, Starlette,
    aiohttp, a plain dict; values may be lists) or pairs (WSGI-style lists,
    Werkzeug ``Headers``, ASGI's ``scope["headers"]`` with bytes). Names match
    case-insensitively, ``_`` as ``-``. Missing headers give None attributes,
    never an error: a service without auth, or a request that did not come
    through Lattice, simply has no identity.

    Lattice sends each of these headers once, after removing the caller's
    copies. A header received twice, or a value that is two joined into one
    (``Principal=<forged>...,Principal=<real>...``: what a server that folds
    ``x_amzn_lattice_identity`` into ``x-amzn-lattice-identity`` makes of a
    caller's copy) raises `LatticeHeadersError` rather than pick one.
    """
    wanted = {IDENTITY_HEADER: "", IDENTITY_TAGS_HEADER: "", NETWORK_HEADER: "", TARGET_HEADER: ""}
    seen: set[str] = set()
    for raw_name, raw_value in _pairs(headers):
        name = _text(raw_name, "header name").lower().replace("_", "-")
        if name in wanted:
            if name in seen:
                raise LatticeHeadersError(
                    f"{name} was received more than once; Lattice sends it once, so a "
                    "caller's copy got past whatever is in front of this target"
                )
            seen.add(name)
            wanted[name] = _text(raw_value, name)
    for name, keys in _KEYS_BY_HEADER.items():
        _refuse_joined(name, wanted[name], keys)
    identity_pairs = split_fields(wanted[IDENTITY_HEADER]) + split_fields(wanted[NETWORK_HEADER])
    identity = identity_from_fields(
        identity_pairs, tags=dict(split_fields(wanted[IDENTITY_TAGS_HEADER]))
    )
    target: dict[str, str | None] = {}
    other: dict[str, str] = {}
    for key, value in split_fields(wanted[TARGET_HEADER]):
        field_name = _TARGET_FIELDS.get(normalize_key(key))
        if field_name is None:
            other[key] = value
        else:
            target[field_name] = value or None
    return LatticeHeaders(
        identity=identity, other=MappingProxyType(other) if other else _EMPTY, **target
    )


_KEYS_BY_HEADER = {
    IDENTITY_HEADER: frozenset(_IDENTITY_FIELDS),
    IDENTITY_TAGS_HEADER: frozenset({"principal", "principalorgid"}),
    NETWORK_HEADER: frozenset({"sourcevpcarn"}),
    TARGET_HEADER: frozenset(_TARGET_FIELDS),
}


def _refuse_joined(name: str, value: str, keys: frozenset[str]) -> None:
    """Raise when ``value`` looks like two values of ``name`` joined with ``,``.

    Two copies of a header are joined as ``first,second`` (RFC 9110 5.3), so the
    second starts after a comma with one of the header's own keys, and the first
    repeats keys the second has. A known key seen twice, or after a comma, gives it away.
    """
    seen: set[str] = set()
    for key, item in split_fields(value):
        # What follows a comma and names one of the header's keys starts a second value.
        after_comma = [key.rpartition(",")[2]] if "," in key else []
        after_comma += [part.partition("=")[0] for part in item.split(",")[1:] if "=" in part]
        folded = normalize_key(key)
        if folded in seen or any(normalize_key(part.strip()) in keys for part in after_comma):
            raise LatticeHeadersError(
                f"{name} holds two values joined into one; Lattice sends it once, so a "
                "caller's copy got past whatever is in front of this target"
            )
        if folded in keys:
            seen.add(folded)


def split_fields(value: str) -> list[tuple[str, str]]:
    """Split ``Key=Value; Key2=Value2`` into pairs; ``\\;`` and ``\\\\`` are a literal ``;``/``\\``.

    Whitespace around keys and values is dropped; a part without ``=`` is a
    key with an empty value; empty parts are skipped.
    """
    if not value:
        return []
    parts: list[str] = []
    current: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            # Only "\;" and "\\" are escapes; any other backslash is kept as sent.
            current.append(escaped if escaped in (";", "\\") else char + escaped)
        elif char == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    pairs = []
    for part in parts:
        key, _, item = part.partition("=")
        key = key.strip()
        if key:
            pairs.append((key, item.strip()))
    return pairs


def _pairs(headers: object) -> Iterable[tuple[object, object]]:
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if isinstance(value, list | tuple):
                for item in value:
                    yield name, item
            else:
                yield name, value
        return
    if isinstance(headers, str | bytes) or not isinstance(headers, Iterable):
        raise ConfigurationError(
            f"headers must be a mapping or an iterable of (name, value) pairs, "
            f"not {type(headers).__name__}"
        )
    for pair in headers:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ConfigurationError(
                f"headers must hold (name, value) pairs; got {type(pair).__name__}"
            )
        yield pair[0], pair[1]


def _text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        # HTTP field values are ISO-8859-1 on the wire; ASGI passes them as bytes.
        return bytes(value).decode("latin-1")
    raise ConfigurationError(f"{what} must be str or bytes, not {type(value).__name__}")
