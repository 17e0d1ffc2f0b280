"""`lattice_handler`: turn ``handler(request, context)`` into a Lattice Lambda handler.

The wrapped function gets a parsed `LatticeRequest` and Lambda's context, and
returns a `LatticeResponse`, or just a body (``str``, ``bytes``, a dict or list
as JSON) for a 200, or None for a 204. Failures never reach the caller as a
traceback: they are logged (to CloudWatch, with the traceback) and answered
with a short plain-text status.
"""

from __future__ import annotations

import atexit
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, overload

from ._caller import DEFAULT_MARGIN, LambdaContext, deadline
from ._errors import DeadlineExceededError, InvalidEventError, InvalidResponseError
from ._event import LatticeRequest, parse_event
from ._response import LatticeResponse

if TYPE_CHECKING:
    import asyncio

__all__ = ["HandlerResult", "lattice_handler"]

logger = logging.getLogger("lattice_client.aws_lambda")

HandlerResult: TypeAlias = LatticeResponse | str | bytes | Mapping[str, Any] | list[Any] | None
Handler: TypeAlias = Callable[[LatticeRequest, Any], HandlerResult | Awaitable[HandlerResult]]
LambdaHandler: TypeAlias = Callable[[Any, Any], dict[str, Any]]

# One event loop per execution environment for async handlers: a new loop per
# invocation (asyncio.run) would strand the connections of async_client().
_loop: asyncio.AbstractEventLoop | None = None


@overload
def lattice_handler(function: Handler, /) -> LambdaHandler: ...
@overload
def lattice_handler(*, margin: float = DEFAULT_MARGIN) -> Callable[[Handler], LambdaHandler]: ...


def lattice_handler(
    function: Handler | None = None, /, *, margin: float = DEFAULT_MARGIN
) -> LambdaHandler | Callable[[Handler], LambdaHandler]:
    """Decorate ``handler(request, context)`` (sync or async) into ``handler(event, context)``.

    Around each invocation: the event is parsed (an invalid one is answered
    400), requests made with `client()` / `async_client()` are bounded by the
    invocation's remaining time minus ``margin`` (see `deadline`), and the
    result becomes Lattice's response dict. An exception from the handler is
    logged and answered 500 (504 for `DeadlineExceededError`), with no detail
    in the body.
    """
    if function is None:
        return lambda inner: _wrap(inner, margin)
    return _wrap(function, margin)


def _wrap(function: Handler, margin: float) -> LambdaHandler:
    @functools.wraps(function)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        try:
            request = parse_event(event)
        except InvalidEventError as exc:
            logger.warning("answered 400 to an event that is not a valid Lattice event: %s", exc)
            return _status(400, "Bad Request")
        try:
            result = _call(function, request, context, margin)
        except DeadlineExceededError:
            logger.exception("the handler ran out of time; answered 504")
            return _status(504, "Gateway Timeout")
        except Exception:
            logger.exception("the handler raised; answered 500")
            return _status(500, "Internal Server Error")
        try:
            return to_response(result).to_dict()
        except InvalidResponseError:
            logger.exception("the handler returned a response Lattice cannot send; answered 500")
            return _status(500, "Internal Server Error")

    return handler


def to_response(result: object) -> LatticeResponse:
    """What a handler returned, as a `LatticeResponse`."""
    if isinstance(result, LatticeResponse):
        return result
    if result is None:
        return LatticeResponse(status_code=204)
    if isinstance(result, str | bytes | Mapping | list):
        return LatticeResponse(body=result)
    raise InvalidResponseError(
        f"a Lattice handler returns a LatticeResponse, str, bytes, dict, list or None, "
        f"not {type(result).__name__}"
    )


def _call(
    function: Handler, request: LatticeRequest, context: LambdaContext | None, margin: float
) -> object:
    if context is None:  # a local call without Lambda's context: no deadline to keep
        return _finish(function(request, context))
    with deadline(context, margin=margin):
        return _finish(function(request, context))


def _finish(result: object) -> object:
    if not isinstance(result, Awaitable):
        return result
    global _loop
    import asyncio  # here: sync handlers should not pay for importing asyncio

    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
        atexit.register(_loop.close)
    return _loop.run_until_complete(_await(result))


async def _await(awaitable: Awaitable[object]) -> object:
    return await awaitable


def _status(status: int, text: str) -> dict[str, Any]:
    return LatticeResponse(body=text, status_code=status).to_dict()
