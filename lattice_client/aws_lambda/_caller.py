"""Calling Lattice from a Lambda function: one client per execution environment, bounded by time.

A Lambda execution environment serves many invocations, one at a time, and is
frozen in between. What is worth keeping across invocations (the client, its
connection pool, the parsed configuration) is built on first use and cached
here; what must not be kept (the signing time) is never cached: the
transports take a fresh timestamp for every request.

Nothing here imports botocore, nor httpx until a client is asked for: a target
that only parses events pays for neither.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from lattice_client._credentials import Credentials, credentials_from_environ
from lattice_client._exceptions import ConfigurationError, NoCredentialsError
from lattice_client._resend import DEADLINE_EXTENSION

from ._errors import DeadlineExceededError

if TYPE_CHECKING:
    import asyncio

    import httpx

    from lattice_client._client import AsyncClient, Client

__all__ = [
    "DEFAULT_MARGIN",
    "LambdaContext",
    "async_client",
    "client",
    "deadline",
    "remaining",
]

# Seconds kept back from the invocation's remaining time, so that after a
# timeout the handler can still log, answer (say, 504) and return before
# Lambda stops the function.
DEFAULT_MARGIN = 0.5
_PHASES = ("connect", "read", "write", "pool")
# A timeout that fires this close to the deadline was caused by the deadline.
_DEADLINE_SLACK = 0.05
# How long a snapshot of the environment's credentials is used before reading
# them again; the signer starts refreshing 5 minutes ahead (ADVISORY_REFRESH),
# so this re-reads them about every 10 minutes.
ENVIRON_REREAD = timedelta(minutes=15)


class LambdaContext(Protocol):
    """The part of Lambda's context object this module uses."""

    def get_remaining_time_in_millis(self) -> int: ...


def remaining(context: LambdaContext, *, margin: float = DEFAULT_MARGIN) -> float:
    """Seconds left in this invocation minus ``margin``: a ``timeout=`` for one request.

    ``client().get(url, timeout=remaining(context))`` bounds each phase of the
    request (connect, write, read) by what is left. Raises `DeadlineExceededError`
    when nothing is left.
    """
    left = _milliseconds_left(context) / 1000 - _margin(margin)
    if left <= 0:
        raise DeadlineExceededError(
            f"this invocation has {left + margin:.3f} s left, less than the "
            f"{margin:.3f} s margin: no time for another request",
            remaining=left + margin,
        )
    return left


@contextmanager
def deadline(context: LambdaContext, *, margin: float = DEFAULT_MARGIN) -> Iterator[float]:
    """Bound every request made with `client()` / `async_client()` in this block by the invocation.

    Each request's connect, write, read and pool timeouts are cut to the time
    left before the deadline (Lambda's remaining time minus ``margin``); a
    request started after it raises `DeadlineExceededError` without being
    sent, and a timeout caused by the deadline leaves the block as
    `DeadlineExceededError` (the original error chained). `lattice_handler`
    applies this around every invocation; yields the seconds available.
    """
    available = _milliseconds_left(context) / 1000 - _margin(margin)
    token = _deadline.set((time.monotonic() + available, available, margin))
    try:
        yield available
    except DeadlineExceededError:
        raise
    except Exception as exc:
        # A timeout from a stream read after send() returned, or from another client.
        error = deadline_error(exc) if _is_timeout(exc) else None
        if error is None:
            raise
        raise error from exc
    finally:
        _deadline.reset(token)


def deadline_error(exc: BaseException) -> DeadlineExceededError | None:
    """The `DeadlineExceededError` for timeout ``exc``, or None if the deadline did not cause it."""
    active = _deadline.get()
    if active is None:
        return None
    end, available, margin = active
    left = end - time.monotonic()
    if left > _DEADLINE_SLACK:
        return None
    return DeadlineExceededError(
        f"{type(exc).__name__}: the request was cut short by the invocation's deadline "
        f"({available:.3f} s were available, {margin:.3f} s are kept for the handler to answer)",
        remaining=left + margin,
    )


def client(**httpx_options: Any) -> Client:
    """The `lattice_client.Client` of this execution environment, created on first call.

    Configured from Lambda's environment: credentials from ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN`` (read without botocore,
    again every 10 minutes or so; botocore's chain only if they are absent), region from
    ``AWS_REGION``, and every request bounded by `deadline` when one is active.
    ``httpx_options`` (``timeout=``, ``http2=``...) apply on the first call;
    later calls must pass the same ones or none.
    """
    global _client, _client_options
    cached = _client
    if cached is not None and (not httpx_options or httpx_options == _client_options):
        return cached
    with _lock:
        if _client is None:
            from ._clients import LambdaClient

            _client = LambdaClient(**_configure(httpx_options, _bound_request))
            _client_options = httpx_options
        elif httpx_options and httpx_options != _client_options:
            raise _options_changed("client")
        return _client


def async_client(**httpx_options: Any) -> AsyncClient:
    """The `lattice_client.AsyncClient` of this execution environment and event loop.

    Configured like `client`. Call it from async code: an async client's
    connections belong to one event loop, so a new loop (``asyncio.run`` per
    invocation) gets a new client; `lattice_handler` runs async handlers on one
    loop per execution environment so that the client and its connections are reused.
    """
    global _async_client, _async_client_options
    import asyncio  # here: a sync function should not pay for importing asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise ConfigurationError(
            "async_client() must be called from async code (inside the handler), because "
            "its connections belong to the running event loop"
        ) from None
    cached = _async_client
    if cached is not None and cached[0] is loop:
        if httpx_options and httpx_options != _async_client_options:
            raise _options_changed("async_client")
        return cached[1]
    from ._clients import LambdaAsyncClient

    created = LambdaAsyncClient(**_configure(httpx_options, _abound_request))
    _async_client = (loop, created)
    _async_client_options = httpx_options
    return created


class _EnvironCredentials:
    """Lambda's credentials from the environment, read again every `ENVIRON_REREAD`.

    Lambda sets the execution role's credentials in the environment for the
    life of the execution environment. Reading them takes no botocore and no
    I/O; giving the snapshot a horizon (when the variables carry no expiry)
    lets the signer reuse it without asking again on every request (an async
    client would otherwise hop to a thread each time), and still picks up a
    change after a restore.
    """

    __slots__ = ()

    def get_credentials(self) -> Credentials:
        found = credentials_from_environ()
        if found is None:
            raise NoCredentialsError(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are no longer set in the environment"
            )
        if found.expiry is None:
            found = replace(found, expiry=datetime.now(timezone.utc) + ENVIRON_REREAD)
        return found


_deadline: ContextVar[tuple[float, float, float] | None] = ContextVar(
    "lattice_client_lambda_deadline", default=None
)
_lock = threading.Lock()
_client: Client | None = None
_client_options: dict[str, Any] = {}
_async_client: tuple[asyncio.AbstractEventLoop, AsyncClient] | None = None
_async_client_options: dict[str, Any] = {}


def _configure(options: Mapping[str, Any], hook: Callable[..., Any]) -> dict[str, Any]:
    for reserved in ("credentials", "region"):
        if reserved in options:
            raise ConfigurationError(
                f"{reserved}= is taken from the Lambda environment here; build "
                f"lattice_client.Client({reserved}=...) yourself to choose it"
            )
    config = dict(options)
    # Env credentials when Lambda set them; otherwise (SnapStart's container
    # credentials, a local run) the default chain, resolved on first request.
    config["credentials"] = _EnvironCredentials() if credentials_from_environ() else None
    # None, not AWS_REGION: the client reads AWS_REGION itself, for hosts that carry
    # no region; a generated Lattice name in another region keeps its own.
    config["region"] = None
    hooks = dict(config.get("event_hooks") or {})
    hooks["request"] = [hook, *hooks.get("request", ())]
    config["event_hooks"] = hooks
    return config


def _bound_request(request: httpx.Request) -> None:
    """httpx request hook: cut the request's timeouts to the active deadline, if any."""
    active = _deadline.get()
    if active is None:
        return
    end, _, margin = active
    left = end - time.monotonic()
    if left <= 0:
        raise DeadlineExceededError(
            f"the invocation's deadline has passed ({margin:.3f} s before Lambda's timeout); "
            f"{request.method} to {request.url.host} was not sent",
            remaining=left + margin,
        )
    timeout = request.extensions.get("timeout") or {}
    request.extensions["timeout"] = {
        phase: left if timeout.get(phase) is None else min(timeout[phase], left)
        for phase in _PHASES
    }
    # Retries (when turned on) never wait past the invocation's deadline either.
    request.extensions[DEADLINE_EXTENSION] = end


async def _abound_request(request: httpx.Request) -> None:
    _bound_request(request)


def _milliseconds_left(context: LambdaContext) -> float:
    try:
        left = context.get_remaining_time_in_millis()
    except AttributeError:
        raise ConfigurationError(
            f"context must be Lambda's context object (with get_remaining_time_in_millis()), "
            f"not {type(context).__name__}"
        ) from None
    if isinstance(left, bool) or not isinstance(left, int | float):
        raise ConfigurationError(
            f"context.get_remaining_time_in_millis() returned {type(left).__name__}, not a number"
        )
    return left


def _margin(margin: object) -> float:
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not margin >= 0:
        raise ConfigurationError(f"margin= must be a number of seconds >= 0, not {margin!r}")
    return float(margin)


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    httpx = sys.modules.get("httpx")  # a timeout from httpx means httpx is already imported
    return httpx is not None and isinstance(exc, httpx.TimeoutException)


def _options_changed(name: str) -> ConfigurationError:
    return ConfigurationError(
        f"{name}() was already created in this execution environment with other options; "
        f"pass the same options every time (or none after the first call)"
    )
