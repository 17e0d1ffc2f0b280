"""A streamed body is never lost or half-sent when a request has to go again (issue 13).

A 307/308 redirect keeps the method and the body, so httpx sends the next hop
with the same body stream. Before, a list iterator went again empty (and the
caller got 200), a file went from its end under the first Content-Length, and a
generator failed only after a signed head and part of a body were out. Now the
transport sees the second send of the same stream before anything goes out:
a seekable file is rewound to where it started, anything else is refused with
`BodyNotReplayableError`. Real loopback servers (uvicorn, hypercorn) check
every signature with awscrt over what they received.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from _servers import CREDENTIALS, PROTOCOLS, REGION, Received, Served, serve

import lattice_client
from lattice_client import AsyncLatticeTransport, BodyNotReplayableError, LatticeTransport
from lattice_client._httpx_resend import _file_of, is_replayable

BODY = b"0123456789" * 1000  # 10 kB, several chunks' worth for a generator


@pytest.fixture(scope="module", params=PROTOCOLS)
def server(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param) as served:
        yield served


@pytest.fixture
def live(server: Served) -> Served:
    server.received.clear()
    return server


def _client(live: Served) -> httpx.Client:
    transport = LatticeTransport(
        live.transport(), credentials=CREDENTIALS, region=REGION, signing_hosts=["127.0.0.1"]
    )
    return httpx.Client(transport=transport, base_url=live.url, follow_redirects=True)


def _async_client(live: Served) -> httpx.AsyncClient:
    transport = AsyncLatticeTransport(
        live.async_transport(), credentials=CREDENTIALS, region=REGION, signing_hosts=["127.0.0.1"]
    )
    return httpx.AsyncClient(transport=transport, base_url=live.url, follow_redirects=True)


def _redirect(live: Served, status: int) -> str:
    return f"/redirect/{status}?to={live.url}/landed"


def _whole_and_verified(received: Received, body: bytes = BODY) -> None:
    assert received.body_size == len(body)
    assert received.body_sha256 == hashlib.sha256(body).hexdigest()
    assert received.check is not None
    assert received.check.ok, received.check


class Unseekable(io.RawIOBase):
    """A file-like body that cannot seek (a socket, a pipe, a decompressor...)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


@pytest.mark.parametrize("status", [307, 308])
def test_iterator_body_is_not_resent_empty_after_a_redirect(live: Served, status: int) -> None:
    """An iter([...]) body is refused on the second hop: nothing more is sent, no silent 200."""
    with _client(live) as client, pytest.raises(BodyNotReplayableError) as caught:
        client.post(_redirect(live, status), content=iter([BODY[:5000], BODY[5000:]]))
    assert caught.value.reason == "redirect"
    assert "Pass the body as bytes" in str(caught.value)
    assert "follow_redirects=False" in str(caught.value)
    assert len(live.received) == 1
    _whole_and_verified(live.received[0])


def test_generator_body_is_refused_before_the_second_hop_goes_out(live: Served) -> None:
    """A generator gets one typed error, and no second head or truncated body leaves."""

    def body() -> Iterator[bytes]:
        yield BODY[:5000]
        yield BODY[5000:]

    with _client(live) as client, pytest.raises(BodyNotReplayableError):
        client.post(_redirect(live, 307), content=body())
    assert len(live.received) == 1
    _whole_and_verified(live.received[0])


def test_unseekable_file_body_is_refused_after_a_redirect(live: Served) -> None:
    """A file-like body that cannot seek is refused like a generator."""
    with _client(live) as client, pytest.raises(BodyNotReplayableError):
        client.put(_redirect(live, 308), content=Unseekable(BODY))
    assert len(live.received) == 1


@pytest.mark.parametrize("status", [307, 308])
def test_seekable_file_body_is_rewound_and_sent_whole_after_a_redirect(
    live: Served, status: int, tmp_path: Path
) -> None:
    """A file the caller opened is rewound: both hops carry the whole body, both verify."""
    path = tmp_path / "upload.bin"
    path.write_bytes(BODY)
    with _client(live) as client, path.open("rb") as file:
        response = client.post(_redirect(live, status), content=file)
    assert response.status_code == 200
    assert response.json()["target"] == "/landed"
    assert len(live.received) == 2
    for received in live.received:
        _whole_and_verified(received)


def test_in_memory_file_body_is_rewound_after_a_redirect(live: Served) -> None:
    """An io.BytesIO body is a seekable file too: rewound, sent whole twice."""
    with _client(live) as client:
        response = client.post(_redirect(live, 308), content=io.BytesIO(BODY))
    assert response.status_code == 200
    assert [r.body_size for r in live.received] == [len(BODY), len(BODY)]


def test_multipart_upload_of_a_file_is_sent_whole_after_a_redirect(
    live: Served, tmp_path: Path
) -> None:
    """A multipart form whose file can seek goes whole on both hops (httpx rewinds it)."""
    path = tmp_path / "upload.bin"
    path.write_bytes(BODY)
    with _client(live) as client, path.open("rb") as file:
        response = client.post(_redirect(live, 307), files={"upload": file}, data={"a": "1"})
    assert response.status_code == 200
    sizes = [r.body_size for r in live.received]
    assert len(sizes) == 2
    assert sizes[0] == sizes[1] > len(BODY)


def test_see_other_drops_the_body_and_needs_no_replay(live: Served) -> None:
    """A 303 turns the request into a GET without a body: a generator is no problem there."""

    def body() -> Iterator[bytes]:
        yield BODY

    with _client(live) as client:
        response = client.post(_redirect(live, 303), content=body())
    assert response.status_code == 200
    assert [r.method for r in live.received] == ["POST", "GET"]


def test_sending_the_same_streamed_request_twice_is_refused(live: Served) -> None:
    """The second send of one iterator-bodied request is refused before it goes out."""
    with _client(live) as client:
        request = client.build_request("POST", "/echo", content=iter([BODY]))
        assert client.send(request).status_code == 200
        with pytest.raises(BodyNotReplayableError):
            client.send(request)
    assert len(live.received) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("status", [307, 308])
async def test_async_iterator_body_is_not_resent_after_a_redirect(
    live: Served, status: int
) -> None:
    """An async generator body is refused on the second hop; nothing more goes out."""

    async def body() -> AsyncIterator[bytes]:
        yield BODY[:5000]
        yield BODY[5000:]

    async with _async_client(live) as client:
        with pytest.raises(BodyNotReplayableError) as caught:
            await client.post(_redirect(live, status), content=body())
    assert caught.value.reason == "redirect"
    assert len(live.received) == 1
    _whole_and_verified(live.received[0])


@pytest.mark.anyio
async def test_async_bytes_body_follows_a_redirect_whole(live: Served) -> None:
    """Bytes are replayable: both hops carry the body and verify."""
    async with _async_client(live) as client:
        response = await client.post(_redirect(live, 307), content=BODY)
    assert response.status_code == 200
    assert len(live.received) == 2
    for received in live.received:
        _whole_and_verified(received)


def test_a_drop_in_client_refuses_too(live: Served) -> None:
    """lattice_client.Client behaves the same (its transports run the same loop)."""
    with (
        lattice_client.Client(
            base_url=live.url, credentials=CREDENTIALS, region=REGION, **live.client_options()
        ) as client,
        pytest.raises(BodyNotReplayableError),
    ):
        client.post(_redirect(live, 307), content=iter([BODY]), follow_redirects=True)
    assert len(live.received) == 1


def test_httpx_keeps_a_file_body_where_we_look_for_it(tmp_path: Path) -> None:
    """Rewinding relies on httpx keeping ``content=<file>`` on its stream: fail loudly if not."""
    path = tmp_path / "f"
    path.write_bytes(b"x")
    with path.open("rb") as file:
        request = httpx.Request("POST", "http://h/", content=file)
        assert _file_of(request.stream) is file
        assert is_replayable(request)
    assert not is_replayable(httpx.Request("POST", "http://h/", content=iter([b"x"])))
    assert not is_replayable(httpx.Request("POST", "http://h/", content=Unseekable(b"x")))


def test_lattice_curl_exits_7_when_a_redirect_needs_a_streamed_upload_again(
    live: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """lattice-curl -L -T FILE across a 307: exit 7 with its message, one request sent."""
    from lattice_client._curl import main

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_access_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CREDENTIALS.session_token or "")
    monkeypatch.setenv("AWS_REGION", REGION)
    path = tmp_path / "upload.bin"
    path.write_bytes(BODY)
    extra = ["--http2-prior-knowledge"] if live.http2 else []
    code = main(["-sS", "-L", *extra, "-T", str(path), live.url + _redirect(live, 307)])
    assert code == 7
    assert "streamed (-T" in capsys.readouterr().err
    assert len(live.received) == 1
