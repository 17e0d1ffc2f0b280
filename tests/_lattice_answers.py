"""Lattice's error answers for the tests: each body format of LATTICE.md and its variants.

Shared by test_responses.py and test_clock.py; also served by a
loopback ASGI app (`answers_app`) so that the same cases go over real HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import lattice_client

ACCOUNT = "123456789012"
SERVICE_ARN = f"arn:aws:vpc-lattice:us-west-2:{ACCOUNT}:service/svc-0123456789abcdef0"
ROLE = f"arn:aws:sts::{ACCOUNT}:assumed-role/billing-reader/i-0abc"
INVOKE = "vpc-lattice-svcs:Invoke"


def denial(
    principal: str = ROLE,
    path: str = "/invoices/42",
    kind: str = "service-based",
    *,
    explicit_deny: bool = False,
) -> str:
    """Lattice's documented AccessDeniedException body (no trailing newline)."""
    head = (
        f"AccessDeniedException: User: {principal} is not authorized to perform: {INVOKE} "
        f"on resource: {SERVICE_ARN}{path} "
    )
    if explicit_deny:
        article = "an" if kind[0] in "aeiou" else "a"
        return head + f"with an explicit deny in {article} {kind} policy"
    return head + f"because no {kind} policy allows the {INVOKE} action"


@dataclass(frozen=True)
class Case:
    """One answer: what is sent, which class it must become, and attributes to check."""

    id: str
    status: int
    body: bytes
    error: type[lattice_client.LatticeResponseError]
    attributes: dict[str, object] = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = (("content-type", "text/plain"),)


_JSON = (("content-type", "application/x-amz-json-1.1"),)

CASES = [
    Case(
        "denied-service-policy",
        403,
        denial().encode(),
        lattice_client.AccessDeniedError,
        {
            "principal": ROLE,
            "anonymous": False,
            "action": INVOKE,
            "resource": SERVICE_ARN + "/invoices/42",
            "service_arn": SERVICE_ARN,
            "path": "/invoices/42",
            "policy_type": "service-based",
            "explicit_deny": False,
            "evidently_from_lattice": True,
        },
    ),
    Case(
        "denied-identity-policy",
        403,
        denial(kind="identity-based").encode(),
        lattice_client.AccessDeniedError,
        {"policy_type": "identity-based", "explicit_deny": False},
    ),
    Case(
        "denied-network-policy",
        403,
        denial(kind="network-based").encode(),
        lattice_client.AccessDeniedError,
        {"policy_type": "network-based", "evidently_from_lattice": True},
    ),
    Case(
        "explicit-deny-identity",
        403,
        denial(kind="identity-based", explicit_deny=True).encode(),
        lattice_client.AccessDeniedError,
        {"policy_type": "identity-based", "explicit_deny": True, "principal": ROLE},
    ),
    Case(
        "explicit-deny-service",
        403,
        denial(explicit_deny=True).encode(),
        lattice_client.AccessDeniedError,
        {"policy_type": "service-based", "explicit_deny": True},
    ),
    Case(
        "anonymous",
        403,
        denial("anonymous").encode(),
        lattice_client.AccessDeniedError,
        {"principal": None, "anonymous": True, "evidently_from_lattice": True},
    ),
    Case(
        "denied-grpc-method",
        403,
        denial(path="/billing.v1.Invoices/Get").encode(),
        lattice_client.AccessDeniedError,
        {"path": "/billing.v1.Invoices/Get", "service_arn": SERVICE_ARN},
    ),
    Case(
        "denied-trailing-crlf",
        403,
        denial().encode() + b"\r\n",
        lattice_client.AccessDeniedError,
        {"principal": ROLE, "evidently_from_lattice": True},
    ),
    Case(
        "denied-json-envelope",
        403,
        b'{"message": "' + denial().partition(": ")[2].encode() + b'"}',
        lattice_client.AccessDeniedError,
        {"principal": ROLE, "policy_type": "service-based"},
        (*_JSON, ("x-amzn-ErrorType", "AccessDeniedException:http://internal.amazon.com/")),
    ),
    Case(
        "denied-json-type",
        403,
        b'{"__type": "com.amazon.coral.service#AccessDeniedException", "Message": "'
        + denial().partition(": ")[2].encode()
        + b'"}',
        lattice_client.AccessDeniedError,
        {"path": "/invoices/42"},
        _JSON,
    ),
    Case(
        "denied-unparsed",
        403,
        b"AccessDeniedException: You may not.",
        lattice_client.AccessDeniedError,
        {"principal": None, "policy_type": None, "evidently_from_lattice": False},
    ),
    Case(
        "signed-payload",
        403,
        b"InvalidSignatureException: Signed payloads are not supported",
        lattice_client.InvalidSignatureError,
        {"error_code": "InvalidSignatureException", "evidently_from_lattice": True},
    ),
    Case(
        "signature-mismatch",
        403,
        b"InvalidSignatureException: The request signature we calculated does not match "
        b"the signature you provided.",
        lattice_client.InvalidSignatureError,
    ),
    Case(
        "incomplete-signature",
        403,
        b"IncompleteSignatureException: 'x-amz-security-token' is named as a SignedHeader, "
        b"but it does not exist in the HTTP request",
        lattice_client.IncompleteSignatureError,
        {"error_code": "IncompleteSignatureException"},
    ),
    Case(
        "signature-expired",
        403,
        b"InvalidSignatureException: Signature expired: 20261121T224900Z is now earlier than "
        b"20261121T225500Z (20261121T230000Z - 5 min.)",
        lattice_client.SignatureExpiredError,
        {"error_code": "InvalidSignatureException"},
    ),
    Case(
        "signature-not-yet-current",
        400,
        b"InvalidSignatureException: Signature not yet current: 20261121T231100Z is still "
        b"later than 20261121T230500Z (20261121T230000Z + 5 min.)",
        lattice_client.SignatureExpiredError,
    ),
    Case(
        "request-expired-json",
        400,
        b'{"__type": "RequestExpired", "message": "Request has expired."}',
        lattice_client.SignatureExpiredError,
        {"error_code": "RequestExpired"},
        _JSON,
    ),
    Case(
        "bare-signature-expired",
        403,
        b"Signature expired: 20261121T224900Z is now earlier than 20261121T225500Z "
        b"(20261121T230000Z - 5 min.)\n",
        lattice_client.SignatureExpiredError,
        {"error_code": None, "evidently_from_lattice": False},
    ),
    Case(
        "target-session-expired",
        401,
        b"<p>Your request has expired, please log in again.</p>",
        lattice_client.LatticeResponseError,
    ),
    Case(
        "expired-token",
        403,
        b"ExpiredTokenException: The security token included in the request is expired",
        lattice_client.SignatureError,
        {"error_code": "ExpiredTokenException"},
    ),
    Case("fixed-404", 404, b"", lattice_client.NotFoundError, {"evidently_from_lattice": False}),
    Case("fixed-500", 500, b"", lattice_client.InternalServerError),
    Case("target-404", 404, b'{"error": "no such invoice"}', lattice_client.NotFoundError),
    Case("bad-gateway", 502, b"", lattice_client.ServiceUnavailableError),
    Case("unavailable", 503, b"no healthy upstream", lattice_client.ServiceUnavailableError),
    Case("timeout", 504, b"", lattice_client.ServiceUnavailableError),
    Case("teapot", 418, b"short and stout", lattice_client.LatticeResponseError),
    Case(
        "target-forbidden",
        403,
        b"<html><body>Forbidden</body></html>",
        lattice_client.LatticeResponseError,
        {"evidently_from_lattice": False, "error_code": None},
    ),
    Case(
        "denied-on-wrong-status",
        500,
        denial().encode(),
        lattice_client.InternalServerError,
        {"error_code": "AccessDeniedException"},
    ),
]
CASE_IDS = [case.id for case in CASES]
BY_ID = {case.id: case for case in CASES}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Scope]]
Send = Callable[[Scope], Awaitable[None]]


async def answers_app(scope: Scope, receive: Receive, send: Send) -> None:
    """ASGI app: ``/<case id>`` answers that case; ``?chunked`` sends it in small chunks.

    ``/ok`` answers 200 with a body, ``/big-error`` a 403 of 1 MiB in 16 KiB chunks.
    """
    assert scope["type"] == "http"
    name = scope["path"].lstrip("/")
    chunked = b"chunked" in scope["query_string"]
    if name == "ok":
        await _answer(send, 200, (("content-type", "text/plain"),), b"all good " * 1000, chunked)
        return
    if name == "big-error":
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        chunk = b"x" * 16384
        for _ in range(64):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    case = BY_ID[name]
    await _answer(send, case.status, case.headers, case.body, chunked)


async def _answer(
    send: Send, status: int, headers: tuple[tuple[str, str], ...], body: bytes, chunked: bool
) -> None:
    raw = [(name.encode(), value.encode()) for name, value in headers]
    if not chunked:
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    if chunked:
        for start in range(0, len(body), 7):
            part = body[start : start + 7]
            await send({"type": "http.response.body", "body": part, "more_body": True})
    else:
        await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
