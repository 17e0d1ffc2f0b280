"""Credentials under faults: a failing, slow or short-lived provider.

Each test drives a real provider object (one that sleeps, fails or hands out
short-lived credentials) through the public entry points; the requests that do
get signed go to the local Lattice stand-in, which verifies them.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import grpc
import httpx
import pytest
from _grpc_support import AUTHORITY, pb2, pb2_grpc

import lattice_client
import lattice_client.grpc
import lattice_client.grpc.aio
from lattice_client import (
    Credentials,
    CredentialsRefreshError,
    CredentialsSource,
    CredentialsTimeoutError,
)
from lattice_client._credentials import ADVISORY_REFRESH, MANDATORY_REFRESH, REFRESH_RETRY
from lattice_client.testing import LocalLattice, Principal

# Generous: the machine is shared. The faults below take 6 s and 32 s when unfixed.
BOUND = 4.0


def now() -> datetime:
    return datetime.now(timezone.utc)


class CountingProvider:
    """A provider that counts its calls; it may sleep, then fail or return credentials."""

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        delay: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.credentials = credentials
        self.delay = delay
        self.error = error
        self.calls = 0
        self._lock = threading.Lock()
        # Set at the end of a test so that a fetch left running stops sleeping.
        self.release = threading.Event()

    def get_credentials(self) -> Credentials | None:
        with self._lock:
            self.calls += 1
        if self.delay:
            self.release.wait(self.delay)
        if self.error is not None:
            raise self.error
        return self.credentials


def _expiring(principal: Principal, lifetime: timedelta) -> Credentials:
    """The principal's credentials, expiring ``lifetime`` from now."""
    known = principal.credentials
    return Credentials(
        known.access_key_id, known.secret_access_key, known.session_token, now() + lifetime
    )


# --- one failing refresh, shared -------------------------------------------------------


def test_a_failing_refresh_is_shared_by_the_threads_waiting_on_it() -> None:
    """64 threads and a provider failing after 0.5 s: one call, and all 64 get its error."""
    provider = CountingProvider(delay=0.5, error=OSError("vault unreachable"))
    source = CredentialsSource(provider)
    start = threading.Barrier(64)
    errors: list[BaseException] = []

    def request() -> None:
        start.wait()
        try:
            source.get(now())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(64)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    assert provider.calls == 1
    assert len(errors) == 64
    assert all(isinstance(error, CredentialsRefreshError) for error in errors)
    assert elapsed < BOUND


def test_a_failing_refresh_is_shared_by_client_threads() -> None:
    """The same through one Client used by 16 threads: one provider call, typed errors."""
    provider = CountingProvider(delay=0.5, error=OSError("vault unreachable"))
    errors: list[BaseException] = []
    with (
        LocalLattice() as lattice,
        lattice_client.Client(
            credentials=provider, region=lattice.region, base_url=lattice.url
        ) as client,
    ):
        start = threading.Barrier(16)

        def request() -> None:
            start.wait()
            try:
                client.get("/")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=request) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert lattice.access_log == []  # nothing went out unsigned
    assert provider.calls == 1
    assert len(errors) == 16
    assert all(isinstance(error, CredentialsRefreshError) for error in errors)


# --- fetching credentials counts against the request's time ---------------------------


def test_a_slow_provider_fails_an_httpx_request_within_its_timeout() -> None:
    """Client(timeout=1) with a provider taking 6 s: CredentialsTimeoutError after ~1 s."""
    provider = CountingProvider(Credentials("AKIDSLOW", "secret"), delay=6.0)
    try:
        with lattice_client.Client(credentials=provider, region="us-west-2", timeout=1) as client:
            began = time.monotonic()
            with pytest.raises(CredentialsTimeoutError, match="timeout"):
                client.get("http://127.0.0.1:9/")
            assert time.monotonic() - began < BOUND
    finally:
        provider.release.set()


@pytest.mark.anyio
async def test_a_slow_provider_fails_an_async_httpx_request_within_its_timeout() -> None:
    """AsyncClient(timeout=1) with a provider taking 6 s: CredentialsTimeoutError after ~1 s."""
    provider = CountingProvider(Credentials("AKIDSLOW", "secret"), delay=6.0)
    try:
        async with lattice_client.AsyncClient(
            credentials=provider, region="us-west-2", timeout=1
        ) as client:
            began = time.monotonic()
            with pytest.raises(CredentialsTimeoutError):
                await client.get("http://127.0.0.1:9/")
            assert time.monotonic() - began < BOUND
    finally:
        provider.release.set()


def test_a_slow_provider_fails_a_grpc_call_within_its_timeout() -> None:
    """A sync gRPC call with timeout=1 and a provider taking 6 s fails after ~1 s, typed."""
    provider = CountingProvider(Credentials("AKIDSLOW", "secret"), delay=6.0)
    try:
        with lattice_client.grpc.insecure_channel(
            "127.0.0.1:9", authority=AUTHORITY, aws_credentials=provider
        ) as channel:
            stub = pb2_grpc.EchoStub(channel)
            began = time.monotonic()
            with pytest.raises(CredentialsTimeoutError):
                stub.Say(pb2.EchoRequest(text="hi"), timeout=1)
            assert time.monotonic() - began < BOUND
    finally:
        provider.release.set()


def test_a_slow_provider_fails_an_intercepted_grpc_call_within_its_timeout() -> None:
    """The same through SigningInterceptor on a plain grpc channel."""
    provider = CountingProvider(Credentials("AKIDSLOW", "secret"), delay=6.0)
    interceptor = lattice_client.grpc.SigningInterceptor(AUTHORITY, credentials=provider)
    try:
        with grpc.insecure_channel("127.0.0.1:9") as plain:
            stub = pb2_grpc.EchoStub(grpc.intercept_channel(plain, interceptor))
            began = time.monotonic()
            with pytest.raises(CredentialsTimeoutError):
                stub.Say(pb2.EchoRequest(text="hi"), timeout=1)
            assert time.monotonic() - began < BOUND
    finally:
        provider.release.set()


@pytest.mark.anyio
async def test_a_slow_provider_fails_a_grpc_aio_call_within_its_timeout() -> None:
    """A grpc.aio call with timeout=1 and a provider taking 6 s fails after ~1 s, typed."""
    provider = CountingProvider(Credentials("AKIDSLOW", "secret"), delay=6.0)
    try:
        async with lattice_client.grpc.aio.insecure_channel(
            "127.0.0.1:9", authority=AUTHORITY, aws_credentials=provider
        ) as channel:
            stub = pb2_grpc.EchoStub(channel)
            began = time.monotonic()
            with pytest.raises(CredentialsTimeoutError):
                await stub.Say(pb2.EchoRequest(text="hi"), timeout=1)
            assert time.monotonic() - began < BOUND
    finally:
        provider.release.set()


def test_a_fetch_that_timed_out_serves_the_next_request() -> None:
    """The fetch a timed-out request started goes on; its credentials sign a later request."""
    principal = Principal.generate()
    provider = CountingProvider(_expiring(principal, timedelta(hours=1)), delay=1.5)
    with (
        LocalLattice(principals=[principal]) as lattice,
        lattice_client.Client(
            credentials=provider, region=lattice.region, base_url=lattice.url, timeout=0.3
        ) as client,
    ):
        with pytest.raises(CredentialsTimeoutError):
            client.get("/")
        time.sleep(1.6)
        client.timeout = httpx.Timeout(10)
        assert client.get("/").status_code == 404  # signed, verified, no target: Lattice's 404
    assert provider.calls == 1


# --- short-lived credentials --------------------------------------------------------------


def test_short_lived_credentials_are_not_refreshed_on_every_request() -> None:
    """A provider whose credentials are inside the refresh margin is asked once per
    REFRESH_RETRY, not once per request, while the snapshot in hand is still valid."""
    t0 = now()
    short = Credentials(
        "AKIDSHORT", "secret", expiry=t0 + (ADVISORY_REFRESH + MANDATORY_REFRESH) / 2
    )
    provider = CountingProvider(short)
    source = CredentialsSource(provider)
    for i in range(100):
        assert source.get(t0 + timedelta(milliseconds=i)) is short
    assert provider.calls == 1
    assert source.get(t0 + REFRESH_RETRY + timedelta(seconds=1)) is short
    assert provider.calls == 2


def test_short_lived_credentials_are_not_refreshed_on_every_client_request() -> None:
    """Through a Client against the stand-in: 20 requests, one provider call."""
    principal = Principal.generate()
    provider = CountingProvider(_expiring(principal, timedelta(minutes=3)))
    with (
        LocalLattice(principals=[principal]) as lattice,
        lattice_client.Client(
            credentials=provider, region=lattice.region, base_url=lattice.url
        ) as client,
    ):
        for _ in range(20):
            assert client.get("/").status_code == 404
    assert provider.calls == 1


def test_a_failing_refresh_is_retried_after_a_pause_not_per_request() -> None:
    """Inside the advisory window a failed refresh is tried again after REFRESH_RETRY."""
    t0 = now()
    good = Credentials("AKIDGOOD", "secret", expiry=t0 + timedelta(minutes=30))
    provider = CountingProvider(good)
    source = CredentialsSource(provider)
    assert source.get(t0) is good
    provider.error = OSError("down")
    late = t0 + timedelta(minutes=26)  # inside the advisory window, outside the mandatory
    for i in range(50):
        assert source.get(late + timedelta(milliseconds=i)) is good
    assert provider.calls == 2
    provider.error = None
    assert source.get(late + REFRESH_RETRY + timedelta(seconds=1)) is good
    assert provider.calls == 3
