"""lattice_client.requests end to end, against real servers on loopback.

Every request is checked by the server with ``lattice_client.testing.verify_signature``
(awscrt recomputes SigV4) over what it received, from uvicorn and from hypercorn
(requests speaks HTTP/1.1 only).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
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
import lattice_client.requests
from lattice_client.requests import LatticeAdapter, Session
from lattice_client.testing import LocalLattice, Principal

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


def session(**options: object) -> Session:
    """A signing Session for the test servers."""
    defaults: dict[str, object] = {
        "credentials": CREDENTIALS,
        "region": REGION,
    }
    return Session(**(defaults | options))  # type: ignore[arg-type]


def assert_verified(received: Received) -> None:
    """The server found a valid signature on this request."""
    assert received.check is not None, "the request was not signed"
    assert received.check.ok, (received.check.error, received.check.message)


def test_get_with_query_string_is_verified(live: Served) -> None:
    """A GET with repeated and encoded query parameters passes awscrt's check."""
    with session() as s:
        response = s.get(
            f"{live.url}/invoices", params=[("year", "2026"), ("q", "a b/c"), ("year", "1")]
        )
    assert response.status_code == 200
    (received,) = live.received
    assert received.target == "/invoices?year=2026&q=a+b%2Fc&year=1"
    assert_verified(received)
    assert received.header("x-amz-content-sha256") == ["UNSIGNED-PAYLOAD"]
    assert received.header("x-amz-security-token") == ["session-token-value"]


def test_post_with_query_and_body_is_verified(live: Served) -> None:
    """A POST with a query string and a JSON body verifies; the body arrives whole."""
    with session() as s:
        response = s.post(f"{live.url}/pay?to=acct%2F7&amount=1.50", json={"a": 1})
    assert response.json()["ok"] is True
    (received,) = live.received
    assert_verified(received)
    assert received.body_size == len(b'{"a": 1}')


def test_unicode_path_and_raw_characters_are_verified(live: Served) -> None:
    """Non-ASCII path segments and raw query characters are signed as urllib3 sends them."""
    with session() as s:
        s.get(f"{live.url}/ünïcode/dir name/€?q=é&star=*&tilde=~&colon=a:b")
    (received,) = live.received
    assert received.target.startswith("/%C3%BCn%C3%AFcode/dir%20name/%E2%82%AC?")
    assert_verified(received)


def test_multi_valued_headers_are_signed_and_verified(live: Served) -> None:
    """A header with a comma-separated list and odd spacing verifies; user-agent is not signed."""
    with session() as s:
        s.get(f"{live.url}/h", headers={"X-List": "a,  b ,c", "X-Amz-Meta-Note": "kept"})
    (received,) = live.received
    assert_verified(received)
    assert received.check is not None
    assert "x-list" in received.check.signed_headers
    assert "x-amz-meta-note" in received.check.signed_headers
    assert "user-agent" not in received.check.signed_headers
    assert "connection" not in received.check.signed_headers


def test_streamed_upload_from_a_generator_is_verified(live: Served) -> None:
    """A generator body goes out chunked and unread by the signer (UNSIGNED-PAYLOAD)."""
    pulled: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(64):
            pulled.append(i)
            yield bytes([i]) * 1024

    with session() as s:
        s.put(f"{live.url}/upload", data=chunks())
    (received,) = live.received
    assert_verified(received)
    assert received.body_size == 64 * 1024
    assert received.header("transfer-encoding") == ["chunked"]
    assert len(pulled) == 64


def test_streamed_upload_from_a_file_is_verified(live: Served, tmp_path: Path) -> None:
    """A file body streams with its Content-Length, which is signed."""
    path = tmp_path / "upload.bin"
    path.write_bytes(b"z" * 300_000)
    with session() as s, path.open("rb") as body:
        s.put(f"{live.url}/upload", data=body)
    (received,) = live.received
    assert_verified(received)
    assert received.body_size == 300_000
    assert received.check is not None
    assert "content-length" in received.check.signed_headers


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_same_origin_redirect_is_signed_anew(live: Served, status: int) -> None:
    """Each hop of a same-origin redirect carries its own signature, which verifies."""
    with session() as s:
        response = s.post(
            f"{live.url}/redirect/{status}",
            params={"to": f"{live.url}/landed?after=redirect"},
            data=b"payload",
        )
    assert response.status_code == 200
    first, second = live.received
    assert second.target == "/landed?after=redirect"
    assert_verified(first)
    assert_verified(second)
    assert len(second.header("authorization")) == 1
    assert len(second.header("x-amz-date")) == 1


@pytest.mark.parametrize("listed", [False, True], ids=["other-origin", "other-origin-listed"])
@pytest.mark.parametrize("status", [302, 307])
def test_cross_origin_redirect(live: Served, listed: bool, status: int) -> None:
    """A hop to another origin loses every x-amz-* header the caller set; it is signed only
    when its host is allowed, and then verifies for its own Host."""
    with session(signing_origins=[live.other_origin] if listed else []) as s:
        response = s.get(
            f"{live.url}/redirect/{status}",
            params={"to": f"{live.other_origin}/elsewhere"},
            headers={"x-amz-meta-note": "set by the caller", "Authorization": "Bearer x"},
        )
    assert response.status_code == 200
    first, second = live.received
    assert_verified(first)
    assert second.target == "/elsewhere"
    if listed:  # as the httpx transports do: the caller's x-amz-* go, signed, to a listed origin
        assert_verified(second)
        assert "x-amz-meta-note" in second.aws_headers
        assert second.header("host") == [live.authority.replace("127.0.0.1", "localhost")]
    else:
        assert second.aws_headers == []
        assert second.check is None


def test_cross_port_redirect_to_a_host_allowed_on_one_port_only(live: Served) -> None:
    """A hop to another port of the same host is another origin: it goes out bare."""
    with _running("uvicorn") as other, session() as s:
        response = s.get(f"{live.url}/redirect/302", params={"to": f"{other.url}/p"})
        assert response.status_code == 200
        (hop,) = other.received
    assert_verified(live.received[0])
    assert hop.aws_headers == []


def test_adapter_on_a_session_of_your_own_strips_on_a_foreign_hop(live: Served) -> None:
    """Mounted on a plain requests.Session, the adapter still sends nothing AWS to a host
    that may not be signed (requests itself strips only Authorization)."""
    adapter = LatticeAdapter(credentials=CREDENTIALS, region=REGION)
    with requests.Session() as s:
        s.mount("http://", adapter)
        s.get(f"{live.url}/redirect/302", params={"to": f"{live.other_origin}/x"})
    first, second = live.received
    assert_verified(first)
    assert second.aws_headers == []


def test_strict_origins_sign_only_the_listed_ones(live: Served) -> None:
    """With strict_origins=True a request to an origin not listed goes out bare, even one you
    send; a listed one is signed."""
    with session(strict_origins=True) as s:
        s.get(f"{live.url}/bare", headers={"X-Amz-Date": "20200101T000000Z"})
    with session(strict_origins=True, signing_origins=[live.url]) as s:
        s.get(f"{live.url}/listed")
    bare, listed = live.received
    assert bare.aws_headers == []
    assert_verified(listed)


def test_urllib3_retries_resend_a_valid_signature(live: Served) -> None:
    """Sent twice in a row, a request is signed each time with the headers as sent."""
    with session(max_retries=3) as s:
        for _ in range(2):
            s.get(f"{live.url}/again")
    assert [r.check is not None and r.check.ok for r in live.received] == [True, True]


def test_sigv4a_custom_domain_verifies(live: Served) -> None:
    """SigV4A needs no region; the signature verifies for the region set."""
    with Session(credentials=CREDENTIALS, sigv4a=True) as s:
        s.get(f"{live.url}/a4?x=1")
    (received,) = live.received
    assert_verified(received)
    assert received.check is not None
    assert received.check.algorithm == "AWS4-ECDSA-P256-SHA256"


def test_errors_before_sending_send_nothing(live: Served) -> None:
    """A missing region or expired credentials raise the typed error; nothing is sent."""
    with (
        Session(credentials=CREDENTIALS) as s,
        pytest.raises(lattice_client.NoRegionError),
    ):
        s.get(f"{live.url}/no-region")
    expired = lattice_client.Credentials(
        "AKIDEXAMPLE", "secret", expiry=datetime.now(timezone.utc) - timedelta(hours=1)
    )
    with session(credentials=expired) as s, pytest.raises(lattice_client.CredentialsExpiredError):
        s.get(f"{live.url}/expired")
    assert live.received == []


def test_bad_options_are_refused_up_front() -> None:
    """A bad option raises ConfigurationError when the session is built."""
    with pytest.raises(lattice_client.ConfigurationError, match="signing_origins"):
        Session(credentials=CREDENTIALS, signing_origins="api.example.com")
    with pytest.raises(lattice_client.ConfigurationError, match="region"):
        LatticeAdapter(credentials=CREDENTIALS, region="nowhere")


def test_repr_shows_no_secret() -> None:
    """The adapter's repr names its options, never a secret."""
    adapter = LatticeAdapter(credentials=CREDENTIALS, region=REGION)
    assert "us-west-2" in repr(adapter)
    assert CREDENTIALS.secret_access_key not in repr(adapter)


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
) -> Session:
    """A Session signing for the local Lattice as ``principal``."""
    defaults: dict[str, object] = {
        "credentials": principal.credentials,
        "region": lattice.region,
    }
    return Session(**(defaults | options))  # type: ignore[arg-type]


def test_a_call_through_local_lattice_reaches_the_target(lattice: LocalLattice) -> None:
    """Lattice's stand-in accepts the signature; the target answers."""
    with lattice_session(lattice) as s:
        response = lattice_client.raise_for_status(s.post(f"{lattice.url}/pay", data=b"x" * 10))
    assert response.json() == {"method": "POST", "path": "/pay", "size": 10}


def test_access_denied_is_typed_and_a_requests_http_error(lattice: LocalLattice) -> None:
    """raise_for_status on a requests.Response raises AccessDeniedError, also requests.HTTPError,
    with the request, the response and the parsed fields."""
    with lattice_session(lattice, STRANGER) as s:
        response = s.get(f"{lattice.url}/invoices?token=secret-query")
    with pytest.raises(lattice_client.AccessDeniedError) as caught:
        lattice_client.raise_for_status(response)
    error = caught.value
    assert isinstance(error, requests.HTTPError)
    assert error.response is response
    assert error.request is response.request
    assert error.status_code == 403
    assert error.principal == STRANGER.arn
    assert "secret-query" not in str(error)
    assert STRANGER.credentials.secret_access_key not in str(error)
    with pytest.raises(requests.HTTPError):
        lattice_client.requests.raise_for_status(response)


def test_a_streamed_error_body_stays_readable_whole(lattice: LocalLattice) -> None:
    """With stream=True the error body is read only as far as needed, and stays readable."""
    with lattice_session(lattice, STRANGER) as s:
        response = s.get(f"{lattice.url}/streamed", stream=True)
        with pytest.raises(lattice_client.AccessDeniedError):
            lattice_client.raise_for_status(response)
        assert response.text.startswith("AccessDeniedException: User: ")


def test_success_passes_through(lattice: LocalLattice) -> None:
    """A 2xx response is returned as is."""
    with lattice_session(lattice) as s:
        response = s.get(f"{lattice.url}/fine")
    assert lattice_client.raise_for_status(response) is response


SKEWS = [timedelta(minutes=10), timedelta(minutes=-10)]
SKEW_IDS = ["ahead-10min", "behind-10min"]


@pytest.mark.parametrize("skew", SKEWS, ids=SKEW_IDS)
@pytest.mark.parametrize("sigv4a", [False, True], ids=["sigv4", "sigv4a"])
def test_skewed_clock_is_recovered_with_one_resend(
    lattice: LocalLattice, skew: timedelta, sigv4a: bool, tmp_path: Path
) -> None:
    """Signed 10 minutes off, a replayable request is refused once, re-signed with Lattice's
    time and accepted; later requests are signed right the first time."""
    path = tmp_path / "body.bin"
    path.write_bytes(b"f" * 1000)
    clock = lambda: datetime.now(timezone.utc) + skew  # noqa: E731
    before = len(lattice.access_log)
    with lattice_session(lattice, clock=clock, sigv4a=sigv4a) as s:
        first = s.post(f"{lattice.url}/skewed", data=b"payload")
        with path.open("rb") as body:
            second = s.put(f"{lattice.url}/file", data=body)
    assert first.status_code == 200
    assert second.json()["size"] == 1000
    assert statuses_since(lattice.access_log, before, 3) == [403, 200, 200]


def test_skew_with_a_streamed_body_raises_signature_expired(lattice: LocalLattice) -> None:
    """A generator body cannot be sent again: SignatureExpiredError with the measured skew."""
    clock = lambda: datetime.now(timezone.utc) - timedelta(minutes=10)  # noqa: E731

    def chunks() -> Iterator[bytes]:
        yield b"once"

    with (
        lattice_session(lattice, clock=clock) as s,
        pytest.raises(lattice_client.SignatureExpiredError) as caught,
    ):
        s.post(f"{lattice.url}/stream", data=chunks())
    assert isinstance(caught.value, requests.HTTPError)
    assert caught.value.skew is not None
    assert abs(caught.value.skew - timedelta(minutes=10)) < timedelta(seconds=30)


def test_a_long_error_body_is_peeked_and_stays_readable_whole() -> None:
    """A signed request's 200 KiB error answer (streamed, chunked) is classified from its
    first 64 KiB by the adapter and by raise_for_status; the caller still reads all of it."""
    with uvicorn_server(big_error_app) as url, session() as s:
        response = s.get(f"{url}/big", stream=True)
        with pytest.raises(lattice_client.AccessDeniedError):
            lattice_client.raise_for_status(response)
        assert response.content == BIG_ERROR


def test_an_unsigned_request_refused_by_lattice_says_why(lattice: LocalLattice) -> None:
    """strict_origins=True and the origin not listed: Lattice's 403 for an anonymous caller
    comes with the reason lattice_client did not sign, and how to change it."""
    with lattice_session(lattice, strict_origins=True) as s:
        response = s.get(f"{lattice.url}/strict")
    with pytest.raises(lattice_client.AccessDeniedError) as caught:
        lattice_client.raise_for_status(response)
    assert "strict_origins=True" in str(caught.value)


def test_through_a_forward_proxy_the_request_is_signed_as_sent(live: Served) -> None:
    """Through an HTTP proxy urllib3 sends the absolute form; the signature is for the
    Host and target the origin receives (the test server plays the proxy)."""
    with session() as s:
        s.trust_env = False
        response = s.get(
            f"{live.other_origin}/via-proxy?q=1", proxies={"http": live.url}, timeout=10
        )
    assert response.status_code == 200
    (received,) = live.received
    assert received.proxied
    assert received.target == "/via-proxy?q=1"
    assert_verified(received)


def test_an_iterator_body_streams_and_verifies(live: Served) -> None:
    """A plain iterator of chunks (not a generator) streams too."""
    with session() as s:
        s.post(f"{live.url}/it", data=iter([b"a" * 1000, b"b" * 1000]))
    (received,) = live.received
    assert received.body_size == 2000
    assert_verified(received)
