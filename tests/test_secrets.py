"""No secret key, session token or signature ever reaches a log, a repr or an error message.

DEBUG logging is on for ``lattice_client``; the test signs with a token, walks
every error path it can reach, and searches everything captured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

import lattice_client
from lattice_client import Credentials, CredentialsSource, LatticeError

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY"
TOKEN = "IQoJb3JpZ2luX2VjSESSIONTOKENVALUE=="
URL = "https://billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws/x?a=1"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
CREDENTIALS = Credentials("ASIAEXAMPLE", SECRET, TOKEN, NOW + timedelta(hours=1))


class _Failing:
    """A provider whose failure message carries the secret, as careless ones do."""

    def __init__(self, value: object = None, error: Exception | None = None) -> None:
        self.value, self.error = value, error

    def get_credentials(self) -> object:
        if self.error is not None:
            raise self.error
        return self.value


def _failed_refresh_within_the_advisory_window() -> object:
    """A refresh that fails while the snapshot still serves: logs a warning, then raises."""
    provider = _Failing(CREDENTIALS)
    source = CredentialsSource(provider)
    source.get(NOW)
    provider.error = RuntimeError(f"leaky provider {SECRET} {TOKEN}")
    source.get(NOW + timedelta(minutes=57))  # advisory window: warns, keeps the snapshot
    return source.get(NOW + timedelta(minutes=59, seconds=30))  # mandatory: raises


def _error_paths(monkeypatch: pytest.MonkeyPatch) -> list[LatticeError]:
    """Trigger every error the signer and the credentials layer raise; return them."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)  # half-set environment
    calls: list[Callable[[], object]] = [
        lambda: CredentialsSource().get(NOW),
        _failed_refresh_within_the_advisory_window,
        lambda: lattice_client.sign("GET", "/no-host", credentials=CREDENTIALS, now=NOW),
        lambda: lattice_client.sign(
            "GET", URL, [("X-A", "a\r\nb")], credentials=CREDENTIALS, now=NOW
        ),
        lambda: lattice_client.sign("GET", URL, [("X A", "v")], credentials=CREDENTIALS, now=NOW),
        lambda: lattice_client.sign("GET /", URL, credentials=CREDENTIALS, now=NOW),
        lambda: lattice_client.sign("GET", URL, credentials=CREDENTIALS, now=datetime(2026, 1, 1)),
        lambda: lattice_client.sign(
            "GET", URL, credentials=CREDENTIALS, now=NOW + timedelta(hours=2)
        ),
        lambda: lattice_client.sign(
            "GET", "https://example.com/", credentials=CREDENTIALS, now=NOW
        ),
        lambda: lattice_client.sign(
            "GET", URL, credentials=_Failing(error=RuntimeError(f"bad {SECRET} {TOKEN}")), now=NOW
        ),
        lambda: lattice_client.sign(
            "GET", URL, credentials=_Failing(Credentials("AKID", SECRET, TOKEN, NOW)), now=NOW
        ),
        lambda: lattice_client.sign("GET", URL, credentials=_Failing(None), now=NOW),
        lambda: lattice_client.sign("GET", URL, credentials=_Failing(SECRET), now=NOW),
        lambda: lattice_client.sign("GET", URL, credentials=SECRET, now=NOW),  # type: ignore[arg-type]
        lambda: Credentials("AKID", SECRET, TOKEN, datetime(2026, 1, 1)),
        lambda: Credentials("", SECRET, TOKEN),
        lambda: Credentials("AKID", SECRET, ""),
    ]
    raised = []
    for call in calls:
        with pytest.raises(LatticeError) as caught:
            call()
        raised.append(caught.value)
    return raised


def test_nothing_captured_contains_a_secret(
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Logs, reprs, exception messages and output hold no secret, token or signature."""
    caplog.set_level(logging.DEBUG, logger="lattice_client")
    headers = lattice_client.sign("GET", URL, [("Accept", "*/*")], credentials=CREDENTIALS, now=NOW)
    sigv4a = lattice_client.sign("GET", URL, credentials=CREDENTIALS, now=NOW, sigv4a=True)
    signatures = [h["authorization"].rpartition("Signature=")[2] for h in (headers, sigv4a)]

    errors = _error_paths(monkeypatch)
    source = CredentialsSource(CREDENTIALS)
    texts = [
        caplog.text,
        *(record.getMessage() for record in caplog.records),
        repr(CREDENTIALS),
        str(CREDENTIALS),
        repr(source),
        repr(source.get(NOW)),
        *(repr(error) for error in errors),
        *(str(error) for error in errors),
        *(str(error.args) for error in errors),
    ]
    out, err = capsys.readouterr()
    texts += [out, err]
    for text in texts:
        for secret in (SECRET, TOKEN, *signatures):
            assert secret not in text, f"secret material leaked into: {text[:80]!r}"
    assert len(errors) == 17
    assert any(record.levelname == "WARNING" for record in caplog.records)


def test_debug_log_shows_the_canonical_request_with_the_token_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The DEBUG log carries the canonical request and string to sign, token line redacted."""
    caplog.set_level(logging.DEBUG, logger="lattice_client")
    lattice_client.sign("GET", URL, [("Accept", "*/*")], credentials=CREDENTIALS, now=NOW)
    logged = caplog.text
    assert "GET\n/x\na=1\naccept:*/*\nhost:billing-" in logged
    assert "x-amz-security-token:<redacted>\n" in logged
    assert (
        "AWS4-HMAC-SHA256\n20261121T120000Z\n20261121/us-west-2/vpc-lattice-svcs/aws4_request\n"
        in logged
    )
    assert TOKEN not in logged


def test_nothing_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    """Without DEBUG, signing logs nothing at all (no cost, nothing to leak)."""
    caplog.set_level(logging.INFO, logger="lattice_client")
    lattice_client.sign("GET", URL, credentials=CREDENTIALS, now=NOW)
    assert caplog.records == []
