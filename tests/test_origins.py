"""The origin rule, end to end: what is signed, and what never leaves for another origin.

Real servers on loopback (uvicorn, plain and TLS); every signature is checked by
the server with awscrt (``verify_signature``) over the request it received. The
redirect matrix runs each redirect status against each kind of target, through
``lattice_client.Client`` / ``AsyncClient``, a bare ``LatticeTransport`` /
``AsyncLatticeTransport`` mounted in a plain httpx client, and
``aws_lambda.client()`` / ``async_client()``.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import trustme
from _servers import CREDENTIALS, REGION, Received, SigningServer, uvicorn_server

import lattice_client
from lattice_client import AsyncLatticeTransport, LatticeTransport, aws_lambda
from lattice_client.aws_lambda import _caller

STATUSES = (301, 302, 303, 307, 308)
TARGETS = ("same-origin", "other-host", "other-port", "https-to-http", "allowed-origin")
ENTRY_POINTS = ("client", "transport", "lambda")
TOKEN = CREDENTIALS.session_token or "session-token-value"


@dataclass(frozen=True)
class Origins:
    """Three loopback servers sharing one recording app: two plain, one TLS."""

    app: SigningServer
    plain: str  # http://127.0.0.1:P
    other_port: str  # http://127.0.0.1:Q
    tls: str  # https://127.0.0.1:T
    tls_context: ssl.SSLContext

    @property
    def other_host(self) -> str:
        return self.plain.replace("127.0.0.1", "localhost")

    @property
    def received(self) -> list[Received]:
        return self.app.received


@pytest.fixture(scope="module")
def origins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origins]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    app = SigningServer()
    with (
        uvicorn_server(app) as plain,
        uvicorn_server(app) as other_port,
        uvicorn_server(app, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)) as tls,
    ):
        yield Origins(app, plain, other_port, tls, context)


@pytest.fixture
def live(origins: Origins, monkeypatch: pytest.MonkeyPatch) -> Origins:
    origins.received.clear()
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CREDENTIAL_EXPIRATION"):
        monkeypatch.delenv(name, raising=False)
    return origins


@pytest.fixture
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Lambda's variables and a fresh execution environment (no cached client)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_access_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setattr(_caller, "_client", None)
    monkeypatch.setattr(_caller, "_async_client", None)
    yield
    if _caller._client is not None:
        _caller._client.close()


def start_and_target(live: Origins, target: str) -> tuple[str, str]:
    """The first URL and the URL it redirects to, for one kind of target."""
    return {
        "same-origin": (live.plain, live.plain),
        "other-host": (live.plain, live.other_host),
        "other-port": (live.plain, live.other_port),
        "https-to-http": (live.tls, live.other_port),
        "allowed-origin": (live.plain, live.other_port),
    }[target]


def allowed(live: Origins, target: str) -> list[str]:
    return [live.other_port] if target == "allowed-origin" else []


def sync_client(entry: str, live: Origins, signing_origins: list[str]) -> httpx.Client:
    options: dict[str, Any] = {"verify": live.tls_context, "follow_redirects": True}
    if entry == "client":
        return lattice_client.Client(
            credentials=CREDENTIALS, region=REGION, signing_origins=signing_origins, **options
        )
    if entry == "transport":
        transport = LatticeTransport(
            httpx.HTTPTransport(verify=live.tls_context),
            credentials=CREDENTIALS,
            region=REGION,
            signing_origins=signing_origins,
        )
        return httpx.Client(transport=transport, follow_redirects=True)
    return aws_lambda.client(signing_origins=signing_origins, **options)


def async_client(entry: str, live: Origins, signing_origins: list[str]) -> httpx.AsyncClient:
    options: dict[str, Any] = {"verify": live.tls_context, "follow_redirects": True}
    if entry == "client":
        return lattice_client.AsyncClient(
            credentials=CREDENTIALS, region=REGION, signing_origins=signing_origins, **options
        )
    if entry == "transport":
        transport = AsyncLatticeTransport(
            httpx.AsyncHTTPTransport(verify=live.tls_context),
            credentials=CREDENTIALS,
            region=REGION,
            signing_origins=signing_origins,
        )
        return httpx.AsyncClient(transport=transport, follow_redirects=True)
    return aws_lambda.async_client(signing_origins=signing_origins, **options)


def assert_verified(received: Received) -> None:
    assert received.check is not None, f"{received.target} was not signed"
    assert received.check.ok, (received.check.error, received.check.message)


def assert_bare(received: Received) -> None:
    """No authorization, no x-amz-* header, and the session token nowhere."""
    assert received.aws_headers == []
    assert all(TOKEN not in value for _, value in received.headers)


def check_hops(live: Origins, target: str) -> None:
    first, second = live.received
    assert_verified(first)
    assert second.target == "/landed"
    if target in ("same-origin", "allowed-origin"):
        assert_verified(second)
    else:
        assert_bare(second)


def _needs_lambda(entry: str, request: pytest.FixtureRequest) -> None:
    if entry == "lambda":
        request.getfixturevalue("lambda_environment")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("status", STATUSES)
def test_redirect_matrix_sync(
    live: Origins, entry: str, target: str, status: int, request: pytest.FixtureRequest
) -> None:
    """A hop is signed only on the first request's origin or an allowed one; else it is bare."""
    _needs_lambda(entry, request)
    start, to = start_and_target(live, target)
    with sync_client(entry, live, allowed(live, target)) as client:
        response = client.post(
            f"{start}/redirect/{status}",
            params={"to": f"{to}/landed"},
            content=b"payload",
            headers={"x-amz-meta-note": "the caller's"},
        )
    assert response.status_code == 200
    check_hops(live, target)


@pytest.mark.anyio
@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("status", STATUSES)
async def test_redirect_matrix_async(
    live: Origins, entry: str, target: str, status: int, request: pytest.FixtureRequest
) -> None:
    """The async twins apply the same rule to every hop."""
    _needs_lambda(entry, request)
    start, to = start_and_target(live, target)
    async with async_client(entry, live, allowed(live, target)) as client:
        response = await client.post(
            f"{start}/redirect/{status}",
            params={"to": f"{to}/landed"},
            content=b"payload",
            headers={"x-amz-meta-note": "the caller's"},
        )
    assert response.status_code == 200
    check_hops(live, target)


def test_client_with_credentials_and_region_signs_an_ip_and_a_custom_domain(
    live: Origins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No base_url, no signing_origins: requests to 127.0.0.1 and a custom domain are signed."""
    resolve_to_loopback(monkeypatch, "billing.example.com")
    port = live.plain.rsplit(":", 1)[1]
    with lattice_client.Client(credentials=CREDENTIALS, region=REGION) as client:
        client.get(f"{live.plain}/ip")
        client.get(f"http://billing.example.com:{port}/custom")
    by_ip, by_name = live.received
    assert_verified(by_ip)
    assert_verified(by_name)
    assert by_name.header("host") == [f"billing.example.com:{port}"]


def test_caller_resending_its_request_gets_it_signed_again(live: Origins) -> None:
    """The same Request object sent twice starts a new chain each time: both verify."""
    with lattice_client.Client(credentials=CREDENTIALS, region=REGION) as client:
        request = client.build_request("GET", f"{live.plain}/again")
        client.send(request)
        request.url = httpx.URL(f"{live.other_port}/moved")  # the caller's own choice
        client.send(request)
    first, second = live.received
    assert_verified(first)
    assert_verified(second)


def test_next_request_followed_by_hand_is_still_a_hop(live: Origins) -> None:
    """response.next_request sent by the caller is a redirect hop: bare on another origin."""
    with lattice_client.Client(credentials=CREDENTIALS, region=REGION) as client:
        response = client.get(
            f"{live.plain}/redirect/302", params={"to": f"{live.other_port}/landed"}
        )
        assert response.next_request is not None
        client.send(response.next_request)
    first, second = live.received
    assert_verified(first)
    assert_bare(second)


def test_scheme_change_on_the_same_host_and_port_is_another_origin() -> None:
    """https://h:8443 -> http://h:8443 is a downgrade: the hop goes without any x-amz-*."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.scheme == "https":
            return httpx.Response(307, headers={"location": "http://api.example.com:8443/x"})
        return httpx.Response(200)

    transport = LatticeTransport(
        httpx.MockTransport(handler), credentials=CREDENTIALS, region=REGION
    )
    with httpx.Client(transport=transport, follow_redirects=True) as client:
        client.get("https://api.example.com:8443/x")
    first, second = seen
    assert "authorization" in first.headers
    assert [n for n in second.headers if n == "authorization" or n.startswith("x-amz-")] == []


def test_strict_origins_refuse_an_unlisted_origin_and_the_403_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """strict_origins=True: a caller-supplied URL elsewhere is not signed; the error names why."""
    app = DenyAnonymous()
    with (
        uvicorn_server(app) as url,
        lattice_client.Client(
            credentials=CREDENTIALS,
            region=REGION,
            base_url="https://api.example.com",
            strict_origins=True,
            raise_for_status=True,
        ) as client,
        pytest.raises(lattice_client.AccessDeniedError) as caught,
    ):
        client.get(f"{url}/webhook")
    assert app.saw_authorization == [False]
    message = str(caught.value)
    assert "strict_origins=True" in message
    assert "signing_origins" in message
    assert "send it through lattice_client.Client" not in message


def test_cross_origin_redirect_403_says_the_signature_did_not_follow() -> None:
    """A 403 anonymous after a redirect to another origin names the redirect as the cause."""
    app = DenyAnonymous()
    client = lattice_client.Client(credentials=CREDENTIALS, region=REGION, follow_redirects=True)
    with uvicorn_server(app) as denying, uvicorn_server(SigningServer()) as redirecting, client:
        response = client.get(f"{redirecting}/redirect/302", params={"to": f"{denying}/elsewhere"})
        with pytest.raises(lattice_client.AccessDeniedError) as caught:
            lattice_client.raise_for_status(response)
    assert "redirect to another origin" in str(caught.value)


def test_signed_request_stripped_on_the_way_says_so() -> None:
    """A request we signed that Lattice saw unsigned points at whatever dropped the headers."""
    app = DenyAnonymous()

    class StrippingProxy(httpx.BaseTransport):
        """Stands for a proxy that drops authorization and x-amz-* headers."""

        def __init__(self) -> None:
            self.inner = httpx.HTTPTransport()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            for name in list(request.headers):
                if name == "authorization" or name.startswith("x-amz-"):
                    del request.headers[name]
            return self.inner.handle_request(request)

        def close(self) -> None:
            self.inner.close()

    with uvicorn_server(app) as url:
        transport = LatticeTransport(StrippingProxy(), credentials=CREDENTIALS, region=REGION)
        with httpx.Client(transport=transport) as client:
            response = client.get(f"{url}/x")
            with pytest.raises(lattice_client.AccessDeniedError) as caught:
                lattice_client.raise_for_status(response)
    assert "signed this request, yet Lattice saw no signature" in str(caught.value)


class DenyAnonymous:
    """ASGI app answering what Lattice answers an unsigned request to an AWS_IAM service."""

    BODY = (
        b"AccessDeniedException: User: anonymous is not authorized to perform: "
        b"vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:us-west-2:123456789012:"
        b"service/svc-0123456789abcdef0/x because no service-based policy allows the "
        b"vpc-lattice-svcs:Invoke action"
    )

    def __init__(self) -> None:
        self.saw_authorization: list[bool] = []

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
        if scope["type"] != "http":
            return
        signed = any(name == b"authorization" for name, _ in scope["headers"])
        self.saw_authorization.append(signed)
        status, body = (200, b"ok") if signed else (403, self.BODY)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def resolve_to_loopback(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """A resolver override: ``names`` resolve to 127.0.0.1, no DNS query leaves."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode("ascii")
        if isinstance(host, str) and host.rstrip(".").lower() in names:
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
