"""AWS Lambda helpers: call Lattice services from a function, and be a Lattice target.

Calling (see docs/aws-lambda.md)::

    from lattice_client import aws_lambda

    def handler(event, context):
        with aws_lambda.deadline(context):
            return aws_lambda.client().get(URL).json()

Being a target::

    @aws_lambda.lattice_handler
    def handler(request: aws_lambda.LatticeRequest, context) -> dict:
        return {"caller": request.identity.principal}

Importing this package imports neither botocore nor httpx; the client does
not import botocore either while Lambda's credentials are in the environment.
A function that only calls out does not load the event parser either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._caller import LambdaContext, async_client, client, deadline, remaining
from ._errors import DeadlineExceededError, InvalidEventError, InvalidResponseError

if _TYPE_CHECKING:
    from ._event import Headers, LatticeRequest, QueryParams, parse_event
    from ._handler import HandlerResult, lattice_handler
    from ._response import LatticeResponse

# The target side (event parsing, the handler decorator, responses) loads on
# first use: a cold start that only calls a service does not pay for it.
_LAZY = {
    "HandlerResult": "._handler",
    "Headers": "._event",
    "LatticeRequest": "._event",
    "LatticeResponse": "._response",
    "QueryParams": "._event",
    "lattice_handler": "._handler",
    "parse_event": "._event",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lattice_client.aws_lambda' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "DeadlineExceededError",
    "HandlerResult",
    "Headers",
    "InvalidEventError",
    "InvalidResponseError",
    "LambdaContext",
    "LatticeRequest",
    "LatticeResponse",
    "QueryParams",
    "async_client",
    "client",
    "deadline",
    "lattice_handler",
    "parse_event",
    "remaining",
]
