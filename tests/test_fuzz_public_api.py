"""Every public entry point, fed arbitrary input: a typed error or a correct result, never
another exception, never a hang.

Typed means a `LatticeError` subclass; where httpx itself refuses what it was
given before our code runs, its own ``httpx.InvalidURL`` too (it is httpx's
typed error, and nothing is sent). Nothing here touches the network: clients
send through ``httpx.MockTransport`` and ``lattice-curl``'s HTTP transport is
replaced by one; the property is about our exceptions, not about delivery.
Example counts keep the module well under a minute on a busy machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import string
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any
from unittest import mock

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import lattice_client
import lattice_client.grpc
from lattice_client import Credentials, LatticeError
from lattice_client._curl import main as curl
from lattice_client.aws_lambda import InvalidEventError, parse_event

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
FEW = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token")
HOST = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
UTC = timezone.utc
# Characters that matter to URLs, headers and scopes, with some that never should appear.
NASTY = "\x00\t\r\n \"#%&'()*+,-./:;<=>?@[\\]^_`{|}~\x7f\u00b2\u0661\u00e9\u2603\ud800\udc80"
nasty_text = st.text(alphabet=st.sampled_from(string.ascii_letters + string.digits + NASTY))
any_text = st.one_of(nasty_text, st.text())
junk_but_none = st.one_of(st.integers(), st.binary(max_size=8), st.floats(), st.booleans())
junk = st.one_of(st.none(), junk_but_none)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``strategy`` most of the time, else something of the wrong type."""
    return mostly(strategy, junk)


def mostly(
    good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], odds: int = 4
) -> st.SearchStrategy[Any]:
    """``good`` ``odds`` times out of ``odds + 1``, else ``bad``: every argument is bad
    now and then, and often enough all are good to reach the signer."""
    # Not one_of(good, good, good, good, bad): one_of flattens ``bad``'s own branches.
    return st.integers(0, odds).flatmap(lambda pick: bad if pick == odds else good)


# Text with no control character and no lone surrogate: fine in a path or a header value.
plain_text = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20)
hosts = mostly(
    st.sampled_from([HOST, "api.example.com", "[::1]", "127.0.0.1", "b\u00fccher.de"]),
    st.one_of(nasty_text, st.just("xn--.com")),
    odds=9,
)
ports = mostly(
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda n: f":{n}")),
    st.one_of(st.integers(65536, 10**6).map(lambda n: f":{n}"), nasty_text.map(":{}".format)),
    odds=9,
)
urls = mostly(
    st.builds(
        "{}://{}{}{}{}".format,
        mostly(st.sampled_from(["https", "http"]), st.sampled_from(["HTTPS", "ftp", ""]), 9),
        st.sampled_from(["", "", "user:pw@"]),
        hosts,
        ports,
        mostly(plain_text, nasty_text, 9).map(lambda path: "/" + path),
    ),
    any_text,
)
header_names = mostly(
    st.one_of(
        st.sampled_from(["accept", "user-agent", "x-forwarded-for", ":authority", "x-amz-date"]),
        st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True),
    ),
    nasty_text,
)
header_values = mostly(plain_text, any_text)
header_pairs = st.lists(st.tuples(maybe(header_names), maybe(header_values)), max_size=4)
headers = mostly(
    st.one_of(header_pairs, st.dictionaries(header_names, header_values, max_size=3)),
    st.one_of(junk, any_text),
)
aware = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1), timezones=st.just(UTC)
)
nows = mostly(st.one_of(st.none(), aware), st.one_of(st.datetimes(), any_text, st.integers()))
regions = mostly(
    st.sampled_from([None, "us-west-2", "eu-west-1"]),
    st.one_of(st.just("us west"), any_text, junk),
)
services = mostly(st.just("vpc-lattice-svcs"), st.one_of(any_text, junk))
region_sets = mostly(st.sampled_from(["*", "us-west-2,us-east-1"]), st.one_of(any_text, junk))
credential_fields = mostly(
    st.from_regex(r"[A-Za-z0-9/+]{16,40}", fullmatch=True), st.one_of(any_text, junk)
)
expiries = mostly(st.one_of(st.none(), aware), st.one_of(st.datetimes(), any_text))


json_like = st.recursive(
    st.one_of(junk, any_text, st.floats(allow_nan=True, allow_infinity=True)),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(st.one_of(any_text, st.integers()), children, max_size=4),
    ),
    max_leaves=12,
)


class Provider:
    """A credentials provider that returns whatever it was given."""

    def __init__(self, value: object) -> None:
        self.value = value

    def get_credentials(self) -> object:
        return self.value


def assert_clean_headers(signed: object) -> None:
    """What sign() returns: str names and values that HTTP can carry, with a signature."""
    assert isinstance(signed, Mapping)
    for name, value in signed.items():
        assert isinstance(name, str)
        assert isinstance(value, str)
        assert not any(char in value for char in "\r\n\x00"), (name, value)
    assert signed["authorization"].startswith(("AWS4-HMAC-SHA256 ", "AWS4-ECDSA-P256-SHA256 "))


@FUZZ
@given(
    method=maybe(mostly(st.sampled_from(["GET", "POST", "PATCH"]), nasty_text)),
    url=maybe(urls),
    headers=headers,
    region=regions,
    service=services,
    now=nows,
    region_set=region_sets,
    double_encode_path=mostly(st.booleans(), junk),
    credentials=mostly(
        st.just(CREDENTIALS),
        st.one_of(junk_but_none, st.builds(Provider, json_like)),
    ),
)
def test_sign_gives_headers_or_a_typed_error(
    method: Any,
    url: Any,
    headers: Any,
    region: Any,
    service: Any,
    now: Any,
    region_set: Any,
    double_encode_path: Any,
    credentials: Any,
) -> None:
    """sign() with any method, URL, headers, credentials and options: headers or a LatticeError."""
    try:
        signed = lattice_client.sign(
            method,
            url,
            headers,
            credentials=credentials,
            region=region,
            service=service,
            now=now,
            region_set=region_set,
            double_encode_path=double_encode_path,
        )
    except LatticeError as error:
        event(f"refused: {type(error).__name__}")
        message = str(error)
    else:
        message = ""
    assert CREDENTIALS.secret_access_key not in message
    if message:
        return
    event("signed")
    assert_clean_headers(signed)


@FEW
@given(url=urls, headers=header_pairs, region_set=region_sets)
def test_sign_sigv4a_gives_headers_or_a_typed_error(
    url: str, headers: Any, region_set: Any
) -> None:
    """The same for SigV4A, whose region set is copied into x-amz-region-set."""
    pytest.importorskip("awscrt")
    try:
        signed = lattice_client.sign(
            "GET", url, headers, credentials=CREDENTIALS, sigv4a=True, region_set=region_set
        )
    except LatticeError:
        return
    assert_clean_headers(signed)


@FUZZ
@given(
    access_key_id=credential_fields,
    secret_access_key=credential_fields,
    session_token=st.one_of(st.none(), credential_fields),
    expiry=expiries,
)
def test_credentials_are_made_or_refused_with_a_typed_error(
    access_key_id: Any, secret_access_key: Any, session_token: Any, expiry: Any
) -> None:
    """Credentials(...) with any fields: a snapshot that signs, or a ConfigurationError."""
    try:
        credentials = Credentials(access_key_id, secret_access_key, session_token, expiry)
    except LatticeError as error:
        message = str(error)
    else:
        message = ""
    if isinstance(secret_access_key, str) and len(secret_access_key) > 3:
        assert secret_access_key not in message
    if message:
        return
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        signed = lattice_client.sign("GET", f"https://{HOST}/", credentials=credentials, now=now)
    except lattice_client.CredentialsExpiredError:
        return
    assert_clean_headers(signed)


client_options = st.fixed_dictionaries(
    {},
    optional={
        "region": regions,
        "service": services,
        "sigv4a": st.one_of(st.just(False), junk),
        "region_set": region_sets,
        "signing_origins": st.one_of(st.lists(maybe(hosts), max_size=2), junk, any_text),
        "strict_origins": mostly(st.booleans(), junk),
        "double_encode_path": st.one_of(st.booleans(), junk),
        "raise_for_status": st.one_of(st.booleans(), junk),
        "headers": st.one_of(st.dictionaries(header_names, any_text, max_size=2), junk),
    },
)
request_parts = st.fixed_dictionaries(
    {
        "method": mostly(st.sampled_from(["GET", "POST"]), nasty_text),
        "url": urls,
        "headers": st.one_of(st.dictionaries(header_names, any_text, max_size=3), header_pairs),
        "status": st.sampled_from([200, 403, 404, 500, 503]),
        "body": st.binary(max_size=64),
    }
)
# httpx's own typed refusals of a method, URL or header it cannot build a request from.
HTTPX_REFUSALS = (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def _answer(status: int, body: bytes) -> httpx.MockTransport:
    """A transport answering ``status``, refusing what httpcore refuses before sending."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https") or not request.url.host:
            raise httpx.UnsupportedProtocol("not an absolute http(s) URL", request=request)
        return httpx.Response(status, content=body)

    return httpx.MockTransport(answer)


def _without_env() -> Any:
    return mock.patch.dict(
        "os.environ", {"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "NO_PROXY": "", "no_proxy": ""}
    )


@FUZZ
@given(options=client_options, parts=request_parts)
def test_client_sends_or_refuses_with_a_typed_error(
    options: dict[str, Any], parts: dict[str, Any]
) -> None:
    """Client(...) then one request: a response, or a LatticeError (or httpx's own refusal)."""
    with _without_env():
        try:
            client = lattice_client.Client(
                credentials=CREDENTIALS,
                transport=_answer(parts["status"], parts["body"]),
                **options,
            )
        except LatticeError:
            return
        with client:
            try:
                response = client.request(parts["method"], parts["url"], headers=parts["headers"])
            except (LatticeError, *HTTPX_REFUSALS) as error:
                event(f"request refused: {type(error).__name__}")
                return
    event("sent")
    assert response.status_code == parts["status"]
    if response.request.headers.get("authorization"):
        assert response.request.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"


@FEW
@given(options=client_options, parts=request_parts)
def test_async_client_sends_or_refuses_with_a_typed_error(
    options: dict[str, Any], parts: dict[str, Any]
) -> None:
    """The async twin, on asyncio."""

    async def run() -> httpx.Response | None:
        try:
            client = lattice_client.AsyncClient(
                credentials=CREDENTIALS,
                transport=_answer(parts["status"], parts["body"]),
                **options,
            )
        except LatticeError:
            return None
        async with client:
            try:
                return await client.request(parts["method"], parts["url"], headers=parts["headers"])
            except (LatticeError, *HTTPX_REFUSALS):
                return None

    with _without_env():
        response = asyncio.run(run())
    assert response is None or response.status_code == parts["status"]


@FUZZ
@given(
    target=st.one_of(st.sampled_from(["127.0.0.1:1", f"{HOST}:443", "unix:/tmp/x"]), any_text),
    authority=st.one_of(st.none(), hosts, junk),
    region=regions,
    sigv4a=st.booleans(),
    region_set=region_sets,
    service=services,
)
def test_grpc_channel_helpers_check_their_arguments(
    target: Any, authority: Any, region: Any, sigv4a: bool, region_set: Any, service: Any
) -> None:
    """insecure_channel(...) with any arguments: a channel, or a LatticeError."""
    if sigv4a:
        pytest.importorskip("awscrt")
    with _without_env():
        try:
            channel = lattice_client.grpc.insecure_channel(
                target,
                aws_credentials=CREDENTIALS,
                authority=authority,
                region=region,
                sigv4a=sigv4a,
                region_set=region_set,
                service=service,
            )
        except LatticeError as error:
            event(f"refused: {type(error).__name__}")
            return
    event("channel")
    channel.close()


@FUZZ
@given(
    event=st.one_of(
        json_like,
        st.fixed_dictionaries(
            {"method": maybe(any_text), "raw_path": maybe(any_text)},
            optional={
                "headers": st.dictionaries(maybe(any_text), json_like, max_size=3),
                "body": json_like,
                "is_base64_encoded": json_like,
                "query_string_parameters": json_like,
                "version": st.sampled_from(["2.0", "1.0", 2]),
                "requestContext": json_like,
            },
        ),
    )
)
def test_parse_event_parses_or_refuses_any_python_value(event: Any) -> None:
    """parse_event with any value, not only JSON: a request or InvalidEventError."""
    try:
        request = parse_event(event)
    except InvalidEventError:
        return
    assert isinstance(request.body, bytes)


@FUZZ
@given(
    status=st.one_of(st.integers(100, 999), junk, any_text),
    response_headers=st.one_of(
        st.lists(st.tuples(st.sampled_from(["date", "x-amzn-errortype"]), any_text), max_size=2),
        st.dictionaries(any_text, any_text, max_size=2),
    ),
    body=st.one_of(
        st.binary(max_size=256),
        any_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.sampled_from(
            [
                b"AccessDeniedException: User: anonymous is not authorized",
                b'{"__type": "InvalidSignatureException", "message": "Signature expired"}',
                b"Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z",
            ]
        ),
        any_text,
        junk,
    ),
    redact=st.lists(any_text, max_size=2),
)
def test_error_from_response_classifies_or_refuses_any_body(
    status: Any, response_headers: Any, body: Any, redact: list[str]
) -> None:
    """error_from_response with any status, headers and body: None, an error, or a typed refusal."""
    try:
        error = lattice_client.error_from_response(status, response_headers, body, redact=redact)
    except LatticeError:
        return
    assert error is None or isinstance(error, lattice_client.LatticeResponseError)


@FUZZ
@given(
    status=st.integers(400, 599),
    body=st.binary(max_size=512),
    content_encoding=st.sampled_from([None, "gzip", "identity"]),
)
def test_raise_for_status_raises_the_typed_error_for_any_body(
    status: int, body: bytes, content_encoding: str | None
) -> None:
    """raise_for_status on any error body, read or streamed: always a LatticeResponseError."""
    request = httpx.Request("GET", f"https://{HOST}/")
    response_headers = {"content-encoding": content_encoding} if content_encoding else {}
    for streamed in (False, True):
        response = httpx.Response(
            status, headers=response_headers, stream=httpx.ByteStream(body), request=request
        )
        if not streamed:
            try:
                response.read()
            except httpx.DecodingError:  # httpx's own refusal of a bad gzip body
                continue
        with pytest.raises(lattice_client.LatticeResponseError):
            lattice_client.raise_for_status(response)


# -- lattice-curl, in process -----------------------------------------------------------------


@contextlib.contextmanager
def curl_world(status: int) -> Iterator[io.StringIO]:
    """Credentials in the environment, no files, and an HTTP transport that answers ``status``."""
    environment = {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_REGION": "us-west-2",
        "AWS_CONFIG_FILE": "/nonexistent/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
        "AWS_PROFILE": "",
        "HTTP_PROXY": "",
        "HTTPS_PROXY": "",
        "ALL_PROXY": "",
    }

    def answer(self: Any, request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(status, content=b"answer", request=request)

    stderr = io.StringIO()
    with (
        mock.patch.dict("os.environ", environment),
        mock.patch.object(httpx.HTTPTransport, "handle_request", answer),
        mock.patch("sys.stderr", stderr),
        mock.patch("sys.stdout", io.TextIOWrapper(io.BytesIO())),
    ):
        yield stderr


# What a command line can hold: text decoded from bytes as Python decodes argv
# (undecodable bytes as lone surrogates \udc80-\udcff, never \ud800).
argv_text = st.one_of(
    nasty_text.map(lambda text: text.replace("\ud800", "")),
    st.binary(max_size=12).map(os.fsdecode),
)
option = st.one_of(
    st.tuples(
        st.sampled_from(["-H"]),
        st.one_of(argv_text, st.builds("{}: {}".format, header_names, argv_text)),
    ),
    st.tuples(
        st.sampled_from(["-X", "--region", "--service", "--region-set", "--user-agent"]), argv_text
    ),
    st.tuples(
        st.sampled_from(["-m", "--connect-timeout", "--max-redirs"]),
        st.one_of(
            argv_text,
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.sampled_from(["inf", "-inf", "nan", "1e400", "0", "-1", "1e-300"]),
        ),
    ),
    st.tuples(
        st.sampled_from(["-d", "--data-raw", "--data-binary"]),
        argv_text.filter(lambda s: not s.startswith("@")),
    ),
    st.tuples(st.sampled_from(["-s", "-S", "-i", "-I", "-L", "-f", "--sigv4a", "--compressed"])),
)


@FEW
@given(
    options=st.lists(option, max_size=4),
    url=st.one_of(urls, st.builds("http://127.0.0.1:8080/{}".format, nasty_text)),
    status=st.sampled_from([200, 403, 404, 500]),
)
def test_curl_main_returns_an_exit_code_for_any_arguments(
    options: list[tuple[str, ...]], url: str, status: int
) -> None:
    """main([...]) with any options and URL returns an exit code; no traceback escapes."""
    if "--sigv4a" in [part for parts in options for part in parts]:
        pytest.importorskip("awscrt")
    argv = [part for parts in options for part in parts] + ["--", url]
    with curl_world(status) as stderr:
        code = curl(argv)
    event(f"exit {code}")
    assert isinstance(code, int)
    assert 0 <= code < 256, code
    assert "Traceback" not in stderr.getvalue()


lattice_header_names = mostly(
    st.sampled_from(
        [
            "x-amzn-lattice-identity",
            "X-Amzn-Lattice-Network",
            "x-amzn-lattice-target",
            "x-amzn-lattice-identity-tags",
            b"x-amzn-lattice-identity",
        ]
    ),
    st.one_of(any_text, junk),
)
lattice_header_values = mostly(
    st.lists(
        st.tuples(
            st.sampled_from(["Principal", "SessionName", "Type", "SourceVpcArn", "X"]), plain_text
        ),
        max_size=4,
    ).map(lambda fields: "; ".join(f"{key}={value}" for key, value in fields)),
    st.one_of(any_text, junk, st.lists(any_text, max_size=2)),
)


@FUZZ
@given(
    headers=st.one_of(
        st.lists(st.tuples(lattice_header_names, lattice_header_values), max_size=4),
        st.dictionaries(
            st.one_of(lattice_header_names, st.integers()), lattice_header_values, max_size=4
        ),
        junk,
        any_text,
    )
)
def test_parse_lattice_headers_parses_or_refuses_any_headers(headers: Any) -> None:
    """parse_lattice_headers with any headers: the identity, or a LatticeError."""
    try:
        parsed = lattice_client.parse_lattice_headers(headers)
    except LatticeError as error:
        event(f"refused: {type(error).__name__}")
        return
    event("parsed")
    assert isinstance(parsed, lattice_client.LatticeHeaders)


@FEW
@given(options=client_options)
def test_transports_are_made_or_refused_with_a_typed_error(options: dict[str, Any]) -> None:
    """LatticeTransport / AsyncLatticeTransport with any options: made, or a LatticeError."""
    options.pop("raise_for_status", None)
    options.pop("headers", None)
    with _without_env():
        for make in (lattice_client.LatticeTransport, lattice_client.AsyncLatticeTransport):
            try:
                make(
                    httpx.MockTransport(lambda request: httpx.Response(200)),
                    credentials=CREDENTIALS,
                    **options,
                )
            except LatticeError:
                continue
