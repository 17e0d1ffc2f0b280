"""gRPC signing set-up: region, authority and missing-extra errors at construction, no secrets."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable

import grpc
import pytest
from _grpc_support import AUTHORITY, CREDENTIALS

import lattice_client
import lattice_client.grpc
import lattice_client.grpc.aio

CUSTOM_DOMAIN = "billing.example.com"


@pytest.fixture
def no_region_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS_REGION or AWS_DEFAULT_REGION in the environment."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


@pytest.mark.usefixtures("no_region_env")
def test_no_region_is_refused_when_the_channel_is_made() -> None:
    """A custom domain without region=, AWS_REGION or SigV4A fails at construction, not per call."""
    makers: list[Callable[[], object]] = [
        lambda: lattice_client.grpc.insecure_channel(f"{CUSTOM_DOMAIN}:80"),
        lambda: lattice_client.grpc.secure_channel(f"{CUSTOM_DOMAIN}:443"),
        lambda: lattice_client.grpc.aio.insecure_channel(f"{CUSTOM_DOMAIN}:80"),
        lambda: lattice_client.grpc.aio.secure_channel(f"{CUSTOM_DOMAIN}:443"),
        lambda: lattice_client.grpc.SigningInterceptor(CUSTOM_DOMAIN),
        lambda: lattice_client.grpc.aio.signing_interceptors(CUSTOM_DOMAIN),
    ]
    for make in makers:
        with pytest.raises(lattice_client.NoRegionError, match="pass region=") as raised:
            make()
        assert raised.value.host == CUSTOM_DOMAIN


@pytest.mark.usefixtures("no_region_env")
def test_region_comes_from_the_name_then_region_then_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A generated name gives its region; else region=; else AWS_REGION, then AWS_DEFAULT_REGION."""
    Interceptor = lattice_client.grpc.SigningInterceptor
    assert Interceptor(AUTHORITY).region == "us-west-2"
    assert Interceptor(CUSTOM_DOMAIN, region="eu-central-1").region == "eu-central-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert Interceptor(CUSTOM_DOMAIN).region == "ap-south-1"
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    assert Interceptor(CUSTOM_DOMAIN).region == "sa-east-1"
    assert Interceptor(AUTHORITY).region == "us-west-2"
    assert Interceptor(CUSTOM_DOMAIN, sigv4a=True).authority == CUSTOM_DOMAIN


def test_a_region_contradicting_the_generated_name_is_refused() -> None:
    """region= that differs from the region in a generated Lattice name is a configuration error."""
    with pytest.raises(lattice_client.ConfigurationError, match="contradicts"):
        lattice_client.grpc.SigningInterceptor(AUTHORITY, region="eu-west-1")


def test_an_authority_with_a_port_is_refused() -> None:
    """Lattice needs the authority without a port; one with a port is refused with the fix."""
    with pytest.raises(lattice_client.ConfigurationError, match="carries a port"):
        lattice_client.grpc.SigningInterceptor(f"{AUTHORITY}:443")
    with pytest.raises(lattice_client.ConfigurationError, match="carries a port"):
        lattice_client.grpc.insecure_channel(
            "127.0.0.1:1", options=[("grpc.default_authority", f"{AUTHORITY}:443")]
        )


def test_conflicting_authorities_are_refused() -> None:
    """authority= and a grpc.default_authority option that disagree are refused."""
    with pytest.raises(lattice_client.ConfigurationError, match="disagree"):
        lattice_client.grpc.insecure_channel(
            "127.0.0.1:1",
            authority=AUTHORITY,
            options=[("grpc.default_authority", CUSTOM_DOMAIN)],
            region="us-east-1",
        )


def test_a_target_without_host_needs_an_authority() -> None:
    """A unix socket target names no host, so authority= is required."""
    with pytest.raises(lattice_client.ConfigurationError, match="authority="):
        lattice_client.grpc.insecure_channel("unix:///tmp/lattice.sock", region="us-east-1")
    channel = lattice_client.grpc.insecure_channel(
        "unix:///tmp/lattice.sock", authority=AUTHORITY, aws_credentials=CREDENTIALS
    )
    channel.close()


def test_channels_are_grpc_channels() -> None:
    """The helpers return ordinary grpc channels, usable with generated stubs."""
    channel = lattice_client.grpc.secure_channel(
        f"{AUTHORITY}:443", grpc.ssl_channel_credentials(), aws_credentials=CREDENTIALS
    )
    assert isinstance(channel, grpc.Channel)
    channel.close()


def test_no_secret_in_reprs() -> None:
    """Interceptors show the host and region, never the secret key or session token."""
    text = repr(lattice_client.grpc.SigningInterceptor(AUTHORITY, credentials=CREDENTIALS))
    text += repr(lattice_client.grpc.aio.signing_interceptors(AUTHORITY, credentials=CREDENTIALS))
    assert CREDENTIALS.secret_access_key not in text
    assert str(CREDENTIALS.session_token) not in text
    assert AUTHORITY in text


def test_public_names_are_exported_and_sorted() -> None:
    """lattice_client.grpc and lattice_client.grpc.aio list their public names, sorted."""
    for module in (lattice_client.grpc, lattice_client.grpc.aio):
        assert module.__all__ == sorted(set(module.__all__))
        for name in module.__all__:
            assert hasattr(module, name), name


def test_missing_grpcio_says_which_extra_to_install() -> None:
    """Without grpcio, importing lattice_client.grpc raises an ImportError naming the extra."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["grpc"] = None  # as if grpcio were not installed
        import lattice_client
        try:
            import lattice_client.grpc
        except lattice_client.MissingDependencyError as error:
            assert isinstance(error, ImportError)
            print(error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'vpc-lattice-client[grpc]'" in result.stdout
    assert "grpcio" in result.stdout
