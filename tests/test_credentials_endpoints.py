"""The credentials production runs with, fetched from real endpoints on loopback.

An assumed role (``role_arn=``) and IRSA web identity against moto's STS server,
EKS Pod Identity against a container credentials endpoint, an EC2 instance role
against IMDSv2. Each endpoint tells the local Lattice about the keys it issues
(as IAM tells the real one); every request goes through the stand-in, which
verifies its signature and names the principal, across credential rotations.
Rotations an hour apart are reached by travelling in time (time-machine): the
stand-in, moto, botocore and lattice-client all read the same travelled clock.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import time_machine
from _credential_endpoints import (
    ACCOUNT,
    ContainerEndpoint,
    InstanceMetadata,
    register_issued_keys,
    sts_server,
)

import lattice_client
from lattice_client import AssumeRoleProvider, ConfigurationError, CredentialsRefreshError
from lattice_client.testing import LocalLattice

ROLE = f"arn:aws:iam::{ACCOUNT}:role/billing-caller"
AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
)
T = TypeVar("T")
_KEY_ID = re.compile(r"Credential=([^/]+)/")


@pytest.fixture
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AWS configuration at all: empty shared files, IMDS disabled until a test enables it."""
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    return tmp_path


@pytest.fixture(scope="module")
def sts_url() -> Iterator[str]:
    with sts_server() as url:
        yield url


@pytest.fixture
def traveller() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(datetime.now(timezone.utc), tick=True) as coordinates:
        yield coordinates


class Sent:
    """An httpx response hook recording the access key id each request was signed with."""

    def __init__(self) -> None:
        self.key_ids: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        match = _KEY_ID.search(response.request.headers.get("authorization", ""))
        self.key_ids.append(match.group(1) if match else "-")


def _client(lattice: LocalLattice, sent: Sent, **options: object) -> lattice_client.Client:
    return lattice_client.Client(
        region=lattice.region,
        base_url=lattice.url,
        event_hooks={"response": [sent]},
        **options,  # type: ignore[arg-type]
    )


def _in_threads(n: int, call: Callable[[], T]) -> list[T | BaseException]:
    """``call()`` in ``n`` threads at once; what each returned or raised."""
    start = threading.Barrier(n)
    outcomes: list[T | BaseException] = []

    def run() -> None:
        start.wait()
        try:
            outcomes.append(call())
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _callers(lattice: LocalLattice) -> set[str]:
    """The principals the stand-in verified; every request answered 404 (no target)."""
    log = lattice.access_log
    assert {entry["responseCode"] for entry in log} == {404}, log
    return {entry["callerPrincipal"] for entry in log}


# --- role_arn: AssumeRole through STS --------------------------------------------------------


def test_role_arn_signs_as_the_assumed_role_across_rotations(
    aws_env: Path,
    sts_url: str,
    traveller: time_machine.Traveller,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AssumeRole with the environment's base keys; each rotation's keys sign and verify,
    and a rotation is one STS call however many threads need it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDBASEFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "base-secret-from-env")
    sent = Sent()
    with LocalLattice() as lattice:
        issued = register_issued_keys(monkeypatch, lattice)
        provider = AssumeRoleProvider(
            ROLE, role_session_name="ci", external_id="partner-7", duration=timedelta(hours=1)
        )
        with _client(lattice, sent, credentials=provider) as client:
            for rotation in range(3):
                statuses = _in_threads(8, lambda: client.get("/").status_code)
                assert statuses == [404] * 8
                assert len(issued) == rotation + 1  # one AssumeRole per rotation
                # The thread that refreshed signs with the new keys; the others may
                # still use the previous ones, valid for minutes yet.
                assert issued[-1] in sent.key_ids[-8:]
                # 56 minutes on, the hour-long credentials are inside the refresh margin.
                traveller.shift(timedelta(minutes=56))
        assert _callers(lattice) == {f"arn:aws:sts::{ACCOUNT}:assumed-role/billing-caller/ci"}
    assert len(set(issued)) == 3
    assert set(sent.key_ids) <= set(issued)
    assert "AKIDBASEFROMENV" not in sent.key_ids  # the environment never shadows the role


def test_credentials_source_takes_a_role(
    aws_env: Path, sts_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CredentialsSource(base, role_arn=...) hands out the role's keys, with STS's expiry."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_url)
    base = lattice_client.Credentials("AKIDBASE", "base-secret")
    source = lattice_client.CredentialsSource(base, role_arn=ROLE, role_session_name="direct")
    snapshot = source.get(datetime.now(timezone.utc))
    assert snapshot.access_key_id != "AKIDBASE"
    assert snapshot.session_token is not None
    assert snapshot.expiry is not None
    assert (
        timedelta(minutes=55) < snapshot.expiry - datetime.now(timezone.utc) <= timedelta(hours=1)
    )


def test_sts_refusing_the_role_is_a_typed_error(
    aws_env: Path, sts_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An STS error answer becomes CredentialsRefreshError naming the role, without secrets."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_url)
    # moto refuses what STS refuses: a session name past 64 characters. Our own
    # check would refuse it first, so it is set behind the check's back.
    provider = AssumeRoleProvider(ROLE, credentials=lattice_client.Credentials("AKIDB", "s3cr3t"))
    provider._params["RoleSessionName"] = "s" * 65
    with pytest.raises(CredentialsRefreshError, match=r"billing-caller.*ValidationError") as caught:
        lattice_client.sign(
            "GET", "https://x.vpc-lattice-svcs.us-west-2.on.aws/", credentials=provider
        )
    assert type(caught.value.__cause__).__name__ == "ClientError"
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"role_arn": "billing-caller"}, "IAM role ARN"),
        ({"role_arn": ROLE, "role_session_name": "a b"}, "role_session_name"),
        ({"role_arn": ROLE, "external_id": "x"}, "external_id"),
        ({"role_arn": ROLE, "duration": timedelta(minutes=5)}, "duration"),
        ({"role_arn": ROLE, "duration": 13 * 3600}, "duration"),
        ({"role_session_name": "ci"}, "role_arn"),
    ],
)
def test_bad_role_options_are_refused_before_any_call(
    options: dict[str, object], message: str
) -> None:
    """Role options STS would refuse raise ConfigurationError at construction, naming the option."""
    with pytest.raises(ConfigurationError, match=message):
        lattice_client.CredentialsSource(None, **options)  # type: ignore[arg-type]


# --- IRSA: AssumeRoleWithWebIdentity --------------------------------------------------------


def test_irsa_web_identity_signs_as_its_role_across_rotations(
    aws_env: Path,
    sts_url: str,
    traveller: time_machine.Traveller,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE: botocore's chain calls
    AssumeRoleWithWebIdentity on STS; each rotation's keys sign and verify."""
    token_file = aws_env / "token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.sig")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_url)
    monkeypatch.setenv("AWS_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/irsa-role")
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "irsa-ci")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    sent = Sent()
    with LocalLattice() as lattice:
        issued = register_issued_keys(monkeypatch, lattice)
        with _client(lattice, sent) as client:
            for rotation in range(3):
                assert client.get("/").status_code == 404
                assert client.get("/").status_code == 404
                assert len(issued) == rotation + 1
                assert sent.key_ids[-2:] == [issued[-1]] * 2
                traveller.shift(timedelta(minutes=56))
        assert _callers(lattice) == {f"arn:aws:sts::{ACCOUNT}:assumed-role/irsa-role/irsa-ci"}
    assert len(set(issued)) == 3


# --- EKS Pod Identity / ECS: the container credentials endpoint ----------------------------


def test_container_credentials_sign_across_rotations(
    aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: the
    endpoint rotates every 1.5 s; each request signs with the set it last served."""
    token_file = aws_env / "eks-pod-identity-token"
    token_file.write_text("pod-identity-token-0123456789")
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/pod-role/eks-cluster-pod"
    sent = Sent()
    with (
        LocalLattice() as lattice,
        ContainerEndpoint(
            lattice,
            arn=arn,
            token="pod-identity-token-0123456789",
            rotate_every=1.5,
            # Inside every refresh margin: fetched again for each request.
            lifetime=timedelta(seconds=45),
        ) as endpoint,
    ):
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url + "/v1/credentials")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
        with _client(lattice, sent) as client:
            deadline = time.monotonic() + 20
            while len(endpoint.issued) < 3 and time.monotonic() < deadline:
                assert client.get("/").status_code == 404
                time.sleep(0.2)
        assert _callers(lattice) == {arn}
    assert len(endpoint.issued) >= 3  # two rotations at least
    assert set(sent.key_ids) == set(endpoint.issued)
    assert endpoint.refused == 0


# --- EC2: IMDSv2 ------------------------------------------------------------------------------


def test_instance_metadata_credentials_sign_across_rotations(
    aws_env: Path, traveller: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_EC2_METADATA_SERVICE_ENDPOINT: botocore takes an IMDSv2 session token, then the
    instance role's credentials; each hourly rotation's keys sign and verify."""
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{InstanceMetadata.ROLE}/i-0123456789abcdef0"
    sent = Sent()
    with (
        LocalLattice() as lattice,
        InstanceMetadata(
            lattice, arn=arn, rotate_every=timedelta(hours=1), lifetime=timedelta(hours=6)
        ) as imds,
    ):
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url + "/")
        with _client(lattice, sent) as client:
            for rotation in range(3):
                assert client.get("/").status_code == 404
                assert len(imds.issued) == rotation + 1
                assert sent.key_ids[-1] == imds.issued[-1]
                # 4 minutes before expiry: inside the refresh margins.
                traveller.shift(timedelta(hours=5, minutes=56))
        assert _callers(lattice) == {arn}
    assert len(set(imds.issued)) == 3
    assert imds.refused == 0  # every metadata read carried the session token


# --- role_arn= on every entry point --------------------------------------------------------

ASSUMED = f"arn:aws:sts::{ACCOUNT}:assumed-role/billing-caller/kw"
ROLE_OPTIONS: dict[str, Any] = {
    "role_arn": ROLE,
    "role_session_name": "kw",
    "external_id": "partner-7",
    "duration": 900,
}


@pytest.fixture
def base_in_env(aws_env: Path, sts_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Base keys in the environment (the fast path) and STS on loopback."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDBASEFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "base-secret-from-env")


@pytest.mark.usefixtures("base_in_env")
def test_httpx_clients_and_transports_take_role_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Client and LatticeTransport with role_arn= sign as the role, never as the base keys."""
    with LocalLattice() as lattice:
        issued = register_issued_keys(monkeypatch, lattice)
        with lattice_client.Client(
            region=lattice.region, base_url=lattice.url, **ROLE_OPTIONS
        ) as client:
            assert client.get("/").status_code == 404
            assert client.get("/").status_code == 404
        transport = lattice_client.LatticeTransport(
            region=lattice.region,
            signing_hosts=[lattice.url.removeprefix("http://")],
            **ROLE_OPTIONS,
        )
        with httpx.Client(transport=transport) as plain:
            assert plain.get(lattice.url + "/").status_code == 404
        assert _callers(lattice) == {ASSUMED}
    assert len(issued) == 2  # one AssumeRole per client, shared by its requests


@pytest.mark.anyio
@pytest.mark.usefixtures("base_in_env")
async def test_async_httpx_clients_and_transports_take_role_arn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AsyncClient and AsyncLatticeTransport with role_arn= sign as the role."""
    async with LocalLattice() as lattice:
        issued = register_issued_keys(monkeypatch, lattice)
        async with lattice_client.AsyncClient(
            region=lattice.region, base_url=lattice.url, **ROLE_OPTIONS
        ) as client:
            assert (await client.get("/")).status_code == 404
        transport = lattice_client.AsyncLatticeTransport(
            region=lattice.region,
            signing_hosts=[lattice.url.removeprefix("http://")],
            **ROLE_OPTIONS,
        )
        async with httpx.AsyncClient(transport=transport) as plain:
            assert (await plain.get(lattice.url + "/")).status_code == 404
        assert _callers(lattice) == {ASSUMED}
    assert len(issued) == 2


@pytest.mark.usefixtures("base_in_env")
def test_grpc_channels_and_interceptor_take_role_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sync gRPC channel helper and SigningInterceptor with role_arn= sign as the role."""
    import grpc
    from _grpc_support import AUTHORITY, pb2, pb2_grpc, sync_echo_server

    import lattice_client.grpc

    with sync_echo_server() as (port, _), LocalLattice(f"http://127.0.0.1:{port}") as lattice:
        issued = register_issued_keys(monkeypatch, lattice)
        target = lattice.url.removeprefix("http://")
        with lattice_client.grpc.insecure_channel(
            target, authority=AUTHORITY, **ROLE_OPTIONS
        ) as channel:
            assert pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="hi")).text == "hi"
        interceptor = lattice_client.grpc.SigningInterceptor(AUTHORITY, **ROLE_OPTIONS)
        options = [("grpc.default_authority", AUTHORITY)]
        with grpc.insecure_channel(target, options=options) as plain:
            stub = pb2_grpc.EchoStub(grpc.intercept_channel(plain, interceptor))
            assert stub.Say(pb2.EchoRequest(text="hi")).text == "hi"
        assert {entry["callerPrincipal"] for entry in lattice.access_log} == {ASSUMED}
    assert len(issued) == 2


@pytest.mark.anyio
@pytest.mark.usefixtures("base_in_env")
async def test_grpc_aio_channel_takes_role_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The grpc.aio channel helper with role_arn= signs as the role."""
    from _grpc_support import AUTHORITY, aio_echo_server, pb2, pb2_grpc

    import lattice_client.grpc.aio

    async with aio_echo_server() as (port, _):
        with LocalLattice(f"http://127.0.0.1:{port}") as lattice:
            issued = register_issued_keys(monkeypatch, lattice)
            async with lattice_client.grpc.aio.insecure_channel(
                lattice.url.removeprefix("http://"), authority=AUTHORITY, **ROLE_OPTIONS
            ) as channel:
                reply = await pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="hi"))
            assert reply.text == "hi"
            assert {entry["callerPrincipal"] for entry in lattice.access_log} == {ASSUMED}
    assert len(issued) == 1


@pytest.mark.usefixtures("base_in_env")
def test_lambda_client_and_curl_take_role_arn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """aws_lambda.client(role_arn=...) and lattice-curl --role-arn sign as the role."""
    from lattice_client import aws_lambda
    from lattice_client._curl import main as curl
    from lattice_client.aws_lambda import _caller

    monkeypatch.setattr(_caller, "_client", None)
    with LocalLattice() as lattice:
        issued = register_issued_keys(monkeypatch, lattice)
        monkeypatch.setenv("AWS_REGION", lattice.region)
        client = aws_lambda.client(
            signing_hosts=[lattice.url.removeprefix("http://")], **ROLE_OPTIONS
        )
        try:
            assert client.get(lattice.url + "/").status_code == 404
        finally:
            client.close()
        out = tmp_path / "out"
        status = curl(
            ["-s", "-o", str(out), "--role-arn", ROLE, "--role-session-name", "kw", lattice.url]
        )
        assert status == 0  # as curl without --fail: Lattice's 404 is an answer
        assert _callers(lattice) == {ASSUMED}
    assert len(issued) == 2


def test_lambda_cold_start_imports_no_botocore_even_with_a_role(aws_env: Path) -> None:
    """Importing lattice_client and creating aws_lambda.client(), with or without role_arn=,
    leaves botocore unimported: it loads at the first request that needs STS."""
    code = (
        "import sys, lattice_client, lattice_client.aws_lambda as lam\n"
        "lam.client()\n"
        "lam._caller._client = None\n"
        f"lam.client(role_arn={ROLE!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'boto3')))"
    )
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDLAMBDA",
        "AWS_SECRET_ACCESS_KEY": "lambda-secret",
        "AWS_SESSION_TOKEN": "lambda-token",
        "AWS_REGION": "us-west-2",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.usefixtures("base_in_env")
def test_requests_session_takes_role_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    """lattice_client.requests.Session with role_arn= signs as the role."""
    import lattice_client.requests

    with LocalLattice() as lattice:
        issued = register_issued_keys(monkeypatch, lattice)
        with lattice_client.requests.Session(region=lattice.region, **ROLE_OPTIONS) as session:
            assert session.get(lattice.url + "/").status_code == 404
        assert _callers(lattice) == {ASSUMED}
    assert len(issued) == 1


@pytest.mark.anyio
@pytest.mark.usefixtures("base_in_env")
async def test_aiohttp_session_takes_role_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    """lattice_client.aiohttp.ClientSession with role_arn= signs as the role."""
    import lattice_client.aiohttp

    async with LocalLattice() as lattice:
        issued = register_issued_keys(monkeypatch, lattice)
        async with (
            lattice_client.aiohttp.ClientSession(region=lattice.region, **ROLE_OPTIONS) as session,
            session.get(lattice.url + "/") as response,
        ):
            assert response.status == 404
        assert _callers(lattice) == {ASSUMED}
    assert len(issued) == 1
