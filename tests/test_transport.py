"""LatticeTransport / AsyncLatticeTransport end to end, against real servers on loopback.

Every request is checked by the server with ``lattice_client.testing.verify_signature``
(awscrt recomputes SigV4), over HTTP/1.1 (uvicorn) and HTTP/2 cleartext (hypercorn).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import time_machine
from _servers import CREDENTIALS, PROTOCOLS, REGION, Received, Served, serve

import lattice_client
from lattice_client import (
    AsyncLatticeTransport,
    ConfigurationError,
    Credentials,
    CredentialsExpiredError,
    InvalidHeaderError,
    LatticeTransport,
    NoRegionError,
)
from lattice_client.testing import verify_signature

DEFAULTS: dict[str, object] = {
    "credentials": CREDENTIALS,
    "region": REGION,
    "signing_hosts": ["127.0.0.1"],
}
GENERATED = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.eu-west-1.on.aws"


@pytest.fixture(scope="module", params=PROTOCOLS)
def server(request: pytest.FixtureRequest) -> Iterator[Served]:
    """One server per protocol for the whole module."""
    with serve(request.param) as served:
        yield served


@pytest.fixture
def live(server: Served) -> Served:
    """The module's server with an empty request log."""
    server.received.clear()
    return server


@pytest.fixture(autouse=True)
def _no_region_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


def sync_client(
    live: Served, inner: httpx.BaseTransport | None = None, **options: object
) -> httpx.Client:
    """A plain httpx.Client around a LatticeTransport that may sign for the server's host."""
    options = {
        "credentials": CREDENTIALS,
        "region": REGION,
        "signing_hosts": ["127.0.0.1"],
    } | options
    transport = LatticeTransport(inner or live.transport(), **options)  # type: ignore[arg-type]
    return httpx.Client(transport=transport, base_url=live.url)


def async_client(live: Served, **options: object) -> httpx.AsyncClient:
    """A plain httpx.AsyncClient around an AsyncLatticeTransport for the server's host."""
    options = {
        "credentials": CREDENTIALS,
        "region": REGION,
        "signing_hosts": ["127.0.0.1"],
    } | options
    transport = AsyncLatticeTransport(live.async_transport(), **options)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=live.url)


def assert_verified(received: Received) -> None:
    """The server found a valid signature on this request."""
    assert received.check is not None, "the request was not signed"
    assert received.check.ok, (received.check.error, received.check.message)


def test_get_with_query_string_is_verified(live: Served) -> None:
    """A GET with a query string (repeated and encoded parameters) passes awscrt's check."""
    with sync_client(live) as client:
        response = client.get("/invoices", params=[("year", "2026"), ("q", "a b/c"), ("year", "1")])
    assert response.status_code == 200
    assert response.http_version == live.http_version
    (received,) = live.received
    assert received.target == "/invoices?year=2026&year=1&q=a+b%2Fc"
    assert_verified(received)
    assert received.header("x-amz-content-sha256") == ["UNSIGNED-PAYLOAD"]
    assert received.header("x-amz-security-token") == ["session-token-value"]


@pytest.mark.anyio
async def test_async_get_and_post_with_query_string_are_verified(live: Served) -> None:
    """The async transport signs GET and POST with query strings as the server checks them."""
    async with async_client(live) as client:
        got = await client.get("/a", params={"x": "1", "y": "ü"})
        posted = await client.post("/b?z=%7E&k", content=b'{"n": 1}')
    assert got.status_code == posted.status_code == 200
    for received in live.received:
        assert_verified(received)
    assert live.received[1].body_size == 8


def test_post_with_query_and_body_is_verified(live: Served) -> None:
    """A POST body is sent but not signed (UNSIGNED-PAYLOAD), and the signature holds."""
    with sync_client(live) as client:
        response = client.post("/orders?dry-run=true", json={"item": "widget"})
    assert response.json()["body_size"] == len(b'{"item":"widget"}')
    assert_verified(live.received[0])


def test_unicode_path_is_verified(live: Served) -> None:
    """A path with non-ASCII and reserved characters is signed in the form httpx sends."""
    with sync_client(live) as client:
        client.get("/files/日本語 name/ä+b=c;d")
    (received,) = live.received
    assert received.target.startswith("/files/%E6%97%A5")
    assert_verified(received)


def test_repeated_headers_are_signed_and_verified(live: Served) -> None:
    """A header sent twice is signed as one comma-joined value and verifies."""
    with sync_client(live) as client:
        client.get("/", headers=[("x-tag", "one"), ("x-tag", "two"), ("x-Other", "a   b")])
    (received,) = live.received
    assert received.header("x-tag") == ["one", "two"]
    assert received.check is not None
    assert "x-tag" in received.check.signed_headers
    assert_verified(received)


def test_streamed_upload_from_generator_is_verified(live: Served) -> None:
    """A body from a generator is streamed as produced, arrives whole, and the request verifies."""
    produced: list[int] = []

    def chunks() -> Iterator[bytes]:
        for index in range(64):
            produced.append(index)
            yield bytes([index]) * 4096

    with sync_client(live) as client:
        response = client.put("/upload", content=chunks())
    assert response.json()["body_size"] == 64 * 4096
    assert len(produced) == 64
    assert_verified(live.received[0])


def test_streamed_upload_from_file_is_verified(live: Served, tmp_path: Path) -> None:
    """A file object is sent as it is read, and the request verifies."""
    path = tmp_path / "upload.bin"
    path.write_bytes(b"\x00\x01" * 300_000)
    with sync_client(live) as client, path.open("rb") as body:
        response = client.post("/upload", content=body)
    assert response.json()["body_size"] == 600_000
    assert_verified(live.received[0])


@pytest.mark.anyio
async def test_async_streamed_upload_from_async_iterator_is_verified(live: Served) -> None:
    """An async iterator body is streamed through the async transport, and the request verifies."""

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(32):
            yield bytes([index]) * 8192

    async with async_client(live) as client:
        response = await client.post("/upload", content=chunks())
    assert response.json()["body_size"] == 32 * 8192
    assert_verified(live.received[0])


@pytest.mark.parametrize("status", [302, 307])
def test_same_origin_redirect_is_signed_anew(live: Served, status: int) -> None:
    """Each hop of a same-origin redirect carries its own signature, which verifies."""
    with sync_client(live) as client:
        response = client.post(
            f"/redirect/{status}",
            params={"to": f"{live.url}/landed?after=redirect"},
            content=b"payload",
            follow_redirects=True,
        )
    assert response.status_code == 200
    first, second = live.received
    assert second.target == "/landed?after=redirect"
    assert_verified(first)
    assert_verified(second)
    assert first.header("authorization") != second.header("authorization")
    assert len(second.header("authorization")) == 1


def test_cross_origin_redirect_leaks_nothing(live: Served) -> None:
    """After a redirect to a host not allowed for signing, no authorization or x-amz-* leaves."""
    with sync_client(live) as client:
        response = client.get(
            "/redirect/302",
            params={"to": f"{live.other_origin}/elsewhere"},
            headers={"x-amz-meta-note": "set by the caller"},
            follow_redirects=True,
        )
    assert response.status_code == 200
    first, second = live.received
    assert_verified(first)
    assert second.target == "/elsewhere"
    assert second.header("host") == [live.authority.replace("127.0.0.1", "localhost")]
    assert second.aws_headers == []
    assert second.check is None


@pytest.mark.anyio
async def test_async_cross_origin_redirect_leaks_nothing(live: Served) -> None:
    """The async transport also strips every signature header on a cross-origin hop."""
    async with async_client(live) as client:
        response = await client.get(
            "/redirect/307", params={"to": f"{live.other_origin}/x"}, follow_redirects=True
        )
    assert response.status_code == 200
    first, second = live.received
    assert_verified(first)
    assert second.aws_headers == []


def test_host_not_allowed_goes_out_without_aws_headers(live: Served) -> None:
    """In strict mode a request to an unlisted origin is sent bare: no signature, no x-amz-*."""
    transport = LatticeTransport(
        live.transport(), credentials=CREDENTIALS, region=REGION, strict_origins=True
    )
    with httpx.Client(transport=transport) as client:
        client.get(
            f"{live.url}/bare",
            headers={"authorization": "Bearer mine", "X-Amz-Date": "20200101T000000Z"},
        )
    (received,) = live.received
    assert received.aws_headers == []


def test_stale_signature_headers_are_replaced(live: Served) -> None:
    """Signature headers already on the request (a previous hop's) are replaced, not doubled."""
    stale = {
        "authorization": "AWS4-HMAC-SHA256 Credential=OLD/20200101/us-west-2/x/aws4_request",
        "x-amz-date": "20200101T000000Z",
        "x-amz-security-token": "old-token",
    }
    with sync_client(live) as client:
        client.get("/", headers=stale)
    (received,) = live.received
    assert len(received.header("authorization")) == 1
    assert received.header("x-amz-security-token") == ["session-token-value"]
    assert_verified(received)


def test_resent_request_is_signed_with_a_fresh_timestamp(live: Served) -> None:
    """Re-sending a request (a retry) ten minutes later signs it anew: it still verifies."""
    start = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    with sync_client(live) as client, time_machine.travel(start, tick=True) as traveller:
        request = client.build_request("PUT", "/idempotent", content=b"x")
        client.send(request)
        traveller.shift(timedelta(minutes=10))
        client.send(request)
    first, second = live.received
    assert first.header("x-amz-date")[0].startswith("20260301T1200")
    assert second.header("x-amz-date")[0].startswith("20260301T1210")
    assert_verified(first)
    assert_verified(second)


def test_transport_level_retries_send_a_verified_request(live: Served) -> None:
    """With httpx's own connect retries enabled the signed request still verifies."""
    with sync_client(live, live.transport(retries=3)) as client:
        client.get("/retry-enabled")
    assert_verified(live.received[0])


def test_region_comes_from_a_generated_host_name(
    live: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Host of a generated Lattice name sets the region, whatever AWS_REGION says."""
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    with sync_client(live, region=None) as client:
        client.get("/", headers={"host": GENERATED})
    (received,) = live.received
    assert received.check is not None
    assert received.check.region == "eu-west-1"
    assert_verified(received)


def test_region_comes_from_the_environment(live: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without region= the transport signs for AWS_REGION, read when it is built."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    with sync_client(live, region=None) as client:
        monkeypatch.setenv("AWS_DEFAULT_REGION", "sa-east-1")  # too late: read once
        client.get("/")
    (received,) = live.received
    assert received.check is not None
    assert received.check.region == "eu-central-1"
    assert_verified(received)


def test_missing_region_raises_before_sending(live: Served) -> None:
    """No region anywhere: NoRegionError names the host, and nothing reaches the server."""
    with sync_client(live, region=None) as client, pytest.raises(NoRegionError) as raised:
        client.get("/")
    assert raised.value.host == live.authority
    assert "AWS_REGION" in str(raised.value)
    assert live.received == []


def test_sigv4a_needs_no_region(live: Served) -> None:
    """SigV4A signs for a region set ('*' by default) and verifies without any region."""
    pytest.importorskip("awscrt")
    with sync_client(live, region=None, sigv4a=True) as client:
        client.get("/four-a")
    (received,) = live.received
    assert received.header("x-amz-region-set") == ["*"]
    assert received.check is not None
    assert received.check.algorithm == "AWS4-ECDSA-P256-SHA256"
    assert_verified(received)


def test_expired_credentials_raise_and_send_nothing(live: Served) -> None:
    """Static credentials past their expiry raise CredentialsExpiredError; nothing is sent."""
    expired = Credentials("AKIDEXAMPLE", "secret", expiry=datetime(2020, 1, 1, tzinfo=timezone.utc))
    with sync_client(live, credentials=expired) as client, pytest.raises(CredentialsExpiredError):
        client.get("/")
    assert live.received == []


def test_unsignable_header_raises_and_sends_nothing(live: Served) -> None:
    """A header value HTTP cannot carry is refused by the signer; nothing is sent."""
    with sync_client(live) as client, pytest.raises(InvalidHeaderError):
        client.get("/", headers={"x-bad": "line\nbreak"})
    assert live.received == []


@pytest.mark.anyio
async def test_async_signing_error_sends_nothing(live: Served) -> None:
    """The async transport raises the signing error and sends nothing."""
    async with async_client(live, region=None) as client:
        with pytest.raises(NoRegionError):
            await client.get("/")
    assert live.received == []


class CountingProvider:
    """A credentials provider that records how often, and on which thread, it is asked."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[int] = set()
        self.release = threading.Event()

    def get_credentials(self) -> Credentials:
        self.calls += 1
        self.threads.add(threading.get_ident())
        self.release.wait(5)
        return Credentials(
            CREDENTIALS.access_key_id,
            CREDENTIALS.secret_access_key,
            CREDENTIALS.session_token,
            expiry=datetime.now(timezone.utc) + timedelta(hours=1),
        )


@pytest.mark.anyio
async def test_async_refresh_runs_off_the_loop_once_for_concurrent_requests(live: Served) -> None:
    """Twenty concurrent requests share one credentials fetch, made off the event loop."""
    provider = CountingProvider()
    async with async_client(live, credentials=provider) as client:
        requests = [asyncio.ensure_future(client.get(f"/c/{n}")) for n in range(20)]
        # The loop runs on while the provider blocks; meanwhile every request queues
        # up behind the one refresh.
        await asyncio.sleep(0.05)
        provider.release.set()
        responses = await asyncio.gather(*requests)
    assert all(response.status_code == 200 for response in responses)
    assert provider.calls == 1
    assert threading.get_ident() not in provider.threads
    for received in live.received:
        assert_verified(received)


def test_generated_host_is_signed_by_default() -> None:
    """A URL on a generated Lattice name is signed without any signing_hosts, for its region."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    transport = LatticeTransport(httpx.MockTransport(handler), credentials=CREDENTIALS)
    with httpx.Client(transport=transport) as client:
        client.get(f"https://{GENERATED}/v1?x=1")
    (request,) = seen
    check = verify_signature(
        request.method,
        request.url.raw_path.decode(),
        request.headers.multi_items(),
        credentials={CREDENTIALS.access_key_id: CREDENTIALS},
    )
    assert check.ok, check.message
    assert check.region == "eu-west-1"


@pytest.mark.parametrize(
    ("signing_hosts", "url", "signed"),
    [
        (["api.example.com"], "https://api.example.com/x", True),
        (["API.example.com."], "https://api.example.com/x", True),
        (["api.example.com"], "https://api.example.com:8443/x", False),
        (["api.example.com"], "http://api.example.com/x", False),
        (["api.example.com:443"], "https://api.example.com/x", True),
        (["api.example.com:8443"], "https://api.example.com/x", False),
        (["api.example.com:8443"], "https://api.example.com:8443/x", True),
        (["api.example.com:8443"], "http://api.example.com:8443/x", True),
        (["https://api.example.com:8443"], "http://api.example.com:8443/x", False),
        (["http://10.0.0.5:8080"], "http://10.0.0.5:8080/x", True),
        (["http://[::1]:8080"], "http://[::1]:8080/x", True),
        (["*.example.com"], "https://a.b.example.com/x", True),
        (["*.example.com"], "https://example.com/x", False),
        (["*.example.com"], "https://evilexample.com/x", False),
        (["straße.example"], "https://xn--strae-oqa.example/x", True),
        ([], f"https://{GENERATED}/x", False),
        ([], f"https://{GENERATED}.evil.test/x", False),
        ([], "https://api.example.com/x", False),
    ],
)
def test_strict_origins_sign_only_the_listed_origins(
    signing_hosts: list[str], url: str, signed: bool
) -> None:
    """In strict mode entries are origins: host (https:443), host:port, scheme://, *.suffix."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    transport = LatticeTransport(
        httpx.MockTransport(handler),
        credentials=CREDENTIALS,
        region=REGION,
        signing_origins=signing_hosts,
        strict_origins=True,
    )
    with httpx.Client(transport=transport) as client:
        client.get(url, headers={"x-amz-meta-kept": "only when signed"})
    names = {
        name for name in seen[0].headers if name.startswith("x-amz-") or name == "authorization"
    }
    if signed:
        assert {"authorization", "x-amz-date", "x-amz-meta-kept"} <= names
    else:
        assert names == set()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"signing_hosts": "api.example.com"}, "list of origins"),
        ({"signing_origins": "api.example.com"}, "list of origins"),
        ({"signing_origins": ["https://api.example.com/v1"]}, "not an origin"),
        ({"signing_origins": ["*."]}, "names no host"),
        ({"signing_origins": ["*.."]}, "names no host"),
        ({"signing_origins": ["*"]}, "no longer accepted"),
        ({"signing_origins": ["api..example.com"]}, "names no host"),
        ({"signing_origins": ["api.example.com:0"]}, "port"),
        ({"signing_origins": ["api.example.com:99999"]}, "port"),
        ({"signing_origins": ["ftp://api.example.com"]}, "http and https"),
        ({"strict_origins": "yes"}, "True or False"),
        ({"region": "US West"}, "AWS region"),
        ({"service": ""}, "signing name"),
        ({"sigv4a": "yes"}, "True or False"),
        ({"region_set": ""}, "region_set"),
        ({"credentials": "AKID:secret"}, "credentials="),
    ],
)
def test_bad_options_raise_configuration_error(options: dict[str, object], message: str) -> None:
    """Each invalid option is refused when the transport is built, with a message naming it."""
    with pytest.raises(ConfigurationError, match=message):
        LatticeTransport(**options)  # type: ignore[arg-type]


def test_wrong_kind_of_transport_is_refused() -> None:
    """Wrapping an async transport in the sync one (or the reverse) says which class to use."""
    with pytest.raises(ConfigurationError, match="AsyncLatticeTransport"):
        LatticeTransport(httpx.AsyncHTTPTransport())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="use LatticeTransport"):
        AsyncLatticeTransport(httpx.HTTPTransport())  # type: ignore[arg-type]


def test_bad_region_in_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """An AWS_REGION that is not a region is reported by name when the transport is built."""
    monkeypatch.setenv("AWS_REGION", "not a region")
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        LatticeTransport()


def test_repr_shows_no_secret() -> None:
    """The transport's repr names its options and never the secret key or session token."""
    text = repr(LatticeTransport(credentials=CREDENTIALS, region=REGION))
    assert "us-west-2" in text
    assert CREDENTIALS.secret_access_key not in text
    assert "session-token-value" not in text


def test_exported_from_the_package() -> None:
    """The transports and clients are importable from the top-level package."""
    for name in ("LatticeTransport", "AsyncLatticeTransport", "Client", "AsyncClient"):
        assert name in lattice_client.__all__
