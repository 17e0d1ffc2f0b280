"""SigningPolicy.decide: the library-neutral seam every adapter calls (requests, aiohttp...).

An adapter hands it (method, URL as sent, headers as sent, the chain's first
origin or None) and applies what comes back; signatures are checked with awscrt.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from _servers import CREDENTIALS, REGION

from lattice_client._policy import (
    CROSS_ORIGIN_REDIRECT,
    NOT_LISTED,
    SigningPolicy,
    explain_unsigned,
    origin_of,
)
from lattice_client.testing import verify_signature

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def verified(method: str, url: str, headers: list[tuple[str, str]]) -> bool:
    target = url.split("/", 3)[3]
    check = verify_signature(
        method,
        "/" + target,
        headers,
        credentials={CREDENTIALS.access_key_id: CREDENTIALS},
        now=NOW,
    )
    return check.ok


def apply(headers: list[tuple[str, str]], decision: object) -> list[tuple[str, str]]:
    """What an adapter does: drop decision.remove, add decision.headers."""
    remove = {name.lower() for name in decision.remove}  # type: ignore[attr-defined]
    kept = [(name, value) for name, value in headers if name.lower() not in remove]
    return kept + list(decision.headers.items())  # type: ignore[attr-defined]


def test_the_callers_request_is_signed_for_its_own_origin() -> None:
    """No allow-list: a custom domain with a percent-encoded path and query gets a signature."""
    policy = SigningPolicy(credentials=CREDENTIALS, region=REGION)
    url = "https://api.example.com:8443/a%20b/c?x=1&y=%2F"
    sent = [("Host", "api.example.com:8443"), ("Accept", "*/*"), ("Authorization", "stale")]
    decision = policy.decide("GET", url, sent, None, now=NOW)
    assert decision.signed
    assert decision.reason is None
    assert decision.remove == ("Authorization",)
    assert verified("GET", url, apply(sent, decision))


def test_a_hop_to_another_origin_is_refused_with_every_aws_header_removed() -> None:
    policy = SigningPolicy(credentials=CREDENTIALS, region=REGION)
    chain = origin_of("https://api.example.com/")
    sent = [("authorization", "AWS4..."), ("X-Amz-Date", "x"), ("x-amz-meta-a", "1")]
    for url in ("http://api.example.com/", "https://api.example.com:8443/", "https://evil.test/"):
        decision = policy.decide("GET", url, sent, chain, now=NOW)
        assert decision.reason == CROSS_ORIGIN_REDIRECT
        assert decision.headers == {}
        assert set(decision.remove) == {"authorization", "X-Amz-Date", "x-amz-meta-a"}
        assert "redirect to another origin" in explain_unsigned(decision.reason)
    same = policy.decide("GET", "https://API.example.com:443/next", [], chain, now=NOW)
    assert same.signed


def test_strict_mode_signs_only_listed_origins() -> None:
    policy = SigningPolicy(
        credentials=CREDENTIALS,
        region=REGION,
        strict_origins=True,
        signing_origins=["https://api.example.com"],
    )
    assert policy.decide("GET", "https://api.example.com/x", [], None, now=NOW).signed
    refused = policy.decide("GET", "https://hooks.example.net/x", [], None, now=NOW)
    assert refused.reason == NOT_LISTED
    assert "strict_origins=True" in explain_unsigned(refused.reason)


@pytest.mark.anyio
async def test_adecide_signs_the_same_way() -> None:
    policy = SigningPolicy(credentials=CREDENTIALS, region=REGION)
    url = "http://127.0.0.1:8080/x?q=1"
    sent = [("content-type", "text/plain")]
    decision = await policy.adecide("POST", url, sent, now=NOW)
    assert verified("POST", url, apply([("host", "127.0.0.1:8080"), *sent], decision))


def test_decision_repr_hides_the_signature_and_token() -> None:
    policy = SigningPolicy(credentials=CREDENTIALS, region=REGION)
    decision = policy.decide("GET", "https://api.example.com/", [], None, now=NOW)
    text = repr(decision)
    assert CREDENTIALS.session_token not in text  # type: ignore[operator]
    assert decision.headers["authorization"].rpartition("Signature=")[2] not in text


def test_error_from_response_names_why_a_request_went_unsigned() -> None:
    """What a requests/aiohttp adapter passes on: the 403 anonymous hint follows it."""
    from lattice_client import error_from_response

    body = (
        b"AccessDeniedException: User: anonymous is not authorized to perform: "
        b"vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:us-west-2:123456789012:"
        b"service/svc-0123456789abcdef0/x because no service-based policy allows the "
        b"vpc-lattice-svcs:Invoke action"
    )
    refused = error_from_response(403, {}, body, signed=False, unsigned_reason=NOT_LISTED)
    stripped = error_from_response(403, {}, body, signed=True)
    unknown = error_from_response(403, {}, body)
    assert "strict_origins=True" in str(refused)
    assert "dropped the authorization" in str(stripped)
    assert "lattice_client.Client or LatticeTransport" in str(unknown)
