"""Auth policies as Lattice evaluates them: IAM-shaped JSON, Invoke on ``<serviceArn>/<path>``.

Supported: ``Effect`` Allow/Deny; ``Principal`` ``"*"``, ``{"AWS": ...}`` with
``"*"``, account ids, account root ARNs, IAM user/role ARNs (a role matches its
assumed-role sessions); ``Action``/``NotAction`` with ``*`` wildcards;
``Resource``/``NotResource`` with ``*`` and ``?``; ``Condition`` with the
``String*``, ``Arn*`` and ``Null`` operators (and ``...IfExists``) over the keys
listed in `RequestContext.condition_values`. Anything else raises
`PolicyError` when the policy is loaded, never silently at request time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lattice_client._exceptions import ConfigurationError

__all__ = ["AuthPolicy", "Decision", "PolicyError", "RequestContext"]

INVOKE = "vpc-lattice-svcs:Invoke"
ANONYMOUS = "anonymous"

# Lattice's documented "authenticated callers only" auth policy: the default when
# AWS_IAM is chosen and no policy is given.
AUTHENTICATED_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "vpc-lattice-svcs:Invoke",
            "Resource": "*",
            "Condition": {"StringNotEqualsIgnoreCase": {"aws:PrincipalType": "anonymous"}},
        }
    ],
}


class PolicyError(ConfigurationError):
    """An auth policy the local Lattice cannot evaluate; the message names the part."""


@dataclass(frozen=True)
class RequestContext:
    """What an auth policy sees of one request.

    ``headers`` and ``query`` give every value received (a list) or one (a
    string): a condition on a repeated header or query parameter must hold for
    each value for an Allow to apply, and for any value for a Deny to apply, so
    that no value a target might read escapes a Deny.
    """

    principal: str | None
    """The caller's ARN, or None for an anonymous (unsigned) caller."""
    resource: str
    method: str
    headers: Mapping[str, str | Sequence[str]]
    """Lowercase header names."""
    query: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    service_arn: str = ""
    service_network_arn: str = ""
    source_vpc: str = ""
    source_vpc_owner_account: str = ""
    port: int | None = None
    path: str = ""
    """The request path as the policy judges it (decoded and normalised)."""
    principal_tags: Mapping[str, str] = field(default_factory=dict)
    principal_org_id: str | None = None

    def condition_values(self, key: str) -> list[str] | None:
        """The values of a condition key for this request, or None when the key is absent."""
        lkey = key.lower()
        prefix, _, name = lkey.partition("/")
        if lkey == "vpc-lattice-svcs:requestmethod":
            return [self.method]
        if lkey == "vpc-lattice-svcs:requestpath":
            return [self.path] if self.path else None
        if prefix == "vpc-lattice-svcs:requestheader":
            return _values(self.headers.get(name))
        if prefix == "vpc-lattice-svcs:requestquerystring":
            # Query parameter names are case-sensitive; the key's own spelling counts.
            return _values(self.query.get(key.partition("/")[2]))
        if lkey == "vpc-lattice-svcs:servicearn":
            return [self.service_arn]
        if lkey == "vpc-lattice-svcs:servicenetworkarn":
            return [self.service_network_arn] if self.service_network_arn else None
        if lkey == "vpc-lattice-svcs:sourcevpc":
            return [self.source_vpc] if self.source_vpc else None
        if lkey == "vpc-lattice-svcs:sourcevpcowneraccount":
            return [self.source_vpc_owner_account] if self.source_vpc_owner_account else None
        if lkey == "vpc-lattice-svcs:port":
            return [str(self.port)] if self.port is not None else None
        if lkey == "aws:principaltype":
            return ["Anonymous" if self.principal is None else "AWS"]
        if self.principal is None:
            return None
        if lkey == "aws:principalarn":
            return [_role_of_session(self.principal)]
        if lkey == "aws:principalaccount":
            return [_account_of(self.principal)]
        if lkey == "aws:principalorgid":
            return [self.principal_org_id] if self.principal_org_id else None
        if prefix == "aws:principaltag":
            tags = {k.lower(): v for k, v in self.principal_tags.items()}
            return [tags[name]] if name in tags else None
        return None


def _values(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value) or None


@dataclass(frozen=True)
class Decision:
    """The verdict of an auth policy: allowed, or denied explicitly or for want of an Allow."""

    allowed: bool
    explicit_deny: bool = False


_KNOWN_KEYS = re.compile(
    r"(vpc-lattice-svcs:(port|requestmethod|requestpath|requestheader/.+|requestquerystring/.+|servicearn|"
    r"servicenetworkarn|sourcevpc|sourcevpcowneraccount)|aws:(principaltype|principalarn|principalaccount|"
    r"principalorgid|principaltag/.+))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Statement:
    allow: bool
    principals: tuple[str, ...] | None  # None: any principal, anonymous included
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[tuple[_Test, str], ...]

    def applies(self, request: RequestContext) -> bool:
        if not _principal_matches(self.principals, request.principal):
            return False
        if any(_glob(pattern).fullmatch(INVOKE) for pattern in self.actions) == self.not_action:
            return False
        if (
            any(_glob(pattern).fullmatch(request.resource) for pattern in self.resources)
            == self.not_resource
        ):
            return False
        # A Deny holds when any value of a repeated key matches; an Allow only when all do.
        every = self.allow
        return all(test(request.condition_values(key), every) for test, key in self.conditions)


class AuthPolicy:
    """An auth policy document, parsed and checked once, evaluated per request."""

    def __init__(self, document: str | Mapping[str, Any]) -> None:
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except json.JSONDecodeError as exc:
                raise PolicyError(f"the auth policy is not valid JSON: {exc}") from None
        if not isinstance(document, Mapping):
            raise PolicyError("an auth policy is a JSON object with a 'Statement' list")
        statements = document.get("Statement")
        if isinstance(statements, Mapping):
            statements = [statements]
        if not isinstance(statements, list) or not statements:
            raise PolicyError("an auth policy needs a non-empty 'Statement' list")
        self.document: Mapping[str, Any] = document
        self._statements = tuple(_parse_statement(s, i) for i, s in enumerate(statements))

    def evaluate(self, request: RequestContext) -> Decision:
        """IAM's order: an applicable Deny wins, then an applicable Allow, else implicit deny."""
        allowed = False
        for statement in self._statements:
            if statement.applies(request):
                if not statement.allow:
                    return Decision(allowed=False, explicit_deny=True)
                allowed = True
        return Decision(allowed=allowed)

    def __repr__(self) -> str:
        return f"AuthPolicy({json.dumps(self.document)})"


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"{where} must be a string or a non-empty list of strings")


_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)


def _parse_statement(raw: Any, index: int) -> _Statement:
    where = f"Statement[{index}]"
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be an object")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"{where} has keys the local Lattice does not support: {sorted(unknown)}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}.Effect must be 'Allow' or 'Deny', not {effect!r}")
    principals = _parse_principal(raw.get("Principal"), where)
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(f"{where} needs exactly one of 'Action' and 'NotAction'")
    if ("Resource" in raw) == ("NotResource" in raw):
        raise PolicyError(f"{where} needs exactly one of 'Resource' and 'NotResource'")
    action_key = "Action" if "Action" in raw else "NotAction"
    resource_key = "Resource" if "Resource" in raw else "NotResource"
    return _Statement(
        allow=effect == "Allow",
        principals=principals,
        actions=_strings(raw[action_key], f"{where}.{action_key}"),
        not_action=action_key == "NotAction",
        resources=_strings(raw[resource_key], f"{where}.{resource_key}"),
        not_resource=resource_key == "NotResource",
        conditions=_parse_conditions(raw.get("Condition", {}), where),
    )


def _parse_principal(value: Any, where: str) -> tuple[str, ...] | None:
    if value == "*":
        return None
    if isinstance(value, Mapping) and set(value) == {"AWS"}:
        principals = _strings(value["AWS"], f"{where}.Principal.AWS")
        return None if "*" in principals else principals
    raise PolicyError(f"{where}.Principal must be '*' or {{'AWS': <ARNs or account ids>}}")


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    """IAM wildcards: ``*`` any run of characters (``/`` included), ``?`` one character."""
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
        re.DOTALL,
    )


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "StringLike": lambda actual, expected: _glob(expected).fullmatch(actual) is not None,
    "ArnEquals": lambda actual, expected: actual == expected,
    "ArnLike": lambda actual, expected: _glob(expected).fullmatch(actual) is not None,
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


# A condition test: (the key's values or None when absent, must every value pass?) -> passes.
_Test = Callable[[list[str] | None, bool], bool]


def _parse_conditions(raw: Any, where: str) -> tuple[tuple[_Test, str], ...]:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}.Condition must be an object")
    tests: list[tuple[_Test, str]] = []
    for operator, pairs in raw.items():
        if not isinstance(pairs, Mapping):
            raise PolicyError(f"{where}.Condition.{operator} must map condition keys to values")
        for key, expected in pairs.items():
            if not _KNOWN_KEYS.fullmatch(key):
                raise PolicyError(
                    f"{where}.Condition.{operator}: the local Lattice does not know the "
                    f"condition key {key!r}"
                )
            tests.append((_condition(operator, _strings(expected, key), where), key))
    return tuple(tests)


def _condition(operator: str, expected: Sequence[str], where: str) -> _Test:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base == "Null":
        want_absent = [value.lower() == "true" for value in expected]
        return lambda actual, every: (actual is None) in want_absent
    negated = base in _NEGATED
    compare = _OPERATORS.get(_NEGATED.get(base, base))
    if compare is None:
        raise PolicyError(f"{where}: the local Lattice does not support the operator {operator!r}")

    def passes(value: str) -> bool:
        matched = any(compare(value, wanted) for wanted in expected)
        return not matched if negated else matched

    def test(actual: list[str] | None, every: bool) -> bool:
        if actual is None:
            # IAM: a missing key fails every operator but negated ones and ...IfExists.
            return if_exists or negated
        return all(map(passes, actual)) if every else any(map(passes, actual))

    return test


def _principal_matches(principals: Iterable[str] | None, caller: str | None) -> bool:
    if principals is None:
        return True
    if caller is None:
        return False
    account = _account_of(caller)
    role = _role_of_session(caller)
    for principal in principals:
        if principal in (caller, role, account, f"arn:aws:iam::{account}:root"):
            return True
    return False


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


_ASSUMED_ROLE = re.compile(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+")


def _role_of_session(arn: str) -> str:
    """``arn:aws:sts::A:assumed-role/R/session`` -> ``arn:aws:iam::A:role/R``; others unchanged."""
    match = _ASSUMED_ROLE.fullmatch(arn)
    if match is None:
        return arn
    partition, account, role = match.groups()
    return f"arn:{partition}:iam::{account}:role/{role}"
