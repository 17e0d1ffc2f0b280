"""`lattice_client.sign`: what it signs, what it never signs, and the errors it raises.

Signatures are checked by botocore or awscrt recomputing them, never by our signer.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest
from awscrt.crypto import EC
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

import lattice_client
from lattice_client import (
    Credentials,
    CredentialsExpiredError,
    InvalidHeaderError,
    MissingDependencyError,
    NoRegionError,
    SigningError,
    _signing,
    _sigv4a,
)

HOST = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
URL = f"https://{HOST}/invoices?year=2026&status=open"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
WITH_TOKEN = Credentials(
    "ASIAEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FwoGZXIvEXAMPLE"
)


def botocore_signature(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]],
    signed: dict[str, str],
    credentials: Credentials = CREDENTIALS,
    region: str = "us-west-2",
) -> str:
    """botocore's signature over the request as sent (our headers plus the ones sign() added)."""
    request = AWSRequest(method=method, url=url)
    signed_names = signed["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    for name, value in [*headers, *signed.items()]:
        if name.lower() in signed_names:
            request.headers.add_header(name, value)
    request.context["timestamp"] = signed["x-amz-date"]
    auth = SigV4Auth(
        BotocoreCredentials(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        ),
        "vpc-lattice-svcs",
        region,
    )
    return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


def signature_of(headers: dict[str, str]) -> str:
    return headers["authorization"].rpartition("Signature=")[2]


def signed_headers_of(headers: dict[str, str]) -> list[str]:
    return headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")


# --- what sign() returns ----------------------------------------------------------


def test_returns_the_lattice_headers_in_lowercase() -> None:
    """sign() returns authorization, x-amz-date and x-amz-content-sha256: UNSIGNED-PAYLOAD."""
    headers = lattice_client.sign("GET", URL, credentials=CREDENTIALS, now=NOW)
    assert set(headers) == {"authorization", "x-amz-date", "x-amz-content-sha256"}
    assert headers["x-amz-date"] == "20261121T120000Z"
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert headers["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-west-2/vpc-lattice-svcs/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
    )


def test_typical_lattice_get_verifies_with_botocore() -> None:
    """A GET with a query, three headers and a session token verifies with botocore."""
    sent = [("Accept", "application/json"), ("X-Request-Id", "42"), ("Content-Type", "a/b")]
    headers = lattice_client.sign("GET", URL, sent, credentials=WITH_TOKEN, now=NOW)
    assert headers["x-amz-security-token"] == "FwoGZXIvEXAMPLE"
    assert signed_headers_of(headers) == [
        "accept",
        "content-type",
        "host",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-security-token",
        "x-request-id",
    ]
    assert signature_of(headers) == botocore_signature("GET", URL, sent, headers, WITH_TOKEN)


def test_a_non_utc_now_is_converted_to_utc() -> None:
    """An aware datetime in another zone signs as the same instant in UTC."""
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    assert lattice_client.sign("GET", URL, credentials=CREDENTIALS, now=paris) == (
        lattice_client.sign("GET", URL, credentials=CREDENTIALS, now=NOW)
    )


def test_now_defaults_to_the_current_time() -> None:
    """Without now=, x-amz-date is a well-formed current UTC timestamp."""
    before = datetime.now(timezone.utc).replace(microsecond=0)
    headers = lattice_client.sign("GET", URL, credentials=CREDENTIALS)
    after = datetime.now(timezone.utc)
    stamp = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert before <= stamp <= after


def test_explicit_region_overrides_the_host() -> None:
    """region= wins over the region in the name, for a custom domain or a cross-region call."""
    url = "https://billing.example.com/invoices"
    headers = lattice_client.sign("GET", url, credentials=CREDENTIALS, region="eu-west-1", now=NOW)
    assert "/20261121/eu-west-1/vpc-lattice-svcs/" in headers["authorization"]
    assert signature_of(headers) == botocore_signature("GET", url, [], headers, region="eu-west-1")


# --- which headers are signed ----------------------------------------------------------

NEVER_SIGNED = [
    ("User-Agent", "python-httpx/0.28"),
    ("Connection", "keep-alive"),
    ("TE", "trailers"),
    ("Transfer-Encoding", "chunked"),
    ("Expect", "100-continue"),
    ("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
    ("X-Forwarded-For", "10.0.0.1"),
    ("X-Forwarded-Proto", "https"),
    ("Via", "1.1 proxy"),
    ("Authorization", "Bearer stale"),
    ("Proxy-Authorization", "Basic xyz"),
]


@pytest.mark.parametrize(("name", "value"), NEVER_SIGNED, ids=[name for name, _ in NEVER_SIGNED])
def test_headers_that_proxies_rewrite_are_never_signed(name: str, value: str) -> None:
    """A header that HTTP stacks or proxies add or rewrite stays out of SignedHeaders."""
    headers = lattice_client.sign("GET", URL, [(name, value)], credentials=CREDENTIALS, now=NOW)
    assert name.lower() not in signed_headers_of(headers)


def test_callers_amz_headers_are_replaced_not_signed_twice() -> None:
    """A caller's x-amz-date or x-amz-content-sha256 is superseded by the signer's own."""
    stale = [("X-Amz-Date", "20000101T000000Z"), ("x-amz-content-sha256", "abc")]
    headers = lattice_client.sign("GET", URL, stale, credentials=CREDENTIALS, now=NOW)
    assert headers["x-amz-date"] == "20261121T120000Z"
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert signature_of(headers) == botocore_signature("GET", URL, [], headers)


def test_repeated_headers_are_joined_in_order_and_values_trimmed() -> None:
    """Repeats join with commas in the order given; inner runs of spaces fold to one."""
    sent = [("X-Tag", " b "), ("x-tag", "a   c"), ("X-Other", "\tq\t")]
    headers = lattice_client.sign("GET", URL, sent, credentials=CREDENTIALS, now=NOW)
    assert signature_of(headers) == botocore_signature("GET", URL, sent, headers)
    swapped = lattice_client.sign(
        "GET", URL, sent[1::-1] + sent[2:], credentials=CREDENTIALS, now=NOW
    )
    assert signature_of(swapped) != signature_of(headers)


def test_host_comes_from_the_url_with_a_non_default_port() -> None:
    """The signed host is what httpx sends: lowercase, with the port only when not the default."""
    url = f"https://{HOST.upper()}:8443/x"
    headers = lattice_client.sign("GET", url, credentials=CREDENTIALS, now=NOW)
    lower = f"https://{HOST}:8443/x"
    assert signature_of(headers) == botocore_signature("GET", lower, [], headers)
    default = lattice_client.sign("GET", f"https://{HOST}:443/x", credentials=CREDENTIALS, now=NOW)
    plain = lattice_client.sign("GET", f"https://{HOST}/x", credentials=CREDENTIALS, now=NOW)
    assert default == plain


def test_a_host_header_given_is_the_one_signed() -> None:
    """With a Host header (a custom domain through a tunnel, say), that host is signed."""
    sent = [("Host", "billing.example.com")]
    headers = lattice_client.sign("GET", URL, sent, credentials=CREDENTIALS, now=NOW)
    as_sent = "https://billing.example.com/invoices?year=2026&status=open"
    assert signature_of(headers) == botocore_signature("GET", as_sent, [], headers)


# --- paths and queries ---------------------------------------------------------------


def test_a_lone_percent_in_a_query_reads_as_a_literal_percent() -> None:
    """`?a=%` signs as `?a=%25` (awscrt refuses both forms of this; it is our choice)."""
    lone = lattice_client.sign("GET", f"https://{HOST}/?a=%", credentials=CREDENTIALS, now=NOW)
    escaped = lattice_client.sign("GET", f"https://{HOST}/?a=%25", credentials=CREDENTIALS, now=NOW)
    assert lone == escaped


def test_a_colon_slash_in_the_path_verifies_with_botocore() -> None:
    """A path holding ":/" (which awscrt cannot parse) signs as botocore does."""
    url = f"https://{HOST}/items/urn:/x"
    headers = lattice_client.sign("GET", url, credentials=CREDENTIALS, now=NOW)
    assert signature_of(headers) == botocore_signature("GET", url, [], headers)


def test_dot_segments_are_signed_as_httpx_sends_them() -> None:
    """httpx sends /a/b/.. as /a (no trailing slash); that is the path signed."""
    dotted = lattice_client.sign("GET", f"https://{HOST}/a/b/..", credentials=CREDENTIALS, now=NOW)
    sent = lattice_client.sign("GET", f"https://{HOST}/a", credentials=CREDENTIALS, now=NOW)
    assert dotted == sent


@pytest.mark.parametrize("path", ["/a/.", "/a/b/..", "/.../.", "/a/./", "/a/b/../", "/."])
def test_a_trailing_dot_segment_sent_raw_is_signed_as_awscrt_verifies_it(path: str) -> None:
    """requests and aiohttp send dot segments as written: /a/. is canonically /a, not /a/.

    Found by the requests differential suite; awscrt recomputes the signature over the
    path as received.
    """
    from lattice_client._signing import sign_request
    from lattice_client.testing import verify_signature

    signed = sign_request(
        "GET",
        HOST,
        path,
        "",
        [("host", HOST)],
        credentials=CREDENTIALS,
        region="us-west-2",
        service="vpc-lattice-svcs",
        now=NOW,
        sigv4a=False,
        region_set="*",
        double_encode_path=True,
    )
    received = [("host", HOST), *signed.headers.items()]
    check = verify_signature(
        "GET", path, received, credentials={CREDENTIALS.access_key_id: CREDENTIALS}, now=NOW
    )
    assert check.ok, (path, check.error)


def test_single_encoding_differs_only_for_paths_with_percent() -> None:
    """double_encode_path=False changes nothing unless the path already holds a %XX escape."""
    for path, same in [("/plain/path", True), ("/with%20space", False)]:
        url = f"https://{HOST}{path}"
        double = lattice_client.sign("GET", url, credentials=CREDENTIALS, now=NOW)
        single = lattice_client.sign(
            "GET", url, credentials=CREDENTIALS, now=NOW, double_encode_path=False
        )
        assert (double == single) is same, path


# --- SigV4A --------------------------------------------------------------------------


def test_sigv4a_signs_for_any_region_and_verifies_with_awscrt() -> None:
    """SigV4A adds x-amz-region-set: * and an ECDSA signature awscrt verifies."""
    url = "https://billing.example.com/invoices"  # a custom domain: no region needed
    headers = lattice_client.sign("GET", url, credentials=WITH_TOKEN, now=NOW, sigv4a=True)
    assert headers["x-amz-region-set"] == "*"
    assert headers["authorization"].startswith(
        "AWS4-ECDSA-P256-SHA256 Credential=ASIAEXAMPLE/20261121/vpc-lattice-svcs/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-region-set;x-amz-security-token,"
    )
    # Rebuild the string to sign the way the spec defines it, then let awscrt verify.
    canonical_request = "\n".join(
        [
            "GET",
            "/invoices",
            "",
            "host:billing.example.com",
            "x-amz-content-sha256:UNSIGNED-PAYLOAD",
            "x-amz-date:20261121T120000Z",
            "x-amz-region-set:*",
            "x-amz-security-token:FwoGZXIvEXAMPLE",
            "",
            "host;x-amz-content-sha256;x-amz-date;x-amz-region-set;x-amz-security-token",
            "UNSIGNED-PAYLOAD",
        ]
    )
    string_to_sign = "\n".join(
        [
            "AWS4-ECDSA-P256-SHA256",
            "20261121T120000Z",
            "20261121/vpc-lattice-svcs/aws4_request",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _sigv4a.derived_key(WITH_TOKEN).public_key
    spki = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004")
    verifier = EC.new_key_from_der_data(
        spki + key.x.to_bytes(32, "big") + key.y.to_bytes(32, "big")
    )
    digest = hashlib.sha256(string_to_sign.encode()).digest()
    assert verifier.verify(digest, bytes.fromhex(signature_of(headers)))


def test_sigv4a_without_awscrt_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without awscrt, SigV4A raises MissingDependencyError naming vpc-lattice-client[crt]."""
    monkeypatch.setitem(sys.modules, "awscrt.crypto", None)
    monkeypatch.setattr(_sigv4a, "_keys", {})
    with pytest.raises(MissingDependencyError, match=r"vpc-lattice-client\[crt\]") as caught:
        lattice_client.sign("GET", URL, credentials=CREDENTIALS, now=NOW, sigv4a=True)
    assert isinstance(caught.value, ImportError)
    assert caught.value.extra == "crt"


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/invoices", "invoices", "https:///invoices", ""])
def test_a_url_without_a_host_is_refused(url: str) -> None:
    """A relative or hostless URL raises SigningError asking for an absolute URL."""
    with pytest.raises(SigningError, match="no host"):
        lattice_client.sign("GET", url, credentials=CREDENTIALS, region="us-west-2", now=NOW)


@pytest.mark.parametrize("bad", ["a\r\nInjected: 1", "a\nb", "a\rb", "a\x00b", "a\x7fb"])
def test_a_header_value_http_cannot_carry_is_refused(bad: str) -> None:
    """CR, LF, NUL and other controls in a value raise InvalidHeaderError naming the header."""
    with pytest.raises(InvalidHeaderError, match="X-Note") as caught:
        lattice_client.sign("GET", URL, [("X-Note", bad)], credentials=CREDENTIALS, now=NOW)
    assert caught.value.header == "X-Note"


@pytest.mark.parametrize("name", ["X Note", "X:Note", "", "Ü-Header", "X-Note\r\n"])
def test_an_invalid_header_name_is_refused(name: str) -> None:
    """A header name that is not an RFC 9110 token raises InvalidHeaderError."""
    with pytest.raises(InvalidHeaderError, match="not a valid header name"):
        lattice_client.sign("GET", URL, [(name, "v")], credentials=CREDENTIALS, now=NOW)


def test_an_invalid_method_is_refused() -> None:
    """A method with a space or a control character raises SigningError."""
    with pytest.raises(SigningError, match="not a valid HTTP method"):
        lattice_client.sign("GET /x", URL, credentials=CREDENTIALS, now=NOW)


def test_a_naive_datetime_is_refused() -> None:
    """now= without a time zone raises SigningError asking for an aware datetime."""
    with pytest.raises(SigningError, match="timezone-aware"):
        lattice_client.sign("GET", URL, credentials=CREDENTIALS, now=datetime(2026, 11, 21, 12))


def test_expired_credentials_are_refused() -> None:
    """Expired credentials raise CredentialsExpiredError naming the key id, never the key."""
    expired = Credentials("AKIDOLD", "secret-old", expiry=NOW - timedelta(seconds=1))
    with pytest.raises(CredentialsExpiredError, match="AKIDOLD") as caught:
        lattice_client.sign("GET", URL, credentials=expired, now=NOW)
    assert "secret-old" not in str(caught.value)


def test_a_host_without_a_region_is_refused_naming_the_host() -> None:
    """A custom domain without region= raises NoRegionError naming the host and both fixes."""
    with pytest.raises(NoRegionError, match=r"billing\.example\.com") as caught:
        lattice_client.sign(
            "GET", "https://billing.example.com/x", credentials=CREDENTIALS, now=NOW
        )
    assert caught.value.host == "billing.example.com"
    assert "region=" in str(caught.value)
    assert "sigv4a=True" in str(caught.value)


def test_signing_keys_are_derived_once_and_the_cache_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key is derived once per (secret, date, region, service); the cache never outgrows 64."""
    derivations: list[str] = []
    derive = _signing.derive_signing_key

    def counting(secret: str, date: str, region: str, service: str) -> bytes:
        derivations.append(secret)
        return derive(secret, date, region, service)

    monkeypatch.setattr(_signing, "derive_signing_key", counting)
    monkeypatch.setattr(_signing, "_signers", {})
    for _ in range(3):
        lattice_client.sign("GET", URL, credentials=CREDENTIALS, now=NOW)
    assert derivations == [CREDENTIALS.secret_access_key]
    for n in range(200):
        lattice_client.sign("GET", URL, credentials=Credentials("AKID", f"secret-{n}"), now=NOW)
    assert len(_signing._signers) <= 64
