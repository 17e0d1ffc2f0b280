"""What signing costs a gRPC client: signed against unsigned calls on loopback, same run.

Run: .venv/bin/python benchmarks/grpc_overhead.py

A grpcio server runs in a child process (so it does not share the client's GIL);
the client interleaves short batches of unsigned and signed work on one server, in
an order that rotates each round (so that load from other processes and position
effects hit all alike), and compares median rates.

Baselines: a plain channel ("unsigned"), and a channel with a do-nothing
interceptor (what grpcio's interception alone costs). "signed" is the channel
helper of lattice_client.grpc (or .aio); "SigningInterceptor" the same signing
through grpc.intercept_channel. Targets: signed unary calls at least 0.90 of
unsigned, signed streams at least 0.98.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import grpc.aio

import lattice_client
import lattice_client.grpc
import lattice_client.grpc.aio

AUTHORITY = "bench-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
CREDENTIALS = lattice_client.Credentials("AKIDBENCHMARK", "bench-secret", "bench-session-token")
UNARY = "/bench.Echo/Unary"
STREAM = "/bench.Echo/Stream"
PAYLOAD = b"x" * 64
ROUNDS = 32
UNARY_BATCH = 150
STREAM_MESSAGES = 5_000
STREAM_REQUEST = str(STREAM_MESSAGES).encode()
TARGETS = {"unary": 0.90, "stream": 0.98}


def _serve(ports: Any) -> None:
    def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
        return request

    def stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        for _ in range(int(request)):
            yield PAYLOAD

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "bench.Echo",
                {
                    "Unary": grpc.unary_unary_rpc_method_handler(unary),
                    "Stream": grpc.unary_stream_rpc_method_handler(stream),
                },
            )
        ]
    )
    ports.put(server.add_insecure_port("127.0.0.1:0"))
    server.start()
    server.wait_for_termination()


class _NoOp(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Baseline: grpcio's interception machinery, doing nothing."""

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(details, request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(details, request)


def _unary_batch(call: Any) -> float:
    start = time.perf_counter()
    for _ in range(UNARY_BATCH):
        call(PAYLOAD)
    return UNARY_BATCH / (time.perf_counter() - start)


def _stream_batch(call: Any) -> float:
    start = time.perf_counter()
    count = sum(1 for _ in call(STREAM_REQUEST))
    return count / (time.perf_counter() - start)


def _sync_rates(port: int) -> dict[str, dict[str, float]]:
    target = f"127.0.0.1:{port}"
    options = [("grpc.default_authority", AUTHORITY)]
    channels: dict[str, Any] = {
        "unsigned": grpc.insecure_channel(target, options=options),
        "no-op interceptor": grpc.intercept_channel(
            grpc.insecure_channel(target, options=options), _NoOp()
        ),
        "SigningInterceptor": grpc.intercept_channel(
            grpc.insecure_channel(target, options=options),
            lattice_client.grpc.SigningInterceptor(AUTHORITY, credentials=CREDENTIALS),
        ),
        "signed": lattice_client.grpc.insecure_channel(
            target, authority=AUTHORITY, aws_credentials=CREDENTIALS
        ),
    }
    samples: dict[str, dict[str, list[float]]] = {"unary": {}, "stream": {}}
    # Short batches, interleaved: load from other processes hits every channel alike.
    for round_ in range(ROUNDS):
        for name, channel in _rotated(channels, round_):
            rate = _unary_batch(channel.unary_unary(UNARY))
            samples["unary"].setdefault(name, []).append(rate)
            rate = _stream_batch(channel.unary_stream(STREAM))
            samples["stream"].setdefault(name, []).append(rate)
    for channel in channels.values():
        channel.close()
    return _medians(samples)


class _AioNoOpUnary(grpc.aio.UnaryUnaryClientInterceptor):
    """Baseline: grpc.aio's interception machinery, doing nothing."""

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(details, request)


class _AioNoOpStream(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(details, request)


async def _aio_rates(port: int) -> dict[str, dict[str, float]]:
    target = f"127.0.0.1:{port}"
    options = [("grpc.default_authority", AUTHORITY)]
    channels: dict[str, Any] = {
        "unsigned": grpc.aio.insecure_channel(target, options=options),
        "no-op interceptor": grpc.aio.insecure_channel(
            target, options=options, interceptors=[_AioNoOpUnary(), _AioNoOpStream()]
        ),
        "signed": lattice_client.grpc.aio.insecure_channel(
            target, authority=AUTHORITY, aws_credentials=CREDENTIALS
        ),
    }
    samples: dict[str, dict[str, list[float]]] = {"unary": {}, "stream": {}}
    for round_ in range(ROUNDS):
        for name, channel in _rotated(channels, round_):
            unary = channel.unary_unary(UNARY)
            start = time.perf_counter()
            for _ in range(UNARY_BATCH):
                await unary(PAYLOAD)
            rate = UNARY_BATCH / (time.perf_counter() - start)
            samples["unary"].setdefault(name, []).append(rate)

            stream = channel.unary_stream(STREAM)
            start = time.perf_counter()
            count = 0
            async for _ in stream(STREAM_REQUEST):
                count += 1
            rate = count / (time.perf_counter() - start)
            samples["stream"].setdefault(name, []).append(rate)
    for channel in channels.values():
        await channel.close()
    return _medians(samples)


def _rotated(channels: dict[str, Any], round_: int) -> list[tuple[str, Any]]:
    # Each round starts with another channel, so that no channel is always first.
    items = list(channels.items())
    shift = round_ % len(items)
    return items[shift:] + items[:shift]


def _medians(samples: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {
        kind: {name: statistics.median(rates) for name, rates in by_name.items()}
        for kind, by_name in samples.items()
    }


def _print(title: str, rates: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'':8} {'channel':<20} {'per second':>12} {'vs unsigned':>12} {'target':>8}")
    for kind, unit in (("unary", "calls"), ("stream", "messages")):
        base = rates[kind]["unsigned"]
        for name, rate in rates[kind].items():
            ratio = rate / base
            target = f">= {TARGETS[kind]:.2f}" if name == "signed" else ""
            verdict = ("ok" if ratio >= TARGETS[kind] else "MISS") if name == "signed" else ""
            print(
                f"{kind:<8} {name:<20} {rate:>9,.0f} {unit[:4]:<4}"
                f"{ratio:>8.3f} {target:>10} {verdict}"
            )


def main() -> None:
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    server = context.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=60)
        # Warm up both paths (connection set-up, signing-key cache) before measuring.
        with lattice_client.grpc.insecure_channel(
            f"127.0.0.1:{port}", authority=AUTHORITY, aws_credentials=CREDENTIALS
        ) as warm:
            warm_call: Any = warm.unary_unary(UNARY)
            for _ in range(200):
                warm_call(PAYLOAD)
        print(
            f"grpcio {grpc.__version__}, loopback, median of {ROUNDS} interleaved batches: "
            f"{UNARY_BATCH} unary calls, or a stream of {STREAM_MESSAGES:,} messages "
            f"of {len(PAYLOAD)} bytes"
        )
        _print("sync (grpc.intercept_channel)", _sync_rates(port))
        _print("grpc.aio", asyncio.run(_aio_rates(port)))
    finally:
        server.terminate()
        server.join(10)


if __name__ == "__main__":
    main()
