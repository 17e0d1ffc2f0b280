"""grpc.aio interceptors: four single-kind objects sharing one signer.

grpc.aio sorts a channel's interceptors by kind with an if/elif chain, so one
object implementing all four kinds would be registered for unary-unary only
(grpc/grpc#31442): each kind gets its own object here.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import Any

import grpc.aio

from ._aio_calls import StreamStreamCall, StreamUnaryCall, UnaryStreamCall, UnaryUnaryCall
from ._signer import CallSigner

_Continuation = Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]]


def _signed_now(
    signer: CallSigner, details: grpc.aio.ClientCallDetails
) -> tuple[grpc.aio.ClientCallDetails | None, str]:
    """The call details with signed metadata, None if that needs I/O; and the method path."""
    method: str | bytes = details.method
    # grpc.aio hands interceptors the method as bytes (its stubs say str).
    path = method.decode("ascii") if isinstance(method, bytes) else method
    metadata = signer.metadata_without_io(path, details.metadata)
    return (None if metadata is None else _replaced(details, metadata)), path


async def _signed_later(
    signer: CallSigner, details: grpc.aio.ClientCallDetails, path: str
) -> grpc.aio.ClientCallDetails:
    signed = await signer.metadata_async(path, details.metadata, details.timeout)
    return _replaced(details, signed)


def _replaced(
    details: grpc.aio.ClientCallDetails, metadata: Iterable[tuple[str, str | bytes]]
) -> grpc.aio.ClientCallDetails:
    # A fresh, mutable grpc.aio.Metadata: interceptors after this one may change it.
    return grpc.aio.ClientCallDetails(
        details.method,
        details.timeout,
        grpc.aio.Metadata(*metadata),
        details.credentials,
        details.wait_for_ready,
    )


class _KindSigner:
    """What the four single-kind signers share: the signer, and signing one call."""

    __slots__ = ("_signer",)

    def __init__(self, signer: CallSigner) -> None:
        self._signer = signer

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._signer!r}>"

    async def _call(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
        typed: Callable[[Any, str, str], Any],
    ) -> Any:
        """Sign the call (awaiting only a credentials refresh), start it, type its errors."""
        details, path = _signed_now(self._signer, client_call_details)
        if details is None:
            details = await _signed_later(self._signer, client_call_details, path)
        call = await continuation(details, request)
        return typed(call, path, self._signer.authority)


class UnaryUnarySigner(_KindSigner, grpc.aio.UnaryUnaryClientInterceptor):
    """Signs unary-unary calls of a grpc.aio channel; part of `signing_interceptors`."""

    __slots__ = ()

    async def intercept_unary_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await self._call(continuation, client_call_details, request, UnaryUnaryCall)


class UnaryStreamSigner(_KindSigner, grpc.aio.UnaryStreamClientInterceptor):
    """Signs unary-stream calls of a grpc.aio channel; part of `signing_interceptors`."""

    __slots__ = ()

    async def intercept_unary_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await self._call(continuation, client_call_details, request, UnaryStreamCall)


class StreamUnarySigner(_KindSigner, grpc.aio.StreamUnaryClientInterceptor):
    """Signs stream-unary calls of a grpc.aio channel; part of `signing_interceptors`."""

    __slots__ = ()

    async def intercept_stream_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        return await self._call(
            continuation, client_call_details, request_iterator, StreamUnaryCall
        )


class StreamStreamSigner(_KindSigner, grpc.aio.StreamStreamClientInterceptor):
    """Signs stream-stream calls of a grpc.aio channel; part of `signing_interceptors`."""

    __slots__ = ()

    async def intercept_stream_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        return await self._call(
            continuation, client_call_details, request_iterator, StreamStreamCall
        )


def interceptors_for(signer: CallSigner) -> list[grpc.aio.ClientInterceptor]:
    """The four single-kind interceptors, sharing ``signer`` (and its credentials refresh)."""
    return [
        UnaryUnarySigner(signer),
        UnaryStreamSigner(signer),
        StreamUnarySigner(signer),
        StreamStreamSigner(signer),
    ]
