"""`LatticeResponse` and `lattice_handler`: what a Lambda target answers Lattice."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import pytest

from lattice_client.aws_lambda import (
    DeadlineExceededError,
    HandlerResult,
    InvalidResponseError,
    LatticeRequest,
    LatticeResponse,
    lattice_handler,
)

EVENT: dict[str, Any] = {
    "version": "2.0",
    "path": "/orders/7",
    "method": "POST",
    "headers": {"content-type": ["application/json"]},
    "queryStringParameters": {"expand": ["items"]},
    "body": '{"qty": 2}',
    "isBase64Encoded": False,
    "requestContext": {
        "serviceArn": "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-1",
        "region": "us-west-2",
        "timeEpoch": "1700000000000000",
        "identity": {"type": "AWS_IAM", "principal": "arn:aws:iam::123456789012:role/caller"},
    },
}


class FakeContext:
    """Lambda's context object, as far as the helpers use it."""

    def __init__(self, millis: int = 30_000) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def test_text_body() -> None:
    """A str body is sent as text with a text content type and the flag off."""
    assert LatticeResponse("hi").to_dict() == {
        "statusCode": 200,
        "headers": {"content-type": "text/plain; charset=utf-8"},
        "isBase64Encoded": False,
        "body": "hi",
    }


def test_binary_body() -> None:
    """A bytes body is base64-encoded with isBase64Encoded set."""
    payload = bytes(range(256))
    response = LatticeResponse(payload, status_code=201).to_dict()
    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == payload
    assert response["statusCode"] == 201
    assert response["headers"] == {"content-type": "application/octet-stream"}


def test_json_body_keeps_a_given_content_type() -> None:
    """A dict body is JSON; a content type set by the handler is not replaced."""
    response = LatticeResponse(
        {"é": [1, 2]}, headers={"Content-Type": "application/vnd.x+json"}
    ).to_dict()
    assert json.loads(response["body"]) == {"é": [1, 2]}
    assert response["headers"] == {"Content-Type": "application/vnd.x+json"}


def test_no_body() -> None:
    """Without a body, the dict carries no body key and no content type."""
    assert LatticeResponse(status_code=204).to_dict() == {
        "statusCode": 204,
        "headers": {},
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (LatticeResponse(status_code=99), "status_code"),
        (LatticeResponse(status_code=True), "status_code"),
        (LatticeResponse(headers={"x": 1}), "headers"),  # type: ignore[dict-item]
        (LatticeResponse({"when": object()}), "JSON"),
        (LatticeResponse(3.5), "body must be"),  # type: ignore[arg-type]
        (LatticeResponse(b"x" * (6 * 1024 * 1024 + 1)), "at most"),
        (LatticeResponse("x" * (6 * 1024 * 1024 + 1)), "at most"),
    ],
)
def test_responses_lattice_would_refuse(response: LatticeResponse, match: str) -> None:
    """A status, header, body or size Lattice cannot send raises InvalidResponseError."""
    with pytest.raises(InvalidResponseError, match=match):
        response.to_dict()


def test_handler_gets_a_parsed_request_and_its_context() -> None:
    """The decorated function receives the parsed request and Lambda's context unchanged."""
    seen: list[object] = []

    @lattice_handler
    def handler(request: LatticeRequest, context: object) -> HandlerResult:
        seen.append(context)
        return {
            "path": request.path,
            "qty": request.json()["qty"],
            "caller": request.identity.principal,
            "expand": request.query["expand"],
        }

    context = FakeContext()
    response = handler(EVENT, context)
    assert seen == [context]
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {
        "path": "/orders/7",
        "qty": 2,
        "caller": "arn:aws:iam::123456789012:role/caller",
        "expand": "items",
    }
    assert handler.__name__ == "handler"


@pytest.mark.parametrize(
    ("result", "status", "body"),
    [
        ("plain", 200, "plain"),
        (b"\x00\x01", 200, "AAE="),
        ([1, 2], 200, "[1,2]"),
        (None, 204, None),
        (LatticeResponse("gone", status_code=410), 410, "gone"),
    ],
)
def test_handler_results(result: HandlerResult, status: int, body: str | None) -> None:
    """Each kind of return value becomes the matching status and body."""

    @lattice_handler
    def handler(request: LatticeRequest, context: object) -> HandlerResult:
        return result

    response = handler(EVENT, FakeContext())
    assert response["statusCode"] == status
    assert response.get("body") == body


def test_an_exception_is_a_500_without_details(caplog: pytest.LogCaptureFixture) -> None:
    """A handler's exception is logged with its traceback and answered 500 with no detail."""

    @lattice_handler
    def handler(request: LatticeRequest, context: object) -> HandlerResult:
        raise RuntimeError("database password is hunter2")

    with caplog.at_level(logging.ERROR, logger="lattice_client.aws_lambda"):
        response = handler(EVENT, FakeContext())
    assert response == {
        "statusCode": 500,
        "headers": {"content-type": "text/plain; charset=utf-8"},
        "isBase64Encoded": False,
        "body": "Internal Server Error",
    }
    assert "hunter2" not in json.dumps(response)
    assert caplog.records[0].exc_info is not None


def test_a_deadline_is_a_504() -> None:
    """A DeadlineExceededError from the handler is answered 504 Gateway Timeout."""

    @lattice_handler
    def handler(request: LatticeRequest, context: object) -> HandlerResult:
        raise DeadlineExceededError("out of time", remaining=0.1)

    assert handler(EVENT, FakeContext())["statusCode"] == 504


def test_an_invalid_event_is_a_400(caplog: pytest.LogCaptureFixture) -> None:
    """An event that is not a Lattice event never reaches the function and is answered 400."""
    called = False

    @lattice_handler
    def handler(request: LatticeRequest, context: object) -> HandlerResult:
        nonlocal called
        called = True
        return "ok"

    with caplog.at_level(logging.WARNING, logger="lattice_client.aws_lambda"):
        response = handler({"Records": []}, FakeContext())
    assert response["statusCode"] == 400
    assert not called
    assert "method" in caplog.text


def test_an_unsendable_result_is_a_500() -> None:
    """A return value that is no response (or too large) is logged and answered 500."""

    @lattice_handler
    def handler(request: LatticeRequest, context: object) -> HandlerResult:
        return 42  # type: ignore[return-value]

    assert handler(EVENT, FakeContext())["statusCode"] == 500


def test_async_handlers_share_one_event_loop() -> None:
    """Async handlers run to completion, all invocations on the same event loop."""
    loops: list[asyncio.AbstractEventLoop] = []

    @lattice_handler(margin=0.1)
    async def handler(request: LatticeRequest, context: object) -> HandlerResult:
        await asyncio.sleep(0)
        loops.append(asyncio.get_running_loop())
        return request.method

    assert handler(EVENT, FakeContext())["body"] == "POST"
    assert handler(EVENT, FakeContext())["body"] == "POST"
    assert loops[0] is loops[1]


def test_without_a_context() -> None:
    """Called locally with context None, the handler still runs (there is no deadline to keep)."""

    @lattice_handler
    def handler(request: LatticeRequest, context: object) -> HandlerResult:
        return "local"

    assert handler(EVENT, None)["body"] == "local"
