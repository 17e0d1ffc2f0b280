"""A Lambda function calling a VPC Lattice service: one client per environment, bounded by time.

Runs locally: it sets the variables Lambda sets, starts a loopback stand-in for
a Lattice service that verifies every signature, and invokes the handler as
Lambda would, three times: two fast calls reusing one client, then a slow
service that hits the invocation's deadline.

    python examples/lambda_caller.py
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lattice_client import Credentials, aws_lambda
from lattice_client.testing import verify_signature

# What Lambda puts in the environment of a function (the execution role's keys).
LAMBDA_CREDENTIALS = Credentials("AKIDEXAMPLE", "example/secret/KEY", "example-session-token")


class ServiceStandIn(BaseHTTPRequestHandler):
    """Answers 200 to a correctly signed request and 403 otherwise; ``/slow`` takes 2 s."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(2)
        check = verify_signature(
            self.command,
            self.path,
            list(self.headers.items()),
            credentials={LAMBDA_CREDENTIALS.access_key_id: LAMBDA_CREDENTIALS},
        )
        body = json.dumps({"signature_ok": check.ok, "region": check.region}).encode()
        self.send_response(200 if check.ok else 403)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class LocalContext:
    """Lambda's context: how long this invocation has left."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


SERVICE = ""  # set in main(); on Lambda, your service's Lattice name


def handler(event: dict[str, Any], context: LocalContext) -> dict[str, Any]:
    """A plain Lambda handler: every call inside deadline() ends before Lambda stops us."""
    # Every request you send is signed for its own origin: a generated Lattice
    # name on Lambda, the loopback stand-in here.
    http = aws_lambda.client()
    try:
        with aws_lambda.deadline(context):
            answer = http.get(f"http://{SERVICE}{event['path']}").json()
    except aws_lambda.DeadlineExceededError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "answer": answer, "client": id(http)}


def main() -> None:
    global SERVICE
    os.environ.update(
        AWS_ACCESS_KEY_ID=LAMBDA_CREDENTIALS.access_key_id,
        AWS_SECRET_ACCESS_KEY=LAMBDA_CREDENTIALS.secret_access_key,
        AWS_SESSION_TOKEN=LAMBDA_CREDENTIALS.session_token or "",
        AWS_REGION="us-west-2",
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), ServiceStandIn)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SERVICE = f"127.0.0.1:{server.server_address[1]}"
    try:
        first = handler({"path": "/inventory"}, LocalContext(seconds=3))
        second = handler({"path": "/inventory?sku=A-1"}, LocalContext(seconds=3))
        print(json.dumps(first), json.dumps(second), sep="\n")
        assert first["ok"], first
        assert first["answer"]["signature_ok"], first
        assert first["client"] == second["client"]  # one client per execution environment

        late = handler({"path": "/slow"}, LocalContext(seconds=1.0))
        print(json.dumps(late))
        assert not late["ok"]
        assert "deadline" in late["error"]
    finally:
        aws_lambda.client().close()
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
