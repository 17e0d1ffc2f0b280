"""Test a service and its callers against a local Lattice: signatures, auth policy, rules.

Starts your app (here a tiny ASGI app) behind `lattice_client.testing.LocalLattice`,
which verifies every signature independently of lattice-client's signer and
evaluates an auth policy, then calls it as a reader, as an unknown caller and
unsigned, and retries through a flapping target. Needs the extra ``testing``.

Run: python examples/local_lattice.py
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

import lattice_client
from lattice_client.testing import LocalLattice, Principal, Rule, ServiceNames

Message = MutableMapping[str, Any]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """The service under test: it trusts Lattice's identity header, as a real target would."""
    if scope["type"] != "http":
        return
    caller = lattice_client.parse_lattice_headers(scope["headers"]).identity.principal
    body = json.dumps({"path": scope["path"], "caller": caller}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    reader = Principal.generate("arn:aws:sts::111122223333:assumed-role/reports-reader/ci")
    stranger = Principal.generate("arn:aws:iam::999988887777:user/stranger", session_token=False)
    service_arn = ServiceNames().service_arn
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                # A role in a policy matches every session of that role.
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/reports-reader"},
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": f"{service_arn}/reports/*",
                "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}},
            }
        ],
    }
    rules = [Rule("/reports/legacy", fixed_response=404)]

    with LocalLattice(
        app=app, principals=[reader, stranger], auth_policy=policy, rules=rules
    ) as lattice:
        with lattice_client.Client(
            base_url=lattice.url, credentials=reader.credentials, region=lattice.region
        ) as client:
            allowed = client.get("/reports/2026")
            print("reader GET /reports/2026 ->", allowed.status_code, allowed.json())
            assert allowed.json()["caller"] == reader.arn

            retired = client.get("/reports/legacy")
            print("reader GET /reports/legacy ->", retired.status_code, "(fixed-response rule)")
            assert retired.status_code == 404

            wrong_method = client.delete("/reports/2026")
            print("reader DELETE /reports/2026 ->", wrong_method.status_code)
            assert wrong_method.status_code == 403

        with lattice_client.Client(
            base_url=lattice.url, credentials=stranger.credentials, region=lattice.region
        ) as client:
            try:
                lattice_client.raise_for_status(client.get("/reports/2026"))
            except lattice_client.AccessDeniedError as error:
                print("stranger ->", type(error).__name__, "for", error.principal)
            else:
                raise SystemExit("the stranger was let in")

        # The target flaps: Lattice's 503 for the next 2 requests. A caller that retries
        # (here a plain loop; use your HTTP library's retry settings) gets through.
        lattice.flap(requests=2)
        with lattice_client.Client(
            base_url=lattice.url, credentials=reader.credentials, region=lattice.region
        ) as client:
            statuses = []
            for _ in range(3):
                statuses.append(client.get("/reports/2026").status_code)
                if statuses[-1] != 503:
                    break
            print("reader through a flapping target ->", statuses)
            assert statuses == [503, 503, 200]

        unsigned = httpx.get(lattice.url + "/reports/2026", trust_env=False)
        print("unsigned ->", unsigned.status_code, unsigned.text[:60] + "...")
        assert unsigned.status_code == 403

        print("access log:", len(lattice.access_log), "records, e.g.")
        print(json.dumps(lattice.access_log[0], indent=2))


if __name__ == "__main__":
    main()
