"""Typed errors for Lattice's answers: what went wrong, and what to fix.

Starts a loopback server (127.0.0.1, standard library only) that answers the
way Lattice does: auth denials, an expired signature, a fixed-response 404 and
a 503. Each answer is turned into a typed exception by
``lattice_client.raise_for_status``; the same exceptions come from
``lattice_client.error_from_response`` for any other HTTP stack.

Run: .venv/bin/python examples/errors.py
"""

from __future__ import annotations

import threading
import urllib.request
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

import lattice_client

SERVICE = "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0"
ROLE = "arn:aws:sts::123456789012:assumed-role/billing-reader/i-0abc"


def denial(principal: str, path: str, tail: str) -> bytes:
    """Lattice's documented 403 body (plain text, no trailing newline)."""
    return (
        f"AccessDeniedException: User: {principal} is not authorized to perform: "
        f"vpc-lattice-svcs:Invoke on resource: {SERVICE}{path} {tail}"
    ).encode()


class LatticeLike(BaseHTTPRequestHandler):
    """Answers like Lattice would, one answer per path."""

    def do_GET(self) -> None:
        now = datetime.now(timezone.utc)
        answers = {
            "/invoices": (
                403,
                denial(
                    ROLE,
                    "/invoices",
                    "because no service-based policy allows the vpc-lattice-svcs:Invoke action",
                ),
            ),
            "/reports": (
                403,
                denial(ROLE, "/reports", "with an explicit deny in a network-based policy"),
            ),
            "/public": (
                403,
                denial(
                    "anonymous",
                    "/public",
                    "because no service-based policy allows the vpc-lattice-svcs:Invoke action",
                ),
            ),
            "/late": (
                403,
                b"InvalidSignatureException: Signature expired: ... (AWS-wide wording)",
            ),
            "/old": (404, b""),
            "/busy": (503, b""),
        }
        status, body = answers.get(self.path, (200, b"ok"))
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/late":
            self.send_header("Date", format_datetime(now, usegmt=True))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the example's output to the point


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), LatticeLike)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with httpx.Client(base_url=base) as client:
            for path in ("/invoices", "/reports", "/public", "/old", "/busy"):
                try:
                    lattice_client.raise_for_status(client.get(path))
                except lattice_client.AccessDeniedError as error:
                    who = "anonymous (unsigned)" if error.anonymous else error.principal
                    kind = "explicit deny" if error.explicit_deny else "no Allow"
                    print(f"{path}: AccessDeniedError by the {error.policy_type} policy ({kind})")
                    print(f"  principal={who} path={error.path}")
                    print(f"  {str(error).splitlines()[-1]}")
                except lattice_client.LatticeResponseError as error:
                    print(f"{path}: {type(error).__name__} ({error.status_code})")
                    print(f"  {str(error).splitlines()[-1]}")

            # A signature made with a clock 10 minutes slow: the error measures the skew.
            url = f"{base}/late"
            headers = lattice_client.sign(
                "GET",
                url,
                credentials=lattice_client.Credentials("AKIDEXAMPLE", "example-secret"),
                region="us-west-2",
                now=datetime.now(timezone.utc) - timedelta(minutes=10),
            )
            try:
                lattice_client.raise_for_status(client.get(url, headers=headers))
            except httpx.HTTPStatusError as error:  # existing httpx handlers still catch it
                if not isinstance(error, lattice_client.SignatureExpiredError):
                    raise
                skew = error.skew.total_seconds() if error.skew else 0.0
                print(f"/late: SignatureExpiredError, signature {skew:.0f} s behind Lattice")

        # Any other HTTP stack: pass status, headers and body to error_from_response.
        try:
            urllib.request.urlopen(f"{base}/public")  # noqa: S310 -- a loopback http:// URL
        except urllib.error.HTTPError as answer:
            typed = lattice_client.error_from_response(
                answer.code, answer.headers.items(), answer.read()
            )
            if not isinstance(typed, lattice_client.AccessDeniedError):
                raise
            print(
                f"urllib: AccessDeniedError, evidently from Lattice: {typed.evidently_from_lattice}"
            )
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
