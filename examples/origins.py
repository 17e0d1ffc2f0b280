"""Which requests lattice_client signs: your requests, not where a redirect sends them.

Run: python examples/origins.py   (needs the `testing` extra for the checking servers)

Starts two small HTTP servers on 127.0.0.1 that answer as a Lattice service with
IAM auth does: a request without a signature gets 403 ``User: anonymous``, a
signed one is checked (``verify_signature``, awscrt) and echoed. Then:

1. a Client with credentials and region and nothing else signs a request to an
   IP address (or a custom domain): no allow-list needed;
2. a redirect to the other server (another origin) follows without the
   signature, and the 403 says why;
3. strict_origins=True, for URLs you do not control, signs only listed origins.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lattice_client
from lattice_client.testing import verify_signature

# AWS's documented example key pair: not a real account.
CREDENTIALS = lattice_client.Credentials(
    access_key_id="AKIDEXAMPLE",
    secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    session_token="example-session-token",
)
REGION = "us-west-2"
DENIED = (
    "AccessDeniedException: User: anonymous is not authorized to perform: "
    "vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:us-west-2:123456789012:"
    "service/svc-0123456789abcdef0/ because no service-based policy allows the "
    "vpc-lattice-svcs:Invoke action"
)


class LatticeLike(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/redirect?to="):
            self.answer(302, b"", location=self.path.split("=", 1)[1])
            return
        if "authorization" not in self.headers:
            self.answer(403, DENIED.encode())
            return
        check = verify_signature(
            self.command,
            self.path,
            list(self.headers.items()),
            credentials={CREDENTIALS.access_key_id: CREDENTIALS},
        )
        body = {"path": self.path, "signature_ok": check.ok, "host": self.headers["host"]}
        self.answer(200, json.dumps(body).encode())

    def answer(self, status: int, body: bytes, location: str | None = None) -> None:
        self.send_response(status)
        if location:
            self.send_header("location", location)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the example prints what matters."""


@contextmanager
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), LatticeLike)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def main() -> None:
    with server() as service, server() as elsewhere:
        # 1. Your request is signed for its own origin, whatever the host.
        with lattice_client.Client(credentials=CREDENTIALS, region=REGION) as client:
            print("1.", client.get(f"{service}/invoices").json())

            # 2. A redirect to another origin goes without the signature and the token.
            response = client.get(
                f"{service}/redirect?to={elsewhere}/landed", follow_redirects=True
            )
            try:
                lattice_client.raise_for_status(response)
            except lattice_client.AccessDeniedError as error:
                print("2.", str(error).splitlines()[-1])

        # 3. Strict mode: only listed origins (and base_url's) are signed.
        with lattice_client.Client(
            credentials=CREDENTIALS,
            region=REGION,
            base_url=service,
            strict_origins=True,
            raise_for_status=True,
        ) as strict:
            print("3.", strict.get("/mine").json())
            try:
                strict.get(f"{elsewhere}/a-url-from-a-user")
            except lattice_client.AccessDeniedError as error:
                print("3.", str(error).splitlines()[-1])


if __name__ == "__main__":
    main()
