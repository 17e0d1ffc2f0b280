"""`LocalServiceNetwork`: several services behind one listener, both auth-policy layers, VPCs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

import lattice_client
from lattice_client.testing import (
    LocalServiceNetwork,
    PolicyError,
    Principal,
    Rule,
    Service,
    Vpc,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CALLER = Principal.generate("arn:aws:sts::111122223333:assumed-role/app/ci", org_id="o-ours")
OUTSIDER = Principal.generate("arn:aws:sts::444455556666:assumed-role/app/x", org_id="o-theirs")
HOME_VPC, OTHER_VPC, PARTNER_VPC = (
    "vpc-0aaaaaaaaaaaaaaa1",
    "vpc-0bbbbbbbbbbbbbbb2",
    "vpc-0ccccccccccccccc3",
)
PARTNER_ACCOUNT = "777788889999"


def named_app(name: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A target that says which service it is and what Lattice told it."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body", False):
            pass
        parsed = lattice_client.parse_lattice_headers(scope["headers"])
        seen = {
            "service": name,
            "path": scope["path"],
            "principal": parsed.identity.principal,
            "sourceVpcArn": parsed.identity.source_vpc_arn,
            "serviceArn": parsed.service_arn,
            "serviceNetworkArn": parsed.service_network_arn,
            "headers": sorted({k.decode() for k, _ in scope["headers"]}),
        }
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(seen).encode()})

    return app


def allow(resource: str = "*", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "vpc-lattice-svcs:Invoke",
        "Resource": resource,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def deny(resource: str = "*", **condition: Any) -> dict[str, Any]:
    return {**allow(resource, **condition), "Effect": "Deny"}


# The network policy allows paths under /nallow/ and denies those under /ndeny/; the
# service policy allows paths ending /sallow and denies those ending /sdeny. So one
# path picks each combination of Allow, no statement and explicit Deny in each layer.
NETWORK_POLICY = {"Statement": [allow("*/nallow/*"), deny("*/ndeny/*")]}
AUTHENTICATED = {"Statement": [allow(StringEquals={"aws:PrincipalType": "AWS"})]}
SERVICE_POLICY = {"Statement": [allow("*/sallow"), deny("*/sdeny")]}


@pytest.fixture(scope="module")
def network() -> Iterator[LocalServiceNetwork]:
    services = [
        Service("matrix", app=named_app("matrix"), auth_policy=SERVICE_POLICY),
        # Auth type NONE: the network's policy alone governs these two.
        Service(
            "billing",
            app=named_app("billing"),
            auth_type="NONE",
            custom_domain="billing.example.com",
        ),
        Service(
            "orders",
            app=named_app("orders"),
            auth_type="NONE",
            rules=[Rule("/org/old", fixed_response=404)],
        ),
        Service("retired", app=named_app("retired"), associated=False),
        Service(
            "home-only",
            app=named_app("home-only"),
            auth_policy={
                "Statement": [
                    allow(StringEquals={"vpc-lattice-svcs:SourceVpc": HOME_VPC}),
                    allow(StringEquals={"vpc-lattice-svcs:SourceVpcOwnerAccount": PARTNER_ACCOUNT}),
                ]
            },
        ),
    ]
    network_policy = {
        "Statement": [
            *NETWORK_POLICY["Statement"],
            # The organisation-wide rule most teams put in the network policy.
            allow("*/org/*", StringEquals={"aws:PrincipalOrgID": "o-ours"}),
            allow(
                "*", StringEquals={"vpc-lattice-svcs:ServiceNetworkArn": "x"}
            ),  # never: the ARN differs
        ]
    }
    with LocalServiceNetwork(
        services,
        auth_type="AWS_IAM",
        auth_policy=network_policy,
        vpcs=[HOME_VPC, OTHER_VPC, Vpc(PARTNER_VPC, account=PARTNER_ACCOUNT)],
        principals=[CALLER, OUTSIDER],
    ) as running:
        yield running


def client(
    network: LocalServiceNetwork, principal: Principal = CALLER, **options: Any
) -> lattice_client.Client:
    return lattice_client.Client(
        base_url=network.url,
        credentials=principal.credentials,
        region=network.region,
        **options,
    )


def denial(principal: str, resource: str, layer: str, *, explicit: bool) -> str:
    head = (
        f"AccessDeniedException: User: {principal} is not authorized to perform: "
        f"vpc-lattice-svcs:Invoke on resource: {resource} "
    )
    if explicit:
        return head + f"with an explicit deny in a {layer}-based policy"
    return head + f"because no {layer}-based policy allows the vpc-lattice-svcs:Invoke action"


OUTCOMES = {
    # (network, service): None when allowed, else (layer named, explicit deny)
    ("allow", "allow"): None,
    ("allow", "none"): ("service", False),
    ("allow", "deny"): ("service", True),
    ("none", "allow"): ("network", False),
    ("none", "none"): ("network", False),
    ("none", "deny"): ("service", True),
    ("deny", "allow"): ("network", True),
    ("deny", "none"): ("network", True),
    ("deny", "deny"): ("network", True),
}


@pytest.mark.parametrize(("in_network", "in_service"), list(OUTCOMES))
def test_both_policies_must_allow_and_a_deny_in_either_wins(
    network: LocalServiceNetwork, in_network: str, in_service: str
) -> None:
    """Every combination of Allow, no statement and Deny gives Lattice's outcome and layer."""
    path = f"/n{in_network}/s{in_service}"
    with client(network, headers={"host": network.host("matrix")}) as calls:
        response = calls.get(path)
    expected = OUTCOMES[(in_network, in_service)]
    if expected is None:
        assert response.status_code == 200, response.text
        assert response.json()["service"] == "matrix"
        return
    layer, explicit = expected
    resource = network.service_arn("matrix") + path
    assert (response.status_code, response.text) == (
        403,
        denial(CALLER.arn, resource, layer, explicit=explicit),
    )
    record = network.access_log[-1]
    assert record["authDeniedReason"] == response.text
    assert f"{layer}-based" in record["authDeniedReason"]


def test_network_policy_layer_is_raised_as_a_typed_error(network: LocalServiceNetwork) -> None:
    """lattice_client's AccessDeniedError tells a network-based denial from a service-based one."""
    with client(network, headers={"host": network.host("matrix")}, raise_for_status=True) as calls:
        with pytest.raises(lattice_client.AccessDeniedError) as by_network:
            calls.get("/ndeny/sallow")
        with pytest.raises(lattice_client.AccessDeniedError) as by_service:
            calls.get("/nallow/sdeny")
    assert by_network.value.policy_type == "network-based"
    assert by_service.value.policy_type == "service-based"


def test_one_client_calls_two_services_of_the_network_by_name(
    network: LocalServiceNetwork,
) -> None:
    """One Client reaches each service by its generated name; the target learns which it is."""
    with client(network) as calls:
        billing = calls.get("/org/invoices", headers={"host": network.host("billing")})
        orders = calls.get("/org/orders", headers={"host": network.host("orders")})
        retired = calls.get("/org/old/7", headers={"host": network.host("orders")})
    assert billing.json()["service"] == "billing"
    assert orders.json()["service"] == "orders"
    assert retired.status_code == 404  # the orders service's own listener rule
    assert billing.json()["serviceArn"] == network.service_arn("billing")
    assert billing.json()["serviceNetworkArn"] == network.arn
    assert billing.json()["principal"] == CALLER.arn


def test_custom_domain_routes_to_its_service(network: LocalServiceNetwork) -> None:
    """A custom domain carries no region: the client signs for the configured one."""
    with client(network) as calls:
        response = calls.get("/org/x", headers={"host": "billing.example.com"})
    assert response.json()["service"] == "billing"


def test_routing_by_authority_over_http2(network: LocalServiceNetwork) -> None:
    """Over HTTP/2 (cleartext, prior knowledge) the :authority picks the service."""
    with client(network, http1=False, http2=True) as calls:
        billing = calls.get("/org/a", headers={"host": network.host("billing")})
        orders = calls.get("/org/b", headers={"host": network.host("orders")})
    assert billing.http_version == "HTTP/2"
    assert (billing.json()["service"], orders.json()["service"]) == ("billing", "orders")


@pytest.mark.parametrize("name", ["nobody.example.com", "retired"])
def test_unknown_or_unassociated_service_name_is_lattices_unknown_name(
    network: LocalServiceNetwork, name: str
) -> None:
    """A name no associated service answers to gets the unknown-name answer, before any auth."""
    host = network.host(name) if name == "retired" else name
    response = httpx.get(network.url + "/org/x", headers={"host": host}, trust_env=False)
    assert (response.status_code, response.content) == (404, b"")
    assert network.access_log[-1]["failureReason"] == "UnknownService"


def test_caller_in_an_unassociated_vpc_reaches_nothing(network: LocalServiceNetwork) -> None:
    """A request from a VPC the network is not associated with is refused."""
    with client(network, headers=network.vpc_headers("vpc-0ddddddddddddddd4")) as calls:
        response = calls.get("/org/x", headers={"host": network.host("billing")})
    assert response.status_code == 404
    assert network.access_log[-1]["failureReason"] == "VpcNotAssociated"


def test_source_vpc_conditions_and_the_network_header(network: LocalServiceNetwork) -> None:
    """SourceVpc and SourceVpcOwnerAccount conditions see the caller's VPC; so does the target."""
    host = {"host": network.host("home-only")}
    with client(network, headers=host) as home:
        from_home = home.get("/org/x")  # no header: the first VPC association
    with client(network, headers={**host, **network.vpc_headers(OTHER_VPC)}) as other:
        from_other = other.get("/org/x")
    with client(
        network, headers={**host, LocalServiceNetwork.SOURCE_VPC_HEADER: PARTNER_VPC}
    ) as partner:
        from_partner = partner.get("/org/x")
    assert from_home.status_code == 200
    assert from_home.json()["sourceVpcArn"] == f"arn:aws:ec2:us-west-2:111122223333:vpc/{HOME_VPC}"
    assert LocalServiceNetwork.SOURCE_VPC_HEADER not in from_home.json()["headers"]
    assert from_other.status_code == 403
    assert "because no service-based policy allows" in from_other.text
    assert from_partner.status_code == 200
    assert from_partner.json()["sourceVpcArn"] == (
        f"arn:aws:ec2:us-west-2:{PARTNER_ACCOUNT}:vpc/{PARTNER_VPC}"
    )
    assert network.access_log[-1]["sourceVpcArn"].endswith(PARTNER_VPC)


def test_principal_org_rule_in_the_network_policy(network: LocalServiceNetwork) -> None:
    """ "Only principals of our organisation", written once in the network policy."""
    with client(network, OUTSIDER, headers={"host": network.host("billing")}) as calls:
        response = calls.get("/org/x")
    assert response.status_code == 403
    assert "because no network-based policy allows" in response.text


def test_grpc_is_routed_by_authority() -> None:
    """A gRPC channel with grpc.default_authority set to a service's name reaches that service."""

    def handler(name: str) -> grpc.GenericRpcHandler:
        def say(request: bytes, context: grpc.ServicerContext) -> bytes:
            return name.encode() + b":" + request

        return grpc.method_handlers_generic_handler(
            "demo.Echo",
            {"Say": grpc.unary_unary_rpc_method_handler(say, lambda b: b, lambda b: b)},
        )

    servers = []
    try:
        ports = []
        for name in ("alpha", "beta"):
            server = grpc.server(futures.ThreadPoolExecutor(2))
            server.add_generic_rpc_handlers([handler(name)])
            ports.append(server.add_insecure_port("127.0.0.1:0"))
            server.start()
            servers.append(server)
        services = [
            Service(name, target=f"http://127.0.0.1:{port}", auth_policy=AUTHENTICATED)
            for name, port in zip(("alpha", "beta"), ports, strict=True)
        ]
        with LocalServiceNetwork(services, principals=[CALLER]) as network:
            for name in ("alpha", "beta"):
                authority = network.host(name)
                headers = lattice_client.sign(
                    "POST",
                    f"http://{authority}/demo.Echo/Say",
                    credentials=CALLER.credentials,
                    region=network.region,
                )
                options = [("grpc.default_authority", authority)]
                with grpc.insecure_channel(f"127.0.0.1:{network.port}", options) as channel:
                    say = channel.unary_unary("/demo.Echo/Say", lambda b: b, lambda b: b)
                    reply = say(b"hi", metadata=tuple(headers.items()), timeout=30)
                assert reply == f"{name}:hi".encode()
    finally:
        for server in servers:
            server.stop(None)


def test_aws_iam_without_a_policy_denies_everything() -> None:
    """As in Lattice, AWS_IAM with no auth policy attached refuses all traffic, at either layer."""
    with (
        LocalServiceNetwork(
            [
                Service("svc", app=named_app("svc")),
                Service("open", app=named_app("open"), auth_type="NONE"),
            ],
            auth_type="AWS_IAM",
            principals=[CALLER],
        ) as network,
        client(network) as calls,
    ):
        by_service = calls.get("/", headers={"host": network.host("svc")})
        by_network = calls.get("/", headers={"host": network.host("open")})
    assert "because no network-based policy allows" in by_service.text
    assert "because no network-based policy allows" in by_network.text
    with (
        LocalServiceNetwork([Service("svc", app=named_app("svc"))], principals=[CALLER]) as network,
        client(network, headers={"host": network.host("svc")}) as calls,
    ):
        assert "because no service-based policy allows" in calls.get("/").text


def test_request_path_condition() -> None:
    """vpc-lattice-svcs:RequestPath is the decoded, normalised path."""
    policy = {"Statement": [allow(StringLike={"vpc-lattice-svcs:RequestPath": "/public/*"})]}
    with LocalServiceNetwork(
        [Service("svc", app=named_app("svc"), auth_policy=policy)], principals=[CALLER]
    ) as network:
        with client(network, headers={"host": network.host("svc")}) as calls:
            assert calls.get("/public/a").status_code == 200
            assert calls.get("/private/a").status_code == 403
        response = httpx.get(
            network.url + "/public/%2e%2e/private/a",
            headers={"host": network.host("svc")},
            trust_env=False,
        )
        assert response.status_code == 403


def test_port_condition() -> None:
    """vpc-lattice-svcs:Port is the listener's port."""
    with LocalServiceNetwork([Service("svc", app=named_app("svc"))]) as probe:
        port = probe.port
    policy = {"Statement": [allow(StringEquals={"vpc-lattice-svcs:Port": str(port)})]}
    wrong = {"Statement": [allow(StringEquals={"vpc-lattice-svcs:Port": "1"})]}
    services = [
        Service("svc", app=named_app("svc"), auth_policy=policy),
        Service("other-port", app=named_app("other-port"), auth_policy=wrong),
    ]
    with (
        LocalServiceNetwork(services, port=port, principals=[CALLER]) as network,
        client(network) as calls,
    ):
        assert calls.get("/", headers={"host": network.host("svc")}).status_code == 200
        refused = calls.get("/", headers={"host": network.host("other-port")})
    assert refused.status_code == 403


@pytest.mark.parametrize("key", ["vpc-lattice-svcs:SourceIp", "aws:SourceIp", "aws:username"])
def test_unknown_condition_key_is_a_configuration_error_naming_it(key: str) -> None:
    """A condition key Lattice does not document for Invoke fails loudly, never silently passes."""
    policy = {"Statement": [allow(StringEquals={key: "x"})]}
    with pytest.raises(PolicyError, match=key):
        LocalServiceNetwork([Service("svc")], auth_type="AWS_IAM", auth_policy=policy)
    with pytest.raises(PolicyError, match=key):
        LocalServiceNetwork([Service("svc", auth_policy=policy)])


def test_bad_network_configuration_is_refused_up_front() -> None:
    """Duplicate names, bad names, bad VPC ids and a policy without AWS_IAM are errors."""
    error = lattice_client.ConfigurationError
    with pytest.raises(error, match="two services are named"):
        LocalServiceNetwork([Service("svc"), Service("svc")])
    with pytest.raises(error, match="service name"):
        Service("Not_A_Name")
    with pytest.raises(error, match="VPC id"):
        Vpc("vpc-nope")
    with pytest.raises(error, match="only applies with auth_type='AWS_IAM'"):
        LocalServiceNetwork([Service("svc")], auth_policy=NETWORK_POLICY)
    with pytest.raises(error, match="two services answer to"):
        LocalServiceNetwork(
            [Service("a-1", custom_domain="x.example"), Service("b-1", custom_domain="X.example")]
        )
    with pytest.raises(error, match="no service named"):
        LocalServiceNetwork([Service("svc")]).host("other")


def test_network_from_a_json_configuration(tmp_path: Path) -> None:
    """A small JSON file describes the network; policy files are read relative to it."""
    (tmp_path / "network-policy.json").write_text(json.dumps(NETWORK_POLICY))
    config = {
        "authType": "AWS_IAM",
        "authPolicy": "network-policy.json",
        "vpcs": [HOME_VPC, {"vpcId": PARTNER_VPC, "account": PARTNER_ACCOUNT}],
        "services": [
            {
                "name": "matrix",
                "authPolicy": SERVICE_POLICY,
                "fixedResponses": {"/nallow/gone": 500},
            }
        ],
    }
    path = tmp_path / "network.json"
    path.write_text(json.dumps(config))
    with LocalServiceNetwork.from_config(path, principals=[CALLER]) as network:
        assert [vpc.vpc_id for vpc in network.vpcs] == [HOME_VPC, PARTNER_VPC]
        with client(network, headers={"host": network.host("matrix")}) as calls:
            assert calls.get("/nallow/sallow").status_code == 404  # allowed; no target
            assert calls.get("/ndeny/sallow").status_code == 403
            assert calls.get("/nallow/gone").status_code == 403  # auth comes before rules
    with pytest.raises(lattice_client.ConfigurationError, match="'servicez'"):
        LocalServiceNetwork.from_config({"servicez": []})


def test_lattice_local_serves_a_network_configuration(tmp_path: Path) -> None:
    """``lattice-local --network network.json`` serves the network and prints each name."""
    path = tmp_path / "network.json"
    path.write_text(json.dumps({"services": [{"name": "billing"}, {"name": "orders"}]}))
    process = subprocess.Popen(
        [sys.executable, "-m", "lattice_client.testing._cli", "--network", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert banner.startswith("lattice-local: serving "), banner
        info = json.loads(banner.removeprefix("lattice-local: serving "))
        assert set(info["services"]) == {"billing", "orders"}
        host = info["services"]["orders"]["host"]
        response = httpx.get(info["url"] + "/", headers={"host": host}, trust_env=False)
        assert response.status_code == 403  # unsigned, AWS_IAM service: anonymous refused
        assert "service/" + info["services"]["orders"]["serviceArn"].rsplit("/", 1)[1] in (
            response.text
        )
    finally:
        process.terminate()
        process.communicate(timeout=60)


@pytest.mark.local_service_network(
    services=[
        Service("one", app=named_app("one"), auth_type="NONE"),
        Service("two", app=named_app("two"), auth_type="NONE"),
    ],
    auth_type="AWS_IAM",
    auth_policy={"Statement": [allow()]},
    principals=[CALLER],
)
def test_pytest_fixture_serves_a_network(local_service_network: LocalServiceNetwork) -> None:
    """The local_service_network fixture takes LocalServiceNetwork's options from a marker."""
    with client(local_service_network) as calls:
        response = calls.get("/", headers={"host": local_service_network.host("two")})
    assert response.json()["service"] == "two"


@pytest.mark.anyio
async def test_routing_over_tls_and_http2_with_an_async_client() -> None:
    """Over TLS with ALPN h2, the :authority routes; the certificate covers the listener."""
    services = [
        Service("alpha", app=named_app("alpha"), auth_type="NONE"),
        Service("beta", app=named_app("beta"), auth_type="NONE"),
    ]
    async with (
        LocalServiceNetwork(
            services, auth_type="AWS_IAM", auth_policy=AUTHENTICATED, tls=True, principals=[CALLER]
        ) as network,
        lattice_client.AsyncClient(
            base_url=network.url,
            credentials=CALLER.credentials,
            verify=network.ssl_context(),
            http2=True,
        ) as calls,
    ):
        beta = await calls.get("/", headers={"host": network.host("beta")})
    assert beta.http_version == "HTTP/2"
    assert beta.json()["service"] == "beta"


def test_one_service_of_the_network_flaps(network: LocalServiceNetwork) -> None:
    """flap() on one service gives its callers Lattice's 503; the other services answer."""
    network.flap("orders", requests=1)
    with client(network) as calls:
        orders = calls.get("/org/x", headers={"host": network.host("orders")})
        billing = calls.get("/org/x", headers={"host": network.host("billing")})
        again = calls.get("/org/x", headers={"host": network.host("orders")})
    assert (orders.status_code, billing.status_code, again.status_code) == (503, 200, 200)
    with pytest.raises(lattice_client.ConfigurationError, match="no service named"):
        network.flap("nobody", requests=1)
