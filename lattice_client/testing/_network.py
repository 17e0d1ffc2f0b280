"""`LocalServiceNetwork`: a local Lattice service network with several services.

Lattice is a service network first: a hub that associates services and VPCs. A
request is allowed only when the network's auth policy and the service's both
allow it (an explicit Deny in either wins), and the denial names the layer that
refused (``network-based`` or ``service-based``). Services are told apart by the
name the caller used (``Host`` / ``:authority``): their generated name or custom
domain. The caller's VPC is a request header only the stand-in reads
(`LocalServiceNetwork.SOURCE_VPC_HEADER`); a VPC not associated with the network reaches nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

from lattice_client._exceptions import ConfigurationError
from lattice_client.testing._config import AuthType, Principal, Rule, ServiceNames
from lattice_client.testing._policy import AuthPolicy
from lattice_client.testing._server import DataPlane, auth_policy_for, check_target
from lattice_client.testing._target_headers import SOURCE_VPC_HEADER

if TYPE_CHECKING:
    from lattice_client.testing._proxy import Flap, NetworkPlan

__all__ = ["LocalServiceNetwork", "Service", "Vpc"]

# Lattice's rule for service names: 3-40 lowercase letters, digits and hyphens,
# not starting or ending with a hyphen.
_SERVICE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]")
_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")


@dataclass(frozen=True)
class Service:
    """One service of a `LocalServiceNetwork`: its name, target, rules and auth policy.

    ``target`` (a URL) or ``app`` (an ASGI or WSGI app served on loopback) is
    where admitted requests go; with neither, Lattice's 404. ``custom_domain``
    is a second name it answers to. ``associated=False`` keeps it out of the
    network: calls to its names get the answer for an unknown name.
    """

    name: str
    target: str | None = None
    app: Any = None
    auth_type: AuthType = "AWS_IAM"
    auth_policy: str | Mapping[str, Any] | AuthPolicy | None = None
    rules: Sequence[Rule] = ()
    custom_domain: str | None = None
    associated: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _SERVICE_NAME.fullmatch(self.name):
            raise ConfigurationError(
                f"a service name is 3-40 lowercase letters, digits and hyphens, not {self.name!r}"
            )
        check_target(self.target, self.app)


@dataclass(frozen=True)
class Vpc:
    """A VPC associated with the network; ``account`` (its owner) defaults to the network's."""

    vpc_id: str
    account: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.vpc_id, str) or not _VPC_ID.fullmatch(self.vpc_id):
            raise ConfigurationError(
                f"a VPC id looks like vpc-0123456789abcdef0, not {self.vpc_id!r}"
            )
        if self.account is not None and not re.fullmatch(r"\d{12}", self.account):
            raise ConfigurationError(f"a VPC's account is 12 digits, not {self.account!r}")


def _policy_or_none(
    auth_type: AuthType, policy: str | Mapping[str, Any] | AuthPolicy | None, what: str
) -> AuthPolicy | None:
    """The policy as given. Unlike `LocalLattice`'s convenience default, AWS_IAM without a
    policy denies everything, as Lattice does ("all traffic will get an access denied error")."""
    if policy is None:
        auth_policy_for(auth_type, None, what)  # checks the auth type
        return None
    return auth_policy_for(auth_type, policy, what)


def _id(prefix: str, *parts: str) -> str:
    """A stable, Lattice-shaped id (``svc-`` + 17 hex digits) derived from names."""
    return prefix + hashlib.sha256("/".join(parts).encode()).hexdigest()[:17]


@dataclass
class _Running:
    service: Service
    names: ServiceNames
    auth_policy: AuthPolicy | None
    flap: Flap | None = field(default=None)


class LocalServiceNetwork(DataPlane):
    """A local stand-in for a Lattice service network: several services on one listener.

    Each `Service` has its own generated name
    (``<name>-<svc-id>.<partition>.vpc-lattice-svcs.<region>.on.aws``, see
    `host`), optional custom domain, target, listener rules and auth policy;
    the network has its own auth type and policy, and its VPC associations
    (``vpcs``; the first is where callers are unless a request says otherwise
    with `SOURCE_VPC_HEADER`, see `vpc_headers`).

    Call a service by sending its name as ``Host`` (HTTP/1.1) or ``:authority``
    (HTTP/2, gRPC's ``grpc.default_authority``) to `url`::

        with LocalServiceNetwork([Service("billing", app=billing, auth_policy=policy)]) as network:
            with lattice_client.Client(base_url=network.url, credentials=network.credentials,
                                       headers={"host": network.host("billing")}) as client:
                client.get("/invoices")

    As in Lattice, ``auth_type="AWS_IAM"`` without an auth policy, on the network
    or on a service, refuses every request. The other options are `LocalLattice`'s.
    """

    SOURCE_VPC_HEADER = SOURCE_VPC_HEADER
    """The request header naming the caller's VPC (``vpc-...``); the target never sees it."""

    def __init__(
        self,
        services: Sequence[Service],
        *,
        auth_type: AuthType = "NONE",
        auth_policy: str | Mapping[str, Any] | AuthPolicy | None = None,
        vpcs: Sequence[Vpc | str] = ("vpc-0123456789abcdef0",),
        principals: Iterable[Principal] | None = None,
        region: str = "us-west-2",
        account: str = "111122223333",
        network_id: str = "sn-0123456789abcdef0",
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        clock: Callable[[], datetime] | None = None,
        max_skew: timedelta = timedelta(minutes=5),
        upstream_timeout: float = 60.0,
        upstream_ca_file: str | None = None,
        log_stream: TextIO | None = None,
    ) -> None:
        super().__init__(
            principals=principals,
            host=host,
            port=port,
            tls=tls,
            clock=clock,
            max_skew=max_skew,
            upstream_timeout=upstream_timeout,
            upstream_ca_file=upstream_ca_file,
            log_stream=log_stream,
        )
        if not services:
            raise ConfigurationError("a service network needs at least one Service")
        if not vpcs:
            raise ConfigurationError("a service network needs at least one VPC association")
        self.auth_type: AuthType = auth_type
        self.auth_policy = _policy_or_none(auth_type, auth_policy, "the network's")
        self.region = region
        self.account = account
        self.network_id = network_id
        self.vpcs: tuple[Vpc, ...] = tuple(Vpc(v) if isinstance(v, str) else v for v in vpcs)
        self._services: dict[str, _Running] = {}
        hosts: set[str] = set()
        for service in services:
            if not isinstance(service, Service):
                raise ConfigurationError(f"services= takes Service objects, not {service!r}")
            if service.name in self._services:
                raise ConfigurationError(f"two services are named {service.name!r}")
            names = ServiceNames(
                region=region,
                account=account,
                service_id=_id("svc-", network_id, service.name),
                service_network_id=network_id,
                target_group_id=_id("tg-", network_id, service.name),
                vpc_id=self.vpcs[0].vpc_id,
                name=service.name,
            )
            for name in (names.dns_name, service.custom_domain):
                if name is not None and name.lower() in hosts:
                    raise ConfigurationError(f"two services answer to {name!r}")
                if name is not None:
                    hosts.add(name.lower())
            self._services[service.name] = _Running(
                service,
                names,
                _policy_or_none(
                    service.auth_type, service.auth_policy, f"service {service.name}'s"
                ),
            )

    @classmethod
    def from_config(
        cls, config: str | Path | Mapping[str, Any], **options: Any
    ) -> LocalServiceNetwork:
        """A network from a JSON document (a path, or the parsed mapping); see docs/testing.md.

        ``options`` are further keyword arguments (``principals=``, ``tls=``...) and
        win over the document.
        """
        return cls(**{**network_options(config), **options})

    # -- what a client needs ------------------------------------------------------------

    @property
    def arn(self) -> str:
        """The service network's ARN (``vpc-lattice-svcs:ServiceNetworkArn``)."""
        return f"arn:aws:vpc-lattice:{self.region}:{self.account}:servicenetwork/{self.network_id}"

    @property
    def services(self) -> tuple[Service, ...]:
        return tuple(running.service for running in self._services.values())

    def names(self, service: str) -> ServiceNames:
        """A service's ids, ARNs and generated DNS name (``names(...).service_arn``)."""
        running = self._services.get(service)
        if running is None:
            raise ConfigurationError(
                f"no service named {service!r}; the network has {sorted(self._services)}"
            )
        return running.names

    def host(self, service: str) -> str:
        """The generated name to send as ``Host`` / ``:authority`` to call ``service``."""
        return self.names(service).dns_name

    def service_arn(self, service: str) -> str:
        """The ARN auth policy resources of ``service`` are built on."""
        return self.names(service).service_arn

    @staticmethod
    def vpc_headers(vpc_id: str) -> dict[str, str]:
        """Headers that make a request come from ``vpc_id`` (pass them to a client)."""
        return {SOURCE_VPC_HEADER: vpc_id}

    def flap(self, service: str, *, requests: int = 0, seconds: float = 0.0) -> None:
        """Make ``service``'s target answer Lattice's 503, as `LocalLattice.flap` does."""
        from lattice_client.testing._server import check_flap

        check_flap(requests, seconds)
        self._flap_of(service).start(requests, seconds)

    def __repr__(self) -> str:
        where = self.url if self._ready.is_set() else "not running"
        return f"LocalServiceNetwork({where}, services={sorted(self._services)})"

    # -- DataPlane ----------------------------------------------------------------------

    def _flap_of(self, service: str) -> Flap:
        from lattice_client.testing._proxy import Flap

        self.names(service)  # a clear error for an unknown name
        running = self._services[service]
        if running.flap is None:
            running.flap = Flap()
        return running.flap

    def _apps(self) -> Sequence[Any]:
        return [running.service.app for running in self._services.values()]

    def _certificate_names(self) -> Sequence[str]:
        names = []
        for running in self._services.values():
            names.append(running.names.dns_name)
            if running.service.custom_domain:
                names.append(running.service.custom_domain)
        return names

    def _network_plan(self, app_urls: Sequence[str | None]) -> NetworkPlan:
        from lattice_client.testing._proxy import NetworkPlan, ServicePlan, VpcAssociation

        plans = []
        for running, app_url in zip(self._services.values(), app_urls, strict=True):
            service = running.service
            if not service.associated:
                continue
            hosts = {running.names.dns_name}
            if service.custom_domain:
                hosts.add(service.custom_domain.lower())
            plans.append(
                ServicePlan(
                    names=running.names,
                    auth_type=service.auth_type,
                    auth_policy=running.auth_policy,
                    rules=tuple(service.rules),
                    default_target=service.target or app_url,
                    hosts=frozenset(hosts),
                    flap=self._flap_of(service.name),
                )
            )
        vpcs = tuple(
            VpcAssociation(vpc.vpc_id, vpc.account or self.account, self.region)
            for vpc in self.vpcs
        )
        return NetworkPlan(
            services=tuple(plans),
            vpcs=vpcs,
            auth_type=self.auth_type,
            auth_policy=self.auth_policy,
            arn=self.arn,
        )


# -- the JSON configuration (lattice-local --network, the pytest fixture) -----------------

_NETWORK_KEYS = {"region", "account", "networkId", "authType", "authPolicy", "vpcs", "services"}
_SERVICE_KEYS = {
    "name",
    "target",
    "authType",
    "authPolicy",
    "customDomain",
    "fixedResponses",
    "associated",
}


def network_options(config: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """`LocalServiceNetwork` keyword arguments from its JSON configuration.

    ``{"authType": "AWS_IAM", "authPolicy": {...} or "policy.json", "vpcs": ["vpc-..."
    or {"vpcId": ..., "account": ...}], "services": [{"name": ..., "target": "http://...",
    "authType": ..., "authPolicy": ..., "customDomain": ..., "fixedResponses":
    {"/path": 404}, "associated": true}], "region": ..., "account": ..., "networkId": ...}``.
    Policy file names are relative to the configuration file.
    """
    base = Path(".")
    if isinstance(config, str | Path):
        base = Path(config).parent
        try:
            config = json.loads(Path(config).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigurationError(f"cannot read the network configuration: {exc}") from None
    if not isinstance(config, Mapping):
        raise ConfigurationError("a network configuration is a JSON object")
    _known(config, _NETWORK_KEYS, "the network configuration")
    options: dict[str, Any] = {}
    for key, option in (("region", "region"), ("account", "account"), ("networkId", "network_id")):
        if key in config:
            options[option] = config[key]
    if "authType" in config:
        options["auth_type"] = config["authType"]
    if "authPolicy" in config:
        options["auth_policy"] = _policy(config["authPolicy"], base)
    if "vpcs" in config:
        vpcs = config["vpcs"]
        if not isinstance(vpcs, list):
            raise ConfigurationError("'vpcs' is a list of VPC ids or {'vpcId', 'account'} objects")
        options["vpcs"] = [_vpc(v) for v in vpcs]
    services = config.get("services")
    if not isinstance(services, list) or not services:
        raise ConfigurationError("the network configuration needs a non-empty 'services' list")
    options["services"] = [_service(s, base) for s in services]
    return options


def _known(mapping: Mapping[str, Any], keys: set[str], where: str) -> None:
    unknown = set(mapping) - keys
    if unknown:
        raise ConfigurationError(
            f"{where} has keys the local Lattice does not know: {sorted(unknown)}; "
            f"known: {sorted(keys)}"
        )


def _policy(value: Any, base: Path) -> Any:
    if isinstance(value, str) and not value.lstrip().startswith("{"):
        try:
            return (base / value).read_text()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the auth policy {value!r}: {exc}") from None
    return value


def _vpc(value: Any) -> Vpc:
    if isinstance(value, str):
        return Vpc(value)
    if isinstance(value, Mapping):
        _known(value, {"vpcId", "account"}, "a VPC association")
        return Vpc(str(value.get("vpcId", "")), value.get("account"))
    raise ConfigurationError(f"a VPC association is an id or an object, not {value!r}")


def _service(value: Any, base: Path) -> Service:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"a service is a JSON object, not {value!r}")
    _known(value, _SERVICE_KEYS, f"service {value.get('name')!r}")
    rules = []
    fixed = value.get("fixedResponses", {})
    if not isinstance(fixed, Mapping):
        raise ConfigurationError("'fixedResponses' maps paths to 404 or 500")
    for path, status in fixed.items():
        rules.append(Rule(path, fixed_response=cast(Literal[404, 500], status)))
    return Service(
        name=value.get("name", ""),
        target=value.get("target"),
        auth_type=value.get("authType", "AWS_IAM"),
        auth_policy=_policy(value["authPolicy"], base) if "authPolicy" in value else None,
        rules=rules,
        custom_domain=value.get("customDomain"),
        associated=bool(value.get("associated", True)),
    )
