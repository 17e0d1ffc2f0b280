"""The tools around `LocalLattice`: the pytest plugin, ``lattice-local`` and the quickstart."""

from __future__ import annotations

import configparser
import json
import os
import signal
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest

import lattice_client
from lattice_client._cli import main as lattice_client_main


def test_pytest_plugin_is_registered() -> None:
    """The plugin is declared under the pytest11 entry point: installing the package enables it."""
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("lattice_client") == "lattice_client.testing._pytest_plugin"


def test_pytest_plugin_fixture_in_a_users_project(tmp_path: Path) -> None:
    """A user's test gets a running stand-in in front of its app from the local_lattice fixture."""
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import httpx
            import pytest
            import lattice_client

            async def app(scope, receive, send):
                if scope["type"] != "http":
                    return
                seen = lattice_client.parse_lattice_headers(scope["headers"])
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body",
                            "body": (seen.identity.principal or "-").encode()})

            @pytest.fixture
            def local_lattice_app():
                return app

            def test_signed_call(local_lattice):
                with lattice_client.Client(base_url=local_lattice.url,
                                           credentials=local_lattice.credentials,
                                           region=local_lattice.region) as client:
                    response = client.get("/")
                assert response.text == local_lattice.principal.arn

            @pytest.mark.local_lattice(auth_type="NONE")
            def test_marker_options(local_lattice):
                assert httpx.get(local_lattice.url + "/", trust_env=False).text == "-"
            """
        )
    )
    environment = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"),
            *("-p", "lattice_client.testing._pytest_plugin", str(tmp_path)),
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_lattice_local_command(tmp_path: Path) -> None:
    """``lattice-local`` serves, writes credentials to a private file and logs requests as JSON."""
    credentials_file = tmp_path / "credentials"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "lattice_client.testing._cli"),
            *("--credentials-file", str(credentials_file), "--fixed-response", "/down=500"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert banner.startswith("lattice-local: serving "), banner
        info = json.loads(banner.removeprefix("lattice-local: serving "))
        hint = process.stderr.readline()
        assert f"AWS_SHARED_CREDENTIALS_FILE={credentials_file}" in hint

        assert credentials_file.stat().st_mode & 0o777 == 0o600
        profile = configparser.ConfigParser()
        profile.read(credentials_file)
        section = profile["local-lattice"]
        credentials = lattice_client.Credentials(
            section["aws_access_key_id"],
            section["aws_secret_access_key"],
            section["aws_session_token"],
        )
        with lattice_client.Client(
            base_url=info["url"], credentials=credentials, region=info["region"]
        ) as client:
            assert client.get("/down").status_code == 500
            assert client.get("/anything").status_code == 404  # no target: Lattice's 404
        assert httpx.get(info["url"] + "/", trust_env=False).status_code == 403
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    records = [json.loads(line) for line in stdout.splitlines()]
    assert [r["responseCode"] for r in records] == [500, 404, 403]
    for secret in (credentials.secret_access_key, str(credentials.session_token)):
        assert secret not in stdout + stderr


def test_lattice_local_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --fixed-response is reported with what to write instead, exit status 2."""
    from lattice_client.testing._cli import main

    assert main(["--fixed-response", "/x=418"]) == 2
    assert "PATH=404 or PATH=500" in capsys.readouterr().err


def test_quickstart_runs_every_kind_of_call(capsys: pytest.CaptureFixture[str]) -> None:
    """``lattice-client quickstart`` makes sync, async, gRPC and denied calls and exits 0."""
    assert lattice_client_main(["quickstart"]) == 0
    out = capsys.readouterr().out
    assert "1. Client, SigV4: GET /invoices?year=2026 -> 200" in out
    assert "2. AsyncClient, SigV4A: POST /invoices -> 201" in out
    assert (
        "3. gRPC (lattice_client.grpc.insecure_channel): demo.Greeter/Hello -> hello world" in out
    )
    assert "raised AccessDeniedError" in out
    assert "x-amzn-lattice-identity: Principal=arn:aws:sts::111122223333:assumed-role/" in out
    # The service network: one denial by each auth-policy layer, then an allowed call.
    assert "-> 403, denied by the network-based policy" in out
    assert "-> 403, denied by the service-based policy" in out
    assert "-> 200, allowed by both policies" in out


def test_testing_public_api_is_all_and_sorted() -> None:
    """`lattice_client.testing.__all__` is sorted, complete, and lists private modules' objects."""
    import lattice_client.testing as testing

    assert testing.__all__ == sorted(set(testing.__all__))
    # "@py_builtins"/"@pytest_ar": pytest rewrites the asserts of a plugin's distribution.
    public = {
        name for name in vars(testing) if not name.startswith(("_", "@")) and name != "annotations"
    }
    assert public == set(testing.__all__), public ^ set(testing.__all__)
    for name in testing.__all__:
        module = getattr(testing, name).__module__
        assert module.startswith("lattice_client.testing._"), (name, module)
