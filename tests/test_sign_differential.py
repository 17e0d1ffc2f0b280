"""`lattice_client.sign` against AWS's C signer (awscrt) on random requests.

awscrt is the reference: it is the signer the AWS SDKs use and the one AWS's
own Lattice samples call. It is given the request exactly as httpx puts it on
the wire (`httpx.URL(url).raw_path` and the Host httpx sends), the same time,
the same signed headers, `x-amz-content-sha256: UNSIGNED-PAYLOAD`, double URI
encoding and path normalisation; `lattice_client.sign` is given the URL.

botocore is a second opinion only where it agrees with awscrt: it passes raw
query characters such as ``:``, ``/``, ``+`` and ``*`` through unencoded where
awscrt re-encodes them, so its test draws queries from unreserved characters
and ``%XX`` escapes only.

A lone ``%`` in a query is left out too: awscrt refuses to sign it, so there
is no reference (a fixed test pins what we do). Inputs no HTTP client can send
are left out of the strategies: lone surrogates (not UTF-8), control characters
in a URL (httpx refuses them), ``#`` (it starts the fragment, which is never
sent) and ``?`` in a path (it starts the query).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from datetime import datetime, timezone
from urllib.parse import urlsplit

import httpx
from awscrt.auth import (
    AwsCredentialsProvider,
    AwsSignatureType,
    AwsSignedBodyHeaderType,
    AwsSignedBodyValue,
    AwsSigningAlgorithm,
    AwsSigningConfig,
    aws_sign_request,
)
from awscrt.http import HttpHeaders, HttpRequest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import lattice_client
from lattice_client._api import _WIRE_QUERY, _authority, _on_the_wire, _wire_path
from lattice_client._lattice import UNSIGNED_HEADER_PREFIXES, UNSIGNED_HEADERS

HOST = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
REGION = "us-west-2"
SERVICE = "vpc-lattice-svcs"
CREDENTIALS = lattice_client.Credentials(
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "IQoJb3JpZ2luX2VjEXAMPLETOKEN=="
)

DIFFERENTIAL = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# --- strategies -----------------------------------------------------------------

_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "#?")
_UNICODE = ["é", "ü", "ß", "ሴ", "日本", "😀"]
_ESCAPES = ["%41", "%2F", "%2f", "%25", "%20", "%E1%88%B4", "%7E", "%3D", "%26", "%2B"]


def _text(alphabet: str, pieces: Sequence[str], max_size: int = 6) -> st.SearchStrategy[str]:
    atoms = st.one_of(st.sampled_from(list(alphabet)), st.sampled_from(list(pieces)))
    return st.lists(atoms, max_size=max_size).map("".join)


SEGMENT = st.one_of(
    st.sampled_from(["", ".", "..", "...", "%", "%zz", "%2e", "a b", "~user"]),
    _text(_PRINTABLE.replace("/", "") + " " + string.ascii_letters, [*_UNICODE, *_ESCAPES]),
)
PATH = st.lists(SEGMENT, max_size=6).map(lambda segments: "/" + "/".join(segments))
# awscrt cannot parse a target whose path holds ":/" (see _for_awscrt).
AWSCRT_PATH = PATH.filter(lambda path: ":/" not in path)

# No lone "%" in a query: awscrt refuses to sign one (AWS_ERROR_MALFORMED_INPUT_STRING), so
# there is no reference; tests/test_signing.py pins our choice (read as %25).
_QUERY_CHARS = (_PRINTABLE + " ").translate({ord("&"): None, ord("="): None, ord("%"): None}) + "?"
QUERY_COMPONENT = st.one_of(
    st.just(""),
    _text(_QUERY_CHARS, [*_UNICODE, *_ESCAPES, ":", "/", "+", "*"], max_size=5),
)
QUERY_PAIR = st.tuples(QUERY_COMPONENT, st.one_of(st.none(), QUERY_COMPONENT))
QUERY = st.lists(QUERY_PAIR, max_size=6).map(
    lambda pairs: "&".join(name if value is None else f"{name}={value}" for name, value in pairs)
)

_TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
HEADER_NAME = st.one_of(
    st.sampled_from(
        [
            "accept",
            "Content-Type",
            "X-Custom",
            "x-custom",
            "My-Header1",
            "user-agent",
            "X-Forwarded-For",
            "x-amzn-trace-id",
            "connection",
            "content-length",
        ]
    ),
    st.text(_TOKEN_CHARS, min_size=1, max_size=8).map(lambda name: "x-" + name),
)
HEADER_VALUE = st.text(string.ascii_letters + string.digits + " \t\"',;=:/", max_size=12)
HEADERS = st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=6)
METHOD = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    st.text(string.ascii_uppercase, min_size=1, max_size=8),
)
NOW = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.just(timezone.utc),
)

# --- the reference signers ---------------------------------------------------


def _signed_by_us(name: str) -> bool:
    """The header policy lattice_client applies, handed to awscrt as should_sign_header."""
    lname = name.lower()
    return lname not in UNSIGNED_HEADERS and not lname.startswith(UNSIGNED_HEADER_PREFIXES)


def _wire(url: str) -> tuple[str, str]:
    """The request target and Host header httpx sends for ``url``."""
    request = httpx.Request("GET", url)
    return request.url.raw_path.decode("ascii"), request.headers["host"]


def _for_awscrt(target: str) -> str:
    """``target`` with the one workaround awscrt needs: no ":/" in its query.

    awscrt parses the request target as a URI and takes ":/" for a scheme
    separator: it refuses "?a=:/b" (AWS_ERROR_MALFORMED_INPUT_STRING) and misreads
    "?a=b://c". It decodes every query component before encoding it, so "%3A"
    canonicalises exactly as ":" would. Paths with ":/" are not generated (a path
    is not decoded, so there is no equivalent to hand it).
    """
    path, mark, query = target.partition("?")
    if ":/" in query:
        query = query.replace(":", "%3A")
    return path + mark + query


def awscrt_headers(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]],
    now: datetime,
    *,
    credentials: lattice_client.Credentials = CREDENTIALS,
    region: str = REGION,
    sigv4a: bool = False,
    double_encode: bool = True,
) -> dict[str, str]:
    """The headers awscrt adds when signing the request httpx would send for ``url``."""
    target, host = _wire(url)
    request = HttpRequest(method, _for_awscrt(target), HttpHeaders([("host", host), *headers]))
    config = AwsSigningConfig(
        algorithm=AwsSigningAlgorithm.V4_ASYMMETRIC if sigv4a else AwsSigningAlgorithm.V4,
        signature_type=AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=AwsCredentialsProvider.new_static(
            credentials.access_key_id,
            credentials.secret_access_key,
            credentials.session_token,
        ),
        region=region,
        service=SERVICE,
        date=now,
        should_sign_header=_signed_by_us,
        use_double_uri_encode=double_encode,
        should_normalize_uri_path=True,
        signed_body_value=AwsSignedBodyValue.UNSIGNED_PAYLOAD,
        signed_body_header_type=AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256,
    )
    signed = aws_sign_request(request, config).result()
    return {
        name.lower(): value
        for name, value in signed.headers
        if name.lower().startswith(("x-amz-", "authorization"))
    }


def botocore_authorization(
    method: str, url: str, headers: Sequence[tuple[str, str]], ours: dict[str, str]
) -> str:
    """botocore's Authorization for the same wire request, signed headers and timestamp."""
    target, host = _wire(url)
    request = AWSRequest(method=method, url=f"https://{host}{target}")
    for name, value in headers:
        if _signed_by_us(name):
            request.headers.add_header(name, value)
    for name in ("x-amz-content-sha256", "x-amz-security-token"):
        request.headers[name] = ours[name]
    request.context["timestamp"] = ours["x-amz-date"]
    request.headers["X-Amz-Date"] = ours["x-amz-date"]
    auth = SigV4Auth(
        BotocoreCredentials(
            CREDENTIALS.access_key_id, CREDENTIALS.secret_access_key, CREDENTIALS.session_token
        ),
        SERVICE,
        REGION,
    )
    canonical_request = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical_request), request)
    scope = f"{ours['x-amz-date'][:8]}/{REGION}/{SERVICE}/aws4_request"
    return (
        f"AWS4-HMAC-SHA256 Credential={CREDENTIALS.access_key_id}/{scope}, "
        f"SignedHeaders={auth.signed_headers(auth.headers_to_sign(request))}, "
        f"Signature={signature}"
    )


def _url(path: str, query: str | None) -> str:
    return f"https://{HOST}{path}" + ("" if query is None else f"?{query}")


# --- properties ------------------------------------------------------------------


@DIFFERENTIAL
@given(
    method=METHOD,
    path=AWSCRT_PATH,
    query=st.one_of(st.none(), QUERY),
    headers=HEADERS,
    now=NOW,
)
def test_sigv4_matches_awscrt(
    method: str, path: str, query: str | None, headers: list[tuple[str, str]], now: datetime
) -> None:
    """For any method, path, query and header set, our SigV4 headers equal awscrt's."""
    url = _url(path, query)
    ours = lattice_client.sign(method, url, headers, credentials=CREDENTIALS, now=now)
    theirs = awscrt_headers(method, url, headers, now)
    assert ours == theirs


@settings(max_examples=100, deadline=None)
@given(path=AWSCRT_PATH, query=st.one_of(st.none(), QUERY), headers=HEADERS, now=NOW)
def test_sigv4a_canonicalises_like_awscrt(
    path: str, query: str | None, headers: list[tuple[str, str]], now: datetime
) -> None:
    """SigV4A: same signed headers and credential scope as awscrt (the ECDSA part is random)."""
    url = _url(path, query)
    ours = lattice_client.sign("GET", url, headers, credentials=CREDENTIALS, now=now, sigv4a=True)
    theirs = awscrt_headers("GET", url, headers, now, region="*", sigv4a=True)
    assert ours.keys() == theirs.keys()
    for name in ours.keys() - {"authorization"}:
        assert ours[name] == theirs[name]
    assert (
        ours["authorization"].rpartition("Signature=")[0]
        == (theirs["authorization"].rpartition("Signature=")[0])
    )


_BOTOCORE_QUERY_COMPONENT = _text(
    string.ascii_letters + string.digits + "-._~", ["%2F", "%E1%88%B4", "%3D", "%26", "%2B"]
)


@DIFFERENTIAL
@given(
    path=AWSCRT_PATH,
    query=st.lists(st.tuples(_BOTOCORE_QUERY_COMPONENT, _BOTOCORE_QUERY_COMPONENT), max_size=5).map(
        lambda pairs: "&".join(f"{name}={value}" for name, value in pairs)
    ),
    headers=HEADERS,
    now=NOW,
)
def test_sigv4_matches_botocore_where_botocore_agrees_with_awscrt(
    path: str, query: str, headers: list[tuple[str, str]], now: datetime
) -> None:
    """On queries botocore handles like awscrt (unreserved and %XX), botocore signs as we do."""
    url = _url(path, query or None)
    ours = lattice_client.sign("GET", url, headers, credentials=CREDENTIALS, now=now)
    assert ours == awscrt_headers("GET", url, headers, now)  # the domain where they agree
    assert ours["authorization"] == botocore_authorization("GET", url, headers, ours)


HOSTS = st.one_of(
    st.sampled_from(
        [HOST, "Example.COM", "bücher.example", "127.0.0.1", "[::1]", "[2001:DB8::1]", "a-b.c"]
    ),
    st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=10).map(
        lambda label: f"{label}.example"
    ),
)
PORTS = st.one_of(st.none(), st.sampled_from([80, 443, 8080, 8443, 1]))


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTPS"]),
    userinfo=st.sampled_from(["", "user@", "user:pw@"]),
    host=HOSTS,
    port=PORTS,
    path=PATH,
    query=st.one_of(st.none(), QUERY),
)
def test_wire_form_and_host_agree_with_httpx(
    scheme: str, userinfo: str, host: str, port: int | None, path: str, query: str | None
) -> None:
    """sign() canonicalises exactly the path, query and Host that httpx sends for the URL."""
    # httpx keeps an explicit default port when the scheme is not in lowercase (it
    # compares the scheme before lowercasing it): a quirk of one client, not followed.
    assume(scheme.islower() or port not in (80, 443))
    authority = f"{userinfo}{host}" + ("" if port is None else f":{port}")
    url = f"{scheme}://{authority}{path}" + ("" if query is None else f"?{query}")
    target, httpx_host = _wire(url)
    parts = urlsplit(url)
    ours = _wire_path(parts.path) + (
        "" if query is None else "?" + _on_the_wire(parts.query, _WIRE_QUERY)
    )
    assert ours == target
    assert _authority(parts.netloc, parts.scheme.lower()) == httpx_host


def test_the_differential_reference_sees_a_token_and_dot_segments() -> None:
    """A fixed example: awscrt and sign() agree on a token, dot segments, reserved query chars."""
    url = _url("/a/./b/../c//d/", "b=2&a=:/+*&a=1&empty=")
    now = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    ours = lattice_client.sign("GET", url, {"Accept": "a  b"}, credentials=CREDENTIALS, now=now)
    assert ours == awscrt_headers("GET", url, [("Accept", "a  b")], now)
    assert "x-amz-security-token" in ours["authorization"]


@settings(max_examples=150, deadline=None)
@given(path=AWSCRT_PATH, now=NOW)
def test_single_encoding_matches_awscrt(path: str, now: datetime) -> None:
    """double_encode_path=False canonicalises paths as awscrt's use_double_uri_encode=False."""
    url = _url(path, None)
    ours = lattice_client.sign(
        "GET", url, credentials=CREDENTIALS, now=now, double_encode_path=False
    )
    assert ours == awscrt_headers("GET", url, [], now, double_encode=False)
