"""`client()`, `async_client()`, `deadline()`, `remaining()`: calling Lattice from Lambda.

Requests go to a real loopback server that checks each signature with
`lattice_client.testing.verify_signature` (awscrt recomputing it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import time_machine

import lattice_client
from lattice_client import ConfigurationError, Credentials
from lattice_client import aws_lambda as lam
from lattice_client.aws_lambda import _caller
from lattice_client.testing import verify_signature

KEY_ID = "AKIDLAMBDAEXAMPLE"
SECRET = "lambda/secret/EXAMPLEKEY"
TOKEN = "lambda-session-token"
REGION = "eu-central-1"
ROOT = Path(__file__).resolve().parents[1]


class SigningCheckServer(ThreadingHTTPServer):
    """A loopback HTTP server that verifies the SigV4 signature of every request it gets.

    It answers JSON: the verdict, and the ``x-amz-date`` and region it saw.
    ``/slow`` waits two seconds first. Known credentials are in ``credentials``.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CheckHandler)
        self.credentials: dict[str, Credentials] = {}

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up on ``/slow`` is expected; nothing to report."""

    @property
    def authority(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _CheckHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SigningCheckServer

    def do_GET(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        if self.path.startswith("/slow"):
            time.sleep(2)
        check = verify_signature(
            self.command,
            self.path,
            list(self.headers.items()),
            credentials=self.server.credentials,
        )
        body = json.dumps(
            {
                "ok": check.ok,
                "error": check.error,
                "message": check.message,
                "region": check.region,
                "amz_date": self.headers.get("x-amz-date"),
            }
        ).encode()
        self.send_response(200 if check.ok else 403)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


def start_server(*credentials: Credentials) -> SigningCheckServer:
    """A running `SigningCheckServer` that knows ``credentials``; call ``shutdown()`` after."""
    server = SigningCheckServer()
    server.credentials = {c.access_key_id: c for c in credentials}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class FakeContext:
    """Lambda's context object, as far as the helpers use it."""

    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


@pytest.fixture
def server() -> Iterator[SigningCheckServer]:
    """A loopback server that knows the Lambda environment's credentials."""
    running = start_server(Credentials(KEY_ID, SECRET, TOKEN))
    yield running
    running.shutdown()
    running.server_close()


@pytest.fixture(autouse=True)
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The variables Lambda sets, and a fresh execution environment (no cached client)."""
    for name in ("AWS_CREDENTIAL_EXPIRATION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setattr(_caller, "_client", None)
    monkeypatch.setattr(_caller, "_async_client", None)
    yield
    if _caller._client is not None:
        _caller._client.close()
    if _caller._async_client is not None:
        loop, http = _caller._async_client
        if not loop.is_closed() and not loop.is_running():
            loop.run_until_complete(http.aclose())


def test_client_is_created_once_and_signs_with_the_environment(server: SigningCheckServer) -> None:
    """client() is one Client per environment, signing with Lambda's credentials and region."""
    first = lam.client(signing_hosts=[server.authority])
    assert lam.client() is first
    assert lam.client(signing_hosts=[server.authority]) is first
    assert isinstance(first, lattice_client.Client)
    answer = first.get(f"http://{server.authority}/orders?id=7").json()
    assert answer["ok"], answer
    assert answer["region"] == REGION


def test_every_request_is_signed_at_its_own_time(server: SigningCheckServer) -> None:
    """No time is cached: a request after a (simulated) freeze carries the new time."""
    http = lam.client(signing_hosts=[server.authority])
    start = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False):
        before = http.get(f"http://{server.authority}/").json()
    with time_machine.travel(start + timedelta(minutes=42), tick=False):
        after = http.get(f"http://{server.authority}/").json()
    assert before["ok"], before
    assert after["ok"], after
    assert (before["amz_date"], after["amz_date"]) == ("20260501T120000Z", "20260501T124200Z")


def test_credentials_are_read_from_the_environment_again(
    server: SigningCheckServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New credentials in the environment are used by the same client within minutes."""
    http = lam.client(signing_hosts=[server.authority])
    start = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False):
        assert http.get(f"http://{server.authority}/").json()["ok"]
    rotated = Credentials("AKIDROTATED", "rotated/secret", "rotated-token")
    server.credentials = {rotated.access_key_id: rotated}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", rotated.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", rotated.secret_access_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "rotated-token")
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        answer = http.get(f"http://{server.authority}/").json()
    assert answer["ok"], answer


def test_other_options_after_the_first_call_are_refused(server: SigningCheckServer) -> None:
    """Asking for the cached client with different options is an error, not a silent reuse."""
    lam.client(signing_hosts=[server.authority])
    with pytest.raises(ConfigurationError, match="already created"):
        lam.client(http2=True)


@pytest.mark.parametrize("option", ["credentials", "region"])
def test_environment_options_cannot_be_overridden(option: str) -> None:
    """credentials= and region= come from Lambda's environment; passing them says so."""
    with pytest.raises(ConfigurationError, match=option):
        lam.client(**{option: None})


def test_remaining_is_the_time_left_minus_the_margin() -> None:
    """remaining() gives the seconds left minus the margin, and refuses when none are left."""
    assert lam.remaining(FakeContext(3000)) == pytest.approx(2.5)
    assert lam.remaining(FakeContext(3000), margin=1) == pytest.approx(2.0)
    with pytest.raises(lam.DeadlineExceededError, match="no time"):
        lam.remaining(FakeContext(400))


@pytest.mark.parametrize("margin", [-1, "0.5", float("nan")])
def test_bad_margins(margin: Any) -> None:
    """A margin that is not a non-negative number of seconds is refused."""
    with pytest.raises(ConfigurationError, match="margin="):
        lam.remaining(FakeContext(3000), margin=margin)
    with pytest.raises(ConfigurationError, match="margin="):
        lam.deadline(FakeContext(3000), margin=margin).__enter__()


def test_remaining_needs_a_lambda_context() -> None:
    """Something that is not Lambda's context gets a ConfigurationError naming the method."""
    with pytest.raises(ConfigurationError, match="get_remaining_time_in_millis"):
        lam.remaining(object())  # type: ignore[arg-type]


def test_a_slow_service_hits_the_deadline(server: SigningCheckServer) -> None:
    """Inside deadline(), a request slower than the time left raises DeadlineExceededError."""
    http = lam.client(signing_hosts=[server.authority])
    with lam.deadline(FakeContext(800)) as available:
        assert available == pytest.approx(0.3)
        with pytest.raises(lam.DeadlineExceededError, match="deadline") as caught:
            http.get(f"http://{server.authority}/slow")
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, lattice_client.LatticeError)
    assert caught.value.__cause__ is not None


def test_a_timeout_leaving_the_block_late_becomes_the_deadline() -> None:
    """A timeout error that leaves deadline() at the deadline (a stream read, say) is converted."""

    def read_until_the_deadline() -> None:
        with lam.deadline(FakeContext(501)):
            time.sleep(0.01)
            raise TimeoutError("read timed out")

    with pytest.raises(lam.DeadlineExceededError) as caught:
        read_until_the_deadline()
    assert isinstance(caught.value.__cause__, TimeoutError)


def test_no_request_starts_after_the_deadline(server: SigningCheckServer) -> None:
    """A request begun with no time left is not sent at all."""
    http = lam.client(signing_hosts=[server.authority])
    with (
        pytest.raises(lam.DeadlineExceededError, match="was not sent"),
        lam.deadline(FakeContext(100)),
    ):
        http.get(f"http://{server.authority}/")


def test_a_timeout_before_the_deadline_stays_what_it_was(server: SigningCheckServer) -> None:
    """A request's own shorter timeout is not mistaken for the deadline."""
    import httpx

    http = lam.client(signing_hosts=[server.authority])
    with pytest.raises(httpx.ReadTimeout), lam.deadline(FakeContext(60_000)):
        http.get(f"http://{server.authority}/slow", timeout=0.2)


def test_handler_deadline_answers_504(server: SigningCheckServer) -> None:
    """Under lattice_handler, a call that outlives the invocation becomes a 504 in time."""

    @lam.lattice_handler
    def handler(request: lam.LatticeRequest, context: object) -> lam.HandlerResult:
        http = lam.client(signing_hosts=[server.authority])
        answer: dict[str, Any] = http.get(f"http://{server.authority}/slow").json()
        return answer

    assert handler({"method": "GET", "path": "/"}, FakeContext(800))["statusCode"] == 504


@pytest.mark.anyio
async def test_async_client_signs_and_is_cached_per_loop(server: SigningCheckServer) -> None:
    """async_client() is one AsyncClient per event loop, signing like client()."""
    http = lam.async_client(signing_hosts=[server.authority])
    try:
        assert lam.async_client() is http
        assert isinstance(http, lattice_client.AsyncClient)
        answer = (await http.get(f"http://{server.authority}/a?b=c")).json()
        assert answer["ok"], answer
    finally:
        await http.aclose()


def test_async_client_outside_async_code() -> None:
    """async_client() outside a running loop explains why it must be called from async code."""
    with pytest.raises(ConfigurationError, match="async code"):
        lam.async_client()


def test_async_handler_reuses_one_async_client(server: SigningCheckServer) -> None:
    """Async handlers get the same async client, with working connections, on every invocation."""
    clients: list[object] = []

    @lam.lattice_handler
    async def handler(request: lam.LatticeRequest, context: object) -> lam.HandlerResult:
        http = lam.async_client(signing_hosts=[server.authority])
        clients.append(http)
        answer: dict[str, Any] = (await http.get(f"http://{server.authority}{request.path}")).json()
        return answer

    for path in ("/one", "/two"):
        response = handler({"method": "GET", "path": path}, FakeContext(10_000))
        assert json.loads(response["body"])["ok"], response
    assert clients[0] is clients[1]


def test_no_botocore_for_import_and_first_request(server: SigningCheckServer) -> None:
    """In a fresh interpreter, importing the helper and sending a signed request skips botocore."""
    script = textwrap.dedent(
        f"""
        import sys
        from lattice_client import aws_lambda
        assert "botocore" not in sys.modules and "httpx" not in sys.modules
        answer = aws_lambda.client(signing_hosts=["{server.authority}"]).get(
            "http://{server.authority}/first"
        ).json()
        assert answer["ok"], answer
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("botocore", "boto3"))
        print(loaded)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
