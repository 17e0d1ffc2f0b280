"""grpc.aio interceptors: four single-kind objects sharing one signer.

grpc.aio sorts a channel's interceptors by kind with an if/elif chain, so one
object implementing all four kinds would be registered for unary-unary only
(grpc/grpc#31442): each kind gets its own object here.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Iterable
from typing import Any

import grpc
import grpc.aio

from ._errors import map_error, mapped_await
from ._signer import CallSigner


async def _signed(
    signer: CallSigner, details: grpc.aio.ClientCallDetails
) -> tuple[grpc.aio.ClientCallDetails, str]:
    """The call details with the signed metadata, and the method path that was signed."""
    method: str | bytes = details.method
    # grpc.aio hands interceptors the method as bytes (its stubs say str).
    path = method.decode("ascii") if isinstance(method, bytes) else method
    metadata = signer.metadata_without_io(path, details.metadata)
    if metadata is None:
        metadata = await signer.metadata_async(path, details.metadata)
    return grpc.aio.ClientCallDetails(
        details.method,
        details.timeout,
        grpc.aio.Metadata(*metadata),
        details.credentials,
        details.wait_for_ready,
    ), path


class _CallProxy:
    """Passes everything to the call grpc.aio made, except errors, which come out typed."""

    __slots__ = ("_authority", "_call", "_method")

    def __init__(self, call: Any, method: str, authority: str) -> None:
        self._call = call
        self._method = method
        self._authority = authority

    def cancel(self) -> bool:
        return self._call.cancel()  # type: ignore[no-any-return]

    def cancelled(self) -> bool:
        return self._call.cancelled()  # type: ignore[no-any-return]

    def done(self) -> bool:
        return self._call.done()  # type: ignore[no-any-return]

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._call.add_done_callback(callback)

    def time_remaining(self) -> float | None:
        return self._call.time_remaining()  # type: ignore[no-any-return]

    async def initial_metadata(self) -> grpc.aio.Metadata:
        return await self._call.initial_metadata()  # type: ignore[no-any-return]

    async def trailing_metadata(self) -> grpc.aio.Metadata:
        return await self._call.trailing_metadata()  # type: ignore[no-any-return]

    async def code(self) -> grpc.StatusCode:
        return await self._call.code()  # type: ignore[no-any-return]

    async def details(self) -> str:
        return await self._call.details()  # type: ignore[no-any-return]

    async def debug_error_string(self) -> str:
        return await self._call.debug_error_string()  # type: ignore[no-any-return]

    async def wait_for_connection(self) -> None:
        await self._call.wait_for_connection()

    def __await__(self) -> Generator[Any, None, Any]:
        return mapped_await(self._call.__await__(), self._method, self._authority)


class _UnaryUnaryCall(_CallProxy, grpc.aio.UnaryUnaryCall[Any, Any]):
    __slots__ = ()


class _StreamUnaryCall(_CallProxy, grpc.aio.StreamUnaryCall[Any, Any]):
    __slots__ = ()

    async def write(self, request: Any) -> None:
        await self._call.write(request)

    async def done_writing(self) -> None:
        await self._call.done_writing()

    @property
    def _done_writing_flag(self) -> bool:
        # grpc.aio's intercepted call reads this private flag of the call it gets back.
        return self._call._done_writing_flag  # type: ignore[no-any-return]


async def _responses(call: Any, method: str, authority: str) -> AsyncIterator[Any]:
    try:
        async for response in call:
            yield response
    except grpc.aio.AioRpcError as error:
        mapped = map_error(error, method, authority)
        if mapped is error:
            raise
        raise mapped from error


class UnaryUnarySigner(grpc.aio.UnaryUnaryClientInterceptor):
    """Signs unary-unary calls of a grpc.aio channel; part of `signing_interceptors`."""

    __slots__ = ("_signer",)

    def __init__(self, signer: CallSigner) -> None:
        self._signer = signer

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        details, path = await _signed(self._signer, client_call_details)
        call = await continuation(details, request)
        return _UnaryUnaryCall(call, path, self._signer.authority)


class UnaryStreamSigner(grpc.aio.UnaryStreamClientInterceptor):
    """Signs unary-stream calls of a grpc.aio channel; part of `signing_interceptors`."""

    __slots__ = ("_signer",)

    def __init__(self, signer: CallSigner) -> None:
        self._signer = signer

    async def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        details, path = await _signed(self._signer, client_call_details)
        call = await continuation(details, request)
        return _responses(call, path, self._signer.authority)


class StreamUnarySigner(grpc.aio.StreamUnaryClientInterceptor):
    """Signs stream-unary calls of a grpc.aio channel; part of `signing_interceptors`."""

    __slots__ = ("_signer",)

    def __init__(self, signer: CallSigner) -> None:
        self._signer = signer

    async def intercept_stream_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        details, path = await _signed(self._signer, client_call_details)
        call = await continuation(details, request_iterator)
        return _StreamUnaryCall(call, path, self._signer.authority)


class StreamStreamSigner(grpc.aio.StreamStreamClientInterceptor):
    """Signs stream-stream calls of a grpc.aio channel; part of `signing_interceptors`."""

    __slots__ = ("_signer",)

    def __init__(self, signer: CallSigner) -> None:
        self._signer = signer

    async def intercept_stream_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        details, path = await _signed(self._signer, client_call_details)
        call = await continuation(details, request_iterator)
        return _responses(call, path, self._signer.authority)


def interceptors_for(signer: CallSigner) -> list[grpc.aio.ClientInterceptor]:
    """The four single-kind interceptors, sharing ``signer`` (and its credentials refresh)."""
    return [
        UnaryUnarySigner(signer),
        UnaryStreamSigner(signer),
        StreamUnarySigner(signer),
        StreamStreamSigner(signer),
    ]
