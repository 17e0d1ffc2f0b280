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
"""

from __future__ import annotations

from ._caller import LambdaContext, async_client, client, deadline, remaining
from ._errors import DeadlineExceededError, InvalidEventError, InvalidResponseError
from ._event import Headers, LatticeRequest, QueryParams, parse_event
from ._handler import HandlerResult, lattice_handler
from ._response import LatticeResponse

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
