"""``parse_event``: a Lattice Lambda event (V1 or V2) as a typed, read-only `LatticeRequest`.

The event formats (lambda-functions.html, and the samples AWS Powertools
publishes) differ between versions and between sources: V1 spells keys in
snake_case with string header values, V2 in camelCase with lists, and samples
mix the two. Keys are therefore matched case-insensitively with ``_`` ignored,
and every header or query value may be a string or a list of strings.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from lattice_client._identity import (
    LatticeIdentity,
    identity_from_fields,
    is_identity_key,
    normalize_key,
)

from ._errors import InvalidEventError

__all__ = ["MAX_BODY_BYTES", "Headers", "LatticeRequest", "QueryParams", "parse_event"]

# Lattice's limit on a request body sent to a Lambda target, and Lambda's on a
# response payload: "6 MB" (lambda-functions.html), taken as Lambda's 6 MiB.
MAX_BODY_BYTES = 6 * 1024 * 1024
# The base64 form of a body at the limit, plus padding: anything longer is over it.
_MAX_BASE64_CHARS = (MAX_BODY_BYTES + 2) // 3 * 4

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_REDACTED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-amz-security-token"}
)


class _MultiMap(Mapping[str, str]):
    """A read-only multi-valued mapping; ``get_list`` gives every value of a key, in order."""

    __slots__ = ("_index", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = tuple(items)
        index: dict[str, list[str]] = {}
        for key, value in self._items:
            index.setdefault(self._fold(key), []).append(value)
        self._index = index

    @staticmethod
    def _fold(key: str) -> str:
        return key

    def _join(self, values: list[str]) -> str:
        return values[0]

    def __getitem__(self, key: str) -> str:
        return self._join(self._index[self._fold(key)])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._fold(key) in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def get_list(self, key: str) -> list[str]:
        """Every value of ``key`` in the order received; empty when absent."""
        return list(self._index.get(self._fold(key), ()))

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (key, value) pair in the order received, keys as received."""
        return list(self._items)


class Headers(_MultiMap):
    """Request headers: case-insensitive names, several values per name.

    ``headers["accept"]`` joins repeated values with ``", "`` (as HTTP allows
    and as httpx does); ``headers.get_list("accept")`` keeps them apart. A V1
    event joins repeats itself, so there ``get_list`` holds one joined string.
    """

    __slots__ = ()

    @staticmethod
    def _fold(key: str) -> str:
        return key.lower()

    def _join(self, values: list[str]) -> str:
        return values[0] if len(values) == 1 else ", ".join(values)

    def __repr__(self) -> str:
        shown = [
            (key, "[redacted]" if key.lower() in _REDACTED_HEADERS else value)
            for key, value in self._items
        ]
        return f"Headers({shown!r})"


class QueryParams(_MultiMap):
    """Query string parameters: case-sensitive names, several values per name.

    ``query["page"]`` is the first value, ``query.get_list("page")`` all of them.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"QueryParams({list(self._items)!r})"


@dataclass(frozen=True, slots=True, repr=False)
class LatticeRequest:
    """One request Lattice delivered to a Lambda target, parsed from its event.

    ``version`` is ``"1.0"`` or ``"2.0"``. The request context (the ARNs,
    ``region``, ``time`` and most of ``identity``) exists in V2 events only and
    is None (an empty identity) in V1 events. ``time`` is when Lattice received
    the request, timezone-aware UTC. ``event`` is the event as received.
    """

    method: str
    path: str
    query: QueryParams
    headers: Headers
    body: bytes
    identity: LatticeIdentity
    service_arn: str | None
    service_network_arn: str | None
    target_group_arn: str | None
    region: str | None
    time: datetime | None
    version: str
    event: Mapping[str, Any] = field(compare=False)

    def __repr__(self) -> str:
        return (
            f"<LatticeRequest {self.method} {self.path} version={self.version} "
            f"body={len(self.body)} bytes>"
        )

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` (json.JSONDecodeError) if it is not."""
        return json.loads(self.body)


def parse_event(event: object) -> LatticeRequest:
    """Parse a Lattice Lambda event, V1 or V2, into a `LatticeRequest`.

    Raises `InvalidEventError`, whose ``field`` names the offending part, when
    a required field (``method``, ``path``/``raw_path``) is missing, a field
    has the wrong type, the body is not valid base64, or the body is larger
    than Lattice's 6 MB.
    """
    if not isinstance(event, Mapping):
        raise InvalidEventError("event", f"must be a JSON object, not {_kind(event)}")
    top = _Fields(event, "")
    version = _version(top)
    method = top.required("method")
    if not method:
        raise InvalidEventError("method", "is empty")
    path = top.required("path", "raw_path")
    headers = Headers(_multi_values(top, "headers"))
    query = QueryParams(_multi_values(top, "queryStringParameters"))
    body = _body(top)

    context = top.object("requestContext")
    identity = LatticeIdentity()
    service_arn = service_network_arn = target_group_arn = region = None
    time = None
    if context is not None:
        service_arn = context.string("serviceArn") or None
        service_network_arn = context.string("serviceNetworkArn") or None
        target_group_arn = context.string("targetGroupArn") or None
        region = context.string("region") or None
        time = _time(context)
        identity_fields = context.object("identity")
        if identity_fields is not None:
            identity = identity_from_fields(identity_fields.identity_pairs())
    return LatticeRequest(
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        identity=identity,
        service_arn=service_arn,
        service_network_arn=service_network_arn,
        target_group_arn=target_group_arn,
        region=region,
        time=time,
        version=version,
        event=event,
    )


class _Fields:
    """The keys of one JSON object, looked up by their normalised spelling."""

    __slots__ = ("_by_norm", "_prefix")

    def __init__(self, obj: Mapping[Any, Any], prefix: str) -> None:
        self._prefix = prefix
        self._by_norm: dict[str, tuple[str, object]] = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise InvalidEventError(
                    prefix.rstrip(".") or "event", f"has a key that is {_kind(key)}"
                )
            # When two spellings are both present, the first one in the event wins.
            self._by_norm.setdefault(normalize_key(key), (prefix + key, value))

    def get(self, *names: str) -> tuple[str, object]:
        """(field as spelled in the event, value) of the first name present, else (name, None)."""
        for name in names:
            found = self._by_norm.get(normalize_key(name))
            if found is not None:
                return found
        return self._prefix + names[0], None

    def string(self, *names: str) -> str | None:
        """The first of ``names`` present, which must be a string; None when absent or null."""
        where, value = self.get(*names)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidEventError(where, f"must be a string, not {_kind(value)}")
        return value

    def required(self, *names: str) -> str:
        """Like `string`, but absent or null is an error naming every accepted spelling."""
        value = self.string(*names)
        if value is None:
            also = "".join(f" (or {self._prefix}{name})" for name in names[1:])
            raise InvalidEventError(self._prefix + names[0], f"is missing{also}")
        return value

    def object(self, name: str) -> _Fields | None:
        where, value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise InvalidEventError(where, f"must be a JSON object, not {_kind(value)}")
        return _Fields(value, where + ".")

    def identity_pairs(self) -> list[tuple[str, str]]:
        """The identity's keys as spelled, with their values; null values skipped.

        A known key must hold a string. A key this version does not know may
        hold anything: it is kept, as JSON text when it is not a string.
        """
        pairs = []
        for where, value in self._by_norm.values():
            if value is None:
                continue
            key = where[len(self._prefix) :]
            if not isinstance(value, str):
                if is_identity_key(key):
                    raise InvalidEventError(where, f"must be a string, not {_kind(value)}")
                value = json.dumps(value, separators=(",", ":"))
            pairs.append((key, value))
        return pairs


def _version(top: _Fields) -> str:
    where, value = top.get("version")
    if value is None or value in ("1.0", "1"):
        return "1.0"
    if value in ("2.0", "2"):
        return "2.0"
    shown = repr(value) if isinstance(value, str) and len(value) < 20 else _kind(value)
    raise InvalidEventError(where, f"is {shown}; lattice-client understands 1.0 and 2.0")


def _multi_values(top: _Fields, name: str) -> list[tuple[str, str]]:
    """A headers or query object: each value a string (V1) or a list of strings (V2)."""
    where, value = top.get(name)
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise InvalidEventError(where, f"must be a JSON object, not {_kind(value)}")
    pairs: list[tuple[str, str]] = []
    for key, values in value.items():
        if not isinstance(key, str):
            raise InvalidEventError(where, f"has a name that is {_kind(key)}")
        if isinstance(values, str):
            pairs.append((key, values))
        elif isinstance(values, list):
            for position, item in enumerate(values):
                if not isinstance(item, str):
                    raise InvalidEventError(
                        f"{where}[{key!r}][{position}]", f"must be a string, not {_kind(item)}"
                    )
                pairs.append((key, item))
        elif values is not None:
            raise InvalidEventError(
                f"{where}[{key!r}]", f"must be a string or a list of strings, not {_kind(values)}"
            )
    return pairs


def _body(top: _Fields) -> bytes:
    flag_where, flag = top.get("isBase64Encoded")
    if flag is None:
        encoded = False
    elif isinstance(flag, bool):
        encoded = flag
    elif isinstance(flag, str) and flag.lower() in ("true", "false"):
        encoded = flag.lower() == "true"
    else:
        raise InvalidEventError(flag_where, f"must be true or false, not {_kind(flag)}")
    where, value = top.get("body")
    if value is None:
        return b""
    if not isinstance(value, str):
        raise InvalidEventError(where, f"must be a string, not {_kind(value)}")
    if encoded:
        if len(value) > _MAX_BASE64_CHARS:
            raise _too_large(where)
        try:
            body = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidEventError(
                where, f"is not valid base64 although {flag_where} is true"
            ) from None
    else:
        try:
            body = value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEventError(where, "holds a lone surrogate, not valid text") from None
    if len(body) > MAX_BODY_BYTES:
        raise _too_large(where)
    return body


def _too_large(where: str) -> InvalidEventError:
    return InvalidEventError(where, f"is larger than Lattice's limit of {MAX_BODY_BYTES} bytes")


def _time(context: _Fields) -> datetime | None:
    """``timeEpoch``: microseconds since the epoch, as a string (or a number)."""
    where, value = context.get("timeEpoch")
    if value is None:
        return None
    # Twenty digits are far past year 9999; the bound also keeps int() away from huge strings.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        micros = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        micros = value
    else:
        raise InvalidEventError(
            where, f"must be microseconds since the epoch as a string of digits, not {_kind(value)}"
        )
    try:
        return _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise InvalidEventError(where, "is out of range for a date") from None


def _kind(value: object) -> str:
    """A JSON-ish name for the type of ``value``, for messages (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
