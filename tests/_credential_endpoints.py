"""Real credential endpoints on loopback, for botocore and lattice-client to fetch from.

- `sts_server`: moto's STS (``moto[server]``) on a free port; point botocore at it
  with ``AWS_ENDPOINT_URL_STS``. `register_issued_keys` has it tell a `LocalLattice`
  about every key it issues, as IAM tells the real Lattice.
- `ContainerEndpoint`: the ECS / EKS Pod Identity container credentials endpoint
  (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` + ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE``),
  issuing new credentials every ``rotate_every`` seconds.
- `InstanceMetadata`: IMDSv2 (``AWS_EC2_METADATA_SERVICE_ENDPOINT``): a session token
  from ``PUT /latest/api/token``, then the role's credentials, new ones each hour.

The endpoints register what they issue with the stand-in and record what they served.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest

from lattice_client import Credentials
from lattice_client.testing import LocalLattice, Principal

ACCOUNT = "111122223333"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def sts_server() -> Iterator[str]:
    """moto's server on a free loopback port; yields its URL."""
    from moto.server import ThreadedMotoServer

    # werkzeug logs one line per request at INFO; the tests have no use for it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def register_issued_keys(monkeypatch: pytest.MonkeyPatch, lattice: LocalLattice) -> list[str]:
    """Have moto's STS tell ``lattice`` about each key it issues; returns the key ids, in order.

    moto keeps the keys it issues to itself; the real Lattice knows every key STS
    issued. Both AssumeRole and AssumeRoleWithWebIdentity go through this method.
    """
    from moto.sts.models import STSBackend

    issued: list[str] = []
    original = STSBackend.assume_role

    def assume_role(self: STSBackend, *args: Any, **kwargs: Any) -> Any:
        role = original(self, *args, **kwargs)
        credentials = Credentials(role.access_key_id, role.secret_access_key, role.session_token)
        lattice.add_principal(Principal(role.arn, credentials))
        issued.append(role.access_key_id)
        return role

    monkeypatch.setattr(STSBackend, "assume_role", assume_role)
    return issued


E = TypeVar("E", bound="_Endpoint")


class _Endpoint:
    """A ThreadingHTTPServer on a free loopback port, in a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.endpoint = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self: E) -> E:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _Issuer:
    """Credentials for one role, a new set each time ``generation()`` changes."""

    def __init__(self, lattice: LocalLattice, arn: str, lifetime: timedelta) -> None:
        self._lattice = lattice
        self._arn = arn
        self._lifetime = lifetime
        self._lock = threading.Lock()
        self._current: tuple[int, Credentials] | None = None
        self.issued: list[str] = []

    def credentials(self, generation: int) -> Credentials:
        with self._lock:
            if self._current is None or self._current[0] != generation:
                principal = Principal.generate(self._arn)
                known = principal.credentials
                issued = Credentials(
                    known.access_key_id,
                    known.secret_access_key,
                    known.session_token,
                    datetime.now(timezone.utc) + self._lifetime,
                )
                self._lattice.add_principal(principal)
                self.issued.append(issued.access_key_id)
                self._current = (generation, issued)
            return self._current[1]


class ContainerEndpoint(_Endpoint):
    """The container credentials endpoint of ECS and EKS Pod Identity.

    Answers ``GET /v1/credentials`` with the role's credentials when the
    ``Authorization`` header carries ``token``; issues new ones every
    ``rotate_every`` seconds, each valid for ``lifetime``.
    """

    def __init__(
        self,
        lattice: LocalLattice,
        *,
        arn: str,
        token: str,
        rotate_every: float,
        lifetime: timedelta,
    ) -> None:
        super().__init__(_ContainerHandler)
        self.token = token
        self.refused = 0
        self._issuer = _Issuer(lattice, arn, lifetime)
        self._started = time.monotonic()
        self._rotate_every = rotate_every

    @property
    def issued(self) -> list[str]:
        return self._issuer.issued

    def answer(self, authorization: str | None) -> tuple[int, dict[str, str]]:
        if authorization != self.token:
            self.refused += 1
            return 403, {"code": "AccessDenied", "message": "bad authorization token"}
        generation = int((time.monotonic() - self._started) / self._rotate_every)
        issued = self._issuer.credentials(generation)
        assert issued.expiry is not None
        assert issued.session_token is not None
        return 200, {
            "AccessKeyId": issued.access_key_id,
            "SecretAccessKey": issued.secret_access_key,
            "Token": issued.session_token,
            "AccountId": ACCOUNT,
            "Expiration": _iso(issued.expiry),
        }


class _ContainerHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        endpoint: ContainerEndpoint = self.server.endpoint  # type: ignore[attr-defined]
        if self.path != "/v1/credentials":
            _reply(self, 404, {"message": "not found"})
            return
        status, body = endpoint.answer(self.headers.get("Authorization"))
        _reply(self, status, body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class InstanceMetadata(_Endpoint):
    """IMDSv2: a session token first, then the instance role's credentials with it.

    New credentials every ``rotate_every`` of wall-clock time (the clock the tests
    travel with), each valid for ``lifetime``, as EC2 rotates them about hourly.
    """

    ROLE = "lattice-instance-role"
    _CREDENTIALS = "/latest/meta-data/iam/security-credentials/"

    def __init__(
        self, lattice: LocalLattice, *, arn: str, rotate_every: timedelta, lifetime: timedelta
    ) -> None:
        super().__init__(_MetadataHandler)
        self.tokens: set[str] = set()
        self.refused = 0
        self._issuer = _Issuer(lattice, arn, lifetime)
        self._rotate_every = rotate_every

    @property
    def issued(self) -> list[str]:
        return self._issuer.issued

    def new_token(self, ttl: str | None) -> tuple[int, str]:
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return 400, ""
        token = secrets.token_urlsafe(32)
        self.tokens.add(token)
        return 200, token

    def answer(self, path: str, token: str | None) -> tuple[int, str]:
        if token not in self.tokens:
            self.refused += 1
            return 401, ""
        if path == self._CREDENTIALS:
            return 200, self.ROLE
        if path == self._CREDENTIALS + self.ROLE:
            now = datetime.now(timezone.utc)
            generation = int(now.timestamp() // self._rotate_every.total_seconds())
            issued = self._issuer.credentials(generation)
            assert issued.expiry is not None
            assert issued.session_token is not None
            body = {
                "Code": "Success",
                "LastUpdated": _iso(now),
                "Type": "AWS-HMAC",
                "AccessKeyId": issued.access_key_id,
                "SecretAccessKey": issued.secret_access_key,
                "Token": issued.session_token,
                "Expiration": _iso(issued.expiry),
            }
            return 200, json.dumps(body)
        return 404, ""


class _MetadataHandler(BaseHTTPRequestHandler):
    def do_PUT(self) -> None:
        endpoint: InstanceMetadata = self.server.endpoint  # type: ignore[attr-defined]
        if self.path != "/latest/api/token":
            _reply_text(self, 404, "")
            return
        status, token = endpoint.new_token(self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"))
        _reply_text(self, status, token)

    def do_GET(self) -> None:
        endpoint: InstanceMetadata = self.server.endpoint  # type: ignore[attr-defined]
        status, body = endpoint.answer(self.path, self.headers.get("X-aws-ec2-metadata-token"))
        _reply_text(self, status, body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _reply_text(handler: BaseHTTPRequestHandler, status: int, body: str) -> None:
    data = body.encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
