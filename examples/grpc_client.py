"""Sign gRPC calls for VPC Lattice: the four call kinds, sync and grpc.aio.

Runs without AWS: it starts a grpcio server in this process whose interceptor
checks every call's signature with lattice_client.testing.verify_signature (an
awscrt-based verifier, independent of our signer), generates the service's code
from the small proto below with grpcio-tools, and calls it.

    pip install 'vpc-lattice-client[grpc,testing]' grpcio-tools
    python examples/grpc_client.py

Against a real Lattice service you only need the channel, for example:

    channel = lattice_client.grpc.secure_channel(
        "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws:443"
    )
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import grpc.aio

import lattice_client
import lattice_client.grpc
import lattice_client.grpc.aio
from lattice_client.testing import verify_signature

PROTO = """
syntax = "proto3";
package demo.v1;

service Greeter {
  rpc Hello(Greeting) returns (Greeting);               // unary-unary
  rpc Countdown(Greeting) returns (stream Greeting);    // unary-stream
  rpc Collect(stream Greeting) returns (Greeting);      // stream-unary
  rpc Chat(stream Greeting) returns (stream Greeting);  // stream-stream
}

message Greeting {
  string text = 1;
  int32 count = 2;
}
"""

# The Lattice service's host name: what the channel sends as :authority and signs.
SERVICE_HOST = "greeter-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
# Demo credentials; in real use leave aws_credentials out for the default chain.
CREDENTIALS = lattice_client.Credentials("AKIDEXAMPLEGRPC", "demo-secret", "demo-session-token")


def generate(directory: str) -> tuple[ModuleType, ModuleType]:
    """Compile PROTO with grpcio-tools and import the generated modules."""
    from grpc_tools import protoc

    Path(directory, "greeter.proto").write_text(PROTO)
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{directory}",
            f"-I{resources.files('grpc_tools') / '_proto'}",
            f"--python_out={directory}",
            f"--grpc_python_out={directory}",
            str(Path(directory, "greeter.proto")),
        ]
    )
    if status != 0:
        raise SystemExit(f"protoc failed with status {status}")
    sys.path.insert(0, directory)
    return importlib.import_module("greeter_pb2"), importlib.import_module("greeter_pb2_grpc")


class VerifySignatures(grpc.ServerInterceptor):
    """Checks each call's SigV4 signature, as Lattice would, before the service sees it.

    grpcio does not show a server the request's :authority, so the host is the
    one this service answers to: a call signed for another host fails.
    """

    def __init__(self) -> None:
        self.checked: list[tuple[str, bool, str]] = []

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        headers = [("host", SERVICE_HOST)]
        headers += [(key, str(value)) for key, value in handler_call_details.invocation_metadata]
        check = verify_signature(
            "POST", method, headers, credentials={CREDENTIALS.access_key_id: CREDENTIALS}
        )
        self.checked.append((method, check.ok, check.message))
        return continuation(handler_call_details)


def serve(pb2: ModuleType, pb2_grpc: ModuleType, verifier: VerifySignatures) -> grpc.Server:
    """A Greeter server on 127.0.0.1, with the verifying interceptor in front."""

    class Greeter(pb2_grpc.GreeterServicer):  # type: ignore[misc, name-defined]
        def Hello(self, request: Any, context: grpc.ServicerContext) -> Any:
            return pb2.Greeting(text=f"hello, {request.text}")

        def Countdown(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            for n in range(request.count, 0, -1):
                yield pb2.Greeting(count=n)

        def Collect(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            return pb2.Greeting(text=" ".join(r.text for r in requests))

        def Chat(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            for request in requests:
                yield pb2.Greeting(text=request.text.upper())

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[verifier])
    pb2_grpc.add_GreeterServicer_to_server(Greeter(), server)
    return server


def call_sync(pb2: ModuleType, pb2_grpc: ModuleType, port: int) -> None:
    """Each call kind over a signed sync channel."""
    # A Lattice HTTP listener; for HTTPS use secure_channel("<host>:443").
    # authority= is needed here only because we dial 127.0.0.1, not the service's name.
    with lattice_client.grpc.insecure_channel(
        f"127.0.0.1:{port}", authority=SERVICE_HOST, aws_credentials=CREDENTIALS
    ) as channel:
        stub = pb2_grpc.GreeterStub(channel)
        print("Hello     ->", stub.Hello(pb2.Greeting(text="lattice")).text)
        print("Countdown ->", [g.count for g in stub.Countdown(pb2.Greeting(count=3))])
        words = iter([pb2.Greeting(text="signed"), pb2.Greeting(text="once")])
        print("Collect   ->", stub.Collect(words).text)
        chat = stub.Chat(iter([pb2.Greeting(text="per"), pb2.Greeting(text="call")]))
        print("Chat      ->", [g.text for g in chat])


async def call_aio(pb2: ModuleType, pb2_grpc: ModuleType, port: int) -> None:
    """Each call kind over a signed grpc.aio channel."""

    async def words(*texts: str) -> AsyncIterator[Any]:
        for text in texts:
            yield pb2.Greeting(text=text)

    async with lattice_client.grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", authority=SERVICE_HOST, aws_credentials=CREDENTIALS
    ) as channel:
        stub = pb2_grpc.GreeterStub(channel)
        print("aio Hello     ->", (await stub.Hello(pb2.Greeting(text="asyncio"))).text)
        print("aio Countdown ->", [g.count async for g in stub.Countdown(pb2.Greeting(count=2))])
        print("aio Collect   ->", (await stub.Collect(words("no", "blocking"))).text)
        print("aio Chat      ->", [g.text async for g in stub.Chat(words("a", "b"))])


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        pb2, pb2_grpc = generate(directory)
        verifier = VerifySignatures()
        server = serve(pb2, pb2_grpc, verifier)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            call_sync(pb2, pb2_grpc, port)
            asyncio.run(call_aio(pb2, pb2_grpc, port))
        finally:
            server.stop(None).wait(10)

    print(f"\nThe server verified {len(verifier.checked)} calls:")
    for method, ok, message in verifier.checked:
        print(f"  {'ok  ' if ok else 'FAIL'} {method} {'' if ok else message}")
    return 0 if verifier.checked and all(ok for _, ok, _ in verifier.checked) else 1


if __name__ == "__main__":
    sys.exit(main())
