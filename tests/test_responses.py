"""Lattice's answers become typed errors: each format, via respx and via a loopback server."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx
from _lattice_answers import BY_ID, CASE_IDS, CASES, ROLE, SERVICE_ARN, Case, answers_app, denial
from _servers import uvicorn_server
from hypothesis import given, settings
from hypothesis import strategies as st

import lattice_client
from lattice_client._answers import BODY_LIMIT, _classify

URL = "https://billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws/invoices/42"


def _check(error: lattice_client.LatticeResponseError, case: Case) -> None:
    assert type(error).__name__ == case.error.__name__
    assert isinstance(error, case.error)
    assert error.status_code == case.status
    for name, expected in case.attributes.items():
        assert getattr(error, name) == expected, name


# -- the pure parser, as any HTTP stack (or gRPC) uses it --------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_error_from_response_classifies_each_format(case: Case) -> None:
    """Each documented format and variant gives its class and parsed attributes, without httpx."""
    error = lattice_client.error_from_response(case.status, case.headers, case.body)
    assert error is not None
    _check(error, case)
    assert not isinstance(error, httpx.HTTPStatusError)
    assert error.body == case.body


@pytest.mark.parametrize("status", [100, 200, 204, 301, 304, 399, 600])
def test_error_from_response_is_none_for_non_errors(status: int) -> None:
    """Only 4xx and 5xx answers are errors."""
    assert lattice_client.error_from_response(status, {}, denial().encode()) is None


@pytest.mark.parametrize(
    ("case_id", "fix"),
    [
        ("denied-service-policy", f"to the auth policy of service {SERVICE_ARN}."),
        ("denied-network-policy", "to the auth policy of the service network"),
        ("denied-identity-policy", f"to an IAM identity policy of {ROLE}."),
        ("explicit-deny-identity", "a Deny in an IAM policy of"),
        ("explicit-deny-service", "denies " + ROLE),
        ("anonymous", "the request reached Lattice unsigned"),
    ],
)
def test_access_denied_message_says_what_to_fix(case_id: str, fix: str) -> None:
    """The message is Lattice's own line, then one line naming the policy to change."""
    case = BY_ID[case_id]
    error = lattice_client.error_from_response(case.status, case.headers, case.body)
    first, second = str(error).split("\n")
    assert first == case.body.decode().strip()
    assert second.startswith("Fix: ")
    assert fix in second


def test_expired_signature_reports_the_measured_skew() -> None:
    """With the request's x-amz-date and Lattice's Date header, the error carries the skew."""
    from datetime import datetime, timedelta, timezone

    signed_at = datetime(2026, 11, 21, 22, 50, tzinfo=timezone.utc)
    error = lattice_client.error_from_response(
        403,
        {"Date": "Sat, 21 Nov 2026 23:00:00 GMT"},
        BY_ID["signature-expired"].body,
        signed_at=signed_at,
    )
    assert isinstance(error, lattice_client.SignatureExpiredError)
    assert error.server_time == datetime(2026, 11, 21, 23, 0, tzinfo=timezone.utc)
    assert error.signed_at == signed_at
    assert error.skew == timedelta(minutes=10)
    assert "600 s behind Lattice's clock" in str(error)


def test_expiry_without_date_header_takes_lattice_time_from_the_message() -> None:
    """The AWS-wide expiry message names the server's time; it stands in for a missing Date."""
    from datetime import datetime, timezone

    error = lattice_client.error_from_response(403, {}, BY_ID["signature-expired"].body)
    assert isinstance(error, lattice_client.SignatureExpiredError)
    assert error.server_time == datetime(2026, 11, 21, 23, 0, tzinfo=timezone.utc)
    assert error.skew is None


def test_invalid_signature_far_outside_the_window_counts_as_expired() -> None:
    """An InvalidSignatureException worded otherwise is an expiry when clocks are 6 min apart."""
    from datetime import datetime, timezone

    error = lattice_client.error_from_response(
        403,
        [("date", "Sat, 21 Nov 2026 23:06:00 GMT")],
        b"InvalidSignatureException: Signature is stale",
        signed_at=datetime(2026, 11, 21, 23, 0, tzinfo=timezone.utc),
    )
    assert isinstance(error, lattice_client.SignatureExpiredError)


def test_base_errors_survive_pickling() -> None:
    """The httpx-free errors pickle (multiprocessing, task queues) with their attributes."""
    case = BY_ID["denied-service-policy"]
    error = lattice_client.error_from_response(case.status, case.headers, case.body)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 -- our own bytes
    assert type(copy) is lattice_client.AccessDeniedError
    assert str(copy) == str(error)
    assert copy.principal == ROLE


# -- raise_for_status on responses in memory (respx) --------------------------------------------


@respx.mock
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_raise_for_status_raises_typed_httpx_errors(case: Case) -> None:
    """The raised error is both the Lattice class and httpx.HTTPStatusError, with its response."""
    respx.get(URL).respond(case.status, headers=list(case.headers), content=case.body)
    with httpx.Client() as client:
        response = client.get(URL)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        lattice_client.raise_for_status(response)
    error = caught.value
    assert isinstance(error, lattice_client.LatticeResponseError)
    _check(error, case)
    assert error.response is response
    assert error.request is response.request
    assert str(error).startswith(f"GET {URL}: ")


@respx.mock
def test_raise_for_status_returns_a_success_untouched() -> None:
    """A 2xx/3xx response is returned as is; nothing raises."""
    respx.get(URL).respond(200, text="fine")
    with httpx.Client() as client:
        response = client.get(URL)
    assert lattice_client.raise_for_status(response) is response


@respx.mock
def test_message_leaves_out_the_query_and_echoed_signature() -> None:
    """A presigned query and an Authorization echoed by the target stay out of the message."""
    authorization = (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-west-2/vpc-lattice-svcs/aws4_request,"
        " SignedHeaders=host;x-amz-date, Signature=" + "ab12" * 16
    )
    echo = f"bad request; you sent authorization: {authorization}; sig {'ab12' * 16}"
    respx.get(URL).respond(400, text=echo)
    with httpx.Client() as client:
        response = client.get(
            URL,
            params={"X-Amz-Security-Token": "FQoGZXIvYXdzE-token"},
            headers={"authorization": authorization, "x-amz-security-token": "FQoGZXIvYXdzE-token"},
        )
    with pytest.raises(lattice_client.LatticeResponseError) as caught:
        lattice_client.raise_for_status(response)
    message = str(caught.value)
    assert "ab12ab12" not in message
    assert "FQoGZXIvYXdzE" not in message
    assert "AKIDEXAMPLE" not in message
    assert "[redacted]" in message


def test_message_leaves_out_a_password_in_the_url() -> None:
    """user:password in the URL stays out of the message."""
    request = httpx.Request("GET", URL.replace("https://", "https://reader:hunter2@"))
    response = httpx.Response(404, request=request)
    with pytest.raises(lattice_client.NotFoundError) as caught:
        lattice_client.raise_for_status(response)
    assert "hunter2" not in str(caught.value)
    assert str(caught.value).startswith(f"GET {URL}: 404 Not Found")


@respx.mock
@pytest.mark.anyio
async def test_araise_for_status_on_a_read_async_response() -> None:
    """araise_for_status classifies an AsyncClient response that is already read."""
    case = BY_ID["anonymous"]
    respx.get(URL).respond(case.status, content=case.body)
    async with httpx.AsyncClient() as client:
        response = await client.get(URL)
    with pytest.raises(lattice_client.AccessDeniedError) as caught:
        await lattice_client.araise_for_status(response)
    assert caught.value.anonymous


@pytest.mark.anyio
async def test_raise_for_status_refuses_an_unread_async_body() -> None:
    """The sync function cannot read an async body; it says to await araise_for_status."""
    case = BY_ID["denied-service-policy"]

    async def body() -> AsyncIterator[bytes]:
        yield case.body

    request = httpx.Request("GET", URL)
    response = httpx.Response(403, stream=_AsyncStream(body()), request=request)
    with pytest.raises(lattice_client.AsyncResponseError, match="araise_for_status"):
        lattice_client.raise_for_status(response)
    with pytest.raises(lattice_client.AccessDeniedError):
        await lattice_client.araise_for_status(response)
    assert await response.aread() == case.body


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk


class _CountingStream(httpx.SyncByteStream):
    """An endless error body that counts how much of it was pulled."""

    def __init__(self) -> None:
        self.pulled = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            self.pulled += 4096
            yield b"A" * 4096

    def close(self) -> None:
        self.closed = True


def test_an_endless_error_body_is_read_only_up_to_the_bound() -> None:
    """raise_for_status reads 64 KiB of an unread body, not the whole (here endless) stream."""
    stream = _CountingStream()
    response = httpx.Response(503, stream=stream, request=httpx.Request("GET", URL))
    with pytest.raises(lattice_client.ServiceUnavailableError) as caught:
        lattice_client.raise_for_status(response)
    assert stream.pulled == BODY_LIMIT
    assert len(caught.value.body) == BODY_LIMIT
    response.close()
    assert stream.closed


def test_a_compressed_unread_error_body_is_not_parsed_raw() -> None:
    """Raw gzip bytes are not text: a content-encoded unread body classifies by status alone."""
    import gzip

    raw = gzip.compress(denial().encode())
    response = httpx.Response(
        403,
        headers={"content-encoding": "gzip"},
        stream=httpx.ByteStream(raw),
        request=httpx.Request("GET", URL),
    )
    with pytest.raises(lattice_client.LatticeResponseError) as caught:
        lattice_client.raise_for_status(response)
    assert type(caught.value).__name__ == "LatticeResponseError"
    assert response.read() == denial().encode()


# -- over a real loopback server, sync and async, streamed and not ------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The loopback server answering each case at /<case id>."""
    with uvicorn_server(answers_app) as url:
        yield url


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_loopback_sync(server: str, case: Case, chunked: bool) -> None:
    """A read sync response from a real server gives the typed error for every format."""
    with httpx.Client(base_url=server) as client:
        response = client.get(f"/{case.id}", params={"chunked": "1"} if chunked else None)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        lattice_client.raise_for_status(response)
    assert isinstance(caught.value, lattice_client.LatticeResponseError)
    _check(caught.value, case)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_loopback_sync_streamed(server: str, case: Case, chunked: bool) -> None:
    """A streamed sync error is classified; its body is read (small) and stays readable."""
    with (
        httpx.Client(base_url=server) as client,
        client.stream("GET", f"/{case.id}", params={"chunked": "1"} if chunked else None) as r,
    ):
        with pytest.raises(lattice_client.LatticeResponseError) as caught:
            lattice_client.raise_for_status(r)
        _check(caught.value, case)
        assert r.is_closed  # a small body is read whole, which releases the connection
        assert r.read() == case.body


@pytest.mark.anyio
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_loopback_async(server: str, case: Case, chunked: bool) -> None:
    """A read async response from a real server gives the typed error for every format."""
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get(f"/{case.id}", params={"chunked": "1"} if chunked else None)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        await lattice_client.araise_for_status(response)
    assert isinstance(caught.value, lattice_client.LatticeResponseError)
    _check(caught.value, case)


@pytest.mark.anyio
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_loopback_async_streamed(server: str, case: Case, chunked: bool) -> None:
    """A streamed async error is classified, and its body still reads whole afterwards."""
    params = {"chunked": "1"} if chunked else None
    async with (
        httpx.AsyncClient(base_url=server) as client,
        client.stream("GET", f"/{case.id}", params=params) as r,
    ):
        with pytest.raises(lattice_client.LatticeResponseError) as caught:
            await lattice_client.araise_for_status(r)
        _check(caught.value, case)
        assert await r.aread() == case.body


def test_as_a_response_event_hook_every_error_raises(server: str) -> None:
    """raise_for_status as an httpx response hook raises for every error, body at hand."""
    hooks = {"response": [lattice_client.raise_for_status]}
    with httpx.Client(base_url=server, event_hooks=hooks) as client:
        assert client.get("/ok").status_code == 200
        with pytest.raises(lattice_client.AccessDeniedError) as caught:
            client.get("/anonymous")
        with pytest.raises(lattice_client.LatticeResponseError) as big:
            client.get("/big-error")
    assert caught.value.response is not None
    assert big.value.response is not None
    assert caught.value.response.text == BY_ID["anonymous"].body.decode()
    assert caught.value.response.is_closed
    assert big.value.response.is_closed
    assert len(big.value.body) == BODY_LIMIT


def test_client_option_raises_for_every_error_and_keeps_httpx_default_otherwise(
    server: str,
) -> None:
    """Client(raise_for_status=True) raises the typed error; without it, httpx's plain response."""
    credentials = lattice_client.Credentials(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    )
    calls: list[int] = []
    with lattice_client.Client(
        base_url=server,
        credentials=credentials,
        region="us-west-2",
        raise_for_status=True,
        event_hooks={"response": [lambda response: calls.append(response.status_code)]},
    ) as client:
        assert client.get("/ok").status_code == 200
        with pytest.raises(lattice_client.AccessDeniedError) as caught:
            client.get("/anonymous")
    assert isinstance(caught.value, httpx.HTTPStatusError)
    assert calls == [200, 403]  # the caller's own hooks still run, before ours
    with lattice_client.Client(
        base_url=server, credentials=credentials, region="us-west-2"
    ) as client:
        assert client.get("/anonymous").status_code == 403


@pytest.mark.anyio
async def test_async_client_option_raises_for_every_error(server: str) -> None:
    """AsyncClient(raise_for_status=True) raises the typed error from a streamed answer too."""
    credentials = lattice_client.Credentials(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    )
    async with lattice_client.AsyncClient(
        base_url=server, credentials=credentials, region="us-west-2", raise_for_status=True
    ) as client:
        assert (await client.get("/ok")).status_code == 200
        with pytest.raises(lattice_client.AccessDeniedError):
            await client.get("/anonymous", params={"chunked": "1"})


def test_client_option_must_be_a_bool() -> None:
    """raise_for_status= takes True or False; anything else is a configuration error."""
    with pytest.raises(lattice_client.ConfigurationError, match="raise_for_status"):
        lattice_client.Client(raise_for_status="yes", region="us-west-2")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_as_an_async_response_event_hook_every_error_raises(server: str) -> None:
    """araise_for_status as an AsyncClient response hook raises for every error."""
    hooks = {"response": [lattice_client.araise_for_status]}
    async with httpx.AsyncClient(base_url=server, event_hooks=hooks) as client:
        assert (await client.get("/ok")).status_code == 200
        with pytest.raises(lattice_client.SignatureExpiredError) as caught:
            await client.get("/signature-expired", params={"chunked": "1"})
    response = caught.value.response
    assert response is not None
    assert response.is_closed
    assert response.text == BY_ID["signature-expired"].body.decode()


def test_loopback_big_error_is_peeked_and_still_reads_whole(server: str) -> None:
    """A 1 MiB streamed error: 64 KiB go to the error, the caller can still read all 1 MiB."""
    with httpx.Client(base_url=server) as client, client.stream("GET", "/big-error") as r:
        with pytest.raises(lattice_client.LatticeResponseError) as caught:
            lattice_client.raise_for_status(r)
        assert len(caught.value.body) == BODY_LIMIT
        assert len(r.read()) == 1024 * 1024


@pytest.mark.anyio
async def test_loopback_success_streams_untouched(server: str) -> None:
    """A streamed success is not read by araise_for_status: the caller streams it as usual."""
    async with (
        httpx.AsyncClient(base_url=server) as client,
        client.stream("GET", "/ok", params={"chunked": "1"}) as r,
    ):
        assert await lattice_client.araise_for_status(r) is r
        assert not r.is_stream_consumed
        assert b"".join([chunk async for chunk in r.aiter_bytes()]) == b"all good " * 1000


# -- the parser never crashes ---------------------------------------------------------------------

# Other scripts' punctuation: full-width colon and comma, ideographic comma and stop,
# guillemets, German and English quotes, Arabic question mark and comma, danda,
# Spanish marks, dashes, ellipsis, middle dot; then zero-width space, no-break
# space, ideographic space, BOM and a right-to-left override.
_PUNCTUATION = (
    "\uff1a\u3001\u3002\uff0c\u00ab\u00bb\u201e\u201c\u201d\u2039"
    "\u203a\u061f\u060c\u0964\u00bf\u00a1\u2014\u2013\u2026\u00b7"
    "\u200b\u00a0\u3000\ufeff\u202e"
)
_statuses = st.integers(400, 599)
_headers = st.lists(
    st.tuples(
        st.sampled_from(["Date", "x-amzn-ErrorType", "content-type", "X-Other"]),
        st.text(max_size=60),
    ),
    max_size=4,
)


def _assert_generic_or_typed(error: object) -> None:
    assert isinstance(error, lattice_client.LatticeResponseError)
    assert isinstance(str(error), str)


@settings(max_examples=300)
@given(status=_statuses, headers=_headers, body=st.binary(max_size=2048))
def test_binary_junk_never_crashes(
    status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    """Any bytes with any status and headers give an error object, never an exception."""
    _assert_generic_or_typed(lattice_client.error_from_response(status, headers, body))
    _classify(status, headers, body, None)  # the parser itself, without the safety net


@settings(max_examples=300)
@given(cut=st.integers(0, len(denial())), status=st.sampled_from([400, 403, 404, 500]))
def test_truncated_denials_never_crash(cut: int, status: int) -> None:
    """A denial cut anywhere gives a (maybe unparsed) AccessDeniedError or the generic error."""
    body = denial().encode()[:cut]
    error = lattice_client.error_from_response(status, {}, body)
    _assert_generic_or_typed(error)
    _classify(status, {}, body, None)
    if isinstance(error, lattice_client.AccessDeniedError) and cut < len(body):
        assert error.principal is None or error.principal == ROLE


@settings(max_examples=300)
@given(
    base=st.sampled_from([case.body.decode() for case in CASES]),
    inserts=st.lists(st.tuples(st.integers(0, 400), st.sampled_from(_PUNCTUATION)), max_size=5),
)
def test_foreign_punctuation_never_crashes(base: str, inserts: list[tuple[int, str]]) -> None:
    """Full-width colons, RTL marks, BOMs and other scripts' punctuation never break the parser."""
    text = base
    for position, char in inserts:
        text = text[:position] + char + text[position:]
    for status in (403, 500):
        _assert_generic_or_typed(lattice_client.error_from_response(status, {}, text.encode()))
        _classify(status, {}, text.encode(), None)


@settings(max_examples=200)
@given(text=st.text(max_size=500))
def test_any_text_after_a_known_code_never_crashes(text: str) -> None:
    """Whatever follows 'AccessDeniedException: ' or a signature code, the parser returns."""
    for code in ("AccessDeniedException", "InvalidSignatureException", "RequestExpired"):
        body = f"{code}: {text}".encode("utf-8", "surrogatepass")
        _assert_generic_or_typed(lattice_client.error_from_response(403, {}, body))
        _classify(403, {}, body, None)


@pytest.mark.parametrize(
    "body",
    [
        b"A" * (4 * 1024 * 1024),
        b"AccessDeniedException: " + b"User: " * 50_000,
        b"AccessDeniedException: User: x is not authorized to perform: y on resource: "
        + b"z " * 30_000,
        b"AccessDeniedException: " + b" because no a policy allows the b action" * 5000,
        b"{" * 100_000,
        b"[" * 60_000,
        b'{"message": "' + b"\\u0000" * 20_000 + b'"}',
        b"\xff\xfe" * 40_000,
        b"InvalidSignatureException: " + b"(20260101T000000Z - 5 min" * 5000,
    ],
    ids=["4MiB", "users", "resources", "becauses", "braces", "brackets", "nuls", "utf16", "times"],
)
def test_huge_and_pathological_bodies_give_an_error(body: bytes) -> None:
    """Huge or adversarial bodies (deep JSON, repeated clauses) give an error, bounded to 64 KiB."""
    error = lattice_client.error_from_response(403, {}, body)
    _assert_generic_or_typed(error)
    assert error is not None
    assert len(error.body) <= BODY_LIMIT
    assert len(str(error)) < 2000
    _classify(403, {}, body[:BODY_LIMIT], None)
