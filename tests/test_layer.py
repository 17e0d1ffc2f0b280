"""The Lambda layer build: a ``python/`` zip that runs a signing handler with nothing else around.

One layer is built for this machine's platform (pip needs PyPI for the
dependencies; downloads are cached in a temporary directory for this run).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_aws_lambda_caller import SigningCheckServer, start_server

from lattice_client import ConfigurationError, Credentials
from lattice_client.aws_lambda.layer import LayerBuild, build_layer, main

KEY_ID = "AKIDLAYEREXAMPLE"
SECRET = "layer/secret/EXAMPLEKEY"
TOKEN = "layer-session-token"


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> LayerBuild:
    """The layer for this machine's Python and architecture, built once."""
    arch = {"aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "x86_64")
    return build_layer(
        tmp_path_factory.mktemp("layer") / "layer.zip",
        python=f"{sys.version_info.major}.{sys.version_info.minor}",
        architecture=arch,
        cache_dir=tmp_path_factory.mktemp("pip-cache"),
    )


@pytest.fixture
def server() -> Iterator[SigningCheckServer]:
    """A loopback server that verifies signatures made with the layer test's credentials."""
    running = start_server(Credentials(KEY_ID, SECRET, TOKEN))
    yield running
    running.shutdown()
    running.server_close()


def test_layout_and_contents(layer: LayerBuild) -> None:
    """Everything is under python/, with lattice_client and httpx, and without botocore."""
    with zipfile.ZipFile(layer.path) as archive:
        names = archive.namelist()
        unpacked = sum(info.file_size for info in archive.infolist())
    assert names == sorted(names)
    assert all(name.startswith("python/") for name in names)
    assert "python/lattice_client/aws_lambda/__init__.py" in names
    assert "python/httpx/__init__.py" in names
    assert not any(name.startswith(("python/botocore/", "python/bin/")) for name in names)
    # Lambda's /opt is read-only: without shipped bytecode every cold start recompiles.
    tag = sys.implementation.cache_tag
    assert layer.bytecode
    assert f"python/lattice_client/__pycache__/_signing.{tag}.pyc" in names
    assert f"python/httpx/__pycache__/_client.{tag}.pyc" in names
    assert layer.unpacked_bytes == unpacked
    assert layer.zip_bytes == layer.path.stat().st_size
    assert any(d.startswith("vpc_lattice_client-") for d in layer.distributions)
    assert not any(d.startswith("botocore-") for d in layer.distributions)


def test_handler_runs_from_the_unpacked_layer_alone(
    layer: LayerBuild, server: SigningCheckServer, tmp_path: Path
) -> None:
    """A fresh interpreter with only the layer and the stdlib runs a handler that signs right."""
    opt = tmp_path / "opt"
    opt.mkdir()
    with zipfile.ZipFile(layer.path) as archive:
        archive.extractall(opt)
    script = tmp_path / "function.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, sys
            sys.path.insert(0, {str(opt / "python")!r})  # what Lambda does with /opt/python

            from lattice_client import aws_lambda

            @aws_lambda.lattice_handler
            def handler(request, context):
                http = aws_lambda.client(signing_hosts=[{server.authority!r}])
                return http.get("http://{server.authority}" + request.path).json()

            class Context:
                def get_remaining_time_in_millis(self):
                    return 10_000

            response = handler({{"version": "2.0", "method": "GET", "path": "/layer"}}, Context())
            import httpx, lattice_client
            print(json.dumps({{
                "response": response,
                "modules": [lattice_client.__file__, httpx.__file__],
                "bytecode": __import__("os").path.exists(lattice_client.__cached__),
                "botocore": "botocore" in sys.modules,
                "site": any("site-packages" in p for p in sys.path),
            }}))
            """
        )
    )
    env = {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
        "AWS_REGION": "ap-southeast-2",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["response"]["statusCode"] == 200, report
    answer = json.loads(report["response"]["body"])
    assert answer["ok"], answer
    assert answer["region"] == "ap-southeast-2"
    assert all(path.startswith(str(opt)) for path in report["modules"]), report["modules"]
    assert report["botocore"] is False
    assert report["site"] is False
    assert report["bytecode"] is True


def test_bytecode_for_another_python_is_refused(tmp_path: Path) -> None:
    """Only the target's own Python can compile its bytecode; asking otherwise is an error."""
    other = "3.12" if sys.version_info[:2] != (3, 12) else "3.13"
    with pytest.raises(ConfigurationError, match="bytecode for Python"):
        build_layer(tmp_path / "layer.zip", python=other, bytecode=True)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"python": "2.7"}, "python="),
        ({"python": "3.9"}, "python="),
        ({"python": "3.12", "architecture": "sparc"}, "architecture="),
        ({"python": "3.12", "source": "missing.whl"}, "does not exist"),
    ],
)
def test_bad_options(options: dict[str, str], match: str, tmp_path: Path) -> None:
    """A Python version, architecture or source Lambda cannot use is refused before pip runs."""
    with pytest.raises(ConfigurationError, match=match):
        build_layer(tmp_path / "layer.zip", **options)  # type: ignore[arg-type]
    assert not (tmp_path / "layer.zip").exists()


def test_command_line_reports_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The command exits 1 with a one-line error for a version Lambda does not run."""
    assert main(["--python", "3.8", "-o", str(tmp_path / "x.zip")]) == 1
    assert "python=" in capsys.readouterr().err
