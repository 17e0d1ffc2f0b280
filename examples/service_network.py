"""A local service network: two services, the network's policy and each service's, VPCs.

Starts `lattice_client.testing.LocalServiceNetwork` with a billing and an orders
service (tiny ASGI apps). The network's auth policy admits only principals of our
organisation calling from VPCs our account owns; billing's own policy allows only
GET. One `lattice_client.Client` calls both services by name, and each denial
says which layer refused. Needs the extra ``testing``.

Run: python examples/service_network.py
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import lattice_client
from lattice_client.testing import LocalServiceNetwork, Principal, Service, Vpc

Message = MutableMapping[str, Any]

OUR_VPC = "vpc-0aaaaaaaaaaaaaaa1"
PARTNER_VPC = "vpc-0bbbbbbbbbbbbbbb2"


def service_app(
    name: str,
) -> Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]:
    """A service that says who it is, who called and from which VPC, as Lattice told it."""

    async def app(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        seen = lattice_client.parse_lattice_headers(scope["headers"])
        body = {
            "service": name,
            "caller": seen.identity.principal,
            "sourceVpcArn": seen.identity.source_vpc_arn,
        }
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    return app


def allow(condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "vpc-lattice-svcs:Invoke",
        "Resource": "*",
        "Condition": condition,
    }


def main() -> None:
    ours = Principal.generate("arn:aws:sts::111122223333:assumed-role/app/ci", org_id="o-ours")
    theirs = Principal.generate("arn:aws:sts::444455556666:assumed-role/app/x", org_id="o-other")
    org_only = {
        "Statement": [
            allow(
                {
                    "StringEquals": {
                        "aws:PrincipalOrgID": "o-ours",
                        "vpc-lattice-svcs:SourceVpcOwnerAccount": "111122223333",
                    }
                }
            )
        ]
    }
    read_only = {"Statement": [allow({"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}})]}
    services = [
        Service("billing", app=service_app("billing"), auth_policy=read_only),
        # Auth type NONE: the network's policy alone governs it.
        Service(
            "orders",
            app=service_app("orders"),
            auth_type="NONE",
            custom_domain="orders.example.com",
        ),
    ]
    with LocalServiceNetwork(
        services,
        auth_type="AWS_IAM",
        auth_policy=org_only,
        vpcs=[OUR_VPC, Vpc(PARTNER_VPC, account="444455556666")],
        principals=[ours, theirs],
    ) as network:
        print(f"service network {network.arn} at {network.url}")
        for service in network.services:
            print(f"   {service.name}: {network.host(service.name)}")
        billing = {"host": network.host("billing")}
        orders = {"host": "orders.example.com"}  # a custom domain: sign for network.region

        with lattice_client.Client(
            base_url=network.url, credentials=ours.credentials, region=network.region
        ) as client:
            calls = [
                ("GET billing", client.get("/invoices", headers=billing)),
                ("DELETE billing", client.delete("/invoices/7", headers=billing)),
                ("GET orders", client.get("/orders", headers=orders)),
                (
                    "GET orders from the partner's VPC",
                    client.get("/orders", headers={**orders, **network.vpc_headers(PARTNER_VPC)}),
                ),
                (
                    "GET orders from a VPC not in the network",
                    client.get(
                        "/orders",
                        headers={**orders, **network.vpc_headers("vpc-0ccccccccccccccc3")},
                    ),
                ),
            ]
        with lattice_client.Client(
            base_url=network.url, credentials=theirs.credentials, region=network.region
        ) as client:
            calls.append(("GET billing by another organisation", client.get("/", headers=billing)))

        for what, response in calls:
            if response.status_code == 200:
                print(f"{what} -> 200 {response.json()}")
            elif response.status_code == 403:
                layer = "network" if "network-based" in response.text else "service"
                print(f"{what} -> 403, refused by the {layer}'s auth policy")
            else:
                print(f"{what} -> {response.status_code} (no such service from there)")
        statuses = [response.status_code for _, response in calls]
        assert statuses == [200, 403, 200, 403, 404, 403], statuses
        assert "service-based" in calls[1][1].text
        assert "network-based" in calls[3][1].text
        assert "network-based" in calls[5][1].text
        print("access log, last record's authDeniedReason:")
        print("   " + network.access_log[-1]["authDeniedReason"])


if __name__ == "__main__":
    main()
