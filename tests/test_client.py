"""lattice_client.Client / AsyncClient: httpx's clients, with every transport signing.

Each request goes to a real loopback server that verifies its signature with awscrt.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from _servers import CREDENTIALS, PROTOCOLS, REGION, Received, Served, serve

from lattice_client import AsyncClient, Client, ConfigurationError, LatticeTransport

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
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for scheme in ("HTTP", "HTTPS", "ALL"):
        monkeypatch.delenv(f"{scheme}_PROXY", raising=False)
        monkeypatch.delenv(f"{scheme.lower()}_proxy", raising=False)


def assert_verified(received: Received) -> None:
    """The server found a valid signature on this request."""
    assert received.check is not None, "the request was not signed"
    assert received.check.ok, (received.check.error, received.check.message)


def test_client_is_an_httpx_client_that_signs(live: Served) -> None:
    """Client takes httpx's arguments (base_url, headers, timeout, hooks) and signs each request."""
    hooked: list[str] = []
    with Client(
        credentials=CREDENTIALS,
        region=REGION,
        base_url=live.url,
        headers={"x-team": "billing"},
        timeout=10,
        event_hooks={"request": [lambda request: hooked.append(request.url.path)]},
        **live.client_options(),
    ) as client:
        assert isinstance(client, httpx.Client)
        response = client.get("/hello", params={"a": "1"})
    assert response.http_version == live.http_version
    assert hooked == ["/hello"]
    (received,) = live.received
    assert received.header("x-team") == ["billing"]
    assert_verified(received)


@pytest.mark.anyio
async def test_async_client_is_an_httpx_async_client_that_signs(live: Served) -> None:
    """AsyncClient takes httpx's arguments and signs each request, redirect hops included."""
    async with AsyncClient(
        credentials=CREDENTIALS,
        region=REGION,
        base_url=live.url,
        follow_redirects=True,
        **live.client_options(),
    ) as client:
        assert isinstance(client, httpx.AsyncClient)
        response = await client.get("/redirect/303", params={"to": f"{live.url}/after"})
    assert response.status_code == 200
    assert [r.target for r in live.received][1:] == ["/after"]
    for received in live.received:
        assert_verified(received)


def test_strict_client_signs_base_url_and_not_other_origins(live: Served) -> None:
    """strict_origins=True: the base_url's origin is signed; an absolute URL elsewhere goes bare."""
    with Client(
        credentials=CREDENTIALS,
        region=REGION,
        base_url=live.url,
        strict_origins=True,
        **live.client_options(),
    ) as client:
        client.get("/mine", headers={"x-amz-meta-x": "1"})
        client.get(f"{live.other_origin}/theirs", headers={"x-amz-meta-x": "1"})
    mine, theirs = live.received
    assert_verified(mine)
    assert theirs.aws_headers == []


def test_strict_client_without_base_url_signs_only_listed_origins(live: Served) -> None:
    """strict_origins=True without base_url: nothing but signing_origins is signed."""
    with Client(
        credentials=CREDENTIALS, region=REGION, strict_origins=True, **live.client_options()
    ) as bare:
        bare.get(f"{live.url}/unlisted")
    with Client(
        credentials=CREDENTIALS,
        region=REGION,
        strict_origins=True,
        signing_origins=[live.authority],
        **live.client_options(),
    ) as listed:
        listed.get(f"{live.url}/listed")
    unlisted, listed_request = live.received
    assert unlisted.aws_headers == []
    assert_verified(listed_request)


def test_mounted_transports_are_wrapped(live: Served) -> None:
    """A transport given in mounts= signs too; a None mount falls back to the signing default."""
    with Client(
        credentials=CREDENTIALS,
        region=REGION,
        signing_hosts=["127.0.0.1", "localhost"],
        mounts={
            f"http://{live.authority}": live.transport(),
            "http://localhost": None,
        },
        **live.client_options(),
    ) as client:
        client.get(f"{live.url}/mounted")
        client.get(f"{live.other_origin}/default")
    for received in live.received:
        assert_verified(received)


def test_given_transport_is_wrapped_once(live: Served) -> None:
    """transport= is wrapped; an already signing transport is used as is, not signed twice."""
    with Client(
        base_url=live.url,
        transport=LatticeTransport(live.transport(), credentials=CREDENTIALS, region=REGION),
    ) as client:
        client.get("/once")
    with Client(
        credentials=CREDENTIALS, region=REGION, base_url=live.url, transport=live.transport()
    ) as client:
        client.get("/wrapped")
    for received in live.received:
        assert len(received.header("authorization")) == 1
        assert_verified(received)


def test_proxy_transport_is_wrapped(live: Served) -> None:
    """With proxy=, requests go through the proxy signed for the target's host and region."""
    with Client(credentials=CREDENTIALS, proxy=live.url, **live.client_options()) as client:
        client.get(f"http://{GENERATED}/via-proxy?x=1")
    (received,) = live.received
    assert received.proxied
    assert received.header("host") == [GENERATED]
    assert received.check is not None
    assert received.check.region == "eu-west-1"
    assert_verified(received)


def test_proxy_from_environment_is_wrapped(live: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is honoured as httpx would (trust_env), and the proxied request is signed."""
    monkeypatch.setenv("HTTP_PROXY", live.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("AWS_REGION", REGION)
    with Client(credentials=CREDENTIALS, base_url=live.url, **live.client_options()) as client:
        client.get(f"http://{GENERATED}/env-proxy")
        client.get("/direct")
    proxied, direct = live.received
    assert proxied.proxied
    assert not direct.proxied
    assert_verified(proxied)
    assert_verified(direct)


def test_trust_env_false_ignores_proxy_variables(
    live: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """trust_env=False: no proxy from the environment, as with httpx."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    with Client(
        credentials=CREDENTIALS,
        region=REGION,
        base_url=live.url,
        trust_env=False,
        **live.client_options(),
    ) as client:
        client.get("/no-proxy")
    assert_verified(live.received[0])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"proxies": {"all://": "http://proxy"}}, "proxy="),
        ({"app": object()}, "ASGITransport"),
        ({"transport": httpx.AsyncHTTPTransport()}, "BaseTransport"),
        ({"mounts": {"all://": httpx.AsyncHTTPTransport()}}, "mounts"),
        ({"region": "nowhere"}, "AWS region"),
    ],
)
def test_bad_client_options_raise_configuration_error(
    options: dict[str, object], message: str
) -> None:
    """Arguments that would bypass signing, or are invalid, are refused with a clear message."""
    with pytest.raises(ConfigurationError, match=message):
        Client(credentials=CREDENTIALS, **options)  # type: ignore[arg-type]


def test_async_client_refuses_a_sync_transport() -> None:
    """AsyncClient needs an async transport to wrap and says so."""
    with pytest.raises(ConfigurationError, match="AsyncBaseTransport"):
        AsyncClient(credentials=CREDENTIALS, transport=httpx.HTTPTransport())
