"""Bad input gives a typed error that says what to fix, and nothing is signed or sent.

Feeds lattice_client a few mistakes seen in practice (a secret read from a file
with its newline, a header value carrying CR/LF, bytes where text belongs, a
region with a space) and prints each error; then shows an error answer that
echoes the session token coming back with the token redacted. No network.

Run: .venv/bin/python examples/bad_input.py
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import lattice_client

URL = "https://billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws/invoices"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"  # AWS's documented example key
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE-session-token"
CREDENTIALS = lattice_client.Credentials("AKIDEXAMPLE", SECRET, TOKEN)


def show(what: str, attempt: Callable[[], object]) -> None:
    try:
        attempt()
    except lattice_client.LatticeError as error:
        if SECRET in str(error):  # a message names a field, never its value
            raise SystemExit(f"{what}: the message shows the secret") from None
        print(f"{what}\n  -> {type(error).__name__}: {error}\n")
    else:
        raise SystemExit(f"{what}: expected a typed error")


def main() -> None:
    show(
        "a secret read from a file, newline included",
        lambda: lattice_client.Credentials("AKIDEXAMPLE", SECRET + "\n"),
    )
    show(
        "a header value carrying CR/LF (header injection), even in an unsigned header",
        lambda: lattice_client.sign(
            "GET", URL, {"user-agent": "app/1\r\nx-admin: 1"}, credentials=CREDENTIALS, now=NOW
        ),
    )
    show(
        "bytes where sign() takes text",
        lambda: lattice_client.sign("GET", URL.encode(), credentials=CREDENTIALS, now=NOW),  # type: ignore[arg-type]
    )
    show(
        "a region with a space",
        lambda: lattice_client.sign(
            "GET", "https://api.example.com/", credentials=CREDENTIALS, region="us west", now=NOW
        ),
    )

    # A target that echoes the session token: the message quotes the body, redacted.
    body = f"UnrecognizedClientException: the token {TOKEN} is not valid".encode()
    error = lattice_client.error_from_response(403, {}, body, redact=[TOKEN])
    assert error is not None
    assert TOKEN not in str(error)
    print(f"an error answer echoing the token\n  -> {type(error).__name__}: {error}")


if __name__ == "__main__":
    main()
