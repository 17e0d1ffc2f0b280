"""Sign a request for a Lattice service and check the signature independently with botocore.

Run: python examples/sign_request.py
"""

from __future__ import annotations

from datetime import datetime, timezone

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

import lattice_client

# AWS's documented example key pair: not a real account.
CREDENTIALS = lattice_client.Credentials(
    access_key_id="AKIDEXAMPLE",
    secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
)
URL = (
    "https://billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws/invoices?year=2026"
)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def botocore_signature(headers: dict[str, str]) -> str:
    """Recompute the signature with botocore from the same request, time and signed headers."""
    unsigned = {name: value for name, value in headers.items() if name != "authorization"}
    request = AWSRequest(method="GET", url=URL, headers=unsigned)
    # add_auth() would read the clock itself; run its steps with our timestamp.
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(
        BotocoreCredentials(CREDENTIALS.access_key_id, CREDENTIALS.secret_access_key),
        "vpc-lattice-svcs",
        "us-west-2",
    )
    string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    return auth.signature(string_to_sign, request)


def main() -> None:
    headers = lattice_client.sign(
        "GET", URL, {"accept": "application/json"}, credentials=CREDENTIALS, now=NOW
    )
    authorization = headers["authorization"]
    scope, _, signature = authorization.rpartition(", Signature=")
    print(f"GET {URL}")
    for name in sorted(headers):
        shown = scope + ", Signature=<redacted>" if name == "authorization" else headers[name]
        print(f"  {name}: {shown}")
    ours = signature
    theirs = botocore_signature({"accept": "application/json", **headers})
    if ours != theirs:
        raise SystemExit("signature mismatch: lattice_client and botocore disagree")
    print("botocore recomputed the same signature: OK")


if __name__ == "__main__":
    main()
