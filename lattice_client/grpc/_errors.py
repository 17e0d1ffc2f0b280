"""Lattice's own refusals of a gRPC call, as typed errors that are also ``grpc.RpcError``.

When Lattice itself answers a gRPC call (an auth denial, a fixed-response rule,
no healthy target), the answer is plain HTTP without ``grpc-status``. grpcio
turns it into a status code and the details ``Received http2 header with
status: <HTTP status>``, and drops the body. Those calls, and only those, are
mapped here; errors a service raised (a real ``grpc-status``) pass through as
they came.

Each refusal class is a gRPC flavour of the class httpx users get
(``lattice_client.AccessDeniedError``...), so ``except AccessDeniedError``,
``except grpc.RpcError`` and, in grpc.aio, ``except grpc.aio.AioRpcError`` all
catch it, and ``code()`` and ``details()`` still answer as grpc reported.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from lattice_client._exceptions import (
    AccessDeniedError,
    InternalServerError,
    LatticeResponseError,
    NotFoundError,
    ServiceUnavailableError,
)

# grpc.Future is generic in its stubs only.
if TYPE_CHECKING:
    _Future = grpc.Future[Any]
else:
    _Future = grpc.Future


# grpc core's words for an HTTP answer that is not gRPC (chttp2 transport). They
# may also come inside a longer message, when a pending write failed first:
# "Error in HTTP transport completing operation: ... (Received http2 header with status: 403))".
_HTTP_STATUS_WORDS = "Received http2 header with status: "
_HTTP_STATUS = re.compile(r"Received http2 header with status: ([0-9]{3})\b")


def http_status(details: str | None) -> int | None:
    """The HTTP status of a non-gRPC answer, from grpcio's details, or None for a gRPC status."""
    if not details or _HTTP_STATUS_WORDS not in details:
        return None
    match = _HTTP_STATUS.search(details)
    return int(match.group(1)) if match else None


class LatticeRpcError(LatticeResponseError, grpc.RpcError):
    """Lattice refused a gRPC call itself, with an HTTP status and no gRPC status.

    A `lattice_client.LatticeResponseError` (``status_code`` is the HTTP status)
    and a ``grpc.RpcError``: ``code()`` and ``details()`` answer as grpcio
    reported them. grpcio drops the body of such an answer, so ``body`` is
    empty and ``error_code`` (Lattice's exception name) is None.
    """

    _rpc_error: Any  # the error grpcio raised, whose metadata and debug string we pass on

    def code(self) -> grpc.StatusCode:
        """The gRPC status code grpcio derived from the HTTP status."""
        code: grpc.StatusCode = self._rpc_error.code()
        return code

    def details(self) -> str:
        """grpcio's details, ``Received http2 header with status: <HTTP status>``."""
        details: str = self._rpc_error.details()
        return details

    def debug_error_string(self) -> str:
        """grpc core's debug string for the failed call."""
        debug: str = self._rpc_error.debug_error_string()
        return debug

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.args[0] if self.args else ''!r})"


def _message(status: int, code: grpc.StatusCode, method: str, authority: str) -> str:
    where = f"{method} on {authority}"
    seen = f"HTTP {status} without a gRPC status (grpcio reports {code.name})"
    if status == 403:
        return (
            f"Lattice refused {where}: {seen}. An auth policy or IAM denied the call, or "
            "Lattice rejected its signature. grpcio drops the body of such an answer, so the "
            "principal and the policy that said no are unknown here: find the request in the "
            "service's or service network's Lattice access logs (callerPrincipal, "
            "authDeniedReason)."
        )
    if status == 404:
        return (
            f"Lattice answered {where} with {seen}: a listener rule's fixed 404, or a target "
            "that is not a gRPC server. Check the listener's rules and that the target group "
            "uses protocol version GRPC."
        )
    if status == 500:
        return (
            f"Lattice answered {where} with {seen}: a listener rule's fixed 500, or a target "
            "that failed without answering in gRPC."
        )
    if status in (502, 503, 504):
        return (
            f"Lattice could not reach a target for {where}: {seen}. No healthy target, a "
            "target timeout or an overloaded target; the call may succeed if retried later."
        )
    return f"Lattice answered {where} with {seen}."


class _CallError(LatticeRpcError, grpc.Call, _Future):
    """A finished sync call that failed: grpcio returns such errors as Call and Future both."""

    def initial_metadata(self) -> Any:
        return self._rpc_error.initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._rpc_error.trailing_metadata()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:  # type: ignore[override]
        # grpcio's own finished calls answer None; its stubs say float.
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def running(self) -> bool:
        return False

    def done(self) -> bool:
        return True

    def result(self, timeout: float | None = None) -> Any:
        raise self

    def exception(self, timeout: float | None = None) -> Exception | None:
        return self

    def traceback(self, timeout: float | None = None) -> types.TracebackType | None:
        return self.__traceback__

    def add_done_callback(self, fn: Callable[[_Future], None]) -> None:
        fn(self)


class _AioError(LatticeRpcError, grpc.aio.AioRpcError):
    """The grpc.aio flavour: also a ``grpc.aio.AioRpcError``."""

    def initial_metadata(self) -> Any:
        return self._rpc_error.initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._rpc_error.trailing_metadata()


class AccessDeniedRpcError(_CallError, AccessDeniedError):
    """403 from Lattice on a sync gRPC call: denied by policy, or the signature was refused."""


class NotFoundRpcError(_CallError, NotFoundError):
    """404 from Lattice on a sync gRPC call: a fixed response, or no gRPC server there."""


class InternalServerRpcError(_CallError, InternalServerError):
    """500 from Lattice on a sync gRPC call: a fixed response, or a failing target."""


class ServiceUnavailableRpcError(_CallError, ServiceUnavailableError):
    """502, 503 or 504 from Lattice on a sync gRPC call: no healthy target, or a timeout."""


class ResponseRpcError(_CallError):
    """Another HTTP status from Lattice on a sync gRPC call."""


class AioAccessDeniedRpcError(_AioError, AccessDeniedError):
    """403 from Lattice on a grpc.aio call: denied by policy, or the signature was refused."""


class AioNotFoundRpcError(_AioError, NotFoundError):
    """404 from Lattice on a grpc.aio call: a fixed response, or no gRPC server there."""


class AioInternalServerRpcError(_AioError, InternalServerError):
    """500 from Lattice on a grpc.aio call: a fixed response, or a failing target."""


class AioServiceUnavailableRpcError(_AioError, ServiceUnavailableError):
    """502, 503 or 504 from Lattice on a grpc.aio call: no healthy target, or a timeout."""


class AioResponseRpcError(_AioError):
    """Another HTTP status from Lattice on a grpc.aio call."""


_SYNC: dict[int, type[_CallError]] = {
    403: AccessDeniedRpcError,
    404: NotFoundRpcError,
    500: InternalServerRpcError,
    502: ServiceUnavailableRpcError,
    503: ServiceUnavailableRpcError,
    504: ServiceUnavailableRpcError,
}
_AIO: dict[int, type[_AioError]] = {
    403: AioAccessDeniedRpcError,
    404: AioNotFoundRpcError,
    500: AioInternalServerRpcError,
    502: AioServiceUnavailableRpcError,
    503: AioServiceUnavailableRpcError,
    504: AioServiceUnavailableRpcError,
}


def _build(
    cls: type[LatticeRpcError], error: Any, status: int, method: str, authority: str
) -> LatticeRpcError:
    mapped = cls(
        _message(status, error.code(), method, authority),
        status_code=status,
        # grpcio drops the body, so Lattice's exception name is unknown.
        error_code=None,
        evidently_from_lattice=False,
    )
    mapped._rpc_error = error
    return mapped


def map_error(error: grpc.RpcError, method: str, authority: str) -> grpc.RpcError:
    """``error`` as a typed Lattice refusal when it is one; else ``error`` itself, untouched."""
    details = getattr(error, "details", None)
    status = http_status(details() if callable(details) else None)
    if status is None:
        return error
    if isinstance(error, grpc.aio.AioRpcError):
        aio_cls: type[_AioError] = _AIO.get(status, AioResponseRpcError)
        return _build(aio_cls, error, status, method, authority)
    sync_cls: type[_CallError] = _SYNC.get(status, ResponseRpcError)
    return _build(sync_cls, error, status, method, authority)
