"""The sync interceptor: one object for all four call kinds, for ``grpc.intercept_channel``."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import grpc

from lattice_client._credentials import CredentialsLike, with_role
from lattice_client._lattice import ANY_REGION, SIGNING_NAME

from ._errors import map_error
from ._signer import Metadatum, signer_for

# grpc.Future is generic in its stubs only.
if TYPE_CHECKING:
    _Future = grpc.Future[Any]
else:
    _Future = grpc.Future


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[Metadatum] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _ClientCallDetails(_Details, grpc.ClientCallDetails):  # type: ignore[misc]
    """Call details rebuilt with the signed metadata; grpc's own are never mutated."""


class SigningInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Signs every call of a sync channel for Lattice, and types Lattice's refusals.

    Use it with ``grpc.intercept_channel(channel, interceptor)`` on a channel
    whose ``grpc.default_authority`` option is ``authority`` (or use
    `lattice_client.grpc.secure_channel`, which does both). Each call is
    signed once, when it starts, as ``POST https://<authority>/<Service>/<Method>``.

    ``credentials`` is `Credentials`, a provider, a botocore/boto3 session, or
    None for the default chain. ``region`` defaults to the one in a generated
    Lattice name, then ``AWS_REGION``/``AWS_DEFAULT_REGION``; with
    ``sigv4a=True`` the call is signed for ``region_set`` instead. ``role_arn``
    (with ``role_session_name``, ``external_id``, ``duration``) signs as that
    role, assumed through STS with ``credentials``.
    """

    def __init__(
        self,
        authority: str,
        *,
        credentials: CredentialsLike = None,
        role_arn: str | None = None,
        role_session_name: str | None = None,
        external_id: str | None = None,
        duration: timedelta | int | None = None,
        region: str | None = None,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        service: str = SIGNING_NAME,
    ) -> None:
        self._signer = signer_for(
            authority,
            credentials=with_role(
                credentials,
                role_arn=role_arn,
                role_session_name=role_session_name,
                external_id=external_id,
                duration=duration,
            ),
            region=region,
            sigv4a=sigv4a,
            region_set=region_set,
            service=service,
        )

    @property
    def authority(self) -> str:
        """The host every call is signed for; send it as ``:authority``."""
        return self._signer.authority

    @property
    def region(self) -> str:
        """The SigV4 region calls are signed for (empty with SigV4A and no region known)."""
        return self._signer.region

    def __repr__(self) -> str:
        return f"<SigningInterceptor {self._signer!r}>"

    def _signed(self, details: grpc.ClientCallDetails) -> _ClientCallDetails:
        return _ClientCallDetails(
            details.method,
            details.timeout,
            self._signer.metadata(details.method, details.metadata, details.timeout),
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        """Sign a unary-unary call; a Lattice refusal comes back typed."""
        signed = self._signed(client_call_details)
        return self._outcome(continuation(signed, request), signed.method)

    def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        """Sign a unary-stream call; a Lattice refusal is raised typed during iteration."""
        signed = self._signed(client_call_details)
        return _MappedCall(continuation(signed, request), signed.method, self._signer.authority)

    def intercept_stream_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[Any],
    ) -> Any:
        """Sign a stream-unary call; a Lattice refusal comes back typed."""
        signed = self._signed(client_call_details)
        return self._outcome(continuation(signed, request_iterator), signed.method)

    def intercept_stream_stream(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[Any],
    ) -> Any:
        """Sign a stream-stream call; a Lattice refusal is raised typed during iteration."""
        signed = self._signed(client_call_details)
        return _MappedCall(
            continuation(signed, request_iterator), signed.method, self._signer.authority
        )

    def _outcome(self, outcome: Any, method: str) -> Any:
        # For a blocking call grpcio's continuation returns the error rather than
        # raising it; for .future() it returns a call that may still be running.
        if isinstance(outcome, grpc.RpcError):
            if isinstance(outcome, grpc.Future) and not outcome.done():
                return _MappedCall(outcome, method, self._signer.authority)
            return map_error(outcome, method, self._signer.authority)
        return outcome


class _MappedCall(grpc.Call, _Future):
    """A running call whose failures come out typed: from iteration, result() and exception()."""

    __slots__ = ("_authority", "_call", "_method")

    def __init__(self, call: Any, method: str, authority: str) -> None:
        self._call = call
        self._method = method
        self._authority = authority

    def _map(self, error: grpc.RpcError) -> grpc.RpcError:
        return map_error(error, self._method, self._authority)

    def __iter__(self) -> _MappedCall:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._call)
        except grpc.RpcError as error:
            mapped = self._map(error)
            if mapped is error:
                raise
            raise mapped from error

    def result(self, timeout: float | None = None) -> Any:
        try:
            return self._call.result(timeout)
        except grpc.RpcError as error:
            mapped = self._map(error)
            if mapped is error:
                raise
            raise mapped from error

    def exception(self, timeout: float | None = None) -> Exception | None:
        error = self._call.exception(timeout)
        if isinstance(error, grpc.RpcError):
            return self._map(error)
        return error  # type: ignore[no-any-return]

    def traceback(self, timeout: float | None = None) -> types.TracebackType | None:
        return self._call.traceback(timeout)  # type: ignore[no-any-return]

    def add_done_callback(self, fn: Callable[[_Future], None]) -> None:
        self._call.add_done_callback(lambda _: fn(self))

    def cancel(self) -> bool:
        return self._call.cancel()  # type: ignore[no-any-return]

    def cancelled(self) -> bool:
        return self._call.cancelled()  # type: ignore[no-any-return]

    def running(self) -> bool:
        return self._call.running()  # type: ignore[no-any-return]

    def done(self) -> bool:
        return self._call.done()  # type: ignore[no-any-return]

    def is_active(self) -> bool:
        return self._call.is_active()  # type: ignore[no-any-return]

    def time_remaining(self) -> float | None:  # type: ignore[override]
        # None once the call is over, as grpcio answers; its stubs say float.
        return self._call.time_remaining()  # type: ignore[no-any-return]

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return self._call.add_callback(callback)  # type: ignore[no-any-return]

    def initial_metadata(self) -> Any:
        return self._call.initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._call.trailing_metadata()

    def code(self) -> grpc.StatusCode:
        return self._call.code()  # type: ignore[no-any-return]

    def details(self) -> str:
        return self._call.details()  # type: ignore[no-any-return]

    def debug_error_string(self) -> str:
        return self._call.debug_error_string()  # type: ignore[no-any-return]
