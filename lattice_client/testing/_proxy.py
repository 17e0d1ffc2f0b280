"""The local Lattice's data plane as an ASGI app: route, verify, authorise, forward, log.

For each request, in Lattice's order: find the service by the name the caller
used (``Host`` / ``:authority``) among those associated with the service
network, and the caller's VPC among the network's VPC associations; verify the
signature; evaluate the service network's and the service's auth policies;
apply the service's listener rules; forward (`_forward`) with the headers
Lattice adds (`_target_headers`). Served by hypercorn: HTTP/1.1 and HTTP/2,
cleartext or TLS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from lattice_client._credentials import Credentials
from lattice_client._lattice import SIGNING_NAME
from lattice_client.testing import _messages as msg
from lattice_client.testing import _target_headers
from lattice_client.testing._asgi import (
    HOP_BY_HOP,
    AccessLogSink,
    CountingSend,
    Receive,
    Scope,
    Send,
    drain,
    header_value,
    log_json,
    plain,
)
from lattice_client.testing._config import AuthType, Principal, Rule, ServiceNames
from lattice_client.testing._forward import Upstream
from lattice_client.testing._policy import ANONYMOUS, AuthPolicy, Decision, RequestContext
from lattice_client.testing._request import ReceivedRequest
from lattice_client.testing._verifier import verify_signature

__all__ = ["Flap", "LatticeProxy", "NetworkPlan", "ServicePlan", "VpcAssociation", "log_json"]


class Flap:
    """Makes a service's target look unhealthy: Lattice's 503 for the next N requests
    or until a moment passes. Set from the test's thread, read in the server's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._until = 0.0

    def start(self, requests: int = 0, seconds: float = 0.0) -> None:
        with self._lock:
            self._requests = requests
            self._until = time.monotonic() + seconds if seconds else 0.0

    def stop(self) -> None:
        self.start()

    def take(self) -> bool:
        """True when this request gets the 503 (and counts against N)."""
        with self._lock:
            if self._requests > 0:
                self._requests -= 1
                return True
            return time.monotonic() < self._until


@dataclass(frozen=True)
class VpcAssociation:
    """A VPC associated with the service network: callers in it can reach its services."""

    vpc_id: str
    account: str
    region: str

    @property
    def arn(self) -> str:
        return f"arn:aws:ec2:{self.region}:{self.account}:vpc/{self.vpc_id}"


@dataclass(frozen=True)
class ServicePlan:
    """One service as the proxy runs it."""

    names: ServiceNames
    auth_type: AuthType
    auth_policy: AuthPolicy | None
    rules: tuple[Rule, ...]
    default_target: str | None
    hosts: frozenset[str] = frozenset()
    """The names it answers to (lowercase, no port); empty: any (a lone LocalLattice)."""
    flap: Flap = field(default_factory=Flap)


@dataclass(frozen=True)
class NetworkPlan:
    """The service network: its auth type and policy, services and VPC associations."""

    arn: str
    services: tuple[ServicePlan, ...]
    vpcs: tuple[VpcAssociation, ...]
    auth_type: AuthType = "NONE"
    auth_policy: AuthPolicy | None = None

    def service_for(self, host: str) -> ServicePlan | None:
        for service in self.services:
            if not service.hosts or host in service.hosts:
                return service
        return None

    def vpc(self, vpc_id: str | None) -> VpcAssociation | None:
        if vpc_id is None:
            return self.vpcs[0]
        return next((vpc for vpc in self.vpcs if vpc.vpc_id == vpc_id), None)


class LatticeProxy:
    """An ASGI app that does to each request what Lattice's data plane does."""

    def __init__(
        self,
        *,
        network: NetworkPlan,
        principals: Sequence[Principal],
        clock: Callable[[], datetime],
        max_skew: timedelta,
        access_log: AccessLogSink,
        upstream_timeout: float,
        upstream_ca_file: str | None,
    ) -> None:
        self.network = network
        self.clock = clock
        self.max_skew = max_skew
        self.access_log = access_log
        self._by_key: dict[str, Principal] = {p.credentials.access_key_id: p for p in principals}
        self._credentials: dict[str, Credentials] = {
            key: p.credentials for key, p in self._by_key.items()
        }
        self._upstream = Upstream(timeout=upstream_timeout, ca_file=upstream_ca_file)

    def add_principal(self, principal: Principal) -> None:
        """Accept ``principal``'s credentials from now on (called from another thread)."""
        key = principal.credentials.access_key_id
        # Replaced whole, never changed in place: requests being verified keep their view.
        self._by_key = {**self._by_key, key: principal}
        self._credentials = {**self._credentials, key: principal.credentials}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            # "WebSocket is not supported" by Lattice (the user guide).
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._upstream.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- one request --------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        log: dict[str, Any] = self._log_entry(scope, datetime.now(timezone.utc))

        def finish(counting: CountingSend) -> None:
            log["responseCode"] = counting.status
            log["bytesSent"] = counting.body_bytes
            log["duration"] = round((time.monotonic() - started) * 1000)
            self.access_log(log)

        counting = CountingSend(send, finish, self.clock)
        try:
            await self._handle(scope, receive, counting, log)
        finally:
            counting.finish()  # a no-op unless the response never completed

    async def _handle(
        self, scope: Scope, receive: Receive, send: CountingSend, log: dict[str, Any]
    ) -> None:
        request = ReceivedRequest(
            method=scope["method"],
            raw_path=bytes(scope["raw_path"]).decode("latin-1"),
            query=bytes(scope["query_string"]).decode("latin-1"),
            headers=tuple(
                (n.decode("latin-1").lower(), header_value(v)) for n, v in scope["headers"]
            ),
        )
        service = self.network.service_for(request.host)
        vpc = self.network.vpc(request.joined_headers.get(_target_headers.SOURCE_VPC_HEADER))
        if service is None or vpc is None:
            # From an unassociated VPC no name of the network resolves: the same answer.
            log["failureReason"] = "UnknownService" if vpc else "VpcNotAssociated"
            log["bytesReceived"] = await drain(receive)
            await plain(send, msg.UNKNOWN_SERVICE_STATUS, msg.UNKNOWN_SERVICE_BODY)
            return
        log["serviceArn"] = service.names.service_arn
        log["sourceVpcArn"] = vpc.arn

        principal: Principal | None = None
        if "AWS_IAM" in (service.auth_type, self.network.auth_type):
            denial, principal = self._authenticate(request, service)
            log["callerPrincipal"] = principal.arn if principal else "-"
            if denial is None:
                denial = self._authorize(principal, request, service, vpc, scope)
            if denial is not None:
                status, body = denial
                log["authDeniedReason"] = body.decode()
                log["bytesReceived"] = await drain(receive)
                await plain(send, status, body)
                return

        path, joined = request.path, request.joined_headers
        rule = next((r for r in service.rules if r.matches(request.method, path, joined)), None)
        upstream = rule.target if rule else service.default_target
        if (rule is not None and rule.fixed_response is not None) or upstream is None:
            status = rule.fixed_response if rule and rule.fixed_response else 404
            log["bytesReceived"] = await drain(receive)
            await plain(send, status, msg.FIXED_RESPONSE_BODY)
            return
        log["targetGroupArn"] = service.names.target_group_arn
        if service.flap.take():
            log["failureReason"] = "NoHealthyTarget"
            log["bytesReceived"] = await drain(receive)
            await plain(send, msg.NO_HEALTHY_TARGET_STATUS, b"")
            return
        forwarded = self._forwarded_headers(scope, principal, service, vpc)
        relay = (
            self._upstream.forward_grpc
            if joined.get("content-type", "").startswith("application/grpc")
            else self._upstream.forward
        )
        await relay(scope, receive, send, upstream, request.forwarded_target, forwarded, log)

    def _authenticate(
        self, request: ReceivedRequest, service: ServicePlan
    ) -> tuple[tuple[int, bytes] | None, Principal | None]:
        if "authorization" not in request.joined_headers:
            if "x-amz-signature=" in request.query.lower():
                body = msg.error_body(msg.INCOMPLETE_SIGNATURE, msg.PRESIGNED_NOT_SUPPORTED)
                return (msg.SIGNATURE_ERROR_STATUS, body), None
            return None, None  # anonymous: the auth policies decide
        check = verify_signature(
            request.method,
            request.raw_target,
            request.headers,
            credentials=self._credentials,
            now=self.clock(),
            service=SIGNING_NAME,
            max_skew=self.max_skew,
            region=service.names.region,
        )
        if not check.ok:
            assert check.error is not None
            return (msg.SIGNATURE_ERROR_STATUS, msg.error_body(check.error, check.message)), None
        assert check.access_key_id is not None
        return None, self._by_key[check.access_key_id]

    def _authorize(
        self,
        principal: Principal | None,
        request: ReceivedRequest,
        service: ServicePlan,
        vpc: VpcAssociation,
        scope: Scope,
    ) -> tuple[int, bytes] | None:
        resource = f"{service.names.service_arn}{request.path}"
        server = scope.get("server") or ("", 0)
        context = RequestContext(
            principal=principal.arn if principal else None,
            resource=resource,
            method=request.method,
            headers=request.header_values,
            query=request.query_values,
            service_arn=service.names.service_arn,
            service_network_arn=self.network.arn,
            source_vpc=vpc.vpc_id,
            source_vpc_owner_account=vpc.account,
            port=int(server[1] or 0) or None,
            path=request.path,
            principal_tags=principal.tags if principal else {},
            principal_org_id=principal.org_id if principal else None,
        )
        layers: list[tuple[str, Decision]] = []
        for kind, auth_type, policy in (
            ("network-based", self.network.auth_type, self.network.auth_policy),
            ("service-based", service.auth_type, service.auth_policy),
        ):
            if auth_type == "AWS_IAM":
                # AWS_IAM without an auth policy: "all traffic will get an access denied error".
                layers.append((kind, policy.evaluate(context) if policy else Decision(False)))
        # An explicit Deny in either policy wins; then both must allow.
        refused = next((layer for layer in layers if layer[1].explicit_deny), None) or next(
            (layer for layer in layers if not layer[1].allowed), None
        )
        if refused is None:
            return None
        kind, decision = refused
        return 403, msg.access_denied(
            principal.arn if principal else ANONYMOUS,
            resource,
            policy_kind=kind,
            explicit_deny=decision.explicit_deny,
        ).encode()

    def _forwarded_headers(
        self,
        scope: Scope,
        principal: Principal | None,
        service: ServicePlan,
        vpc: VpcAssociation,
    ) -> list[tuple[bytes, bytes]]:
        kept = [
            (name, value)
            for name, value in scope["headers"]
            if name.lower() not in HOP_BY_HOP and not _target_headers.is_stripped(name)
        ]
        client = scope.get("client") or ("", 0)
        server = scope.get("server") or ("", 0)
        return kept + _target_headers.added_headers(
            principal,
            service.names,
            source_vpc_arn=vpc.arn,
            vpc_id=vpc.vpc_id,
            service_network_arn=self.network.arn,
            client_ip=str(client[0]),
            port=int(server[1] or 0),
            scheme=str(scope.get("scheme", "http")),
        )

    def _log_entry(self, scope: Scope, start_time: datetime) -> dict[str, Any]:
        """A record shaped like Lattice's access logs (field names from its user guide)."""
        path = bytes(scope["raw_path"]).decode("latin-1")
        query = bytes(scope["query_string"]).decode("latin-1")
        client = scope.get("client") or ("-", 0)
        server = scope.get("server") or ("-", 0)
        user_agent = dict(scope["headers"]).get(b"user-agent", b"-").decode("latin-1")
        return {
            "startTime": start_time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "duration": 0,
            "serviceNetworkArn": self.network.arn,
            "serviceArn": "-",
            "targetGroupArn": "-",
            "sourceVpcArn": "-",
            "requestMethod": scope["method"],
            "requestPath": f"{path}?{query}" if query else path,
            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            "responseCode": 0,
            "bytesReceived": 0,
            "bytesSent": 0,
            "callerPrincipal": "-",
            "authDeniedReason": "-",
            "userAgent": user_agent,
            "sourceIpPort": f"{client[0]}:{client[1]}",
            "destinationIpPort": f"{server[0]}:{server[1]}",
            "targetIpPort": "-",
            "requestToTargetDuration": "-",
            "grpcResponseCode": "-",
            "failureReason": "-",
        }
