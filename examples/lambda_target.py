"""A Lambda function behind VPC Lattice, and a container target reading the same identity.

Runs locally: it builds the event Lattice would send (format V2), invokes the
handler the way Lambda does, and prints the response dict Lattice gets back.

    python examples/lambda_target.py
"""

from __future__ import annotations

import base64
import json
from typing import Any

import lattice_client
from lattice_client import aws_lambda
from lattice_client.aws_lambda import LatticeRequest, LatticeResponse


@aws_lambda.lattice_handler
def handler(request: LatticeRequest, context: Any) -> aws_lambda.HandlerResult:
    """Answer who called, over which service, with what; refuse callers from other orgs."""
    if request.identity.principal_org_id not in (None, "o-example123"):
        return LatticeResponse("not for your organization", status_code=403)
    if request.method == "POST" and request.path == "/orders":
        order = request.json()
        return LatticeResponse({"accepted": order["sku"]}, status_code=201)
    return {
        "method": request.method,
        "path": request.path,
        "query": {name: request.query.get_list(name) for name in request.query},
        "accept": request.headers.get("accept"),
        "caller": request.identity.principal,
        "session": request.identity.session_name,
        "source_vpc": request.identity.source_vpc_arn,
        "service": request.service_arn,
        "received": request.time.isoformat() if request.time else None,
    }


class LocalContext:
    """The bit of Lambda's context object the helpers use."""

    def get_remaining_time_in_millis(self) -> int:
        return 3_000


def lattice_event(method: str, path: str, body: bytes = b"", **query: list[str]) -> dict[str, Any]:
    """An event shaped like the ones Lattice sends a Lambda target (format V2)."""
    return {
        "version": "2.0",
        "method": method,
        "path": path,
        "headers": {"accept": ["application/json"], "content-type": ["application/json"]},
        "queryStringParameters": query,
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
        "requestContext": {
            "serviceNetworkArn": "arn:aws:vpc-lattice:us-west-2:123456789012:servicenetwork/sn-1",
            "serviceArn": "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-orders",
            "targetGroupArn": "arn:aws:vpc-lattice:us-west-2:123456789012:targetgroup/tg-1",
            "region": "us-west-2",
            "timeEpoch": "1767225600000000",
            "identity": {
                "sourceVpcArn": "arn:aws:ec2:us-west-2:123456789012:vpc/vpc-0abc",
                "type": "AWS_IAM",
                "principal": "arn:aws:sts::123456789012:assumed-role/checkout/i-0abc",
                "principalOrgID": "o-example123",
                "sessionName": "i-0abc",
            },
        },
    }


def main() -> None:
    context = LocalContext()
    listing = handler(lattice_event("GET", "/orders", status=["open", "late"]), context)
    print(json.dumps(listing, indent=2))
    assert listing["statusCode"] == 200

    created = handler(
        lattice_event("POST", "/orders", json.dumps({"sku": "A-1"}).encode()), context
    )
    print(json.dumps(created))
    assert created["statusCode"] == 201

    broken = handler({"method": "GET"}, context)  # no path: not a Lattice event
    print(json.dumps(broken))
    assert broken["statusCode"] == 400

    # The same identity for a target in a container: Lattice sends it as headers.
    container_headers = {
        "x-amzn-lattice-identity": (
            "Principal=arn:aws:sts::123456789012:assumed-role/checkout/i-0abc; "
            "PrincipalOrgID=o-example123; SessionName=i-0abc; Type=AWS_IAM"
        ),
        "x-amzn-lattice-identity-tags": "team=pay\\;ments;env=prod",
        "x-amzn-lattice-network": "SourceVpcArn=arn:aws:ec2:us-west-2:123456789012:vpc/vpc-0abc",
        "x-amzn-lattice-target": (
            "ServiceArn=arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-orders"
        ),
    }
    seen = lattice_client.parse_lattice_headers(container_headers)
    print(seen.identity.principal, dict(seen.identity.tags), seen.service_arn)
    assert seen.identity.tags["team"] == "pay;ments"


if __name__ == "__main__":
    main()
