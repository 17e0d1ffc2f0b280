"""An error answer that echoes the request's session token or signature never shows them.

The target behind Lattice may quote what it received. The message of the typed
error is redacted before it is cut to length, so a long echo leaves no piece
behind, and the signature is matched in any case. Response handling only, so
the target is an ``httpx.MockTransport`` under a real `LatticeTransport`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import httpx
import pytest

import lattice_client
from lattice_client import Credentials, LatticeResponseError, LatticeTransport
from lattice_client._answers import BODY_LIMIT

# A session token as long as real STS tokens get (they pass 1,000 characters).
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/" + "".join(f"{n:04x}" for n in range(350)) + "+Zz=="
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", TOKEN)
URL = "https://billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws/x"


def error_for(answer: Callable[[httpx.Request], httpx.Response]) -> LatticeResponseError:
    """The typed error for the answer ``answer`` gives to one signed request."""
    transport = LatticeTransport(httpx.MockTransport(answer), credentials=CREDENTIALS)
    with httpx.Client(transport=transport) as client:
        response = client.get(URL)
    with pytest.raises(LatticeResponseError) as raised:
        lattice_client.raise_for_status(response)
    return raised.value


def signature_of(request: httpx.Request) -> str:
    return request.headers["authorization"].rpartition("Signature=")[2]


def pieces(secret: str, size: int = 16) -> list[str]:
    """Every ``size``-character piece of ``secret``, lowercased."""
    return [secret[i : i + size].lower() for i in range(len(secret) - size + 1)]


def assert_not_shown(error: Exception, secret: str) -> None:
    shown = f"{error} {error!r} {error.args}".lower()
    leaked = [piece for piece in pieces(secret) if piece in shown]
    assert not leaked, f"{len(leaked)} pieces of the secret are in the message"


@pytest.mark.parametrize(
    ("status", "template"),
    [
        (403, "UnrecognizedClientException: The security token {} is invalid"),
        (500, "upstream said: token={} rejected"),
        (400, "Signature expired: token {}"),
        (403, "AccessDeniedException: no policy for token {}"),
    ],
    ids=["signature-error", "by-status", "expiry", "access-denied"],
)
def test_a_long_echoed_token_is_redacted_before_the_message_is_cut(
    status: int, template: str
) -> None:
    """A 1,400-character token echoed at the start of a body leaves no piece in the message."""
    assert len(TOKEN) > 1000
    error = error_for(lambda request: httpx.Response(status, text=template.format(TOKEN)))
    assert_not_shown(error, TOKEN)
    assert "[redacted]" in str(error)


def test_an_upper_cased_echo_of_the_signature_is_redacted() -> None:
    """A target that shouts the Authorization header back does not reveal the signature."""
    seen: list[str] = []

    def shout(request: httpx.Request) -> httpx.Response:
        seen.append(signature_of(request))
        return httpx.Response(
            403,
            text=f"InvalidSignatureException: got {request.headers['authorization'].upper()} "
            f"and signature {signature_of(request).upper()}",
        )

    error = error_for(shout)
    assert_not_shown(error, seen[0])


def test_a_json_escaped_token_is_redacted() -> None:
    """JSON may write "/" as "\\/": the message decoded from it is redacted too."""
    body = json.dumps({"__type": "UnrecognizedClientException", "message": f"bad token {TOKEN}"})
    escaped = body.replace("/", "\\/")
    error = error_for(lambda request: httpx.Response(403, text=escaped))
    assert_not_shown(error, TOKEN)


def test_a_token_cut_by_the_body_limit_is_redacted() -> None:
    """An echo cut off by the 64 KiB read limit leaves no start of the token either."""
    body = b" " * (BODY_LIMIT - 500) + TOKEN.encode()
    error = error_for(lambda request: httpx.Response(502, content=body))
    assert_not_shown(error, TOKEN[:500])


def test_error_from_response_redacts_the_values_it_is_given() -> None:
    """Other HTTP stacks pass the token and signature to redact; any case matches."""
    signature = "a3f1" * 16
    body = f"UnrecognizedClientException: {TOKEN} / {signature.upper()}".encode()
    error = lattice_client.error_from_response(403, {}, body, redact=[TOKEN, signature])
    assert error is not None
    assert_not_shown(error, TOKEN)
    assert_not_shown(error, signature)


def test_error_from_response_takes_one_value_to_redact_as_a_str() -> None:
    """redact="<token>" redacts that token, not each of its characters."""
    body = f"UnrecognizedClientException: {TOKEN} is not valid".encode()
    error = lattice_client.error_from_response(403, {}, body, redact=TOKEN)
    assert error is not None
    assert "[redacted] is not valid" in str(error)


def test_a_requests_response_echoing_the_token_is_redacted_before_the_cut() -> None:
    """The requests flavour redacts the same way: the whole token, before the message is cut."""
    requests = pytest.importorskip("requests")
    signed = lattice_client.sign("GET", URL, credentials=CREDENTIALS)
    request = requests.Request("GET", URL, headers=dict(signed)).prepare()
    response = requests.Response()
    response.status_code = 403
    response.request = request
    response._content = (
        f"UnrecognizedClientException: token {TOKEN} and {signature_of_headers(signed).upper()}"
    ).encode()
    with pytest.raises(LatticeResponseError) as raised:
        lattice_client.raise_for_status(response)
    assert_not_shown(raised.value, TOKEN)
    assert_not_shown(raised.value, signature_of_headers(signed))


def signature_of_headers(headers: Mapping[str, str]) -> str:
    return headers["authorization"].rpartition("Signature=")[2]
