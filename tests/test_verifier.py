"""`verify_signature` accepts what AWS's signers produce and names each fault as Lattice does."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from awscrt import auth as crt_auth
from awscrt import http as crt_http
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

import lattice_client
from lattice_client._signing import sign_request
from lattice_client.testing import SignatureCheck, verify_signature

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc)
HOST = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
TARGET = "/invoices/2026?year=2026&sort=desc"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
PLAIN = lattice_client.Credentials("AKIDPLAIN", SECRET)
TEMPORARY = lattice_client.Credentials("ASIATEMP", SECRET, TOKEN)
KNOWN = {PLAIN.access_key_id: PLAIN, TEMPORARY.access_key_id: TEMPORARY}

Headers = list[tuple[str, str]]


def signed(
    credentials: lattice_client.Credentials = PLAIN,
    *,
    method: str = "GET",
    target: str = TARGET,
    extra: Sequence[tuple[str, str]] = (("content-type", "application/json"),),
    sigv4a: bool = False,
    now: datetime = NOW,
) -> Headers:
    """The headers of a request signed by lattice_client.sign, as the server receives them."""
    added = lattice_client.sign(
        method, f"https://{HOST}{target}", extra, credentials=credentials, now=now, sigv4a=sigv4a
    )
    return [("host", HOST), *extra, ("user-agent", "python-httpx/0.28"), *added.items()]


def check(
    headers: Headers,
    *,
    method: str = "GET",
    target: str = TARGET,
    now: datetime = NOW,
    region: str | None = None,
) -> SignatureCheck:
    """The stand-in's verdict on a request received at ``now``."""
    return verify_signature(method, target, headers, credentials=KNOWN, now=now, region=region)


def botocore_signed(request: AWSRequest, credentials: BotoCredentials) -> Headers:
    """Sign ``request`` with botocore's SigV4Auth at NOW (botocore reads the clock itself)."""
    with time_machine.travel(NOW, tick=False):
        SigV4Auth(credentials, "vpc-lattice-svcs", "us-west-2").add_auth(request)
    return [("host", HOST), *request.headers.items()]


def replace(headers: Headers, name: str, value: str | None) -> Headers:
    """``headers`` with every ``name`` field dropped, then ``name: value`` added unless None."""
    kept = [(n, v) for n, v in headers if n.lower() != name]
    return kept if value is None else [*kept, (name, value)]


def authorization(headers: Headers) -> str:
    return next(v for n, v in headers if n == "authorization")


@pytest.mark.parametrize("sigv4a", [False, True], ids=["sigv4", "sigv4a"])
@pytest.mark.parametrize("credentials", [PLAIN, TEMPORARY], ids=["long-term", "session"])
def test_accepts_what_the_library_signs(
    credentials: lattice_client.Credentials, *, sigv4a: bool
) -> None:
    """A request signed by lattice_client.sign verifies, and the check reports its parts."""
    result = check(signed(credentials, sigv4a=sigv4a))
    assert result == SignatureCheck(
        ok=True,
        error=None,
        message="",
        access_key_id=credentials.access_key_id,
        algorithm="AWS4-ECDSA-P256-SHA256" if sigv4a else "AWS4-HMAC-SHA256",
        signed_headers=result.signed_headers,
        region="*" if sigv4a else "us-west-2",
    )
    assert "host" in result.signed_headers
    assert "x-amz-content-sha256" in result.signed_headers


@pytest.mark.parametrize("sigv4a", [False, True], ids=["sigv4", "sigv4a"])
@pytest.mark.parametrize(
    "target",
    ["/", "/a%20b/./c/../d//e", "/caf%C3%A9/x:y/a:/b", "/q?b=2&a=1&a=0&e=", "/q?k=:/+*%7E&sp=%20"],
)
def test_accepts_awkward_paths_and_queries(target: str, *, sigv4a: bool) -> None:
    """Dot segments, double encoding, repeated and raw-character query parameters all verify."""
    result = check(signed(target=target, sigv4a=sigv4a), target=target)
    assert result.ok, result.message


def test_accepts_a_request_signed_by_botocore() -> None:
    """botocore's SigV4 signer, given the UNSIGNED-PAYLOAD header, produces an accepted request."""
    request = AWSRequest(
        "POST",
        f"https://{HOST}/orders?id=7",
        data=b"{}",
        headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "content-type": "application/json"},
    )
    headers = botocore_signed(request, BotoCredentials(TEMPORARY.access_key_id, SECRET, TOKEN))
    assert check(headers, method="POST", target="/orders?id=7").ok


def test_accepts_a_sigv4a_request_signed_by_awscrt() -> None:
    """awscrt's own SigV4A signature (random, so only a real verifier can accept it) verifies."""
    request = crt_http.HttpRequest(
        "PUT", "/items/1?v=2", crt_http.HttpHeaders([("host", HOST), ("x-color", "blue")])
    )
    config = crt_auth.AwsSigningConfig(
        algorithm=crt_auth.AwsSigningAlgorithm.V4_ASYMMETRIC,
        credentials_provider=crt_auth.AwsCredentialsProvider.new_static(
            TEMPORARY.access_key_id, SECRET, TOKEN
        ),
        region="*",
        service="vpc-lattice-svcs",
        date=NOW,
        signed_body_value="UNSIGNED-PAYLOAD",
        signed_body_header_type=crt_auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256,
    )
    signed_request = crt_auth.aws_sign_request(request, config).result()
    headers = list(signed_request.headers)
    assert check(headers, method="PUT", target="/items/1?v=2").ok


def test_http2_authority_counts_as_host_and_unsigned_headers_may_change() -> None:
    """`:authority` passed as host verifies; user-agent and x-forwarded-* are free to change."""
    headers = replace(signed(), "host", None)
    headers = [(":authority", HOST), ("host", HOST), *headers, ("x-forwarded-for", "10.0.0.1")]
    headers = replace(headers, "user-agent", "envoy")
    assert check(headers).ok


def test_wrong_secret_is_an_invalid_signature() -> None:
    """A signature made with another secret is an InvalidSignature with AWS's mismatch text."""
    forged = lattice_client.Credentials(PLAIN.access_key_id, "not-the-secret")
    result = check(signed(forged))
    assert (result.ok, result.error) == (False, "InvalidSignatureException")
    assert result.message.startswith("The request signature we calculated does not match")


def test_wrong_secret_sigv4a_is_an_invalid_signature() -> None:
    """A SigV4A signature from another key pair does not verify."""
    forged = lattice_client.Credentials(PLAIN.access_key_id, "not-the-secret")
    assert check(signed(forged, sigv4a=True)).error == "InvalidSignatureException"


@pytest.mark.parametrize("sigv4a", [False, True], ids=["sigv4", "sigv4a"])
def test_missing_token_is_an_incomplete_signature_with_lattices_message(*, sigv4a: bool) -> None:
    """A signed x-amz-security-token that is not sent gets Lattice's IncompleteSignature text."""
    headers = replace(signed(TEMPORARY, sigv4a=sigv4a), "x-amz-security-token", None)
    result = check(headers)
    assert (result.error, result.message) == (
        "IncompleteSignatureException",
        "'x-amz-security-token' is named as a SignedHeader, but it does not exist in the HTTP "
        "request",
    )


def test_wrong_token_is_rejected() -> None:
    """A request carrying a token other than the principal's is refused as an invalid token."""
    other = lattice_client.Credentials(TEMPORARY.access_key_id, SECRET, "another-token")
    result = check(signed(other))
    assert (result.error, result.message) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_unknown_access_key_is_rejected() -> None:
    """A key id the stand-in does not know is an unrecognised client."""
    stranger = lattice_client.Credentials("AKIDSTRANGER", SECRET)
    assert check(signed(stranger)).error == "UnrecognizedClientException"


def test_expired_credentials_are_rejected() -> None:
    """Credentials past their expiry on the server side are refused as an expired token."""
    expiring = lattice_client.Credentials("ASIAOLD", SECRET, TOKEN, expiry=NOW - timedelta(hours=1))
    headers = signed(lattice_client.Credentials("ASIAOLD", SECRET, TOKEN))
    result = verify_signature("GET", TARGET, headers, credentials={"ASIAOLD": expiring}, now=NOW)
    assert result.error == "ExpiredTokenException"


@pytest.mark.parametrize("sigv4a", [False, True], ids=["sigv4", "sigv4a"])
@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/invoices/2027?year=2026&sort=desc"),
        ("GET", "/invoices/2026?year=2027&sort=desc"),
        ("GET", "/invoices/2026?year=2026&sort=desc&admin=true"),
        ("DELETE", TARGET),
    ],
    ids=["path", "query-value", "query-added", "method"],
)
def test_tampered_request_line_is_an_invalid_signature(
    method: str, target: str, *, sigv4a: bool
) -> None:
    """Changing the method, path or query after signing breaks the signature."""
    result = check(signed(sigv4a=sigv4a), method=method, target=target)
    assert result.error == "InvalidSignatureException"


@pytest.mark.parametrize("sigv4a", [False, True], ids=["sigv4", "sigv4a"])
@pytest.mark.parametrize(
    ("name", "value"), [("content-type", "text/plain"), ("host", "evil.example")]
)
def test_tampered_signed_header_is_an_invalid_signature(
    name: str, value: str, *, sigv4a: bool
) -> None:
    """Changing a signed header's value after signing breaks the signature."""
    result = check(replace(signed(sigv4a=sigv4a), name, value))
    assert result.error == "InvalidSignatureException"


def test_dropped_signed_header_is_an_incomplete_signature() -> None:
    """A header listed in SignedHeaders but absent is named in the IncompleteSignature message."""
    result = check(replace(signed(), "content-type", None))
    assert result.error == "IncompleteSignatureException"
    assert result.message.startswith("'content-type' is named as a SignedHeader")


def test_expired_timestamp_is_rejected_with_the_aws_wide_message() -> None:
    """A signature older than the allowed skew is InvalidSignature: 'Signature expired: ...'."""
    result = check(signed(now=NOW - timedelta(minutes=6)))
    assert result.error == "InvalidSignatureException"
    assert result.message == (
        "Signature expired: 20260314T150326Z is now earlier than 20260314T150426Z "
        "(20260314T150926Z - 5 min.)"
    )


def test_future_timestamp_is_not_yet_current() -> None:
    """A signature dated beyond the allowed skew is refused as 'Signature not yet current'."""
    result = check(signed(now=NOW + timedelta(minutes=6)))
    assert result.message.startswith("Signature not yet current: 20260314T151526Z is still later")


def test_skew_within_limit_is_accepted() -> None:
    """A clock four minutes off on either side is within Lattice's tolerance."""
    assert check(signed(now=NOW - timedelta(minutes=4))).ok
    assert check(signed(now=NOW + timedelta(minutes=4))).ok


def test_hashed_payload_is_not_supported() -> None:
    """botocore's default (payload hashed, no UNSIGNED-PAYLOAD header) is refused like Lattice."""
    request = AWSRequest("POST", f"https://{HOST}/orders", data=b'{"n": 1}')
    headers = botocore_signed(request, BotoCredentials(PLAIN.access_key_id, SECRET))
    result = check(headers, method="POST", target="/orders")
    assert (result.error, result.message) == (
        "InvalidSignatureException",
        "Signed payloads are not supported",
    )


def test_payload_hash_header_is_not_supported() -> None:
    """An x-amz-content-sha256 carrying a real hash is refused the same way."""
    headers = replace(signed(), "x-amz-content-sha256", hashlib.sha256(b"").hexdigest())
    assert check(headers).message == "Signed payloads are not supported"


def test_unsigned_request_is_missing_authentication() -> None:
    """A request without Authorization is reported as unsigned, not as a bad signature."""
    result = check([("host", HOST)])
    assert (result.ok, result.error) == (False, "MissingAuthenticationTokenException")


@pytest.mark.parametrize(
    ("value", "error", "needle"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=AKIDPLAIN/20260314/us-west-2/vpc-lattice-svcs/"
            "aws4_request",
            "IncompleteSignatureException",
            "requires 'SignedHeaders'",
        ),
        ("Bearer abc", "IncompleteSignatureException", "requires 'Credential'"),
        (
            "AWS4-HMAC-SHA512 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=00",
            "IncompleteSignatureException",
            "Unsupported AWS 'algorithm'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDPLAIN/20260314/vpc-lattice-svcs/aws4_request, "
            "SignedHeaders=host, Signature=00",
            "IncompleteSignatureException",
            "Credential should",
        ),
    ],
    ids=["no-signed-headers", "not-sigv4", "algorithm", "short-scope"],
)
def test_malformed_authorization_is_an_incomplete_signature(
    value: str, error: str, needle: str
) -> None:
    """An Authorization header missing parts or naming another scheme is named precisely."""
    result = check(replace(signed(), "authorization", value))
    assert result.error == error
    assert needle in result.message


def test_other_service_scope_is_rejected() -> None:
    """A signature scoped to another signing name (e.g. execute-api) is refused."""
    added = lattice_client.sign(
        "GET", f"https://{HOST}{TARGET}", credentials=PLAIN, now=NOW, service="execute-api"
    )
    result = check([("host", HOST), *added.items()])
    assert result.message == "Credential should be scoped to correct service: 'vpc-lattice-svcs'."


@pytest.mark.parametrize("sigv4a", [False, True], ids=["sigv4", "sigv4a"])
def test_region_outside_the_scope_is_rejected(*, sigv4a: bool) -> None:
    """A SigV4 scope or SigV4A region set that excludes the service's region is refused."""
    # The pure signer: sign() itself refuses a region that contradicts the name.
    path, _, query = TARGET.partition("?")
    added = sign_request(
        "GET",
        HOST,
        path,
        query,
        [("host", HOST)],
        credentials=PLAIN,
        now=NOW,
        region="eu-west-1",
        service="vpc-lattice-svcs",
        sigv4a=sigv4a,
        region_set="eu-*",
    ).headers
    headers = [("host", HOST), *added.items()]
    assert check(headers, region="eu-west-1").ok
    assert check(headers, region="us-west-2").error == "InvalidSignatureException"


def test_mismatched_scope_date_is_rejected() -> None:
    """A credential scope whose date is not the day of x-amz-date is refused."""
    headers = replace(signed(), "x-amz-date", "20260315T000100Z")
    result = check(headers, now=datetime(2026, 3, 15, 0, 1, tzinfo=timezone.utc))
    assert result.message.startswith("Date in Credential scope does not match")


def test_no_secret_appears_in_any_verdict() -> None:
    """Verdicts never carry the secret key, the session token or the signature."""
    cases = [
        signed(TEMPORARY),
        replace(signed(TEMPORARY), "x-amz-security-token", None),
        signed(lattice_client.Credentials(TEMPORARY.access_key_id, "x", "tok-other")),
        replace(signed(TEMPORARY), "content-type", "x/y"),
    ]
    for headers in cases:
        text = repr(check(headers))
        signature = authorization(headers).rpartition("Signature=")[2]
        for secret in (SECRET, TOKEN, "tok-other", signature):
            assert secret not in text
