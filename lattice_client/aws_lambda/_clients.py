"""The Lambda flavours of `Client` / `AsyncClient`: a deadline's timeout raised as such.

Imported on the first `client()` / `async_client()` call only, because it
imports httpx: a target that only parses events does not pay for it.
"""

from __future__ import annotations

from typing import Any

import httpx

from lattice_client._client import AsyncClient, Client

from ._caller import deadline_error

__all__ = ["LambdaAsyncClient", "LambdaClient"]


class LambdaClient(Client):
    """A `Client` whose timeouts caused by the invocation's deadline are `DeadlineExceededError`."""

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        try:
            return super().send(request, **kwargs)
        except httpx.TimeoutException as exc:
            error = deadline_error(exc)
            if error is None:
                raise
            raise error from exc


class LambdaAsyncClient(AsyncClient):
    """The async twin of `LambdaClient`."""

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        try:
            return await super().send(request, **kwargs)
        except httpx.TimeoutException as exc:
            error = deadline_error(exc)
            if error is None:
                raise
            raise error from exc
