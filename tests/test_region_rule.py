"""One region rule, the same outcome in every entry point.

The rule (lattice_client/_policy.py, RegionRule): a generated Lattice name's
region is the one signed for, and ``region=`` that contradicts it is a
ConfigurationError; any other host takes ``region=``, else AWS_REGION, else
AWS_DEFAULT_REGION, else the region of a botocore/boto3 session given as
credentials; else NoRegionError, before anything is sent.

Entry points: ``sign()``, ``LatticeTransport`` in a plain httpx client, ``Client``
(per request, and at construction with ``base_url``), the gRPC interceptor,
``aws_lambda.client()`` and ``lattice-curl``. Signatures are checked with awscrt
(``verify_signature``) over the request as the transport handed it on.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import httpx
import pytest
from _servers import CREDENTIALS, SigningServer, uvicorn_server

import lattice_client
import lattice_client.grpc
from lattice_client import ConfigurationError, LatticeTransport, NoRegionError, aws_lambda
from lattice_client._curl import main as curl_main
from lattice_client.aws_lambda import _caller
from lattice_client.testing import verify_signature

GENERATED = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
CUSTOM = "billing.example.com"


@pytest.fixture(autouse=True)
def clean_region(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setattr(_caller, "_client", None)
    yield
    if _caller._client is not None:
        _caller._client.close()


def scope_region(headers: httpx.Headers | dict[str, str]) -> str:
    """The region in an authorization header's credential scope."""
    credential = headers["authorization"].split("Credential=")[1].split(",")[0]
    return credential.split("/")[2]


def through(make: Callable[[httpx.MockTransport], httpx.Client], url: str) -> str:
    """Send one GET through the client ``make`` builds; verify it; return its region."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with make(httpx.MockTransport(handler)) as client:
        client.get(url)
    (request,) = seen
    check = verify_signature(
        request.method,
        request.url.raw_path.decode(),
        request.headers.multi_items(),
        credentials={CREDENTIALS.access_key_id: CREDENTIALS},
    )
    assert check.ok, check.message
    return scope_region(request.headers)


def session(region: str) -> Any:
    """A real botocore session carrying credentials and a region."""
    made = botocore.session.Session()
    made.set_credentials(
        CREDENTIALS.access_key_id, CREDENTIALS.secret_access_key, CREDENTIALS.session_token
    )
    made.set_config_variable("region", region)
    return made


def by_sign(host: str, region: str | None, credentials: Any) -> str:
    headers = lattice_client.sign(
        "GET", f"https://{host}/x", credentials=credentials, region=region
    )
    return scope_region(headers)


def by_transport(host: str, region: str | None, credentials: Any) -> str:
    return through(
        lambda mock: httpx.Client(
            transport=LatticeTransport(mock, credentials=credentials, region=region)
        ),
        f"https://{host}/x",
    )


def by_client(host: str, region: str | None, credentials: Any) -> str:
    return through(
        lambda mock: lattice_client.Client(credentials=credentials, region=region, transport=mock),
        f"https://{host}/x",
    )


def by_client_base_url(host: str, region: str | None, credentials: Any) -> str:
    return through(
        lambda mock: lattice_client.Client(
            credentials=credentials, region=region, transport=mock, base_url=f"https://{host}"
        ),
        "/x",
    )


def by_grpc(host: str, region: str | None, credentials: Any) -> str:
    interceptor = lattice_client.grpc.SigningInterceptor(
        host, credentials=credentials, region=region
    )
    return interceptor.region


ENTRY_POINTS = {
    "sign": by_sign,
    "transport": by_transport,
    "client": by_client,
    "client-base-url": by_client_base_url,
    "grpc": by_grpc,
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_region_contradicting_a_generated_name_is_refused(entry: str) -> None:
    """region='eu-west-1' for a us-west-2 name: ConfigurationError, nothing signed or sent."""
    with pytest.raises(ConfigurationError, match="contradicts"):
        ENTRY_POINTS[entry](GENERATED, "eu-west-1", CREDENTIALS)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_generated_name_wins_over_the_environment(
    entry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_REGION is a default for names without one, never a contradiction."""
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert ENTRY_POINTS[entry](GENERATED, None, CREDENTIALS) == "us-west-2"


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_custom_domain_without_any_region_is_refused(entry: str) -> None:
    """No region=, no AWS_REGION, no session region, no SigV4A: NoRegionError before sending."""
    with pytest.raises(NoRegionError):
        ENTRY_POINTS[entry](CUSTOM, None, CREDENTIALS)


def test_client_with_a_custom_base_url_and_no_region_fails_when_built() -> None:
    """The error comes from the constructor, not from the first request."""
    with pytest.raises(NoRegionError, match="AWS_REGION"):
        lattice_client.Client(credentials=CREDENTIALS, base_url=f"https://{CUSTOM}")
    with pytest.raises(NoRegionError):
        lattice_client.AsyncClient(credentials=CREDENTIALS, base_url=f"https://{CUSTOM}")
    with pytest.raises(ConfigurationError, match="contradicts"):
        lattice_client.Client(
            credentials=CREDENTIALS, region="eu-west-1", base_url=f"https://{GENERATED}"
        )
    # The host signed is a client-wide Host header's when there is one.
    with pytest.raises(NoRegionError):
        lattice_client.Client(
            credentials=CREDENTIALS, base_url="http://127.0.0.1:8080", headers={"Host": CUSTOM}
        )
    lattice_client.Client(
        credentials=CREDENTIALS, base_url=f"https://{CUSTOM}", headers={"host": GENERATED}
    ).close()
    # An IP or localhost base_url is a stand-in or a proxy: checked per request instead.
    lattice_client.Client(credentials=CREDENTIALS, base_url="http://127.0.0.1:8080").close()


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_custom_domain_region_order(entry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """region=, then AWS_REGION, then AWS_DEFAULT_REGION, then the session's region."""
    sign = ENTRY_POINTS[entry]
    assert sign(CUSTOM, None, session("ap-south-1")) == "ap-south-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-central-1")
    assert sign(CUSTOM, None, session("ap-south-1")) == "ca-central-1"
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert sign(CUSTOM, None, session("ap-south-1")) == "eu-west-1"
    assert sign(CUSTOM, "eu-central-1", session("ap-south-1")) == "eu-central-1"


def test_lambda_client_signs_a_generated_name_in_another_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In Lambda, AWS_REGION (the function's) does not contradict a service elsewhere."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_access_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CREDENTIALS.session_token or "")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert through(lambda mock: aws_lambda.client(transport=mock), f"https://{GENERATED}/x") == (
        "us-west-2"
    )
    monkeypatch.setattr(_caller, "_client", None)
    assert through(lambda mock: aws_lambda.client(transport=mock), f"https://{CUSTOM}/x") == (
        "eu-west-1"
    )


# -- lattice-curl, in process, against a loopback server under the generated name ------------


@pytest.fixture
def curl_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_access_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CREDENTIALS.session_token or "")


def run_curl(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = curl_main(["-s", "-S", "-o", os.devnull, *args])
    return status, err.getvalue()


@pytest.mark.usefixtures("curl_env")
def test_curl_applies_the_same_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """--region that contradicts the name exits 2; AWS_REGION does not; no region exits 2."""
    app = SigningServer()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in (GENERATED, CUSTOM):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with uvicorn_server(app) as url:
        port = url.rsplit(":", 1)[1]
        status, err = run_curl("--region", "eu-west-1", f"http://{GENERATED}:{port}/x")
        assert status == 2
        assert "--region eu-west-1 contradicts" in err
        assert "region=" not in err.replace("--region", "")

        status, err = run_curl(f"http://{CUSTOM}:{port}/x")
        assert status == 2
        assert "--region" in err

        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        status, err = run_curl(f"http://{GENERATED}:{port}/x")
        assert status == 0, err
        status, err = run_curl(f"http://{CUSTOM}:{port}/x")
        assert status == 0, err
    assert app.received[0].check is not None
    assert app.received[0].check.ok
    assert app.received[0].check.region == "us-west-2"
    assert app.received[1].check is not None
    assert app.received[1].check.ok
    assert app.received[1].check.region == "eu-west-1"
