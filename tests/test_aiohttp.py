"""lattice_client.aiohttp end to end, against real servers on loopback.

Every request is checked by the server with ``lattice_client.testing.verify_signature``
(awscrt recomputes SigV4) over what it received, from uvicorn and from hypercorn
(aiohttp's client speaks HTTP/1.1), and by LocalLattice for errors and clock skew.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from _adapters_support import (
    BIG_ERROR,
    READER,
    READER_ONLY,
    STRANGER,
    big_error_app,
    echo_app,
    statuses_since,
)
from _servers import (
    CREDENTIALS,
    REGION,
    Received,
    Served,
    SigningServer,
    hypercorn_server,
    uvicorn_server,
)

import lattice_client
import lattice_client.aiohttp
from lattice_client import Credentials
from lattice_client.aiohttp import ClientSession, SigningMiddleware
from lattice_client.testing import LocalLattice, Principal

pytestmark = pytest.mark.anyio

SERVERS = {"uvicorn": uvicorn_server, "hypercorn": hypercorn_server}


@contextmanager
def _running(kind: str) -> Iterator[Served]:
    app = SigningServer()
    with SERVERS[kind](app) as url:
        yield Served(app, url, "HTTP/1.1")


@pytest.fixture(scope="module", params=sorted(SERVERS), name="served")
def served_fixture(request: pytest.FixtureRequest) -> Iterator[Served]:
    """One verifying server per ASGI server (uvicorn, hypercorn) for the whole module."""
    with _running(request.param) as served:
        yield served


@pytest.fixture
def live(served: Served) -> Served:
    """The module's server with an empty request log."""
    served.received.clear()
    return served


@pytest.fixture(autouse=True)
def _no_region_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


def session(**options: object) -> aiohttp.ClientSession:
    """A signing ClientSession for the test servers."""
    defaults: dict[str, object] = {
        "credentials": CREDENTIALS,
        "region": REGION,
    }
    return ClientSession(**(defaults | options))  # type: ignore[arg-type]


def assert_verified(received: Received) -> None:
    """The server found a valid signature on this request."""
    assert received.check is not None, "the request was not signed"
    assert received.check.ok, (received.check.error, received.check.message)


async def test_get_with_query_string_is_verified(live: Served) -> None:
    """A GET with repeated and encoded query parameters passes awscrt's check."""
    async with (
        session() as s,
        s.get(
            f"{live.url}/invoices", params=[("year", "2026"), ("q", "a b/c"), ("year", "1")]
        ) as response,
    ):
        assert response.status == 200
    (received,) = live.received
    assert received.target.startswith("/invoices?year=2026&q=a")
    assert_verified(received)
    assert received.header("x-amz-content-sha256") == ["UNSIGNED-PAYLOAD"]
    assert received.header("x-amz-security-token") == ["session-token-value"]


async def test_post_with_query_and_json_is_verified(live: Served) -> None:
    """A POST with a query string and a JSON body verifies; the body arrives whole."""
    async with session() as s, s.post(f"{live.url}/pay?to=acct%2F7", json={"a": 1}) as response:
        assert (await response.json())["ok"] is True
    (received,) = live.received
    assert_verified(received)


async def test_unicode_path_and_raw_characters_are_verified(live: Served) -> None:
    """Non-ASCII path segments and raw query characters are signed as aiohttp sends them."""
    async with session() as s, s.get(f"{live.url}/ünïcode/dir name/€?q=é&star=*&c=a:b"):
        pass
    (received,) = live.received
    assert received.target.startswith("/%C3%BCn%C3%AFcode/dir%20name/%E2%82%AC?")
    assert_verified(received)


async def test_repeated_headers_are_signed_and_verified(live: Served) -> None:
    """A header sent twice is signed as one comma-joined value and verifies."""
    headers = [("X-Rep", "one"), ("X-Rep", "two"), ("X-Amz-Meta-Note", " kept  ")]
    async with session() as s, s.get(f"{live.url}/h", headers=headers):
        pass
    (received,) = live.received
    assert received.header("x-rep") == ["one", "two"]
    assert_verified(received)
    assert received.check is not None
    assert "x-rep" in received.check.signed_headers
    assert "user-agent" not in received.check.signed_headers


async def test_streamed_upload_from_an_async_generator_is_verified(live: Served) -> None:
    """An async generator body is streamed and never read by the signer."""

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(64):
            yield bytes([i]) * 1024

    async with session() as s, s.put(f"{live.url}/upload", data=chunks()):
        pass
    (received,) = live.received
    assert_verified(received)
    assert received.body_size == 64 * 1024


async def test_streamed_upload_from_a_file_is_verified(live: Served, tmp_path: Path) -> None:
    """A file body streams; its signature verifies."""
    path = tmp_path / "upload.bin"
    path.write_bytes(b"z" * 300_000)
    with path.open("rb") as body:
        async with session() as s, s.put(f"{live.url}/upload", data=body):
            pass
    (received,) = live.received
    assert_verified(received)
    assert received.body_size == 300_000


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_same_origin_redirect_is_signed_anew(live: Served, status: int) -> None:
    """Each hop of a same-origin redirect carries its own signature, which verifies."""
    async with (
        session() as s,
        s.post(
            f"{live.url}/redirect/{status}",
            params={"to": f"{live.url}/landed?after=redirect"},
            data=b"payload",
        ) as response,
    ):
        assert response.status == 200
    first, second = live.received
    assert second.target == "/landed?after=redirect"
    assert_verified(first)
    assert_verified(second)
    assert len(second.header("authorization")) == 1


@pytest.mark.parametrize("listed", [False, True], ids=["other-origin", "other-origin-listed"])
@pytest.mark.parametrize("status", [302, 307])
async def test_cross_origin_redirect(live: Served, listed: bool, status: int) -> None:
    """A hop to a host that may not be signed carries no authorization and no x-amz-*; to an
    allowed host it is signed for its own Host and verifies."""
    async with (
        session(signing_origins=[live.other_origin] if listed else []) as s,
        s.get(
            f"{live.url}/redirect/{status}",
            params={"to": f"{live.other_origin}/elsewhere"},
            headers={"x-amz-meta-note": "set by the caller"},
        ) as response,
    ):
        assert response.status == 200
    first, second = live.received
    assert_verified(first)
    assert second.target == "/elsewhere"
    if listed:
        assert_verified(second)
    else:
        assert second.aws_headers == []
        assert second.check is None


async def test_cross_port_redirect_to_a_host_allowed_on_one_port_only(live: Served) -> None:
    """A hop to another port of the same host is another origin: it goes out bare."""
    with _running("uvicorn") as other:
        async with (
            session() as s,
            s.get(f"{live.url}/redirect/302", params={"to": f"{other.url}/p"}) as response,
        ):
            assert response.status == 200
        (hop,) = other.received
    assert_verified(live.received[0])
    assert hop.aws_headers == []


async def test_middleware_on_a_session_of_your_own(live: Served) -> None:
    """SigningMiddleware works in a plain aiohttp.ClientSession, redirect hops included."""
    signer = SigningMiddleware(credentials=CREDENTIALS, region=REGION)
    async with aiohttp.ClientSession(middlewares=(signer,)) as s:
        async with s.get(
            f"{live.url}/redirect/302", params={"to": f"{live.other_origin}/x"}
        ) as response:
            assert response.status == 200
        async with s.get(f"{live.other_origin}/mine") as response:
            assert response.status == 200
    first, hop, mine = live.received
    assert_verified(first)
    assert hop.aws_headers == []
    assert_verified(mine)  # your own request after the chain: signed for its origin


async def test_a_redirect_not_followed_leaves_your_next_request_alone(live: Served) -> None:
    """With allow_redirects=False you get the 3xx; your next request elsewhere is yours,
    signed for its own origin."""
    async with session() as s:
        async with s.get(
            f"{live.url}/redirect/302",
            params={"to": f"{live.other_origin}/x"},
            allow_redirects=False,
        ) as response:
            assert response.status == 302
        async with s.get(f"{live.url}/next") as response:
            assert response.status == 200
    first, after = live.received
    assert_verified(first)
    assert_verified(after)


async def test_chains_in_concurrent_tasks_do_not_mix(live: Served) -> None:
    """Redirect chains run by concurrent tasks are told apart (one context per task)."""

    async def chain(s: aiohttp.ClientSession, n: int) -> int:
        async with s.get(
            f"{live.url}/redirect/307", params={"to": f"{live.other_origin}/hop{n}"}
        ) as response:
            return response.status

    async def own(s: aiohttp.ClientSession, n: int) -> int:
        async with s.get(f"{live.other_origin}/own{n}") as response:
            return response.status

    async with session() as s:
        statuses = await asyncio.gather(*(f(s, n) for n in range(5) for f in (chain, own)))
    assert set(statuses) == {200}
    for received in live.received:
        if received.target.startswith("/hop"):
            assert received.aws_headers == []
        else:
            assert_verified(received)


async def test_base_url_host_is_signed(live: Served) -> None:
    """As with lattice_client.Client, base_url's origin is signed even with strict_origins."""
    async with (
        ClientSession(live.url, credentials=CREDENTIALS, region=REGION, strict_origins=True) as s,
        s.get("/relative") as response,
    ):
        assert response.status == 200
    assert_verified(live.received[0])


async def test_strict_origins_leave_an_origin_not_listed_bare(live: Served) -> None:
    """With strict_origins=True a request to an origin not listed goes out bare."""
    async with (
        ClientSession(credentials=CREDENTIALS, region=REGION, strict_origins=True) as s,
        s.get(f"{live.url}/bare", headers={"X-Amz-Date": "20200101T000000Z"}),
    ):
        pass
    (received,) = live.received
    assert received.aws_headers == []


async def test_sigv4a_custom_domain_verifies(live: Served) -> None:
    """SigV4A needs no region; the signature verifies for the region set."""
    async with (
        ClientSession(credentials=CREDENTIALS, sigv4a=True) as s,
        s.get(f"{live.url}/a4?x=1"),
    ):
        pass
    (received,) = live.received
    assert_verified(received)
    assert received.check is not None
    assert received.check.algorithm == "AWS4-ECDSA-P256-SHA256"


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


async def test_refresh_runs_off_the_loop_once_for_concurrent_requests(live: Served) -> None:
    """Twenty concurrent requests share one credentials fetch, made off the event loop."""
    provider = CountingProvider()

    async def get(s: aiohttp.ClientSession, n: int) -> int:
        async with s.get(f"{live.url}/c/{n}") as response:
            return response.status

    async with session(credentials=provider) as s:
        calls = [asyncio.ensure_future(get(s, n)) for n in range(20)]
        await asyncio.sleep(0.05)  # the loop runs on while the provider blocks
        provider.release.set()
        statuses = await asyncio.gather(*calls)
    assert statuses == [200] * 20
    assert provider.calls == 1
    assert threading.get_ident() not in provider.threads
    for received in live.received:
        assert_verified(received)


async def test_errors_before_sending_send_nothing(live: Served) -> None:
    """A missing region raises NoRegionError; nothing is sent."""
    async with ClientSession(credentials=CREDENTIALS) as s:
        with pytest.raises(lattice_client.NoRegionError):
            await s.get(f"{live.url}/no-region")
    assert live.received == []


# --- Against LocalLattice: typed errors and clock skew --------------------------------------


@pytest.fixture(scope="module")
def lattice() -> Iterator[LocalLattice]:
    """A local Lattice (it verifies every signature with awscrt) that lets READER in only."""
    with LocalLattice(
        app=echo_app, principals=[READER, STRANGER], auth_policy=READER_ONLY
    ) as running:
        yield running


def lattice_session(
    lattice: LocalLattice, principal: Principal = READER, **options: object
) -> aiohttp.ClientSession:
    """A ClientSession signing for the local Lattice as ``principal``."""
    defaults: dict[str, object] = {"credentials": principal.credentials, "region": lattice.region}
    return ClientSession(lattice.url, **(defaults | options))  # type: ignore[arg-type]


async def test_access_denied_is_typed_and_a_client_response_error(lattice: LocalLattice) -> None:
    """araise_for_status on a ClientResponse raises AccessDeniedError, also
    aiohttp.ClientResponseError, with the response and the parsed fields; the body stays
    readable."""
    async with lattice_session(lattice, STRANGER) as s, s.get("/invoices?k=secret") as response:
        with pytest.raises(lattice_client.AccessDeniedError) as caught:
            await lattice_client.araise_for_status(response)
        assert (await response.text()).startswith("AccessDeniedException: ")
    error = caught.value
    assert isinstance(error, aiohttp.ClientResponseError)
    assert error.status == 403
    assert error.status_code == 403
    assert error.response is response
    assert error.principal == STRANGER.arn
    assert "secret" not in str(error)
    assert str(error).startswith("GET http://127.0.0.1:")


async def test_sync_raise_for_status_needs_a_read_body(lattice: LocalLattice) -> None:
    """The sync raise_for_status takes a ClientResponse once its body is read."""
    async with aiohttp.ClientSession() as s, s.get(f"{lattice.url}/unsigned") as response:
        with pytest.raises(lattice_client.AsyncResponseError):
            lattice_client.raise_for_status(response)
        await response.read()
        with pytest.raises(lattice_client.AccessDeniedError) as caught:
            lattice_client.aiohttp.raise_for_status(response)
    assert caught.value.anonymous is True


async def test_success_passes_through(lattice: LocalLattice) -> None:
    """A 2xx response is returned as is, unread."""
    async with lattice_session(lattice) as s, s.post("/ok", data=b"abc") as response:
        assert await lattice_client.aiohttp.araise_for_status(response) is response
        assert (await response.json())["size"] == 3


SKEWS = [timedelta(minutes=10), timedelta(minutes=-10)]
SKEW_IDS = ["ahead-10min", "behind-10min"]


@pytest.mark.parametrize("skew", SKEWS, ids=SKEW_IDS)
@pytest.mark.parametrize("sigv4a", [False, True], ids=["sigv4", "sigv4a"])
async def test_skewed_clock_is_recovered_with_one_resend(
    lattice: LocalLattice, skew: timedelta, sigv4a: bool
) -> None:
    """Signed 10 minutes off, a replayable request is refused once, re-signed with Lattice's
    time and accepted; later requests are signed right the first time."""
    clock = lambda: datetime.now(timezone.utc) + skew  # noqa: E731
    before = len(lattice.access_log)
    async with lattice_session(lattice, clock=clock, sigv4a=sigv4a) as s:
        async with s.post("/skewed", data=b"payload") as first:
            assert first.status == 200
            assert (await first.json())["size"] == 7
        async with s.get("/after") as second:
            assert (await second.json())["path"] == "/after"
    assert statuses_since(lattice.access_log, before, 3) == [403, 200, 200]


async def test_skew_with_a_streamed_body_raises_signature_expired(lattice: LocalLattice) -> None:
    """An async generator body cannot be sent again: SignatureExpiredError with the skew."""
    clock = lambda: datetime.now(timezone.utc) - timedelta(minutes=10)  # noqa: E731

    async def chunks() -> AsyncIterator[bytes]:
        yield b"once"

    async with lattice_session(lattice, clock=clock) as s:
        with pytest.raises(lattice_client.SignatureExpiredError) as caught:
            await s.post("/stream", data=chunks())
    assert isinstance(caught.value, aiohttp.ClientResponseError)
    assert caught.value.skew is not None
    assert abs(caught.value.skew - timedelta(minutes=10)) < timedelta(seconds=30)


async def test_a_long_error_body_is_peeked_and_stays_readable_whole() -> None:
    """A signed request's 200 KiB error answer is classified from its first 64 KiB; the caller
    still reads all of it."""
    with uvicorn_server(big_error_app) as url:
        async with session() as s, s.get(f"{url}/big") as response:
            with pytest.raises(lattice_client.AccessDeniedError):
                await lattice_client.araise_for_status(response)
            assert await response.read() == BIG_ERROR


async def test_an_unsigned_request_refused_by_lattice_says_why(lattice: LocalLattice) -> None:
    """A request the adapter did not sign (strict_origins=True, origin not listed): the typed
    error for Lattice's anonymous 403 says why, and how to change it."""
    signer = SigningMiddleware(
        credentials=READER.credentials, region=lattice.region, strict_origins=True
    )
    async with (
        aiohttp.ClientSession(middlewares=[signer]) as s,
        s.get(f"{lattice.url}/strict") as response,
    ):
        with pytest.raises(lattice_client.AccessDeniedError) as caught:
            await lattice_client.araise_for_status(response)
    assert "strict_origins=True" in str(caught.value)


async def test_through_a_forward_proxy_the_request_is_signed_as_sent(live: Served) -> None:
    """Through an HTTP proxy aiohttp sends the absolute form; the signature is for the Host
    and target the origin receives (the test server plays the proxy)."""
    async with (
        session() as s,
        s.get(f"{live.other_origin}/via-proxy?q=1", proxy=live.url) as response,
    ):
        assert response.status == 200
    (received,) = live.received
    assert received.proxied
    assert received.target == "/via-proxy?q=1"
    assert_verified(received)
