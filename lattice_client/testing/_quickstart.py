"""``lattice-client quickstart``: the whole library working on a fresh machine, no AWS needed.

Starts a demo service and a local Lattice in front of it in this process, then
calls it the ways an application would: the sync client (SigV4), the async
client (SigV4A), gRPC, requests and aiohttp (when installed), and one caller the
auth policy denies, which surfaces as a typed `AccessDeniedError`. Prints what
the service saw of each caller. Then puts the service in a service network whose
own auth policy admits only one account, and shows a denial by the network's
policy next to one by the service's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import lattice_client
from lattice_client.testing._config import Principal, Rule, ServiceNames
from lattice_client.testing._network import LocalServiceNetwork, Service
from lattice_client.testing._server import LocalLattice

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

READER = "arn:aws:sts::111122223333:assumed-role/billing-reader/quickstart"
INTRUDER = "arn:aws:sts::444455556666:assumed-role/intruder/quickstart"


async def demo_service(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """An HTTP target that answers with who called it, as Lattice told it."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    seen = lattice_client.parse_lattice_headers(scope["headers"])
    answer = {
        "method": scope["method"],
        "path": scope["path"],
        "principal": seen.identity.principal,
        "session": seen.identity.session_name,
        "lattice_headers": {
            name.decode(): value.decode()
            for name, value in scope["headers"]
            if name.startswith(b"x-amzn-lattice-")
        },
        "received_bytes": len(body),
    }
    status = 201 if scope["method"] == "POST" else 200
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


@contextmanager
def grpc_service() -> Iterator[int | None]:
    """A gRPC target (``demo.Greeter/Hello``) on loopback: its port, or None without grpcio."""
    try:
        from concurrent import futures

        import grpc
    except ImportError:
        yield None
        return

    def hello(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen = lattice_client.parse_lattice_headers(context.invocation_metadata())
        return f"hello {request.decode()}, you are {seen.identity.principal}".encode()

    def same(data: bytes) -> bytes:
        return data

    handler = grpc.method_handlers_generic_handler(
        "demo.Greeter", {"Hello": grpc.unary_unary_rpc_method_handler(hello, same, same)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port
    finally:
        server.stop(None)


def _policy(service_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": READER},
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": f"{service_arn}/*",
            }
        ],
    }


def _show(step: str, response: Any) -> None:
    seen = response.json()
    print(f"{step} -> {response.status_code}")
    print(f"   the service saw principal {seen['principal']} (session {seen['session']})")
    for name, value in sorted(seen["lattice_headers"].items()):
        print(f"   {name}: {value}")


async def _async_call(lattice: LocalLattice, reader: Principal) -> None:
    async with lattice_client.AsyncClient(
        base_url=lattice.url, credentials=reader.credentials, sigv4a=True
    ) as client:
        response = await client.post("/invoices", json={"amount": 42})
        await lattice_client.araise_for_status(response)
    _show("2. AsyncClient, SigV4A: POST /invoices", response)


def run() -> int:
    """Run the quickstart; returns the process exit status."""
    reader = Principal.generate(READER)
    intruder = Principal.generate(INTRUDER)
    with grpc_service() as grpc_port:
        rules = []
        if grpc_port is not None:
            rules.append(Rule("/demo.Greeter/", target=f"http://127.0.0.1:{grpc_port}"))
        with LocalLattice(
            app=demo_service,
            principals=[reader, intruder],
            rules=rules,
            auth_policy=_policy(ServiceNames().service_arn),
        ) as lattice:
            print(f"Local Lattice at {lattice.url} in front of a demo service")
            print(f"   service {lattice.service_arn}, region {lattice.region}, auth type AWS_IAM")
            print(f"   auth policy: only {READER} may invoke it\n")

            with lattice_client.Client(
                base_url=lattice.url, credentials=reader.credentials, region=lattice.region
            ) as client:
                response = lattice_client.raise_for_status(client.get("/invoices?year=2026"))
            _show("1. Client, SigV4: GET /invoices?year=2026", response)

            asyncio.run(_async_call(lattice, reader))

            if grpc_port is None:
                print("3. gRPC: skipped (pip install 'vpc-lattice-client[grpc]')")
            else:
                _grpc_call(lattice, reader)

            _requests_call(lattice, reader)
            _aiohttp_call(lattice, reader)

            with lattice_client.Client(
                base_url=lattice.url, credentials=intruder.credentials, region=lattice.region
            ) as client:
                denied = client.get("/invoices")
            try:
                lattice_client.raise_for_status(denied)
            except lattice_client.AccessDeniedError as error:
                print(f"6. A caller the policy does not allow -> {denied.status_code}")
                print(f"   raised {type(error).__name__}: principal={error.principal}")
                print(f"   explicit_deny={error.explicit_deny}, policy_type={error.policy_type}")
                print(f"   Lattice said: {denied.text}")
            else:
                print("6. The denied call was not denied: something is wrong")
                return 1

            print("\nAccess log (one JSON line per request, as Lattice writes them), last entry:")
            print("   " + json.dumps(lattice.access_log[-1]))
    _network_demo(reader, intruder)
    return 0


def _network_demo(reader: Principal, intruder: Principal) -> None:
    """Both auth-policy layers: the network's (one account) and the service's (GET only)."""
    network_policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": "111122223333"}},
            }
        ]
    }
    service_policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": "*",
                "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}},
            }
        ]
    }
    billing = Service("billing", app=demo_service, auth_policy=service_policy)
    with LocalServiceNetwork(
        [billing],
        auth_type="AWS_IAM",
        auth_policy=network_policy,
        principals=[reader, intruder],
    ) as network:
        print(f"\n7. The service in a service network at {network.url}, called by its name")
        print(f"   {network.host('billing')}")
        print("   network policy: account 111122223333 only; service policy: GET only")
        for who, method in ((intruder, "GET"), (reader, "DELETE"), (reader, "GET")):
            with lattice_client.Client(
                base_url=network.url,
                credentials=who.credentials,
                headers={"host": network.host("billing")},
            ) as client:
                response = client.request(method, "/invoices")
            try:
                lattice_client.raise_for_status(response)
            except lattice_client.AccessDeniedError as error:
                print(f"   {method} by {who.arn}")
                print(f"      -> {response.status_code}, denied by the {error.policy_type} policy")
            else:
                print(f"   {method} by {who.arn}")
                print(f"      -> {response.status_code}, allowed by both policies")


def _grpc_call(lattice: LocalLattice, reader: Principal) -> None:
    import lattice_client.grpc

    channel = lattice_client.grpc.insecure_channel(
        f"127.0.0.1:{lattice.port}", aws_credentials=reader.credentials, region=lattice.region
    )
    with channel:
        hello = channel.unary_unary("/demo.Greeter/Hello", lambda b: b, lambda b: b)
        reply = hello(b"world", timeout=30)
    print(f"3. gRPC (lattice_client.grpc.insecure_channel): demo.Greeter/Hello -> {reply.decode()}")


def _requests_call(lattice: LocalLattice, reader: Principal) -> None:
    try:
        import lattice_client.requests
    except ImportError:
        print("4. requests: skipped (pip install 'vpc-lattice-client[requests]')")
        return
    with lattice_client.requests.Session(
        credentials=reader.credentials, region=lattice.region
    ) as session:
        response = session.put(f"{lattice.url}/invoices/7", json={"paid": True}, timeout=30)
        lattice_client.raise_for_status(response)
    _show("4. requests (lattice_client.requests.Session): PUT /invoices/7", response)


def _aiohttp_call(lattice: LocalLattice, reader: Principal) -> None:
    try:
        import lattice_client.aiohttp
    except ImportError:
        print("5. aiohttp: skipped (pip install 'vpc-lattice-client[aiohttp]')")
        return

    async def call() -> tuple[int, dict[str, Any]]:
        async with (
            lattice_client.aiohttp.ClientSession(
                lattice.url, credentials=reader.credentials, region=lattice.region
            ) as session,
            session.delete("/invoices/7") as response,
        ):
            await lattice_client.araise_for_status(response)
            seen: dict[str, Any] = await response.json(content_type=None)
            return response.status, seen

    status, seen = asyncio.run(call())
    print(f"5. aiohttp (lattice_client.aiohttp.ClientSession): DELETE /invoices/7 -> {status}")
    print(f"   the service saw principal {seen['principal']} (session {seen['session']})")
