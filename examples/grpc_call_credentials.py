"""Sign gRPC calls with grpc call credentials: lattice_client.grpc.call_credentials.

Run: python examples/grpc_call_credentials.py   (needs the `grpc` and `testing` extras)

grpcio attaches call credentials only to secure channels. Against a real Lattice
HTTPS listener you compose them with TLS::

    host = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
    channel = grpc.secure_channel(
        f"{host}:443",
        grpc.composite_channel_credentials(
            grpc.ssl_channel_credentials(), lattice_client.grpc.call_credentials(host)
        ),
        options=[("grpc.default_authority", host)],
    )

This example runs without AWS: a local Lattice (it checks every signature with
awscrt) in front of a small grpcio service, reached over
``grpc.local_channel_credentials()``, grpc's secure channel for loopback.
"""

from __future__ import annotations

from concurrent import futures

import grpc

import lattice_client
import lattice_client.grpc
from lattice_client.testing import LocalLattice, Principal, Rule

CALLER = Principal.generate("arn:aws:sts::111122223333:assumed-role/reader/grpc-example")


def hello(request: bytes, context: grpc.ServicerContext) -> bytes:
    seen = lattice_client.parse_lattice_headers(context.invocation_metadata())
    return f"hello {request.decode()}, you are {seen.identity.principal}".encode()


def same(data: bytes) -> bytes:
    return data


def main() -> None:
    handler = grpc.method_handlers_generic_handler(
        "demo.Greeter", {"Hello": grpc.unary_unary_rpc_method_handler(hello, same, same)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        rule = Rule("/demo.Greeter/", target=f"http://127.0.0.1:{port}")
        with LocalLattice(principals=[CALLER], rules=[rule]) as lattice:
            authority = "127.0.0.1"  # the host Lattice sees as :authority, without a port
            credentials = grpc.composite_channel_credentials(
                grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP),
                lattice_client.grpc.call_credentials(
                    authority, credentials=CALLER.credentials, region=lattice.region
                ),
            )
            with grpc.secure_channel(
                f"127.0.0.1:{lattice.port}",
                credentials,
                options=[("grpc.default_authority", authority)],
            ) as channel:
                call = channel.unary_unary("/demo.Greeter/Hello", same, same)
                print(call(b"world", timeout=30).decode())
    finally:
        server.stop(None)


if __name__ == "__main__":
    main()
