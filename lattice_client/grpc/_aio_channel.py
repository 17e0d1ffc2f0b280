"""The grpc.aio channel of the channel helpers: signs each call without interceptors.

grpc.aio runs interceptors in a task of their own before the call starts, which
costs a unary call more than signing it does. A `SignedChannel` wraps a plain
grpc.aio channel instead and signs each call as it is made, with no await when
the credentials in hand will do; only when they must be refreshed does the call
wait (a `PendingCall`), with the refresh in a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

import grpc
import grpc.aio

from ._aio_calls import (
    CallProxy,
    PendingCall,
    PendingStreamStreamCall,
    PendingStreamUnaryCall,
    PendingUnaryStreamCall,
    PendingUnaryUnaryCall,
    StreamStreamCall,
    StreamUnaryCall,
    UnaryStreamCall,
    UnaryUnaryCall,
)
from ._signer import CallSigner, Metadatum


class _SignedMetadata(grpc.aio.Metadata):
    """A signature as grpc.aio metadata: made once per method per second, shared, read-only.

    Only grpc.aio's call machinery sees it, which asks its length and iterates it
    once per call. Answering both from the tuple it was made from, in one object
    shared by the second's calls, spares building a Metadata (an OrderedDict of
    lists) per call, which costs a unary call about 1%. Changing it would change
    other calls' metadata, so it refuses.
    """

    def __init__(self, items: tuple[Metadatum, ...]) -> None:
        super().__init__()
        for name, value in items:
            grpc.aio.Metadata.add(self, name, value)
        self._items = items

    def __iter__(self) -> Iterator[Metadatum]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        # The values are the signature and the session token: names only.
        return f"<signed metadata: {', '.join(name for name, _ in self._items)}>"

    def _refuse(self, *_: object) -> NoReturn:
        raise TypeError("signed metadata is shared by calls and read-only; copy it to change it")

    add = __setitem__ = __delitem__ = delete_all = _refuse  # type: ignore[assignment]


class _Method:
    """One method of a signed channel; signs its calls, then has grpc.aio make them."""

    __slots__ = ("_authority", "_inner", "_metadata", "_method", "_second", "_signer")
    _call: type[CallProxy]
    _pending: type[PendingCall]

    def __init__(self, inner: Any, method: str | bytes, signer: CallSigner) -> None:
        self._inner = inner
        self._method = method.decode("ascii") if isinstance(method, bytes) else method
        self._signer = signer
        self._authority = signer.authority
        # The metadata signing this method's calls in the Unix second _second.
        self._second = -1
        self._metadata: grpc.aio.Metadata | None = None

    def _signed(self, metadata: Iterable[Metadatum] | None) -> grpc.aio.Metadata | None:
        """The call's metadata, signed now; None when the credentials need I/O first."""
        second = int(time.time())
        if not metadata:
            if second == self._second:
                return self._metadata
            added = self._signer.signature_without_io(self._method, second)
            if added is None:
                return None
            self._metadata = _SignedMetadata(added)
            self._second = second
            return self._metadata
        merged = self._signer.metadata_without_io(self._method, metadata)
        return None if merged is None else grpc.aio.Metadata(*merged)

    def _start(
        self,
        first: Any,
        timeout: float | None,
        metadata: Any,
        credentials: grpc.CallCredentials | None,
        wait_for_ready: bool | None,
        compression: grpc.Compression | None,
    ) -> Any:
        """Sign and start a call; ``first`` is the request or the request iterator."""
        if not metadata and int(time.time()) == self._second:
            signed = self._metadata
        else:
            signed = self._signed(metadata)
            if signed is None:
                return self._pending_call(
                    first, metadata, timeout, credentials, wait_for_ready, compression
                )
        if (
            timeout is None
            and credentials is None
            and wait_for_ready is None
            and (compression is None)
        ):
            # Only what the caller set goes to grpc.aio: it binds fewer arguments faster.
            call = self._inner(first, metadata=signed)
        else:
            call = self._inner(
                first,
                timeout=timeout,
                metadata=signed,
                credentials=credentials,
                wait_for_ready=wait_for_ready,
                compression=compression,
            )
        return self._call(call, self._method, self._authority)

    def _pending_call(
        self,
        first: Any,
        metadata: Iterable[Metadatum] | None,
        timeout: float | None,
        credentials: grpc.CallCredentials | None,
        wait_for_ready: bool | None,
        compression: grpc.Compression | None,
    ) -> PendingCall:
        """A call that starts once the credentials are refreshed and it is signed."""
        return self._pending(
            self._start_later(first, metadata, timeout, credentials, wait_for_ready, compression),
            timeout,
        )

    async def _start_later(
        self,
        first: Any,
        metadata: Iterable[Metadatum] | None,
        timeout: float | None,
        credentials: grpc.CallCredentials | None,
        wait_for_ready: bool | None,
        compression: grpc.Compression | None,
    ) -> CallProxy:
        signed = await self._signer.metadata_async(self._method, metadata, timeout)
        call = self._inner(
            first,
            timeout=timeout,
            metadata=grpc.aio.Metadata(*signed),
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )
        return self._call(call, self._method, self._authority)


# The two __call__ below repeat their fast path inline, the common case first (no
# metadata of the caller's, this second's signature in hand, no other arguments to
# pass on): it is every call's cost, and each argument grpc.aio has to bind adds.


class _UnaryRequest(_Method):
    __slots__ = ()

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        return self._start(request, timeout, metadata, credentials, wait_for_ready, compression)


class _StreamRequest(_Method):
    __slots__ = ()

    def __call__(
        self,
        request_iterator: Any = None,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        return self._start(
            request_iterator, timeout, metadata, credentials, wait_for_ready, compression
        )


class _UnaryUnary(_UnaryRequest, grpc.aio.UnaryUnaryMultiCallable[Any, Any]):
    __slots__ = ()
    _call = UnaryUnaryCall
    _pending = PendingUnaryUnaryCall


class _UnaryStream(_UnaryRequest, grpc.aio.UnaryStreamMultiCallable[Any, Any]):
    __slots__ = ()
    _call = UnaryStreamCall
    _pending = PendingUnaryStreamCall


class _StreamUnary(_StreamRequest, grpc.aio.StreamUnaryMultiCallable[Any, Any]):
    __slots__ = ()
    _call = StreamUnaryCall
    _pending = PendingStreamUnaryCall


class _StreamStream(_StreamRequest, grpc.aio.StreamStreamMultiCallable[Any, Any]):
    __slots__ = ()
    _call = StreamStreamCall
    _pending = PendingStreamStreamCall


class SignedChannel(grpc.aio.Channel):
    """A grpc.aio channel whose methods sign each call and raise Lattice's refusals typed.

    It does what `signing_interceptors` do without grpc.aio's interceptor
    machinery, which costs a unary call more than signing it does.
    """

    def __init__(self, channel: grpc.aio.Channel, signer: CallSigner) -> None:
        self._channel = channel
        self._signer = signer

    def __repr__(self) -> str:
        return f"<SignedChannel (grpc.aio) {self._signer!r}>"

    async def __aenter__(self) -> SignedChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._channel.close(None)

    async def close(self, grace: float | None = None) -> None:
        await self._channel.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._channel.channel_ready()

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _UnaryUnary(self._channel.unary_unary(method, *args, **kwargs), method, self._signer)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _UnaryStream(
            self._channel.unary_stream(method, *args, **kwargs), method, self._signer
        )

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _StreamUnary(
            self._channel.stream_unary(method, *args, **kwargs), method, self._signer
        )

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _StreamStream(
            self._channel.stream_stream(method, *args, **kwargs), method, self._signer
        )
