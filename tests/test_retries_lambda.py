"""Inside aws_lambda.deadline(), retries stop at the invocation's deadline, not at Retries.total."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from _faults import FaultServer, fault_server
from _servers import CREDENTIALS, REGION

import lattice_client
from lattice_client import aws_lambda as lam
from lattice_client.aws_lambda import _caller


class FakeContext:
    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultServer]:
    """The fault server, and a fresh Lambda environment whose credentials it knows."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_access_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CREDENTIALS.session_token or "")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setattr(_caller, "_client", None)
    with fault_server() as running:
        yield running
    if _caller._client is not None:
        _caller._client.close()


def test_retries_end_at_the_invocations_deadline(server: FaultServer) -> None:
    """Always 503, total=30 s, 1.5 s left (0.5 s margin): the typed error after about 1 s."""
    server.reset(*[503] * 1000)
    retries = lattice_client.Retries(attempts=100, total=30, backoff=0.1, max_backoff=0.2)
    http = lam.client(signing_hosts=["127.0.0.1"], retries=retries)
    started = time.monotonic()
    with (
        pytest.raises(lattice_client.ServiceUnavailableError) as caught,
        lam.deadline(FakeContext(1500)),
    ):
        http.get(f"{server.url}/orders")
    elapsed = time.monotonic() - started
    assert 0.5 < elapsed < 2.0
    assert caught.value.attempts == len(server.received) > 1
    assert all(seen.verified for seen in server.received)
