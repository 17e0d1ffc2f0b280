"""`Retries`, the decisions of `_resend.Attempts`, and the translations for urllib3 and gRPC.

The decisions are pure (a fake monotonic clock, a seeded random); the urllib3
translation is also run for real against the fault-injecting loopback server,
with a request signed once, as urllib3 re-sends it.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from lattice_client import ConfigurationError, Retries
from lattice_client._resend import Attempts, parse_retry_after
from lattice_client._retries import MAX_TOTAL, grpc_retry_policy, resolve


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the configuration object -----------------------------------------------------------------


def test_defaults_are_idempotent_methods_and_lattices_transient_answers() -> None:
    """Retries() retries GET/HEAD/OPTIONS/PUT/DELETE after 429/502/503/504, 5 times in 30 s."""
    retries = Retries()
    assert retries.methods == {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
    assert retries.statuses == {429, 502, 503, 504}
    assert (retries.attempts, retries.total) == (5, 30.0)


def test_retries_is_frozen_hashable_and_normalised() -> None:
    """Methods are upper-cased, collections frozen; the object cannot be changed."""
    retries = Retries(methods=["get", "Post"], statuses=[503])
    assert retries.methods == frozenset({"GET", "POST"})
    assert retries == Retries(methods={"POST", "GET"}, statuses={503})
    assert hash(retries) == hash(Retries(methods={"POST", "GET"}, statuses={503}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        retries.attempts = 9  # type: ignore[misc]
    assert "attempts=5" in repr(retries)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"attempts": 0}, "attempts="),
        ({"attempts": 2.5}, "attempts="),
        ({"attempts": True}, "attempts="),
        ({"total": 0}, "total="),
        ({"total": MAX_TOTAL + 1}, "total="),
        ({"total": float("inf")}, "total="),
        ({"total": "30"}, "total="),
        ({"backoff": -1}, "backoff="),
        ({"backoff": 2, "max_backoff": 1}, "max_backoff="),
        ({"methods": "GET"}, "methods="),
        ({"methods": ["GE T"]}, "methods="),
        ({"statuses": [200]}, "statuses="),
        ({"statuses": 503}, "statuses="),
    ],
)
def test_bad_values_are_configuration_errors(options: dict[str, object], message: str) -> None:
    """Each bad value raises ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError, match=message):
        Retries(**options)  # type: ignore[arg-type]


def test_resolve_reads_the_retries_option() -> None:
    assert resolve(None) is None
    assert resolve(False) is None
    assert resolve(True) == Retries()
    custom = Retries(attempts=2)
    assert resolve(custom) is custom


# -- the decisions ----------------------------------------------------------------------------


def test_backoff_is_full_jitter_under_a_doubling_cap() -> None:
    """Each wait is uniform in [0, backoff * 2**(n-1)], never above max_backoff."""
    random.seed(7)
    retries = Retries(attempts=100, total=MAX_TOTAL, backoff=0.5, max_backoff=4)
    clock = FakeClock()
    attempts = Attempts(retries, "GET", now=clock)
    waits = [attempts.after_answer(503) or 0.0 for _ in range(40)]
    bounds = [min(4.0, 0.5 * 2**n) for n in range(40)]
    assert all(0 <= w <= b for w, b in zip(waits, bounds, strict=True))
    assert max(waits[10:]) > 2.0  # the cap is reached, not undershot
    assert attempts.count == 41


def test_attempts_stop_at_the_cap() -> None:
    attempts = Attempts(Retries(attempts=3), "GET", now=FakeClock())
    assert attempts.after_answer(503) is not None
    assert attempts.after_answer(503) is not None
    assert attempts.after_answer(503) is None
    assert attempts.count == 3


def test_a_wait_past_the_total_bound_or_the_deadline_stops() -> None:
    clock = FakeClock()
    attempts = Attempts(Retries(total=5), "GET", now=clock)
    clock.now += 4.5
    assert attempts.after_answer(503, "1") is None  # would start at 5.5 s
    assert attempts.after_answer(503, "0") is not None
    bounded = Attempts(Retries(total=30), "GET", deadline=clock.now + 2, now=clock)
    assert bounded.after_answer(503, "3") is None
    assert bounded.after_answer(503, "1") == 1.0


def test_only_transient_answers_and_allowed_methods_are_retried() -> None:
    clock = FakeClock()
    assert Attempts(Retries(), "GET", now=clock).after_answer(500) is None
    assert Attempts(Retries(), "GET", now=clock).after_answer(403) is None
    assert Attempts(Retries(), "POST", now=clock).after_answer(503) is None
    assert Attempts(Retries(methods={"POST"}), "post", now=clock).after_answer(503) is not None


def test_a_failed_connect_is_retried_for_any_method_a_reset_only_for_allowed_ones() -> None:
    clock = FakeClock()
    assert Attempts(Retries(), "POST", now=clock).after_failure(may_have_reached=False) is not None
    assert Attempts(Retries(), "POST", now=clock).after_failure(may_have_reached=True) is None
    assert Attempts(Retries(), "GET", now=clock).after_failure(may_have_reached=True) is not None


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 120 ") == 120.0
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now) == 30.0
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# -- urllib3 (for requests) -------------------------------------------------------------------


def test_grpc_retry_policy_from_retries() -> None:
    """UNAVAILABLE for 502/503/504 and resets, RESOURCE_EXHAUSTED for 429; gRPC's cap of 5."""
    policy = grpc_retry_policy(Retries(attempts=9, backoff=0.2, max_backoff=3))
    assert policy == {
        "maxAttempts": 5,
        "initialBackoff": "0.200s",
        "maxBackoff": "3.000s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["RESOURCE_EXHAUSTED", "UNAVAILABLE"],
    }
    assert grpc_retry_policy(Retries(statuses={503}))["retryableStatusCodes"] == ["UNAVAILABLE"]
