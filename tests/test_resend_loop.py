"""The library-neutral send loop, driven by a scripted exchange (no HTTP library).

This is what a requests or aiohttp adapter plugs into: an `Exchange` that signs,
sends and describes its library's answers. The script is a list of what each
send gives: an int status or an exception. The loop's waits are real but tiny.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lattice_client import BodyNotReplayableError, LatticeResponseError, Retries
from lattice_client._resend import aresend, resend

FAST = Retries(backoff=0.001, max_backoff=0.002)


class Refused(Exception):
    """A connect that failed: nothing was sent."""


class Reset(Exception):
    """A reset before the answer: the request may have reached the service."""


@dataclass
class Scripted:
    """A sync `Exchange` over a script of answers; records every sign and send."""

    script: list[int | Exception]
    method: str = "GET"
    replayable: bool = True
    expiry: int = 0  # answers with this status say our clock is off (once learned)
    log: list[str] = field(default_factory=list)

    def where(self) -> str:
        return f"{self.method} https://svc.example/path"

    def deadline(self) -> float | None:
        return None

    def failure(self, error: Exception) -> bool | None:
        if isinstance(error, Refused):
            return False
        return True if isinstance(error, Reset) else None

    def status(self, answer: int) -> int:
        return answer

    def header(self, answer: int, name: str) -> str | None:
        return None

    def replay(self) -> bool:
        self.log.append("replay")
        return self.replayable

    def sign(self) -> bool:
        self.log.append("sign")
        return True

    def send(self) -> int:
        self.log.append("send")
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def expired(self, answer: int) -> bool:
        return answer == self.expiry

    def error(self, answer: int, attempts: int) -> LatticeResponseError:
        error = LatticeResponseError(f"{answer}", status_code=answer)
        error.attempts = attempts
        return error

    def discard(self, answer: int) -> None:
        self.log.append(f"discard {answer}")


class AsyncScripted(Scripted):
    """The same script as an `AsyncExchange`."""

    async def sign(self) -> bool:  # type: ignore[override]
        return Scripted.sign(self)

    async def send(self) -> int:  # type: ignore[override]
        return Scripted.send(self)

    async def expired(self, answer: int) -> bool:  # type: ignore[override]
        return Scripted.expired(self, answer)

    async def error(self, answer: int, attempts: int) -> LatticeResponseError:  # type: ignore[override]
        return Scripted.error(self, answer, attempts)

    async def discard(self, answer: int) -> None:  # type: ignore[override]
        Scripted.discard(self, answer)


def test_transient_answers_are_retried_each_attempt_signed_anew() -> None:
    exchange = Scripted([503, 502, 200])
    assert resend(exchange, FAST) == 200
    assert exchange.log.count("sign") == exchange.log.count("send") == 3
    assert "discard 503" in exchange.log


@pytest.mark.anyio
async def test_async_loop_is_the_same_loop() -> None:
    exchange = AsyncScripted([503, Reset(), 200])
    assert await aresend(exchange, FAST) == 200
    assert exchange.log.count("send") == 3


def test_without_retries_one_send_and_the_answer_as_is() -> None:
    exchange = Scripted([503, 200])
    assert resend(exchange, None) == 503
    assert exchange.log == ["sign", "send"]


def test_clock_skew_is_one_resend_and_no_attempt() -> None:
    exchange = Scripted([403, 403, 200], expiry=403)
    assert resend(exchange, None) == 403  # the re-send is refused too: its answer, no loop
    assert exchange.log.count("send") == 2


def test_a_body_that_cannot_be_replayed_is_refused_before_anything_more_is_sent() -> None:
    exchange = Scripted([503, 200], replayable=False)
    with pytest.raises(BodyNotReplayableError) as caught:
        resend(exchange, FAST)
    assert caught.value.reason == "retry"
    assert isinstance(caught.value, LatticeResponseError)  # also the 503's error
    assert exchange.log.count("send") == 1


def test_a_failed_connect_is_retried_for_any_method_a_reset_not_for_post() -> None:
    assert resend(Scripted([Refused(), 200], method="POST"), FAST) == 200
    with pytest.raises(Reset):
        resend(Scripted([Reset(), 200], method="POST"), FAST)


def test_other_errors_pass_through_untouched() -> None:
    exchange = Scripted([ValueError("not a connection error"), 200])
    with pytest.raises(ValueError, match="not a connection error"):
        resend(exchange, FAST)
    assert exchange.log.count("send") == 1


def test_when_attempts_run_out_the_last_answers_error_carries_the_count() -> None:
    with pytest.raises(LatticeResponseError) as caught:
        resend(Scripted([503, 503, 503]), Retries(attempts=3, backoff=0.001))
    assert caught.value.attempts == 3
    with pytest.raises(Refused) as failed:
        resend(Scripted([Refused(), Refused()]), Retries(attempts=2, backoff=0.001))
    assert failed.value.attempts == 2  # type: ignore[attr-defined]
