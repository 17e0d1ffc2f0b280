"""Lambda cold start: a fresh interpreter imports the helper and sends its first signed request.

Compared, each in its own fresh interpreter, alternately, against a loopback
server that verifies every signature (`lattice_client.testing.verify_signature`):

- ``lattice_client.aws_lambda``: ``aws_lambda.client().get(url)`` with
  Lambda's credentials in the environment;
- baseline: botocore's ``SigV4Auth`` signing an ``AWSRequest``, sent with
  ``httpx.get``, the usual hand-made recipe;
- floor: ``httpx.get`` alone, unsigned (answered 403): importing httpx,
  building its client (its TLS context: certifi's CA bundle) and one
  request. No signer that sends with httpx's default client can go below it.

Measured inside the child, from before the first import to the response:
the part of a cold start the library decides (interpreter start-up is the
same for all and reported apart, as is the whole process). Twice: as on
Lambda (``python -I -S`` with only the unpacked layer, built here with
botocore so that the baseline finds it, as it would in Lambda's runtime), and
in this virtualenv, whose extra packages (click, pygments, h2) httpx and
httpcore import when present. Every child reads bytecode from one cache
(``-X pycache_prefix``) filled by an unmeasured first run, so that no variant
compiles source when another does not (PYTHONDONTWRITEBYTECODE would leave
this source tree uncompiled while site-packages is). Then reports the
layer's sizes. Target: lattice_client at most 0.6 of the baseline. Needs
PyPI for the layer build.

    .venv/bin/python benchmarks/lambda_cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lattice_client import Credentials
from lattice_client.aws_lambda.layer import LayerBuildError, build_layer
from lattice_client.testing import verify_signature

CREDENTIALS = Credentials("AKIDCOLDSTART", "cold/start/EXAMPLEKEY", "cold-start-token")
REGION = "us-west-2"

OURS = """
import time
started = time.perf_counter()
from lattice_client import aws_lambda
response = aws_lambda.client(signing_hosts=["{authority}"]).get("http://{authority}/ours")
elapsed = time.perf_counter() - started
import json, sys
assert response.status_code == 200, response.text
print(json.dumps({{"seconds": elapsed, "botocore": "botocore" in sys.modules}}))
"""

BASELINE = """
import time
started = time.perf_counter()
import os
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
credentials = Credentials(
    os.environ["AWS_ACCESS_KEY_ID"],
    os.environ["AWS_SECRET_ACCESS_KEY"],
    os.environ["AWS_SESSION_TOKEN"],
)
# botocore hashes the payload of any http:// request; Lattice wants UNSIGNED-PAYLOAD,
# so sign the https:// form of the URL (the scheme is not part of the signature).
request = AWSRequest(
    "GET",
    "https://{authority}/baseline",
    headers={{"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}},
)
request.context["payload_signing_enabled"] = False
SigV4Auth(credentials, "vpc-lattice-svcs", os.environ["AWS_REGION"]).add_auth(request)
response = httpx.get("http://{authority}/baseline", headers=dict(request.headers.items()))
elapsed = time.perf_counter() - started
import json, sys
assert response.status_code == 200, response.text
print(json.dumps({{"seconds": elapsed, "botocore": "botocore" in sys.modules}}))
"""

FLOOR = """
import time
started = time.perf_counter()
import httpx
response = httpx.get("http://{authority}/floor")
elapsed = time.perf_counter() - started
import json, sys
assert response.status_code == 403, response.text  # unsigned, so refused
print(json.dumps({{"seconds": elapsed, "botocore": "botocore" in sys.modules}}))
"""

EMPTY = "pass"


class _Verifying(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        check = verify_signature(
            self.command,
            self.path,
            list(self.headers.items()),
            credentials={CREDENTIALS.access_key_id: CREDENTIALS},
        )
        body = b"ok" if check.ok else f"{check.error}: {check.message}".encode()
        self.send_response(200 if check.ok else 403)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def run_child(
    code: str, env: dict[str, str], isolated_path: str | None, pycache: str
) -> tuple[float, float]:
    """(seconds measured inside the child, wall seconds of the whole process).

    With ``isolated_path``, the child runs as on Lambda: ``python -I -S`` with
    only that folder (an unpacked layer) and the standard library importable.
    Bytecode is read from and written to ``pycache``.
    """
    command = [sys.executable, "-X", f"pycache_prefix={pycache}"]
    if isolated_path is not None:
        command += ["-I", "-S"]
        code = f"import sys; sys.path.insert(0, {isolated_path!r})\n{code}"
    started = time.perf_counter()
    result = subprocess.run(
        [*command, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"child failed:\n{result.stderr}")
    if code.endswith(EMPTY):
        return 0.0, wall
    report = json.loads(result.stdout)
    return float(report["seconds"]), wall


def measure(
    variants: dict[str, str],
    env: dict[str, str],
    runs: int,
    isolated_path: str | None,
    pycache: str,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per variant: the in-child times and the whole-process times of ``runs`` fresh children."""
    inside: dict[str, list[float]] = {name: [] for name in variants}
    wall: dict[str, list[float]] = {name: [] for name in variants}
    for code in variants.values():  # warm the file and bytecode caches once, not measured
        run_child(code, env, isolated_path, pycache)
    for _ in range(runs):
        for name, code in variants.items():  # alternate, so drift hits all alike
            seconds, process = run_child(code, env, isolated_path, pycache)
            inside[name].append(seconds)
            wall[name].append(process)
    return inside, wall


def report(title: str, inside: dict[str, list[float]], wall: dict[str, list[float]]) -> None:
    print(title)
    print(f"  {'variant':<28} {'import + 1st request':>21} {'(best)':>9} {'whole process':>14}")
    for name in inside:
        if name == EMPTY_NAME:
            measured = best = "-"
        else:
            measured = f"{statistics.median(inside[name]) * 1e3:.1f} ms"
            best = f"{min(inside[name]) * 1e3:.1f} ms"
        print(
            f"  {name:<28} {measured:>21} {best:>9} {statistics.median(wall[name]) * 1e3:>11.1f} ms"
        )
    ratio = statistics.median(inside[OURS_NAME]) / statistics.median(inside[BASE_NAME])
    best_ratio = min(inside[OURS_NAME]) / min(inside[BASE_NAME])
    wall_ratio = statistics.median(wall[OURS_NAME]) / statistics.median(wall[BASE_NAME])
    floor = statistics.median(inside[FLOOR_NAME]) / statistics.median(inside[BASE_NAME])
    verdict = "meets" if ratio <= 0.6 else "MISSES"
    print(f"  ratio, import + 1st request: {ratio:.2f} of the baseline ({verdict} the 0.6 target)")
    print(f"  ratio, best of each:         {best_ratio:.2f}")
    print(f"  ratio, whole process:        {wall_ratio:.2f} of the baseline")
    print(f"  floor (httpx alone):         {floor:.2f} of the baseline")
    ours_over_floor = statistics.median(inside[OURS_NAME]) - statistics.median(inside[FLOOR_NAME])
    print(f"  lattice_client over floor:   {ours_over_floor * 1e3:+.1f} ms")


OURS_NAME = "lattice_client.aws_lambda"
BASE_NAME = "botocore SigV4Auth + httpx"
FLOOR_NAME = "floor: httpx alone, unsigned"
EMPTY_NAME = "empty interpreter"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per variant")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Verifying)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    authority = f"127.0.0.1:{server.server_address[1]}"
    env = {
        "AWS_ACCESS_KEY_ID": CREDENTIALS.access_key_id,
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS.secret_access_key,
        "AWS_SESSION_TOKEN": CREDENTIALS.session_token or "",
        "AWS_REGION": REGION,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    variants = {
        OURS_NAME: textwrap.dedent(OURS).format(authority=authority),
        BASE_NAME: textwrap.dedent(BASELINE).format(authority=authority),
        FLOOR_NAME: textwrap.dedent(FLOOR).format(authority=authority),
        EMPTY_NAME: EMPTY,
    }
    # The venv's own environment, but with bytecode written (to the shared cache).
    venv_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    print(
        f"Cold start, {args.runs} fresh interpreters per variant, Python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        layers = {}
        for with_botocore in (False, True):
            try:
                layers[with_botocore] = build_layer(
                    Path(scratch) / f"layer-{with_botocore}.zip",
                    python=f"{sys.version_info.major}.{sys.version_info.minor}",
                    architecture="arm64"
                    if platform.machine() in ("aarch64", "arm64")
                    else "x86_64",
                    with_botocore=with_botocore,
                )
            except LayerBuildError as exc:
                print(f"layer: not built, so no Lambda-like run ({exc})")
                break
        if True in layers:
            # Lambda's runtime has botocore: the baseline finds it next to httpx here.
            unpacked = Path(scratch) / "opt"
            with zipfile.ZipFile(layers[True].path) as archive:
                archive.extractall(unpacked)
            inside, wall = measure(
                variants, env, args.runs, str(unpacked / "python"), f"{scratch}/pyc-layer"
            )
            report(
                "As on Lambda (python -I -S, only the unpacked layer on sys.path):", inside, wall
            )
        inside, wall = measure(
            variants, {**venv_env, **env}, args.runs, None, f"{scratch}/pyc-venv"
        )
        report(
            "In this virtualenv (its extra packages, e.g. click and h2, load too):", inside, wall
        )
        for with_botocore, built in layers.items():
            label = "with botocore (--with-botocore)" if with_botocore else "default (no botocore)"
            print(
                f"layer py{built.python} {built.architecture}, {label:<32} zip "
                f"{built.zip_bytes / 1e6:6.2f} MB, unpacked {built.unpacked_bytes / 1e6:6.2f} MB"
            )
    server.shutdown()


if __name__ == "__main__":
    main()
