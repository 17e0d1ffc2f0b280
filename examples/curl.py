"""``lattice-curl`` against a local Lattice: a GET, a POST, an upload from stdin, ``-v``, a denial.

Starts a tiny ASGI app behind `lattice_client.testing.LocalLattice` in this
process, then runs the ``lattice-curl`` command (``python -m lattice_client._curl``,
the same code as the installed script) a few times, with the stand-in's
credentials in the environment, as you would from a shell. Needs the extra
``testing``; no AWS account, no network but loopback.

Run: python examples/curl.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from lattice_client.testing import LocalLattice, ServiceNames

Message = MutableMapping[str, Any]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """The service: says what it received, counting the body as it streams in."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = json.dumps({"method": scope["method"], "path": scope["path"], "bytes": size})
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body.encode() + b"\n"})


def lattice_curl(
    *args: str, env: dict[str, str], stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run lattice-curl as a shell would, and show the command, its output and exit code."""
    shown = " ".join(arg if " " not in arg else repr(arg) for arg in args)
    print(f"$ lattice-curl {shown}")
    result = subprocess.run(  # noqa: S603 -- our own command, with arguments written here
        [sys.executable, "-m", "lattice_client._curl", *args],
        env=env,
        input=stdin,
        capture_output=True,
        check=False,
        timeout=60,
    )
    output = result.stdout.decode() + result.stderr.decode()
    print(output.rstrip())
    print(f"(exit {result.returncode})\n")
    return subprocess.CompletedProcess(result.args, result.returncode, output)


def main() -> None:
    service_arn = ServiceNames().service_arn
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": f"{service_arn}/*",
                "Condition": {"StringNotEqualsIgnoreCase": {"aws:PrincipalType": "anonymous"}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": f"{service_arn}/admin/*",
            },
        ],
    }
    with LocalLattice(app=app, auth_policy=policy) as lattice:
        credentials = lattice.credentials
        # What `aws configure export-credentials --format env` would give you.
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=credentials.access_key_id,
            AWS_SECRET_ACCESS_KEY=credentials.secret_access_key,
            AWS_SESSION_TOKEN=credentials.session_token or "",
            AWS_REGION=lattice.region,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        url = lattice.url

        assert lattice_curl(f"{url}/invoices?year=2026", env=env).returncode == 0
        assert lattice_curl("-d", "amount=42", f"{url}/invoices", env=env).returncode == 0
        upload = b"x" * (4 * 1024 * 1024)
        assert lattice_curl("-T", "-", f"{url}/uploads", env=env, stdin=upload).returncode == 0
        verbose = lattice_curl("-v", f"{url}/invoices/7", env=env)
        assert verbose.returncode == 0
        for secret in (credentials.secret_access_key, credentials.session_token or "?"):
            assert secret not in verbose.stdout, "-v printed a secret"
        denied = lattice_curl(f"{url}/admin/users", env=env)
        assert denied.returncode == 43, denied.stdout


if __name__ == "__main__":
    main()
