"""The call objects of signed grpc.aio calls: grpc's own call behind each, refusals typed.

`CallProxy` and its kinds stand in front of a call grpc.aio made. `PendingCall`
and its kinds stand for a call that starts only once it is signed, when the
credentials had to be refreshed first (grpc.aio's own intercepted calls work the
same way while their interceptors run).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from typing import Any, NoReturn

import grpc
import grpc.aio

from ._errors import map_error

# grpc.aio's words for a call cancelled before it got anywhere.
_CANCELLED_DETAILS = "Locally cancelled by application!"
_FINISHED = "RPC already finished."


def _raise_typed(error: grpc.aio.AioRpcError, method: str, authority: str) -> NoReturn:
    mapped = map_error(error, method, authority)
    if mapped is error:
        raise error
    raise mapped from error


def _call_back(callback: Callable[[Any], None], call: Any, _: Any) -> None:
    # grpc.aio hands a done callback the call it was added to: ours, not the one behind it.
    callback(call)


async def typed_responses(call: Any, method: str, authority: str) -> AsyncIterator[Any]:
    """``call``'s responses, a Lattice refusal raised typed."""
    try:
        async for response in call:
            yield response
    except grpc.aio.AioRpcError as error:
        mapped = map_error(error, method, authority)
        if mapped is error:
            raise
        raise mapped from error


class CallProxy:
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
        self._call.add_done_callback(functools.partial(_call_back, callback, self))

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


class _UnaryResponse(CallProxy):
    __slots__ = ()

    def __await__(self) -> Generator[Any, None, Any]:
        try:
            return (yield from self._call.__await__())
        except grpc.aio.AioRpcError as error:
            mapped = map_error(error, self._method, self._authority)
            if mapped is error:
                raise
            raise mapped from error


class _StreamResponse(CallProxy):
    __slots__ = ("_responses",)

    def __init__(self, call: Any, method: str, authority: str) -> None:
        super().__init__(call, method, authority)
        self._responses: AsyncIterator[Any] | None = None

    def __aiter__(self) -> AsyncIterator[Any]:
        # One iterator per call, as grpc.aio's own calls have.
        if self._responses is None:
            self._responses = typed_responses(self._call, self._method, self._authority)
        return self._responses

    async def read(self) -> Any:
        try:
            return await self._call.read()
        except grpc.aio.AioRpcError as error:
            _raise_typed(error, self._method, self._authority)


class _StreamRequest(CallProxy):
    __slots__ = ()

    async def write(self, request: Any) -> None:
        try:
            await self._call.write(request)
        except grpc.aio.AioRpcError as error:
            _raise_typed(error, self._method, self._authority)

    async def done_writing(self) -> None:
        try:
            await self._call.done_writing()
        except grpc.aio.AioRpcError as error:
            _raise_typed(error, self._method, self._authority)

    @property
    def _done_writing_flag(self) -> bool:
        # grpc.aio's intercepted call reads this private flag of the call it gets back.
        return self._call._done_writing_flag  # type: ignore[no-any-return]


class UnaryUnaryCall(_UnaryResponse, grpc.aio.UnaryUnaryCall[Any, Any]):
    __slots__ = ()


class UnaryStreamCall(_StreamResponse, grpc.aio.UnaryStreamCall[Any, Any]):
    __slots__ = ()


class StreamUnaryCall(_StreamRequest, _UnaryResponse, grpc.aio.StreamUnaryCall[Any, Any]):
    __slots__ = ()


class StreamStreamCall(_StreamRequest, _StreamResponse, grpc.aio.StreamStreamCall[Any, Any]):
    __slots__ = ()


class PendingCall:
    """A call that starts once signed, after a credentials refresh; then the started call.

    Cancelling it before it starts means it never starts, as with grpc.aio's
    intercepted calls. Waiting for its response is part of the call (cancelling
    the waiter cancels the call, as in grpc.aio); waiting for its status or
    metadata is not.
    """

    __slots__ = ("_responses", "_started", "_timeout")

    def __init__(self, start: Coroutine[Any, Any, CallProxy], timeout: float | None) -> None:
        self._started: asyncio.Task[CallProxy] = asyncio.get_running_loop().create_task(start)
        self._timeout = timeout
        self._responses: AsyncIterator[Any] | None = None

    def _call(self) -> CallProxy | None:
        """The started call; None while it is being signed, or if it never started."""
        started = self._started
        if started.done() and not started.cancelled() and started.exception() is None:
            return started.result()
        return None

    async def _wait(self) -> CallProxy | None:
        """The started call, once it is; None if it was cancelled before it started."""
        try:
            # Shielded: the caller giving up waiting does not cancel the call.
            return await asyncio.shield(self._started)
        except asyncio.CancelledError:
            if self._started.cancelled():
                return None
            raise

    def cancel(self) -> bool:
        if not self._started.done():
            return self._started.cancel()
        call = self._call()
        return call.cancel() if call is not None else False

    def cancelled(self) -> bool:
        call = self._call()
        return call.cancelled() if call is not None else self._started.cancelled()

    def done(self) -> bool:
        call = self._call()
        return call.done() if call is not None else self._started.done()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._started.add_done_callback(functools.partial(self._on_started, callback))

    def _on_started(self, callback: Callable[[Any], None], _: object) -> None:
        call = self._call()
        if call is None:
            callback(self)
        else:
            call.add_done_callback(functools.partial(_call_back, callback, self))

    def time_remaining(self) -> float | None:
        call = self._call()
        if call is not None:
            return call.time_remaining()
        # The deadline starts with the call: until then all of the timeout remains.
        return None if self._started.done() else self._timeout

    async def initial_metadata(self) -> grpc.aio.Metadata:
        call = await self._wait()
        return grpc.aio.Metadata() if call is None else await call.initial_metadata()

    async def trailing_metadata(self) -> grpc.aio.Metadata:
        call = await self._wait()
        return grpc.aio.Metadata() if call is None else await call.trailing_metadata()

    async def code(self) -> grpc.StatusCode:
        call = await self._wait()
        return grpc.StatusCode.CANCELLED if call is None else await call.code()

    async def details(self) -> str:
        call = await self._wait()
        return _CANCELLED_DETAILS if call is None else await call.details()

    async def debug_error_string(self) -> str:
        call = await self._wait()
        return "" if call is None else await call.debug_error_string()

    async def wait_for_connection(self) -> None:
        call = await self._wait()
        if call is None:
            raise asyncio.CancelledError
        await call.wait_for_connection()


class _PendingUnaryResponse(PendingCall):
    __slots__ = ()

    def __await__(self) -> Generator[Any, None, Any]:
        call = yield from self._started.__await__()
        return (yield from call.__await__())  # type: ignore[attr-defined]


class _PendingStreamResponse(PendingCall):
    __slots__ = ()

    def __aiter__(self) -> AsyncIterator[Any]:
        if self._responses is None:
            self._responses = self._iterate()
        return self._responses

    async def _iterate(self) -> AsyncIterator[Any]:
        call: Any = await self._started
        async for response in call:
            yield response

    async def read(self) -> Any:
        call: Any = await self._started
        return await call.read()


class _PendingStreamRequest(PendingCall):
    __slots__ = ()

    async def write(self, request: Any) -> None:
        call: Any = await self._wait()
        if call is None:
            raise asyncio.InvalidStateError(_FINISHED)
        await call.write(request)

    async def done_writing(self) -> None:
        call: Any = await self._wait()
        if call is None:
            raise asyncio.InvalidStateError(_FINISHED)
        await call.done_writing()


class PendingUnaryUnaryCall(_PendingUnaryResponse, grpc.aio.UnaryUnaryCall[Any, Any]):
    __slots__ = ()


class PendingUnaryStreamCall(_PendingStreamResponse, grpc.aio.UnaryStreamCall[Any, Any]):
    __slots__ = ()


class PendingStreamUnaryCall(
    _PendingStreamRequest, _PendingUnaryResponse, grpc.aio.StreamUnaryCall[Any, Any]
):
    __slots__ = ()


class PendingStreamStreamCall(
    _PendingStreamRequest, _PendingStreamResponse, grpc.aio.StreamStreamCall[Any, Any]
):
    __slots__ = ()
