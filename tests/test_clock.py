"""Clock skew: the tracker learns Lattice's time from an expiry answer, and one retry succeeds.

The loopback server plays Lattice's clock check: it refuses an ``x-amz-date`` more
than 5 minutes from its own clock, the AWS-wide way, and uvicorn adds a real
``Date`` header. The clients under test are lattice_client's own, with their
``clock=`` set 10 minutes off either way.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from _lattice_answers import Receive, Scope, Send, denial
from _servers import uvicorn_server

import lattice_client
from lattice_client._clock import MAX_OFFSET, ClockSkew
from lattice_client._httpx_resend import is_replayable
from lattice_client._resend import learn_skew
from lattice_client._responses import peek_body, signed_at_of

UTC = timezone.utc
CREDENTIALS = lattice_client.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
WINDOW = timedelta(minutes=5)
DENIAL = denial().encode() * 50  # over 10 KiB, to be read in several chunks


def _basic(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


SENT: list[str] = []  # the path of every request the server received, in order


async def clock_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 200 with the request body when x-amz-date is within 5 min of now, else expiry."""
    assert scope["type"] == "http"
    SENT.append(scope["path"])
    headers = dict(scope["headers"])
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    now = datetime.now(UTC).replace(microsecond=0)
    signed = datetime.strptime(headers[b"x-amz-date"].decode(), "%Y%m%dT%H%M%SZ")
    signed = signed.replace(tzinfo=UTC)
    status, answer = 200, b"signed in time: " + body
    if scope["path"] == "/denied":
        status, answer = 403, DENIAL
    elif scope["path"] == "/always-expired" or signed < now - WINDOW:
        status = 403
        answer = (
            f"InvalidSignatureException: Signature expired: {_basic(signed)} is now earlier "
            f"than {_basic(now - WINDOW)} ({_basic(now)} - 5 min.)"
        ).encode()
    elif signed > now + WINDOW:
        status = 403
        answer = (
            f"InvalidSignatureException: Signature not yet current: {_basic(signed)} is still "
            f"later than {_basic(now + WINDOW)} ({_basic(now)} + 5 min.)"
        ).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-length", str(len(answer)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": answer})


def _sign(request: httpx.Request, now: datetime) -> None:
    request.headers.update(
        lattice_client.sign(
            request.method,
            str(request.url),
            request.headers.items(),
            credentials=CREDENTIALS,
            region="us-west-2",
            now=now,
        )
    )


def should_retry_for_skew(response: httpx.Response, clock: ClockSkew) -> bool:
    """What the send loop asks of a 4xx: does it say our clock is off (learning the offset)?"""
    if not 400 <= response.status_code <= 499:
        return False
    body = peek_body(response)
    signed_at = signed_at_of(response.request)
    return learn_skew(
        response.status_code, response.headers, body, signed_at=signed_at, clock=clock
    )


def _client(server: str, skew: timedelta) -> lattice_client.Client:
    """lattice_client's own client, on a clock ``skew`` away from the server's."""
    return lattice_client.Client(
        base_url=server,
        credentials=CREDENTIALS,
        region="us-west-2",
        clock=lambda: datetime.now(UTC) + skew,
    )


def _async_client(server: str, skew: timedelta) -> lattice_client.AsyncClient:
    return lattice_client.AsyncClient(
        base_url=server,
        credentials=CREDENTIALS,
        region="us-west-2",
        clock=lambda: datetime.now(UTC) + skew,
    )


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The loopback server that checks x-amz-date against its own clock."""
    with uvicorn_server(clock_app) as url:
        yield url


@pytest.fixture
def server(server_url: str) -> str:
    """The server, with its record of received requests emptied."""
    SENT.clear()
    return server_url


SKEWS = [timedelta(minutes=10), timedelta(minutes=-10)]
SKEW_IDS = ["ahead-10min", "behind-10min"]


@pytest.mark.parametrize("skew", SKEWS, ids=SKEW_IDS)
def test_skewed_clock_succeeds_after_one_retry(server: str, skew: timedelta) -> None:
    """A clock 10 minutes off gets the expiry answer, learns the offset and succeeds on retry."""
    with _client(server, skew) as client:
        response = client.post("/orders", content=b"order 1")
        assert response.status_code == 200
        assert response.text == "signed in time: order 1"
        assert len(SENT) == 2
        # The offset stays learned: the next request is right the first time.
        assert client.post("/orders", content=b"order 2").status_code == 200
        assert len(SENT) == 3


@pytest.mark.anyio
@pytest.mark.parametrize("skew", SKEWS, ids=SKEW_IDS)
async def test_skewed_clock_succeeds_after_one_retry_async(server: str, skew: timedelta) -> None:
    """The async client learns the offset and succeeds after one retry too."""
    async with _async_client(server, skew) as client:
        response = await client.post("/orders", json={"order": 1})
        assert response.status_code == 200
        assert len(SENT) == 2
        assert (await client.post("/orders", json={"order": 2})).status_code == 200
        assert len(SENT) == 3


@pytest.mark.parametrize("skew", SKEWS, ids=SKEW_IDS)
def test_non_replayable_body_gets_signature_expired_with_the_skew(
    server: str, skew: timedelta
) -> None:
    """A generator body cannot be sent twice: one error, both BodyNotReplayable and the expiry."""

    def body() -> Iterator[bytes]:
        yield b"once only"

    with (
        _client(server, skew) as client,
        pytest.raises(lattice_client.SignatureExpiredError) as caught,
    ):
        client.post("/upload", content=body())
    assert len(SENT) == 1
    error = caught.value
    assert isinstance(error, httpx.HTTPStatusError)
    assert isinstance(error, lattice_client.BodyNotReplayableError)
    assert error.reason == "clock skew"
    assert "Pass the body as bytes" in str(error)
    assert error.skew is not None
    assert abs(error.skew + skew) < timedelta(seconds=5)
    assert error.response.text.startswith("InvalidSignatureException: Signature")
    assert "s ahead of Lattice's clock" in str(error) or "s behind Lattice's clock" in str(error)


def test_seekable_file_body_is_rewound_for_the_resend(server: str, tmp_path: Path) -> None:
    """A file the caller opened is rewound: the re-signed re-send carries it whole."""
    path = tmp_path / "order.txt"
    path.write_bytes(b"order from a file")
    with _client(server, timedelta(minutes=10)) as client, path.open("rb") as file:
        response = client.post("/upload", content=file)
    assert response.status_code == 200
    assert response.text == "signed in time: order from a file"
    assert len(SENT) == 2


@pytest.mark.parametrize("skew", SKEWS, ids=SKEW_IDS)
def test_skew_is_corrected_once_with_retries_on(server: str, skew: timedelta) -> None:
    """With retries= the clock-skew re-send still happens once, and is no retry attempt."""
    with lattice_client.Client(
        base_url=server,
        credentials=CREDENTIALS,
        region="us-west-2",
        clock=lambda: datetime.now(UTC) + skew,
        retries=lattice_client.Retries(backoff=0.01),
    ) as client:
        assert client.get("/orders").status_code == 200
        assert len(SENT) == 2
        assert client.get("/always-expired").status_code == 403
    assert len(SENT) == 4


@pytest.mark.anyio
async def test_non_replayable_async_body_gets_signature_expired(server: str) -> None:
    """An async generator body gets SignatureExpiredError instead of a retry."""

    async def body() -> AsyncIterator[bytes]:
        yield b"once only"

    async with _async_client(server, timedelta(minutes=10)) as client:
        with pytest.raises(lattice_client.SignatureExpiredError) as caught:
            await client.post("/upload", content=body())
    assert len(SENT) == 1
    assert caught.value.skew is not None


def test_offset_beyond_the_bound_is_refused(server: str) -> None:
    """A clock 2 hours off is not corrected: no retry, and the error shows the 2 hours."""
    with _client(server, timedelta(hours=2)) as client:
        response = client.get("/orders")
        assert response.status_code == 403
        assert len(SENT) == 1
        with pytest.raises(lattice_client.SignatureExpiredError) as caught:
            lattice_client.raise_for_status(response)
    assert caught.value.skew is not None
    assert abs(caught.value.skew + timedelta(hours=2)) < timedelta(seconds=5)


def test_retry_happens_once_only(server: str) -> None:
    """When the retry is refused again, its answer is returned as is: no loop."""
    with _client(server, timedelta(minutes=10)) as client:
        response = client.get("/always-expired")
    assert response.status_code == 403
    assert len(SENT) == 2
    assert response.text.startswith("InvalidSignatureException: Signature expired")


@pytest.mark.parametrize("streamed", [False, True], ids=["read", "streamed"])
def test_an_error_looked_at_by_the_transport_reaches_the_caller_whole(
    server: str, streamed: bool
) -> None:
    """A 403 that is no expiry is passed on after the peek: same body, timing still recorded."""
    with _client(server, timedelta(0)) as client:
        if streamed:
            with client.stream("GET", "/denied") as response:
                body = b"".join(response.iter_bytes())
        else:
            response = client.get("/denied")
            body = response.content
    assert len(SENT) == 1
    assert response.status_code == 403
    assert body == DENIAL
    assert response.elapsed >= timedelta(0)


def test_other_answers_are_no_reason_to_retry_and_stay_readable(server: str) -> None:
    """A success or a non-expiry error is no retry; its streamed body still reads whole."""
    clock = ClockSkew()
    with httpx.Client(base_url=server) as client:
        request = client.build_request("GET", "/orders")
        _sign(request, datetime.now(UTC))
        response = client.send(request, stream=True)
        assert not should_retry_for_skew(response, clock)
        assert not response.is_stream_consumed
        assert response.read() == b"signed in time: "
    denied = httpx.Response(
        403,
        content=b"AccessDeniedException: User: anonymous is not authorized",
        request=httpx.Request("GET", "https://svc.example/"),
    )
    assert not should_retry_for_skew(denied, clock)
    assert clock.offset == timedelta(0)


# -- the tracker on its own ----------------------------------------------------------------------


def test_tracker_corrects_now_by_the_learned_offset() -> None:
    """now() is the clock plus the offset learned from Lattice's time."""
    local = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    clock = ClockSkew(clock=lambda: local)
    assert clock.now() == local
    assert clock.learn(local - timedelta(minutes=10))
    assert clock.offset == timedelta(minutes=-10)
    assert clock.now() == local - timedelta(minutes=10)


def test_tracker_refuses_offsets_over_its_bound() -> None:
    """An offset past max_offset (15 minutes by default) is refused and the old one kept."""
    local = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    clock = ClockSkew(clock=lambda: local)
    assert clock.learn(local + timedelta(minutes=3))
    assert not clock.learn(local + MAX_OFFSET + timedelta(seconds=1))
    assert clock.offset == timedelta(minutes=3)
    strict = ClockSkew(max_offset=timedelta(minutes=1), clock=lambda: local)
    assert not strict.learn(local + timedelta(minutes=2))


def test_tracker_rejects_a_negative_bound() -> None:
    """A negative max_offset is a configuration error that says what to pass."""
    with pytest.raises(lattice_client.ConfigurationError, match="max_offset"):
        ClockSkew(max_offset=timedelta(seconds=-1))


def test_tracker_is_safe_across_threads() -> None:
    """Threads learning and reading at once only ever see offsets that were learned."""
    local = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    clock = ClockSkew(clock=lambda: local)
    learned = {timedelta(seconds=s) for s in range(-8, 9)} | {timedelta(0)}
    seen: set[timedelta] = set()
    start = threading.Barrier(8)

    def work(seconds: int) -> None:
        start.wait()
        for _ in range(2000):
            clock.learn(local + timedelta(seconds=seconds))
            seen.add(clock.now() - local)

    threads = [threading.Thread(target=work, args=(s,)) for s in (-8, -3, -1, 0, 1, 2, 5, 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen <= learned


@pytest.mark.parametrize(
    ("content", "replayable"),
    [
        ({"content": b"bytes"}, True),
        ({"content": "text"}, True),
        ({"json": {"a": 1}}, True),
        ({"data": {"a": "1"}}, True),
        ({}, True),
        ({"content": iter([b"a", b"b"])}, False),
    ],
    ids=["bytes", "str", "json", "form", "empty", "iterator"],
)
def test_is_replayable(content: dict[str, object], replayable: bool) -> None:
    """Bodies held in memory can be sent again; iterators and generators cannot."""
    request = httpx.Request("POST", "https://svc.example/", **content)  # type: ignore[arg-type]
    assert is_replayable(request) is replayable
