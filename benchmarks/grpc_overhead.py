"""What signing costs a gRPC client: signed against unsigned calls on loopback, same run.

Run: .venv/bin/python benchmarks/grpc_overhead.py [--rounds N]

A grpcio server runs in a child process (so it does not share the client's GIL).
The client times short batches on each channel in turn, and every round times
them all: forward in even rounds, backward in odd ones (A B C, C B A), so drift
in the load of a shared machine hits every channel alike. Each channel's figure
is the median over rounds of its rate divided by the unsigned channel's rate in
the same round (a paired ratio), with a 95% confidence interval for that median;
the rates printed beside them are plain medians, for scale. The ratios still
depend on how busy the machine is: the busier, the slower a call, and the
smaller the share of it that a fixed cost per call takes.

Baselines: a plain channel ("unsigned"); a second plain channel ("unsigned,
again": how far apart two identical channels come out, the noise floor); a plain
channel sending four fixed metadata entries as long as a signature's ("4 fixed
entries": what carrying them costs, whoever computes them); a channel with a
do-nothing interceptor (what grpcio's interception alone costs). "signed" is the
channel helper of lattice_client.grpc (or .aio); "SigningInterceptor" and
"signing_interceptors()" the same signing as interceptors on a channel of one's
own. Targets: signed unary calls at least 0.90 of unsigned, signed streams at
least 0.98.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent import futures
from typing import Any, NamedTuple, TypeVar

import grpc
import grpc.aio

import lattice_client
import lattice_client.grpc
import lattice_client.grpc.aio

T = TypeVar("T")

AUTHORITY = "bench-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
CREDENTIALS = lattice_client.Credentials("AKIDBENCHMARK", "bench-secret", "bench-session-token")
UNARY = "/bench.Echo/Unary"
STREAM = "/bench.Echo/Stream"
PAYLOAD = b"x" * 64
# Short batches pair best (the load of a shared machine changes within a second):
# many rounds of ~20 ms batches gave the narrowest intervals in the least time.
ROUNDS = 150
UNARY_BATCH = 50
STREAM_MESSAGES = 500
STREAM_REQUEST = str(STREAM_MESSAGES).encode()
# Rounds run before measuring: connections, caches and the server's threads warm up.
WARM_UP_ROUNDS = 3
TARGETS = {"unary": 0.90, "stream": 0.98}
BASELINE = "unsigned"
# The baseline again on a channel of its own: how far apart two identical channels come out.
CONTROL = "unsigned, again"
FIXED = "4 fixed entries"
SIGNED = "signed"


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


def _fixed_metadata() -> tuple[tuple[str, str], ...]:
    """Four entries as long as a real signature's, computed once: what sending them costs."""
    signed = lattice_client.sign("POST", f"https://{AUTHORITY}{UNARY}", credentials=CREDENTIALS)
    return tuple(signed.items())


def _with_fixed(batches: dict[str, T], fixed: T) -> dict[str, T]:
    """``batches`` with the fixed-metadata baseline after the two unsigned channels."""
    names = list(batches)
    return {
        **{name: batches[name] for name in names[:2]},
        FIXED: fixed,
        **{name: batches[name] for name in names[2:]},
    }


class Result(NamedTuple):
    rate: float  # median per second
    ratio: float  # median of the per-round ratios to the baseline
    low: float  # 95% confidence interval of that median
    high: float


def _results(rates: dict[str, list[float]]) -> dict[str, Result]:
    base = rates[BASELINE]
    results = {}
    for name, own in rates.items():
        ratios = sorted(rate / base_rate for rate, base_rate in zip(own, base, strict=True))
        low, high = _median_interval(ratios)
        results[name] = Result(statistics.median(own), statistics.median(ratios), low, high)
    return results


def _median_interval(ordered: Sequence[float]) -> tuple[float, float]:
    # Distribution-free: the median lies between these order statistics with
    # probability ~95% (normal approximation of the binomial).
    n = len(ordered)
    half_width = 1.96 * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half_width))
    high = min(n - 1, math.ceil(n / 2 + half_width) - 1)
    return ordered[low], ordered[high]


def _order(names: list[str], round_: int) -> list[str]:
    return names if round_ % 2 == 0 else names[::-1]


def _measure(batches: dict[str, Callable[[], float]], rounds: int) -> dict[str, Result]:
    names = list(batches)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(-WARM_UP_ROUNDS, rounds):
        for name in _order(names, round_):
            rate = batches[name]()
            if round_ >= 0:
                rates[name].append(rate)
    return _results(rates)


async def _measure_async(
    batches: dict[str, Callable[[], Awaitable[float]]], rounds: int
) -> dict[str, Result]:
    names = list(batches)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(-WARM_UP_ROUNDS, rounds):
        for name in _order(names, round_):
            rate = await batches[name]()
            if round_ >= 0:
                rates[name].append(rate)
    return _results(rates)


# --- sync ------------------------------------------------------------------------------


class _NoOp(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Baseline: grpcio's interception machinery, doing nothing."""

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(details, request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(details, request)


def _unary_batch(call: Callable[..., Any], metadata: Any = None) -> Callable[[], float]:
    def batch() -> float:
        start = time.perf_counter()
        for _ in range(UNARY_BATCH):
            call(PAYLOAD, metadata=metadata)
        return UNARY_BATCH / (time.perf_counter() - start)

    return batch


def _stream_batch(call: Callable[..., Any]) -> Callable[[], float]:
    def batch() -> float:
        start = time.perf_counter()
        count = sum(1 for _ in call(STREAM_REQUEST))
        return count / (time.perf_counter() - start)

    return batch


def _sync_results(port: int, rounds: int) -> dict[str, dict[str, Result]]:
    target = f"127.0.0.1:{port}"
    options = [("grpc.default_authority", AUTHORITY)]
    channels: dict[str, Any] = {
        BASELINE: grpc.insecure_channel(target, options=options),
        CONTROL: grpc.insecure_channel(target, options=options),
        "no-op interceptor": grpc.intercept_channel(
            grpc.insecure_channel(target, options=options), _NoOp()
        ),
        "SigningInterceptor": grpc.intercept_channel(
            grpc.insecure_channel(target, options=options),
            lattice_client.grpc.SigningInterceptor(AUTHORITY, credentials=CREDENTIALS),
        ),
        SIGNED: lattice_client.grpc.insecure_channel(
            target, authority=AUTHORITY, aws_credentials=CREDENTIALS
        ),
    }
    fixed = grpc.insecure_channel(target, options=options)
    unary = _with_fixed(
        {name: _unary_batch(channel.unary_unary(UNARY)) for name, channel in channels.items()},
        _unary_batch(fixed.unary_unary(UNARY), _fixed_metadata()),
    )
    stream = {
        name: _stream_batch(channel.unary_stream(STREAM)) for name, channel in channels.items()
    }
    try:
        return {
            "unary": _measure(unary, rounds),
            "stream": _measure(stream, rounds),
        }
    finally:
        for channel in (*channels.values(), fixed):
            channel.close()


# --- grpc.aio --------------------------------------------------------------------------


class _AioNoOpUnary(grpc.aio.UnaryUnaryClientInterceptor):
    """Baseline: grpc.aio's interception machinery, doing nothing."""

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(details, request)


class _AioNoOpStream(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(details, request)


def _aio_unary_batch(
    call: Callable[..., Any], metadata: Any = None
) -> Callable[[], Awaitable[float]]:
    async def batch() -> float:
        start = time.perf_counter()
        for _ in range(UNARY_BATCH):
            await call(PAYLOAD, metadata=metadata)
        return UNARY_BATCH / (time.perf_counter() - start)

    return batch


def _aio_stream_batch(call: Callable[..., Any]) -> Callable[[], Awaitable[float]]:
    async def batch() -> float:
        start = time.perf_counter()
        count = 0
        async for _ in call(STREAM_REQUEST):
            count += 1
        return count / (time.perf_counter() - start)

    return batch


async def _aio_results(port: int, rounds: int) -> dict[str, dict[str, Result]]:
    target = f"127.0.0.1:{port}"
    options = [("grpc.default_authority", AUTHORITY)]
    channels: dict[str, grpc.aio.Channel] = {
        BASELINE: grpc.aio.insecure_channel(target, options=options),
        CONTROL: grpc.aio.insecure_channel(target, options=options),
        "no-op interceptor": grpc.aio.insecure_channel(
            target, options=options, interceptors=[_AioNoOpUnary(), _AioNoOpStream()]
        ),
        "signing_interceptors()": grpc.aio.insecure_channel(
            target,
            options=options,
            interceptors=lattice_client.grpc.aio.signing_interceptors(
                AUTHORITY, credentials=CREDENTIALS
            ),
        ),
        SIGNED: lattice_client.grpc.aio.insecure_channel(
            target, authority=AUTHORITY, aws_credentials=CREDENTIALS
        ),
    }
    fixed = grpc.aio.insecure_channel(target, options=options)
    unary = _with_fixed(
        {name: _aio_unary_batch(channel.unary_unary(UNARY)) for name, channel in channels.items()},
        _aio_unary_batch(fixed.unary_unary(UNARY), grpc.aio.Metadata(*_fixed_metadata())),
    )
    stream = {
        name: _aio_stream_batch(channel.unary_stream(STREAM)) for name, channel in channels.items()
    }
    try:
        return {
            "unary": await _measure_async(unary, rounds),
            "stream": await _measure_async(stream, rounds),
        }
    finally:
        for channel in (*channels.values(), fixed):
            await channel.close()


# --- report ----------------------------------------------------------------------------


def _print(title: str, results: dict[str, dict[str, Result]]) -> None:
    print(f"\n{title}")
    print(
        f"{'':7}{'channel':<24}{'per second':>15}{'vs unsigned':>13}"
        f"{'95% interval':>17}{'target':>10}"
    )
    for kind, unit in (("unary", "call"), ("stream", "msg")):
        for name, result in results[kind].items():
            target = verdict = ""
            if name == SIGNED:
                target = f">= {TARGETS[kind]:.2f}"
                verdict = "ok" if result.ratio >= TARGETS[kind] else "MISS"
            interval = f"{result.low:.3f}-{result.high:.3f}" if name != BASELINE else ""
            print(
                f"{kind:<7}{name:<24}{result.rate:>10,.0f} {unit:<4}{result.ratio:>12.3f}"
                f"{interval:>17}{target:>10} {verdict}".rstrip()
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=ROUNDS,
        help=f"rounds of batches for each kind of call (default {ROUNDS})",
    )
    rounds = parser.parse_args().rounds
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    server = context.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=60)
        print(
            f"grpcio {grpc.__version__}, loopback, {len(PAYLOAD)}-byte messages. Paired "
            f"ratios to unsigned, median of {rounds} rounds of {UNARY_BATCH} unary calls, "
            f"and of {rounds} rounds of one {STREAM_MESSAGES}-message stream."
        )
        _print("sync", _sync_results(port, rounds))
        _print("grpc.aio", asyncio.run(_aio_results(port, rounds)))
    finally:
        server.terminate()
        server.join(10)


if __name__ == "__main__":
    main()
