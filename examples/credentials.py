"""Where credentials come from: container endpoints, assumed roles, slow providers.

Run: python examples/credentials.py   (needs the `testing` extra; the assumed-role
part also needs moto's STS server: pip install 'vpc-lattice-client[test]')

Everything runs on 127.0.0.1 against the local Lattice stand-in, which verifies
every signature and names the principal it belongs to:

1. EKS Pod Identity: a container credentials endpoint (what the Pod Identity
   agent serves) found through AWS_CONTAINER_CREDENTIALS_FULL_URI and
   AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE by botocore's chain; it rotates the
   credentials every second, and each request signs with the newest.
2. An assumed role: a Client with an `AssumeRoleProvider` calls STS
   (moto's server here, reached through AWS_ENDPOINT_URL_STS) with the base
   credentials and signs as the role.
3. A provider slower than the request's timeout: CredentialsTimeoutError after
   about a second, nothing sent.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import lattice_client
from lattice_client.testing import LocalLattice, Principal

POD_ROLE = "arn:aws:sts::111122223333:assumed-role/pod-role/eks-example-pod"
ROLE = "arn:aws:iam::111122223333:role/billing-caller"


def pod_identity_agent(lattice: LocalLattice, token: str) -> ThreadingHTTPServer:
    """A container credentials endpoint: new credentials every second, for callers
    presenting ``token``. The stand-in learns each set it hands out, as IAM tells Lattice."""
    issued: dict[int, lattice_client.Credentials] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != token:
                self.send_error(403)
                return
            with lock:
                second = int(time.time())
                if second not in issued:
                    principal = Principal.generate(POD_ROLE)
                    lattice.add_principal(principal)
                    issued[second] = principal.credentials
                credentials = issued[second]
            expiry = datetime.now(timezone.utc) + timedelta(seconds=50)
            body = json.dumps(
                {
                    "AccessKeyId": credentials.access_key_id,
                    "SecretAccessKey": credentials.secret_access_key,
                    "Token": credentials.session_token,
                    "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def pod_identity(lattice: LocalLattice, workdir: Path) -> None:
    print("1. EKS Pod Identity, rotating every second")
    token_file = workdir / "eks-pod-identity-token"
    token_file.write_text("example-pod-identity-token")
    # As in a pod: no keys in the environment, nothing else for botocore's chain to find.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    agent = pod_identity_agent(lattice, "example-pod-identity-token")
    host, port = agent.server_address[:2]
    os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://{host!s}:{port}/v1/credentials"
    os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = str(token_file)
    try:
        with lattice_client.Client(region=lattice.region, base_url=lattice.url) as client:
            for _ in range(3):
                response = client.get("/orders")
                signed_with = response.request.headers["authorization"].split("Credential=")[1]
                print(f"   {response.status_code} signed with {signed_with.split('/')[0]}")
                time.sleep(1.0)
    finally:
        agent.shutdown()
        del os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        del os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
    callers = {entry["callerPrincipal"] for entry in lattice.access_log}
    print(f"   the stand-in verified them as {sorted(callers)}")


class TellTheStandIn:
    """A provider around another: the stand-in learns each key it returns.

    The real Lattice knows every key STS issues; the stand-in only the keys it
    is told about.
    """

    def __init__(self, inner: lattice_client.AssumeRoleProvider, lattice: LocalLattice) -> None:
        self._inner = inner
        self._lattice = lattice
        self.calls = 0

    def get_credentials(self) -> lattice_client.Credentials:
        issued = self._inner.get_credentials()
        self.calls += 1
        arn = f"arn:aws:sts::111122223333:assumed-role/billing-caller/{SESSION}"
        self._lattice.add_principal(Principal(arn, issued))
        return issued


SESSION = "example-session"


def assumed_role(lattice: LocalLattice) -> None:
    print("2. An assumed role")
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        print("   (skipped: moto is not installed; pip install 'vpc-lattice-client[test]')")
        return
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sts = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    sts.start()
    host, port = sts.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL_STS"] = f"http://{host}:{port}"
    lattice.clear_access_log()
    base = lattice_client.Credentials("AKIDBASEEXAMPLE", "base-secret-example")
    role = lattice_client.AssumeRoleProvider(
        ROLE, credentials=base, role_session_name=SESSION, duration=timedelta(hours=1)
    )
    told = TellTheStandIn(role, lattice)
    try:
        with lattice_client.Client(
            credentials=told, region=lattice.region, base_url=lattice.url
        ) as client:
            print(
                f"   {client.get('/invoices').status_code}, {client.get('/invoices').status_code}"
            )
    finally:
        sts.stop()
        del os.environ["AWS_ENDPOINT_URL_STS"]
    callers = {entry["callerPrincipal"] for entry in lattice.access_log}
    print(f"   the stand-in verified them as {sorted(callers)}; AssumeRole calls: {told.calls}")


class SlowProvider:
    """A credentials provider that takes 5 seconds (a stuck vault, an unreachable STS)."""

    def __init__(self) -> None:
        self.released = threading.Event()

    def get_credentials(self) -> lattice_client.Credentials:
        self.released.wait(5)
        return lattice_client.Credentials("AKIDSLOW", "slow-secret")


def slow_provider(lattice: LocalLattice) -> None:
    print("3. A provider slower than the request's timeout")
    provider = SlowProvider()
    began = time.monotonic()
    try:
        with lattice_client.Client(
            credentials=provider, region=lattice.region, base_url=lattice.url, timeout=1
        ) as client:
            client.get("/orders")
    except lattice_client.CredentialsTimeoutError as exc:
        print(f"   after {time.monotonic() - began:.1f} s: {type(exc).__name__}: {exc}")
    finally:
        provider.released.set()


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir, LocalLattice() as lattice:
        pod_identity(lattice, Path(workdir))
        assumed_role(lattice)
        slow_provider(lattice)


if __name__ == "__main__":
    main()
