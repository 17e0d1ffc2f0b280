"""What a local Lattice service is made of: principals, listener rules, names and ARNs."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from lattice_client._credentials import Credentials
from lattice_client._exceptions import ConfigurationError

__all__ = ["Principal", "Rule"]

AuthType = Literal["AWS_IAM", "NONE"]

_ASSUMED_ROLE = re.compile(r"arn:aws[a-z-]*:sts::\d{12}:assumed-role/[^/]+/(?P<session>.+)")
_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::\d{12}:.+")


@dataclass(frozen=True)
class Principal:
    """An AWS principal the local Lattice knows: its ARN and the credentials that prove it.

    ``org_id`` and ``tags`` feed the identity headers and the ``aws:PrincipalOrgID``
    and ``aws:PrincipalTag/...`` policy conditions.
    """

    arn: str
    credentials: Credentials
    org_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _ARN.fullmatch(self.arn):
            raise ConfigurationError(
                f"{self.arn!r} is not an IAM or STS principal ARN, such as "
                "arn:aws:sts::111122223333:assumed-role/app/session"
            )

    @classmethod
    def generate(
        cls,
        arn: str = "arn:aws:sts::111122223333:assumed-role/caller/local-session",
        *,
        session_token: bool = True,
        org_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Principal:
        """A principal with fresh random credentials (temporary ones, with a token, by default)."""
        alphabet = string.ascii_uppercase + string.digits
        prefix = "ASIA" if session_token else "AKIA"
        key_id = prefix + "".join(secrets.choice(alphabet) for _ in range(16))
        credentials = Credentials(
            key_id,
            secrets.token_urlsafe(30),
            secrets.token_urlsafe(48) if session_token else None,
        )
        return cls(arn, credentials, org_id, dict(tags or {}))

    @property
    def session_name(self) -> str | None:
        """The session name of an assumed-role ARN, else None."""
        match = _ASSUMED_ROLE.fullmatch(self.arn)
        return match.group("session") if match else None


@dataclass(frozen=True)
class Rule:
    """A listener rule: requests it matches get a fixed response or go to ``target``.

    ``path`` matches as a prefix (``match="prefix"``, Lattice's default) or
    exactly; ``method`` and ``headers`` (name -> exact value) narrow it further.
    Rules are tried in order, like Lattice's rule priorities. Exactly one of
    ``fixed_response`` (404 or 500, the only codes Lattice allows) and
    ``target`` (a URL) is set.
    """

    path: str = "/"
    fixed_response: Literal[404, 500] | None = None
    target: str | None = None
    match: Literal["prefix", "exact"] = "prefix"
    method: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.fixed_response is None) == (self.target is None):
            raise ConfigurationError("a Rule needs exactly one of fixed_response= and target=")
        if self.fixed_response not in (None, 404, 500):
            raise ConfigurationError(
                f"Lattice fixed responses can only be 404 or 500, not {self.fixed_response}"
            )
        if not self.path.startswith("/"):
            raise ConfigurationError(f"a Rule path starts with '/', not {self.path!r}")
        if self.match not in ("prefix", "exact"):
            raise ConfigurationError("Rule.match is 'prefix' or 'exact'")

    def matches(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        """True when this rule applies to a request (header names lowercase)."""
        if self.method is not None and self.method.upper() != method:
            return False
        if self.match == "exact" and path != self.path:
            return False
        if self.match == "prefix" and not path.startswith(self.path):
            return False
        return all(headers.get(name.lower()) == value for name, value in self.headers.items())


# The "partition id" label of generated service names (service-custom-domain-name.html
# shows e.g. 1234abc); any 7 hex digits serve.
_NAME_PARTITION = "7d67968"


@dataclass(frozen=True)
class ServiceNames:
    """The ARNs, ids and DNS name a Lattice service and its surroundings are known by."""

    region: str = "us-west-2"
    account: str = "111122223333"
    service_id: str = "svc-0123456789abcdef0"
    service_network_id: str = "sn-0123456789abcdef0"
    target_group_id: str = "tg-0123456789abcdef0"
    vpc_id: str = "vpc-0123456789abcdef0"
    name: str = "local"
    """The service's name, the first label of its generated DNS name."""

    @property
    def dns_name(self) -> str:
        """The generated name: ``<name>-<service id>.<partition>.vpc-lattice-svcs.<region>.on.aws``

        (the partition label is a fixed 7 hex digits).
        """
        return (
            f"{self.name}-{self.service_id}.{_NAME_PARTITION}.vpc-lattice-svcs.{self.region}.on.aws"
        )

    @property
    def service_arn(self) -> str:
        return f"arn:aws:vpc-lattice:{self.region}:{self.account}:service/{self.service_id}"

    @property
    def service_network_arn(self) -> str:
        return (
            f"arn:aws:vpc-lattice:{self.region}:{self.account}:"
            f"servicenetwork/{self.service_network_id}"
        )

    @property
    def target_group_arn(self) -> str:
        return (
            f"arn:aws:vpc-lattice:{self.region}:{self.account}:targetgroup/{self.target_group_id}"
        )

    @property
    def source_vpc_arn(self) -> str:
        return f"arn:aws:ec2:{self.region}:{self.account}:vpc/{self.vpc_id}"
