"""What third-party DEBUG loggers print of a signed HTTP/2 request, and that the docs say so.

httpx and httpcore give no way to mark a header never-indexed for HPACK: httpcore
hands h2 plain tuples. h2 itself marks ``authorization`` never-indexed (and
hpack then redacts it in its log), but ``x-amz-security-token`` goes into the
indexable table and into hpack's DEBUG log in clear. These tests pin that down
against a real HTTP/2 exchange with the local Lattice, so that the warning in
docs/credentials.md stays true.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

import lattice_client
from lattice_client.testing import LocalLattice

DOCS = Path(__file__).resolve().parent.parent / "docs" / "credentials.md"


def _client_hpack_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the client's hpack logged (the stand-in in this process logs its own decoding)."""
    caller = threading.get_ident()
    return "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("hpack") and record.thread == caller
    )


def test_http2_sends_authorization_never_indexed(caplog: pytest.LogCaptureFixture) -> None:
    """Over HTTP/2 the Authorization header is HPACK never-indexed and redacted in hpack's log."""
    with (
        LocalLattice() as lattice,
        lattice_client.Client(
            credentials=lattice.credentials,
            region=lattice.region,
            base_url=lattice.url,
            http1=False,
            http2=True,
        ) as client,
    ):
        caplog.set_level(logging.DEBUG, logger="hpack")
        response = client.get("/")
    assert (response.status_code, response.http_version) == (404, "HTTP/2")
    logged = _client_hpack_log(caplog)
    assert "b'authorization'=b'SENSITIVE_REDACTED'" in logged
    assert "AWS4-HMAC-SHA256" not in logged


def test_hpack_debug_log_shows_the_session_token_as_documented(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """hpack logs x-amz-security-token in clear at DEBUG; docs/credentials.md warns of it
    and names the loggers that print headers or credentials."""
    with (
        LocalLattice() as lattice,
        lattice_client.Client(
            credentials=lattice.credentials,
            region=lattice.region,
            base_url=lattice.url,
            http1=False,
            http2=True,
        ) as client,
    ):
        caplog.set_level(logging.DEBUG, logger="hpack")
        client.get("/")
        token = lattice.credentials.session_token
    assert token is not None
    assert f"b'x-amz-security-token'=b'{token}'" in _client_hpack_log(caplog)
    caplog.clear()  # the fake token stays out of any failure report below

    docs = DOCS.read_text()
    assert "## Debug logging" in docs
    for logger in ("`hpack`", "`botocore`", "`httpcore`", "GRPC_TRACE"):
        assert logger in docs, logger
